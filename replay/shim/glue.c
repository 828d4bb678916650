// SPDX-License-Identifier: GPL-2.0
/*
 * Glue between the Rust mock and the module's C state: what the executor
 * reads or sets of it, and the codec's verdict in a flat form. Its
 * prototypes are in replay.h. Not part of the code under test.
 */
#include <asm/byteorder.h>

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

u32 daedalus_shim_max_contexts(const struct daedalus_job_core *core)
{
	return core->max_contexts;
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

/* The context's share of the request queue (jctx->out). */
struct daedalus_outq_share *daedalus_shim_share(struct daedalus_job_ctx *jctx)
{
	return &jctx->out;
}

/*
 * A request as daedalus_daemon_send() queues it: header and fixed body
 * encoded by the module's codec, and a length counting @data_len bytes of
 * data after them that the replay does not allocate (nothing reads them).
 */
struct daedalus_out *daedalus_shim_out_new(u16 type, u64 cookie,
					   const void *body, u32 body_len,
					   u32 data_len)
{
	size_t n = DAEDALUS_HDR_SIZE + body_len;
	struct daedalus_out *out = kvmalloc(sizeof(*out) + n, GFP_KERNEL);

	if (!out)
		return NULL;
	out->len = n + data_len;
	daedalus_msg_encode(out->data, type, cookie, body, body_len, data_len);
	return out;
}

/*
 * What the io log shows of a request the daemon read, as the KUnit
 * executor's dr_log_request(): its type, cookie, context and argument
 * (a REQ_DECODE's timestamp, the second word of the other bodies but the
 * session's).
 */
void daedalus_shim_out_fields(const struct daedalus_out *out, u16 *type,
			      u64 *cookie, u32 *ctx_id, u64 *arg)
{
	const struct daedalus_hdr *h = (const void *)out->data;
	const __le32 *body = (const __le32 *)(h + 1);
	size_t body_len = le32_to_cpu(h->payload_len);

	*type = le16_to_cpu(h->type);
	*cookie = le64_to_cpu(h->cookie);
	*ctx_id = daedalus_out_ctx(out);
	*arg = 0;
	if (*type == DAEDALUS_REQ_DECODE)
		*arg = le64_to_cpu(((const struct daedalus_req_decode *)body)->timestamp);
	else if (*type != DAEDALUS_REQ_SESSION_OPEN &&
		 *type != DAEDALUS_REQ_SESSION_CLOSE && body_len >= 8)
		*arg = le32_to_cpu(body[1]);
}

static void daedalus_shim_count(const struct daedalus_out *out, u32 ctx_id,
				struct daedalus_shim_held *held)
{
	held->all_reqs++;
	held->all_bytes += out->len;
	if (ctx_id && daedalus_out_ctx(out) == ctx_id) {
		held->reqs++;
		held->bytes += out->len;
	}
}

/*
 * What the queue holds, found by walking it (the reader's request
 * included), whatever its counters say; and the counters.
 */
void daedalus_shim_outq_held(const struct daedalus_outq *q,
			     const struct daedalus_outq_share *s, u32 ctx_id,
			     struct daedalus_shim_held *held)
{
	const struct daedalus_out *out;

	*held = (struct daedalus_shim_held) {};
	list_for_each_entry(out, &q->list, node)
		daedalus_shim_count(out, ctx_id, held);
	if (q->reading)
		daedalus_shim_count(q->reading, ctx_id, held);
	held->q_reqs = q->reqs;
	held->q_bytes = q->bytes;
	held->s_reqs = s ? s->reqs : 0;
	held->s_bytes = s ? s->bytes : 0;
}
