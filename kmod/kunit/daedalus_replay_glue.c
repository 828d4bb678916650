// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel scenario executor's hands: one C call per scenario event,
 * with scalar arguments only, for the Rust suite daedalus_replay. A world
 * is one bare daedalus device with up to DR_MAX_CTX contexts, numbered as
 * the scenario numbers them, and a daemon played through raw protocol
 * bytes. After every event the daemon's queue is read and every REQ_DECODE
 * remembered, so a scenario can name "the n-th job of context c" and get
 * its real cookie, dead or alive.
 *
 * While a world lives, probes on the module's job-core tracepoints write
 * its outcome log (device_run, claim, park, buf_done, job_finish, reject)
 * as text in the userspace executor's record syntax, for the differential
 * check against that executor. A second log, the io log, holds what the
 * front did that no tracepoint shows: every request it queued for the
 * daemon, and each event's result (an errno, or what DQBUF returned).
 */

#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <kunit/visibility.h>
#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include <linux/uaccess.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/videodev2.h>
#include <media/media-request.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-event.h>
#include <uapi/linux/media.h>

#include "daedalus.h"
#include "daedalus_test.h"
#include "daedalus_trace.h"
#include "daedalus_replay_glue.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

#define DR_MAX_CTX	16	/* contexts open at once in the userspace executor */
#define DR_MAX_JOBS	4096
#define DR_LOG_MAX	(4 * 1024 * 1024)

/**
 * struct dr_ctx - one scenario context
 * @ctx:	the open context, NULL when closed or never opened
 * @ctx_id:	its protocol id, kept after close for late replies
 * @reset_gen:	generation of the latest REQ_RESET
 * @njobs:	jobs sent so far
 * @cookies:	cookie of job n + 1
 * @gens:	stream generation of job n + 1
 */
struct dr_ctx {
	struct daedalus_ctx *ctx;
	u32 ctx_id;
	u32 reset_gen;
	u32 njobs;
	u64 cookies[DR_MAX_JOBS];
	u32 gens[DR_MAX_JOBS];
};

/**
 * struct dr_world - one scenario's device, contexts and daemon
 * @dev:	bare device
 * @daemon:	the attached daemon's file token, NULL when detached
 * @token:	storage whose address serves as the daemon's file
 * @msg:	scratch for one message either way
 * @log:	the outcome log, NUL-terminated
 * @log_len:	bytes in @log
 * @log_full:	a record did not fit
 * @io:		the io log (requests, results), NUL-terminated
 * @io_len:	bytes in @io
 * @io_full:	a line did not fit
 * @ctxs:	contexts by scenario number (1..DR_MAX_CTX)
 * @mapped:	the daemon's RESP_HELLO offers mapped jobs (F_MAPPED): the
 *	module maps every job's planes, pictures come without inline bytes
 */
/*
 * A request the scenario allocated: its file descriptor while open, and a
 * reference of the glue's own, so that its state stays readable after the
 * client closed it.
 */
struct dr_req {
	u32 name;
	int fd;
	bool open;
	bool reported;
	struct media_request *req;
};

#define DR_MAX_REQS	256

struct dr_world {
	struct daedalus_dev *dev;
	struct file *daemon;
	struct file *token;
	u8 *msg;
	char *log;
	size_t log_len;
	bool log_full;
	char *io;
	size_t io_len;
	bool io_full;
	struct dr_ctx ctxs[DR_MAX_CTX + 1];
	bool mapped;
	bool stopped;
	struct dr_req reqs[DR_MAX_REQS];
	unsigned int nreqs;
	/* One user page for the controls' payload (v4l2_s_ext_ctrls copies). */
	unsigned long uctrls;
};

/* The world being recorded; the tracepoints are global. */
static DEFINE_SPINLOCK(dr_log_lock);
static struct dr_world *dr_recording;

static const char * const dr_finish_names[] = {
	"consumed", "invalid", "send_failed", "abort", "cancel", "detach",
	"expired", "idle", "no_src",
};

static const char * const dr_state_names[] = {
	"DEQUEUED", "IN_REQUEST", "PREPARING", "QUEUED", "ACTIVE", "DONE",
	"ERROR",
};

static __printf(2, 0) void dr_vappend(struct dr_world *w, const char *fmt,
				      va_list args)
{
	int n;

	lockdep_assert_held(&dr_log_lock);
	if (w->log_full)
		return;
	n = vsnprintf(w->log + w->log_len, DR_LOG_MAX - w->log_len, fmt, args);
	if (n >= DR_LOG_MAX - w->log_len) {
		w->log[w->log_len] = 0;
		w->log_full = true;
	} else {
		w->log_len += n;
	}
}

/* The io log is written by the scenario's own thread only. */
static __printf(2, 3) void dr_io_append(struct dr_world *w,
					const char *fmt, ...)
{
	va_list args;
	int n;

	if (w->io_full)
		return;
	va_start(args, fmt);
	n = vsnprintf(w->io + w->io_len, DR_LOG_MAX - w->io_len, fmt, args);
	va_end(args);
	if (n >= DR_LOG_MAX - w->io_len) {
		w->io[w->io_len] = 0;
		w->io_full = true;
	} else {
		w->io_len += n;
	}
}

/* A request in the userspace executor's record syntax; NULL: not logged. */
static const char *dr_request_name(u16 type)
{
	switch (type) {
	case DAEDALUS_REQ_SESSION_OPEN:
		return "SESSION_OPEN";
	case DAEDALUS_REQ_SESSION_CLOSE:
		return "SESSION_CLOSE";
	case DAEDALUS_REQ_DECODE:
		return "DECODE";
	case DAEDALUS_REQ_FLUSH:
		return "FLUSH";
	case DAEDALUS_REQ_RESET:
		return "RESET";
	case DAEDALUS_REQ_CAPTURE_OFF:
		return "CAPTURE_OFF";
	case DAEDALUS_REQ_CAPTURE_FMT:
		return "CAPTURE_FMT";
	default:
		return NULL;
	}
}

static void dr_log_request(struct dr_world *w, const struct daedalus_hdr *h)
{
	u16 type = le16_to_cpu(h->type);
	const __le32 *body = (const __le32 *)(h + 1);
	const char *name = dr_request_name(type);
	u64 arg = 0;

	if (!name)
		return;
	if (type == DAEDALUS_REQ_DECODE)
		arg = le64_to_cpu(((const struct daedalus_req_decode *)body)->timestamp);
	else if (type != DAEDALUS_REQ_SESSION_OPEN &&
		 type != DAEDALUS_REQ_SESSION_CLOSE)
		arg = le32_to_cpu(body[1]);
	dr_io_append(w, "request %s ctx=%u cookie=0x%llx arg=%llu", name,
		     le32_to_cpu(body[0]), le64_to_cpu(h->cookie), arg);
	/*
	 * A stateless job's controls, by the tag the scenario's `ctrls` put
	 * in the decode parameters (0: none applied yet): which request's
	 * controls daedalus_sdec_prepare() sent with it.
	 */
	if (type == DAEDALUS_REQ_DECODE &&
	    le32_to_cpu(h->payload_len) >= sizeof(struct daedalus_req_decode) +
	    sizeof(struct daedalus_h264_slice) &&
	    le32_to_cpu(((const struct daedalus_req_decode *)body)->codec) ==
	    DAEDALUS_CODEC_H264_SLICE) {
		const struct daedalus_h264_slice *sl =
			(const void *)((const struct daedalus_req_decode *)body + 1);

		dr_io_append(w, " tag=%u",
			     (u32)sl->decode_params.top_field_order_cnt);
	}
	dr_io_append(w, "\n");
}

static __printf(2, 3) void dr_append(struct dr_world *w, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	dr_vappend(w, fmt, args);
	va_end(args);
}

/*
 * V4L2 events have no tracepoint: every context is subscribed like a
 * client, and what it was sent is moved into the log before the next
 * record and at the end of every scenario event, which keeps the order.
 */
static void dr_take_events(struct dr_world *w)
{
	struct v4l2_event ev;
	int i;

	lockdep_assert_held(&dr_log_lock);
	for (i = 1; i <= DR_MAX_CTX; i++) {
		struct dr_ctx *c = &w->ctxs[i];

		if (!c->ctx)
			continue;
		while (!v4l2_event_dequeue(&c->ctx->fh, &ev, 1))
			dr_append(w, "event %s ctx=%u\n",
				  ev.type == V4L2_EVENT_EOS ? "EOS" :
				  ev.type == V4L2_EVENT_SOURCE_CHANGE ?
				  "SOURCE_CHANGE" : "?", c->ctx_id);
	}
}

static __printf(1, 2) void dr_record(const char *fmt, ...)
{
	struct dr_world *w;
	unsigned long flags;
	va_list args;

	spin_lock_irqsave(&dr_log_lock, flags);
	w = dr_recording;
	if (w) {
		dr_take_events(w);
		va_start(args, fmt);
		dr_vappend(w, fmt, args);
		va_end(args);
	}
	spin_unlock_irqrestore(&dr_log_lock, flags);
}

static const char *dr_queue(u32 type)
{
	return V4L2_TYPE_IS_OUTPUT(type) ? "OUTPUT" : "CAPTURE";
}

static void dr_on_device_run(void *data, u32 ctx, u64 cookie, u32 src,
			     u32 dst, u64 ts)
{
	dr_record("device_run ctx=%u cookie=0x%llx src=%d dst=%u ts=%llu\n",
		  ctx, cookie, (int)src, dst, ts);
}

static void dr_on_claim(void *data, u32 ctx, u64 cookie, u32 type, u32 index)
{
	dr_record("claim ctx=%u cookie=0x%llx ctx %u %s #%u\n", ctx, cookie,
		  ctx, dr_queue(type), index);
}

static void dr_on_park(void *data, u32 ctx, u64 cookie, u32 index)
{
	dr_record("park ctx=%u cookie=0x%llx ctx %u CAPTURE #%u\n", ctx, cookie,
		  ctx, index);
}

static void dr_on_buf_done(void *data, u32 ctx, u64 cookie, u32 type,
			   u32 index, u32 state, u64 ts)
{
	dr_record("buf_done ctx=%u cookie=0x%llx ctx %u %s #%u %s ts=%llu\n",
		  ctx, cookie, ctx, dr_queue(type), index,
		  state < ARRAY_SIZE(dr_state_names) ? dr_state_names[state] : "?",
		  ts);
}

static void dr_on_job_finish(void *data, u32 ctx, u64 cookie, u32 reason)
{
	dr_record("job_finish ctx=%u cookie=0x%llx %s\n", ctx, cookie,
		  reason < ARRAY_SIZE(dr_finish_names) ?
		  dr_finish_names[reason] : "?");
}

static void dr_on_reject(void *data, u32 reason, u32 type, u64 cookie)
{
	dr_record("reject %s type=0x%x cookie=0x%llx\n",
		  daedalus_msg_reject_name(reason), type, cookie);
}

static struct dr_ctx *dr_ctx_by_id(struct dr_world *w, u32 ctx_id);

/*
 * The queue's bound, checked the moment a request was queued, as the
 * userspace executor's queue-bound rule does: a context over it is logged
 * (the logs then differ, and the case fails naming the rule).
 */
static void dr_on_msg_out(void *data, u32 type, u64 cookie, u32 ctx_id,
			  u32 flags, u32 len)
{
	struct daedalus_outq_share *s = NULL;
	struct dr_world *w;
	struct dr_ctx *c;
	unsigned long irq;
	u64 bytes = 0;
	u32 reqs = 0;

	spin_lock_irqsave(&dr_log_lock, irq);
	w = dr_recording;
	c = w && ctx_id ? dr_ctx_by_id(w, ctx_id) : NULL;
	if (c) {
		s = &c->ctx->jctx.out;
		reqs = READ_ONCE(s->reqs);
		bytes = READ_ONCE(s->bytes);
	}
	spin_unlock_irqrestore(&dr_log_lock, irq);
	if (s && (reqs > DAEDALUS_OUTQ_CTX_MAX_REQS ||
		  bytes > (u64)DAEDALUS_OUTQ_CTX_BYTES + DAEDALUS_MAX_PAYLOAD +
			  DAEDALUS_HDR_SIZE))
		dr_record("queue-bound ctx=%u reqs=%u bytes=%llu cookie=0x%llx\n",
			  ctx_id, reqs, bytes, cookie);
}

/*
 * The probes are registered with the first world and stay: they write only
 * while a world records (dr_recording), and unregistering waits for an RCU
 * grace period, which under TCG cost a third of a second per scenario.
 */
static void dr_probes(void)
{
	static bool registered;

	if (registered)
		return;
	registered = true;
	WARN_ON(register_trace_daedalus_device_run(dr_on_device_run, NULL));
	WARN_ON(register_trace_daedalus_claim(dr_on_claim, NULL));
	WARN_ON(register_trace_daedalus_park(dr_on_park, NULL));
	WARN_ON(register_trace_daedalus_buf_done(dr_on_buf_done, NULL));
	WARN_ON(register_trace_daedalus_job_finish(dr_on_job_finish, NULL));
	WARN_ON(register_trace_daedalus_reject(dr_on_reject, NULL));
	WARN_ON(register_trace_daedalus_msg_out(dr_on_msg_out, NULL));
}

static struct dr_ctx *dr_ctx(struct dr_world *w, u32 ctx)
{
	return ctx >= 1 && ctx <= DR_MAX_CTX ? &w->ctxs[ctx] : NULL;
}

static struct dr_ctx *dr_ctx_by_id(struct dr_world *w, u32 ctx_id)
{
	int i;

	for (i = 1; i <= DR_MAX_CTX; i++)
		if (w->ctxs[i].ctx && w->ctxs[i].ctx_id == ctx_id)
			return &w->ctxs[i];
	return NULL;
}

/*
 * Waits for the m2m scheduler to settle. v4l2-mem2mem runs the next job
 * from its job_work, queued with schedule_work() on the system per-CPU
 * workqueue when a job finishes, and a device_run may finish its job and
 * queue the next: flush until a flush starts no device_run. (Flushing a
 * system workqueue is frowned upon in drivers, as it waits for unrelated
 * work too; in the test executor that is the point, and it takes no lock
 * any work could wait for.) A chain of device_runs is bounded by the
 * buffers queued; a thousand flushes that each start one is a livelock.
 */
static void dr_settle(struct dr_world *w)
{
	struct daedalus_job_stats st;
	u64 runs;
	int i;

	for (i = 0; i < 1000; i++) {
		daedalus_job_get_stats(&w->dev->core, &st);
		runs = st.runs;
		__flush_workqueue(system_percpu_wq);
		daedalus_job_get_stats(&w->dev->core, &st);
		if (st.runs == runs)
			return;
	}
	WARN(1, "daedalus_replay: the m2m scheduler never settles\n");
}

/* Reads every queued request; remembers jobs and resets. */
static void dr_drain(struct dr_world *w)
{
	struct daedalus_hdr *h = (void *)w->msg;
	struct dr_ctx *c;
	ssize_t n;

	dr_settle(w);
	spin_lock_irq(&dr_log_lock);
	dr_take_events(w);
	spin_unlock_irq(&dr_log_lock);
	if (w->stopped)
		return;
	while ((n = daedalus_daemon_pop(w->dev, w->msg, DR_MSG_MAX)) >=
	       (ssize_t)sizeof(*h)) {
		u16 type = le16_to_cpu(h->type);
		const __le32 *body = (const __le32 *)(h + 1);

		dr_log_request(w, h);
		if (type != DAEDALUS_REQ_DECODE && type != DAEDALUS_REQ_RESET)
			continue;
		c = dr_ctx_by_id(w, le32_to_cpu(body[0]));
		if (!c)
			continue;
		if (type == DAEDALUS_REQ_RESET) {
			c->reset_gen = le32_to_cpu(body[1]);
		} else if (c->njobs < DR_MAX_JOBS) {
			const struct daedalus_req_decode *r = (const void *)body;

			c->cookies[c->njobs] = le64_to_cpu(h->cookie);
			c->gens[c->njobs] = le32_to_cpu(r->generation);
			c->njobs++;
		}
	}
}

static size_t dr_hdr(struct dr_world *w, u16 type, u64 cookie, u32 payload)
{
	struct daedalus_hdr *h = (void *)w->msg;

	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le32(DAEDALUS_PROTO_MAGIC);
	h->version = cpu_to_le16(DAEDALUS_PROTO_VERSION);
	h->type = cpu_to_le16(type);
	h->payload_len = cpu_to_le32(payload);
	h->cookie = cpu_to_le64(cookie);
	return sizeof(*h);
}

static int dr_write(struct dr_world *w, size_t len)
{
	int ret = daedalus_daemon_write(w->dev, w->msg, len);

	dr_drain(w);
	return ret;
}

struct dr_world *dr_world_new(void)
{
	struct dr_world *w;

	w = kvzalloc_obj(*w);
	if (!w)
		return NULL;
	w->msg = kvzalloc(DR_MSG_MAX, GFP_KERNEL);
	w->log = kvzalloc(DR_LOG_MAX, GFP_KERNEL);
	w->io = kvzalloc(DR_LOG_MAX, GFP_KERNEL);
	w->token = kzalloc_obj(*w->token);
	if (!w->msg || !w->log || !w->io || !w->token)
		goto err;
	spin_lock_irq(&dr_log_lock);
	if (dr_recording) {
		spin_unlock_irq(&dr_log_lock);
		goto err;
	}
	dr_recording = w;
	spin_unlock_irq(&dr_log_lock);
	dr_probes();
	w->dev = daedalus_dev_create(false);
	if (IS_ERR(w->dev))
		goto err_recording;
	/* Time moves on tick events only, from the userspace executor's start. */
	w->dev->clock_ns = NSEC_PER_SEC;
	w->dev->virtual_clock = true;
	return w;
err_recording:
	spin_lock_irq(&dr_log_lock);
	dr_recording = NULL;
	spin_unlock_irq(&dr_log_lock);
err:
	kfree(w->token);
	kvfree(w->io);
	kvfree(w->log);
	kvfree(w->msg);
	kvfree(w);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(dr_world_new);

void dr_world_free(struct dr_world *w)
{
	unsigned int r;
	int i;

	for (i = 1; i <= DR_MAX_CTX; i++)
		dr_close(w, i);
	dr_detach(w);
	/* The requests go before the media device they point at. */
	for (r = 0; r < w->nreqs; r++) {
		if (w->reqs[r].open)
			close_fd(w->reqs[r].fd);
		media_request_put(w->reqs[r].req);
	}
	flush_delayed_fput();
	daedalus_dev_destroy(w->dev);
	spin_lock_irq(&dr_log_lock);
	dr_recording = NULL;
	spin_unlock_irq(&dr_log_lock);
	kfree(w->token);
	kvfree(w->io);
	kvfree(w->log);
	kvfree(w->msg);
	kvfree(w);
}
EXPORT_SYMBOL_IF_KUNIT(dr_world_free);

int dr_limits(struct dr_world *w, u32 contexts, u32 capture_bufs)
{
	return daedalus_job_core_set_limits(&w->dev->core, contexts,
					    capture_bufs);
}
EXPORT_SYMBOL_IF_KUNIT(dr_limits);

int dr_open(struct dr_world *w, u32 ctx, bool stateless)
{
	const struct v4l2_event_subscription eos = {
		.type = V4L2_EVENT_EOS,
	};
	const struct v4l2_event_subscription src_change = {
		.type = V4L2_EVENT_SOURCE_CHANGE,
	};
	struct dr_ctx *c = dr_ctx(w, ctx);
	struct daedalus_ctx *dc;
	int ret;

	if (!c || c->ctx)
		return -EINVAL;
	/* The front's default formats, as the userspace executor has them. */
	dc = daedalus_ctx_create_kind(w->dev, stateless);
	if (IS_ERR(dc))
		return PTR_ERR(dc);
	ret = v4l2_event_subscribe(&dc->fh, &eos, 2, NULL);
	if (!ret)
		ret = v4l2_src_change_event_subscribe(&dc->fh, &src_change);
	if (ret) {
		daedalus_ctx_destroy(dc);
		return ret;
	}
	memset(c, 0, sizeof(*c));
	c->ctx_id = dc->jctx.ctx_id;
	spin_lock_irq(&dr_log_lock);
	c->ctx = dc;
	spin_unlock_irq(&dr_log_lock);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(dr_open);

int dr_close(struct dr_world *w, u32 ctx)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	struct daedalus_ctx *dc;

	if (!c || !c->ctx)
		return -EINVAL;
	/* Out of the probes' sight first: the context is freed below. */
	spin_lock_irq(&dr_log_lock);
	dr_take_events(w);
	dc = c->ctx;
	c->ctx = NULL;
	spin_unlock_irq(&dr_log_lock);
	daedalus_ctx_destroy(dc);
	dr_drain(w);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(dr_close);

int dr_reqbufs(struct dr_world *w, u32 ctx, bool capture, u32 count)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	unsigned int n = count;
	int ret;

	if (!c || !c->ctx)
		return -EINVAL;
	ret = daedalus_test_reqbufs(c->ctx, capture, &n);
	dr_drain(w);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_reqbufs);

static struct dr_req *dr_req(struct dr_world *w, u32 name)
{
	unsigned int r;

	for (r = 0; r < w->nreqs; r++)
		if (w->reqs[r].open && w->reqs[r].name == name)
			return &w->reqs[r];
	return NULL;
}

/* The file descriptor of an open request, or -1 (which the kernel refuses). */
static int dr_req_fd(struct dr_world *w, s64 name)
{
	struct dr_req *r = name < 0 ? NULL : dr_req(w, name);

	return r ? r->fd : -1;
}

int dr_qbuf(struct dr_world *w, u32 ctx, bool capture, u32 index, u64 ts,
	    u32 size, s64 req)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	int fd, ret;

	if (!c || !c->ctx)
		return -EINVAL;
	/* The bitstream's bytes do not matter to the core, its length does. */
	fd = dr_req_fd(w, req);
	ret = daedalus_test_qbuf_request(c->ctx, capture, index, NULL, size,
					 ts, req < 0 ? NULL : &fd);
	dr_drain(w);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_qbuf);

int dr_dqbuf(struct dr_world *w, u32 ctx, bool capture, u32 *index,
	     u32 *flags, u64 *ts)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	struct daedalus_test_buf b;
	int ret;

	if (!c || !c->ctx)
		return -EINVAL;
	ret = daedalus_test_dqbuf(c->ctx, capture, &b);
	if (!ret) {
		*index = b.index;
		*flags = b.flags;
		*ts = b.timestamp;
	}
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_dqbuf);

int dr_stream(struct dr_world *w, u32 ctx, bool capture, bool on)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	int ret;

	if (!c || !c->ctx)
		return -EINVAL;
	ret = on ? daedalus_test_streamon(c->ctx, capture) :
		   daedalus_test_streamoff(c->ctx, capture);
	dr_drain(w);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_stream);

int dr_decoder_cmd(struct dr_world *w, u32 ctx, bool stop)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	int ret;

	if (!c || !c->ctx)
		return -EINVAL;
	ret = daedalus_test_decoder_cmd(c->ctx, stop ? V4L2_DEC_CMD_STOP :
						      V4L2_DEC_CMD_START);
	dr_drain(w);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_decoder_cmd);

int dr_attach(struct dr_world *w, u32 version)
{
	struct daedalus_resp_hello *r;
	size_t n;
	int ret;

	/* A second daemon while one is attached: the module says -EBUSY. */
	ret = daedalus_daemon_attach(w->dev, w->token);
	if (ret)
		return ret;
	w->daemon = w->token;
	dr_drain(w);
	n = dr_hdr(w, DAEDALUS_RESP_HELLO, 0, sizeof(*r));
	r = (void *)(w->msg + n);
	memset(r, 0, sizeof(*r));
	r->proto_version = cpu_to_le32(version);
	r->daemon_version = cpu_to_le32(DR_DAEMON_VERSION);
	r->codecs = cpu_to_le32(DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264));
	r->pixfmts = cpu_to_le32(DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_NV12));
	r->max_width = cpu_to_le32(DR_DAEMON_MAX_DIM);
	r->max_height = cpu_to_le32(DR_DAEMON_MAX_DIM);
	r->flags = cpu_to_le32(DAEDALUS_HELLO_F_CAPTURE_FMT |
			       (w->mapped ? DAEDALUS_HELLO_F_MAPPED : 0));
	return dr_write(w, n + sizeof(*r));
}
EXPORT_SYMBOL_IF_KUNIT(dr_attach);

void dr_world_set_mapped(struct dr_world *w, bool mapped)
{
	w->mapped = mapped;
}
EXPORT_SYMBOL_IF_KUNIT(dr_world_set_mapped);

void dr_daemon_reading(struct dr_world *w, bool reading)
{
	w->stopped = !reading;
	dr_drain(w);
}
EXPORT_SYMBOL_IF_KUNIT(dr_daemon_reading);

void dr_detach(struct dr_world *w)
{
	if (!w->daemon)
		return;
	daedalus_daemon_detach(w->dev);
	w->daemon = NULL;
	dr_drain(w);
}
EXPORT_SYMBOL_IF_KUNIT(dr_detach);

int dr_frame(struct dr_world *w, u32 ctx, u32 nth, u64 cookie, bool newest,
	     u32 flags, u64 ts, u32 bytes, bool inline_bytes, s64 generation)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	struct daedalus_resp_frame *r;
	u32 gen, used, data, i;
	size_t n;

	if (!c)
		return -EINVAL;
	/* job=newest: the last job sent; with none, a job never sent. */
	if (newest)
		nth = c->njobs ?: U32_MAX;
	if (nth && nth <= c->njobs) {
		cookie = c->cookies[nth - 1];
		gen = c->gens[nth - 1];
	} else if (nth) {
		/* A job the context never sent names a cookie nobody issued. */
		cookie = DAEDALUS_COOKIE(U32_MAX, 1);
		gen = 1;
	} else {
		/* A verbatim cookie: its job's generation, else the latest. */
		gen = c->njobs ? c->gens[c->njobs - 1] : 1;
		for (i = c->njobs; i > 0; i--) {
			if (c->cookies[i - 1] == cookie) {
				gen = c->gens[i - 1];
				break;
			}
		}
	}
	if (generation >= 0)
		gen = generation;
	/*
	 * A picture too large to send inline is announced without its bytes;
	 * a mapped job's is in its mapped buffer.
	 */
	used = (flags & DAEDALUS_FRAME_HAS_PIXELS) ? bytes : 0;
	data = inline_bytes && !w->mapped ? used : 0;
	if (sizeof(struct daedalus_hdr) + sizeof(*r) + data > DR_MSG_MAX)
		return -E2BIG;
	n = dr_hdr(w, DAEDALUS_RESP_FRAME, cookie, sizeof(*r) + data);
	r = (void *)(w->msg + n);
	memset(r, 0, sizeof(*r));
	r->ctx_id = cpu_to_le32(c->ctx_id ?: ctx);
	r->flags = cpu_to_le32(flags);
	r->timestamp = cpu_to_le64(flags & DAEDALUS_FRAME_HAS_PIXELS ? ts : 0);
	r->bytesused = cpu_to_le32(used);
	r->generation = cpu_to_le32(gen);
	memset(r + 1, 0xa5, data);
	return dr_write(w, n + sizeof(*r) + data);
}
EXPORT_SYMBOL_IF_KUNIT(dr_frame);

int dr_stream_info(struct dr_world *w, u32 ctx, u32 width, u32 height,
		   u32 dpb)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	struct daedalus_resp_stream_info *r;
	size_t n;

	if (!c)
		return -EINVAL;
	n = dr_hdr(w, DAEDALUS_RESP_STREAM_INFO, 0, sizeof(*r));
	r = (void *)(w->msg + n);
	memset(r, 0, sizeof(*r));
	r->ctx_id = cpu_to_le32(c->ctx_id ?: ctx);
	r->generation = cpu_to_le32(c->ctx ? READ_ONCE(c->ctx->jctx.stream_gen) :
					     c->reset_gen);
	r->coded_width = cpu_to_le32(width);
	r->coded_height = cpu_to_le32(height);
	r->visible_width = cpu_to_le32(width);
	r->visible_height = cpu_to_le32(height);
	r->pixfmt = cpu_to_le32(DAEDALUS_PIXFMT_NV12);
	r->dpb_size = cpu_to_le32(dpb);
	return dr_write(w, n + sizeof(*r));
}
EXPORT_SYMBOL_IF_KUNIT(dr_stream_info);

int dr_session_error(struct dr_world *w, u32 ctx, u32 code)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	__le32 *body;
	size_t n;

	if (!c)
		return -EINVAL;
	n = dr_hdr(w, DAEDALUS_RESP_SESSION_ERROR, 0, 2 * sizeof(__le32));
	body = (__le32 *)(w->msg + n);
	body[0] = cpu_to_le32(c->ctx_id ?: ctx);
	body[1] = cpu_to_le32(code);
	return dr_write(w, n + 2 * sizeof(__le32));
}
EXPORT_SYMBOL_IF_KUNIT(dr_session_error);

int dr_reset_done(struct dr_world *w, u32 ctx, s64 generation)
{
	struct dr_ctx *c = dr_ctx(w, ctx);
	__le32 *body;
	size_t n;

	if (!c)
		return -EINVAL;
	n = dr_hdr(w, DAEDALUS_RESP_RESET_DONE, 0, 2 * sizeof(__le32));
	body = (__le32 *)(w->msg + n);
	body[0] = cpu_to_le32(c->ctx_id ?: ctx);
	/* Default: the context's current generation, as the format says. */
	if (generation < 0)
		generation = c->ctx ? READ_ONCE(c->ctx->jctx.stream_gen) :
				      c->reset_gen;
	body[1] = cpu_to_le32((u32)generation);
	return dr_write(w, n + 2 * sizeof(__le32));
}
EXPORT_SYMBOL_IF_KUNIT(dr_reset_done);

unsigned int dr_tick(struct dr_world *w, u32 ms)
{
	unsigned int expired;

	WRITE_ONCE(w->dev->clock_ns, w->dev->clock_ns + (u64)ms * NSEC_PER_MSEC);
	expired = daedalus_job_watchdog(&w->dev->core, w->dev->clock_ns);
	dr_drain(w);
	return expired;
}
EXPORT_SYMBOL_IF_KUNIT(dr_tick);

/*
 * MEDIA_IOC_REQUEST_ALLOC: the media core's own allocation, its file
 * descriptor in this kthread's table (the kthreads' shared one).
 */
int dr_req_alloc(struct dr_world *w, u32 name)
{
	struct dr_req *r;
	int fd, ret;

	if (dr_req(w, name))
		return -EINVAL;
	if (w->nreqs == DR_MAX_REQS)
		return -ENFILE;
	ret = media_request_alloc(&w->dev->mdev, &fd);
	if (ret)
		return ret;
	r = &w->reqs[w->nreqs];
	r->req = media_request_get_by_fd(&w->dev->mdev, fd);
	if (IS_ERR(r->req)) {
		close_fd(fd);
		return PTR_ERR(r->req);
	}
	r->name = name;
	r->fd = fd;
	r->open = true;
	r->reported = false;
	w->nreqs++;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(dr_req_alloc);

/*
 * VIDIOC_S_EXT_CTRLS(V4L2_CTRL_WHICH_REQUEST_VAL): the request's decode
 * parameters, tagged with its name, from a user page as the ioctl has them.
 */
int dr_ctrls(struct dr_world *w, u32 ctx, u32 req)
{
	struct v4l2_ctrl_h264_decode_params dp = {
		.top_field_order_cnt = req,
	};
	struct v4l2_ext_control c = {
		.id = V4L2_CID_STATELESS_H264_DECODE_PARAMS,
		.size = sizeof(dp),
	};
	struct v4l2_ext_controls cs = {
		.which = V4L2_CTRL_WHICH_REQUEST_VAL,
		.count = 1,
		.request_fd = dr_req_fd(w, req),
		.controls = &c,
	};
	struct dr_ctx *dc = dr_ctx(w, ctx);
	struct daedalus_ctx *x;
	int ret;

	if (!dc || !dc->ctx)
		return -EINVAL;
	x = dc->ctx;
	if (!w->uctrls) {
		w->uctrls = kunit_vm_mmap(kunit_get_current_test(), NULL, 0,
					  PAGE_SIZE, PROT_READ | PROT_WRITE,
					  MAP_ANONYMOUS | MAP_PRIVATE, 0);
		if (IS_ERR_VALUE(w->uctrls)) {
			w->uctrls = 0;
			return -ENOMEM;
		}
	}
	if (copy_to_user((void __user *)w->uctrls, &dp, sizeof(dp)))
		return -EFAULT;
	c.ptr = (void __force *)w->uctrls;
	ret = v4l2_s_ext_ctrls(&x->fh, x->fh.ctrl_handler, x->fh.vdev,
			       &w->dev->mdev, &cs);
	dr_drain(w);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(dr_ctrls);

/* An ioctl of the request's file: MEDIA_REQUEST_IOC_QUEUE or _REINIT. */
static int dr_req_ioctl(struct dr_world *w, u32 name, unsigned int cmd)
{
	struct dr_req *r = dr_req(w, name);
	struct file *f;
	long ret;

	if (!r)
		return -EBADF;
	f = fget(r->fd);
	if (!f)
		return -EBADF;
	ret = f->f_op->unlocked_ioctl(f, cmd, 0);
	fput(f);
	dr_drain(w);
	return ret;
}

int dr_req_queue(struct dr_world *w, u32 req)
{
	return dr_req_ioctl(w, req, MEDIA_REQUEST_IOC_QUEUE);
}
EXPORT_SYMBOL_IF_KUNIT(dr_req_queue);

int dr_req_reinit(struct dr_world *w, u32 req)
{
	return dr_req_ioctl(w, req, MEDIA_REQUEST_IOC_REINIT);
}
EXPORT_SYMBOL_IF_KUNIT(dr_req_reinit);

int dr_req_close(struct dr_world *w, u32 req)
{
	struct dr_req *r = dr_req(w, req);

	if (!r)
		return -EBADF;
	r->open = false;
	close_fd(r->fd);
	flush_delayed_fput();
	dr_drain(w);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(dr_req_close);

/*
 * After every event: each request that became COMPLETE since the last
 * one, by name, as the userspace executor logs them.
 */
void dr_io_requests(struct dr_world *w, u32 line)
{
	unsigned long flags;
	unsigned int r, best;
	bool complete;

	for (r = 0; r < w->nreqs; r++) {
		spin_lock_irqsave(&w->reqs[r].req->lock, flags);
		complete = w->reqs[r].req->state == MEDIA_REQUEST_STATE_COMPLETE;
		spin_unlock_irqrestore(&w->reqs[r].req->lock, flags);
		if (!complete)
			w->reqs[r].reported = false;
	}
	for (;;) {
		best = w->nreqs;
		for (r = 0; r < w->nreqs; r++) {
			if (w->reqs[r].reported ||
			    READ_ONCE(w->reqs[r].req->state) !=
			    MEDIA_REQUEST_STATE_COMPLETE)
				continue;
			if (best == w->nreqs ||
			    w->reqs[r].name < w->reqs[best].name)
				best = r;
		}
		if (best == w->nreqs)
			return;
		w->reqs[best].reported = true;
		dr_io_append(w, "%u: request_done req=%u\n", line,
			     w->reqs[best].name);
	}
}
EXPORT_SYMBOL_IF_KUNIT(dr_io_requests);

const char *dr_log(struct dr_world *w, size_t *len, bool *full)
{
	unsigned long flags;

	spin_lock_irqsave(&dr_log_lock, flags);
	*len = w->log_len;
	*full = w->log_full;
	spin_unlock_irqrestore(&dr_log_lock, flags);
	return w->log;
}
EXPORT_SYMBOL_IF_KUNIT(dr_log);

void dr_io_result(struct dr_world *w, u32 line, int ret, bool dqbuf,
		  u32 index, u32 flags, u64 ts)
{
	if (dqbuf && !ret)
		dr_io_append(w, "%u: dqbuf index=%u ts=%llu%s\n", line, index,
			     ts, flags & V4L2_BUF_FLAG_LAST ? " LAST" : "");
	else if (ret < 0)
		dr_io_append(w, "%u: ret=%d\n", line, ret);
}
EXPORT_SYMBOL_IF_KUNIT(dr_io_result);

const char *dr_io(struct dr_world *w, size_t *len, bool *full)
{
	*len = w->io_len;
	*full = w->io_full;
	return w->io;
}
EXPORT_SYMBOL_IF_KUNIT(dr_io);

void dr_io_stats(struct dr_world *w)
{
	struct daedalus_job_stats st;
	char line[512];

	daedalus_job_get_stats(&w->dev->core, &st);
	daedalus_job_stats_line(&st, line, sizeof(line));
	dr_io_append(w, "%s", line);
}
EXPORT_SYMBOL_IF_KUNIT(dr_io_stats);

void dr_stats(struct dr_world *w, struct dr_stats *out)
{
	struct daedalus_job_stats st;
	int i;

	daedalus_job_get_stats(&w->dev->core, &st);
	out->runs = st.runs;
	out->finished = st.finished;
	out->src_done = st.src_done;
	out->dst_done = st.dst_done;
	out->errors = st.errors;
	out->expired = st.expired;
	out->rejected = 0;
	for (i = 0; i < DAEDALUS_REJECT_MAX; i++)
		out->rejected += st.rejected[i];
	out->in_flight = st.in_flight;
	out->parked = st.parked;
	out->running = st.running;
}
EXPORT_SYMBOL_IF_KUNIT(dr_stats);
