// SPDX-License-Identifier: Apache-2.0

package vaccel

/*
#cgo pkg-config: vaccel
#include <errno.h>
#include <stdlib.h>
#include <vaccel.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
)

// vAccel's codes (<vaccel/error.h>), errno values, as upstream names them.
const (
	OK           int = 0
	EINVAL       int = C.EINVAL
	ENOMEM       int = C.ENOMEM
	ENOTSUP      int = C.ENOTSUP
	EINPROGRESS  int = C.EINPROGRESS
	EBUSY        int = C.EBUSY
	EEXIST       int = C.EEXIST
	ENOENT       int = C.ENOENT
	ELIBBAD      int = C.ELIBBAD
	ENODEV       int = C.ENODEV
	EIO          int = C.EIO
	ESESS        int = C.ECONNRESET
	EBACKEND     int = C.EPROTO
	ENOEXEC      int = C.ENOEXEC
	ENAMETOOLONG int = C.ENAMETOOLONG
	EUSERS       int = C.EUSERS
	EPERM        int = C.EPERM
	ELOOP        int = C.ELOOP
	EMLINK       int = C.EMLINK
	ENOSPC       int = C.ENOSPC
	ENOTDIR      int = C.ENOTDIR
	EROFS        int = C.EROFS
	EACCES       int = C.EACCES
	EBADF        int = C.EBADF
	EREMOTEIO    int = C.EREMOTEIO
	EFAULT       int = C.EFAULT
)

// Error is a vAccel call that failed: which, and vAccel's code (an errno
// value). It unwraps to the syscall.Errno of the code.
type Error struct {
	Op   string
	Code int
}

func (e *Error) Error() string {
	return fmt.Sprintf("vaccel: %s: %s (errno %d)", e.Op, syscall.Errno(e.Code).Error(), e.Code)
}

// Unwrap makes errors.Is(err, syscall.EPERM) true for Code EPERM.
func (e *Error) Unwrap() error { return syscall.Errno(e.Code) }

// Code is vAccel's code for err, as upstream's calls return it: OK for
// nil, the Code of an *Error, EIO for any other error.
func Code(err error) int {
	var e *Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &e):
		return e.Code
	default:
		return EIO
	}
}

// check is nil for 0, else the *Error of the call op.
func check(op string, ret C.int) error {
	if ret == 0 {
		return nil
	}
	return &Error{Op: op, Code: int(ret)}
}

func errorf(op string, code int) error { return &Error{Op: op, Code: code} }
