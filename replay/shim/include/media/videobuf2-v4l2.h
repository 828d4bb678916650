/* SPDX-License-Identifier: GPL-2.0-only */
/* Copy: struct vb2_v4l2_buffer with the fields the job core uses. */
#ifndef _MEDIA_VIDEOBUF2_V4L2_H
#define _MEDIA_VIDEOBUF2_V4L2_H

#include <linux/videodev2.h>
#include <media/videobuf2-core.h>

struct vb2_v4l2_buffer {
	struct vb2_buffer	vb2_buf;
	__u32			flags;
	__u32			field;
	struct v4l2_timecode	timecode;
	__u32			sequence;
	__s32			request_fd;
	bool			is_held;
};

#define to_vb2_v4l2_buffer(vb) \
	((struct vb2_v4l2_buffer *)((char *)(vb) - \
		__builtin_offsetof(struct vb2_v4l2_buffer, vb2_buf)))

#endif /* _MEDIA_VIDEOBUF2_V4L2_H */
