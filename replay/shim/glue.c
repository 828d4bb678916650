// SPDX-License-Identifier: GPL-2.0
/*
 * Glue between the Rust mock and the module's C state: what the executor
 * reads or sets of it, and the codec's verdict in a flat form. Its
 * prototypes are in replay.h. Not part of the code under test.
 */
#include "replay.h"

/*
 * The core's counters as daedalus_job_stats_line() prints them (read from
 * the struct: the same layout in every variant of the core).
 */
size_t daedalus_shim_stats_line(const struct daedalus_job_core *core,
				char *buf, size_t len)
{
	return daedalus_job_stats_line(&core->stats, buf, len);
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

/* The device part the contexts share, and what the oracles read of a front. */
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
