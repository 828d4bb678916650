// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus V4L2 front: a stateful mem2mem decoder node (MPLANE) in the
 * shape of Documentation/userspace-api/media/v4l/dev-decoder.rst, and the
 * V4L2 side the stateless node (dev-stateless-decoder.rst) shares with it;
 * what only the stateless node has is in daedalus_sdec.c.
 *
 * Formats, queues, events and decoder commands live here; buffer ownership
 * lives in the job core (daedalus_job.c) and the wire in the character
 * device (daedalus_chardev.c). Order: format tables, helpers, m2m
 * callbacks, ioctls, vb2 ops, open/release, ops tables, registration.
 */

#include <kunit/visibility.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-event.h>
#include <media/v4l2-ioctl.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-vmalloc.h>

#include "daedalus.h"
#include "daedalus_compat.h"
#include "daedalus_trace.h"

#define DAEDALUS_MIN_DIM	16
#define DAEDALUS_MIN_BITSTREAM	(256u * 1024)

/**
 * struct daedalus_fmt - a pixel format and its protocol code
 * @fourcc:	V4L2 pixel format
 * @code:	enum daedalus_codec (OUTPUT) or enum daedalus_pixfmt (CAPTURE)
 */
struct daedalus_fmt {
	u32 fourcc;
	u32 code;
};

static const struct daedalus_fmt daedalus_out_fmts[] = {
	{ V4L2_PIX_FMT_H264,	DAEDALUS_CODEC_H264 },
	{ V4L2_PIX_FMT_HEVC,	DAEDALUS_CODEC_HEVC },
	{ V4L2_PIX_FMT_VP8,	DAEDALUS_CODEC_VP8 },
	{ V4L2_PIX_FMT_VP9,	DAEDALUS_CODEC_VP9 },
};

static const struct daedalus_fmt daedalus_sl_out_fmts[] = {
	{ V4L2_PIX_FMT_H264_SLICE, DAEDALUS_CODEC_H264_SLICE },
};

static const struct daedalus_fmt daedalus_cap_fmts[] = {
	{ V4L2_PIX_FMT_NV12,	DAEDALUS_PIXFMT_NV12 },
	{ V4L2_PIX_FMT_YUV420,	DAEDALUS_PIXFMT_YUV420 },
};

static const struct v4l2_event daedalus_eos_event = {
	.type = V4L2_EVENT_EOS,
};

static const struct v4l2_event daedalus_src_change_event = {
	.type = V4L2_EVENT_SOURCE_CHANGE,
	.u.src_change.changes = V4L2_EVENT_SRC_CH_RESOLUTION,
};

/* Helpers. */

static inline struct daedalus_ctx *daedalus_file_ctx(struct file *file)
{
	return container_of(file->private_data, struct daedalus_ctx, fh);
}

/* The OUTPUT formats of the context's node; the first is the default. */
static const struct daedalus_fmt *daedalus_out_table(const struct daedalus_ctx *ctx,
						     size_t *n)
{
	if (ctx->stateless) {
		*n = ARRAY_SIZE(daedalus_sl_out_fmts);
		return daedalus_sl_out_fmts;
	}
	*n = ARRAY_SIZE(daedalus_out_fmts);
	return daedalus_out_fmts;
}

static const struct daedalus_fmt *
daedalus_find_fmt(const struct daedalus_fmt *fmts, size_t n, u32 fourcc,
		  u32 mask)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fmts[i].fourcc == fourcc && (mask & BIT(fmts[i].code)))
			return &fmts[i];
	return NULL;
}

static const struct daedalus_fmt *daedalus_find_code(const struct daedalus_fmt *fmts,
						     size_t n, u32 code)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fmts[i].code == code)
			return &fmts[i];
	return NULL;
}

static void daedalus_max_size(struct daedalus_dev *dev, u32 *w, u32 *h)
{
	struct daedalus_daemon *d = &dev->daemon;

	mutex_lock(&d->lock);
	*w = d->hello_done ? d->hello.max_width : DAEDALUS_FRONT_NO_DAEMON_DIM;
	*h = d->hello_done ? d->hello.max_height : DAEDALUS_FRONT_NO_DAEMON_DIM;
	mutex_unlock(&d->lock);
}

/* The V4L2 shape of the front's CAPTURE format. */
static void daedalus_fill_cap(struct v4l2_pix_format_mplane *pix, u32 fourcc,
			      const struct daedalus_front_fmt *c)
{
	pix->pixelformat = fourcc;
	pix->width = c->width;
	pix->height = c->height;
	pix->field = V4L2_FIELD_NONE;
	pix->num_planes = 1;
	pix->plane_fmt[0].bytesperline = c->width;
	pix->plane_fmt[0].sizeimage = c->sizeimage;
	memset(pix->plane_fmt[0].reserved, 0,
	       sizeof(pix->plane_fmt[0].reserved));
	memset(pix->reserved, 0, sizeof(pix->reserved));
	pix->flags = 0;
}

static u32 daedalus_cap_fourcc(u32 code)
{
	const struct daedalus_fmt *fmt;

	fmt = daedalus_find_code(daedalus_cap_fmts,
				 ARRAY_SIZE(daedalus_cap_fmts), code);
	return fmt ? fmt->fourcc : daedalus_cap_fmts[0].fourcc;
}

static void daedalus_fill_out(struct v4l2_pix_format_mplane *pix, u32 fourcc,
			      u32 width, u32 height, u32 sizeimage)
{
	u32 min = clamp_t(u32, width * height * 3 / 4, DAEDALUS_MIN_BITSTREAM,
			  DAEDALUS_MAX_PAYLOAD / 2);

	pix->pixelformat = fourcc;
	pix->width = width;
	pix->height = height;
	pix->field = V4L2_FIELD_NONE;
	pix->num_planes = 1;
	pix->plane_fmt[0].bytesperline = 0;
	pix->plane_fmt[0].sizeimage = clamp_t(u32, sizeimage, min,
					      DAEDALUS_MAX_PAYLOAD / 2);
	memset(pix->plane_fmt[0].reserved, 0,
	       sizeof(pix->plane_fmt[0].reserved));
	memset(pix->reserved, 0, sizeof(pix->reserved));
	pix->flags = 0;
}

static void daedalus_set_colorimetry(struct daedalus_ctx *ctx,
				     struct v4l2_pix_format_mplane *pix)
{
	spin_lock(&ctx->lock);
	pix->colorspace = ctx->colorimetry.colorspace;
	pix->xfer_func = ctx->colorimetry.xfer_func;
	pix->ycbcr_enc = ctx->colorimetry.ycbcr_enc;
	pix->quantization = ctx->colorimetry.quantization;
	spin_unlock(&ctx->lock);
}

static void daedalus_return_ready(struct daedalus_ctx *ctx, bool output,
				  enum vb2_buffer_state state)
{
	struct v4l2_m2m_ctx *m2m_ctx = ctx->fh.m2m_ctx;
	struct vb2_v4l2_buffer *vbuf;

	for (;;) {
		vbuf = output ? v4l2_m2m_src_buf_remove(m2m_ctx) :
				v4l2_m2m_dst_buf_remove(m2m_ctx);
		if (!vbuf)
			break;
		/*
		 * A request completes once its controls and its buffer have;
		 * one handed back QUEUED is still vb2's, whose cancel
		 * completes it (buf_request_complete).
		 */
		if (output && ctx->stateless && state != VB2_BUF_STATE_QUEUED)
			daedalus_sdec_src_done(ctx, vbuf);
		v4l2_m2m_buf_done(vbuf, state);
	}
}

/* The front's V4L2 side (&struct daedalus_front_ops). */

static int daedalus_front_send(void *priv, u16 type, const void *body, u32 len)
{
	const struct daedalus_req_session_open *open = body;
	struct daedalus_ctx *ctx = priv;
	u32 trace_flags = 0;

	/* A recording tells the nodes' sessions apart by their codec. */
	if (type == DAEDALUS_REQ_SESSION_OPEN && len >= sizeof(*open))
		trace_flags = le32_to_cpu(open->codec);
	return daedalus_daemon_send(ctx->dev, &ctx->jctx.out, type, 0, body, len,
				    NULL, 0, trace_flags);
}

static void daedalus_front_limits(void *priv, struct daedalus_front_limits *l)
{
	struct daedalus_ctx *ctx = priv;
	u32 codecs;

	if (daedalus_daemon_codecs(ctx->dev, &codecs, &l->pixfmts)) {
		daedalus_front_no_daemon(l);
		return;
	}
	daedalus_max_size(ctx->dev, &l->max_width, &l->max_height);
	l->flags = daedalus_daemon_flags(ctx->dev);
}

static void daedalus_front_event(void *priv, enum daedalus_front_event ev)
{
	struct daedalus_ctx *ctx = priv;

	v4l2_event_queue_fh(&ctx->fh, ev == DAEDALUS_FRONT_EV_EOS ?
				      &daedalus_eos_event :
				      &daedalus_src_change_event);
}

static void daedalus_front_return_ready(void *priv, bool output, bool error)
{
	daedalus_return_ready(priv, output, error ? VB2_BUF_STATE_ERROR :
						    VB2_BUF_STATE_QUEUED);
}

static void daedalus_front_queue_error(void *priv)
{
	struct daedalus_ctx *ctx = priv;

	vb2_queue_error(v4l2_m2m_get_src_vq(ctx->fh.m2m_ctx));
	vb2_queue_error(v4l2_m2m_get_dst_vq(ctx->fh.m2m_ctx));
}

static void daedalus_front_clear_last(void *priv)
{
	struct daedalus_ctx *ctx = priv;

	vb2_clear_last_buffer_dequeued(v4l2_m2m_get_dst_vq(ctx->fh.m2m_ctx));
}

static bool daedalus_front_streaming(void *priv, bool output)
{
	struct daedalus_ctx *ctx = priv;
	struct v4l2_m2m_ctx *m2m_ctx = ctx->fh.m2m_ctx;

	return vb2_is_streaming(output ? v4l2_m2m_get_src_vq(m2m_ctx) :
					 v4l2_m2m_get_dst_vq(m2m_ctx));
}

static void daedalus_front_try_schedule(void *priv)
{
	struct daedalus_ctx *ctx = priv;

	v4l2_m2m_try_schedule(ctx->fh.m2m_ctx);
}

static const struct daedalus_front_ops daedalus_front_ops = {
	.send		= daedalus_front_send,
	.limits		= daedalus_front_limits,
	.event		= daedalus_front_event,
	.return_ready	= daedalus_front_return_ready,
	.queue_error	= daedalus_front_queue_error,
	.clear_last	= daedalus_front_clear_last,
	.streaming	= daedalus_front_streaming,
	.try_schedule	= daedalus_front_try_schedule,
};

/* mem2mem callbacks. */

static void daedalus_device_run(void *priv)
{
	struct daedalus_ctx *ctx = priv;

	if (ctx->stateless)
		daedalus_sdec_prepare(ctx);
	daedalus_front_device_run(&ctx->front, daedalus_now(ctx->dev));
}

/* Called under the m2m job spinlock: flags only, no sleeping locks. */
static int daedalus_job_ready(void *priv)
	__must_hold(&m2m_dev->job_spinlock)
{
	struct daedalus_ctx *ctx = priv;
	struct v4l2_m2m_ctx *m2m_ctx = ctx->fh.m2m_ctx;

	return daedalus_front_job_ready(&ctx->front,
					v4l2_m2m_num_src_bufs_ready(m2m_ctx),
					v4l2_m2m_num_dst_bufs_ready(m2m_ctx));
}

static void daedalus_job_abort_cb(void *priv)
{
	struct daedalus_ctx *ctx = priv;

	daedalus_job_abort(&ctx->jctx);
}

const struct v4l2_m2m_ops daedalus_m2m_ops = {
	.device_run	= daedalus_device_run,
	.job_ready	= daedalus_job_ready,
	.job_abort	= daedalus_job_abort_cb,
};

/* ioctls. */

static int daedalus_querycap(struct file *file, void *priv,
			     struct v4l2_capability *cap)
{
	strscpy(cap->driver, DAEDALUS_DRIVER, sizeof(cap->driver));
	strscpy(cap->card, daedalus_file_ctx(file)->stateless ?
		"daedalus stateless decoder" : "daedalus decoder",
		sizeof(cap->card));
	snprintf(cap->bus_info, sizeof(cap->bus_info), "platform:%s",
		 DAEDALUS_NAME);
	return 0;
}

static int daedalus_enum_fmt(struct v4l2_fmtdesc *f, bool output,
			     struct daedalus_ctx *ctx)
{
	const struct daedalus_fmt *fmts = daedalus_cap_fmts;
	size_t i, n = ARRAY_SIZE(daedalus_cap_fmts);
	u32 codecs, pixfmts, mask, idx = 0;

	if (output)
		fmts = daedalus_out_table(ctx, &n);
	daedalus_daemon_codecs(ctx->dev, &codecs, &pixfmts);
	mask = output ? codecs : pixfmts;
	for (i = 0; i < n; i++) {
		if (!(mask & BIT(fmts[i].code)))
			continue;
		if (idx++ != f->index)
			continue;
		f->pixelformat = fmts[i].fourcc;
		if (output && !ctx->stateless)
			f->flags = V4L2_FMT_FLAG_DYN_RESOLUTION |
				   V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM;
		return 0;
	}
	return -EINVAL;
}

static int daedalus_enum_fmt_cap(struct file *file, void *priv,
				 struct v4l2_fmtdesc *f)
{
	return daedalus_enum_fmt(f, false, daedalus_file_ctx(file));
}

static int daedalus_enum_fmt_out(struct file *file, void *priv,
				 struct v4l2_fmtdesc *f)
{
	return daedalus_enum_fmt(f, true, daedalus_file_ctx(file));
}

static int daedalus_g_fmt_cap(struct file *file, void *priv,
			      struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct daedalus_front_fmt c;

	daedalus_front_get_cap(&ctx->front, &c);
	daedalus_fill_cap(&f->fmt.pix_mp, daedalus_cap_fourcc(c.pixfmt), &c);
	daedalus_set_colorimetry(ctx, &f->fmt.pix_mp);
	return 0;
}

static int daedalus_g_fmt_out(struct file *file, void *priv,
			      struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);

	spin_lock(&ctx->lock);
	f->fmt.pix_mp = ctx->out_fmt;
	spin_unlock(&ctx->lock);
	daedalus_set_colorimetry(ctx, &f->fmt.pix_mp);
	return 0;
}

static int daedalus_try_fmt_out(struct file *file, void *priv,
				struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct v4l2_pix_format_mplane *pix = &f->fmt.pix_mp;
	u32 codecs, pixfmts, maxw, maxh, w = pix->width, h = pix->height;
	const struct daedalus_fmt *fmt, *table;
	size_t n;

	table = daedalus_out_table(ctx, &n);
	daedalus_daemon_codecs(ctx->dev, &codecs, &pixfmts);
	daedalus_max_size(ctx->dev, &maxw, &maxh);
	fmt = daedalus_find_fmt(table, n, pix->pixelformat, codecs);
	if (!fmt)
		fmt = &table[0];
	/*
	 * 0x0 means "parse it from the stream": keep it. A stateless
	 * decoder's client parses the stream itself and names the size.
	 */
	if (w || h || ctx->stateless) {
		w = clamp_t(u32, w, DAEDALUS_MIN_DIM, maxw);
		h = clamp_t(u32, h, DAEDALUS_MIN_DIM, maxh);
	}
	daedalus_fill_out(pix, fmt->fourcc, w, h,
			  pix->num_planes ? pix->plane_fmt[0].sizeimage : 0);
	return 0;
}

static int daedalus_try_fmt_cap(struct file *file, void *priv,
				struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct v4l2_pix_format_mplane *pix = &f->fmt.pix_mp;
	const struct daedalus_fmt *fmt;
	struct daedalus_front_fmt c;
	u32 pixfmts;

	pixfmts = daedalus_front_cap_pixfmts(&ctx->front);
	daedalus_front_get_cap(&ctx->front, &c);
	fmt = daedalus_find_fmt(daedalus_cap_fmts,
				ARRAY_SIZE(daedalus_cap_fmts), pix->pixelformat,
				pixfmts);
	/* The stream decides the picture size; the client only the layout. */
	daedalus_fill_cap(pix, fmt ? fmt->fourcc : daedalus_cap_fourcc(c.pixfmt),
			  &c);
	daedalus_set_colorimetry(ctx, pix);
	return 0;
}

static int daedalus_s_fmt_out(struct file *file, void *priv,
			      struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct v4l2_pix_format_mplane *pix = &f->fmt.pix_mp;
	struct vb2_queue *vq = v4l2_m2m_get_src_vq(ctx->fh.m2m_ctx);
	int ret;

	if (vb2_is_busy(vq))
		return -EBUSY;
	/*
	 * A stateless decoder's CAPTURE format follows this one: not while
	 * CAPTURE buffers exist (dev-stateless-decoder.rst).
	 */
	if (ctx->stateless && vb2_is_busy(v4l2_m2m_get_dst_vq(ctx->fh.m2m_ctx)))
		return -EBUSY;
	ret = daedalus_try_fmt_out(file, priv, f);
	if (ret)
		return ret;
	spin_lock(&ctx->lock);
	ctx->out_fmt = *pix;
	/* Colorimetry flows from the coded stream to the pictures. */
	ctx->colorimetry.colorspace = pix->colorspace;
	ctx->colorimetry.xfer_func = pix->xfer_func;
	ctx->colorimetry.ycbcr_enc = pix->ycbcr_enc;
	ctx->colorimetry.quantization = pix->quantization;
	spin_unlock(&ctx->lock);
	daedalus_front_set_out_size(&ctx->front, pix->width, pix->height);
	return 0;
}

static int daedalus_s_fmt_cap(struct file *file, void *priv,
			      struct v4l2_format *f)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct vb2_queue *vq = v4l2_m2m_get_dst_vq(ctx->fh.m2m_ctx);
	const struct daedalus_fmt *fmt;
	int ret;

	if (vb2_is_busy(vq))
		return -EBUSY;
	ret = daedalus_try_fmt_cap(file, priv, f);
	if (ret)
		return ret;
	/* try_fmt picked one of the table's formats. */
	fmt = daedalus_find_fmt(daedalus_cap_fmts, ARRAY_SIZE(daedalus_cap_fmts),
				f->fmt.pix_mp.pixelformat, ~0u);
	daedalus_front_set_cap_pixfmt(&ctx->front, fmt->code);
	return 0;
}

static int daedalus_g_selection(struct file *file, void *priv,
				struct v4l2_selection *s)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct daedalus_front_fmt c;

	if (s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE &&
	    s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		return -EINVAL;
	daedalus_front_get_cap(&ctx->front, &c);
	switch (s->target) {
	case V4L2_SEL_TGT_COMPOSE:
	case V4L2_SEL_TGT_COMPOSE_DEFAULT:
		s->r = (struct v4l2_rect) {
			.left = c.vis_left, .top = c.vis_top,
			.width = c.vis_width, .height = c.vis_height,
		};
		return 0;
	case V4L2_SEL_TGT_COMPOSE_BOUNDS:
	case V4L2_SEL_TGT_COMPOSE_PADDED:
		s->r = (struct v4l2_rect) {
			.width = c.width, .height = c.height,
		};
		return 0;
	default:
		return -EINVAL;
	}
}

static int daedalus_enum_framesizes(struct file *file, void *priv,
				    struct v4l2_frmsizeenum *fsize)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	u32 codecs, pixfmts, maxw, maxh;
	const struct daedalus_fmt *table;
	size_t n;

	table = daedalus_out_table(ctx, &n);
	daedalus_daemon_codecs(ctx->dev, &codecs, &pixfmts);
	if (fsize->index)
		return -EINVAL;
	if (!daedalus_find_fmt(table, n, fsize->pixel_format, codecs) &&
	    !daedalus_find_fmt(daedalus_cap_fmts, ARRAY_SIZE(daedalus_cap_fmts),
			       fsize->pixel_format, pixfmts))
		return -EINVAL;
	daedalus_max_size(ctx->dev, &maxw, &maxh);
	fsize->type = V4L2_FRMSIZE_TYPE_STEPWISE;
	fsize->stepwise.min_width = DAEDALUS_MIN_DIM;
	fsize->stepwise.max_width = maxw;
	fsize->stepwise.step_width = 1;
	fsize->stepwise.min_height = DAEDALUS_MIN_DIM;
	fsize->stepwise.max_height = maxh;
	fsize->stepwise.step_height = 1;
	return 0;
}

static int daedalus_subscribe_event(struct v4l2_fh *fh,
				    const struct v4l2_event_subscription *sub)
{
	/* A stateless decoder has no drain and no source change. */
	if (container_of(fh, struct daedalus_ctx, fh)->stateless)
		return v4l2_ctrl_subscribe_event(fh, sub);
	switch (sub->type) {
	case V4L2_EVENT_EOS:
		return v4l2_event_subscribe(fh, sub, 2, NULL);
	case V4L2_EVENT_SOURCE_CHANGE:
		return v4l2_src_change_event_subscribe(fh, sub);
	default:
		return v4l2_ctrl_subscribe_event(fh, sub);
	}
}

/**
 * daedalus_vdec_decoder_cmd() - V4L2_DEC_CMD_STOP/START after validation
 * @ctx:	the context
 * @cmd:	the command
 *
 * Return: 0, or -EINVAL for another command.
 */
int daedalus_vdec_decoder_cmd(struct daedalus_ctx *ctx, u32 cmd)
{
	BUILD_BUG_ON(V4L2_DEC_CMD_START != DAEDALUS_FRONT_CMD_START);
	BUILD_BUG_ON(V4L2_DEC_CMD_STOP != DAEDALUS_FRONT_CMD_STOP);
	return daedalus_front_decoder_cmd(&ctx->front, cmd);
}

static int daedalus_decoder_cmd(struct file *file, void *priv,
				struct v4l2_decoder_cmd *dc)
{
	int ret;

	ret = v4l2_m2m_ioctl_try_decoder_cmd(file, priv, dc);
	if (ret)
		return ret;
	return daedalus_vdec_decoder_cmd(daedalus_file_ctx(file), dc->cmd);
}

static int daedalus_streamoff(struct file *file, void *priv,
			      enum v4l2_buf_type type)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	int ret;

	ret = v4l2_m2m_ioctl_streamoff(file, priv, type);
	daedalus_front_streamoff(&ctx->front);
	return ret;
}

/* vb2 ops. */

static int daedalus_queue_setup(struct vb2_queue *vq, unsigned int *nbuffers,
				unsigned int *nplanes, unsigned int sizes[],
				struct device *alloc_devs[])
{
	struct daedalus_ctx *ctx = vb2_get_drv_priv(vq);
	bool create = *nplanes;
	u32 size;

	if (V4L2_TYPE_IS_OUTPUT(vq->type)) {
		spin_lock(&ctx->lock);
		size = ctx->out_fmt.plane_fmt[0].sizeimage;
		spin_unlock(&ctx->lock);
	} else {
		size = daedalus_front_cap_sizeimage(&ctx->front);
	}
	if (create && (*nplanes != 1 || sizes[0] < size))
		return -EINVAL;
	/*
	 * REQBUFS(CAPTURE): at least V4L2_CID_MIN_BUFFERS_FOR_CAPTURE; either
	 * call: no more than the job core's table is sized for.
	 */
	if (!V4L2_TYPE_IS_OUTPUT(vq->type)) {
		*nbuffers = daedalus_front_cap_count(&ctx->front, *nbuffers,
						     vb2_get_num_buffers(vq),
						     create);
		if (!*nbuffers)
			return -ENOBUFS;
	}
	if (create)
		return 0;
	*nplanes = 1;
	sizes[0] = size;
	return 0;
}

static int daedalus_buf_out_validate(struct vb2_buffer *vb)
{
	struct vb2_v4l2_buffer *vbuf = to_vb2_v4l2_buffer(vb);

	vbuf->field = V4L2_FIELD_NONE;
	return 0;
}

static int daedalus_buf_prepare(struct vb2_buffer *vb)
{
	struct daedalus_ctx *ctx = vb2_get_drv_priv(vb->vb2_queue);

	if (V4L2_TYPE_IS_OUTPUT(vb->vb2_queue->type))
		return 0;
	if (vb2_plane_size(vb, 0) < daedalus_front_cap_sizeimage(&ctx->front))
		return -EINVAL;
	return 0;
}

static void daedalus_buf_queue(struct vb2_buffer *vb)
{
	struct daedalus_ctx *ctx = vb2_get_drv_priv(vb->vb2_queue);

	v4l2_m2m_buf_queue(ctx->fh.m2m_ctx, to_vb2_v4l2_buffer(vb));
}

static int daedalus_start_streaming(struct vb2_queue *q, unsigned int count)
{
	struct daedalus_ctx *ctx = vb2_get_drv_priv(q);
	const struct daedalus_fmt *codec, *table;
	size_t n;

	table = daedalus_out_table(ctx, &n);
	spin_lock(&ctx->lock);
	codec = daedalus_find_fmt(table, n, ctx->out_fmt.pixelformat, ~0u);
	spin_unlock(&ctx->lock);
	return daedalus_front_start_streaming(&ctx->front,
					      V4L2_TYPE_IS_OUTPUT(q->type),
					      codec->code);
}

static void daedalus_stop_streaming(struct vb2_queue *q)
{
	struct daedalus_ctx *ctx = vb2_get_drv_priv(q);

	daedalus_front_stop_streaming(&ctx->front, V4L2_TYPE_IS_OUTPUT(q->type));
}

static const struct vb2_ops daedalus_qops = {
	.queue_setup		= daedalus_queue_setup,
	.buf_out_validate	= daedalus_buf_out_validate,
	.buf_prepare		= daedalus_buf_prepare,
	.buf_queue		= daedalus_buf_queue,
	.start_streaming	= daedalus_start_streaming,
	.stop_streaming		= daedalus_stop_streaming,
	.buf_request_complete	= daedalus_sdec_buf_request_complete,
};

static int daedalus_queue_init(void *priv, struct vb2_queue *src_vq,
			       struct vb2_queue *dst_vq)
{
	struct daedalus_ctx *ctx = priv;
	int ret;

	src_vq->type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	src_vq->io_modes = VB2_MMAP | VB2_DMABUF;
	src_vq->drv_priv = ctx;
	src_vq->buf_struct_size = sizeof(struct v4l2_m2m_buffer);
	src_vq->ops = &daedalus_qops;
	src_vq->mem_ops = &vb2_vmalloc_memops;
	src_vq->timestamp_flags = V4L2_BUF_FLAG_TIMESTAMP_COPY;
	src_vq->lock = &ctx->vb_mutex;
	src_vq->dev = ctx->dev->v4l2_dev.dev;
	/* A stateless decoder's OUTPUT buffer is always part of a request. */
	src_vq->supports_requests = ctx->stateless;
	src_vq->requires_requests = ctx->stateless;
	ret = vb2_queue_init(src_vq);
	if (ret)
		return ret;

	dst_vq->type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	dst_vq->io_modes = VB2_MMAP | VB2_DMABUF;
	dst_vq->drv_priv = ctx;
	dst_vq->buf_struct_size = sizeof(struct v4l2_m2m_buffer);
	dst_vq->ops = &daedalus_qops;
	dst_vq->mem_ops = &vb2_vmalloc_memops;
	dst_vq->timestamp_flags = V4L2_BUF_FLAG_TIMESTAMP_COPY;
	dst_vq->lock = &ctx->vb_mutex;
	dst_vq->dev = ctx->dev->v4l2_dev.dev;
	dst_vq->max_num_buffers = DAEDALUS_MAX_CAPTURE_BUFS;
	return vb2_queue_init(dst_vq);
}

static int daedalus_g_volatile_ctrl(struct v4l2_ctrl *ctrl)
{
	struct daedalus_ctx *ctx = container_of(ctrl->handler,
						struct daedalus_ctx, hdl);

	if (ctrl->id != V4L2_CID_MIN_BUFFERS_FOR_CAPTURE)
		return -EINVAL;
	ctrl->val = daedalus_front_min_buffers(&ctx->front);
	return 0;
}

static const struct v4l2_ctrl_ops daedalus_ctrl_ops = {
	.g_volatile_ctrl	= daedalus_g_volatile_ctrl,
};

/* Contexts. */

/**
 * daedalus_ctx_create() - a decoder context without a file
 * @dev:	the device
 *
 * The body of open(); KUnit suites call it directly. The context is on
 * dev->ctx_list (daemon messages can find it) but not on the video node's
 * file handle list.
 *
 * Return: the context or an ERR_PTR.
 */
struct daedalus_ctx *daedalus_ctx_create(struct daedalus_dev *dev)
{
	return daedalus_ctx_create_kind(dev, false);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_ctx_create);

/* The stateful node's control: V4L2_CID_MIN_BUFFERS_FOR_CAPTURE. */
static int daedalus_ctrls_init(struct daedalus_ctx *ctx)
{
	struct v4l2_ctrl *ctrl;

	v4l2_ctrl_handler_init(&ctx->hdl, 1);
	ctrl = v4l2_ctrl_new_std(&ctx->hdl, &daedalus_ctrl_ops,
				 V4L2_CID_MIN_BUFFERS_FOR_CAPTURE, 1,
				 DAEDALUS_MAX_CAPTURE_BUFS, 1, 4);
	if (ctrl)
		ctrl->flags |= V4L2_CTRL_FLAG_VOLATILE;
	ctx->min_bufs_ctrl = ctrl;
	return ctx->hdl.error;
}

/**
 * daedalus_ctx_create_kind() - a decoder context of either node
 * @dev:	the device
 * @stateless:	a context of the stateless node, else the stateful one's
 *
 * Return: the context or an ERR_PTR.
 */
struct daedalus_ctx *daedalus_ctx_create_kind(struct daedalus_dev *dev,
					      bool stateless)
{
	const struct daedalus_fmt *table;
	struct daedalus_ctx *ctx;
	size_t n;
	u32 id;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return ERR_PTR(-ENOMEM);
	ctx->dev = dev;
	ctx->stateless = stateless;
	mutex_init(&ctx->vb_mutex);
	spin_lock_init(&ctx->lock);
	daedalus_front_init(&ctx->front, &dev->fdev, &ctx->jctx,
			    &daedalus_front_ops, ctx);
	if (stateless)
		daedalus_front_set_stateless(&ctx->front);
	INIT_LIST_HEAD(&ctx->node);
	v4l2_fh_init(&ctx->fh, stateless ? &dev->sl_vfd : &dev->vfd);

	ret = stateless ? daedalus_sdec_ctx_init(ctx) : daedalus_ctrls_init(ctx);
	if (ret)
		goto err_hdl;
	ctx->fh.ctrl_handler = &ctx->hdl;

	table = daedalus_out_table(ctx, &n);
	daedalus_fill_out(&ctx->out_fmt, table[0].fourcc, DAEDALUS_DEF_WIDTH,
			  DAEDALUS_DEF_HEIGHT, 0);
	ctx->colorimetry.colorspace = V4L2_COLORSPACE_REC709;

	ctx->fh.m2m_ctx = v4l2_m2m_ctx_init(dev->m2m_dev, ctx,
					    daedalus_queue_init);
	if (IS_ERR(ctx->fh.m2m_ctx)) {
		ret = PTR_ERR(ctx->fh.m2m_ctx);
		goto err_hdl;
	}
	/* Capture-only jobs (drain) need no OUTPUT buffer: job_ready decides. */
	v4l2_m2m_set_src_buffered(ctx->fh.m2m_ctx, true);

	/* Opens are unlimited (V4L2 rule); sessions are counted at STREAMON. */
	mutex_lock(&dev->ctx_lock);
	do {
		id = dev->next_ctx_id++;
	} while (!id || daedalus_ctx_find(dev, id));
	daedalus_job_ctx_init(&ctx->jctx, &dev->core, ctx->fh.m2m_ctx, id);
	list_add_tail(&ctx->node, &dev->ctx_list);
	dev->nr_ctx++;
	mutex_unlock(&dev->ctx_lock);
	return ctx;

err_hdl:
	v4l2_ctrl_handler_free(&ctx->hdl);
	daedalus_sdec_ctx_free(ctx);
	v4l2_fh_exit(&ctx->fh);
	daedalus_front_destroy(&ctx->front);
	mutex_destroy(&ctx->vb_mutex);
	kfree(ctx);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_ctx_create_kind);

/**
 * daedalus_ctx_destroy() - end a context created by daedalus_ctx_create()
 * @ctx:	the context; freed on return
 *
 * Stops both queues (every buffer comes back), closes the daemon session.
 */
void daedalus_ctx_destroy(struct daedalus_ctx *ctx)
{
	struct daedalus_dev *dev = ctx->dev;

	mutex_lock(&dev->ctx_lock);
	list_del(&ctx->node);
	dev->nr_ctx--;
	mutex_unlock(&dev->ctx_lock);

	daedalus_front_closing(&ctx->front);
	mutex_lock(&ctx->vb_mutex);
	v4l2_m2m_ctx_release(ctx->fh.m2m_ctx);
	mutex_unlock(&ctx->vb_mutex);
	/* Nothing of this context may stay in the core once it is freed. */
	daedalus_front_release(&ctx->front);
	/* Its unread requests (REQ_SESSION_CLOSE among them) outlive it. */
	daedalus_outq_forget(&dev->daemon.outq, &ctx->jctx.out);

	v4l2_ctrl_handler_free(&ctx->hdl);
	daedalus_sdec_ctx_free(ctx);
	v4l2_fh_exit(&ctx->fh);
	daedalus_front_destroy(&ctx->front);
	mutex_destroy(&ctx->vb_mutex);
	kfree(ctx);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_ctx_destroy);

/**
 * daedalus_vdec_kick() - run again the contexts the queue held back
 * @dev:	the device
 *
 * The daemon read a context (or the device) below its share of the
 * request queue. Takes dev->dev_mutex, under which contexts are created
 * and destroyed, so none goes away while it is scheduled.
 */
void daedalus_vdec_kick(struct daedalus_dev *dev)
{
	struct daedalus_ctx *ctx;

	mutex_lock(&dev->dev_mutex);
	list_for_each_entry(ctx, &dev->ctx_list, node)
		v4l2_m2m_try_schedule(ctx->fh.m2m_ctx);
	mutex_unlock(&dev->dev_mutex);
}

static int daedalus_open(struct file *file)
{
	struct daedalus_dev *dev = video_drvdata(file);
	struct daedalus_ctx *ctx;

	if (mutex_lock_interruptible(&dev->dev_mutex))
		return -ERESTARTSYS;
	ctx = daedalus_ctx_create_kind(dev,
				       video_devdata(file) == &dev->sl_vfd);
	if (!IS_ERR(ctx))
		daedalus_fh_add(&ctx->fh, file);
	mutex_unlock(&dev->dev_mutex);
	return PTR_ERR_OR_ZERO(ctx);
}

static int daedalus_release(struct file *file)
{
	struct daedalus_ctx *ctx = daedalus_file_ctx(file);
	struct daedalus_dev *dev = ctx->dev;

	mutex_lock(&dev->dev_mutex);
	daedalus_fh_del(&ctx->fh, file);
	daedalus_ctx_destroy(ctx);
	mutex_unlock(&dev->dev_mutex);
	return 0;
}

static const struct v4l2_file_operations daedalus_fops = {
	.owner		= THIS_MODULE,
	.open		= daedalus_open,
	.release	= daedalus_release,
	.poll		= v4l2_m2m_fop_poll,
	.unlocked_ioctl	= video_ioctl2,
	.mmap		= v4l2_m2m_fop_mmap,
};

static const struct v4l2_ioctl_ops daedalus_ioctl_ops = {
	.vidioc_querycap		= daedalus_querycap,

	.vidioc_enum_fmt_vid_cap	= daedalus_enum_fmt_cap,
	.vidioc_g_fmt_vid_cap_mplane	= daedalus_g_fmt_cap,
	.vidioc_try_fmt_vid_cap_mplane	= daedalus_try_fmt_cap,
	.vidioc_s_fmt_vid_cap_mplane	= daedalus_s_fmt_cap,

	.vidioc_enum_fmt_vid_out	= daedalus_enum_fmt_out,
	.vidioc_g_fmt_vid_out_mplane	= daedalus_g_fmt_out,
	.vidioc_try_fmt_vid_out_mplane	= daedalus_try_fmt_out,
	.vidioc_s_fmt_vid_out_mplane	= daedalus_s_fmt_out,

	.vidioc_enum_framesizes		= daedalus_enum_framesizes,
	.vidioc_g_selection		= daedalus_g_selection,

	.vidioc_reqbufs			= v4l2_m2m_ioctl_reqbufs,
	.vidioc_querybuf		= v4l2_m2m_ioctl_querybuf,
	.vidioc_qbuf			= v4l2_m2m_ioctl_qbuf,
	.vidioc_dqbuf			= v4l2_m2m_ioctl_dqbuf,
	.vidioc_prepare_buf		= v4l2_m2m_ioctl_prepare_buf,
	.vidioc_create_bufs		= v4l2_m2m_ioctl_create_bufs,
	.vidioc_expbuf			= v4l2_m2m_ioctl_expbuf,

	.vidioc_streamon		= v4l2_m2m_ioctl_streamon,
	.vidioc_streamoff		= daedalus_streamoff,

	.vidioc_try_decoder_cmd		= v4l2_m2m_ioctl_try_decoder_cmd,
	.vidioc_decoder_cmd		= daedalus_decoder_cmd,

	.vidioc_subscribe_event		= daedalus_subscribe_event,
	.vidioc_unsubscribe_event	= v4l2_event_unsubscribe,
};

static const struct video_device daedalus_videodev = {
	.name		= DAEDALUS_NAME,
	.vfl_dir	= VFL_DIR_M2M,
	.fops		= &daedalus_fops,
	.ioctl_ops	= &daedalus_ioctl_ops,
	.minor		= -1,
	.release	= video_device_release_empty,
	.device_caps	= V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING,
};

/**
 * daedalus_vdec_init() - set up the two video devices (not registered yet)
 * @dev:	the device
 */
void daedalus_vdec_init(struct daedalus_dev *dev)
{
	struct video_device *nodes[] = { &dev->vfd, &dev->sl_vfd };
	unsigned int i;

	dev->vfd = daedalus_videodev;
	dev->sl_vfd = daedalus_videodev;
	strscpy(dev->sl_vfd.name, DAEDALUS_NAME "-stateless",
		sizeof(dev->sl_vfd.name));
	/* A stateless decoder has no drain: no decoder commands. */
	v4l2_disable_ioctl(&dev->sl_vfd, VIDIOC_DECODER_CMD);
	v4l2_disable_ioctl(&dev->sl_vfd, VIDIOC_TRY_DECODER_CMD);
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		nodes[i]->lock = &dev->dev_mutex;
		nodes[i]->v4l2_dev = &dev->v4l2_dev;
		/* A bare test instance queues events on unregistered nodes. */
		spin_lock_init(&nodes[i]->fh_lock);
		INIT_LIST_HEAD(&nodes[i]->fh_list);
		video_set_drvdata(nodes[i], dev);
	}
}

/**
 * daedalus_vdec_register() - register /dev/videoN
 * @dev:	the device, after daedalus_vdec_init()
 *
 * Return: 0 or a negative errno.
 */
int daedalus_vdec_register(struct daedalus_dev *dev)
{
	int ret;

	ret = video_register_device(&dev->vfd, VFL_TYPE_VIDEO, -1);
	if (ret)
		return ret;
	v4l2_info(&dev->v4l2_dev, "decoder at /dev/video%d\n", dev->vfd.num);
	return 0;
}

/**
 * daedalus_vdec_unregister() - remove /dev/videoN
 * @dev:	the device
 */
void daedalus_vdec_unregister(struct daedalus_dev *dev)
{
	video_unregister_device(&dev->vfd);
}
