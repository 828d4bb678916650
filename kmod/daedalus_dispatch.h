/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus dispatch: what one daemon write() does. The message is validated
 * whole by daedalus_msg_parse(), then applied to the handshake, to the job
 * core (RESP_FRAME) or to the context it names (STREAM_INFO, SESSION_ERROR,
 * RESET_DONE). Every refusal is counted and traced by the job core, and a
 * refused message changes nothing.
 *
 * Like the job core, this is compiled unchanged in userspace by the replay
 * tools and the fuzz targets; the rest of the driver comes in through
 * &struct daedalus_dispatch_ops.
 */
#ifndef _DAEDALUS_DISPATCH_H
#define _DAEDALUS_DISPATCH_H

#include <linux/compiler_types.h>
#include <linux/types.h>

#include "daedalus_job.h"
#include "daedalus_msg.h"

/**
 * struct daedalus_dispatch_ops - what dispatching needs from the driver
 * @hello:	take the daemon's RESP_HELLO, already checked to speak our
 *	protocol version. Returns 0, or -EINVAL when no handshake is
 *	expected (no daemon attached, or its handshake is done).
 * @ready:	whether the handshake is done
 * @ctx_get:	the context named @ctx_id, if it has an open session,
 *	held (it cannot close) until @ctx_put; NULL otherwise, holding
 *	nothing. A conditional acquire, which sparse cannot follow through
 *	the NULL return: the dispatcher says __acquire() once it has a
 *	context, as 6.12's __cond_lock() does.
 * @ctx_put:	release a context @ctx_get returned
 * @stream_info: apply a STREAM_INFO of the current stream to a held
 *	context; -EINVAL, changing nothing, for a format outside what the
 *	daemon announced in RESP_HELLO
 * @session_error: the daemon gave up the held context's session
 */
struct daedalus_dispatch_ops {
	int (*hello)(void *priv, const struct daedalus_msg_hello *h);
	bool (*ready)(void *priv);
	struct daedalus_job_ctx *(*ctx_get)(void *priv, u32 ctx_id);
	void (*ctx_put)(void *priv, struct daedalus_job_ctx *jctx)
		__releases(jctx);
	int (*stream_info)(struct daedalus_job_ctx *jctx,
			   const struct daedalus_msg_stream_info *si);
	void (*session_error)(struct daedalus_job_ctx *jctx, u32 error);
};

/**
 * daedalus_dispatch() - apply one complete message from the daemon
 * @core:	the device's job core
 * @ops:	the driver's side
 * @priv:	passed to @ops
 * @buf:	the message, header first
 * @len:	its length
 *
 * Return: 0; -EINVAL for an invalid message, one out of state (before the
 * handshake, a second RESP_HELLO) or one naming a context without a session,
 * a stale stream generation or a job the core refuses; -EPROTO for a foreign
 * magic or protocol version.
 */
int daedalus_dispatch(struct daedalus_job_core *core,
		      const struct daedalus_dispatch_ops *ops, void *priv,
		      const void *buf, size_t len);

#endif /* _DAEDALUS_DISPATCH_H */
