/* SPDX-License-Identifier: GPL-2.0 */
/* No-op stub: userspace has no trace buffers to define. */
