/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Changed behaviour: a mutex is a flag the mock checks. The executor is
 * single-threaded, so taking a held mutex can only be a self-deadlock (the
 * kernel would hang): the mock reports it instead of spinning.
 */
#ifndef __LINUX_MUTEX_H
#define __LINUX_MUTEX_H

#include <linux/types.h>

struct mutex {
	int held;
	int initialised;
};

void daedalus_mock_mutex_lock(struct mutex *lock);
void daedalus_mock_mutex_unlock(struct mutex *lock);

static inline void mutex_init(struct mutex *lock)
{
	lock->held = 0;
	lock->initialised = 1;
}

static inline void mutex_destroy(struct mutex *lock)
{
	lock->initialised = 0;
}

static inline void mutex_lock(struct mutex *lock)
{
	daedalus_mock_mutex_lock(lock);
}

static inline void mutex_unlock(struct mutex *lock)
{
	daedalus_mock_mutex_unlock(lock);
}

#endif /* __LINUX_MUTEX_H */
