/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/error.h> - return codes
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_ERROR_H
#define ACCELRING_VACCEL_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vAccel's return codes: 0 or a positive errno value. */
enum {
	VACCEL_OK = 0,
	VACCEL_EINVAL = EINVAL,		/* invalid argument */
	VACCEL_ENOMEM = ENOMEM,		/* out of memory */
	VACCEL_ENOTSUP = ENOTSUP,	/* no plugin implements the op */
	VACCEL_EINPROGRESS = EINPROGRESS,
	VACCEL_EBUSY = EBUSY,
	VACCEL_EEXIST = EEXIST,
	VACCEL_ENOENT = ENOENT,
	VACCEL_ELIBBAD = ELIBBAD,	/* a plugin that cannot be loaded */
	VACCEL_ENODEV = ENODEV,
	VACCEL_EIO = EIO,
	VACCEL_ESESS = ECONNRESET,	/* session error */
	VACCEL_EBACKEND = EPROTO,	/* the backend (plugin, broker) failed */
	VACCEL_ENOEXEC = ENOEXEC,
	VACCEL_ENAMETOOLONG = ENAMETOOLONG,
	VACCEL_EUSERS = EUSERS,
	VACCEL_EPERM = EPERM,
	VACCEL_ELOOP = ELOOP,
	VACCEL_EMLINK = EMLINK,
	VACCEL_ENOSPC = ENOSPC,
	VACCEL_ENOTDIR = ENOTDIR,
	VACCEL_EROFS = EROFS,
	VACCEL_EACCES = EACCES,
	VACCEL_EBADF = EBADF,
	VACCEL_EREMOTEIO = EREMOTEIO,
	VACCEL_EFAULT = EFAULT,
	VACCEL_ERANGE = ERANGE,
	VACCEL_EAGAIN = EAGAIN,
	VACCEL_ENOSYS = ENOSYS,
};

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_ERROR_H */
