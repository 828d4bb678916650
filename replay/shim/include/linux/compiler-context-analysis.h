/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy: the lock-context annotations the module uses, as a kernel compiled
 * without sparse or Clang's context analysis has them: they check nothing.
 */
#ifndef _LINUX_COMPILER_CONTEXT_ANALYSIS_H
#define _LINUX_COMPILER_CONTEXT_ANALYSIS_H

#define __must_hold(...)
#define __acquires(...)
#define __releases(...)
#define __acquire(x)		do { } while (0)
#define __release(x)		do { } while (0)

#endif /* _LINUX_COMPILER_CONTEXT_ANALYSIS_H */
