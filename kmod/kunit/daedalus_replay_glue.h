/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One C call per scenario event for the Rust suite daedalus_replay; the
 * Rust side declares the same functions and struct dr_stats (all u64, so
 * the layout is the same on both sides without bindgen).
 */
#ifndef _DAEDALUS_REPLAY_GLUE_H
#define _DAEDALUS_REPLAY_GLUE_H

#include <linux/types.h>

struct dr_world;

/*
 * The scenario's daemon, in both executors (this glue, and the userspace
 * one, which reads these through bindgen): its RESP_HELLO announces
 * H.264 into NV12 up to DR_DAEMON_MAX_DIM square, takes REQ_CAPTURE_FMT,
 * and takes mapped jobs when the run offers them.
 */
#define DR_DAEMON_VERSION	0x010000
#define DR_DAEMON_MAX_DIM	4096

/* The scenario daemon's read() buffer: a longer request stays unread. */
#define DR_MSG_MAX		(16 * 1024 * 1024 + 4096)

/**
 * struct dr_stats - the job core's counters, flattened
 * @runs:	device_run calls
 * @finished:	v4l2_m2m_job_finish calls
 * @src_done:	OUTPUT buffers completed by the core
 * @dst_done:	CAPTURE buffers completed by the core
 * @errors:	of those, completed with ERROR
 * @expired:	jobs ended by the watchdog
 * @rejected:	daemon messages refused, all reasons
 * @in_flight:	slots in use
 * @parked:	CAPTURE buffers parked
 * @running:	unfinished jobs
 */
struct dr_stats {
	u64 runs;
	u64 finished;
	u64 src_done;
	u64 dst_done;
	u64 errors;
	u64 expired;
	u64 rejected;
	u64 in_flight;
	u64 parked;
	u64 running;
};

struct dr_world *dr_world_new(void);
void dr_world_free(struct dr_world *w);
/* Before any context: daedalus_job_core_set_limits() of the world's device. */
int dr_limits(struct dr_world *w, u32 contexts, u32 capture_bufs);
int dr_open(struct dr_world *w, u32 ctx, bool stateless);
int dr_close(struct dr_world *w, u32 ctx);
int dr_reqbufs(struct dr_world *w, u32 ctx, bool capture, u32 count);
/* @req: the request the buffer goes into, by its scenario name, or -1. */
int dr_qbuf(struct dr_world *w, u32 ctx, bool capture, u32 index, u64 ts,
	    u32 size, s64 req);
/* The Request API, requests named as in the scenario. */
int dr_req_alloc(struct dr_world *w, u32 req);
int dr_ctrls(struct dr_world *w, u32 ctx, u32 req);
int dr_req_queue(struct dr_world *w, u32 req);
int dr_req_reinit(struct dr_world *w, u32 req);
int dr_req_close(struct dr_world *w, u32 req);
/* After every event: the requests that completed during it. */
void dr_io_requests(struct dr_world *w, u32 line);
int dr_dqbuf(struct dr_world *w, u32 ctx, bool capture, u32 *index,
	     u32 *flags, u64 *ts);
int dr_stream(struct dr_world *w, u32 ctx, bool capture, bool on);
int dr_decoder_cmd(struct dr_world *w, u32 ctx, bool stop);
int dr_attach(struct dr_world *w, u32 version);
void dr_detach(struct dr_world *w);
/* The daemon stops reading its requests, or reads them again (and now). */
void dr_daemon_reading(struct dr_world *w, bool reading);
/*
 * RESP_FRAME for the @nth job of @ctx (from 1), the last one it sent with
 * @newest, or the verbatim @cookie with @nth 0.
 */
int dr_frame(struct dr_world *w, u32 ctx, u32 nth, u64 cookie, bool newest,
	     u32 flags, u64 ts, u32 bytes, bool inline_bytes, s64 generation);
int dr_stream_info(struct dr_world *w, u32 ctx, u32 width, u32 height,
		   u32 dpb);
int dr_session_error(struct dr_world *w, u32 ctx, u32 code);
int dr_reset_done(struct dr_world *w, u32 ctx, s64 generation);
unsigned int dr_tick(struct dr_world *w, u32 ms);
void dr_stats(struct dr_world *w, struct dr_stats *out);
/* The job core's counters, daedalus_job_stats_line(), added to the io log. */
void dr_io_stats(struct dr_world *w);
/* Before the first event: the daemon takes mapped jobs (RESP_HELLO F_MAPPED). */
void dr_world_set_mapped(struct dr_world *w, bool mapped);
void dr_io_result(struct dr_world *w, u32 line, int ret, bool dqbuf,
		  u32 index, u32 flags, u64 ts);
const char *dr_io(struct dr_world *w, size_t *len, bool *full);
const char *dr_log(struct dr_world *w, size_t *len, bool *full);

#endif /* _DAEDALUS_REPLAY_GLUE_H */
