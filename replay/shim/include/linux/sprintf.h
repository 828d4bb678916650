/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: scnprintf() on the host's C library. */
#ifndef _LINUX_SPRINTF_H_
#define _LINUX_SPRINTF_H_

#include <stdarg.h>
#include <stdio.h>

/* As the kernel's: the bytes written (without the NUL), never more than len - 1. */
static inline __attribute__((format(printf, 3, 4))) int
scnprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!len)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	return (size_t)n >= len ? (int)(len - 1) : n;
}

#endif /* _LINUX_SPRINTF_H_ */
