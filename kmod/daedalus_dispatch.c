// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus dispatch: one daemon write, validated whole before any state
 * changes, then applied.
 *
 * This file is compiled unchanged in userspace by the replay tools and the
 * fuzz targets, against shim headers that mirror exactly these includes:
 *   <linux/compiler.h> <linux/errno.h> <linux/types.h>
 *   "daedalus_dispatch.h" "daedalus_job.h" "daedalus_msg.h"
 *   "daedalus_trace.h"
 * Everything else comes through &struct daedalus_dispatch_ops.
 */

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/types.h>

#include "daedalus_dispatch.h"
#include "daedalus_job.h"
#include "daedalus_msg.h"
#include "daedalus_trace.h"

static int daedalus_dispatch_hello(struct daedalus_job_core *core,
				   const struct daedalus_dispatch_ops *ops,
				   void *priv, const struct daedalus_msg_hello *h)
{
	if (h->proto_version != DAEDALUS_PROTO_VERSION) {
		daedalus_job_reject(core, DAEDALUS_REJECT_VERSION,
				    DAEDALUS_RESP_HELLO, 0);
		return -EPROTO;
	}
	if (ops->hello(priv, h)) {
		daedalus_job_reject(core, DAEDALUS_REJECT_STATE,
				    DAEDALUS_RESP_HELLO, 0);
		return -EINVAL;
	}
	return 0;
}

/* Messages addressed to a context rather than to a job. */
static int daedalus_dispatch_ctx(struct daedalus_job_core *core,
				 const struct daedalus_dispatch_ops *ops,
				 void *priv, const struct daedalus_msg *m)
{
	struct daedalus_job_ctx *jctx;
	u32 ctx_id, gen = 0;
	int ret = 0;

	switch (m->type) {
	case DAEDALUS_RESP_STREAM_INFO:
		ctx_id = m->stream_info.ctx_id;
		gen = m->stream_info.generation;
		break;
	case DAEDALUS_RESP_SESSION_ERROR:
		ctx_id = m->session_error.ctx_id;
		break;
	default:
		ctx_id = m->reset_done.ctx_id;
		gen = m->reset_done.generation;
		break;
	}

	jctx = ops->ctx_get(priv, ctx_id);
	if (!jctx) {
		daedalus_job_reject(core, DAEDALUS_REJECT_NO_CTX, m->type,
				    m->cookie);
		return -EINVAL;
	}
	/* Held from here: every path below ends in ctx_put(). */
	__acquire(jctx);
	/*
	 * STREAM_INFO must describe the current stream. RESET_DONE may answer
	 * an earlier REQ_RESET of ours (two STREAMOFFs in a row): only a
	 * generation the kernel never sent is refused.
	 */
	if ((m->type == DAEDALUS_RESP_STREAM_INFO &&
	     gen != READ_ONCE(jctx->stream_gen)) ||
	    (m->type == DAEDALUS_RESP_RESET_DONE &&
	     (!gen || gen > READ_ONCE(jctx->stream_gen)))) {
		daedalus_job_reject(core, DAEDALUS_REJECT_STALE_GENERATION,
				    m->type, m->cookie);
		ret = -EINVAL;
		goto out;
	}
	if (m->type == DAEDALUS_RESP_STREAM_INFO) {
		if (ops->stream_info(jctx, &m->stream_info)) {
			daedalus_job_reject(core, DAEDALUS_REJECT_FIELD, m->type,
					    m->cookie);
			ret = -EINVAL;
		}
	} else if (m->type == DAEDALUS_RESP_SESSION_ERROR)
		ops->session_error(jctx, m->session_error.error);
out:
	ops->ctx_put(priv, jctx);
	return ret;
}

int daedalus_dispatch(struct daedalus_job_core *core,
		      const struct daedalus_dispatch_ops *ops, void *priv,
		      const void *buf, size_t len)
{
	enum daedalus_reject reason = DAEDALUS_REJECT_FIELD;
	struct daedalus_msg m;
	u32 flags = 0;
	int ret;

	ret = daedalus_msg_parse(buf, len, &m, &reason);
	if (ret) {
		daedalus_job_reject(core, reason, 0, 0);
		return ret;
	}
	if (m.type == DAEDALUS_RESP_FRAME)
		flags = m.frame.flags;
	trace_daedalus_msg_in(m.type, m.cookie,
			      m.type == DAEDALUS_RESP_FRAME ? m.frame.ctx_id : 0,
			      flags, len);

	if (m.type == DAEDALUS_RESP_HELLO)
		return daedalus_dispatch_hello(core, ops, priv, &m.hello);
	if (!ops->ready(priv)) {
		daedalus_job_reject(core, DAEDALUS_REJECT_STATE, m.type,
				    m.cookie);
		return -EINVAL;
	}

	switch (m.type) {
	case DAEDALUS_RESP_FRAME:
		return daedalus_job_frame(core, &m.frame);
	case DAEDALUS_RESP_PONG:
		return 0;
	default:
		return daedalus_dispatch_ctx(core, ops, priv, &m);
	}
}
