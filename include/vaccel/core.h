/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <vaccel/core.h> - bootstrap and cleanup
 *
 * accelring's own header for vAccel's public API: names, types, values and
 * layouts as upstream vAccel installs them (tests/vaccel checks them against
 * the reference sheet), implemented by libvaccel.so.0 (libclient/vaccel/).
 */
#ifndef ACCELRING_VACCEL_CORE_H
#define ACCELRING_VACCEL_CORE_H

#include <stdbool.h>
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Library set-up and tear-down. vaccel_bootstrap() runs on its own when the
 * library is loaded (unless VACCEL_BOOTSTRAP_ENABLED=0) and
 * vaccel_cleanup() at exit (unless VACCEL_CLEANUP_ENABLED=0). */
int vaccel_bootstrap(void);

int vaccel_bootstrap_with_config(struct vaccel_config *config);

int vaccel_cleanup(void);

const struct vaccel_config *vaccel_config(void);

bool vaccel_is_initialized(void);

const char *vaccel_rundir(void);

#ifdef __cplusplus
}
#endif

#endif /* ACCELRING_VACCEL_CORE_H */
