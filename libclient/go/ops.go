// SPDX-License-Identifier: Apache-2.0

package vaccel

/*
#include <stdlib.h>
#include <vaccel.h>
*/
import "C"

import (
	"math"
	"os"
	"runtime"
	"unsafe"
)

// NoOp is a round trip through the broker's noop plugin (vaccel_noop).
func NoOp(sess *Session) error {
	c, err := sess.ptr("noop")
	if err != nil {
		return err
	}
	return check("noop", C.vaccel_noop(c))
}

// span is how many elements a row-major rows x cols matrix with leading
// dimension ld spans, or -1 for a shape the library refuses.
func span(rows, cols, ld int64) int64 {
	if rows < 1 || cols < 1 || ld < cols || rows > math.MaxInt32 || ld > math.MaxInt32 {
		return -1
	}
	return (rows-1)*ld + cols
}

// Sgemm computes c = alpha*a*b + beta*c in the broker's blas plugin
// (vaccel_sgemm), row-major: a is m x k (lda >= k), b is k x n (ldb >= n),
// c is m x n (ldc >= n). EINVAL for a bad shape or a slice shorter than
// its shape, before any C code reads it.
func Sgemm(sess *Session, m, n, k int64, alpha float32, a []float32, lda int64,
	b []float32, ldb int64, beta float32, c []float32, ldc int64) error {
	s, err := sess.ptr("sgemm")
	if err != nil {
		return err
	}
	na, nb, nc := span(m, k, lda), span(k, n, ldb), span(m, n, ldc)
	switch {
	case na < 0 || nb < 0 || nc < 0:
		return errorf("sgemm: bad shape", EINVAL)
	case int64(len(a)) < na:
		return errorf("sgemm: a is shorter than its shape", EINVAL)
	case int64(len(b)) < nb:
		return errorf("sgemm: b is shorter than its shape", EINVAL)
	case int64(len(c)) < nc:
		return errorf("sgemm: c is shorter than its shape", EINVAL)
	}
	// Go memory, read and written during the call only (cgo allows it):
	// the library copies it to and from the broker's data area.
	return check("sgemm", C.vaccel_sgemm(s, C.int64_t(m), C.int64_t(n), C.int64_t(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.int64_t(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int64_t(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.int64_t(ldc)))
}

// Exec runs symbol of library, a host path on the broker's exec-allow list,
// with the read and write arguments (either may be nil); afterwards write's
// ExtractSerialArg gives what the function wrote (vaccel_exec). EPERM off
// the allowlist, ENOEXEC when the function returns non-zero.
func Exec(sess *Session, library, symbol string, read, write *ArgList) error {
	s, err := sess.ptr("exec")
	if err != nil {
		return err
	}
	r, nr, err := read.cArgs()
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(r))
	w, nw, err := write.cArgs()
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(w))
	clib, csym := C.CString(library), C.CString(symbol)
	defer C.free(unsafe.Pointer(clib))
	defer C.free(unsafe.Pointer(csym))
	ret := C.vaccel_exec(s, clib, csym, r, nr, w, nw)
	runtime.KeepAlive(read)
	runtime.KeepAlive(write)
	return check("exec "+library+":"+symbol, ret)
}

// ExecWithResource runs symbol of a LIB resource registered with the
// session, allowed by its SHA-256 on exec-allow-sha256
// (vaccel_exec_with_resource).
func ExecWithResource(sess *Session, res *Resource, symbol string, read, write *ArgList) error {
	s, err := sess.ptr("exec with resource")
	if err != nil {
		return err
	}
	rc, err := res.ptr("exec with resource")
	if err != nil {
		return err
	}
	r, nr, err := read.cArgs()
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(r))
	w, nw, err := write.cArgs()
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(w))
	csym := C.CString(symbol)
	defer C.free(unsafe.Pointer(csym))
	ret := C.vaccel_exec_with_resource(s, rc, csym, r, nr, w, nw)
	runtime.KeepAlive(read)
	runtime.KeepAlive(write)
	return check("exec with resource "+symbol, ret)
}

// imageOut is the room for an image op's text outputs.
const imageOut = 512

// ImageClassification classifies an image (JPEG or PNG) in the broker's
// torch plugin (vaccel_image_classification): its text, one "<label>
// <probability>" line per top label.
func ImageClassification(sess *Session, image []byte) (string, error) {
	s, err := sess.ptr("image classification")
	if err != nil {
		return "", err
	}
	if len(image) == 0 {
		return "", errorf("image classification: no image", EINVAL)
	}
	text := (*C.uchar)(C.calloc(1, imageOut+1))
	name := (*C.uchar)(C.calloc(1, imageOut+1))
	defer C.free(unsafe.Pointer(text))
	defer C.free(unsafe.Pointer(name))
	ret := C.vaccel_image_classification(s, unsafe.Pointer(&image[0]), text, name,
		C.size_t(len(image)), imageOut, imageOut)
	if err := check("image classification", ret); err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(text))), nil
}

// ImageClassificationFromFile is ImageClassification of a file's bytes.
func ImageClassificationFromFile(sess *Session, imagePath string) (string, error) {
	image, err := os.ReadFile(imagePath)
	if err != nil {
		return "", err
	}
	return ImageClassification(sess, image)
}

type imageFn func(*C.struct_vaccel_session, unsafe.Pointer, *C.uchar, C.size_t, C.size_t) C.int

func imageOp(sess *Session, op string, image []byte, fn imageFn) (string, error) {
	s, err := sess.ptr(op)
	if err != nil {
		return "", err
	}
	if len(image) == 0 {
		return "", errorf(op+": no image", EINVAL)
	}
	name := (*C.uchar)(C.calloc(1, imageOut+1))
	defer C.free(unsafe.Pointer(name))
	if err := check(op, fn(s, unsafe.Pointer(&image[0]), name, C.size_t(len(image)), imageOut)); err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(name))), nil
}

// ImageDetection is vaccel_image_detection (ENOTSUP in the torch plugin).
func ImageDetection(sess *Session, image []byte) (string, error) {
	return imageOp(sess, "image detection", image,
		func(s *C.struct_vaccel_session, i unsafe.Pointer, o *C.uchar, li, lo C.size_t) C.int {
			return C.vaccel_image_detection(s, i, o, li, lo)
		})
}

// ImageSegmentation is vaccel_image_segmentation.
func ImageSegmentation(sess *Session, image []byte) (string, error) {
	return imageOp(sess, "image segmentation", image,
		func(s *C.struct_vaccel_session, i unsafe.Pointer, o *C.uchar, li, lo C.size_t) C.int {
			return C.vaccel_image_segmentation(s, i, o, li, lo)
		})
}

// ImagePose is vaccel_image_pose.
func ImagePose(sess *Session, image []byte) (string, error) {
	return imageOp(sess, "image pose", image,
		func(s *C.struct_vaccel_session, i unsafe.Pointer, o *C.uchar, li, lo C.size_t) C.int {
			return C.vaccel_image_pose(s, i, o, li, lo)
		})
}

// ImageDepth is vaccel_image_depth.
func ImageDepth(sess *Session, image []byte) (string, error) {
	return imageOp(sess, "image depth", image,
		func(s *C.struct_vaccel_session, i unsafe.Pointer, o *C.uchar, li, lo C.size_t) C.int {
			return C.vaccel_image_depth(s, i, o, li, lo)
		})
}
