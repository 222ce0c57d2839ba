// SPDX-License-Identifier: Apache-2.0

package vaccel

/*
#include <stdlib.h>
#include <vaccel.h>
*/
import "C"

import "unsafe"

// Session flags: the plugin type hints of <vaccel/plugin.h>. A session's
// flags pick the broker's first plugin of that type for its ops (else the
// first that implements the op).
const (
	PluginCPU      uint32 = 0x0001
	PluginGPU      uint32 = 0x0002
	PluginFPGA     uint32 = 0x0004
	PluginSoftware uint32 = 0x0008
	PluginTorch    uint32 = 0x0020
	PluginGeneric  uint32 = 0x0080
	PluginDebug    uint32 = 0x0100
)

// Session is a vAccel session, opened on the broker by Init. The zero
// Session is closed; ops on it, or on a released one, are EINVAL.
type Session struct {
	h *sessionHandle
}

// The C session lives in C memory: the library keeps it in its registry
// of live sessions, which cgo's rules do not allow of Go memory.
type sessionHandle struct {
	c *C.struct_vaccel_session
}

// NewSession is a Session opened with flags.
func NewSession(flags uint32) (*Session, error) {
	s := new(Session)
	if err := s.Init(flags); err != nil {
		return nil, err
	}
	return s, nil
}

// Init opens the session on the broker (vaccel_session_init). EINVAL if
// it is open already; otherwise why the library or the broker refused
// (ENOENT: no broker at the address, ...).
func (s *Session) Init(flags uint32) error {
	if s.h != nil && s.h.c != nil {
		return errorf("session init: already open", EINVAL)
	}
	c := (*C.struct_vaccel_session)(C.calloc(1, C.sizeof_struct_vaccel_session))
	if c == nil {
		return errorf("session init", ENOMEM)
	}
	if err := check("session init", C.vaccel_session_init(c, C.uint32_t(flags))); err != nil {
		C.free(unsafe.Pointer(c))
		return err
	}
	s.h = &sessionHandle{c: c}
	return nil
}

// Release closes the session on the broker (vaccel_session_release) and
// frees it; its resources are unregistered. EINVAL if it is not open.
func (s *Session) Release() error {
	c, err := s.ptr("session release")
	if err != nil {
		return err
	}
	if err := check("session release", C.vaccel_session_release(c)); err != nil {
		return err
	}
	C.free(unsafe.Pointer(c))
	s.h.c = nil
	return nil
}

// GetID is the session's id in this process (0 if not open).
func (s *Session) GetID() int64 {
	if c, err := s.ptr(""); err == nil {
		return int64(c.id)
	}
	return 0
}

// GetRemoteID is the session's id on the broker (0 if not open).
func (s *Session) GetRemoteID() int64 {
	if c, err := s.ptr(""); err == nil {
		return int64(c.remote_id)
	}
	return 0
}

// GetFlags is the flags the session was opened with.
func (s *Session) GetFlags() uint32 {
	if c, err := s.ptr(""); err == nil {
		return uint32(c.hint)
	}
	return 0
}

// Register registers r with the session: its bytes go to the broker
// (once per content and tenant).
func (s *Session) Register(r *Resource) error {
	c, err := s.ptr("resource register")
	if err != nil {
		return err
	}
	rc, err := r.ptr("resource register")
	if err != nil {
		return err
	}
	return check("resource register", C.vaccel_resource_register(rc, c))
}

// Unregister unregisters r from the session.
func (s *Session) Unregister(r *Resource) error {
	c, err := s.ptr("resource unregister")
	if err != nil {
		return err
	}
	rc, err := r.ptr("resource unregister")
	if err != nil {
		return err
	}
	return check("resource unregister", C.vaccel_resource_unregister(rc, c))
}

// HasResource reports whether r is registered with the session.
func (s *Session) HasResource(r *Resource) bool {
	c, err := s.ptr("")
	if err != nil {
		return false
	}
	rc, err := r.ptr("")
	if err != nil {
		return false
	}
	return bool(C.vaccel_session_has_resource(c, rc))
}

// ptr is the C session, or EINVAL for op if there is none.
func (s *Session) ptr(op string) (*C.struct_vaccel_session, error) {
	if s == nil || s.h == nil || s.h.c == nil {
		return nil, errorf(op+": session not open", EINVAL)
	}
	return s.h.c, nil
}
