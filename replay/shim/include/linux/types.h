/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: the kernel's fixed-width types, on the host's C library. */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
/* As asm-generic/int-ll64.h: printk's %llu takes them on every arch. */
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef unsigned long long __u64;
typedef int8_t __s8;
typedef int16_t __s16;
typedef int32_t __s32;
typedef long long __s64;

/* The host is little-endian, as the protocol is. */
typedef uint16_t __le16;
typedef uint32_t __le32;
typedef uint64_t __le64;

struct list_head {
	struct list_head *next, *prev;
};

#endif /* _LINUX_TYPES_H */
