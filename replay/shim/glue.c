// SPDX-License-Identifier: GPL-2.0
/*
 * Glue between the Rust mock and the job core's C types: sizes, field
 * offsets (checked against the Rust mirrors at start-up) and the few
 * context fields the V4L2 front sets. Not part of the code under test.
 */
#include <linux/types.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus_dispatch.h"
#include "daedalus_front.h"
#include "daedalus_job.h"

#define OFF(type, field) ((size_t)__builtin_offsetof(struct type, field))

/* Keep in step with check_layout() in replay/src/mock/layout.rs. */
static const size_t daedalus_shim_layout_table[] = {
	sizeof(struct vb2_plane),
	sizeof(struct vb2_buffer),
	OFF(vb2_buffer, timestamp),
	OFF(vb2_buffer, state),
	OFF(vb2_buffer, planes),
	sizeof(struct vb2_v4l2_buffer),
	OFF(vb2_v4l2_buffer, flags),
	OFF(vb2_v4l2_buffer, timecode),
	OFF(vb2_v4l2_buffer, sequence),
	OFF(vb2_v4l2_buffer, is_held),
	sizeof(struct v4l2_m2m_buffer),
	OFF(v4l2_m2m_buffer, list),
	sizeof(struct mutex),
	sizeof(struct daedalus_msg_frame),
	OFF(daedalus_msg_frame, data),
	OFF(daedalus_msg_frame, data_len),
	sizeof(struct daedalus_decode_params),
	OFF(daedalus_decode_params, timestamp),
	OFF(daedalus_decode_params, dst_map),
	sizeof(struct daedalus_job_ops),
	sizeof(struct daedalus_msg_hello),
	sizeof(struct daedalus_msg_stream_info),
	sizeof(struct daedalus_dispatch_ops),
	OFF(daedalus_dispatch_ops, session_error),
	sizeof(struct daedalus_front_ops),
	OFF(daedalus_front_ops, try_schedule),
	sizeof(struct daedalus_front_limits),
};

size_t daedalus_shim_layout(size_t i)
{
	if (i >= sizeof(daedalus_shim_layout_table) / sizeof(size_t))
		return (size_t)-1;
	return daedalus_shim_layout_table[i];
}

/*
 * The core's counters as daedalus_job_stats_line() prints them (read from
 * the struct: the same layout in every variant of the core).
 */
size_t daedalus_shim_stats_line(const struct daedalus_job_core *core,
				char *buf, size_t len)
{
	return daedalus_job_stats_line(&core->stats, buf, len);
}

size_t daedalus_shim_sizeof_core(void)
{
	return sizeof(struct daedalus_job_core);
}

size_t daedalus_shim_sizeof_ctx(void)
{
	return sizeof(struct daedalus_job_ctx);
}

/* The module's limits the mock enforces as the front does. */
unsigned int daedalus_shim_max_sessions(void)
{
	return DAEDALUS_MAX_CONTEXTS;
}

unsigned int daedalus_shim_max_capture_bufs(void)
{
	return DAEDALUS_MAX_CAPTURE_BUFS;
}

u32 daedalus_shim_ctx_id(const struct daedalus_job_ctx *jctx)
{
	return jctx->ctx_id;
}

u32 daedalus_shim_stream_gen(const struct daedalus_job_ctx *jctx)
{
	return jctx->stream_gen;
}

/*
 * daedalus_msg_parse() and a flat copy of what the executor needs: the
 * frame body, or the context-addressed bodies as words (ctx_id first,
 * then generation or error, then the stream info fields in order).
 */
int daedalus_shim_parse(const void *buf, size_t len, u16 *type,
			struct daedalus_msg_frame *frame, u32 *words,
			u32 *reason)
{
	enum daedalus_reject r = DAEDALUS_REJECT_FIELD;
	struct daedalus_msg m;
	int ret;

	ret = daedalus_msg_parse(buf, len, &m, &r);
	*reason = r;
	if (ret)
		return ret;
	*type = m.type;
	switch (m.type) {
	case DAEDALUS_RESP_FRAME:
		*frame = m.frame;
		break;
	case DAEDALUS_RESP_STREAM_INFO:
		words[0] = m.stream_info.ctx_id;
		words[1] = m.stream_info.generation;
		words[2] = m.stream_info.coded_width;
		words[3] = m.stream_info.coded_height;
		words[4] = m.stream_info.dpb_size;
		break;
	case DAEDALUS_RESP_SESSION_ERROR:
		words[0] = m.session_error.ctx_id;
		words[1] = m.session_error.error;
		break;
	case DAEDALUS_RESP_RESET_DONE:
		words[0] = m.reset_done.ctx_id;
		words[1] = m.reset_done.generation;
		break;
	default:
		break;
	}
	return 0;
}

/* The front: its size, the device part the contexts share, what oracles read. */
size_t daedalus_shim_sizeof_front(void)
{
	return sizeof(struct daedalus_front);
}

/* The device's context-list lock and the front's shared part, together. */
struct daedalus_shim_fdev {
	struct mutex lock;
	struct daedalus_front_dev fdev;
};

size_t daedalus_shim_sizeof_fdev(void)
{
	return sizeof(struct daedalus_shim_fdev);
}

struct daedalus_front_dev *daedalus_shim_fdev_init(struct daedalus_shim_fdev *s)
{
	mutex_init(&s->lock);
	s->fdev.lock = &s->lock;
	s->fdev.sessions = 0;
	return &s->fdev;
}

/* The context-list lock, as the module's dispatcher lookup and detach take it. */
void daedalus_shim_fdev_lock(struct daedalus_shim_fdev *s, bool lock)
{
	if (lock)
		mutex_lock(&s->lock);
	else
		mutex_unlock(&s->lock);
}

/* The front's failed (1) and stopped (2) states, for the oracles. */
u32 daedalus_shim_front_flags(const struct daedalus_front *f)
{
	return (f->failed ? 1 : 0) | (f->stopped ? 2 : 0);
}

/* A failure the job core never hears of (the executor's own tests). */
void daedalus_shim_front_set_failed(struct daedalus_front *f)
{
	f->failed = true;
}

u32 daedalus_shim_front_ev_eos(void)
{
	return DAEDALUS_FRONT_EV_EOS;
}

u32 daedalus_shim_front_cmd(bool stop)
{
	return stop ? DAEDALUS_FRONT_CMD_STOP : DAEDALUS_FRONT_CMD_START;
}
