// SPDX-License-Identifier: Apache-2.0

package vaccel

/*
#include <stdlib.h>
#include <vaccel.h>
*/
import "C"

import "unsafe"

// ResourceType is what a resource holds (vaccel_resource_type_t).
type ResourceType int

const (
	ResourceLib ResourceType = iota
	ResourceData
	ResourceModel
)

// Resource is files or bytes an op uses (a model, a library). Its bytes go
// to the broker when it is first registered with a session; ops name it
// by the broker's id, never by a path.
type Resource struct {
	h *resourceHandle
}

type resourceHandle struct {
	c   *C.struct_vaccel_resource
	buf unsafe.Pointer // InitFromBuf's copy, which the library points at
}

func (r *Resource) set(op string, c *C.struct_vaccel_resource, buf unsafe.Pointer,
	ret C.int) error {
	if err := check(op, ret); err != nil {
		C.free(buf)
		return err
	}
	r.h = &resourceHandle{c: c, buf: buf}
	return nil
}

// Init makes a resource of one file or directory (vaccel_resource_new).
func (r *Resource) Init(path string, resType ResourceType) error {
	if r.h != nil && r.h.c != nil {
		return errorf("resource init: already made", EINVAL)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var c *C.struct_vaccel_resource
	ret := C.vaccel_resource_new(&c, cpath, C.vaccel_resource_type_t(resType))
	return r.set("resource init "+path, c, nil, ret)
}

// InitMulti makes a resource of several files (vaccel_resource_multi_new),
// a model and its labels for one.
func (r *Resource) InitMulti(paths []string, resType ResourceType) error {
	if r.h != nil && r.h.c != nil {
		return errorf("resource init: already made", EINVAL)
	}
	if len(paths) == 0 {
		return errorf("resource init: no paths", EINVAL)
	}
	arr := (*[1 << 20]*C.char)(C.calloc(C.size_t(len(paths)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	cpaths := arr[:len(paths):len(paths)]
	defer func() {
		for _, p := range cpaths {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(arr))
	}()
	for i, p := range paths {
		cpaths[i] = C.CString(p)
	}
	var c *C.struct_vaccel_resource
	ret := C.vaccel_resource_multi_new(&c, &cpaths[0], C.size_t(len(paths)),
		C.vaccel_resource_type_t(resType))
	return r.set("resource init", c, nil, ret)
}

// InitFromBuf makes a resource of one file of these bytes, named filename
// (vaccel_resource_from_buf); the bytes are copied.
func (r *Resource) InitFromBuf(data []byte, resType ResourceType, filename string) error {
	if r.h != nil && r.h.c != nil {
		return errorf("resource init: already made", EINVAL)
	}
	if len(data) == 0 {
		return errorf("resource init: no bytes", EINVAL)
	}
	buf := C.CBytes(data)
	cname := C.CString(filename)
	defer C.free(unsafe.Pointer(cname))
	var c *C.struct_vaccel_resource
	ret := C.vaccel_resource_from_buf(&c, buf, C.size_t(len(data)),
		C.vaccel_resource_type_t(resType), cname, true)
	return r.set("resource init from buffer", c, buf, ret)
}

// Release unregisters the resource from its sessions and frees it
// (vaccel_resource_delete).
func (r *Resource) Release() error {
	c, err := r.ptr("resource release")
	if err != nil {
		return err
	}
	if err := check("resource release", C.vaccel_resource_delete(c)); err != nil {
		return err
	}
	C.free(r.h.buf)
	r.h.c, r.h.buf = nil, nil
	return nil
}

// GetID is the resource's id in this process (0 if none).
func (r *Resource) GetID() int64 {
	if c, err := r.ptr(""); err == nil {
		return int64(c.id)
	}
	return 0
}

// GetRemoteID is the broker's id of the resource once registered.
func (r *Resource) GetRemoteID() int64 {
	if c, err := r.ptr(""); err == nil {
		return int64(c.remote_id)
	}
	return 0
}

func (r *Resource) ptr(op string) (*C.struct_vaccel_resource, error) {
	if r == nil || r.h == nil || r.h.c == nil {
		return nil, errorf(op+": no resource", EINVAL)
	}
	return r.h.c, nil
}
