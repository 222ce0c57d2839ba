// SPDX-License-Identifier: Apache-2.0

// The Go package (libclient/go) against a real accelringd, started by
// test_bindings_go.sh, which sets ACCELRING_ADDRESS, AR_TEST_EXEC_LIB and,
// with the torch plugin built, AR_TEST_MODELS and AR_TEST_TORCH_REF (an
// input and libtorch's output for it, made by Debian's python3-torch).
// Every result is checked against a value computed here or by libtorch.
package vaccel_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"accelring.local/vaccel"
)

const (
	execInID   = 0x45584543 // AR_TEST_EXEC_IN_ID
	argTypeRaw = 0
)

var execLib = os.Getenv("AR_TEST_EXEC_LIB")

func open(t *testing.T) *vaccel.Session {
	t.Helper()
	s, err := vaccel.NewSession(0)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { s.Release() })
	return s
}

// wantErr fails unless err is a *vaccel.Error with code.
func wantErr(t *testing.T, what string, err error, code syscall.Errno) {
	t.Helper()
	var e *vaccel.Error
	if !errors.As(err, &e) || !errors.Is(err, code) || vaccel.Code(err) != int(code) {
		t.Fatalf("%s: got %v, want %v", what, err, code)
	}
}

// A session is opened on the broker and closed by Release; afterwards ops
// and a second Release are EINVAL, as on a session never opened.
func TestSessionLifecycle(t *testing.T) {
	var s vaccel.Session
	wantErr(t, "noop before Init", vaccel.NoOp(&s), syscall.EINVAL)
	if err := s.Init(vaccel.PluginCPU); err != nil {
		t.Fatal(err)
	}
	if s.GetID() <= 0 || s.GetRemoteID() <= 0 || s.GetFlags() != vaccel.PluginCPU {
		t.Fatalf("id %d remote %d flags %#x", s.GetID(), s.GetRemoteID(), s.GetFlags())
	}
	wantErr(t, "second Init", s.Init(0), syscall.EINVAL)
	if err := vaccel.NoOp(&s); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if s.GetID() != 0 {
		t.Fatalf("id %d after Release", s.GetID())
	}
	wantErr(t, "noop after Release", vaccel.NoOp(&s), syscall.EINVAL)
	wantErr(t, "second Release", s.Release(), syscall.EINVAL)
	if !strings.Contains(vaccel.NoOp(&s).Error(), "invalid argument") {
		t.Fatal("the error does not say what it is")
	}
}

// Without a broker at the address, Init fails with the errno (ENOENT), in
// a process of its own (the library connects once per process).
func TestSessionNoBroker(t *testing.T) {
	if os.Getenv("AR_TEST_NO_BROKER") == "1" {
		var s vaccel.Session
		os.Exit(vaccel.Code(s.Init(0)))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSessionNoBroker$")
	cmd.Env = append(os.Environ(), "AR_TEST_NO_BROKER=1",
		"ACCELRING_ADDRESS=unix:///nonexistent/s")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != vaccel.ENOENT {
		t.Fatalf("got %v, want exit code %d (ENOENT)", err, vaccel.ENOENT)
	}
}

// NoOp succeeds through the broker, many times on one session.
func TestNoOp(t *testing.T) {
	s := open(t)
	for i := 0; i < 1000; i++ {
		if err := vaccel.NoOp(s); err != nil {
			t.Fatalf("noop %d: %v", i, err)
		}
	}
}

func sgemmCase(t *testing.T, s *vaccel.Session, m, n, k, lda, ldb, ldc int64, beta float32) {
	rnd := rand.New(rand.NewSource(m*10007 + n*101 + k))
	fill := func(n int64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rnd.Float32()*2 - 1
		}
		return v
	}
	a, b, c := fill((m-1)*lda+k), fill((k-1)*ldb+n), fill((m-1)*ldc+n)
	ref := make([]float64, len(c))
	const alpha = 0.75
	for i := int64(0); i < m; i++ {
		for j := int64(0); j < n; j++ {
			acc := 0.0
			for p := int64(0); p < k; p++ {
				acc += float64(a[i*lda+p]) * float64(b[p*ldb+j])
			}
			ref[i*ldc+j] = alpha*acc + float64(beta)*float64(c[i*ldc+j])
		}
	}
	for i := range ref { // what lies between the rows is C's own
		if int64(i)%ldc >= n {
			ref[i] = float64(c[i])
		}
	}
	if err := vaccel.Sgemm(s, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
		t.Fatalf("%dx%dx%d: %v", m, n, k, err)
	}
	worst := 0.0
	for i := range c {
		worst = math.Max(worst, math.Abs(float64(c[i])-ref[i]))
	}
	if worst > 1e-4*float64(k) {
		t.Fatalf("%dx%dx%d: max |error| %g", m, n, k, worst)
	}
}

// C equals the product computed here: square, odd shapes, beta, leading
// dimensions wider than the rows.
func TestSgemm(t *testing.T) {
	s := open(t)
	sgemmCase(t, s, 64, 64, 64, 64, 64, 64, 0)
	sgemmCase(t, s, 7, 5, 9, 9, 5, 5, 0.5)
	sgemmCase(t, s, 6, 4, 3, 8, 7, 9, 0.25)
}

// A slice shorter than its shape, or a bad shape: EINVAL before any call.
func TestSgemmBadShape(t *testing.T) {
	s := open(t)
	six, four := make([]float32, 6), make([]float32, 4)
	wantErr(t, "short a", vaccel.Sgemm(s, 2, 2, 3, 1, six[:5], 3, six, 2, 0, four, 2), syscall.EINVAL)
	wantErr(t, "lda < k", vaccel.Sgemm(s, 2, 2, 3, 1, six, 2, six, 2, 0, four, 2), syscall.EINVAL)
	wantErr(t, "short c", vaccel.Sgemm(s, 2, 2, 3, 1, six, 3, six, 2, 0, four[:3], 2), syscall.EINVAL)
	wantErr(t, "m = 0", vaccel.Sgemm(s, 0, 2, 3, 1, six, 3, six, 2, 0, four, 2), syscall.EINVAL)
}

func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// ar_test_count (tests/plugins/exec_lib.h): the counts, and each read
// value plus its custom id.
func TestExecCount(t *testing.T) {
	s := open(t)
	read, write := vaccel.ArgsInit(4), vaccel.ArgsInit(4)
	defer read.Delete()
	defer write.Delete()
	read.AddInt32Arg(1)
	read.AddInt32Arg(2)
	read.AddTypedArg([]byte{40, 0, 0, 0}, vaccel.ArgUint32, 2)
	read.AddUint32Arg(99)
	for i := 0; i < 4; i++ {
		write.ExpectSerialArg(4)
	}
	if err := vaccel.Exec(s, execLib, "ar_test_count", read, write); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint32{4, 4, 42, 99} {
		if got := u32(write.ExtractSerialArg(i)); got != want {
			t.Fatalf("write[%d] = %d, want %d", i, got, want)
		}
	}
}

func fnv(data []byte, seed, rounds uint32) uint64 {
	h := uint64(0xcbf29ce484222325) ^ uint64(seed)
	for r := uint32(0); r < rounds; r++ {
		for _, x := range data {
			h = (h ^ uint64(x)) * 0x100000001b3
		}
	}
	return h
}

// ar_test_checksum: FNV-1a over read[0] `rounds` times from a seed, with
// the typed arguments it checks (a CUSTOM input, a UINT64 output).
func TestExecChecksum(t *testing.T) {
	if fnv([]byte("a"), 0, 1) != 0xaf63dc4c8601ec8c {
		t.Fatal("the reference checksum is wrong")
	}
	s := open(t)
	data := append(bytes.Repeat([]byte("accelring\x00"), 50), 0xff)
	in := make([]byte, 8)
	binary.LittleEndian.PutUint32(in, 0x1234)
	binary.LittleEndian.PutUint32(in[4:], 3)
	read, write := vaccel.ArgsInit(2), vaccel.ArgsInit(2)
	defer read.Delete()
	defer write.Delete()
	read.AddSerialArg(data)
	read.AddTypedArg(in, vaccel.ArgCustom, execInID)
	write.ExpectTypedArg(8, vaccel.ArgUint64)
	write.ExpectSerialArg(16)
	if err := vaccel.Exec(s, execLib, "ar_test_checksum", read, write); err != nil {
		t.Fatal(err)
	}
	if got, want := binary.LittleEndian.Uint64(write.ExtractSerialArg(0)), fnv(data, 0x1234, 3); got != want {
		t.Fatalf("checksum %#x, want %#x", got, want)
	}
	out := write.ExtractSerialArg(1)
	nonzero := uint32(len(data) - bytes.Count(data, []byte{0}))
	if binary.LittleEndian.Uint64(out) != uint64(len(data)) || u32(out[8:]) != nonzero ||
		u32(out[12:]) != argTypeRaw {
		t.Fatalf("out %v: want %d bytes, %d nonzero, type raw", out, len(data), nonzero)
	}
}

// Off exec-allow (a symbol, a library, a '..' path): EPERM; a function
// returning non-zero: ENOEXEC; the session goes on.
func TestExecRefused(t *testing.T) {
	s := open(t)
	write := vaccel.ArgsInit(1)
	defer write.Delete()
	write.ExpectSerialArg(4)
	for _, c := range [][2]string{{execLib, "ar_test_hidden"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", "getpid"},
		{execLib + "/../libartest-exec.so", "ar_test_count"}} {
		wantErr(t, c[0]+":"+c[1], vaccel.Exec(s, c[0], c[1], nil, write), syscall.EPERM)
	}
	wantErr(t, "ar_test_fail", vaccel.Exec(s, execLib, "ar_test_fail", nil, write), syscall.ENOEXEC)
	if err := vaccel.NoOp(s); err != nil {
		t.Fatal(err)
	}
}

// A LIB resource (from its path, and from its bytes) registered with a
// session: ExecWithResource runs it when its SHA-256 is allowed with that
// symbol, EPERM for another symbol and once unregistered.
func TestResourceExec(t *testing.T) {
	s := open(t)
	data, err := os.ReadFile(execLib)
	if err != nil {
		t.Fatal(err)
	}
	var byPath, byBuf vaccel.Resource
	if err := byPath.Init(execLib, vaccel.ResourceLib); err != nil {
		t.Fatal(err)
	}
	if err := byBuf.InitFromBuf(data, vaccel.ResourceLib, "libx.so"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*vaccel.Resource{&byPath, &byBuf} {
		if s.HasResource(r) {
			t.Fatal("registered before Register")
		}
		if err := s.Register(r); err != nil {
			t.Fatal(err)
		}
		if !s.HasResource(r) || r.GetRemoteID() <= 0 {
			t.Fatalf("registered: %v, remote id %d", s.HasResource(r), r.GetRemoteID())
		}
		read, write := vaccel.ArgsInit(3), vaccel.ArgsInit(3)
		read.AddInt32Arg(5)
		read.AddInt32Arg(6)
		read.AddInt32Arg(7)
		for i := 0; i < 3; i++ {
			write.ExpectSerialArg(4)
		}
		if err := vaccel.ExecWithResource(s, r, "ar_test_count", read, write); err != nil {
			t.Fatal(err)
		}
		if got := u32(write.ExtractSerialArg(2)); got != 7 {
			t.Fatalf("write[2] = %d, want 7", got)
		}
		wantErr(t, "symbol off exec-allow-sha256",
			vaccel.ExecWithResource(s, r, "ar_test_checksum", read, write), syscall.EPERM)
		if err := s.Unregister(r); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "unregistered", vaccel.ExecWithResource(s, r, "ar_test_count", read, write),
			syscall.EPERM)
		if err := r.Release(); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "released", r.Release(), syscall.EINVAL)
		read.Delete()
		write.Delete()
	}
}

// A path that names nothing: EINVAL (upstream's reading of a path).
func TestResourceMissing(t *testing.T) {
	var r vaccel.Resource
	wantErr(t, "missing file", r.Init("/nonexistent/model.pt", vaccel.ResourceModel), syscall.EINVAL)
}

func models(t *testing.T) string {
	dir := os.Getenv("AR_TEST_MODELS")
	if dir == "" {
		t.Skip("the torch plugin is not built")
	}
	return dir
}

func modelResource(t *testing.T, s *vaccel.Session, paths ...string) *vaccel.Resource {
	var r vaccel.Resource
	if err := r.InitMulti(paths, vaccel.ResourceModel); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Release() })
	if err := s.Register(&r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func floats(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(u32(b[4*i:]))
	}
	return f
}

// tiny.pt through the broker equals libtorch's output for the same input;
// a run in a session that did not load it is EINVAL.
func TestTorchModelRun(t *testing.T) {
	dir := models(t)
	ref := os.Getenv("AR_TEST_TORCH_REF")
	s := open(t)
	model := modelResource(t, s, filepath.Join(dir, "tiny.pt"))
	in, err := vaccel.NewTorchTensorFloat32([]int64{3, 3, 32, 32}, floats(t, ref+".in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	other := open(t)
	_, err = vaccel.TorchModelRun(other, modelResource(t, other, filepath.Join(dir, "tiny.pt")),
		nil, []*vaccel.TorchTensor{in}, 1)
	wantErr(t, "run before load", err, syscall.EINVAL)

	if err := vaccel.TorchModelLoad(s, model); err != nil {
		t.Fatal(err)
	}
	out, err := vaccel.TorchModelRun(s, model, nil, []*vaccel.TorchTensor{in}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer out[0].Release()
	want := floats(t, ref+".out")
	got := out[0].Float32s()
	if d := out[0].Dims(); len(d) != 2 || d[0] != 3 || len(got) != len(want) {
		t.Fatalf("dims %v, %d values, want [3 N], %d", d, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("output[%d] = %g, libtorch %g", i, got[i], want[i])
		}
	}
}

// Classification with the session's own model and labels: the top five
// labels with their probabilities; detection ENOTSUP (not noop's dummy).
func TestImageClassification(t *testing.T) {
	dir := models(t)
	s := open(t)
	model := modelResource(t, s, filepath.Join(dir, "mobilenet_v3_small.pt"),
		filepath.Join(dir, "labels.txt"))
	if err := vaccel.TorchModelLoad(s, model); err != nil {
		t.Fatal(err)
	}
	text, err := vaccel.ImageClassificationFromFile(s, filepath.Join(dir, "picture.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	line := regexp.MustCompile(`^class_\d{4} (\S+)$`)
	if len(lines) != 5 {
		t.Fatalf("%d lines: %q", len(lines), text)
	}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q", l)
		}
		if p, err := strconv.ParseFloat(m[1], 64); err != nil || p <= 0 || p >= 1 {
			t.Fatalf("probability in %q", l)
		}
	}
	image, err := os.ReadFile(filepath.Join(dir, "picture.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = vaccel.ImageDetection(s, image)
	wantErr(t, "detection", err, syscall.ENOTSUP)
}
