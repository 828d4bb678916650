/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Changed behaviour: a spinlock is a mutex of the mock (a flag it checks):
 * the executor is single-threaded, so taking a held spinlock can only be a
 * self-deadlock, which the mock reports instead of spinning.
 */
#ifndef __LINUX_SPINLOCK_H
#define __LINUX_SPINLOCK_H

#include <linux/mutex.h>

typedef struct {
	struct mutex m;
} spinlock_t;

static inline void spin_lock_init(spinlock_t *lock)
{
	mutex_init(&lock->m);
}

static inline void spin_lock(spinlock_t *lock)
{
	mutex_lock(&lock->m);
}

static inline void spin_unlock(spinlock_t *lock)
{
	mutex_unlock(&lock->m);
}

#endif /* __LINUX_SPINLOCK_H */
