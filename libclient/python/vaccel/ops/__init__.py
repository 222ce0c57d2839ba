# SPDX-License-Identifier: Apache-2.0
"""The ops, as mixins of vaccel.Session (upstream's layout)."""
