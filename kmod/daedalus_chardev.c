// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/daedalus: the daemon's end of protocol v1.
 *
 * One daemon at a time (a second open gets -EBUSY), whoever the node's
 * mode admits: udev gives it to the daemon's own unprivileged user. read()
 * returns one request per call, REQ_HELLO first, from a queue bounded by
 * back-pressure and coalescing (daedalus_outq.h); write() takes one
 * response per call, validated whole by daedalus_msg_parse() before any
 * state changes. Closing the file detaches the daemon: every job is
 * cancelled and every context's queues go to the error state.
 */

#include <kunit/visibility.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>

#include "daedalus.h"
#include "daedalus_dispatch.h"
#include "daedalus_trace.h"

/**
 * daedalus_daemon_init() - set up the daemon state of a new device
 * @d:		the device's daemon state (detached)
 */
void daedalus_daemon_init(struct daedalus_daemon *d)
{
	mutex_init(&d->attach_lock);
	mutex_init(&d->lock);
	mutex_init(&d->map_lock);
	mutex_init(&d->read_lock);
	daedalus_outq_init(&d->outq);
	init_waitqueue_head(&d->out_wait);
}

/**
 * daedalus_daemon_send() - queue one request for the daemon
 * @dev:	the device
 * @share:	the context it counts against (NULL for REQ_HELLO)
 * @type:	request type
 * @cookie:	hdr.cookie
 * @body:	fixed body, little-endian
 * @body_len:	size of @body
 * @data:	data copied after the body (bitstream), may be NULL
 * @data_len:	size of @data
 * @trace_flags: flags shown by the daedalus_msg_out tracepoint
 *
 * Takes only the queue spinlock, so it may be called with the job core
 * lock held. Only REQ_HELLO goes out before the handshake completes. The
 * queue may coalesce it with what is unread (daedalus_outq.h).
 *
 * Return: 0, -ENOTCONN without a ready daemon, -ENOMEM.
 */
int daedalus_daemon_send(struct daedalus_dev *dev,
			 struct daedalus_outq_share *share, u16 type,
			 u64 cookie, const void *body, u32 body_len,
			 const void *data, u32 data_len, u32 trace_flags)
{
	struct daedalus_daemon *d = &dev->daemon;
	size_t len = DAEDALUS_HDR_SIZE + body_len + data_len;
	struct daedalus_out *out;
	u32 ctx_id;
	int ret;

	out = kvmalloc(struct_size(out, data, len), GFP_KERNEL);
	if (!out)
		return -ENOMEM;
	out->len = len;
	daedalus_msg_encode(out->data, type, cookie, body, body_len, data_len);
	if (data_len)
		memcpy(out->data + DAEDALUS_HDR_SIZE + body_len, data, data_len);
	/* Before the push: the queue may free a request it finds moot. */
	ctx_id = daedalus_out_ctx(out);

	ret = daedalus_outq_push(&d->outq, share, out);
	if (ret)
		return ret;
	trace_daedalus_msg_out(type, cookie, ctx_id, trace_flags, len);
	wake_up_interruptible(&d->out_wait);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_daemon_send);

/**
 * daedalus_daemon_codecs() - what the attached daemon decodes
 * @dev:	the device
 * @codecs:	set to the DAEDALUS_CODEC_BIT() mask
 * @pixfmts:	set to the DAEDALUS_PIXFMT_BIT() mask
 *
 * Return: 0, or -ENOTCONN (masks set to H.264, stateless H.264 and NV12,
 * what the nodes offer clients probing them with no daemon attached).
 */
int daedalus_daemon_codecs(struct daedalus_dev *dev, u32 *codecs,
			   u32 *pixfmts)
{
	struct daedalus_daemon *d = &dev->daemon;
	int ret = 0;

	mutex_lock(&d->lock);
	if (d->hello_done) {
		*codecs = d->hello.codecs;
		*pixfmts = d->hello.pixfmts;
	} else {
		*codecs = DAEDALUS_FRONT_NO_DAEMON_CODECS;
		*pixfmts = DAEDALUS_FRONT_NO_DAEMON_PIXFMTS;
		ret = -ENOTCONN;
	}
	mutex_unlock(&d->lock);
	return ret;
}

/**
 * daedalus_daemon_flags() - the attached daemon's RESP_HELLO flags
 * @dev:	the device
 *
 * Return: DAEDALUS_HELLO_F_* of the daemon's handshake, 0 without one.
 */
u32 daedalus_daemon_flags(struct daedalus_dev *dev)
{
	struct daedalus_daemon *d = &dev->daemon;
	u32 flags;

	mutex_lock(&d->lock);
	flags = d->hello_done ? d->hello.flags : 0;
	mutex_unlock(&d->lock);
	return flags;
}

/**
 * daedalus_daemon_attach() - a daemon opened /dev/daedalus
 * @dev:	the device
 * @file:	the daemon's file (any non-NULL token for in-kernel tests)
 *
 * Queues REQ_HELLO, the first message the daemon reads.
 *
 * Return: 0, or -EBUSY when a daemon is attached already.
 */
int daedalus_daemon_attach(struct daedalus_dev *dev, struct file *file)
{
	struct daedalus_daemon *d = &dev->daemon;
	struct daedalus_req_hello hello = {
		.proto_version	= cpu_to_le32(DAEDALUS_PROTO_VERSION),
		.max_contexts	= cpu_to_le32(dev->core.max_contexts),
		.max_payload	= cpu_to_le32(DAEDALUS_MAX_PAYLOAD),
	};
	int ret;

	mutex_lock(&d->attach_lock);
	mutex_lock(&d->lock);
	if (d->file) {
		mutex_unlock(&d->lock);
		mutex_unlock(&d->attach_lock);
		return -EBUSY;
	}
	d->file = file;
	d->pid = task_tgid_nr(current);
	d->hello_done = false;
	daedalus_outq_set_state(&d->outq, DAEDALUS_DAEMON_HELLO_WAIT);
	ret = daedalus_daemon_send(dev, NULL, DAEDALUS_REQ_HELLO, 0, &hello,
				   sizeof(hello), NULL, 0, 0);
	if (ret) {
		daedalus_outq_set_state(&d->outq, DAEDALUS_DAEMON_DETACHED);
		d->file = NULL;
	}
	mutex_unlock(&d->lock);
	mutex_unlock(&d->attach_lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_daemon_attach);

/**
 * daedalus_daemon_detach() - the daemon is gone
 * @dev:	the device
 *
 * New requests fail from here on; every job is cancelled (buffers back
 * with ERROR, the running job finished) and every context is told.
 */
void daedalus_daemon_detach(struct daedalus_dev *dev)
{
	struct daedalus_daemon *d = &dev->daemon;
	struct daedalus_ctx *ctx;
	bool was_ready;

	mutex_lock(&d->attach_lock);
	mutex_lock(&d->lock);
	if (!d->file) {
		mutex_unlock(&d->lock);
		mutex_unlock(&d->attach_lock);
		return;
	}
	daedalus_outq_set_state(&d->outq, DAEDALUS_DAEMON_DETACHED);
	was_ready = d->hello_done;
	d->file = NULL;
	d->hello_done = false;
	WRITE_ONCE(d->mapped, false);
	mutex_unlock(&d->lock);

	/*
	 * Every streaming context fails (its queues go to the error state)
	 * before its jobs are cancelled, and the detach is traced in between:
	 * a client never dequeues a cancelled buffer from a queue that still
	 * works, and a recording shows the detach before its consequences.
	 */
	mutex_lock(&dev->ctx_lock);
	list_for_each_entry(ctx, &dev->ctx_list, node)
		daedalus_front_daemon_gone(&ctx->front);
	mutex_unlock(&dev->ctx_lock);
	trace_daedalus_daemon(false, d->pid,
			      was_ready ? d->hello.daemon_version : 0);

	cancel_delayed_work_sync(&dev->watchdog);
	daedalus_outq_drop_all(&d->outq);
	daedalus_job_detach(&dev->core);
	mutex_unlock(&d->attach_lock);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_daemon_detach);

/*
 * A taken request was copied out (or not): when that brought a context
 * below its share of the queue, contexts held back may run again.
 */
static void daedalus_daemon_done(struct daedalus_dev *dev,
				 struct daedalus_out *out, bool copied)
{
	if (daedalus_outq_done(&dev->daemon.outq, out, copied))
		daedalus_vdec_kick(dev);
}

/**
 * daedalus_daemon_pop() - take the next request
 * @dev:	the device
 * @buf:	kernel buffer
 * @len:	its size
 *
 * Return: the message's length, 0 when none is queued, -EINVAL when @len
 * is too small for it (it stays queued).
 */
ssize_t daedalus_daemon_pop(struct daedalus_dev *dev, void *buf, size_t len)
{
	struct daedalus_daemon *d = &dev->daemon;
	struct daedalus_out *out;
	ssize_t ret;

	mutex_lock(&d->read_lock);
	ret = daedalus_outq_take(&d->outq, len, &out);
	mutex_unlock(&d->read_lock);
	if (ret <= 0)
		return ret;
	memcpy(buf, out->data, out->len);
	daedalus_daemon_done(dev, out, true);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_daemon_pop);

static int daedalus_daemon_hello(void *priv,
				 const struct daedalus_msg_hello *h)
{
	struct daedalus_dev *dev = priv;
	struct daedalus_daemon *d = &dev->daemon;
	int ret = 0;

	mutex_lock(&d->lock);
	if (!d->file || d->hello_done) {
		ret = -EINVAL;
		goto out;
	}
	d->hello = *h;
	d->hello_done = true;
	WRITE_ONCE(d->mapped, !!(h->flags & DAEDALUS_HELLO_F_MAPPED));
	daedalus_outq_set_state(&d->outq, DAEDALUS_DAEMON_READY);
	schedule_delayed_work(&dev->watchdog,
			      msecs_to_jiffies(DAEDALUS_WATCHDOG_PERIOD_MS));
	trace_daedalus_daemon(true, d->pid, h->daemon_version);
out:
	mutex_unlock(&d->lock);
	return ret;
}

static bool daedalus_daemon_ready(void *priv)
{
	struct daedalus_dev *dev = priv;

	return daedalus_outq_state(&dev->daemon.outq) == DAEDALUS_DAEMON_READY;
}

/*
 * The context stays under dev->ctx_lock until daedalus_daemon_ctx_put();
 * NULL holds nothing. Not __acquires(): sparse cannot follow an acquire
 * that depends on the return value, so the dispatcher says __acquire()
 * once it has a context.
 */
static struct daedalus_job_ctx *daedalus_daemon_ctx_get(void *priv, u32 ctx_id)
{
	struct daedalus_dev *dev = priv;
	struct daedalus_ctx *ctx;

	mutex_lock(&dev->ctx_lock);
	ctx = daedalus_ctx_find(dev, ctx_id);
	if (!ctx || !daedalus_front_session_open(&ctx->front)) {
		mutex_unlock(&dev->ctx_lock);
		return NULL;
	}
	return &ctx->jctx;
}

static void daedalus_daemon_ctx_put(void *priv, struct daedalus_job_ctx *jctx)
	__releases(&dev->ctx_lock)
{
	struct daedalus_dev *dev = priv;

	/* A mutex carries no context sparse sees: name the release. */
	__release(&dev->ctx_lock);
	mutex_unlock(&dev->ctx_lock);
}

static int daedalus_daemon_stream_info(struct daedalus_job_ctx *jctx,
				       const struct daedalus_msg_stream_info *si)
{
	return daedalus_front_stream_info(&container_of(jctx, struct daedalus_ctx,
							jctx)->front, si);
}

static void daedalus_daemon_session_error(struct daedalus_job_ctx *jctx,
					  u32 error)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);

	v4l2_warn(&ctx->dev->v4l2_dev, "ctx %u: session error %u\n",
		  jctx->ctx_id, error);
	daedalus_front_session_error(&ctx->front);
}

static const struct daedalus_dispatch_ops daedalus_dispatch_ops = {
	.hello		= daedalus_daemon_hello,
	.ready		= daedalus_daemon_ready,
	.ctx_get	= daedalus_daemon_ctx_get,
	.ctx_put	= daedalus_daemon_ctx_put,
	.stream_info	= daedalus_daemon_stream_info,
	.session_error	= daedalus_daemon_session_error,
};

/**
 * daedalus_daemon_write() - apply one complete message from the daemon
 * @dev:	the device
 * @buf:	the message, header first
 * @len:	its length
 *
 * See daedalus_dispatch(); a foreign protocol is also logged.
 *
 * Return: 0, -EINVAL for an invalid or unexpected message, -EPROTO for a
 * foreign magic or protocol version. Every refusal is counted and traced.
 */
int daedalus_daemon_write(struct daedalus_dev *dev, const void *buf,
			  size_t len)
{
	const u8 *hdr = buf;
	int ret;

	ret = daedalus_dispatch(&dev->core, &daedalus_dispatch_ops, dev, buf,
				len);
	if (ret != -EPROTO)
		return ret;
	if (len >= DAEDALUS_HDR_SIZE + 4 &&
	    get_unaligned_le32(hdr) == DAEDALUS_PROTO_MAGIC &&
	    get_unaligned_le16(hdr + 4) == DAEDALUS_PROTO_VERSION &&
	    get_unaligned_le16(hdr + 6) == DAEDALUS_RESP_HELLO)
		v4l2_warn(&dev->v4l2_dev,
			  "daemon speaks protocol v%u, module speaks v%u\n",
			  get_unaligned_le32(hdr + DAEDALUS_HDR_SIZE),
			  DAEDALUS_PROTO_VERSION);
	else if (len >= DAEDALUS_HDR_SIZE)
		pr_warn_ratelimited("%s: daemon message with magic %#x version %u, module speaks v%u\n",
				    dev->v4l2_dev.name,
				    get_unaligned_le32(hdr),
				    get_unaligned_le16(hdr + 4),
				    DAEDALUS_PROTO_VERSION);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_daemon_write);

/* File operations. */

static struct daedalus_dev *daedalus_file_dev(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct daedalus_dev, misc);
}

static int daedalus_cdev_open(struct inode *inode, struct file *file)
{
	struct daedalus_dev *dev = daedalus_file_dev(file);
	int ret;

	ret = stream_open(inode, file);
	if (ret)
		return ret;
	ret = daedalus_daemon_attach(dev, file);
	if (!ret)
		WRITE_ONCE(dev->daemon.map_space, file->f_mapping);
	return ret;
}

static int daedalus_cdev_release(struct inode *inode, struct file *file)
{
	daedalus_daemon_detach(daedalus_file_dev(file));
	return 0;
}

static ssize_t daedalus_cdev_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct daedalus_dev *dev = daedalus_file_dev(file);
	struct daedalus_daemon *d = &dev->daemon;
	struct daedalus_out *out;
	ssize_t ret;

	for (;;) {
		if (mutex_lock_interruptible(&d->read_lock))
			return -ERESTARTSYS;
		ret = daedalus_outq_take(&d->outq, count, &out);
		if (ret)
			break;
		mutex_unlock(&d->read_lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(d->out_wait,
					       !daedalus_outq_empty(&d->outq));
		if (ret)
			return ret;
	}
	if (ret < 0) {
		mutex_unlock(&d->read_lock);
		return ret;
	}
	/*
	 * Nothing is lost when the copy fails: the request goes back to the
	 * head, unless a REQ_RESET or the session's close made it moot
	 * meanwhile.
	 */
	if (copy_to_user(ubuf, out->data, out->len))
		ret = -EFAULT;
	daedalus_daemon_done(dev, out, ret > 0);
	mutex_unlock(&d->read_lock);
	return ret;
}

static ssize_t daedalus_cdev_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	struct daedalus_dev *dev = daedalus_file_dev(file);
	enum daedalus_reject reason;
	u8 hdr[DAEDALUS_HDR_SIZE];
	u32 total;
	void *buf;
	int ret;

	if (count < DAEDALUS_HDR_SIZE) {
		daedalus_job_reject(&dev->core, DAEDALUS_REJECT_SHORT, 0, 0);
		return -EINVAL;
	}
	if (copy_from_user(hdr, ubuf, sizeof(hdr)))
		return -EFAULT;
	ret = daedalus_msg_header_len(hdr, sizeof(hdr), &total, &reason);
	if (ret) {
		daedalus_job_reject(&dev->core, reason, 0, 0);
		return ret;
	}
	if (total != count) {
		daedalus_job_reject(&dev->core, DAEDALUS_REJECT_LENGTH, 0, 0);
		return -EINVAL;
	}
	buf = kvmalloc(count, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (copy_from_user(buf, ubuf, count)) {
		kvfree(buf);
		return -EFAULT;
	}
	ret = daedalus_daemon_write(dev, buf, count);
	kvfree(buf);
	return ret ? ret : count;
}

static __poll_t daedalus_cdev_poll(struct file *file, poll_table *wait)
{
	struct daedalus_dev *dev = daedalus_file_dev(file);
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &dev->daemon.out_wait, wait);
	if (!daedalus_outq_empty(&dev->daemon.outq))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/*
 * Mapped jobs (zero-copy). A REQ_DECODE with F_MAPPED names its OUTPUT and
 * CAPTURE planes by mmap offsets on /dev/daedalus instead of carrying the
 * bitstream; the daemon reads the bitstream and writes the picture in
 * place. Each plane gets a window of 1 GiB of offsets, named by the job's
 * slot and generation and by the queue, so no two live planes share an
 * offset and an old job's offset never reaches a new job's plane:
 *
 *	offset = gen[22 bits] | slot[9] | capture[1] | byte in plane[30]
 *
 * Pages are inserted at fault time under map_lock, and a revocation (the
 * plane's buffer left the core: done, failed, cancelled) marks the plane
 * dead and zaps every mapping of it under the same lock: a later access
 * gets SIGBUS, so the daemon never touches a buffer the client owns.
 */
#define DAEDALUS_MAP_WINDOW_SHIFT	(30 - PAGE_SHIFT)
#define DAEDALUS_MAP_SLOT_BITS		9
#define DAEDALUS_MAP_GEN_BITS		22
#define DAEDALUS_MAP_SLOT_SHIFT		(DAEDALUS_MAP_WINDOW_SHIFT + 1)
#define DAEDALUS_MAP_GEN_SHIFT		(DAEDALUS_MAP_SLOT_SHIFT + \
					 DAEDALUS_MAP_SLOT_BITS)

static unsigned long daedalus_map_pgoff(u64 cookie, bool capture)
{
	unsigned long gen = DAEDALUS_COOKIE_GEN(cookie) &
			    GENMASK(DAEDALUS_MAP_GEN_BITS - 1, 0);

	BUILD_BUG_ON(DAEDALUS_JOB_SLOTS > BIT(DAEDALUS_MAP_SLOT_BITS));
	BUILD_BUG_ON(DAEDALUS_MAP_GEN_SHIFT + DAEDALUS_MAP_GEN_BITS +
		     PAGE_SHIFT > 62);
	return gen << DAEDALUS_MAP_GEN_SHIFT |
	       (unsigned long)DAEDALUS_COOKIE_ID(cookie) <<
	       DAEDALUS_MAP_SLOT_SHIFT |
	       (unsigned long)capture << DAEDALUS_MAP_WINDOW_SHIFT;
}

/* The live plane whose window holds @pgoff, and the page in it; map_lock. */
static struct daedalus_map *daedalus_map_find(struct daedalus_daemon *d,
					      unsigned long pgoff,
					      unsigned long *page)
	__must_hold(&d->map_lock)
{
	unsigned long slot = (pgoff >> DAEDALUS_MAP_SLOT_SHIFT) &
			     GENMASK(DAEDALUS_MAP_SLOT_BITS - 1, 0);
	unsigned long capture = (pgoff >> DAEDALUS_MAP_WINDOW_SHIFT) & 1;
	struct daedalus_map *m;

	lockdep_assert_held(&d->map_lock);
	if (slot >= DAEDALUS_JOB_SLOTS)
		return NULL;
	m = &d->maps[slot][capture];
	*page = pgoff & GENMASK(DAEDALUS_MAP_WINDOW_SHIFT - 1, 0);
	if (!m->live || m->pgoff != pgoff - *page)
		return NULL;
	return m;
}

/* Whether a buffer's plane can be mapped: MMAP memory, vmalloc'ed. */
static bool daedalus_map_ok(struct vb2_v4l2_buffer *vbuf)
{
	struct vb2_buffer *vb = &vbuf->vb2_buf;
	void *vaddr = vb2_plane_vaddr(vb, 0);

	return vb->memory == VB2_MEMORY_MMAP && vaddr &&
	       is_vmalloc_addr(vaddr) &&
	       PAGE_ALIGN(vb2_plane_size(vb, 0)) >> PAGE_SHIFT <=
	       BIT(DAEDALUS_MAP_WINDOW_SHIFT);
}

static u64 daedalus_map_add(struct daedalus_daemon *d, u64 cookie,
			    bool capture, struct vb2_v4l2_buffer *vbuf)
{
	struct daedalus_map *m = &d->maps[DAEDALUS_COOKIE_ID(cookie)][capture];

	mutex_lock(&d->map_lock);
	m->vaddr = vb2_plane_vaddr(&vbuf->vb2_buf, 0);
	m->pgoff = daedalus_map_pgoff(cookie, capture);
	m->pages = PAGE_ALIGN(vb2_plane_size(&vbuf->vb2_buf, 0)) >> PAGE_SHIFT;
	m->live = true;
	mutex_unlock(&d->map_lock);
	return (u64)m->pgoff << PAGE_SHIFT;
}

/*
 * A mapped job's OUTPUT buffer leaves the core before the daemon read its
 * REQ_DECODE (CAPTURE STREAMOFF ended the job, or the watchdog): once the
 * plane is revoked the daemon could not map it, and the bitstream, which
 * the decoder still needs (its state outlives CAPTURE STREAMOFF), would be
 * lost. The queued request becomes an inline one carrying a copy of the
 * bitstream, taken from the plane while it is still the core's, as long as
 * the copy keeps its context within its share of the queue; past that it
 * stays mapped, and the daemon's mapping of it fails.
 */
static void daedalus_map_inline(struct daedalus_daemon *d, u64 cookie,
				const struct daedalus_map *m)
{
	size_t body = DAEDALUS_HDR_SIZE + sizeof(struct daedalus_req_decode);
	struct daedalus_outq *q = &d->outq;
	struct daedalus_req_decode *req;
	struct daedalus_out *out, *in;
	struct daedalus_hdr *h;
	u32 bytes = 0;

	spin_lock(&q->lock);
	out = daedalus_outq_find_decode(q, cookie);
	req = out ? (void *)(out->data + DAEDALUS_HDR_SIZE) : NULL;
	/* A stateless request's controls stay where they are, before it. */
	if (req && le32_to_cpu(req->codec) == DAEDALUS_CODEC_H264_SLICE)
		body += sizeof(struct daedalus_h264_slice);
	if (out && out->len == body) {
		bytes = le32_to_cpu(req->bytes);
		if (out->share &&
		    out->share->bytes + bytes > DAEDALUS_OUTQ_CTX_BYTES)
			bytes = 0;
	}
	spin_unlock(&q->lock);
	if (!out || !bytes || bytes > (m->pages << PAGE_SHIFT))
		return;

	in = kvmalloc(struct_size(in, data, body + bytes), GFP_KERNEL);
	if (!in)
		return;
	in->len = body + bytes;
	memcpy(in->data + body, m->vaddr, bytes);

	spin_lock(&q->lock);
	out = daedalus_outq_find_decode(q, cookie);
	if (out && out->len == body) {
		memcpy(in->data, out->data, body);
		h = (void *)in->data;
		h->payload_len = cpu_to_le32(body - DAEDALUS_HDR_SIZE + bytes);
		req = (void *)(in->data + DAEDALUS_HDR_SIZE);
		req->flags &= ~cpu_to_le32(DAEDALUS_DECODE_F_MAPPED);
		req->src_map = 0;
		req->dst_map = 0;
		daedalus_outq_replace(q, out, in);
		swap(in, out);
	}
	spin_unlock(&q->lock);
	kvfree(in);
}

/* The plane of @cookie's @capture buffer is no longer the daemon's. */
static void daedalus_map_revoke(struct daedalus_daemon *d, u64 cookie,
				bool capture)
{
	struct daedalus_map *m = &d->maps[DAEDALUS_COOKIE_ID(cookie)][capture];
	unsigned long pgoff = daedalus_map_pgoff(cookie, capture);
	struct address_space *space = READ_ONCE(d->map_space);

	mutex_lock(&d->map_lock);
	if (m->live && m->pgoff == pgoff) {
		/* A read() copying its request out does not put it back. */
		spin_lock(&d->outq.lock);
		daedalus_outq_reading_ends(&d->outq, cookie);
		spin_unlock(&d->outq.lock);
		if (!capture)
			daedalus_map_inline(d, cookie, m);
		m->live = false;
		d->revoked++;
		if (space)
			unmap_mapping_range(space, (loff_t)pgoff << PAGE_SHIFT,
					    (loff_t)m->pages << PAGE_SHIFT, 1);
	}
	mutex_unlock(&d->map_lock);
}

static vm_fault_t daedalus_map_fault(struct vm_fault *vmf)
{
	struct daedalus_dev *dev = vmf->vma->vm_private_data;
	struct daedalus_daemon *d = &dev->daemon;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct daedalus_map *m;
	unsigned long page;

	mutex_lock(&d->map_lock);
	m = daedalus_map_find(d, vmf->pgoff, &page);
	if (m && page < m->pages)
		ret = vmf_insert_pfn(vmf->vma, vmf->address,
				     vmalloc_to_pfn(m->vaddr +
						    (page << PAGE_SHIFT)));
	mutex_unlock(&d->map_lock);
	return ret;
}

static const struct vm_operations_struct daedalus_map_vm_ops = {
	.fault = daedalus_map_fault,
};

/*
 * mmap() of a mapped job's plane: the whole window's start, at most the
 * plane's size, MAP_SHARED, and read-only for an OUTPUT plane. Nothing is
 * mapped here: pages come at fault time, while the plane is live, as raw
 * PFNs (VM_PFNMAP | VM_IO): get_user_pages() refuses them, so nothing
 * (O_DIRECT, vmsplice(), io_uring fixed buffers) can pin a page past its
 * revocation, which then leaves the daemon nothing of the buffer.
 */
static int daedalus_cdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct daedalus_dev *dev = daedalus_file_dev(file);
	struct daedalus_daemon *d = &dev->daemon;
	struct daedalus_map *m;
	unsigned long page;
	bool capture;
	int ret = 0;

	if (READ_ONCE(d->file) != file || !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	capture = (vma->vm_pgoff >> DAEDALUS_MAP_WINDOW_SHIFT) & 1;
	mutex_lock(&d->map_lock);
	m = daedalus_map_find(d, vma->vm_pgoff, &page);
	if (!m || page || vma_pages(vma) > m->pages) {
		ret = -EINVAL;
	} else if (!capture && (vma->vm_flags & VM_WRITE)) {
		ret = -EACCES;
	} else {
		if (!capture)
			vm_flags_clear(vma, VM_MAYWRITE);
		vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			     VM_DONTDUMP | VM_DONTCOPY);
		vma->vm_ops = &daedalus_map_vm_ops;
		vma->vm_private_data = dev;
	}
	mutex_unlock(&d->map_lock);
	return ret;
}

static const struct file_operations daedalus_cdev_fops = {
	.owner		= THIS_MODULE,
	.open		= daedalus_cdev_open,
	.release	= daedalus_cdev_release,
	.read		= daedalus_cdev_read,
	.write		= daedalus_cdev_write,
	.poll		= daedalus_cdev_poll,
	.mmap		= daedalus_cdev_mmap,
};

/* Job core callbacks, called with the core lock held. */

static int daedalus_send_decode(struct daedalus_job_ctx *jctx,
				struct daedalus_decode_params *p,
				struct vb2_v4l2_buffer *src,
				struct vb2_v4l2_buffer *dst)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);
	struct daedalus_daemon *d = &ctx->dev->daemon;
	struct daedalus_req_decode req;
	u32 data_len = 0, body_len;
	const void *data = NULL;
	const void *body;
	bool mapped;
	int ret;

	/* Zero-copy when the daemon takes it and both planes allow it. */
	mapped = READ_ONCE(d->mapped) && daedalus_map_ok(dst) &&
		 (!src || daedalus_map_ok(src));
	if (mapped) {
		p->flags |= DAEDALUS_DECODE_F_MAPPED;
		if (src)
			p->src_map = daedalus_map_add(d, p->cookie, false, src);
		p->dst_map = daedalus_map_add(d, p->cookie, true, dst);
	} else if (src) {
		data = vb2_plane_vaddr(&src->vb2_buf, 0);
		data_len = p->bytes;
	}
	daedalus_msg_encode_decode(&req, p);
	body = &req;
	body_len = sizeof(req);
	/* A stateless request's controls go first, mapped or not. */
	if (ctx->stateless)
		body = daedalus_sdec_body(ctx, &req, &body_len);
	ret = daedalus_daemon_send(ctx->dev, &jctx->out, DAEDALUS_REQ_DECODE,
				   p->cookie, body, body_len, data, data_len,
				   p->flags);
	if (ret && mapped) {
		/* Never read by the daemon: nothing can be mapped yet. */
		if (src)
			daedalus_map_revoke(d, p->cookie, false);
		daedalus_map_revoke(d, p->cookie, true);
	} else if (mapped) {
		d->mapped_jobs++;
	}
	return ret;
}

static int daedalus_send_flush(struct daedalus_job_ctx *jctx, u32 generation)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);
	struct daedalus_req_flush req = {
		.ctx_id		= cpu_to_le32(jctx->ctx_id),
		.generation	= cpu_to_le32(generation),
	};

	return daedalus_daemon_send(ctx->dev, &jctx->out, DAEDALUS_REQ_FLUSH,
				    0, &req, sizeof(req), NULL, 0, 0);
}

static void daedalus_job_last(struct daedalus_job_ctx *jctx)
	__must_hold(&jctx->core->lock)
{
	daedalus_front_last(&container_of(jctx, struct daedalus_ctx, jctx)->front);
}

static void daedalus_job_released(struct daedalus_job_ctx *jctx, u64 cookie,
				  bool capture)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);

	daedalus_map_revoke(&ctx->dev->daemon, cookie, capture);
}

static void daedalus_job_expired(struct daedalus_job_ctx *jctx, u64 cookie)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);

	v4l2_warn(&ctx->dev->v4l2_dev,
		  "ctx %u: job %#llx expired, daemon did not answer\n",
		  jctx->ctx_id, cookie);
}

static void daedalus_job_src_done(struct daedalus_job_ctx *jctx,
				  struct vb2_v4l2_buffer *src)
	__must_hold(&jctx->core->lock)
{
	struct daedalus_ctx *ctx = container_of(jctx, struct daedalus_ctx, jctx);

	if (ctx->stateless)
		daedalus_sdec_src_done(ctx, src);
}

const struct daedalus_job_ops daedalus_job_ops = {
	.send_decode	= daedalus_send_decode,
	.send_flush	= daedalus_send_flush,
	.last		= daedalus_job_last,
	.expired	= daedalus_job_expired,
	.released	= daedalus_job_released,
	.src_done	= daedalus_job_src_done,
};

/**
 * daedalus_chardev_register() - create /dev/daedalus
 * @dev:	the device
 *
 * Return: 0 or a negative errno.
 */
int daedalus_chardev_register(struct daedalus_dev *dev)
{
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = DAEDALUS_NAME;
	dev->misc.fops = &daedalus_cdev_fops;
	dev->misc.mode = 0600;
	return misc_register(&dev->misc);
}

/**
 * daedalus_chardev_unregister() - remove /dev/daedalus
 * @dev:	the device
 */
void daedalus_chardev_unregister(struct daedalus_dev *dev)
{
	misc_deregister(&dev->misc);
}
