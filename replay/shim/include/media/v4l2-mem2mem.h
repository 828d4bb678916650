/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Changed behaviour: the m2m API the job core calls, implemented by the
 * Rust mock of drivers/media/v4l2-core/v4l2-mem2mem.c. The contexts and the
 * device are opaque here; the helpers the kernel has as inlines (next_buf,
 * buf_remove_by_buf, buf_done, num_*_bufs_ready) are mock functions with
 * the same semantics, so every list operation goes through the mock's
 * DEBUG_LIST checks and ownership ledger.
 */
#ifndef _MEDIA_V4L2_MEM2MEM_H
#define _MEDIA_V4L2_MEM2MEM_H

#include <linux/types.h>
#include <media/videobuf2-v4l2.h>

struct v4l2_m2m_dev;
struct v4l2_m2m_ctx;
struct v4l2_m2m_queue_ctx;

struct v4l2_m2m_buffer {
	struct vb2_v4l2_buffer	vb;
	struct list_head	list;
};

struct v4l2_m2m_queue_ctx *daedalus_mock_q_ctx(struct v4l2_m2m_ctx *m2m_ctx,
					       bool output);
struct vb2_v4l2_buffer *v4l2_m2m_next_buf(struct v4l2_m2m_queue_ctx *q_ctx);
struct vb2_v4l2_buffer *v4l2_m2m_buf_remove(struct v4l2_m2m_queue_ctx *q_ctx);
void v4l2_m2m_buf_remove_by_buf(struct v4l2_m2m_queue_ctx *q_ctx,
				struct vb2_v4l2_buffer *vbuf);
unsigned int daedalus_mock_num_rdy(struct v4l2_m2m_queue_ctx *q_ctx);
void v4l2_m2m_job_finish(struct v4l2_m2m_dev *m2m_dev,
			 struct v4l2_m2m_ctx *m2m_ctx);

static inline struct vb2_v4l2_buffer *
v4l2_m2m_next_src_buf(struct v4l2_m2m_ctx *m2m_ctx)
{
	return v4l2_m2m_next_buf(daedalus_mock_q_ctx(m2m_ctx, true));
}

static inline struct vb2_v4l2_buffer *
v4l2_m2m_next_dst_buf(struct v4l2_m2m_ctx *m2m_ctx)
{
	return v4l2_m2m_next_buf(daedalus_mock_q_ctx(m2m_ctx, false));
}

static inline struct vb2_v4l2_buffer *
v4l2_m2m_src_buf_remove(struct v4l2_m2m_ctx *m2m_ctx)
{
	return v4l2_m2m_buf_remove(daedalus_mock_q_ctx(m2m_ctx, true));
}

static inline struct vb2_v4l2_buffer *
v4l2_m2m_dst_buf_remove(struct v4l2_m2m_ctx *m2m_ctx)
{
	return v4l2_m2m_buf_remove(daedalus_mock_q_ctx(m2m_ctx, false));
}

static inline void v4l2_m2m_src_buf_remove_by_buf(struct v4l2_m2m_ctx *m2m_ctx,
						  struct vb2_v4l2_buffer *vbuf)
{
	v4l2_m2m_buf_remove_by_buf(daedalus_mock_q_ctx(m2m_ctx, true), vbuf);
}

static inline void v4l2_m2m_dst_buf_remove_by_buf(struct v4l2_m2m_ctx *m2m_ctx,
						  struct vb2_v4l2_buffer *vbuf)
{
	v4l2_m2m_buf_remove_by_buf(daedalus_mock_q_ctx(m2m_ctx, false), vbuf);
}

static inline unsigned int
v4l2_m2m_num_src_bufs_ready(struct v4l2_m2m_ctx *m2m_ctx)
{
	return daedalus_mock_num_rdy(daedalus_mock_q_ctx(m2m_ctx, true));
}

static inline unsigned int
v4l2_m2m_num_dst_bufs_ready(struct v4l2_m2m_ctx *m2m_ctx)
{
	return daedalus_mock_num_rdy(daedalus_mock_q_ctx(m2m_ctx, false));
}

static inline void v4l2_m2m_buf_done(struct vb2_v4l2_buffer *buf,
				     enum vb2_buffer_state state)
{
	vb2_buffer_done(&buf->vb2_buf, state);
}

#endif /* _MEDIA_V4L2_MEM2MEM_H */
