/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: min_t() and max_t() of include/linux/minmax.h, without their type checks. */
#ifndef _LINUX_MINMAX_H
#define _LINUX_MINMAX_H

#define min_t(type, x, y)	((type)(x) < (type)(y) ? (type)(x) : (type)(y))
#define max_t(type, x, y)	((type)(x) > (type)(y) ? (type)(x) : (type)(y))

#endif /* _LINUX_MINMAX_H */
