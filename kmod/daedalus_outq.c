// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus outq: the daemon's unread requests, bounded by back-pressure
 * and coalescing (daedalus_outq.h says how).
 *
 * This file is compiled unchanged in userspace by the replay tools,
 * against shim headers that mirror exactly these includes:
 *   <linux/compiler.h> <linux/errno.h> <linux/list.h> <linux/lockdep.h>
 *   <linux/slab.h> <linux/spinlock.h> <linux/types.h> <linux/unaligned.h>
 *   "daedalus_msg.h" "daedalus_outq.h"
 */

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/unaligned.h>

#include "daedalus_msg.h"
#include "daedalus_outq.h"

void daedalus_outq_init(struct daedalus_outq *q)
{
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->list);
	q->state = DAEDALUS_DAEMON_DETACHED;
	q->reading = NULL;
	q->reading_dropped = false;
	q->reqs = 0;
	q->bytes = 0;
	q->coalesced = 0;
}

void daedalus_outq_share_init(struct daedalus_outq_share *s,
			      struct daedalus_outq *q)
{
	s->q = q;
	s->reqs = 0;
	s->bytes = 0;
}

/* Whether the device, or the context of @s (NULL for none), holds its limit. */
static bool daedalus_outq_over(const struct daedalus_outq *q,
			       const struct daedalus_outq_share *s)
{
	return READ_ONCE(q->bytes) >= DAEDALUS_OUTQ_DEV_BYTES ||
	       (s && (READ_ONCE(s->reqs) >= DAEDALUS_OUTQ_CTX_REQS ||
		      READ_ONCE(s->bytes) >= DAEDALUS_OUTQ_CTX_BYTES));
}

bool daedalus_outq_share_full(const struct daedalus_outq_share *s)
{
	return daedalus_outq_over(s->q, s);
}

void daedalus_outq_set_state(struct daedalus_outq *q, int state)
{
	spin_lock(&q->lock);
	q->state = state;
	spin_unlock(&q->lock);
}

int daedalus_outq_state(struct daedalus_outq *q)
{
	int state;

	spin_lock(&q->lock);
	state = q->state;
	spin_unlock(&q->lock);
	return state;
}

bool daedalus_outq_empty(struct daedalus_outq *q)
{
	return list_empty_careful(&q->list);
}

static u16 daedalus_out_type(const struct daedalus_out *out)
{
	return get_unaligned_le16(out->data + offsetof(struct daedalus_hdr,
						       type));
}

u32 daedalus_out_ctx(const struct daedalus_out *out)
{
	u16 type = daedalus_out_type(out);

	if (type == DAEDALUS_REQ_HELLO || type == DAEDALUS_REQ_PING ||
	    out->len < DAEDALUS_HDR_SIZE + sizeof(__le32))
		return 0;
	return get_unaligned_le32(out->data + DAEDALUS_HDR_SIZE);
}

/* Whether @out is the REQ_DECODE of job @cookie. */
static bool daedalus_out_is_decode(const struct daedalus_out *out, u64 cookie)
{
	return daedalus_out_type(out) == DAEDALUS_REQ_DECODE &&
	       get_unaligned_le64(out->data +
				  offsetof(struct daedalus_hdr, cookie)) == cookie;
}

static void daedalus_outq_account(struct daedalus_outq *q,
				  struct daedalus_outq_share *s, size_t len,
				  int sign)
	__must_hold(&q->lock)
{
	WRITE_ONCE(q->reqs, q->reqs + sign);
	WRITE_ONCE(q->bytes, q->bytes + sign * (s64)len);
	if (s) {
		WRITE_ONCE(s->reqs, s->reqs + sign);
		WRITE_ONCE(s->bytes, s->bytes + sign * (s64)len);
	}
}

/* Off the list and uncounted, onto @dead for freeing after the lock. */
static void daedalus_outq_drop(struct daedalus_outq *q,
			       struct daedalus_out *out,
			       struct list_head *dead)
	__must_hold(&q->lock)
{
	daedalus_outq_account(q, out->share, out->len, -1);
	list_move_tail(&out->node, dead);
	q->coalesced++;
}

static void daedalus_outq_free(struct list_head *dead)
{
	struct daedalus_out *out, *tmp;

	list_for_each_entry_safe(out, tmp, dead, node) {
		list_del(&out->node);
		kvfree(out);
	}
}

/*
 * Whether a REQ_RESET or REQ_SESSION_CLOSE (@type) of context @ctx makes
 * @out moot: a close ends all of the context's, a reset all but the
 * session's set-up.
 */
static bool daedalus_out_ends(u16 type, u32 ctx, const struct daedalus_out *out)
{
	u16 t = daedalus_out_type(out);

	if (daedalus_out_ctx(out) != ctx)
		return false;
	return type == DAEDALUS_REQ_SESSION_CLOSE ||
	       (t != DAEDALUS_REQ_SESSION_OPEN && t != DAEDALUS_REQ_CAPTURE_FMT);
}

/*
 * What a new request of @type for context @ctx makes moot among the unread
 * ones (daedalus_outq.h): onto @dead. Return: whether @type itself is moot
 * (a REQ_SESSION_CLOSE for a session the daemon never heard of).
 */
static bool daedalus_outq_coalesce(struct daedalus_outq *q, u16 type, u32 ctx,
				   struct list_head *dead)
	__must_hold(&q->lock)
{
	struct daedalus_out *out, *tmp;
	bool opened = false;
	u16 t;

	switch (type) {
	case DAEDALUS_REQ_RESET:
	case DAEDALUS_REQ_SESSION_CLOSE:
		list_for_each_entry_safe(out, tmp, &q->list, node) {
			if (!daedalus_out_ends(type, ctx, out))
				continue;
			opened |= daedalus_out_type(out) ==
				  DAEDALUS_REQ_SESSION_OPEN;
			daedalus_outq_drop(q, out, dead);
		}
		/* A copy in progress is not put back if it fails. */
		if (q->reading && daedalus_out_ends(type, ctx, q->reading))
			q->reading_dropped = true;
		return opened;
	case DAEDALUS_REQ_CAPTURE_OFF:
	case DAEDALUS_REQ_CAPTURE_FMT:
	case DAEDALUS_REQ_FLUSH:
		/* Newest first, down to the context's last barrier. */
		list_for_each_entry_safe_reverse(out, tmp, &q->list, node) {
			if (daedalus_out_ctx(out) != ctx)
				continue;
			t = daedalus_out_type(out);
			if (t == DAEDALUS_REQ_SESSION_OPEN ||
			    t == DAEDALUS_REQ_DECODE)
				break;
			if (t == type) {
				daedalus_outq_drop(q, out, dead);
				break;
			}
		}
		return false;
	default:
		return false;
	}
}

int daedalus_outq_push(struct daedalus_outq *q,
		       struct daedalus_outq_share *s, struct daedalus_out *out)
{
	u16 type = daedalus_out_type(out);
	bool moot = false;
	LIST_HEAD(dead);
	int ret = 0;

	out->share = s;
	spin_lock(&q->lock);
	if (q->state != DAEDALUS_DAEMON_READY &&
	    !(q->state == DAEDALUS_DAEMON_HELLO_WAIT &&
	      type == DAEDALUS_REQ_HELLO)) {
		ret = -ENOTCONN;
	} else {
		moot = daedalus_outq_coalesce(q, type, daedalus_out_ctx(out),
					      &dead);
		if (moot) {
			q->coalesced++;
		} else {
			list_add_tail(&out->node, &q->list);
			daedalus_outq_account(q, s, out->len, 1);
		}
	}
	spin_unlock(&q->lock);
	daedalus_outq_free(&dead);
	if (ret || moot)
		kvfree(out);
	return ret;
}

ssize_t daedalus_outq_take(struct daedalus_outq *q, size_t len,
			   struct daedalus_out **out)
{
	struct daedalus_out *o;
	ssize_t ret;

	spin_lock(&q->lock);
	o = list_first_entry_or_null(&q->list, struct daedalus_out, node);
	if (!o) {
		ret = 0;
	} else if (o->len > len) {
		o = NULL;
		ret = -EINVAL;
	} else {
		list_del_init(&o->node);
		q->reading = o;
		q->reading_dropped = false;
		ret = o->len;
	}
	spin_unlock(&q->lock);
	*out = o;
	return ret;
}

bool daedalus_outq_done(struct daedalus_outq *q, struct daedalus_out *out,
			bool copied)
{
	struct daedalus_outq_share *s;
	bool was_full, full, keep;

	spin_lock(&q->lock);
	s = out->share;
	keep = !copied && !q->reading_dropped &&
	       q->state != DAEDALUS_DAEMON_DETACHED;
	q->reading = NULL;
	q->reading_dropped = false;
	if (keep) {
		list_add(&out->node, &q->list);
		spin_unlock(&q->lock);
		return false;
	}
	was_full = daedalus_outq_over(q, s);
	daedalus_outq_account(q, s, out->len, -1);
	full = daedalus_outq_over(q, s);
	spin_unlock(&q->lock);
	kvfree(out);
	return was_full && !full;
}

struct daedalus_out *daedalus_outq_find_decode(struct daedalus_outq *q,
					       u64 cookie)
{
	struct daedalus_out *out;

	lockdep_assert_held(&q->lock);
	list_for_each_entry(out, &q->list, node) {
		if (daedalus_out_is_decode(out, cookie))
			return out;
	}
	return NULL;
}

void daedalus_outq_reading_ends(struct daedalus_outq *q, u64 cookie)
{
	lockdep_assert_held(&q->lock);
	if (q->reading && daedalus_out_is_decode(q->reading, cookie))
		q->reading_dropped = true;
}

void daedalus_outq_replace(struct daedalus_outq *q, struct daedalus_out *old,
			   struct daedalus_out *new)
{
	lockdep_assert_held(&q->lock);
	new->share = old->share;
	list_replace(&old->node, &new->node);
	daedalus_outq_account(q, old->share, old->len, -1);
	daedalus_outq_account(q, new->share, new->len, 1);
}

void daedalus_outq_forget(struct daedalus_outq *q,
			  struct daedalus_outq_share *s)
{
	struct daedalus_out *out;

	spin_lock(&q->lock);
	list_for_each_entry(out, &q->list, node) {
		if (out->share == s) {
			daedalus_outq_account(q, s, out->len, -1);
			out->share = NULL;
			daedalus_outq_account(q, NULL, out->len, 1);
		}
	}
	if (q->reading && q->reading->share == s) {
		daedalus_outq_account(q, s, q->reading->len, -1);
		q->reading->share = NULL;
		daedalus_outq_account(q, NULL, q->reading->len, 1);
	}
	spin_unlock(&q->lock);
}

void daedalus_outq_drop_all(struct daedalus_outq *q)
{
	struct daedalus_out *out, *tmp;
	LIST_HEAD(dead);

	spin_lock(&q->lock);
	list_for_each_entry_safe(out, tmp, &q->list, node) {
		daedalus_outq_account(q, out->share, out->len, -1);
		list_move_tail(&out->node, &dead);
	}
	spin_unlock(&q->lock);
	daedalus_outq_free(&dead);
}
