/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The replay's C interface, in one place: what the Rust executor calls and
 * exchanges with the module's code. The Rust side is generated from this
 * header (bindgen, in replay/build.rs), so every struct the two share and
 * every prototype has one source: the module's own headers, included here.
 *
 * struct daedalus_replay_fns is the function table of one compiled variant
 * (the real code or a mutant): replay/shim/fns.c fills it, compiled once
 * per variant under that variant's symbol prefix, so the C compiler checks
 * each entry against the module's prototype.
 */
#ifndef _DAEDALUS_REPLAY_H
#define _DAEDALUS_REPLAY_H

#include <linux/errno.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/types.h>
#include <linux/mutex.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus_dispatch.h"
#include "daedalus_front.h"
#include "daedalus_job.h"
#include "daedalus_msg.h"
#include "daedalus_outq.h"

#define DAEDALUS_REPLAY_FN(field, fn) __typeof__(&fn) field

/**
 * struct daedalus_replay_fns - one variant's job core, front, dispatcher and
 *	request queue
 *
 * Each entry is the module's function of its name (without daedalus_ or
 * daedalus_job_); the Rust side calls them through the variant the
 * scenario picked.
 */
struct daedalus_replay_fns {
	DAEDALUS_REPLAY_FN(core_init, daedalus_job_core_init);
	DAEDALUS_REPLAY_FN(core_set_limits, daedalus_job_core_set_limits);
	DAEDALUS_REPLAY_FN(core_destroy, daedalus_job_core_destroy);
	DAEDALUS_REPLAY_FN(ctx_init, daedalus_job_ctx_init);
	DAEDALUS_REPLAY_FN(abort, daedalus_job_abort);
	DAEDALUS_REPLAY_FN(detach, daedalus_job_detach);
	DAEDALUS_REPLAY_FN(watchdog, daedalus_job_watchdog);
	DAEDALUS_REPLAY_FN(ctx_count, daedalus_job_ctx_count);
	DAEDALUS_REPLAY_FN(dispatch, daedalus_dispatch);
	DAEDALUS_REPLAY_FN(front_init, daedalus_front_init);
	DAEDALUS_REPLAY_FN(front_set_stateless, daedalus_front_set_stateless);
	DAEDALUS_REPLAY_FN(front_request_buffers, daedalus_front_request_buffers);
	DAEDALUS_REPLAY_FN(front_job_ready, daedalus_front_job_ready);
	DAEDALUS_REPLAY_FN(front_device_run, daedalus_front_device_run);
	DAEDALUS_REPLAY_FN(front_start_streaming, daedalus_front_start_streaming);
	DAEDALUS_REPLAY_FN(front_stop_streaming, daedalus_front_stop_streaming);
	DAEDALUS_REPLAY_FN(front_streamoff, daedalus_front_streamoff);
	DAEDALUS_REPLAY_FN(front_decoder_cmd, daedalus_front_decoder_cmd);
	DAEDALUS_REPLAY_FN(front_closing, daedalus_front_closing);
	DAEDALUS_REPLAY_FN(front_release, daedalus_front_release);
	DAEDALUS_REPLAY_FN(front_stream_info, daedalus_front_stream_info);
	DAEDALUS_REPLAY_FN(front_session_error, daedalus_front_session_error);
	DAEDALUS_REPLAY_FN(front_daemon_gone, daedalus_front_daemon_gone);
	DAEDALUS_REPLAY_FN(front_last, daedalus_front_last);
	DAEDALUS_REPLAY_FN(front_cap_sizeimage, daedalus_front_cap_sizeimage);
	DAEDALUS_REPLAY_FN(front_cap_count, daedalus_front_cap_count);
	DAEDALUS_REPLAY_FN(front_session_open, daedalus_front_session_open);
	DAEDALUS_REPLAY_FN(front_min_buffers, daedalus_front_min_buffers);
	DAEDALUS_REPLAY_FN(front_no_daemon, daedalus_front_no_daemon);
	DAEDALUS_REPLAY_FN(outq_init, daedalus_outq_init);
	DAEDALUS_REPLAY_FN(outq_set_state, daedalus_outq_set_state);
	DAEDALUS_REPLAY_FN(outq_push, daedalus_outq_push);
	DAEDALUS_REPLAY_FN(outq_take, daedalus_outq_take);
	DAEDALUS_REPLAY_FN(outq_done, daedalus_outq_done);
	DAEDALUS_REPLAY_FN(outq_forget, daedalus_outq_forget);
	DAEDALUS_REPLAY_FN(outq_drop_all, daedalus_outq_drop_all);
};

extern const struct daedalus_replay_fns daedalus_replay_fns;

/* The device's context-list lock and the front's shared part, together. */
struct daedalus_shim_fdev {
	struct mutex lock;
	struct daedalus_front_dev fdev;
};

/* replay/shim/glue.c: what the executor reads or sets of the C state. */
size_t daedalus_shim_stats_line(const struct daedalus_job_core *core,
				char *buf, size_t len);
u32 daedalus_shim_max_contexts(const struct daedalus_job_core *core);
u32 daedalus_shim_stream_gen(const struct daedalus_job_ctx *jctx);
int daedalus_shim_parse(const void *buf, size_t len, u16 *type,
			struct daedalus_msg_frame *frame, u32 *words,
			u32 *reason);
struct daedalus_front_dev *daedalus_shim_fdev_init(struct daedalus_shim_fdev *s);

/**
 * struct daedalus_shim_held - what the request queue holds
 * @reqs:	requests of one context, found on the queue
 * @bytes:	their bytes
 * @all_reqs:	requests of every context, found on the queue
 * @all_bytes:	their bytes
 * @q_reqs:	the queue's counter of requests
 * @q_bytes:	the queue's counter of bytes
 * @s_reqs:	the context's share's counter of requests
 * @s_bytes:	the context's share's counter of bytes
 */
struct daedalus_shim_held {
	u32 reqs;
	u64 bytes;
	u32 all_reqs;
	u64 all_bytes;
	u32 q_reqs;
	u64 q_bytes;
	u32 s_reqs;
	u64 s_bytes;
};

struct daedalus_outq_share *daedalus_shim_share(struct daedalus_job_ctx *jctx);
struct daedalus_out *daedalus_shim_out_new(u16 type, u64 cookie,
					   const void *body, u32 body_len,
					   u32 data_len);
void daedalus_shim_out_fields(const struct daedalus_out *out, u16 *type,
			      u64 *cookie, u32 *ctx_id, u64 *arg);
void daedalus_shim_outq_held(const struct daedalus_outq *q,
			     const struct daedalus_outq_share *s, u32 ctx_id,
			     struct daedalus_shim_held *held);
void daedalus_shim_fdev_lock(struct daedalus_shim_fdev *s, bool lock);
u32 daedalus_shim_front_flags(const struct daedalus_front *f);
void daedalus_shim_front_set_failed(struct daedalus_front *f);

#endif /* _DAEDALUS_REPLAY_H */
