/* SPDX-License-Identifier: Apache-2.0 */
/* resource.c: being written (see vaccel_pvt.h). */
#include "vaccel_pvt.h"
