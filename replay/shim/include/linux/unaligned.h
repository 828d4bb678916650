/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: the little-endian unaligned accessors (the host is little-endian). */
#ifndef _LINUX_UNALIGNED_H
#define _LINUX_UNALIGNED_H

#include <string.h>
#include <linux/types.h>

static inline u16 get_unaligned_le16(const void *p)
{
	u16 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline u32 get_unaligned_le32(const void *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline u64 get_unaligned_le64(const void *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif /* _LINUX_UNALIGNED_H */
