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

// TorchDataType is a tensor's element type (enum vaccel_torch_data_type).
type TorchDataType int

const (
	TorchByte  TorchDataType = 1
	TorchChar  TorchDataType = 2
	TorchShort TorchDataType = 3
	TorchInt   TorchDataType = 4
	TorchLong  TorchDataType = 5
	TorchHalf  TorchDataType = 6
	TorchFloat TorchDataType = 7
)

// TorchTensor is a tensor (struct vaccel_torch_tensor) in C memory: an
// input made by NewTorchTensor (its data a copy), or an output of
// TorchModelRun. Release frees it.
type TorchTensor struct {
	h *tensorHandle
}

type tensorHandle struct {
	c    *C.struct_vaccel_torch_tensor
	data unsafe.Pointer // an input's copy of its data, lent to the tensor
}

func (h *tensorHandle) free() {
	if h.c != nil {
		C.vaccel_torch_tensor_delete(h.c)
	}
	C.free(h.data)
	h.c, h.data = nil, nil
}

func newTensorHandle(c *C.struct_vaccel_torch_tensor, data unsafe.Pointer) *TorchTensor {
	h := &tensorHandle{c: c, data: data}
	// Only memory is at stake: freed when the tensor is lost.
	runtime.SetFinalizer(h, (*tensorHandle).free)
	return &TorchTensor{h: h}
}

// NewTorchTensor is an input tensor of these dims and type holding a copy
// of data (the bytes of its elements, in the host's byte order).
func NewTorchTensor(dims []int64, dtype TorchDataType, data []byte) (*TorchTensor, error) {
	if len(dims) == 0 {
		return nil, errorf("torch tensor: no dims", EINVAL)
	}
	var c *C.struct_vaccel_torch_tensor
	ret := C.vaccel_torch_tensor_new(&c, C.int64_t(len(dims)), (*C.int64_t)(unsafe.Pointer(&dims[0])),
		C.enum_vaccel_torch_data_type(dtype))
	if err := check("torch tensor", ret); err != nil {
		return nil, err
	}
	buf := C.calloc(1, C.size_t(len(data)+1))
	if len(data) > 0 {
		C.memcpy(buf, unsafe.Pointer(&data[0]), C.size_t(len(data)))
	}
	t := newTensorHandle(c, buf)
	if err := check("torch tensor data", C.vaccel_torch_tensor_set_data(c, buf, C.size_t(len(data)))); err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

// NewTorchTensorFloat32 is an input tensor of float32 elements.
func NewTorchTensorFloat32(dims []int64, data []float32) (*TorchTensor, error) {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return NewTorchTensor(dims, TorchFloat, b)
}

// Release frees the tensor.
func (t *TorchTensor) Release() error {
	if t == nil || t.h == nil || t.h.c == nil {
		return errorf("torch tensor release: no tensor", EINVAL)
	}
	t.h.free()
	return nil
}

// NrDims is the number of dims (-1 for no tensor).
func (t *TorchTensor) NrDims() int {
	if t == nil || t.h == nil || t.h.c == nil {
		return -1
	}
	return int(t.h.c.nr_dims)
}

// Dims is a copy of the dims.
func (t *TorchTensor) Dims() []int64 {
	n := t.NrDims()
	if n <= 0 || t.h.c.dims == nil {
		return nil
	}
	d := make([]int64, n)
	copy(d, unsafe.Slice((*int64)(unsafe.Pointer(t.h.c.dims)), n))
	return d
}

// Type is the element type (-1 for no tensor).
func (t *TorchTensor) Type() TorchDataType {
	if t.NrDims() < 0 {
		return -1
	}
	return TorchDataType(t.h.c.data_type)
}

// Data is a copy of the tensor's bytes.
func (t *TorchTensor) Data() []byte {
	if t.NrDims() < 0 || t.h.c.data == nil {
		return nil
	}
	return C.GoBytes(t.h.c.data, C.int(t.h.c.size))
}

// Float32s is the tensor's data as float32 elements (nil unless TorchFloat).
func (t *TorchTensor) Float32s() []float32 {
	if t.Type() != TorchFloat {
		return nil
	}
	b := t.Data()
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// TorchBuffer is a run options buffer (struct vaccel_torch_buffer).
type TorchBuffer struct {
	c *C.struct_vaccel_torch_buffer
}

// Init makes the buffer hold a copy of data.
func (b *TorchBuffer) Init(data string) error {
	if b.c != nil {
		return errorf("torch buffer init: already made", EINVAL)
	}
	d := C.CString(data)
	var c *C.struct_vaccel_torch_buffer
	// The buffer owns d from here: release frees it.
	if err := check("torch buffer init", C.vaccel_torch_buffer_new(&c, d, C.size_t(len(data)))); err != nil {
		C.free(unsafe.Pointer(d))
		return err
	}
	b.c = c
	return nil
}

// Release frees the buffer and its data.
func (b *TorchBuffer) Release() error {
	if b == nil || b.c == nil {
		return errorf("torch buffer release: no buffer", EINVAL)
	}
	err := check("torch buffer release", C.vaccel_torch_buffer_delete(b.c))
	b.c = nil
	return err
}

// TorchModelLoad loads a MODEL resource registered with the session in the
// broker's torch plugin (vaccel_torch_model_load).
func TorchModelLoad(sess *Session, model *Resource) error {
	s, err := sess.ptr("torch model load")
	if err != nil {
		return err
	}
	m, err := model.ptr("torch model load")
	if err != nil {
		return err
	}
	return check("torch model load", C.vaccel_torch_model_load(s, m))
}

// TorchModelRun runs the model the session loaded on the inputs
// (vaccel_torch_model_run); buffer may be nil. It returns nrOutputs
// tensors, which the caller releases. (Upstream fills a caller's
// *[]TorchTensor instead.)
func TorchModelRun(sess *Session, model *Resource, buffer *TorchBuffer, inTensors []*TorchTensor,
	nrOutputs int) ([]*TorchTensor, error) {
	s, err := sess.ptr("torch model run")
	if err != nil {
		return nil, err
	}
	m, err := model.ptr("torch model run")
	if err != nil {
		return nil, err
	}
	if nrOutputs < 1 {
		return nil, errorf("torch model run: no outputs", EINVAL)
	}
	ptrSize := C.size_t(unsafe.Sizeof((*C.struct_vaccel_torch_tensor)(nil)))
	in := (**C.struct_vaccel_torch_tensor)(C.calloc(C.size_t(len(inTensors)+1), ptrSize))
	out := (**C.struct_vaccel_torch_tensor)(C.calloc(C.size_t(nrOutputs), ptrSize))
	defer C.free(unsafe.Pointer(in))
	defer C.free(unsafe.Pointer(out))
	ins := unsafe.Slice(in, len(inTensors)+1)
	for i, t := range inTensors {
		if t == nil || t.h == nil || t.h.c == nil {
			return nil, errorf("torch model run: input released", EINVAL)
		}
		ins[i] = t.h.c
	}
	var opts *C.struct_vaccel_torch_buffer
	if buffer != nil {
		opts = buffer.c
	}
	ret := C.vaccel_torch_model_run(s, m, opts, in, C.int(len(inTensors)), out, C.int(nrOutputs))
	runtime.KeepAlive(inTensors)
	var outputs []*TorchTensor
	for _, c := range unsafe.Slice(out, nrOutputs) {
		if c != nil {
			outputs = append(outputs, newTensorHandle(c, nil))
		}
	}
	if err := check("torch model run", ret); err != nil {
		for _, t := range outputs {
			t.Release()
		}
		return nil, err
	}
	return outputs, nil
}
