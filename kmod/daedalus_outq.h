/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus outq: the requests queued for the daemon and not read yet, and
 * what each context holds of them.
 *
 * A daemon that stops reading must not grow kernel memory without limit,
 * whatever a client does meanwhile. Two rules bound the queue:
 *
 * - Back-pressure. A context whose unread requests reach
 *   DAEDALUS_OUTQ_CTX_REQS or DAEDALUS_OUTQ_CTX_BYTES, or any context
 *   while the whole queue holds DAEDALUS_OUTQ_DEV_BYTES, is not run
 *   (job_ready says no): each device_run adds at most one REQ_DECODE, so a
 *   context holds at most one request and one message over its share.
 *   Reading below the share runs it again (daedalus_outq_take() says so).
 *
 * - Coalescing. What a client can repeat without a job (STREAMON and
 *   STREAMOFF of either queue, open and close) replaces what it makes
 *   moot instead of adding to it:
 *   * REQ_RESET: the decoder starts over, and every buffer of the context
 *     came back first, so its unread REQ_DECODE, REQ_FLUSH, REQ_CAPTURE_OFF
 *     and older REQ_RESET go (REQ_SESSION_OPEN and REQ_CAPTURE_FMT, the
 *     session's set-up, stay).
 *   * REQ_CAPTURE_OFF, REQ_CAPTURE_FMT and REQ_FLUSH: the unread one of
 *     the same type after the context's last unread REQ_SESSION_OPEN or
 *     REQ_DECODE goes (stopping CAPTURE twice is stopping it once, the
 *     last format is the one that holds, and a drain with no source in
 *     between is the same drain: DEC_CMD_START and STOP repeated end in
 *     one LAST picture).
 *   * REQ_SESSION_CLOSE: every unread request of the context goes; when
 *     its REQ_SESSION_OPEN was among them, the daemon never heard of the
 *     session and the close goes too.
 *   A REQ_DECODE whose job CAPTURE STREAMOFF or the watchdog ended stays:
 *   the decoder's state needs every bitstream of the stream until the
 *   next REQ_RESET.
 *
 * Together: a context holds at most DAEDALUS_OUTQ_CTX_MAX_REQS unread
 * requests (its share of REQ_DECODE and a REQ_SESSION_OPEN; one each of
 * REQ_CAPTURE_OFF, REQ_CAPTURE_FMT and REQ_FLUSH before, between and after
 * those; a REQ_RESET and a REQ_SESSION_CLOSE), and the queue holds at most
 * DAEDALUS_OUTQ_DEV_BYTES plus one largest message per context.
 *
 * Like the job core, this file is compiled unchanged in userspace by the
 * replay tools, against shim headers for exactly these includes.
 */
#ifndef _DAEDALUS_OUTQ_H
#define _DAEDALUS_OUTQ_H

#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/* Unread requests of one context past which it is not run. */
#define DAEDALUS_OUTQ_CTX_REQS		32
/* Unread bytes of one context past which it is not run. */
#define DAEDALUS_OUTQ_CTX_BYTES		(64u << 20)
/* Unread bytes of the whole device past which no context is run. */
#define DAEDALUS_OUTQ_DEV_BYTES		(128u << 20)
/* The most unread requests one context can hold (see above). */
#define DAEDALUS_OUTQ_CTX_MAX_REQS	(4 * DAEDALUS_OUTQ_CTX_REQS + 9)

/* What the queue accepts (the daemon's connection state). */
enum daedalus_outq_state {
	DAEDALUS_DAEMON_DETACHED,
	DAEDALUS_DAEMON_HELLO_WAIT,
	DAEDALUS_DAEMON_READY,
};

struct daedalus_outq;

/**
 * struct daedalus_outq_share - what one context holds in the queue
 * @q:		the device's queue
 * @reqs:	its unread requests
 * @bytes:	their bytes
 *
 * Written under the queue's lock, read without it by job_ready.
 */
struct daedalus_outq_share {
	struct daedalus_outq *q;
	u32 reqs;
	u64 bytes;
};

/**
 * struct daedalus_out - one request waiting for read()
 * @node:	on &struct daedalus_outq's list
 * @share:	the context it counts against, NULL for none (REQ_HELLO,
 *	or its context is gone)
 * @len:	bytes of the message
 * @data:	the encoded message, at least its header and fixed body
 */
struct daedalus_out {
	struct list_head node;
	struct daedalus_outq_share *share;
	size_t len;
	u8 data[];
};

/**
 * struct daedalus_outq - the device's requests for the daemon
 * @lock:	protects everything below; senders take only this lock, so
 *	the job core may send while holding its own
 * @state:	enum daedalus_outq_state
 * @list:	unread requests, oldest first
 * @reading:	the request a reader took and is copying out, still
 *	counted; NULL when none
 * @reading_dropped: @reading was made moot while being copied: it is not
 *	put back if the copy fails
 * @reqs:	unread requests, @reading included
 * @bytes:	their bytes
 * @coalesced:	requests dropped as moot since the queue was set up
 */
struct daedalus_outq {
	spinlock_t lock;	/* everything below */
	int state;
	struct list_head list;
	struct daedalus_out *reading;
	bool reading_dropped;
	u32 reqs;
	u64 bytes;
	u64 coalesced;
};

/**
 * daedalus_out_ctx() - the context a request is for
 * @out:	the request
 *
 * Return: its body's ctx_id (every request body but REQ_HELLO's and
 * REQ_PING's starts with it), 0 for those two.
 */
u32 daedalus_out_ctx(const struct daedalus_out *out);

/**
 * daedalus_outq_init() - set up an empty, detached queue
 * @q:		the queue
 */
void daedalus_outq_init(struct daedalus_outq *q);

/**
 * daedalus_outq_share_init() - a new context's share, holding nothing
 * @s:		the share
 * @q:		the device's queue
 */
void daedalus_outq_share_init(struct daedalus_outq_share *s,
			      struct daedalus_outq *q);

/**
 * daedalus_outq_share_full() - whether a context must not be run
 * @s:		its share
 *
 * Takes no lock (job_ready runs under the m2m job spinlock).
 *
 * Return: true while the context or the device holds its limit.
 */
bool daedalus_outq_share_full(const struct daedalus_outq_share *s);

/**
 * daedalus_outq_set_state() - what the queue accepts from now on
 * @q:		the queue
 * @state:	enum daedalus_outq_state
 */
void daedalus_outq_set_state(struct daedalus_outq *q, int state);

/**
 * daedalus_outq_state() - what the queue accepts
 * @q:		the queue
 *
 * Return: enum daedalus_outq_state.
 */
int daedalus_outq_state(struct daedalus_outq *q);

/**
 * daedalus_outq_push() - queue one encoded request
 * @q:		the queue
 * @s:		the context it counts against, NULL for REQ_HELLO
 * @out:	the request, allocated with kvmalloc(); the queue owns it
 *	from here, whatever the result
 *
 * Coalesces first (the header comment), then appends. Only REQ_HELLO is
 * taken before the handshake.
 *
 * Return: 0, or -ENOTCONN (nothing queued) without a daemon to take it.
 */
int daedalus_outq_push(struct daedalus_outq *q,
		       struct daedalus_outq_share *s, struct daedalus_out *out);

/**
 * daedalus_outq_take() - take the oldest request for a reader
 * @q:		the queue
 * @len:	the reader's buffer size
 * @out:	set to the request, which stays counted until
 *	daedalus_outq_done()
 *
 * One reader at a time (the caller serialises readers).
 *
 * Return: its length, 0 when none is queued, -EINVAL when it is longer
 * than @len (it stays queued).
 */
ssize_t daedalus_outq_take(struct daedalus_outq *q, size_t len,
			   struct daedalus_out **out);

/**
 * daedalus_outq_done() - a taken request was copied out, or not
 * @q:		the queue
 * @out:	what daedalus_outq_take() gave
 * @copied:	the reader has it; else it goes back to the head, unless it
 *	became moot meanwhile
 *
 * Return: true when a context's share fell below its limit (or the
 * device's did): the caller runs contexts again.
 */
bool daedalus_outq_done(struct daedalus_outq *q, struct daedalus_out *out,
			bool copied);

/**
 * daedalus_outq_find_decode() - the unread REQ_DECODE of a job
 * @q:		the queue, its lock held
 * @cookie:	the job's cookie
 *
 * Return: the request, or NULL when it is not queued (read, being read,
 * or never sent).
 */
struct daedalus_out *daedalus_outq_find_decode(struct daedalus_outq *q,
					       u64 cookie)
	__must_hold(&q->lock);

/**
 * daedalus_outq_reading_ends() - a job's REQ_DECODE being read became moot
 * @q:		the queue, its lock held
 * @cookie:	the job's cookie
 *
 * Its buffers left the core while a reader copies the request out: if
 * that copy fails, the request is not put back, where it would name
 * buffers the daemon can no longer reach.
 */
void daedalus_outq_reading_ends(struct daedalus_outq *q, u64 cookie)
	__must_hold(&q->lock);

/**
 * daedalus_outq_replace() - swap a queued request for another
 * @q:		the queue, its lock held
 * @old:	a request on the queue; the caller frees it
 * @new:	its replacement, same context, kvmalloc()ed
 */
void daedalus_outq_replace(struct daedalus_outq *q, struct daedalus_out *old,
			   struct daedalus_out *new)
	__must_hold(&q->lock);

/**
 * daedalus_outq_forget() - a context is going away
 * @q:		the queue
 * @s:		its share
 *
 * Its requests stay queued (its REQ_SESSION_CLOSE among them) but count
 * against no context from here on.
 */
void daedalus_outq_forget(struct daedalus_outq *q,
			  struct daedalus_outq_share *s);

/**
 * daedalus_outq_drop_all() - the daemon is gone: every request goes
 * @q:		the queue
 */
void daedalus_outq_drop_all(struct daedalus_outq *q);

/**
 * daedalus_outq_empty() - whether nothing waits for a reader
 * @q:		the queue
 *
 * Return: true when no request is queued, without taking the lock.
 */
bool daedalus_outq_empty(struct daedalus_outq *q);

#endif /* _DAEDALUS_OUTQ_H */
