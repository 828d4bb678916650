// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus front: the stateful decoder's per-context state machine; see
 * daedalus_front.h. Order: helpers, formats, m2m callbacks, the client's
 * streaming and commands, the daemon's messages.
 *
 * This file is compiled unchanged in userspace by the replay tools, against
 * shim headers that mirror exactly these includes:
 *   <asm/byteorder.h> <linux/align.h> <linux/compiler.h> <linux/errno.h>
 *   <linux/lockdep.h> <linux/minmax.h> <linux/videodev2.h>
 *   "daedalus_front.h" "daedalus_trace.h"
 *   (and through daedalus_front.h what the job core's header includes)
 * Everything V4L2 comes through &struct daedalus_front_ops; time is always
 * passed in.
 */

#include <asm/byteorder.h>
#include <linux/align.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/videodev2.h>

#include "daedalus_front.h"
#include "daedalus_trace.h"

static u32 daedalus_front_ctx_id(const struct daedalus_front *f)
{
	return f->jctx->ctx_id;
}

static int daedalus_front_send_pair(struct daedalus_front *f, u16 type,
				    u32 second)
{
	__le32 body[2] = {
		cpu_to_le32(daedalus_front_ctx_id(f)),
		cpu_to_le32(second),
	};

	return f->ops->send(f->priv, type, body, sizeof(body));
}

static void daedalus_front_trace_stream(struct daedalus_front *f, bool output,
					bool on)
{
	trace_daedalus_stream(daedalus_front_ctx_id(f),
			      output ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE :
				       V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, on);
}

/* A one-plane 4:2:0 picture of a coded size, 16-aligned. */
static void daedalus_front_size(struct daedalus_front_fmt *c, u32 width,
				u32 height)
{
	c->width = ALIGN(width, 16);
	c->height = ALIGN(height, 16);
	c->sizeimage = c->width * c->height * 3 / 2;
}

/* The pixel formats the node offers on CAPTURE; the first is the default. */
static u32 daedalus_front_known_pixfmt(u32 pixfmt)
{
	return pixfmt == DAEDALUS_PIXFMT_YUV420 ? pixfmt : DAEDALUS_PIXFMT_NV12;
}

/**
 * daedalus_front_init() - a context's front, before its first STREAMON
 * @f:		zeroed memory
 * @fdev:	the device's shared part
 * @jctx:	the context's job state (initialised later is fine)
 * @ops:	the V4L2 side; must outlive @f
 * @priv:	passed to @ops
 */
void daedalus_front_init(struct daedalus_front *f,
			 struct daedalus_front_dev *fdev,
			 struct daedalus_job_ctx *jctx,
			 const struct daedalus_front_ops *ops, void *priv)
{
	f->fdev = fdev;
	f->jctx = jctx;
	f->ops = ops;
	f->priv = priv;
	spin_lock_init(&f->lock);
	mutex_init(&f->flush_lock);
	f->cap.pixfmt = DAEDALUS_PIXFMT_NV12;
	daedalus_front_size(&f->cap, DAEDALUS_DEF_WIDTH, DAEDALUS_DEF_HEIGHT);
	f->cap.vis_left = 0;
	f->cap.vis_top = 0;
	f->cap.vis_width = DAEDALUS_DEF_WIDTH;
	f->cap.vis_height = DAEDALUS_DEF_HEIGHT;
	f->drain = DAEDALUS_FRONT_DRAIN_NONE;
	f->out_sized = true;
}

/**
 * daedalus_front_set_stateless() - make a new front a stateless decoder's
 * @f:		the front, before its first STREAMON
 *
 * Its jobs all carry a source (job_ready waits for one), STREAMON
 * announces nothing, and a STREAM_INFO for it is refused.
 */
void daedalus_front_set_stateless(struct daedalus_front *f)
{
	spin_lock(&f->lock);
	f->stateless = true;
	spin_unlock(&f->lock);
}

/**
 * daedalus_front_request_buffers() - MEDIA_REQUEST_IOC_QUEUE's buffer count
 * @count:	the buffers in a stateless context's request
 *
 * A request is one picture (dev-stateless-decoder.rst): one OUTPUT buffer.
 *
 * Return: 0, -ENOENT for none, -EINVAL for more.
 */
int daedalus_front_request_buffers(unsigned int count)
{
	if (!count)
		return -ENOENT;
	return count > 1 ? -EINVAL : 0;
}

/**
 * daedalus_front_destroy() - the end of a front
 * @f:		the front, after daedalus_front_release()
 */
void daedalus_front_destroy(struct daedalus_front *f)
{
	mutex_destroy(&f->flush_lock);
}

/* Forget the daemon session; the device's context-list lock held. */
static void daedalus_front_session_closed(struct daedalus_front *f)
	__must_hold(f->fdev->lock)
{
	bool was_open;

	lockdep_assert_held(f->fdev->lock);
	spin_lock(&f->lock);
	was_open = f->session_open;
	f->session_open = false;
	spin_unlock(&f->lock);
	if (was_open)
		f->fdev->sessions--;
}

/*
 * Send REQ_FLUSH once every source queued before DEC_CMD_STOP went out.
 * Serialised so a device_run that claims the last source and one that
 * finds none left cannot both miss (or both send) the flush.
 */
static void daedalus_front_try_flush(struct daedalus_front *f)
{
	bool pending, sent = false;

	mutex_lock(&f->flush_lock);
	spin_lock(&f->lock);
	pending = f->drain == DAEDALUS_FRONT_DRAIN_WAIT;
	spin_unlock(&f->lock);
	if (pending && !daedalus_job_flush(f->jctx)) {
		spin_lock(&f->lock);
		if (f->drain == DAEDALUS_FRONT_DRAIN_WAIT)
			f->drain = DAEDALUS_FRONT_DRAIN_FLUSHED;
		spin_unlock(&f->lock);
		sent = true;
	}
	mutex_unlock(&f->flush_lock);
	if (sent)
		trace_daedalus_drain(daedalus_front_ctx_id(f),
				     DAEDALUS_DRAIN_FLUSH);
}

/* Formats. */

/**
 * daedalus_front_get_cap() - the CAPTURE format, as one snapshot
 * @f:		the front
 * @cap:	filled in
 */
void daedalus_front_get_cap(struct daedalus_front *f,
			    struct daedalus_front_fmt *cap)
{
	spin_lock(&f->lock);
	*cap = f->cap;
	spin_unlock(&f->lock);
}

/**
 * daedalus_front_no_daemon() - the limits while no daemon is attached
 * @l:		set to DAEDALUS_FRONT_NO_DAEMON_*, no flags: what &struct
 *		daedalus_front_ops.limits reports before a RESP_HELLO
 */
void daedalus_front_no_daemon(struct daedalus_front_limits *l)
{
	l->pixfmts = DAEDALUS_FRONT_NO_DAEMON_PIXFMTS;
	l->max_width = DAEDALUS_FRONT_NO_DAEMON_DIM;
	l->max_height = DAEDALUS_FRONT_NO_DAEMON_DIM;
	l->flags = 0;
}

/**
 * daedalus_front_cap_sizeimage() - bytes a CAPTURE buffer must hold
 * @f:		the front
 *
 * Return: the current format's sizeimage (buf_prepare refuses less).
 */
u32 daedalus_front_cap_sizeimage(struct daedalus_front *f)
{
	u32 size;

	spin_lock(&f->lock);
	size = f->cap.sizeimage;
	spin_unlock(&f->lock);
	return size;
}

/**
 * daedalus_front_cap_pixfmts() - CAPTURE pixel formats a client may pick
 * @f:		the front
 *
 * A daemon that takes no REQ_CAPTURE_FMT lays pictures out in the
 * session's pixel format for as long as the session lasts.
 *
 * Return: a DAEDALUS_PIXFMT_BIT() mask.
 */
u32 daedalus_front_cap_pixfmts(struct daedalus_front *f)
{
	struct daedalus_front_limits l;
	u32 pixfmts;

	f->ops->limits(f->priv, &l);
	pixfmts = l.pixfmts;
	spin_lock(&f->lock);
	if (!(l.flags & DAEDALUS_HELLO_F_CAPTURE_FMT) && f->session_open)
		pixfmts &= DAEDALUS_PIXFMT_BIT(f->session_pixfmt);
	spin_unlock(&f->lock);
	return pixfmts;
}

/**
 * daedalus_front_set_cap_pixfmt() - S_FMT(CAPTURE): the client's layout
 * @f:		the front
 * @pixfmt:	enum daedalus_pixfmt; the stream decides the size
 */
void daedalus_front_set_cap_pixfmt(struct daedalus_front *f, u32 pixfmt)
{
	spin_lock(&f->lock);
	f->cap.pixfmt = daedalus_front_known_pixfmt(pixfmt);
	spin_unlock(&f->lock);
}

/**
 * daedalus_front_set_out_size() - S_FMT(OUTPUT)'s size
 * @f:		the front
 * @width:	the coded stream's width, 0 for "parse it from the stream"
 * @height:	likewise
 *
 * Until the daemon's first STREAM_INFO, the CAPTURE format follows it.
 */
void daedalus_front_set_out_size(struct daedalus_front *f, u32 width,
				 u32 height)
{
	spin_lock(&f->lock);
	f->out_sized = width && height;
	if (!f->have_info && width && height) {
		daedalus_front_size(&f->cap, width, height);
		f->cap.vis_left = 0;
		f->cap.vis_top = 0;
		f->cap.vis_width = width;
		f->cap.vis_height = height;
	}
	spin_unlock(&f->lock);
}

/**
 * daedalus_front_cap_count() - the CAPTURE buffers REQBUFS or CREATE_BUFS
 *	allocates (queue_setup)
 * @f:		the front
 * @count:	what vb2 asks for, within the queue's max_num_buffers
 * @have:	buffers the queue has already (none for REQBUFS)
 * @create:	CREATE_BUFS, where no minimum applies
 *
 * The queue's max_num_buffers stays DAEDALUS_MAX_CAPTURE_BUFS (vb2 takes no
 * fewer than VB2_MAX_FRAME), so a core whose limits were shrunk is held to
 * its max_capture_bufs here.
 *
 * Return: @count, for REQBUFS raised to one more than the stream's DPB once
 * it is known; at most the core's max_capture_bufs less @have (0: no room).
 */
u32 daedalus_front_cap_count(struct daedalus_front *f, u32 count, u32 have,
			     bool create)
{
	u32 max = f->jctx->core->max_capture_bufs;

	if (have >= max)
		return 0;
	spin_lock(&f->lock);
	if (f->have_info && !create)
		count = max_t(u32, count, min_t(u32, f->dpb_size + 1, max));
	spin_unlock(&f->lock);
	return min_t(u32, count, max - have);
}

/**
 * daedalus_front_min_buffers() - V4L2_CID_MIN_BUFFERS_FOR_CAPTURE
 * @f:		the front
 *
 * Return: one more than the DPB, within the core's max_capture_bufs (at
 * most the control's own maximum); 4 before the stream says, or fewer
 * when the core takes fewer.
 */
u32 daedalus_front_min_buffers(struct daedalus_front *f)
{
	u32 max = f->jctx->core->max_capture_bufs, val;

	spin_lock(&f->lock);
	val = min_t(u32, f->dpb_size ? f->dpb_size + 1 : 4, max);
	spin_unlock(&f->lock);
	return val;
}

/**
 * daedalus_front_session_open() - whether the context has a daemon session
 * @f:		the front
 *
 * Return: true from REQ_SESSION_OPEN until the session ends.
 */
bool daedalus_front_session_open(struct daedalus_front *f)
{
	bool open;

	spin_lock(&f->lock);
	open = f->session_open;
	spin_unlock(&f->lock);
	return open;
}

/* m2m callbacks. */

/**
 * daedalus_front_job_ready() - the m2m job_ready callback
 * @f:		the front
 * @src_ready:	OUTPUT buffers on the ready list
 * @dst_ready:	CAPTURE buffers on the ready list
 *
 * Called under the m2m job spinlock: flags only, no sleeping locks.
 *
 * Return: whether device_run may be called: a CAPTURE buffer, a free job
 * slot, a live session not stopped, and a source or a flushed drain.
 */
bool daedalus_front_job_ready(struct daedalus_front *f, unsigned int src_ready,
			      unsigned int dst_ready)
	__must_hold(&m2m_dev->job_spinlock)
{
	bool ok;

	if (!daedalus_job_can_run(f->jctx) || !dst_ready)
		return false;
	spin_lock(&f->lock);
	ok = !f->failed && !f->stopped &&
	     (src_ready || (!f->stateless &&
			    f->drain == DAEDALUS_FRONT_DRAIN_FLUSHED));
	spin_unlock(&f->lock);
	return ok;
}

/**
 * daedalus_front_device_run() - the m2m device_run callback
 * @f:		the front
 * @now:	the watchdog's clock
 */
void daedalus_front_device_run(struct daedalus_front *f, u64 now)
{
	bool allow_no_src, stopped, failed;

	spin_lock(&f->lock);
	stopped = f->stopped;
	failed = f->failed;
	allow_no_src = !f->stateless &&
		       f->drain == DAEDALUS_FRONT_DRAIN_FLUSHED;
	spin_unlock(&f->lock);
	/*
	 * Queued before its LAST picture went out or before the daemon left:
	 * a stopped decoder decodes nothing until DEC_CMD_START or STREAMON
	 * (dev-decoder.rst), a failed one nothing until a new session.
	 */
	if (stopped || failed) {
		daedalus_job_pass(f->jctx, failed ? DAEDALUS_FINISH_ABORT :
						    DAEDALUS_FINISH_IDLE);
		return;
	}
	daedalus_job_run(f->jctx, allow_no_src, now);
	daedalus_front_try_flush(f);
}

/* The client's streaming and commands. */

static int daedalus_front_open_session(struct daedalus_front *f, u32 codec)
{
	struct daedalus_front_dev *fdev = f->fdev;
	struct daedalus_req_session_open req;
	u32 pixfmt;
	int ret;

	spin_lock(&f->lock);
	pixfmt = f->cap.pixfmt;
	req = (struct daedalus_req_session_open) {
		.ctx_id	= cpu_to_le32(daedalus_front_ctx_id(f)),
		.codec	= cpu_to_le32(codec),
		.pixfmt	= cpu_to_le32(pixfmt),
		.width	= cpu_to_le32(f->cap.vis_width),
		.height	= cpu_to_le32(f->cap.vis_height),
	};
	spin_unlock(&f->lock);
	f->jctx->codec = codec;

	/* The in-flight table is sized for the core's max_contexts sessions. */
	mutex_lock(fdev->lock);
	if (fdev->sessions >= f->jctx->core->max_contexts) {
		ret = -EBUSY;
		goto out;
	}
	ret = f->ops->send(f->priv, DAEDALUS_REQ_SESSION_OPEN, &req,
			   sizeof(req));
	if (ret)
		goto out;
	fdev->sessions++;
	spin_lock(&f->lock);
	f->session_open = true;
	f->session_pixfmt = pixfmt;
	spin_unlock(&f->lock);
out:
	mutex_unlock(fdev->lock);
	return ret;
}

/*
 * CAPTURE streams on: tell a daemon that takes it which pixel format the
 * client set CAPTURE up with (it may have changed it since the session
 * opened, after a SOURCE_CHANGE), before any job hands it a new buffer.
 */
static void daedalus_front_send_capture_fmt(struct daedalus_front *f)
{
	struct daedalus_front_limits l;
	u32 pixfmt;

	f->ops->limits(f->priv, &l);
	if (!(l.flags & DAEDALUS_HELLO_F_CAPTURE_FMT))
		return;
	spin_lock(&f->lock);
	pixfmt = f->cap.pixfmt;
	spin_unlock(&f->lock);
	if (!daedalus_front_send_pair(f, DAEDALUS_REQ_CAPTURE_FMT, pixfmt)) {
		spin_lock(&f->lock);
		f->session_pixfmt = pixfmt;
		spin_unlock(&f->lock);
	}
}

/**
 * daedalus_front_start_streaming() - vb2 start_streaming of either queue
 * @f:		the front
 * @output:	OUTPUT, else CAPTURE
 * @codec:	enum daedalus_codec of the OUTPUT format
 *
 * STREAMON(OUTPUT) opens the daemon session if there is none; either
 * queue leaves the stopped and failed states.
 *
 * Return: 0, or a negative errno, the ready OUTPUT buffers handed back
 * QUEUED: -EIO without a daemon, -EBUSY with every session taken.
 */
int daedalus_front_start_streaming(struct daedalus_front *f, bool output,
				   u32 codec)
{
	bool open, provisional, cap_streaming;
	int ret;

	spin_lock(&f->lock);
	open = f->session_open;
	spin_unlock(&f->lock);
	if (output && !open) {
		ret = daedalus_front_open_session(f, codec);
		if (ret) {
			f->ops->return_ready(f->priv, true, false);
			return ret == -ENOTCONN ? -EIO : ret;
		}
	}
	if (!output && open)
		daedalus_front_send_capture_fmt(f);
	cap_streaming = f->ops->streaming(f->priv, false);
	/* A new stream after a drain: DQBUF(CAPTURE) works again. */
	if (output)
		f->ops->clear_last(f->priv);
	spin_lock(&f->lock);
	/*
	 * No job runs without a CAPTURE buffer, so a client that waits for
	 * SOURCE_CHANGE before setting CAPTURE up would wait forever: announce
	 * the format S_FMT(OUTPUT) implies; the daemon's STREAM_INFO confirms
	 * it silently or changes it with a second event.
	 */
	provisional = output && !f->have_info && f->out_sized &&
		      !cap_streaming && !f->stateless;
	if (output) {
		f->jctx->src_sequence = 0;
		f->drain = DAEDALUS_FRONT_DRAIN_NONE;
	} else {
		f->jctx->dst_sequence = 0;
	}
	f->stopped = false;
	/*
	 * A failed context recovers with a new session, which only
	 * STREAMON(OUTPUT) opens: CAPTURE alone would send jobs for the
	 * session the daemon dropped.
	 */
	if (output || open)
		f->failed = false;
	/* A change whose LAST never came (CAPTURE was set up anew). */
	f->change_pending = false;
	spin_unlock(&f->lock);
	daedalus_job_resume(f->jctx);
	daedalus_front_trace_stream(f, output, true);
	if (provisional)
		f->ops->event(f->priv, DAEDALUS_FRONT_EV_SOURCE_CHANGE);
	return 0;
}

/**
 * daedalus_front_stop_streaming() - vb2 stop_streaming of either queue
 * @f:		the front
 * @output:	OUTPUT, else CAPTURE
 */
void daedalus_front_stop_streaming(struct daedalus_front *f, bool output)
{
	bool was_draining, open;
	u32 gen;

	spin_lock(&f->lock);
	open = f->session_open && !f->closing;
	spin_unlock(&f->lock);

	if (output) {
		/*
		 * Seek or stop: every buffer of the context comes back, then
		 * the decoder starts over with a new generation.
		 */
		gen = daedalus_job_reset(f->jctx);
		if (open)
			daedalus_front_send_pair(f, DAEDALUS_REQ_RESET, gen);
	} else {
		/*
		 * CAPTURE alone (reallocation after SOURCE_CHANGE, or stopped
		 * by the client): the CAPTURE buffers come back, the decoder
		 * keeps its state (dev-decoder.rst, Decoding -> Stopped) and
		 * resumes on STREAMON into the buffers queued then.
		 */
		daedalus_job_cancel(f->jctx);
		if (open)
			daedalus_front_send_pair(f, DAEDALUS_REQ_CAPTURE_OFF,
						 READ_ONCE(f->jctx->stream_gen));
	}
	f->ops->return_ready(f->priv, output, true);

	spin_lock(&f->lock);
	was_draining = f->drain != DAEDALUS_FRONT_DRAIN_NONE;
	if (output)
		f->drain = DAEDALUS_FRONT_DRAIN_NONE;
	spin_unlock(&f->lock);
	if (output && was_draining)
		trace_daedalus_drain(daedalus_front_ctx_id(f),
				     DAEDALUS_DRAIN_ABANDON);
	daedalus_front_trace_stream(f, output, false);
}

/**
 * daedalus_front_streamoff() - after v4l2_m2m_streamoff()
 * @f:		the front
 *
 * The job core refused jobs since job_abort; the m2m side is idle now.
 */
void daedalus_front_streamoff(struct daedalus_front *f)
{
	daedalus_job_resume(f->jctx);
}

/**
 * daedalus_front_decoder_cmd() - V4L2_DEC_CMD_STOP/START after validation
 * @f:		the front
 * @cmd:	DAEDALUS_FRONT_CMD_START or DAEDALUS_FRONT_CMD_STOP
 *
 * STOP starts a drain: REQ_FLUSH goes out after the last queued source,
 * capture-only jobs hand the daemon buffers for the remaining pictures,
 * and the LAST picture raises EOS. START leaves the stopped state.
 *
 * Return: 0, or -EINVAL for another command or a stateless decoder.
 */
int daedalus_front_decoder_cmd(struct daedalus_front *f, u32 cmd)
{
	u32 ctx_id = daedalus_front_ctx_id(f);
	bool eos_now = false;

	/* A stateless decoder has nothing inside it to drain. */
	if (READ_ONCE(f->stateless))
		return -EINVAL;
	if (cmd == DAEDALUS_FRONT_CMD_START) {
		spin_lock(&f->lock);
		f->stopped = false;
		f->drain = DAEDALUS_FRONT_DRAIN_NONE;
		spin_unlock(&f->lock);
		f->ops->clear_last(f->priv);
		trace_daedalus_drain(ctx_id, DAEDALUS_DRAIN_RESTART);
		f->ops->try_schedule(f->priv);
		return 0;
	}
	if (cmd != DAEDALUS_FRONT_CMD_STOP)
		return -EINVAL;

	/* Nothing to drain before OUTPUT streams. */
	if (!f->ops->streaming(f->priv, true))
		return 0;
	spin_lock(&f->lock);
	if (f->drain != DAEDALUS_FRONT_DRAIN_NONE) {
		spin_unlock(&f->lock);
		return 0;
	}
	if (f->stopped)
		eos_now = true;
	else
		f->drain = DAEDALUS_FRONT_DRAIN_WAIT;
	spin_unlock(&f->lock);
	if (eos_now) {
		f->ops->event(f->priv, DAEDALUS_FRONT_EV_EOS);
		return 0;
	}
	trace_daedalus_drain(ctx_id, DAEDALUS_DRAIN_START);
	daedalus_front_try_flush(f);
	f->ops->try_schedule(f->priv);
	return 0;
}

/**
 * daedalus_front_closing() - the context is about to release its queues
 * @f:		the front
 *
 * Stopping them sends no REQ_RESET or REQ_CAPTURE_OFF:
 * daedalus_front_release() closes the session instead.
 */
void daedalus_front_closing(struct daedalus_front *f)
{
	spin_lock(&f->lock);
	f->closing = true;
	spin_unlock(&f->lock);
}

/**
 * daedalus_front_release() - the context's queues are released
 * @f:		the front
 *
 * Nothing of the context stays in the job core; its session, if any, is
 * closed with REQ_SESSION_CLOSE. Takes the device's context-list lock.
 */
void daedalus_front_release(struct daedalus_front *f)
{
	bool open;

	daedalus_job_cancel(f->jctx);
	mutex_lock(f->fdev->lock);
	open = daedalus_front_session_open(f);
	daedalus_front_session_closed(f);
	mutex_unlock(f->fdev->lock);
	if (open)
		daedalus_front_send_pair(f, DAEDALUS_REQ_SESSION_CLOSE, 0);
}

/* The daemon's messages and the job core. */

/**
 * daedalus_front_stream_info() - the daemon found the stream's format
 * @f:		the front (the device's context-list lock held)
 * @si:		validated RESP_STREAM_INFO
 *
 * Updates the CAPTURE format and raises SOURCE_CHANGE, unless it only
 * confirms the format the CAPTURE queue is set up for.
 *
 * Return: 0, or -EINVAL, changing nothing, for a stateless decoder, or for
 * a pixel format or a coded size beyond what the daemon announced in
 * RESP_HELLO: CAPTURE buffers
 * are never sized for more than the daemon decodes (nor a REQ_DECODE made
 * larger than DAEDALUS_MAX_PAYLOAD allows).
 */
int daedalus_front_stream_info(struct daedalus_front *f,
			       const struct daedalus_msg_stream_info *si)
	__must_hold(f->fdev->lock)
{
	struct daedalus_front_limits l;
	struct daedalus_front_fmt c;
	bool confirmed;

	lockdep_assert_held(f->fdev->lock);
	/* The client of a stateless decoder sets the format from its SPS. */
	if (READ_ONCE(f->stateless))
		return -EINVAL;
	f->ops->limits(f->priv, &l);
	if (si->pixfmt > 31 || !(l.pixfmts & DAEDALUS_PIXFMT_BIT(si->pixfmt)) ||
	    si->coded_width > l.max_width || si->coded_height > l.max_height)
		return -EINVAL;

	c.pixfmt = daedalus_front_known_pixfmt(si->pixfmt);
	daedalus_front_size(&c, si->coded_width, si->coded_height);
	c.vis_left = si->visible_left;
	c.vis_top = si->visible_top;
	c.vis_width = si->visible_width;
	c.vis_height = si->visible_height;

	/*
	 * Confirmed: the CAPTURE format the client set up for (announced at
	 * STREAMON, or the stream's before a seek) fits, and a known DPB did
	 * not grow; anything else is a source change. The daemon sends a
	 * change's STREAM_INFO before the LAST that ends the pictures of the
	 * old format (dev-decoder.rst: the event first), so the client hears
	 * of it before it dequeues that LAST.
	 */
	spin_lock(&f->lock);
	confirmed = !f->stopped &&
		    !(f->have_info && si->dpb_size > f->dpb_size) &&
		    f->cap.pixfmt == c.pixfmt &&
		    f->cap.width == c.width && f->cap.height == c.height &&
		    !si->visible_left && !si->visible_top &&
		    f->cap.vis_width == si->visible_width &&
		    f->cap.vis_height == si->visible_height;
	f->cap = c;
	f->dpb_size = si->dpb_size;
	f->have_info = true;
	f->jctx->dst_min_size = c.sizeimage;
	if (!confirmed)
		f->change_pending = true;
	spin_unlock(&f->lock);
	trace_daedalus_stream_info(daedalus_front_ctx_id(f), si->visible_width,
				   si->visible_height, si->dpb_size,
				   !confirmed);
	if (!confirmed)
		f->ops->event(f->priv, DAEDALUS_FRONT_EV_SOURCE_CHANGE);
	return 0;
}

/**
 * daedalus_front_session_error() - the daemon gave up on the session
 * @f:		the front (the device's context-list lock held)
 *
 * The daemon forgot the session: the next STREAMON opens a new one.
 */
void daedalus_front_session_error(struct daedalus_front *f)
	__must_hold(f->fdev->lock)
{
	spin_lock(&f->lock);
	f->failed = true;
	spin_unlock(&f->lock);
	daedalus_front_session_closed(f);
	daedalus_job_cancel(f->jctx);
	/*
	 * v4l2-mem2mem runs a context already on its job queue without asking
	 * job_ready again: until STREAMON resumes it, its device_run claims
	 * nothing and finishes at once, rather than sending REQ_DECODE for the
	 * session the daemon dropped and holding the device until the watchdog.
	 */
	daedalus_job_abort(f->jctx);
	f->ops->queue_error(f->priv);
}

/**
 * daedalus_front_daemon_gone() - the daemon detached
 * @f:		the front (the device's context-list lock held)
 *
 * The session is gone; a streaming context fails (its queues in error)
 * until STREAMON. The caller cancels the jobs.
 */
void daedalus_front_daemon_gone(struct daedalus_front *f)
	__must_hold(f->fdev->lock)
{
	bool streaming;

	streaming = f->ops->streaming(f->priv, true) ||
		    f->ops->streaming(f->priv, false);
	daedalus_front_session_closed(f);
	spin_lock(&f->lock);
	if (streaming)
		f->failed = true;
	spin_unlock(&f->lock);
	if (streaming)
		f->ops->queue_error(f->priv);
}

/**
 * daedalus_front_last() - a LAST picture is going to the client
 * @f:		the front (job core lock held: flags and events only)
 *
 * Called before the LAST buffer is done, so a drain's EOS is pending by
 * the time poll() can see the buffer.
 *
 * Ends the pictures before a resolution change (after its STREAM_INFO) or
 * a drain (EOS event); either way no job runs until DEC_CMD_START or
 * CAPTURE STREAMON. A drain interrupted by a resolution change goes on
 * after it: its pictures of the new format, then its own LAST.
 */
void daedalus_front_last(struct daedalus_front *f)
	__must_hold(&f->jctx->core->lock)
{
	bool was_draining;

	lockdep_assert_held(&f->jctx->core->lock);
	spin_lock(&f->lock);
	was_draining = f->drain != DAEDALUS_FRONT_DRAIN_NONE &&
		       !f->change_pending;
	if (!f->change_pending)
		f->drain = DAEDALUS_FRONT_DRAIN_NONE;
	f->change_pending = false;
	f->stopped = true;
	spin_unlock(&f->lock);
	trace_daedalus_drain(daedalus_front_ctx_id(f), DAEDALUS_DRAIN_LAST);
	if (was_draining)
		f->ops->event(f->priv, DAEDALUS_FRONT_EV_EOS);
}
