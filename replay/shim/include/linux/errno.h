/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy: the Linux errno values the job core and codec return (from
 * include/uapi/asm-generic/errno-base.h and errno.h). Spelled out rather
 * than taken from the C library, whose <errno.h> includes <linux/errno.h>.
 */
#ifndef _LINUX_ERRNO_H
#define _LINUX_ERRNO_H

#define EPERM		1
#define ENOENT		2
#define EIO		5
#define EBADF		9
#define EBADR		53
#define EAGAIN		11
#define ENOMEM		12
#define EBUSY		16
#define EINVAL		22
#define EPIPE		32
#define ENODATA		61
#define EPROTO		71
#define ENOTCONN	107
#define ECANCELED	125

#endif /* _LINUX_ERRNO_H */
