// SPDX-License-Identifier: GPL-2.0
/*
 * Entry points for in-kernel tests (daedalus_test.h): the queue ioctls'
 * work without a file, under the same locks the ioctl path takes.
 */

#include <kunit/visibility.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/string.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus.h"
#include "daedalus_test.h"

static struct vb2_queue *daedalus_test_vq(struct daedalus_ctx *ctx,
					  bool capture)
{
	return capture ? v4l2_m2m_get_dst_vq(ctx->fh.m2m_ctx) :
			 v4l2_m2m_get_src_vq(ctx->fh.m2m_ctx);
}

int daedalus_test_set_format(struct daedalus_ctx *ctx, u32 fourcc, u32 width,
			     u32 height)
{
	struct v4l2_pix_format_mplane *pix = &ctx->out_fmt;
	int ret = 0;

	mutex_lock(&ctx->vb_mutex);
	if (vb2_is_busy(daedalus_test_vq(ctx, false))) {
		ret = -EBUSY;
		goto out;
	}
	if (fourcc != V4L2_PIX_FMT_H264 && fourcc != V4L2_PIX_FMT_HEVC &&
	    fourcc != V4L2_PIX_FMT_VP8 && fourcc != V4L2_PIX_FMT_VP9) {
		ret = -EINVAL;
		goto out;
	}
	spin_lock(&ctx->lock);
	pix->pixelformat = fourcc;
	pix->width = width;
	pix->height = height;
	spin_unlock(&ctx->lock);
	daedalus_front_set_out_size(&ctx->front, width, height);
out:
	mutex_unlock(&ctx->vb_mutex);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_set_format);

int daedalus_test_reqbufs(struct daedalus_ctx *ctx, bool capture,
			  unsigned int *count)
{
	struct vb2_queue *vq = daedalus_test_vq(ctx, capture);
	struct v4l2_requestbuffers req = {
		.count	= *count,
		.type	= vq->type,
		.memory	= V4L2_MEMORY_MMAP,
	};
	int ret;

	mutex_lock(&ctx->vb_mutex);
	ret = vb2_reqbufs(vq, &req);
	mutex_unlock(&ctx->vb_mutex);
	if (!ret)
		*count = req.count;
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_reqbufs);

int daedalus_test_qbuf_request(struct daedalus_ctx *ctx, bool capture,
			       u32 index, const void *data, u32 bytesused,
			       u64 timestamp, const int *request_fd)
{
	struct vb2_queue *vq = daedalus_test_vq(ctx, capture);
	struct v4l2_plane plane = {};
	struct v4l2_buffer b = {
		.index		= index,
		.type		= vq->type,
		.memory		= V4L2_MEMORY_MMAP,
		.length		= 1,
		.m.planes	= &plane,
	};
	struct vb2_buffer *vb;
	int ret;

	/* v4l2_m2m_qbuf(): no CAPTURE buffer in a request. */
	if (capture && request_fd)
		return -EPERM;
	if (request_fd) {
		b.flags = V4L2_BUF_FLAG_REQUEST_FD;
		b.request_fd = *request_fd;
	}
	mutex_lock(&ctx->vb_mutex);
	vb = vb2_get_buffer(vq, index);
	if (!vb) {
		ret = -EINVAL;
		goto out;
	}
	if (!capture) {
		if (data && bytesused <= vb2_plane_size(vb, 0) &&
		    vb2_plane_vaddr(vb, 0))
			memcpy(vb2_plane_vaddr(vb, 0), data, bytesused);
		plane.bytesused = bytesused;
		v4l2_buffer_set_timestamp(&b, timestamp);
	}
	ret = vb2_qbuf(vq, ctx->dev->v4l2_dev.mdev, &b);
	if (!ret && !(b.flags & V4L2_BUF_FLAG_IN_REQUEST))
		v4l2_m2m_try_schedule(ctx->fh.m2m_ctx);
out:
	mutex_unlock(&ctx->vb_mutex);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_qbuf_request);

int daedalus_test_qbuf(struct daedalus_ctx *ctx, bool capture, u32 index,
		       const void *data, u32 bytesused, u64 timestamp)
{
	return daedalus_test_qbuf_request(ctx, capture, index, data, bytesused,
					  timestamp, NULL);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_qbuf);

int daedalus_test_dqbuf(struct daedalus_ctx *ctx, bool capture,
			struct daedalus_test_buf *out)
{
	struct vb2_queue *vq = daedalus_test_vq(ctx, capture);
	struct v4l2_plane plane = {};
	struct v4l2_buffer b = {
		.type		= vq->type,
		.memory		= V4L2_MEMORY_MMAP,
		.length		= 1,
		.m.planes	= &plane,
	};
	int ret;

	mutex_lock(&ctx->vb_mutex);
	ret = vb2_dqbuf(vq, &b, true);
	mutex_unlock(&ctx->vb_mutex);
	if (ret)
		return ret;
	out->index = b.index;
	out->flags = b.flags;
	out->error = b.flags & V4L2_BUF_FLAG_ERROR;
	out->last = b.flags & V4L2_BUF_FLAG_LAST;
	out->timestamp = v4l2_buffer_get_timestamp(&b);
	out->sequence = b.sequence;
	out->bytesused = plane.bytesused;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_dqbuf);

int daedalus_test_streamon(struct daedalus_ctx *ctx, bool capture)
{
	struct vb2_queue *vq = daedalus_test_vq(ctx, capture);
	int ret;

	mutex_lock(&ctx->vb_mutex);
	ret = v4l2_m2m_streamon(NULL, ctx->fh.m2m_ctx, vq->type);
	mutex_unlock(&ctx->vb_mutex);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_streamon);

int daedalus_test_streamoff(struct daedalus_ctx *ctx, bool capture)
{
	struct vb2_queue *vq = daedalus_test_vq(ctx, capture);
	int ret;

	mutex_lock(&ctx->vb_mutex);
	ret = v4l2_m2m_streamoff(NULL, ctx->fh.m2m_ctx, vq->type);
	mutex_unlock(&ctx->vb_mutex);
	daedalus_job_resume(&ctx->jctx);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_streamoff);

int daedalus_test_decoder_cmd(struct daedalus_ctx *ctx, u32 cmd)
{
	int ret;

	mutex_lock(&ctx->vb_mutex);
	ret = daedalus_vdec_decoder_cmd(ctx, cmd);
	mutex_unlock(&ctx->vb_mutex);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_decoder_cmd);

int daedalus_test_wait_runs(struct daedalus_dev *dev, u64 runs,
			    unsigned int timeout_ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(timeout_ms);
	struct daedalus_job_stats st;

	for (;;) {
		daedalus_job_get_stats(&dev->core, &st);
		if (st.runs >= runs)
			return 0;
		if (time_after(jiffies, end))
			return -ETIMEDOUT;
		usleep_range(500, 1000);
	}
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_test_wait_runs);

/* The job core and the codec stay free of kernel-only includes. */
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_get_stats);
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_watchdog);
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_ctx_count);
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_frame);
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_cancel);
EXPORT_SYMBOL_IF_KUNIT(daedalus_job_detach);
EXPORT_SYMBOL_IF_KUNIT(daedalus_msg_parse);
EXPORT_SYMBOL_IF_KUNIT(daedalus_msg_header_len);
EXPORT_SYMBOL_IF_KUNIT(daedalus_msg_encode);
EXPORT_SYMBOL_IF_KUNIT(daedalus_msg_encode_decode);
EXPORT_SYMBOL_IF_KUNIT(daedalus_msg_reject_name);
