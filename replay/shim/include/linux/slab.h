/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Changed behaviour: kvmalloc() and kvfree() are the C library's malloc()
 * and free() (the replay allocates what the module allocates, no more).
 */
#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H

#include <stdlib.h>
#include <linux/types.h>

#define GFP_KERNEL	0

static inline void *kvmalloc(size_t size, int flags)
{
	(void)flags;
	return malloc(size);
}

static inline void kvfree(const void *p)
{
	free((void *)p);
}

#endif /* _LINUX_SLAB_H */
