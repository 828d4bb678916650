// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite daedalus_job: the job core and the daemon protocol inside the
 * real kernel, on the real v4l2-mem2mem scheduler and real vb2 queues.
 *
 * Each test makes a bare device (no nodes), plays the daemon through raw
 * protocol bytes written and read in process, and drives a context's queues
 * the way the ioctls do. The daemon's messages are encoded here by hand,
 * not with the module's codec, so a codec bug cannot hide itself.
 *
 * Every test ends with the ownership invariants checked on the core's
 * counters: every device_run got exactly one job_finish, and nothing is
 * left claimed or parked once the context is gone.
 */

#include <kunit/test.h>
#include <kunit/visibility.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <media/v4l2-mem2mem.h>
#include <media/videobuf2-core.h>

#include "daedalus.h"
#include "daedalus_test.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

#define DJ_BUFS		4
#define DJ_MSG_MAX	(64 * 1024)
#define DJ_BITSTREAM	96
#define DJ_PICTURE	128
#define DJ_WAIT_MS	5000

/**
 * struct dj_fixture - one test's device, context and daemon
 * @dev:	bare device
 * @ctx:	open context, NULL once a test closed it
 * @daemon:	the attached daemon's file; only its address is used
 * @msg:	scratch for one message either way
 * @st:	counters snapshot, refreshed by dj_stats()
 */
struct dj_fixture {
	struct daedalus_dev *dev;
	struct daedalus_ctx *ctx;
	struct file *daemon;
	u8 *msg;
	struct daedalus_job_stats st;
};

/**
 * struct dj_decode - the parts of a REQ_DECODE the tests look at
 * @cookie:	hdr.cookie
 * @ctx_id:	the context
 * @flags:	DAEDALUS_DECODE_F_*
 * @generation:	stream generation
 * @timestamp:	OUTPUT timestamp
 * @src_index:	OUTPUT index or DAEDALUS_NO_BUF
 * @dst_index:	CAPTURE index
 * @bytes:	bitstream bytes
 */
struct dj_decode {
	u64 cookie;
	u32 ctx_id;
	u32 flags;
	u32 generation;
	u64 timestamp;
	u32 src_index;
	u32 dst_index;
	u32 bytes;
};

/* Daemon side: encoding responses. */

static size_t dj_hdr(void *buf, u32 magic, u16 version, u16 type, u64 cookie,
		     u32 payload_len)
{
	struct daedalus_hdr *h = buf;

	h->magic = cpu_to_le32(magic);
	h->version = cpu_to_le16(version);
	h->type = cpu_to_le16(type);
	h->payload_len = cpu_to_le32(payload_len);
	h->reserved = 0;
	h->cookie = cpu_to_le64(cookie);
	return sizeof(*h);
}

static size_t dj_encode_hello(u8 *buf, u32 proto_version)
{
	struct daedalus_resp_hello *r = (void *)(buf + sizeof(struct daedalus_hdr));

	dj_hdr(buf, DAEDALUS_PROTO_MAGIC, DAEDALUS_PROTO_VERSION,
	       DAEDALUS_RESP_HELLO, 0, sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->proto_version = cpu_to_le32(proto_version);
	r->daemon_version = cpu_to_le32(0x010000);
	r->codecs = cpu_to_le32(DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264));
	r->pixfmts = cpu_to_le32(DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_NV12));
	r->max_width = cpu_to_le32(1920);
	r->max_height = cpu_to_le32(1088);
	return sizeof(struct daedalus_hdr) + sizeof(*r);
}

static size_t dj_encode_frame(u8 *buf, u64 cookie, u32 ctx_id, u32 flags,
			      u64 timestamp, u32 generation)
{
	struct daedalus_resp_frame *r = (void *)(buf + sizeof(struct daedalus_hdr));
	u32 data = (flags & DAEDALUS_FRAME_HAS_PIXELS) ? DJ_PICTURE : 0;

	dj_hdr(buf, DAEDALUS_PROTO_MAGIC, DAEDALUS_PROTO_VERSION,
	       DAEDALUS_RESP_FRAME, cookie, sizeof(*r) + data);
	memset(r, 0, sizeof(*r));
	r->ctx_id = cpu_to_le32(ctx_id);
	r->flags = cpu_to_le32(flags);
	if (data) {
		r->timestamp = cpu_to_le64(timestamp);
		r->bytesused = cpu_to_le32(data);
		memset(r + 1, 0x5a, data);
	}
	r->generation = cpu_to_le32(generation);
	return sizeof(struct daedalus_hdr) + sizeof(*r) + data;
}

static int dj_frame(struct dj_fixture *f, const struct dj_decode *d, u32 flags,
		    u64 timestamp)
{
	size_t n = dj_encode_frame(f->msg, d->cookie, d->ctx_id, flags,
				   timestamp, d->generation);

	return daedalus_daemon_write(f->dev, f->msg, n);
}

/* Daemon side: reading requests. */

/* Pops the next request and checks its type; returns its body or NULL. */
static void *dj_pop(struct kunit *test, struct dj_fixture *f, u16 type,
		    u64 *cookie)
{
	struct daedalus_hdr *h = (void *)f->msg;
	ssize_t n;

	n = daedalus_daemon_pop(f->dev, f->msg, DJ_MSG_MAX);
	KUNIT_EXPECT_GE_MSG(test, n, (ssize_t)sizeof(*h),
			    "no request queued, wanted type %#x", type);
	if (n < (ssize_t)sizeof(*h))
		return NULL;
	KUNIT_EXPECT_EQ(test, le32_to_cpu(h->magic), DAEDALUS_PROTO_MAGIC);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(h->payload_len),
			(u32)(n - sizeof(*h)));
	KUNIT_EXPECT_EQ_MSG(test, le16_to_cpu(h->type), type,
			    "unexpected request type");
	if (le16_to_cpu(h->type) != type)
		return NULL;
	if (cookie)
		*cookie = le64_to_cpu(h->cookie);
	return h + 1;
}

static void dj_expect_no_request(struct kunit *test, struct dj_fixture *f)
{
	KUNIT_EXPECT_EQ(test, daedalus_daemon_pop(f->dev, f->msg, DJ_MSG_MAX),
			(ssize_t)0);
}

/* Nothing left for the daemon to read, and nothing counted as unread. */
static void dj_expect_queue_empty(struct kunit *test, struct dj_fixture *f)
{
	dj_expect_no_request(test, f);
	KUNIT_EXPECT_EQ(test, READ_ONCE(f->dev->daemon.outq.reqs), 0u);
	KUNIT_EXPECT_EQ(test, READ_ONCE(f->dev->daemon.outq.bytes), 0ull);
}

static bool dj_pop_decode(struct kunit *test, struct dj_fixture *f,
			  struct dj_decode *d)
{
	struct daedalus_req_decode *r;

	r = dj_pop(test, f, DAEDALUS_REQ_DECODE, &d->cookie);
	if (!r)
		return false;
	d->ctx_id = le32_to_cpu(r->ctx_id);
	d->flags = le32_to_cpu(r->flags);
	d->generation = le32_to_cpu(r->generation);
	d->timestamp = le64_to_cpu(r->timestamp);
	d->src_index = le32_to_cpu(r->src_index);
	d->dst_index = le32_to_cpu(r->dst_index);
	d->bytes = le32_to_cpu(r->bytes);
	return true;
}

/* Client side. */

static void dj_stats(struct dj_fixture *f)
{
	daedalus_job_get_stats(&f->dev->core, &f->st);
}

static u64 dj_rejected(struct dj_fixture *f, enum daedalus_reject reason)
{
	dj_stats(f);
	return f->st.rejected[reason];
}

static void dj_queue_src(struct kunit *test, struct dj_fixture *f, u32 index,
			 u64 timestamp)
{
	u8 bits[DJ_BITSTREAM];

	memset(bits, index + 1, sizeof(bits));
	KUNIT_ASSERT_EQ(test, daedalus_test_qbuf(f->ctx, false, index, bits,
						 sizeof(bits), timestamp), 0);
}

static void dj_queue_dst(struct kunit *test, struct dj_fixture *f, u32 index)
{
	KUNIT_ASSERT_EQ(test, daedalus_test_qbuf(f->ctx, true, index, NULL, 0, 0),
			0);
}

/* Dequeues one buffer and checks it; returns false when none was done. */
static bool dj_dq(struct kunit *test, struct dj_fixture *f, bool capture,
		  u32 index, bool error, struct daedalus_test_buf *out)
{
	struct daedalus_test_buf b;
	int ret;

	ret = daedalus_test_dqbuf(f->ctx, capture, &b);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "%s buffer %u not done",
			    capture ? "CAPTURE" : "OUTPUT", index);
	if (ret)
		return false;
	KUNIT_EXPECT_EQ(test, b.index, index);
	KUNIT_EXPECT_EQ_MSG(test, b.error, error, "%s buffer %u error flag",
			    capture ? "CAPTURE" : "OUTPUT", index);
	if (out)
		*out = b;
	return true;
}

/* Pops requests until one of @type; others (in order) are skipped. */
static void *dj_find(struct kunit *test, struct dj_fixture *f, u16 type)
{
	struct daedalus_hdr *h = (void *)f->msg;
	int i;

	for (i = 0; i < 8; i++) {
		if (daedalus_daemon_pop(f->dev, f->msg, DJ_MSG_MAX) <
		    (ssize_t)sizeof(*h))
			break;
		if (le16_to_cpu(h->type) == type)
			return h + 1;
	}
	KUNIT_FAIL(test, "no request of type %#x queued", type);
	return NULL;
}

static void dj_expect_nothing_done(struct kunit *test, struct dj_fixture *f,
				   bool capture)
{
	struct daedalus_test_buf b = {};

	KUNIT_EXPECT_EQ_MSG(test, daedalus_test_dqbuf(f->ctx, capture, &b),
			    -EAGAIN, "%s buffer %u done too early",
			    capture ? "CAPTURE" : "OUTPUT", b.index);
}

/*
 * Streams on with @nsrc sources (timestamps 1000, 2000, ...) and @ndst
 * CAPTURE buffers queued, and reads REQ_SESSION_OPEN: the first REQ_DECODE
 * is queued, unread.
 */
static void dj_start_unread(struct kunit *test, struct dj_fixture *f,
			    u32 nsrc, u32 ndst)
{
	u32 i;

	for (i = 0; i < ndst; i++)
		dj_queue_dst(test, f, i);
	KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, true), 0);
	for (i = 0; i < nsrc; i++)
		dj_queue_src(test, f, i, 1000ull * (i + 1));
	KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, false), 0);
	KUNIT_ASSERT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_SESSION_OPEN,
					   NULL));
}

/* dj_start_unread(), then the first REQ_DECODE read into @d. */
static bool dj_start(struct kunit *test, struct dj_fixture *f, u32 nsrc,
		     u32 ndst, struct dj_decode *d)
{
	dj_start_unread(test, f, nsrc, ndst);
	return dj_pop_decode(test, f, d);
}

/*
 * Waits for the device_run that follows a job_finish, reads its job. The
 * workqueue may already have run it: the finished jobs, not the runs so
 * far, say which run is the next.
 */
static bool dj_next_job(struct kunit *test, struct dj_fixture *f,
			struct dj_decode *d)
{
	dj_stats(f);
	KUNIT_ASSERT_EQ(test, daedalus_test_wait_runs(f->dev,
						      f->st.finished + 1,
						      DJ_WAIT_MS), 0);
	return dj_pop_decode(test, f, d);
}

/* Fixture. */

static void dj_attach(struct kunit *test, struct dj_fixture *f)
{
	struct daedalus_req_hello *hello;
	size_t n;

	KUNIT_ASSERT_EQ(test, daedalus_daemon_attach(f->dev, f->daemon), 0);
	hello = dj_pop(test, f, DAEDALUS_REQ_HELLO, NULL);
	KUNIT_ASSERT_NOT_NULL(test, hello);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hello->proto_version),
			DAEDALUS_PROTO_VERSION);
	n = dj_encode_hello(f->msg, DAEDALUS_PROTO_VERSION);
	KUNIT_ASSERT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), 0);
}

static int dj_init(struct kunit *test)
{
	struct dj_fixture *f;
	unsigned int count;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	test->priv = f;
	f->msg = kunit_kzalloc(test, DJ_MSG_MAX, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->msg);
	f->daemon = kunit_kzalloc(test, sizeof(*f->daemon), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->daemon);

	f->dev = daedalus_dev_create(false);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f->dev);
	dj_attach(test, f);

	f->ctx = daedalus_ctx_create(f->dev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f->ctx);
	KUNIT_ASSERT_EQ(test, daedalus_test_set_format(f->ctx, V4L2_PIX_FMT_H264,
						       320, 240), 0);
	count = DJ_BUFS;
	KUNIT_ASSERT_EQ(test, daedalus_test_reqbufs(f->ctx, false, &count), 0);
	KUNIT_ASSERT_EQ(test, count, DJ_BUFS);
	count = DJ_BUFS;
	KUNIT_ASSERT_EQ(test, daedalus_test_reqbufs(f->ctx, true, &count), 0);
	KUNIT_ASSERT_EQ(test, count, DJ_BUFS);
	return 0;
}

static void dj_exit(struct kunit *test)
{
	struct dj_fixture *f = test->priv;

	if (!f || IS_ERR_OR_NULL(f->dev))
		return;
	if (!IS_ERR_OR_NULL(f->ctx))
		daedalus_ctx_destroy(f->ctx);
	f->ctx = NULL;
	daedalus_daemon_detach(f->dev);

	/* Invariant 3: one job_finish per device_run; nothing left behind. */
	dj_stats(f);
	KUNIT_EXPECT_EQ_MSG(test, f->st.finished, f->st.runs,
			    "device_run without exactly one job_finish");
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
	KUNIT_EXPECT_EQ(test, f->st.parked, 0);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	daedalus_dev_destroy(f->dev);
}

/* Tests. */

/* device_run claims both buffers off the ready queues before sending. */
static void dj_claim(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct v4l2_m2m_ctx *m2m = f->ctx->fh.m2m_ctx;
	struct dj_decode d;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d));
	KUNIT_EXPECT_EQ(test, d.ctx_id, f->ctx->jctx.ctx_id);
	KUNIT_EXPECT_EQ(test, d.src_index, 0);
	KUNIT_EXPECT_EQ(test, d.dst_index, 0);
	KUNIT_EXPECT_EQ(test, d.bytes, DJ_BITSTREAM);
	KUNIT_EXPECT_EQ(test, d.timestamp, 1000);
	KUNIT_EXPECT_EQ(test, d.flags & DAEDALUS_DECODE_F_NO_SRC, 0);
	KUNIT_EXPECT_NE(test, DAEDALUS_COOKIE_GEN(d.cookie), 0);

	KUNIT_EXPECT_EQ(test, v4l2_m2m_num_src_bufs_ready(m2m), 0);
	KUNIT_EXPECT_EQ(test, v4l2_m2m_num_dst_bufs_ready(m2m), 0);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 1);
	KUNIT_EXPECT_EQ(test, f->st.running, 1);
	KUNIT_EXPECT_EQ(test, f->st.jobs, 1);
	KUNIT_EXPECT_EQ(test, daedalus_job_ctx_count(&f->ctx->jctx, NULL), 1);
	dj_expect_nothing_done(test, f, false);
	dj_expect_nothing_done(test, f, true);
	dj_expect_no_request(test, f);
}

/* SRC_CONSUMED finishes the job and parks dst; HAS_PIXELS completes it. */
static void dj_park_complete(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_test_buf b;
	unsigned int parked;
	struct dj_decode d;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	dj_dq(test, f, false, 0, false, NULL);
	dj_expect_nothing_done(test, f, true);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.finished, 1);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	KUNIT_EXPECT_EQ(test, f->st.parked, 1);
	KUNIT_EXPECT_EQ(test, daedalus_job_ctx_count(&f->ctx->jctx, &parked), 1);
	KUNIT_EXPECT_EQ(test, parked, 1);

	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_HAS_PIXELS, 1000), 0);
	if (dj_dq(test, f, true, 0, false, &b)) {
		KUNIT_EXPECT_EQ(test, b.bytesused, DJ_PICTURE);
		KUNIT_EXPECT_EQ(test, b.timestamp, 1000);
	}
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.parked, 0);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
	KUNIT_EXPECT_EQ(test, f->st.src_done, 1);
	KUNIT_EXPECT_EQ(test, f->st.dst_done, 1);
	KUNIT_EXPECT_EQ(test, f->st.errors, 0);
}

/*
 * Reordering: job 2 returns the picture of source 1 before job 1's own
 * picture; each CAPTURE buffer carries the timestamp of the source that
 * produced it, not of the source it was paired with.
 */
static void dj_reorder_timestamps(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct dj_decode d1, d2;
	struct daedalus_test_buf b;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 2, 2, &d1));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d2));
	KUNIT_EXPECT_NE(test, d1.cookie, d2.cookie);
	KUNIT_EXPECT_EQ(test, d2.src_index, 1);
	KUNIT_EXPECT_EQ(test, d2.dst_index, 1);
	KUNIT_EXPECT_EQ(test, d2.timestamp, 2000);

	KUNIT_ASSERT_EQ(test, dj_frame(f, &d2, DAEDALUS_FRAME_SRC_CONSUMED |
				       DAEDALUS_FRAME_HAS_PIXELS, 1000), 0);
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_HAS_PIXELS, 2000), 0);

	dj_dq(test, f, false, 0, false, NULL);
	dj_dq(test, f, false, 1, false, NULL);
	if (dj_dq(test, f, true, 1, false, &b))
		KUNIT_EXPECT_EQ(test, b.timestamp, 1000);
	if (dj_dq(test, f, true, 0, false, &b))
		KUNIT_EXPECT_EQ(test, b.timestamp, 2000);
}

/* A failed decode returns both buffers with ERROR, each exactly once. */
static void dj_fail(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct dj_decode d;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED |
				       DAEDALUS_FRAME_HAS_PIXELS |
				       DAEDALUS_FRAME_ERROR, 1000), 0);
	dj_dq(test, f, false, 0, true, NULL);
	dj_dq(test, f, true, 0, true, NULL);
	dj_expect_nothing_done(test, f, true);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.errors, 2);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
}

/* Replies for finished jobs and duplicate parts are refused, counted. */
static void dj_late_and_duplicate_replies(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct dj_decode d, bogus;
	u64 stale;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_EXPECT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_DUP_SRC), 1);

	bogus = d;
	bogus.ctx_id = d.ctx_id + 100;
	KUNIT_EXPECT_EQ(test, dj_frame(f, &bogus, DAEDALUS_FRAME_HAS_PIXELS, 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_WRONG_CTX), 1);
	bogus = d;
	bogus.generation = d.generation + 1;
	KUNIT_EXPECT_EQ(test, dj_frame(f, &bogus, DAEDALUS_FRAME_HAS_PIXELS, 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_STALE_GENERATION), 1);

	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_HAS_PIXELS, 1000), 0);
	dj_dq(test, f, false, 0, false, NULL);
	dj_dq(test, f, true, 0, false, NULL);

	/* The job is over: its cookie is dead. */
	dj_stats(f);
	stale = f->st.rejected[DAEDALUS_REJECT_STALE_COOKIE] +
		f->st.rejected[DAEDALUS_REJECT_UNKNOWN_COOKIE];
	KUNIT_EXPECT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_HAS_PIXELS, 1000),
			-EINVAL);
	bogus = d;
	bogus.cookie = DAEDALUS_COOKIE(DAEDALUS_JOB_SLOTS + 7, 3);
	KUNIT_EXPECT_EQ(test, dj_frame(f, &bogus, DAEDALUS_FRAME_SRC_CONSUMED, 0),
			-EINVAL);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.rejected[DAEDALUS_REJECT_STALE_COOKIE] +
			f->st.rejected[DAEDALUS_REJECT_UNKNOWN_COOKIE], stale + 2);
	KUNIT_EXPECT_EQ(test, f->st.dst_done, 1);
	dj_expect_nothing_done(test, f, true);
}

/*
 * A table shrunk to two slots (one context, two CAPTURE buffers) wraps at
 * the third job: slot 0 again, under its next generation, and the first
 * job's cookie is refused. Limits out of range, or set once a job ran, are
 * refused and change nothing.
 */
static void dj_limits(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_job_core *core = &f->dev->core;
	struct dj_decode d[3];
	u32 i;

	KUNIT_EXPECT_EQ(test, daedalus_job_core_set_limits(core, 0, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, daedalus_job_core_set_limits(core,
				DAEDALUS_MAX_CONTEXTS + 1, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, daedalus_job_core_set_limits(core, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, daedalus_job_core_set_limits(core, 1,
				DAEDALUS_MAX_CAPTURE_BUFS + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, core->nr_slots, DAEDALUS_JOB_SLOTS);
	KUNIT_ASSERT_EQ(test, daedalus_job_core_set_limits(core, 1, 2), 0);
	KUNIT_EXPECT_EQ(test, core->nr_slots, 2);
	KUNIT_EXPECT_EQ(test, core->max_contexts, 1);
	KUNIT_EXPECT_EQ(test, core->max_capture_bufs, 2);

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d[0]));
	KUNIT_EXPECT_EQ(test, daedalus_job_core_set_limits(core, 2, 2), -EBUSY);
	KUNIT_EXPECT_EQ(test, core->nr_slots, 2);
	for (i = 0; i < 3; i++) {
		if (i) {
			dj_queue_dst(test, f, 0);
			dj_queue_src(test, f, 0, 1000ull * (i + 1));
			KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d[i]));
		}
		KUNIT_ASSERT_EQ(test, dj_frame(f, &d[i],
					       DAEDALUS_FRAME_SRC_CONSUMED |
					       DAEDALUS_FRAME_HAS_PIXELS,
					       1000ull * (i + 1)), 0);
		dj_dq(test, f, false, 0, false, NULL);
		dj_dq(test, f, true, 0, false, NULL);
	}
	KUNIT_EXPECT_EQ(test, DAEDALUS_COOKIE_ID(d[0].cookie), 0);
	KUNIT_EXPECT_EQ(test, DAEDALUS_COOKIE_ID(d[1].cookie), 1);
	KUNIT_EXPECT_EQ(test, DAEDALUS_COOKIE_ID(d[2].cookie), 0);
	KUNIT_EXPECT_EQ(test, DAEDALUS_COOKIE_GEN(d[2].cookie),
			DAEDALUS_COOKIE_GEN(d[0].cookie) + 1);
	KUNIT_EXPECT_EQ(test, dj_frame(f, &d[0], DAEDALUS_FRAME_HAS_PIXELS, 1000),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_STALE_COOKIE), 1);
}

/* The watchdog ends a stuck job; parked pictures are not timed. */
static void dj_watchdog(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	u64 later = ktime_get_ns() + 60ull * NSEC_PER_SEC;
	struct dj_decode d1, d2;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 2, 2, &d1));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d2));

	KUNIT_EXPECT_EQ(test, daedalus_job_watchdog(&f->dev->core, later), 1);
	dj_dq(test, f, false, 0, false, NULL);
	dj_dq(test, f, false, 1, true, NULL);
	dj_dq(test, f, true, 1, true, NULL);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.expired, 1);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	KUNIT_EXPECT_EQ(test, f->st.parked, 1);
	KUNIT_EXPECT_EQ(test, daedalus_job_watchdog(&f->dev->core, later), 0);

	/* The expired job's late reply is stale; the parked one still works. */
	KUNIT_EXPECT_EQ(test, dj_frame(f, &d2, DAEDALUS_FRAME_SRC_CONSUMED, 0),
			-EINVAL);
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_HAS_PIXELS, 1000), 0);
	dj_dq(test, f, true, 0, false, NULL);
}

/*
 * STREAMOFF with a running job and a parked picture: every buffer comes
 * back (vb2 would warn about one left active), the cookies die.
 */
static void dj_streamoff_in_flight(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct vb2_queue *cap = v4l2_m2m_get_dst_vq(f->ctx->fh.m2m_ctx);
	struct dj_decode d1, d2;
	u32 i;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 2, 3, &d1));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d2));

	KUNIT_EXPECT_EQ(test, daedalus_test_streamoff(f->ctx, false), 0);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	KUNIT_EXPECT_EQ(test, f->st.finished, f->st.runs);
	KUNIT_ASSERT_NOT_NULL(test, dj_find(test, f, DAEDALUS_REQ_RESET));

	KUNIT_EXPECT_EQ(test, daedalus_test_streamoff(f->ctx, true), 0);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
	KUNIT_EXPECT_EQ(test, f->st.parked, 0);
	for (i = 0; i < DJ_BUFS; i++)
		KUNIT_EXPECT_EQ_MSG(test, vb2_get_buffer(cap, i)->state,
				    VB2_BUF_STATE_DEQUEUED,
				    "CAPTURE buffer %u not returned", i);

	KUNIT_EXPECT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_HAS_PIXELS, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, dj_frame(f, &d2, DAEDALUS_FRAME_SRC_CONSUMED, 0),
			-EINVAL);
	dj_stats(f);
	/* src 0 consumed, src 1 and dst 1 aborted, parked dst 0 cancelled. */
	KUNIT_EXPECT_EQ(test, f->st.src_done, 2);
	KUNIT_EXPECT_EQ(test, f->st.dst_done, 2);
}

/* Closing a context with a running job and a parked picture. */
static void dj_close_in_flight(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct dj_decode d1, d2;
	u64 rejected;
	int i;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 2, 2, &d1));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d2));

	daedalus_ctx_destroy(f->ctx);
	f->ctx = NULL;
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	KUNIT_EXPECT_EQ(test, f->st.finished, f->st.runs);
	KUNIT_EXPECT_NOT_NULL(test, dj_find(test, f, DAEDALUS_REQ_SESSION_CLOSE));

	rejected = 0;
	for (i = 0; i < DAEDALUS_REJECT_MAX; i++)
		rejected += f->st.rejected[i];
	KUNIT_EXPECT_NE(test, dj_frame(f, &d1, DAEDALUS_FRAME_HAS_PIXELS, 1), 0);
	KUNIT_EXPECT_NE(test, dj_frame(f, &d2, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	dj_stats(f);
	for (i = 0; i < DAEDALUS_REJECT_MAX; i++)
		rejected -= f->st.rejected[i];
	KUNIT_EXPECT_EQ(test, (s64)rejected, -2);
}

/* The daemon dies mid-stream: buffers back with ERROR, queues in error. */
static void dj_daemon_death(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct vb2_queue *out = v4l2_m2m_get_src_vq(f->ctx->fh.m2m_ctx);
	struct vb2_queue *cap = v4l2_m2m_get_dst_vq(f->ctx->fh.m2m_ctx);
	struct daedalus_test_buf b;
	struct dj_decode d1, d2;
	u32 i;

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 2, 2, &d1));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d1, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_TRUE(test, dj_next_job(test, f, &d2));

	daedalus_daemon_detach(f->dev);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.in_flight, 0);
	KUNIT_EXPECT_EQ(test, f->st.running, 0);
	KUNIT_EXPECT_EQ(test, f->st.finished, f->st.runs);
	/* src 0 was consumed; src 1, dst 1 (running) and dst 0 (parked) fail. */
	KUNIT_EXPECT_EQ(test, f->st.src_done, 2);
	KUNIT_EXPECT_EQ(test, f->st.dst_done, 2);
	KUNIT_EXPECT_EQ(test, f->st.errors, 3);
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_NE_MSG(test, vb2_get_buffer(out, i)->state,
				    VB2_BUF_STATE_ACTIVE, "OUTPUT %u kept", i);
		KUNIT_EXPECT_NE_MSG(test, vb2_get_buffer(cap, i)->state,
				    VB2_BUF_STATE_ACTIVE, "CAPTURE %u kept", i);
	}
	/* The client learns it from DQBUF: both queues are in error. */
	KUNIT_EXPECT_EQ(test, daedalus_test_dqbuf(f->ctx, false, &b), -EIO);
	KUNIT_EXPECT_EQ(test, daedalus_test_dqbuf(f->ctx, true, &b), -EIO);

	/* Nothing from the dead daemon is accepted; a new daemon attaches. */
	KUNIT_EXPECT_NE(test, dj_frame(f, &d1, DAEDALUS_FRAME_HAS_PIXELS, 1), 0);
	dj_attach(test, f);
}

/* A second daemon is refused while the first one serves. */
static void dj_second_daemon(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct file *second;
	struct dj_decode d;

	second = kunit_kzalloc(test, sizeof(*second), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, second);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_attach(f->dev, second), -EBUSY);
	dj_expect_no_request(test, f);

	KUNIT_ASSERT_TRUE(test, dj_start(test, f, 1, 1, &d));
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED |
				       DAEDALUS_FRAME_HAS_PIXELS, 1000), 0);
	dj_dq(test, f, true, 0, false, NULL);
}

struct dj_racer {
	struct daedalus_dev *dev;
	struct file *file;
	int ret;
	struct completion done;
};

static int dj_detach_fn(void *data)
{
	struct dj_racer *r = data;

	daedalus_daemon_detach(r->dev);
	complete(&r->done);
	while (!kthread_should_stop())
		msleep(1);
	return 0;
}

static int dj_attach_fn(void *data)
{
	struct dj_racer *r = data;

	r->ret = daedalus_daemon_attach(r->dev, r->file);
	complete(&r->done);
	while (!kthread_should_stop())
		msleep(1);
	return 0;
}

/*
 * A daemon opens /dev/daedalus while the last one's close is half done:
 * the test holds the context list lock, which stops the detach right after
 * it gave up the daemon's file and before it drops the request queue and
 * cancels the watchdog. The new daemon's open must wait for the whole
 * detach (it would otherwise queue its REQ_HELLO just in time for the old
 * detach to drop it), then find REQ_HELLO first in its queue.
 */
static void dj_attach_detach_race(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct dj_racer old = { .dev = f->dev }, new = { .dev = f->dev };
	struct task_struct *t_old, *t_new;
	bool waited;

	new.file = kunit_kzalloc(test, sizeof(*new.file), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, new.file);
	init_completion(&old.done);
	init_completion(&new.done);

	mutex_lock(&f->dev->ctx_lock);
	t_old = kthread_run(dj_detach_fn, &old, "dj_detach");
	if (IS_ERR(t_old)) {
		mutex_unlock(&f->dev->ctx_lock);
		KUNIT_FAIL(test, "kthread_run");
		return;
	}
	/* The detach gave up the file and now waits for the list lock. */
	while (READ_ONCE(f->dev->daemon.file))
		msleep(1);
	t_new = kthread_run(dj_attach_fn, &new, "dj_attach");
	if (IS_ERR(t_new)) {
		mutex_unlock(&f->dev->ctx_lock);
		KUNIT_FAIL(test, "kthread_run");
		kthread_stop(t_old);
		return;
	}
	/* The new open must wait for the old detach to end. */
	waited = !wait_for_completion_timeout(&new.done, msecs_to_jiffies(200));
	mutex_unlock(&f->dev->ctx_lock);
	wait_for_completion(&old.done);
	wait_for_completion(&new.done);
	kthread_stop(t_old);
	kthread_stop(t_new);

	KUNIT_EXPECT_TRUE_MSG(test, waited,
			      "the new daemon attached while the old one's detach was half done");
	KUNIT_ASSERT_EQ(test, new.ret, 0);
	KUNIT_EXPECT_NOT_NULL_MSG(test, dj_pop(test, f, DAEDALUS_REQ_HELLO, NULL),
				  "the old detach dropped the new daemon's REQ_HELLO");
	daedalus_daemon_detach(f->dev);
	dj_attach(test, f);
}

/* A daemon speaking another protocol version is refused and stays unready. */
static void dj_version_mismatch(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	size_t n;

	daedalus_daemon_detach(f->dev);
	KUNIT_ASSERT_EQ(test, daedalus_daemon_attach(f->dev, f->daemon), 0);
	KUNIT_ASSERT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_HELLO, NULL));

	n = dj_encode_hello(f->msg, DAEDALUS_PROTO_VERSION + 1);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EPROTO);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_VERSION), 1);

	/* Not ready: job replies are out of state, and no session opens. */
	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), f->ctx->jctx.ctx_id,
			    DAEDALUS_FRAME_SRC_CONSUMED, 0, 0);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_STATE), 1);
	dj_queue_src(test, f, 0, 1000);
	KUNIT_EXPECT_NE(test, daedalus_test_streamon(f->ctx, false), 0);
	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.jobs, 0);

	/* The right version is still welcome afterwards. */
	n = dj_encode_hello(f->msg, DAEDALUS_PROTO_VERSION);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), 0);
}

/* Malformed messages: each gets its error and its counted reason. */
static void dj_message_validation(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_hdr *h = (void *)f->msg;
	struct daedalus_resp_frame *r = (void *)(h + 1);
	size_t n;

	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), 1,
			    DAEDALUS_FRAME_SRC_CONSUMED, 0, 0);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, 7), -EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_SHORT), 1);

	h->magic = cpu_to_le32(0x12345678);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EPROTO);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_MAGIC), 1);

	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), 1,
			    DAEDALUS_FRAME_SRC_CONSUMED, 0, 0);
	h->version = cpu_to_le16(DAEDALUS_PROTO_VERSION + 1);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EPROTO);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_VERSION), 1);

	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), 1,
			    DAEDALUS_FRAME_SRC_CONSUMED, 0, 0);
	h->type = cpu_to_le16(DAEDALUS_REQ_DECODE);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_TYPE), 1);

	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), 1,
			    DAEDALUS_FRAME_SRC_CONSUMED, 0, 0);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n + 4),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_LENGTH), 1);

	r->reserved[1] = cpu_to_le32(1);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EINVAL);
	KUNIT_EXPECT_EQ(test, dj_rejected(f, DAEDALUS_REJECT_RESERVED), 1);

	n = dj_encode_frame(f->msg, DAEDALUS_COOKIE(1, 1), 1, 1u << 31, 0, 0);
	KUNIT_EXPECT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), -EINVAL);

	dj_stats(f);
	KUNIT_EXPECT_EQ(test, f->st.jobs, 0);
	KUNIT_EXPECT_EQ(test, f->st.src_done + f->st.dst_done, 0);
}

/*
 * A daemon that stops reading while a client loops STREAMON/STREAMOFF of
 * both queues: each STREAMOFF queues a request, and the queue coalesces
 * them instead of growing with the loop.
 */
static void dj_queue_coalesces_streamoff_loop(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_outq *q = &f->dev->daemon.outq;
	u32 i, reset_gen = 0, *body;

	/* CAPTURE on, OUTPUT on, OUTPUT off (a seek), CAPTURE off. */
	for (i = 0; i < 200; i++) {
		KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, true), 0);
		KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, false), 0);
		KUNIT_ASSERT_EQ(test, daedalus_test_streamoff(f->ctx, false), 0);
		KUNIT_ASSERT_EQ(test, daedalus_test_streamoff(f->ctx, true), 0);
		KUNIT_ASSERT_LE_MSG(test, READ_ONCE(q->reqs), 3u,
				    "loop %u: the unread queue grows", i);
	}
	KUNIT_EXPECT_GE(test, READ_ONCE(q->coalesced), 2u * 199);
	/* What is left: the session, then its latest reset, then CAPTURE off. */
	KUNIT_EXPECT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_SESSION_OPEN,
					   NULL));
	body = dj_pop(test, f, DAEDALUS_REQ_RESET, NULL);
	if (body)
		reset_gen = le32_to_cpu(body[1]);
	KUNIT_EXPECT_EQ(test, reset_gen, READ_ONCE(f->ctx->jctx.stream_gen));
	KUNIT_EXPECT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_CAPTURE_OFF,
					   NULL));
	dj_expect_queue_empty(test, f);
}

/*
 * Closing a context whose session the daemon never read: the open, what
 * followed it and the close all go, and nothing stays counted.
 */
static void dj_queue_close_unread_session(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_outq *q = &f->dev->daemon.outq;

	KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, true), 0);
	KUNIT_ASSERT_EQ(test, daedalus_test_streamon(f->ctx, false), 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(q->reqs), 1u);
	daedalus_ctx_destroy(f->ctx);
	f->ctx = NULL;
	dj_expect_queue_empty(test, f);
}

/*
 * read() took a REQ_DECODE and its copy to the daemon failed, while a seek
 * (OUTPUT STREAMOFF) made it moot: it is not put back, and the daemon
 * reads the REQ_RESET next. Without the seek it would be put back whole.
 */
static void dj_queue_failed_read_of_moot_request(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_outq *q = &f->dev->daemon.outq;
	struct daedalus_out *out;
	struct dj_decode d;
	u64 cookie = 0;

	dj_start_unread(test, f, 1, 1);

	/* A failed copy of a live request: back at the head. */
	KUNIT_ASSERT_GT(test, daedalus_outq_take(q, DJ_MSG_MAX, &out), 0);
	daedalus_outq_done(q, out, false);
	KUNIT_ASSERT_TRUE(test, dj_pop_decode(test, f, &d));
	cookie = d.cookie;

	/* The job goes on; the next source's request is read and fails. */
	dj_queue_dst(test, f, 1);
	dj_queue_src(test, f, 1, 2000);
	KUNIT_ASSERT_EQ(test, dj_frame(f, &d, DAEDALUS_FRAME_SRC_CONSUMED, 0), 0);
	KUNIT_ASSERT_EQ(test, daedalus_test_wait_runs(f->dev, 2, DJ_WAIT_MS), 0);
	KUNIT_ASSERT_GT(test, daedalus_outq_take(q, DJ_MSG_MAX, &out), 0);
	KUNIT_EXPECT_NE(test, get_unaligned_le64(out->data +
						 offsetof(struct daedalus_hdr, cookie)), cookie);
	KUNIT_EXPECT_EQ(test, daedalus_test_streamoff(f->ctx, false), 0);
	daedalus_outq_done(q, out, false);

	KUNIT_EXPECT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_RESET, NULL));
	dj_expect_queue_empty(test, f);
}

/*
 * The same failed read of a mapped REQ_DECODE whose planes CAPTURE
 * STREAMOFF revoked while it was being copied out: put back, it would
 * name offsets the daemon can no longer map.
 */
static void dj_queue_failed_read_of_revoked_job(struct kunit *test)
{
	struct dj_fixture *f = test->priv;
	struct daedalus_outq *q = &f->dev->daemon.outq;
	const struct daedalus_req_decode *req;
	struct daedalus_resp_hello *r;
	struct daedalus_out *out;
	size_t n;

	/* The daemon again, now taking mapped jobs. */
	daedalus_daemon_detach(f->dev);
	KUNIT_ASSERT_EQ(test, daedalus_daemon_attach(f->dev, f->daemon), 0);
	KUNIT_ASSERT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_HELLO, NULL));
	n = dj_encode_hello(f->msg, DAEDALUS_PROTO_VERSION);
	r = (void *)(f->msg + sizeof(struct daedalus_hdr));
	r->flags = cpu_to_le32(DAEDALUS_HELLO_F_MAPPED);
	KUNIT_ASSERT_EQ(test, daedalus_daemon_write(f->dev, f->msg, n), 0);

	dj_start_unread(test, f, 1, 1);

	KUNIT_ASSERT_GT(test, daedalus_outq_take(q, DJ_MSG_MAX, &out), 0);
	req = (const void *)(out->data + sizeof(struct daedalus_hdr));
	KUNIT_EXPECT_TRUE(test, le32_to_cpu(req->flags) &
			  DAEDALUS_DECODE_F_MAPPED);
	KUNIT_EXPECT_EQ(test, daedalus_test_streamoff(f->ctx, true), 0);
	daedalus_outq_done(q, out, false);

	KUNIT_EXPECT_NOT_NULL(test, dj_pop(test, f, DAEDALUS_REQ_CAPTURE_OFF,
					   NULL));
	dj_expect_queue_empty(test, f);
}

/*
 * The stateless node's SPS control: the core's own checks, then the
 * node's bounds (daedalus_sdec.c): what daedalusd cannot lay out in a
 * CAPTURE buffer (4:2:2, 4:4:4, more than 8 bits) is refused with
 * -EINVAL, the control keeping its value; a 4:2:0 8-bit SPS is taken.
 */
static void dj_stateless_sps_bounds(struct kunit *test)
{
	static const struct v4l2_ctrl_h264_sps good = {
		.profile_idc = 100,
		.level_idc = 40,
		.chroma_format_idc = 1,
		.max_num_ref_frames = 4,
		.pic_width_in_mbs_minus1 = 19,
		.pic_height_in_map_units_minus1 = 14,
		.flags = V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY,
	};
	struct dj_fixture *f = test->priv;
	struct v4l2_ctrl_h264_sps *bad;
	struct daedalus_ctx *ctx;
	struct v4l2_ctrl *sps;
	u32 i;

	bad = kunit_kzalloc(test, sizeof(*bad), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bad);
	ctx = daedalus_ctx_create_kind(f->dev, true);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ctx);
	sps = v4l2_ctrl_find(&ctx->hdl, V4L2_CID_STATELESS_H264_SPS);
	KUNIT_ASSERT_NOT_NULL(test, sps);
	KUNIT_EXPECT_EQ(test, v4l2_ctrl_s_ctrl_compound(sps,
			V4L2_CTRL_TYPE_H264_SPS, &good), 0);
	for (i = 0; i < 4; i++) {
		*bad = good;
		if (i == 0)
			bad->chroma_format_idc = 2;
		else if (i == 1)
			bad->chroma_format_idc = 3;
		else if (i == 2)
			bad->bit_depth_luma_minus8 = bad->bit_depth_chroma_minus8 = 2;
		else
			bad->bit_depth_chroma_minus8 = 1;
		KUNIT_EXPECT_EQ_MSG(test, v4l2_ctrl_s_ctrl_compound(sps,
				    V4L2_CTRL_TYPE_H264_SPS, bad), -EINVAL,
				    "bad SPS %u taken", i);
		KUNIT_EXPECT_EQ_MSG(test, memcmp(sps->p_cur.p, &good,
						 sizeof(good)), 0,
				    "bad SPS %u changed the control", i);
	}
	daedalus_ctx_destroy(ctx);
}

static struct kunit_case daedalus_job_cases[] = {
	KUNIT_CASE(dj_claim),
	KUNIT_CASE(dj_park_complete),
	KUNIT_CASE(dj_reorder_timestamps),
	KUNIT_CASE(dj_fail),
	KUNIT_CASE(dj_late_and_duplicate_replies),
	KUNIT_CASE(dj_limits),
	KUNIT_CASE(dj_watchdog),
	KUNIT_CASE(dj_streamoff_in_flight),
	KUNIT_CASE(dj_close_in_flight),
	KUNIT_CASE(dj_daemon_death),
	KUNIT_CASE(dj_second_daemon),
	KUNIT_CASE(dj_attach_detach_race),
	KUNIT_CASE(dj_version_mismatch),
	KUNIT_CASE(dj_message_validation),
	KUNIT_CASE(dj_queue_coalesces_streamoff_loop),
	KUNIT_CASE(dj_queue_close_unread_session),
	KUNIT_CASE(dj_queue_failed_read_of_moot_request),
	KUNIT_CASE(dj_queue_failed_read_of_revoked_job),
	KUNIT_CASE(dj_stateless_sps_bounds),
	{}
};

static struct kunit_suite daedalus_job_suite = {
	.name		= "daedalus_job",
	.init		= dj_init,
	.exit		= dj_exit,
	.test_cases	= daedalus_job_cases,
};

kunit_test_suite(daedalus_job_suite);

MODULE_DESCRIPTION("KUnit tests for the daedalus job core and protocol");
MODULE_LICENSE("GPL");
