// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus stateless node: what a stateless (Request API) H.264 decoder
 * adds to the V4L2 glue of daedalus_vdec.c, per
 * Documentation/userspace-api/media/v4l/dev-stateless-decoder.rst: the
 * codec controls, the request's validation, the controls' copy into each
 * REQ_DECODE (struct daedalus_h264_slice) and the node's media entities.
 *
 * A context of this node runs the same front (daedalus_front.c, in its
 * stateless mode) and the same job core as a stateful one: device_run
 * applies the request of the next OUTPUT buffer to the context's controls
 * and copies them for the daemon; the request's controls complete when its
 * OUTPUT buffer is done, and the request with them.
 */

#include <kunit/visibility.h>
#include <linux/slab.h>
#include <media/media-device.h>
#include <media/media-entity.h>
#include <media/media-request.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus.h"

/**
 * struct daedalus_sl - a stateless context's request, as the daemon gets it
 * @req:	the REQ_DECODE body, filled by send_decode
 * @controls:	the controls of the request device_run is running
 *
 * One buffer, so the body and the controls go out as one body.
 */
struct daedalus_sl {
	struct daedalus_req_decode req;
	struct daedalus_h264_slice controls;
};

static_assert(sizeof(struct daedalus_sl) ==
	      sizeof(struct daedalus_req_decode) +
	      sizeof(struct daedalus_h264_slice));

/* The controls a request carries, in the order ctx->sl_ctrls keeps them. */
enum {
	DAEDALUS_SL_SPS,
	DAEDALUS_SL_PPS,
	DAEDALUS_SL_MATRIX,
	DAEDALUS_SL_PARAMS,
	DAEDALUS_SL_MODE,
	DAEDALUS_SL_START_CODE,
};

static_assert(DAEDALUS_SL_START_CODE + 1 == DAEDALUS_SL_NCTRLS);

static int daedalus_sl_try_ctrl(struct v4l2_ctrl *ctrl)
{
	const struct v4l2_ctrl_h264_sps *sps = ctrl->p_new.p_h264_sps;

	if (ctrl->id != V4L2_CID_STATELESS_H264_SPS)
		return 0;
	/*
	 * What daedalusd lays out in a CAPTURE buffer: 4:2:0 (or 4:0:0) at
	 * 8 bits. Nothing here depends on the attached daemon, so a request
	 * validated when queued applies as validated at device_run; the
	 * size is the OUTPUT format's, clamped to the daemon's.
	 */
	if (sps->chroma_format_idc > 1 || sps->bit_depth_luma_minus8 ||
	    sps->bit_depth_chroma_minus8)
		return -EINVAL;
	return 0;
}

static const struct v4l2_ctrl_ops daedalus_sl_ctrl_ops = {
	.try_ctrl	= daedalus_sl_try_ctrl,
};

static const struct v4l2_ctrl_config daedalus_sl_ctrls[DAEDALUS_SL_NCTRLS] = {
	[DAEDALUS_SL_SPS] = {
		.id	= V4L2_CID_STATELESS_H264_SPS,
		.ops	= &daedalus_sl_ctrl_ops,
	},
	[DAEDALUS_SL_PPS] = {
		.id	= V4L2_CID_STATELESS_H264_PPS,
	},
	[DAEDALUS_SL_MATRIX] = {
		.id	= V4L2_CID_STATELESS_H264_SCALING_MATRIX,
	},
	[DAEDALUS_SL_PARAMS] = {
		.id	= V4L2_CID_STATELESS_H264_DECODE_PARAMS,
	},
	[DAEDALUS_SL_MODE] = {
		.id	= V4L2_CID_STATELESS_H264_DECODE_MODE,
		.min	= V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
		.max	= V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
		.def	= V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
	},
	[DAEDALUS_SL_START_CODE] = {
		.id	= V4L2_CID_STATELESS_H264_START_CODE,
		.min	= V4L2_STATELESS_H264_START_CODE_ANNEX_B,
		.max	= V4L2_STATELESS_H264_START_CODE_ANNEX_B,
		.def	= V4L2_STATELESS_H264_START_CODE_ANNEX_B,
	},
};

/**
 * daedalus_sdec_ctx_init() - a stateless context's controls and buffers
 * @ctx:	the context, its handler not initialised yet
 *
 * Return: 0, -EOPNOTSUPP on a big-endian machine, or another negative
 * errno; the caller frees the handler and daedalus_sdec_ctx_free() either
 * way.
 */
int daedalus_sdec_ctx_init(struct daedalus_ctx *ctx)
{
	unsigned int i;

	/* The controls go to the daemon in their uapi layout, little-endian. */
	if (IS_ENABLED(CONFIG_CPU_BIG_ENDIAN))
		return -EOPNOTSUPP;
	ctx->sl = kzalloc(sizeof(*ctx->sl), GFP_KERNEL);
	if (!ctx->sl)
		return -ENOMEM;
	v4l2_ctrl_handler_init(&ctx->hdl, DAEDALUS_SL_NCTRLS);
	for (i = 0; i < DAEDALUS_SL_NCTRLS; i++)
		ctx->sl_ctrls[i] = v4l2_ctrl_new_custom(&ctx->hdl,
							&daedalus_sl_ctrls[i],
							NULL);
	return ctx->hdl.error;
}

/**
 * daedalus_sdec_ctx_free() - what daedalus_sdec_ctx_init() allocated
 * @ctx:	the context
 */
void daedalus_sdec_ctx_free(struct daedalus_ctx *ctx)
{
	kfree(ctx->sl);
	ctx->sl = NULL;
}

/**
 * daedalus_sdec_prepare() - device_run's first step on a stateless context
 * @ctx:	the context m2m runs
 *
 * Applies the request of the next OUTPUT buffer to the context's controls
 * and copies them (with the OUTPUT format's size) for the REQ_DECODE that
 * follows. The request's controls complete when its buffer is done
 * (daedalus_sdec_src_done()): the job core may not take the buffer now
 * (the context failed, a job is running, the queue is full), and then
 * the next device_run applies the same request again.
 */
void daedalus_sdec_prepare(struct daedalus_ctx *ctx)
{
	struct daedalus_h264_slice *c = &ctx->sl->controls;
	struct vb2_v4l2_buffer *src;
	struct media_request *req;

	src = v4l2_m2m_next_src_buf(ctx->fh.m2m_ctx);
	if (!src)
		return;
	req = src->vb2_buf.req_obj.req;
	if (req)
		v4l2_ctrl_request_setup(req, &ctx->hdl);

	memset(c, 0, sizeof(*c));
	spin_lock(&ctx->lock);
	c->width = cpu_to_le32(ctx->out_fmt.width);
	c->height = cpu_to_le32(ctx->out_fmt.height);
	spin_unlock(&ctx->lock);
	/* The uapi layouts, little-endian (see daedalus_sdec_ctx_init()). */
	v4l2_ctrl_lock(ctx->sl_ctrls[DAEDALUS_SL_SPS]);
	memcpy(&c->sps, ctx->sl_ctrls[DAEDALUS_SL_SPS]->p_cur.p,
	       sizeof(c->sps));
	memcpy(&c->pps, ctx->sl_ctrls[DAEDALUS_SL_PPS]->p_cur.p,
	       sizeof(c->pps));
	memcpy(&c->scaling_matrix, ctx->sl_ctrls[DAEDALUS_SL_MATRIX]->p_cur.p,
	       sizeof(c->scaling_matrix));
	memcpy(&c->decode_params, ctx->sl_ctrls[DAEDALUS_SL_PARAMS]->p_cur.p,
	       sizeof(c->decode_params));
	v4l2_ctrl_unlock(ctx->sl_ctrls[DAEDALUS_SL_SPS]);
	/* The matrix is in effect where the PPS says one is present. */
	if (c->pps.flags & V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT)
		c->flags = cpu_to_le32(DAEDALUS_H264_F_SCALING_MATRIX);
	else
		memset(&c->scaling_matrix, 0, sizeof(c->scaling_matrix));
}

/**
 * daedalus_sdec_src_done() - an OUTPUT buffer of a stateless context is
 *	about to be done (not handed back QUEUED)
 * @ctx:	the context
 * @src:	the buffer
 *
 * Completes its request's controls, once: the request completes with the
 * buffer, however the job ended (decoded, failed, cancelled, expired).
 */
void daedalus_sdec_src_done(struct daedalus_ctx *ctx,
			    struct vb2_v4l2_buffer *src)
{
	if (src->vb2_buf.req_obj.req)
		v4l2_ctrl_request_complete(src->vb2_buf.req_obj.req, &ctx->hdl);
}

/**
 * daedalus_sdec_body() - the REQ_DECODE body of a stateless job
 * @ctx:	the context
 * @req:	the encoded struct daedalus_req_decode
 * @len:	set to the body's length
 *
 * Called with the job core's lock held, during the device_run that
 * daedalus_sdec_prepare() began.
 *
 * Return: the body: @req, then the request's controls.
 */
const void *daedalus_sdec_body(struct daedalus_ctx *ctx,
			       const struct daedalus_req_decode *req, u32 *len)
{
	ctx->sl->req = *req;
	*len = sizeof(*ctx->sl);
	return ctx->sl;
}

/**
 * daedalus_sdec_buf_request_complete() - vb2's buf_request_complete
 * @vb:		a buffer vb2 returns without the driver having run it
 */
void daedalus_sdec_buf_request_complete(struct vb2_buffer *vb)
{
	daedalus_sdec_src_done(vb2_get_drv_priv(vb->vb2_queue),
			       to_vb2_v4l2_buffer(vb));
}

/* MEDIA_REQUEST_IOC_QUEUE: the front's count, then vb2's own checks. */
static int daedalus_sdec_request_validate(struct media_request *req)
{
	int ret = daedalus_front_request_buffers(vb2_request_buffer_cnt(req));

	return ret ? ret : vb2_request_validate(req);
}

static const struct media_device_ops daedalus_media_ops = {
	.req_validate	= daedalus_sdec_request_validate,
	.req_queue	= v4l2_m2m_request_queue,
};

/**
 * daedalus_sdec_media_init() - requests on the device's media device
 * @dev:	the device, its media device initialised
 */
void daedalus_sdec_media_init(struct daedalus_dev *dev)
{
	dev->mdev.ops = &daedalus_media_ops;
}

static int daedalus_sdec_entity(struct media_device *mdev,
				struct media_entity *e, const char *suffix,
				u32 function, struct media_pad *pads,
				unsigned int npads, int minor)
{
	int ret;

	e->obj_type = MEDIA_ENTITY_TYPE_BASE;
	e->function = function;
	if (minor >= 0) {
		e->info.dev.major = VIDEO_MAJOR;
		e->info.dev.minor = minor;
	}
	e->name = kasprintf(GFP_KERNEL, "%s-stateless-%s", DAEDALUS_NAME,
			    suffix);
	if (!e->name)
		return -ENOMEM;
	ret = media_entity_pads_init(e, npads, pads);
	if (!ret)
		ret = media_device_register_entity(mdev, e);
	if (ret) {
		kfree(e->name);
		e->name = NULL;
	}
	return ret;
}

static void daedalus_sdec_entity_put(struct media_entity *e)
{
	if (!e->name)
		return;
	media_device_unregister_entity(e);
	kfree(e->name);
	e->name = NULL;
}

/*
 * The topology v4l2_m2m_register_media_controller() gives a node (a
 * source and a sink DMA entity around a decoder entity, both linked to
 * the node's interface), built here because the two nodes share one m2m
 * device, which holds the entities of one node only. Clients of stateless
 * decoders (GStreamer's v4l2codecs, libva-v4l2-request) find the node
 * through it.
 */
static int daedalus_sdec_register_mc(struct daedalus_dev *dev)
{
	struct daedalus_sl_mc *mc = &dev->sl_mc;
	struct media_device *mdev = &dev->mdev;
	struct media_entity *source = &dev->sl_vfd.entity;
	int minor = dev->sl_vfd.minor;
	int ret;

	mc->source_pad.flags = MEDIA_PAD_FL_SOURCE;
	mc->sink_pad.flags = MEDIA_PAD_FL_SINK;
	mc->proc_pads[0].flags = MEDIA_PAD_FL_SINK;
	mc->proc_pads[1].flags = MEDIA_PAD_FL_SOURCE;
	ret = daedalus_sdec_entity(mdev, source, "source", MEDIA_ENT_F_IO_V4L,
				   &mc->source_pad, 1, minor);
	if (!ret)
		ret = daedalus_sdec_entity(mdev, &mc->proc, "proc",
					   MEDIA_ENT_F_PROC_VIDEO_DECODER,
					   mc->proc_pads, 2, -1);
	if (!ret)
		ret = daedalus_sdec_entity(mdev, &mc->sink, "sink",
					   MEDIA_ENT_F_IO_V4L, &mc->sink_pad, 1,
					   minor);
	if (!ret)
		ret = media_create_pad_link(source, 0, &mc->proc, 0,
					    MEDIA_LNK_FL_IMMUTABLE |
					    MEDIA_LNK_FL_ENABLED);
	if (!ret)
		ret = media_create_pad_link(&mc->proc, 1, &mc->sink, 0,
					    MEDIA_LNK_FL_IMMUTABLE |
					    MEDIA_LNK_FL_ENABLED);
	if (ret)
		return ret;
	mc->intf = media_devnode_create(mdev, MEDIA_INTF_T_V4L_VIDEO, 0,
					VIDEO_MAJOR, minor);
	if (!mc->intf)
		return -ENOMEM;
	if (!media_create_intf_link(source, &mc->intf->intf,
				    MEDIA_LNK_FL_IMMUTABLE |
				    MEDIA_LNK_FL_ENABLED) ||
	    !media_create_intf_link(&mc->sink, &mc->intf->intf,
				    MEDIA_LNK_FL_IMMUTABLE |
				    MEDIA_LNK_FL_ENABLED))
		return -ENOMEM;
	return 0;
}

static void daedalus_sdec_unregister_mc(struct daedalus_dev *dev)
{
	struct daedalus_sl_mc *mc = &dev->sl_mc;

	if (mc->intf) {
		media_remove_intf_links(&mc->intf->intf);
		media_devnode_remove(mc->intf);
		mc->intf = NULL;
	}
	media_entity_remove_links(&mc->sink);
	media_entity_remove_links(&mc->proc);
	media_entity_remove_links(&dev->sl_vfd.entity);
	daedalus_sdec_entity_put(&mc->sink);
	daedalus_sdec_entity_put(&mc->proc);
	daedalus_sdec_entity_put(&dev->sl_vfd.entity);
}

/**
 * daedalus_sdec_register() - register the stateless node and its entities
 * @dev:	the device, its media device initialised, not registered yet
 *
 * Return: 0 or a negative errno, nothing left registered.
 */
int daedalus_sdec_register(struct daedalus_dev *dev)
{
	int ret;

	ret = video_register_device(&dev->sl_vfd, VFL_TYPE_VIDEO, -1);
	if (ret)
		return ret;
	ret = daedalus_sdec_register_mc(dev);
	if (ret) {
		daedalus_sdec_unregister_mc(dev);
		video_unregister_device(&dev->sl_vfd);
		return ret;
	}
	v4l2_info(&dev->v4l2_dev, "stateless decoder at /dev/video%d\n",
		  dev->sl_vfd.num);
	return 0;
}

/**
 * daedalus_sdec_unregister() - remove the stateless node
 * @dev:	the device
 */
void daedalus_sdec_unregister(struct daedalus_dev *dev)
{
	daedalus_sdec_unregister_mc(dev);
	video_unregister_device(&dev->sl_vfd);
}
