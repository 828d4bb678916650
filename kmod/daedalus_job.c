// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus job core: cookies, the in-flight table, and the claim / park /
 * complete lifecycle of every buffer a decode job holds.
 *
 * Ownership rule (docs and oracles call it invariant 1-4): a buffer handed
 * to the driver is on its m2m ready queue, or held by exactly one slot of
 * the in-flight table, or done. Every path that ends a job goes through
 * daedalus_job_put_src()/daedalus_job_put_dst()/daedalus_job_end(), so each
 * claimed buffer gets one buf_done and each device_run one job_finish.
 *
 * This file is compiled unchanged in userspace by the replay tools, against
 * shim headers that mirror exactly these includes:
 *   <linux/compiler.h> <linux/errno.h> <linux/mutex.h> <linux/string.h>
 *   <linux/types.h> <media/v4l2-mem2mem.h> <media/videobuf2-v4l2.h>
 *   "daedalus_job.h" "daedalus_msg.h" "daedalus_trace.h"
 *   (and <uapi/linux/daedalus.h> through daedalus_msg.h)
 * Everything else comes through &struct daedalus_job_ops; time is always
 * passed in.
 */

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/types.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus_job.h"
#include "daedalus_msg.h"
#include "daedalus_trace.h"

/*
 * Source flags a picture inherits from the source that produced it: those
 * v4l2_m2m_buf_copy_metadata() copies (the timestamp source travels with
 * the copied timestamp, buffer.rst: V4L2_BUF_FLAG_TIMESTAMP_COPY).
 */
#define DAEDALUS_META_FLAGS	(V4L2_BUF_FLAG_TIMECODE | \
				 V4L2_BUF_FLAG_TSTAMP_SRC_MASK | \
				 V4L2_BUF_FLAG_KEYFRAME | \
				 V4L2_BUF_FLAG_PFRAME | V4L2_BUF_FLAG_BFRAME)

static inline u64 daedalus_job_cookie(const struct daedalus_job_core *core,
				      const struct daedalus_job *job)
{
	return DAEDALUS_COOKIE(job - core->slots, job->gen);
}

static inline u32 daedalus_buf_index(const struct vb2_v4l2_buffer *vbuf)
{
	return vbuf ? vbuf->vb2_buf.index : DAEDALUS_NO_BUF;
}

static void daedalus_job_count_reject(struct daedalus_job_core *core,
				      enum daedalus_reject reason, u16 type,
				      u64 cookie)
	__must_hold(&core->lock)
{
	core->stats.rejected[reason]++;
	trace_daedalus_reject(reason, type, cookie);
}

/* Slot management. */

static struct daedalus_job *daedalus_job_get_slot(struct daedalus_job_core *core)
	__must_hold(&core->lock)
{
	u32 i, id;

	for (i = 0; i < core->nr_slots; i++) {
		id = (core->next_id + i) % core->nr_slots;
		if (!core->slots[id].in_use) {
			core->next_id = (id + 1) % core->nr_slots;
			core->slots[id].in_use = true;
			WRITE_ONCE(core->free, core->free - 1);
			core->stats.in_flight++;
			return &core->slots[id];
		}
	}
	return NULL;
}

/* The slot's cookie dies here: a reply naming it is stale from now on. */
static void daedalus_job_put_slot(struct daedalus_job_core *core,
				  struct daedalus_job *job)
	__must_hold(&core->lock)
{
	job->jctx = NULL;
	job->src = NULL;
	job->dst = NULL;
	job->running = false;
	job->in_use = false;
	job->gen++;
	if (!job->gen)
		job->gen = 1;
	WRITE_ONCE(core->free, core->free + 1);
	core->stats.in_flight--;
}

/* Metadata of recent sources, looked up by the picture's timestamp. */

static void daedalus_job_meta_record(struct daedalus_job_ctx *jctx,
				     const struct vb2_v4l2_buffer *src)
{
	struct daedalus_job_meta *m = &jctx->meta[jctx->meta_next];

	m->timestamp = src->vb2_buf.timestamp;
	m->timecode = src->timecode;
	m->flags = src->flags & DAEDALUS_META_FLAGS;
	m->valid = true;
	jctx->meta_next = (jctx->meta_next + 1) % DAEDALUS_JOB_META;
}

static const struct daedalus_job_meta *
daedalus_job_meta_find(const struct daedalus_job_ctx *jctx, u64 timestamp)
{
	u32 i, n;

	/* Newest first: timestamps may repeat after a seek. */
	for (i = 1; i <= DAEDALUS_JOB_META; i++) {
		n = (jctx->meta_next + DAEDALUS_JOB_META - i) % DAEDALUS_JOB_META;
		if (jctx->meta[n].valid && jctx->meta[n].timestamp == timestamp)
			return &jctx->meta[n];
	}
	return NULL;
}

/* Buffer completion: the only places a claimed buffer leaves the core. */

static void daedalus_job_done(struct daedalus_job_ctx *jctx, u64 cookie,
			      struct vb2_v4l2_buffer *vbuf,
			      enum vb2_buffer_state state)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_job_core *core = jctx->core;
	struct daedalus_job_stats *stats = &core->stats;

	if (state == VB2_BUF_STATE_ERROR)
		stats->errors++;
	if (V4L2_TYPE_IS_OUTPUT(vbuf->vb2_buf.type) && core->ops->src_done)
		core->ops->src_done(jctx, vbuf);
	trace_daedalus_buf_done(jctx->ctx_id, cookie, vbuf->vb2_buf.type,
				vbuf->vb2_buf.index, state,
				vbuf->vb2_buf.timestamp);
	v4l2_m2m_buf_done(vbuf, state);
}

static void daedalus_job_put_src(struct daedalus_job_core *core,
				 struct daedalus_job *job,
				 enum vb2_buffer_state state)
	__must_hold(&core->lock)
{
	struct vb2_v4l2_buffer *src = job->src;

	if (!src)
		return;
	job->src = NULL;
	core->stats.src_done++;
	if (job->mapped && core->ops->released)
		core->ops->released(job->jctx, daedalus_job_cookie(core, job),
				    false);
	daedalus_job_done(job->jctx, daedalus_job_cookie(core, job), src,
			  state);
}

static void daedalus_job_put_dst(struct daedalus_job_core *core,
				 struct daedalus_job *job,
				 enum vb2_buffer_state state)
	__must_hold(&core->lock)
{
	struct vb2_v4l2_buffer *dst = job->dst;

	if (!dst)
		return;
	job->dst = NULL;
	if (!job->running)
		core->stats.parked--;
	core->stats.dst_done++;
	if (job->mapped && core->ops->released)
		core->ops->released(job->jctx, daedalus_job_cookie(core, job),
				    true);
	daedalus_job_done(job->jctx, daedalus_job_cookie(core, job), dst,
			  state);
}

/* Finish the m2m job of @job; its CAPTURE buffer, if any, is now parked. */
static void daedalus_job_finish(struct daedalus_job_core *core,
				struct daedalus_job *job,
				enum daedalus_finish_reason reason)
	__must_hold(&core->lock)
{
	struct daedalus_job_ctx *jctx = job->jctx;
	u64 cookie = daedalus_job_cookie(core, job);

	if (!job->running)
		return;
	job->running = false;
	if (core->running == job)
		core->running = NULL;
	core->stats.running--;
	core->stats.finished++;
	if (job->dst) {
		core->stats.parked++;
		trace_daedalus_park(jctx->ctx_id, cookie, job->dst->vb2_buf.index);
	}
	trace_daedalus_job_finish(jctx->ctx_id, cookie, reason);
	v4l2_m2m_job_finish(core->m2m_dev, jctx->m2m_ctx);
}

/* Free the slot once nothing of the job is left. */
static void daedalus_job_maybe_free(struct daedalus_job_core *core,
				    struct daedalus_job *job)
	__must_hold(&core->lock)
{
	if (!job->running && !job->src && !job->dst)
		daedalus_job_put_slot(core, job);
}

/*
 * A stateless job's OUTPUT buffer completes its request: it is done after
 * the job's CAPTURE buffer, so a client the request wakes finds the picture
 * (the order of v4l2_m2m_buf_done_and_job_finish()).
 */
static bool daedalus_job_stateless(const struct daedalus_job *job)
{
	return job->jctx->codec == DAEDALUS_CODEC_H264_SLICE;
}

/* Return everything @job holds with ERROR, finish it, free the slot. */
static unsigned int daedalus_job_end(struct daedalus_job_core *core,
				     struct daedalus_job *job,
				     enum daedalus_finish_reason reason)
	__must_hold(&core->lock)
{
	unsigned int n = !!job->src + !!job->dst;

	if (daedalus_job_stateless(job))
		daedalus_job_put_dst(core, job, VB2_BUF_STATE_ERROR);
	daedalus_job_put_src(core, job, VB2_BUF_STATE_ERROR);
	if (job->running) {
		/* A picture never came: the CAPTURE buffer goes back first. */
		daedalus_job_put_dst(core, job, VB2_BUF_STATE_ERROR);
		daedalus_job_finish(core, job, reason);
	} else {
		daedalus_job_put_dst(core, job, VB2_BUF_STATE_ERROR);
	}
	daedalus_job_put_slot(core, job);
	return n;
}

/* m2m job finish for a device_run that started no job. */
static void daedalus_job_finish_empty(struct daedalus_job_ctx *jctx,
				      enum daedalus_finish_reason reason)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_job_core *core = jctx->core;

	core->stats.finished++;
	trace_daedalus_job_finish(jctx->ctx_id, 0, reason);
	v4l2_m2m_job_finish(core->m2m_dev, jctx->m2m_ctx);
}

void daedalus_job_core_init(struct daedalus_job_core *core,
			    struct v4l2_m2m_dev *m2m_dev,
			    const struct daedalus_job_ops *ops,
			    struct daedalus_outq *outq, u64 timeout_ns)
{
	u32 i;

	memset(core, 0, sizeof(*core));
	mutex_init(&core->lock);
	core->m2m_dev = m2m_dev;
	core->ops = ops;
	core->outq = outq;
	core->timeout_ns = timeout_ns;
	core->max_contexts = DAEDALUS_MAX_CONTEXTS;
	core->max_capture_bufs = DAEDALUS_MAX_CAPTURE_BUFS;
	core->nr_slots = DAEDALUS_JOB_SLOTS;
	core->free = DAEDALUS_JOB_SLOTS;
	for (i = 0; i < DAEDALUS_JOB_SLOTS; i++)
		core->slots[i].gen = 1;
}

int daedalus_job_core_set_limits(struct daedalus_job_core *core,
				 u32 contexts, u32 capture_bufs)
{
	int ret = 0;

	if (!contexts || contexts > DAEDALUS_MAX_CONTEXTS ||
	    !capture_bufs || capture_bufs > DAEDALUS_MAX_CAPTURE_BUFS)
		return -EINVAL;
	mutex_lock(&core->lock);
	if (core->stats.runs) {
		ret = -EBUSY;
	} else {
		core->max_contexts = contexts;
		core->max_capture_bufs = capture_bufs;
		core->nr_slots = contexts * capture_bufs;
		core->next_id = 0;
		WRITE_ONCE(core->free, core->nr_slots);
	}
	mutex_unlock(&core->lock);
	return ret;
}

void daedalus_job_core_destroy(struct daedalus_job_core *core)
{
	mutex_destroy(&core->lock);
}

void daedalus_job_ctx_init(struct daedalus_job_ctx *jctx,
			   struct daedalus_job_core *core,
			   struct v4l2_m2m_ctx *m2m_ctx, u32 ctx_id)
{
	memset(jctx, 0, sizeof(*jctx));
	jctx->core = core;
	jctx->m2m_ctx = m2m_ctx;
	jctx->ctx_id = ctx_id;
	jctx->stream_gen = 1;
	daedalus_outq_share_init(&jctx->out, core->outq);
}

bool daedalus_job_can_run(const struct daedalus_job_ctx *jctx)
{
	return !READ_ONCE(jctx->aborting) && READ_ONCE(jctx->core->free) > 0 &&
	       !daedalus_outq_share_full(&jctx->out);
}

/*
 * Validation before anything is claimed. A buffer that can never be decoded
 * is claimed alone and returned, so the same buffer is not offered again.
 */
static int daedalus_job_validate(struct daedalus_job_ctx *jctx,
				 struct vb2_v4l2_buffer *src,
				 struct vb2_v4l2_buffer *dst)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_job_core *core = jctx->core;
	struct v4l2_m2m_ctx *m2m_ctx = jctx->m2m_ctx;
	unsigned long bytes;

	if (src) {
		bytes = vb2_get_plane_payload(&src->vb2_buf, 0);
		if (!bytes || bytes > vb2_plane_size(&src->vb2_buf, 0) ||
		    !vb2_plane_vaddr(&src->vb2_buf, 0)) {
			v4l2_m2m_src_buf_remove_by_buf(m2m_ctx, src);
			trace_daedalus_claim(jctx->ctx_id, 0, src->vb2_buf.type,
					     src->vb2_buf.index);
			src->sequence = jctx->src_sequence++;
			core->stats.src_done++;
			/* An empty OUTPUT buffer carries nothing to decode. */
			daedalus_job_done(jctx, 0, src, bytes ?
					  VB2_BUF_STATE_ERROR :
					  VB2_BUF_STATE_DONE);
			return -EINVAL;
		}
	}
	if (vb2_plane_size(&dst->vb2_buf, 0) < jctx->dst_min_size) {
		v4l2_m2m_dst_buf_remove_by_buf(m2m_ctx, dst);
		trace_daedalus_claim(jctx->ctx_id, 0, dst->vb2_buf.type,
				     dst->vb2_buf.index);
		core->stats.dst_done++;
		daedalus_job_done(jctx, 0, dst, VB2_BUF_STATE_ERROR);
		return -EINVAL;
	}
	return 0;
}

int daedalus_job_run(struct daedalus_job_ctx *jctx, bool allow_no_src,
		     u64 now)
{
	struct daedalus_job_core *core = jctx->core;
	struct v4l2_m2m_ctx *m2m_ctx = jctx->m2m_ctx;
	struct daedalus_decode_params p;
	struct vb2_v4l2_buffer *src, *dst;
	struct daedalus_job *job;
	u64 cookie;
	int ret;

	mutex_lock(&core->lock);
	core->stats.runs++;
	if (jctx->aborting || core->running) {
		/* Stopping, or m2m ran us twice: claim nothing. */
		daedalus_job_finish_empty(jctx, DAEDALUS_FINISH_ABORT);
		ret = -ECANCELED;
		goto out;
	}
	/*
	 * Queued for a run before its share filled up (m2m does not ask
	 * job_ready again): the request would go over it. Reading below the
	 * share schedules the context again.
	 */
	if (daedalus_outq_share_full(&jctx->out)) {
		daedalus_job_finish_empty(jctx, DAEDALUS_FINISH_IDLE);
		ret = -EBUSY;
		goto out;
	}
	src = v4l2_m2m_next_src_buf(m2m_ctx);
	dst = v4l2_m2m_next_dst_buf(m2m_ctx);
	if (!dst || (!src && !allow_no_src)) {
		daedalus_job_finish_empty(jctx, DAEDALUS_FINISH_IDLE);
		ret = -ENODATA;
		goto out;
	}
	ret = daedalus_job_validate(jctx, src, dst);
	if (ret) {
		core->stats.invalid++;
		daedalus_job_finish_empty(jctx, DAEDALUS_FINISH_INVALID);
		goto out;
	}

	/* Claim: from here on the job owns both buffers. */
	job = daedalus_job_get_slot(core);
	if (src)
		v4l2_m2m_src_buf_remove_by_buf(m2m_ctx, src);
	v4l2_m2m_dst_buf_remove_by_buf(m2m_ctx, dst);
	if (!job) {
		if (src) {
			core->stats.src_done++;
			daedalus_job_done(jctx, 0, src, VB2_BUF_STATE_ERROR);
		}
		core->stats.dst_done++;
		daedalus_job_done(jctx, 0, dst, VB2_BUF_STATE_ERROR);
		daedalus_job_finish_empty(jctx, DAEDALUS_FINISH_INVALID);
		ret = -EBUSY;
		goto out;
	}
	job->jctx = jctx;
	job->src = src;
	job->dst = dst;
	job->running = true;
	job->mapped = false;
	job->src_held = false;
	job->stream_gen = jctx->stream_gen;
	job->deadline = now + core->timeout_ns;
	core->running = job;
	core->stats.running++;
	cookie = daedalus_job_cookie(core, job);

	memset(&p, 0, sizeof(p));
	p.cookie = cookie;
	p.ctx_id = jctx->ctx_id;
	p.codec = jctx->codec;
	p.generation = jctx->stream_gen;
	p.src_index = daedalus_buf_index(src);
	p.dst_index = dst->vb2_buf.index;
	p.dst_size = vb2_plane_size(&dst->vb2_buf, 0);
	if (src) {
		src->sequence = jctx->src_sequence++;
		p.timestamp = src->vb2_buf.timestamp;
		p.bytes = vb2_get_plane_payload(&src->vb2_buf, 0);
		daedalus_job_meta_record(jctx, src);
	} else {
		p.flags |= DAEDALUS_DECODE_F_NO_SRC;
	}

	trace_daedalus_device_run(jctx->ctx_id, cookie, p.src_index,
				  p.dst_index, p.timestamp);
	if (src)
		trace_daedalus_claim(jctx->ctx_id, cookie, src->vb2_buf.type,
				     src->vb2_buf.index);
	trace_daedalus_claim(jctx->ctx_id, cookie, dst->vb2_buf.type,
			     dst->vb2_buf.index);

	ret = core->ops->send_decode(jctx, &p, src, dst);
	if (ret) {
		daedalus_job_end(core, job, DAEDALUS_FINISH_SEND_FAILED);
		goto out;
	}
	job->mapped = !!(p.flags & DAEDALUS_DECODE_F_MAPPED);
	core->stats.jobs++;
	if (!src)
		daedalus_job_finish(core, job, DAEDALUS_FINISH_NO_SRC);
out:
	mutex_unlock(&core->lock);
	return ret;
}

void daedalus_job_pass(struct daedalus_job_ctx *jctx,
		       enum daedalus_finish_reason reason)
{
	struct daedalus_job_core *core = jctx->core;

	mutex_lock(&core->lock);
	core->stats.runs++;
	daedalus_job_finish_empty(jctx, reason);
	mutex_unlock(&core->lock);
}

/* Which slot a cookie names, or why it names none. */
static struct daedalus_job *daedalus_job_lookup(struct daedalus_job_core *core,
						u64 cookie,
						enum daedalus_reject *reason)
	__must_hold(&core->lock)
{
	u32 id = DAEDALUS_COOKIE_ID(cookie);
	struct daedalus_job *job;

	if (id >= core->nr_slots) {
		*reason = DAEDALUS_REJECT_UNKNOWN_COOKIE;
		return NULL;
	}
	job = &core->slots[id];
	if (job->gen != DAEDALUS_COOKIE_GEN(cookie)) {
		*reason = DAEDALUS_REJECT_STALE_COOKIE;
		return NULL;
	}
	if (!job->in_use) {
		*reason = DAEDALUS_REJECT_UNKNOWN_COOKIE;
		return NULL;
	}
	return job;
}

/* Everything a RESP_FRAME must satisfy before any of it is applied. */
static int daedalus_job_check_frame(struct daedalus_job *job,
				    const struct daedalus_msg_frame *f,
				    enum daedalus_reject *reason)
	__must_hold(&job->jctx->core->lock)
{
	struct vb2_v4l2_buffer *dst = job->dst;

	if (job->jctx->ctx_id != f->ctx_id) {
		*reason = DAEDALUS_REJECT_WRONG_CTX;
		return -EINVAL;
	}
	if (job->stream_gen != f->generation) {
		*reason = DAEDALUS_REJECT_STALE_GENERATION;
		return -EINVAL;
	}
	if ((f->flags & DAEDALUS_FRAME_SRC_CONSUMED) && !job->running) {
		*reason = DAEDALUS_REJECT_DUP_SRC;
		return -EINVAL;
	}
	if (!(f->flags & DAEDALUS_FRAME_HAS_PIXELS))
		return 0;
	/* A stateless decoder's picture never ends a drain or a format. */
	if ((f->flags & DAEDALUS_FRAME_LAST) &&
	    job->jctx->codec == DAEDALUS_CODEC_H264_SLICE) {
		*reason = DAEDALUS_REJECT_FIELD;
		return -EINVAL;
	}
	if (!dst) {
		*reason = DAEDALUS_REJECT_DUP_PIXELS;
		return -EINVAL;
	}
	if (f->bytesused > vb2_plane_size(&dst->vb2_buf, 0)) {
		*reason = DAEDALUS_REJECT_TOO_BIG;
		return -EINVAL;
	}
	/* Unmapped jobs get their pixels inline, mapped ones never do. */
	if (job->mapped ? !!f->data : (f->bytesused && !f->data)) {
		*reason = DAEDALUS_REJECT_LENGTH;
		return -EINVAL;
	}
	if (f->data && !vb2_plane_vaddr(&dst->vb2_buf, 0)) {
		*reason = DAEDALUS_REJECT_FIELD;
		return -EINVAL;
	}
	return 0;
}

static void daedalus_job_picture(struct daedalus_job_core *core,
				 struct daedalus_job *job,
				 const struct daedalus_msg_frame *f)
	__must_hold(&core->lock)
{
	struct daedalus_job_ctx *jctx = job->jctx;
	struct vb2_v4l2_buffer *dst = job->dst;
	const struct daedalus_job_meta *meta;
	bool last = f->flags & DAEDALUS_FRAME_LAST;

	if (f->data)
		memcpy(vb2_plane_vaddr(&dst->vb2_buf, 0), f->data, f->bytesused);
	vb2_set_plane_payload(&dst->vb2_buf, 0, f->bytesused);
	/* The picture's own source, not the one this job was paired with. */
	dst->vb2_buf.timestamp = f->timestamp;
	dst->flags &= ~(DAEDALUS_META_FLAGS | V4L2_BUF_FLAG_LAST);
	meta = daedalus_job_meta_find(jctx, f->timestamp);
	if (meta) {
		dst->timecode = meta->timecode;
		dst->flags |= meta->flags;
	}
	if (last)
		dst->flags |= V4L2_BUF_FLAG_LAST;
	dst->field = V4L2_FIELD_NONE;
	dst->sequence = jctx->dst_sequence++;
	/*
	 * A drain's EOS goes before its LAST buffer: once the buffer is done
	 * poll() may report it, with EPOLLPRI only for an event already
	 * queued.
	 */
	if (last && core->ops->last)
		core->ops->last(jctx);
	daedalus_job_put_dst(core, job, (f->flags & DAEDALUS_FRAME_ERROR) ?
			     VB2_BUF_STATE_ERROR : VB2_BUF_STATE_DONE);
}

int daedalus_job_frame(struct daedalus_job_core *core,
		       const struct daedalus_msg_frame *f)
{
	enum vb2_buffer_state state = (f->flags & DAEDALUS_FRAME_ERROR) ?
				      VB2_BUF_STATE_ERROR : VB2_BUF_STATE_DONE;
	enum daedalus_reject reason;
	struct daedalus_job *job;
	int ret = 0;

	mutex_lock(&core->lock);
	job = daedalus_job_lookup(core, f->cookie, &reason);
	if (!job || daedalus_job_check_frame(job, f, &reason)) {
		daedalus_job_count_reject(core, reason, DAEDALUS_RESP_FRAME,
					  f->cookie);
		ret = -EINVAL;
		goto out;
	}
	if (f->flags & DAEDALUS_FRAME_HAS_PIXELS) {
		daedalus_job_picture(core, job, f);
		if (job->src_held) {
			job->src_held = false;
			daedalus_job_put_src(core, job, job->src_error ?
					     VB2_BUF_STATE_ERROR :
					     VB2_BUF_STATE_DONE);
		}
	}
	if (f->flags & DAEDALUS_FRAME_SRC_CONSUMED) {
		/* The m2m job ends; a stateless request waits for its picture. */
		if (daedalus_job_stateless(job) && job->dst) {
			job->src_held = true;
			job->src_error = state == VB2_BUF_STATE_ERROR;
		} else {
			daedalus_job_put_src(core, job, state);
		}
		daedalus_job_finish(core, job, DAEDALUS_FINISH_CONSUMED);
	}
	daedalus_job_maybe_free(core, job);
out:
	mutex_unlock(&core->lock);
	return ret;
}

int daedalus_job_flush(struct daedalus_job_ctx *jctx)
{
	struct daedalus_job_core *core = jctx->core;
	int ret = -EAGAIN;

	mutex_lock(&core->lock);
	if (!v4l2_m2m_num_src_bufs_ready(jctx->m2m_ctx))
		ret = core->ops->send_flush(jctx, jctx->stream_gen);
	mutex_unlock(&core->lock);
	return ret;
}

void daedalus_job_abort(struct daedalus_job_ctx *jctx)
{
	struct daedalus_job_core *core = jctx->core;

	mutex_lock(&core->lock);
	WRITE_ONCE(jctx->aborting, true);
	if (core->running && core->running->jctx == jctx)
		daedalus_job_end(core, core->running, DAEDALUS_FINISH_ABORT);
	mutex_unlock(&core->lock);
}

void daedalus_job_resume(struct daedalus_job_ctx *jctx)
{
	struct daedalus_job_core *core = jctx->core;

	mutex_lock(&core->lock);
	WRITE_ONCE(jctx->aborting, false);
	mutex_unlock(&core->lock);
}

static unsigned int daedalus_job_cancel_locked(struct daedalus_job_core *core,
					       struct daedalus_job_ctx *jctx,
					       enum daedalus_finish_reason why)
	__must_hold(&core->lock)
{
	unsigned int i, n = 0;

	for (i = 0; i < core->nr_slots; i++) {
		struct daedalus_job *job = &core->slots[i];

		if (job->in_use && (!jctx || job->jctx == jctx))
			n += daedalus_job_end(core, job, why);
	}
	return n;
}

unsigned int daedalus_job_cancel(struct daedalus_job_ctx *jctx)
{
	struct daedalus_job_core *core = jctx->core;
	unsigned int n;

	mutex_lock(&core->lock);
	n = daedalus_job_cancel_locked(core, jctx, DAEDALUS_FINISH_CANCEL);
	mutex_unlock(&core->lock);
	return n;
}

u32 daedalus_job_reset(struct daedalus_job_ctx *jctx)
{
	struct daedalus_job_core *core = jctx->core;
	u32 gen;

	mutex_lock(&core->lock);
	daedalus_job_cancel_locked(core, jctx, DAEDALUS_FINISH_CANCEL);
	jctx->stream_gen++;
	if (!jctx->stream_gen)
		jctx->stream_gen = 1;
	gen = jctx->stream_gen;
	mutex_unlock(&core->lock);
	return gen;
}

unsigned int daedalus_job_detach(struct daedalus_job_core *core)
{
	unsigned int n;

	mutex_lock(&core->lock);
	n = daedalus_job_cancel_locked(core, NULL, DAEDALUS_FINISH_DETACH);
	mutex_unlock(&core->lock);
	return n;
}

unsigned int daedalus_job_watchdog(struct daedalus_job_core *core, u64 now)
{
	struct daedalus_job *job;
	struct daedalus_job_ctx *jctx;
	unsigned int n = 0;
	u64 cookie;

	if (!core->timeout_ns)
		return 0;
	mutex_lock(&core->lock);
	/* Only an unfinished job can hold up the device. */
	job = core->running;
	if (job && (s64)(now - job->deadline) >= 0) {
		jctx = job->jctx;
		cookie = daedalus_job_cookie(core, job);
		core->stats.expired++;
		daedalus_job_end(core, job, DAEDALUS_FINISH_EXPIRED);
		if (core->ops->expired)
			core->ops->expired(jctx, cookie);
		n = 1;
	}
	mutex_unlock(&core->lock);
	return n;
}

void daedalus_job_reject(struct daedalus_job_core *core,
			 enum daedalus_reject reason, u16 type, u64 cookie)
{
	if (reason >= DAEDALUS_REJECT_MAX)
		reason = DAEDALUS_REJECT_FIELD;
	mutex_lock(&core->lock);
	daedalus_job_count_reject(core, reason, type, cookie);
	mutex_unlock(&core->lock);
}

void daedalus_job_get_stats(struct daedalus_job_core *core,
			    struct daedalus_job_stats *stats)
{
	mutex_lock(&core->lock);
	*stats = core->stats;
	mutex_unlock(&core->lock);
}

unsigned int daedalus_job_ctx_count(struct daedalus_job_ctx *jctx,
				    unsigned int *parked)
{
	struct daedalus_job_core *core = jctx->core;
	unsigned int i, n = 0, p = 0;

	mutex_lock(&core->lock);
	for (i = 0; i < core->nr_slots; i++) {
		struct daedalus_job *job = &core->slots[i];

		if (!job->in_use || job->jctx != jctx)
			continue;
		n++;
		if (!job->running && job->dst)
			p++;
	}
	mutex_unlock(&core->lock);
	if (parked)
		*parked = p;
	return n;
}
