/* SPDX-License-Identifier: GPL-2.0 */
/* Copy: memset/memcpy and friends from the host's C library. */
#ifndef _LINUX_STRING_H_
#define _LINUX_STRING_H_

#include <string.h>

#endif /* _LINUX_STRING_H_ */
