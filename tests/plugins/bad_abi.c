/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin built for a plugin ABI the broker does not speak: the broker
 * must refuse it before reading anything but abi_version and size. */
#include <accelring/plugin.h>

__attribute__((visibility("default"))) const struct ar_plugin ar_plugin = {
	.abi_version = 99,
	.size = sizeof(struct ar_plugin) + 64,
	.name = "bad_abi",
	.version = "0",
};
