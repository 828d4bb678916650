/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus job core: the lifecycle of every buffer handed to the driver,
 * from the m2m ready queues through a daemon job to vb2_buffer_done().
 *
 * A job is born in device_run, which claims its CAPTURE buffer (dst) and,
 * unless the job is capture-only, its OUTPUT buffer (src) off the m2m ready
 * queues after validating them. The job is named to the daemon by a cookie
 * (slot id + slot generation, never a pointer). RESP_FRAME SRC_CONSUMED
 * completes the src and finishes the m2m job; the dst then stays parked
 * until HAS_PIXELS fills and completes it. Abort, cancel, daemon detach and
 * the watchdog return every claimed or parked buffer with ERROR and finish
 * a running job exactly once.
 *
 * The core knows nothing of ioctls or of the character device: it talks to
 * the daemon through &struct daedalus_job_ops and to V4L2 only through the
 * m2m and vb2 buffer helpers.
 */
#ifndef _DAEDALUS_JOB_H
#define _DAEDALUS_JOB_H

#include <linux/mutex.h>
#include <linux/sprintf.h>
#include <linux/types.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-v4l2.h>

#include "daedalus_msg.h"
#include "daedalus_outq.h"

/*
 * In-flight table size: enough for every context's CAPTURE buffers to be
 * parked at once (DAEDALUS_MAX_CONTEXTS * DAEDALUS_MAX_CAPTURE_BUFS). Test
 * executors may shrink both limits (daedalus_job_core_set_limits()); the
 * table in use is then their product.
 */
#define DAEDALUS_MAX_CONTEXTS		8
#define DAEDALUS_MAX_CAPTURE_BUFS	32
#define DAEDALUS_JOB_SLOTS	(DAEDALUS_MAX_CONTEXTS * DAEDALUS_MAX_CAPTURE_BUFS)

/* Sources remembered per context to stamp pictures with their metadata. */
#define DAEDALUS_JOB_META		32

/* Default time a job may stay unfinished before the watchdog ends it. */
#define DAEDALUS_JOB_TIMEOUT_NS		(2000ull * 1000 * 1000)

/**
 * enum daedalus_finish_reason - why a job was finished (tracepoint field)
 * @DAEDALUS_FINISH_CONSUMED: the daemon sent SRC_CONSUMED
 * @DAEDALUS_FINISH_INVALID: device_run refused a buffer before claiming
 * @DAEDALUS_FINISH_SEND_FAILED: the request could not be queued to the daemon
 * @DAEDALUS_FINISH_ABORT: m2m job_abort (STREAMOFF, close)
 * @DAEDALUS_FINISH_CANCEL: the context cancelled all its jobs
 * @DAEDALUS_FINISH_DETACH: the daemon went away
 * @DAEDALUS_FINISH_EXPIRED: the watchdog expired the job
 * @DAEDALUS_FINISH_IDLE: device_run found nothing to do
 * @DAEDALUS_FINISH_NO_SRC: a capture-only job is finished as soon as it is
 *	sent: the daemon answers it with HAS_PIXELS only
 */
enum daedalus_finish_reason {
	DAEDALUS_FINISH_CONSUMED,
	DAEDALUS_FINISH_INVALID,
	DAEDALUS_FINISH_SEND_FAILED,
	DAEDALUS_FINISH_ABORT,
	DAEDALUS_FINISH_CANCEL,
	DAEDALUS_FINISH_DETACH,
	DAEDALUS_FINISH_EXPIRED,
	DAEDALUS_FINISH_IDLE,
	DAEDALUS_FINISH_NO_SRC,
};

struct daedalus_job_ctx;

/**
 * struct daedalus_job_ops - what the core needs from the rest of the driver
 * @send_decode: queue a REQ_DECODE for the daemon. Called with the core
 *	lock held; must not call back into the core. May fill @p->src_map and
 *	@p->dst_map (and set DAEDALUS_DECODE_F_MAPPED). Copies what it needs
 *	of @src (NULL for a capture-only job): the buffers stay the core's.
 *	Returns 0, or a negative errno (no daemon, no memory), after which
 *	the core fails the job.
 * @send_flush: queue a REQ_FLUSH for @generation of @jctx. Called with the
 *	core lock held, after every job of @jctx that has a source went out.
 * @last:	a picture flagged LAST is being returned on @jctx (drain or
 *	resolution change complete): called just before its buffer is done,
 *	so an event it raises is pending when poll() sees the buffer. Called
 *	with the core lock held.
 * @expired:	the watchdog ended a job of @jctx. Called with the core lock
 *	held.
 * @released:	a buffer of the mapped job @cookie left the core (its
 *	OUTPUT buffer, or its CAPTURE buffer when @capture): the daemon's
 *	mapping of it must end. Called with the core lock held; optional.
 * @src_done:	an OUTPUT buffer of @jctx is about to be done, whatever
 *	its state: a stateless context completes its request's controls
 *	there, so the request completes with the buffer. Called with the
 *	core lock held; optional.
 */
struct daedalus_job_ops {
	int (*send_decode)(struct daedalus_job_ctx *jctx,
			   struct daedalus_decode_params *p,
			   struct vb2_v4l2_buffer *src,
			   struct vb2_v4l2_buffer *dst);
	int (*send_flush)(struct daedalus_job_ctx *jctx, u32 generation);
	void (*last)(struct daedalus_job_ctx *jctx);
	void (*expired)(struct daedalus_job_ctx *jctx, u64 cookie);
	void (*released)(struct daedalus_job_ctx *jctx, u64 cookie,
			 bool capture);
	void (*src_done)(struct daedalus_job_ctx *jctx,
			 struct vb2_v4l2_buffer *src);
};

/**
 * struct daedalus_job - one in-flight table slot
 * @jctx:	owning context while in use
 * @src:	claimed OUTPUT buffer until SRC_CONSUMED (a stateless job's
 *		until its picture too), else NULL
 * @dst:	claimed or parked CAPTURE buffer until HAS_PIXELS, else NULL
 * @deadline:	watchdog deadline (ns, caller's clock) while running
 * @gen:	slot generation: the high half of the cookie, never 0
 * @stream_gen:	the context's stream generation when the job was claimed
 * @running:	the m2m job is not finished yet (no SRC_CONSUMED)
 * @in_use:	the slot holds a job
 * @mapped:	the job's buffers were shared with the daemon by mapping
 * @src_held:	a stateless job's source was consumed before its picture
 *		came: done with the picture, as its request must not complete
 *		before the picture is in its CAPTURE buffer
 * @src_error:	the held source is done with ERROR (the daemon said so)
 */
struct daedalus_job {
	struct daedalus_job_ctx *jctx;
	struct vb2_v4l2_buffer *src;
	struct vb2_v4l2_buffer *dst;
	u64 deadline;
	u32 gen;
	u32 stream_gen;
	bool running;
	bool in_use;
	bool mapped;
	bool src_held;
	bool src_error;
};

/**
 * struct daedalus_job_stats - counters, for debugfs and tests
 * @runs:	device_run calls
 * @jobs:	jobs sent to the daemon
 * @finished:	v4l2_m2m_job_finish() calls
 * @src_done:	OUTPUT buffers completed
 * @dst_done:	CAPTURE buffers completed
 * @errors:	buffers completed with ERROR
 * @expired:	jobs ended by the watchdog
 * @invalid:	device_run validation failures
 * @rejected:	daemon messages refused, by enum daedalus_reject
 * @in_flight:	slots in use now
 * @parked:	CAPTURE buffers parked now (job finished, no picture yet)
 * @running:	jobs not finished now (0 or 1)
 */
struct daedalus_job_stats {
	u64 runs;
	u64 jobs;
	u64 finished;
	u64 src_done;
	u64 dst_done;
	u64 errors;
	u64 expired;
	u64 invalid;
	u64 rejected[DAEDALUS_REJECT_MAX];
	u32 in_flight;
	u32 parked;
	u32 running;
};

/**
 * struct daedalus_job_core - per-device job state
 * @lock:	serialises the table and every completion: a context can
 *	only go away after the core dropped all of its buffers under it
 * @m2m_dev:	the device's m2m instance, for v4l2_m2m_job_finish()
 * @ops:	callbacks into the driver
 * @outq:	the device's queue of requests for the daemon, whose shares
 *	decide which context may run
 * @timeout_ns:	watchdog budget of an unfinished job, 0 for none
 * @max_contexts: sessions the device takes (DAEDALUS_MAX_CONTEXTS unless
 *	shrunk); fixed before the first context
 * @max_capture_bufs: CAPTURE buffers a context may have
 *	(DAEDALUS_MAX_CAPTURE_BUFS unless shrunk); fixed likewise
 * @nr_slots:	slots of @slots in use: @max_contexts * @max_capture_bufs
 * @running:	the job device_run started and nobody finished yet
 * @next_id:	where the next slot search starts (ids rotate)
 * @free:	free slots; read without the lock by job_ready
 * @stats:	counters
 * @slots:	the in-flight table; a cookie's low half indexes it
 */
struct daedalus_job_core {
	struct mutex lock;		/* everything below */
	struct v4l2_m2m_dev *m2m_dev;
	const struct daedalus_job_ops *ops;
	struct daedalus_outq *outq;
	u64 timeout_ns;
	u32 max_contexts;
	u32 max_capture_bufs;
	u32 nr_slots;
	struct daedalus_job *running;
	u32 next_id;
	u32 free;
	struct daedalus_job_stats stats;
	struct daedalus_job slots[DAEDALUS_JOB_SLOTS];
};

/**
 * struct daedalus_job_meta - what a picture inherits from its source
 * @timestamp:	the source's timestamp (the lookup key)
 * @timecode:	the source's timecode
 * @flags:	the source's V4L2_BUF_FLAG_TIMECODE and KEYFRAME/P/B flags
 * @valid:	the entry is filled
 */
struct daedalus_job_meta {
	u64 timestamp;
	struct v4l2_timecode timecode;
	u32 flags;
	bool valid;
};

/**
 * struct daedalus_job_ctx - per-context job state, embedded in the context
 * @core:	the device's core
 * @m2m_ctx:	the context's m2m context
 * @ctx_id:	the protocol's name of the context, never 0
 * @codec:	enum daedalus_codec sent with each job
 * @stream_gen:	stream generation; bumped by daedalus_job_reset()
 * @dst_min_size: smallest CAPTURE buffer a job may claim, 0 for any
 * @src_sequence: next OUTPUT sequence number
 * @dst_sequence: next CAPTURE sequence number
 * @aborting:	set by daedalus_job_abort(); job_ready must say no while set
 * @out:	what the context holds of the daemon's unread requests
 * @meta_next:	next @meta entry to overwrite
 * @meta:	recent sources' metadata
 */
struct daedalus_job_ctx {
	struct daedalus_job_core *core;
	struct v4l2_m2m_ctx *m2m_ctx;
	u32 ctx_id;
	u32 codec;
	u32 stream_gen;
	u32 dst_min_size;
	u32 src_sequence;
	u32 dst_sequence;
	bool aborting;
	struct daedalus_outq_share out;
	u32 meta_next;
	struct daedalus_job_meta meta[DAEDALUS_JOB_META];
};

/**
 * daedalus_job_core_init() - set up a device's job core
 * @core:	zeroed or stale memory, owned by the device
 * @m2m_dev:	the device's m2m instance
 * @ops:	callbacks; must outlive @core
 * @outq:	the device's request queue; must outlive @core
 * @timeout_ns:	watchdog budget per job, 0 to disable
 */
void daedalus_job_core_init(struct daedalus_job_core *core,
			    struct v4l2_m2m_dev *m2m_dev,
			    const struct daedalus_job_ops *ops,
			    struct daedalus_outq *outq, u64 timeout_ns);

/**
 * daedalus_job_core_set_limits() - shrink a core's limits, for test executors
 * @core:	a core no context has used yet
 * @contexts:	sessions the device takes, 1 to DAEDALUS_MAX_CONTEXTS
 * @capture_bufs: CAPTURE buffers a context may have, 1 to
 *	DAEDALUS_MAX_CAPTURE_BUFS
 *
 * The in-flight table becomes @contexts * @capture_bufs slots, still enough
 * for every CAPTURE buffer to be parked at once, so that its slots are
 * reused, and their cookies' generations advance, within a few jobs rather
 * than hundreds. The driver keeps the defaults; KUnit, the userspace replay
 * and the fuzzers shrink them to reach the table's wrap-around.
 *
 * Return: 0, -EINVAL for a limit out of range, -EBUSY once a job ran.
 */
int daedalus_job_core_set_limits(struct daedalus_job_core *core,
				 u32 contexts, u32 capture_bufs);

/**
 * daedalus_job_core_destroy() - tear down a core with no context left
 * @core:	the core
 */
void daedalus_job_core_destroy(struct daedalus_job_core *core);

/**
 * daedalus_job_ctx_init() - set up a context's job state
 * @jctx:	the context's job state
 * @core:	the device's core
 * @m2m_ctx:	the context's m2m context
 * @ctx_id:	the protocol's name of the context, never 0
 */
void daedalus_job_ctx_init(struct daedalus_job_ctx *jctx,
			   struct daedalus_job_core *core,
			   struct v4l2_m2m_ctx *m2m_ctx, u32 ctx_id);

/**
 * daedalus_job_can_run() - whether device_run could start a job now
 * @jctx:	the context
 *
 * For job_ready, which runs under the m2m job spinlock: takes no lock.
 *
 * Return: false while @jctx is aborting, the in-flight table is full, or
 * @jctx or the device holds its share of the daemon's unread requests.
 */
bool daedalus_job_can_run(const struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_run() - the body of device_run
 * @jctx:	the context m2m picked
 * @allow_no_src: start a capture-only job (DAEDALUS_DECODE_F_NO_SRC) when no
 *	OUTPUT buffer is ready (drain)
 * @now:	current time in ns, the watchdog's clock
 *
 * Validates the next OUTPUT and CAPTURE buffers, then claims them off the
 * ready queues, gives the job a cookie and sends it. A capture-only job is
 * finished right after it is sent, its CAPTURE buffer parked (protocol:
 * the daemon never sends SRC_CONSUMED for it). On any failure the
 * buffers already claimed are returned (ERROR) and the m2m job is finished
 * before this returns: every call finishes exactly one m2m job, now or
 * when the job ends.
 *
 * Return: 0 when the job went to the daemon, else a negative errno.
 */
int daedalus_job_run(struct daedalus_job_ctx *jctx, bool allow_no_src,
		     u64 now);

/**
 * daedalus_job_pass() - a device_run that may not decode now
 * @jctx:	the context m2m picked
 * @reason:	DAEDALUS_FINISH_IDLE (stopped) or DAEDALUS_FINISH_ABORT (failed)
 *
 * v4l2-mem2mem runs a context from its job queue without asking job_ready
 * again, so a context queued before it stopped (its LAST picture went out
 * meanwhile) or failed (the daemon left) still gets a device_run: this one
 * claims nothing and finishes the m2m job at once.
 */
void daedalus_job_pass(struct daedalus_job_ctx *jctx,
		       enum daedalus_finish_reason reason);

/**
 * daedalus_job_frame() - apply a validated RESP_FRAME
 * @core:	the device's core
 * @f:		the message, from daedalus_msg_parse()
 *
 * HAS_PIXELS fills (copy path), stamps and completes the job's parked
 * CAPTURE buffer; SRC_CONSUMED completes its OUTPUT buffer, if any, and
 * finishes the m2m job. The message is checked whole against the job
 * first: nothing changes unless all of it applies.
 *
 * Return: 0, or -EINVAL for a message naming an unknown, stale or foreign
 * cookie, a stale generation, a part already applied or an oversized
 * picture (counted and traced as rejected).
 */
int daedalus_job_frame(struct daedalus_job_core *core,
		       const struct daedalus_msg_frame *f);

/**
 * daedalus_job_flush() - send REQ_FLUSH once no OUTPUT buffer is waiting
 * @jctx:	the draining context
 *
 * Serialised with device_run's claims, so the flush always follows the
 * REQ_DECODE of the last source queued before it.
 *
 * Return: 0 when sent, -EAGAIN while OUTPUT buffers are still ready (call
 * again after the next job), or the send error.
 */
int daedalus_job_flush(struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_abort() - m2m job_abort: end @jctx's running job now
 * @jctx:	the context being stopped or closed
 *
 * Returns the running job's buffers with ERROR and finishes it, and makes
 * device_run and daedalus_job_can_run() refuse new jobs for @jctx until
 * daedalus_job_resume(). Parked buffers stay parked.
 */
void daedalus_job_abort(struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_resume() - let @jctx run jobs again after an abort
 * @jctx:	the context
 */
void daedalus_job_resume(struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_cancel() - return every buffer @jctx has in the core
 * @jctx:	the context
 *
 * Claimed and parked buffers are completed with ERROR; a running job is
 * finished. Every cookie of @jctx dies.
 *
 * Return: the number of buffers returned.
 */
unsigned int daedalus_job_cancel(struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_reset() - cancel, and start a new stream generation
 * @jctx:	the context (seek, resolution change, session error)
 *
 * Return: the new generation, for REQ_RESET.
 */
u32 daedalus_job_reset(struct daedalus_job_ctx *jctx);

/**
 * daedalus_job_detach() - the daemon is gone: cancel every context's jobs
 * @core:	the core
 *
 * Return: the number of buffers returned.
 */
unsigned int daedalus_job_detach(struct daedalus_job_core *core);

/**
 * daedalus_job_watchdog() - expire jobs unfinished past their deadline
 * @core:	the core
 * @now:	current time in ns, same clock as daedalus_job_run()'s
 *
 * An expired job returns its buffers with ERROR and is finished; its cookie
 * dies, so the daemon's late reply is rejected as stale. Parked CAPTURE
 * buffers are not timed: a decoder may hold a picture for reordering as
 * long as the stream needs.
 *
 * Return: the number of jobs expired.
 */
unsigned int daedalus_job_watchdog(struct daedalus_job_core *core, u64 now);

/**
 * daedalus_job_reject() - count and trace a refused daemon message
 * @core:	the core
 * @reason:	enum daedalus_reject
 * @type:	the message type, 0 if unknown
 * @cookie:	the message's cookie
 *
 * For refusals decided outside the core (parse errors, unknown contexts),
 * so one set of counters covers them all.
 */
void daedalus_job_reject(struct daedalus_job_core *core,
			 enum daedalus_reject reason, u16 type, u64 cookie);

/**
 * daedalus_job_get_stats() - snapshot the counters
 * @core:	the core
 * @stats:	filled
 */
void daedalus_job_get_stats(struct daedalus_job_core *core,
			    struct daedalus_job_stats *stats);

/**
 * daedalus_job_ctx_count() - jobs of one context in the table
 * @jctx:	the context
 * @parked:	set to how many of them only hold a parked CAPTURE buffer
 *	(may be NULL)
 *
 * Return: the number of in-use slots owned by @jctx.
 */
unsigned int daedalus_job_ctx_count(struct daedalus_job_ctx *jctx,
				    unsigned int *parked);

/**
 * daedalus_job_stats_line() - the counters as one line of text
 * @st:		the counters
 * @buf:	where to write, NUL-terminated
 * @len:	its size
 *
 * What the two scenario executors (the KUnit glue on the real
 * v4l2-mem2mem, replay's userspace glue on the mock) log at the end of a
 * scenario to be compared: one format, so they cannot drift. Refusals are
 * listed by reason, those that happened only.
 *
 * Return: the bytes written, without the NUL.
 */
static inline int daedalus_job_stats_line(const struct daedalus_job_stats *st,
					  char *buf, size_t len)
{
	int i, n;

	n = scnprintf(buf, len,
		      "stats runs=%llu jobs=%llu finished=%llu src_done=%llu dst_done=%llu errors=%llu expired=%llu invalid=%llu in_flight=%u parked=%u running=%u",
		      st->runs, st->jobs, st->finished, st->src_done,
		      st->dst_done, st->errors, st->expired, st->invalid,
		      st->in_flight, st->parked, st->running);
	for (i = 0; i < DAEDALUS_REJECT_MAX; i++)
		if (st->rejected[i])
			n += scnprintf(buf + n, len - n, " rejected_%s=%llu",
				       daedalus_msg_reject_name(i),
				       st->rejected[i]);
	n += scnprintf(buf + n, len - n, "\n");
	return n;
}

#endif /* _DAEDALUS_JOB_H */
