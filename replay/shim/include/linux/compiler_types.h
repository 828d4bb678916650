/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy: what the job core, the front and the dispatcher use of
 * compiler_types.h: the lock-context annotations it includes.
 */
#ifndef __LINUX_COMPILER_TYPES_H
#define __LINUX_COMPILER_TYPES_H

#include <linux/compiler-context-analysis.h>

#endif /* __LINUX_COMPILER_TYPES_H */
