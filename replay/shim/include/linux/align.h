/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: ALIGN() of include/linux/align.h (a power-of-two alignment). */
#ifndef _LINUX_ALIGN_H
#define _LINUX_ALIGN_H

#define ALIGN(x, a)	(((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))

#endif /* _LINUX_ALIGN_H */
