/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place for kernel API differences between the trees daedalus
 * builds against (Debian's 6.12 and 7.x).
 */
#ifndef _DAEDALUS_COMPAT_H
#define _DAEDALUS_COMPAT_H

#include <linux/fs.h>
#include <linux/version.h>
#include <media/v4l2-fh.h>

/*
 * 6.18 made v4l2_fh_add()/v4l2_fh_del() take the file and own
 * file->private_data; before, drivers set it themselves.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
static inline void daedalus_fh_add(struct v4l2_fh *fh, struct file *file)
{
	v4l2_fh_add(fh, file);
}

static inline void daedalus_fh_del(struct v4l2_fh *fh, struct file *file)
{
	v4l2_fh_del(fh, file);
}
#else
static inline void daedalus_fh_add(struct v4l2_fh *fh, struct file *file)
{
	file->private_data = fh;
	v4l2_fh_add(fh);
}

static inline void daedalus_fh_del(struct v4l2_fh *fh, struct file *file)
{
	v4l2_fh_del(fh);
	file->private_data = NULL;
}
#endif

#endif /* _DAEDALUS_COMPAT_H */
