/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy: lockdep_assert_held() of a kernel built without CONFIG_LOCKDEP,
 * which checks nothing. The executor holds the locks the kernel's callers
 * hold (the dispatcher's context lookup holds the context-list lock).
 */
#ifndef __LINUX_LOCKDEP_H
#define __LINUX_LOCKDEP_H

#define lockdep_assert_held(l)	((void)(l))

#endif /* __LINUX_LOCKDEP_H */
