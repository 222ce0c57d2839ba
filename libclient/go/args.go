// SPDX-License-Identifier: Apache-2.0

package vaccel

/*
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>
*/
import "C"

import (
	"encoding/binary"
	"math"
	"runtime"
	"unsafe"
)

// ArgType is an argument's vAccel type (vaccel_arg_type_t), which exec
// functions may check.
type ArgType uint32

const (
	ArgRaw     ArgType = C.VACCEL_ARG_RAW
	ArgInt32   ArgType = C.VACCEL_ARG_INT32
	ArgInt64   ArgType = C.VACCEL_ARG_INT64
	ArgUint32  ArgType = C.VACCEL_ARG_UINT32
	ArgUint64  ArgType = C.VACCEL_ARG_UINT64
	ArgFloat32 ArgType = C.VACCEL_ARG_FLOAT32
	ArgFloat64 ArgType = C.VACCEL_ARG_FLOAT64
	ArgString  ArgType = C.VACCEL_ARG_STRING
	ArgBuffer  ArgType = C.VACCEL_ARG_BUFFER
	ArgCustom  ArgType = C.VACCEL_ARG_CUSTOM
)

// ArgList is a list of op arguments (struct vaccel_arg), each a copy in C
// memory of what was added. As upstream's: ArgsInit, Add...Arg for inputs,
// Expect...Arg for outputs, ExtractSerialArg after the op, Delete.
type ArgList struct {
	h *argsHandle
}

type argsHandle struct {
	bufs  []unsafe.Pointer
	sizes []int
	types []ArgType
	ids   []uint32
}

func (h *argsHandle) free() {
	for _, b := range h.bufs {
		C.free(b)
	}
	h.bufs, h.sizes, h.types, h.ids = nil, nil, nil, nil
}

// ArgsInit is an empty list with room for size arguments (it grows).
func ArgsInit(size uint32) *ArgList {
	l := new(ArgList)
	l.handle(int(size))
	return l
}

func (l *ArgList) handle(size int) *argsHandle {
	if l.h == nil {
		l.h = &argsHandle{bufs: make([]unsafe.Pointer, 0, size)}
		// Only memory is at stake: freed when the list is lost.
		runtime.SetFinalizer(l.h, (*argsHandle).free)
	}
	return l.h
}

func (l *ArgList) add(data []byte, size int, t ArgType, customID uint32) error {
	if l == nil {
		return errorf("arg add: nil list", EINVAL)
	}
	h := l.handle(1)
	// At least one byte, so that an empty argument still has an address.
	buf := C.calloc(1, C.size_t(size+1))
	if buf == nil {
		return errorf("arg add", ENOMEM)
	}
	if len(data) > 0 {
		C.memcpy(buf, unsafe.Pointer(&data[0]), C.size_t(len(data)))
	}
	h.bufs = append(h.bufs, buf)
	h.sizes = append(h.sizes, size)
	h.types = append(h.types, t)
	h.ids = append(h.ids, customID)
	return nil
}

// AddSerialArg adds a copy of buf, as raw bytes (VACCEL_ARG_RAW).
func (l *ArgList) AddSerialArg(buf []byte) error {
	return l.add(buf, len(buf), ArgRaw, 0)
}

// AddTypedArg adds a copy of buf with a vAccel type and custom type id.
func (l *ArgList) AddTypedArg(buf []byte, t ArgType, customID uint32) error {
	return l.add(buf, len(buf), t, customID)
}

// AddStringArg adds a NUL-terminated string (VACCEL_ARG_STRING).
func (l *ArgList) AddStringArg(s string) error {
	return l.add([]byte(s), len(s)+1, ArgString, 0)
}

// AddInt32Arg adds an int32 (VACCEL_ARG_INT32), in the host's byte order.
func (l *ArgList) AddInt32Arg(v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return l.add(b[:], 4, ArgInt32, 0)
}

// AddUint32Arg adds a uint32 (VACCEL_ARG_UINT32).
func (l *ArgList) AddUint32Arg(v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return l.add(b[:], 4, ArgUint32, 0)
}

// AddFloat32Arg adds a float32 (VACCEL_ARG_FLOAT32).
func (l *ArgList) AddFloat32Arg(v float32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
	return l.add(b[:], 4, ArgFloat32, 0)
}

// ExpectSerialArg adds an output of size bytes, zeroed (VACCEL_ARG_RAW).
func (l *ArgList) ExpectSerialArg(size int) error {
	if size < 0 {
		return errorf("arg expect: negative size", EINVAL)
	}
	return l.add(nil, size, ArgRaw, 0)
}

// ExpectTypedArg adds an output of size bytes with a vAccel type.
func (l *ArgList) ExpectTypedArg(size int, t ArgType) error {
	if size < 0 {
		return errorf("arg expect: negative size", EINVAL)
	}
	return l.add(nil, size, t, 0)
}

// ExtractSerialArg is a copy of argument idx's bytes as they are now (after
// an op: what the function wrote); nil for an index out of range.
func (l *ArgList) ExtractSerialArg(idx int) []byte {
	if l == nil || l.h == nil || idx < 0 || idx >= len(l.h.bufs) {
		return nil
	}
	b := C.GoBytes(l.h.bufs[idx], C.int(l.h.sizes[idx]))
	runtime.KeepAlive(l.h)
	return b
}

// Size is the number of arguments.
func (l *ArgList) Size() int {
	if l == nil || l.h == nil {
		return 0
	}
	return len(l.h.bufs)
}

// Delete frees the arguments; the list is empty after it.
func (l *ArgList) Delete() error {
	if l != nil && l.h != nil {
		l.h.free()
	}
	return nil
}

// cArgs is a C array of the list's arguments (nil for none), to be freed
// with C.free after the call; the list must stay alive until then.
func (l *ArgList) cArgs() (*C.struct_vaccel_arg, C.size_t, error) {
	n := l.Size()
	if n == 0 {
		return nil, 0, nil
	}
	arr := (*C.struct_vaccel_arg)(C.calloc(C.size_t(n), C.sizeof_struct_vaccel_arg))
	if arr == nil {
		return nil, 0, errorf("args", ENOMEM)
	}
	args := unsafe.Slice(arr, n)
	for i := range args {
		args[i].buf = l.h.bufs[i]
		args[i].size = C.size_t(l.h.sizes[i])
		args[i]._type = C.vaccel_arg_type_t(l.h.types[i])
		args[i].custom_type_id = C.uint32_t(l.h.ids[i])
	}
	return arr, C.size_t(n), nil
}
