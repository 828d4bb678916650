/* SPDX-License-Identifier: ((GPL-2.0+ WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Copy: the subset of the V4L2 uapi the job core and the mock use. */
#ifndef _UAPI__LINUX_VIDEODEV2_H
#define _UAPI__LINUX_VIDEODEV2_H

#include <linux/types.h>

enum v4l2_field {
	V4L2_FIELD_ANY		= 0,
	V4L2_FIELD_NONE		= 1,
};

enum v4l2_buf_type {
	V4L2_BUF_TYPE_VIDEO_CAPTURE		= 1,
	V4L2_BUF_TYPE_VIDEO_OUTPUT		= 2,
	V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE	= 9,
	V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE	= 10,
};

#define V4L2_TYPE_IS_OUTPUT(type)				\
	((type) == V4L2_BUF_TYPE_VIDEO_OUTPUT ||		\
	 (type) == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)

struct v4l2_timecode {
	__u32	type;
	__u32	flags;
	__u8	frames;
	__u8	seconds;
	__u8	minutes;
	__u8	hours;
	__u8	userbits[4];
};

#define V4L2_BUF_FLAG_KEYFRAME			0x00000008
#define V4L2_BUF_FLAG_PFRAME			0x00000010
#define V4L2_BUF_FLAG_BFRAME			0x00000020
#define V4L2_BUF_FLAG_ERROR			0x00000040
#define V4L2_BUF_FLAG_TIMECODE			0x00000100
#define V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF	0x00000200
#define V4L2_BUF_FLAG_TSTAMP_SRC_MASK		0x00070000
#define V4L2_BUF_FLAG_LAST			0x00100000

#endif /* _UAPI__LINUX_VIDEODEV2_H */
