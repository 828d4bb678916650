/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus front: the stateful decoder's per-context state machine, as
 * Documentation/userspace-api/media/v4l/dev-decoder.rst asks of it and
 * without V4L2 in it: the daemon session (open at STREAMON(OUTPUT), closed
 * with the file or by the daemon), the stream's format (STREAM_INFO
 * confirmed silently or raising SOURCE_CHANGE), the drain (DEC_CMD_STOP,
 * REQ_FLUSH, the LAST picture, EOS, DEC_CMD_START), STREAMON and STREAMOFF
 * of either queue, job_ready and device_run, session errors and the
 * daemon's detach.
 *
 * Its effects on the V4L2 side (queue a request for the daemon, raise an
 * event, hand ready buffers back, mark the queues in error, schedule) go
 * through &struct daedalus_front_ops; the video node's glue
 * (daedalus_vdec.c) keeps the ioctls, the vb2 ops and the formats' V4L2
 * shape. Like the job core, this is compiled unchanged in userspace by the
 * replay tools and the fuzz targets, and mutant patches may target it.
 *
 * Locks: @lock of &struct daedalus_front is innermost (never held across a
 * call into the job core, vb2, the daemon queue or an op); @flush_lock
 * serialises the REQ_FLUSH decision; &struct daedalus_front_dev's lock is
 * the device's context-list lock.
 */
#ifndef _DAEDALUS_FRONT_H
#define _DAEDALUS_FRONT_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "daedalus_job.h"
#include "daedalus_msg.h"

/* The CAPTURE format before any S_FMT or STREAM_INFO. */
#define DAEDALUS_DEF_WIDTH	1920
#define DAEDALUS_DEF_HEIGHT	1080

/* The front's V4L2 decoder commands (V4L2_DEC_CMD_START and _STOP). */
#define DAEDALUS_FRONT_CMD_START	0
#define DAEDALUS_FRONT_CMD_STOP		1

/* Phases of a drain, as the daedalus_drain tracepoint names them. */
enum daedalus_drain_phase {
	DAEDALUS_DRAIN_START,
	DAEDALUS_DRAIN_FLUSH,
	DAEDALUS_DRAIN_LAST,
	DAEDALUS_DRAIN_RESTART,
	DAEDALUS_DRAIN_ABANDON,
};

/**
 * enum daedalus_front_drain - where a drain is
 * @DAEDALUS_FRONT_DRAIN_NONE: no drain
 * @DAEDALUS_FRONT_DRAIN_WAIT: V4L2_DEC_CMD_STOP taken; REQ_FLUSH waits for
 *	the OUTPUT buffers queued before it to go out
 * @DAEDALUS_FRONT_DRAIN_FLUSHED: REQ_FLUSH sent: capture-only jobs hand the
 *	daemon buffers for the remaining pictures, until the LAST one
 */
enum daedalus_front_drain {
	DAEDALUS_FRONT_DRAIN_NONE,
	DAEDALUS_FRONT_DRAIN_WAIT,
	DAEDALUS_FRONT_DRAIN_FLUSHED,
};

/**
 * enum daedalus_front_event - a V4L2 event the front raises
 * @DAEDALUS_FRONT_EV_EOS: V4L2_EVENT_EOS
 * @DAEDALUS_FRONT_EV_SOURCE_CHANGE: V4L2_EVENT_SOURCE_CHANGE (resolution)
 */
enum daedalus_front_event {
	DAEDALUS_FRONT_EV_EOS,
	DAEDALUS_FRONT_EV_SOURCE_CHANGE,
};

/**
 * struct daedalus_front_fmt - the CAPTURE picture format
 * @pixfmt:	enum daedalus_pixfmt
 * @width:	coded width, 16-aligned
 * @height:	coded height, 16-aligned
 * @sizeimage:	bytes of one picture (4:2:0, one plane)
 * @vis_left:	visible rectangle (COMPOSE)
 * @vis_top:	likewise
 * @vis_width:	likewise
 * @vis_height:	likewise
 */
struct daedalus_front_fmt {
	u32 pixfmt;
	u32 width;
	u32 height;
	u32 sizeimage;
	u32 vis_left;
	u32 vis_top;
	u32 vis_width;
	u32 vis_height;
};

/**
 * struct daedalus_front_limits - what the attached daemon announced
 * @pixfmts:	RESP_HELLO's pixel formats (DAEDALUS_PIXFMT_BIT() mask)
 * @max_width:	its largest coded width
 * @max_height:	its largest coded height
 * @flags:	its DAEDALUS_HELLO_F_* flags; 0 without a daemon
 */
struct daedalus_front_limits {
	u32 pixfmts;
	u32 max_width;
	u32 max_height;
	u32 flags;
};

/* What the node offers a client probing it while no daemon is attached. */
#define DAEDALUS_FRONT_NO_DAEMON_CODECS	(DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264) | \
					 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264_SLICE))
#define DAEDALUS_FRONT_NO_DAEMON_PIXFMTS DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_NV12)
#define DAEDALUS_FRONT_NO_DAEMON_DIM	4096

/**
 * struct daedalus_front_ops - the V4L2 side of the front
 * @send:	queue a request for the daemon (its body starts with the
 *	context id); 0, or a negative errno (-ENOTCONN without a daemon)
 * @limits:	what the attached daemon announced
 * @event:	raise a V4L2 event on the context's file handle
 * @return_ready: hand every buffer on a queue's ready list back to vb2,
 *	QUEUED (@error false: start_streaming failed) or ERROR
 * @queue_error: vb2_queue_error() on both queues
 * @clear_last:	vb2_clear_last_buffer_dequeued() on CAPTURE
 * @streaming:	vb2_is_streaming() of OUTPUT (@output) or CAPTURE
 * @try_schedule: v4l2_m2m_try_schedule()
 */
struct daedalus_front_ops {
	int (*send)(void *priv, u16 type, const void *body, u32 len);
	void (*limits)(void *priv, struct daedalus_front_limits *l);
	void (*event)(void *priv, enum daedalus_front_event ev);
	void (*return_ready)(void *priv, bool output, bool error);
	void (*queue_error)(void *priv);
	void (*clear_last)(void *priv);
	bool (*streaming)(void *priv, bool output);
	void (*try_schedule)(void *priv);
};

/**
 * struct daedalus_front_dev - what the contexts of one device share
 * @lock:	the device's context-list lock; protects @sessions
 * @sessions:	contexts with a daemon session (at most the job core's
 *	max_contexts: its in-flight table is sized for them)
 */
struct daedalus_front_dev {
	struct mutex *lock;
	unsigned int sessions;
};

/**
 * struct daedalus_front - one decoder context's state
 * @fdev:	the device's shared part
 * @jctx:	the context's job state (jctx->ctx_id is its protocol id)
 * @ops:	the V4L2 side
 * @priv:	passed to @ops
 * @lock:	protects everything below
 * @flush_lock:	serialises the decision to send REQ_FLUSH
 * @cap:	the CAPTURE format
 * @dpb_size:	minimum CAPTURE buffers of the last STREAM_INFO, less one
 * @session_pixfmt: enum daedalus_pixfmt the daemon lays pictures out in:
 *	REQ_SESSION_OPEN's, then the last REQ_CAPTURE_FMT's
 * @drain:	where a drain is
 * @out_sized:	the OUTPUT format has a size (S_FMT(OUTPUT) named one):
 *	STREAMON(OUTPUT) announces the CAPTURE format it implies
 * @session_open: REQ_SESSION_OPEN sent and not closed
 * @have_info:	a STREAM_INFO arrived for this session
 * @change_pending: a STREAM_INFO raised SOURCE_CHANGE: the next LAST ends
 *	the old format's pictures, not a drain (which goes on after the
 *	client's CAPTURE reallocation)
 * @stopped:	LAST returned: no jobs until DEC_CMD_START or STREAMON
 * @failed:	the session failed or the daemon left: queues are in error
 * @closing:	the context is being destroyed: REQ_SESSION_CLOSE follows,
 *	so stopping the queues sends no REQ_RESET or REQ_CAPTURE_OFF
 * @stateless:	a stateless (Request API) decoder: every job is one request
 *	with its OUTPUT buffer, answered on its own CAPTURE buffer; no drain,
 *	no capture-only job, no STREAM_INFO, no SOURCE_CHANGE (the client
 *	parses the stream and sets the formats itself)
 */
struct daedalus_front {
	struct daedalus_front_dev *fdev;
	struct daedalus_job_ctx *jctx;
	const struct daedalus_front_ops *ops;
	void *priv;
	spinlock_t lock;		/* everything below */
	struct mutex flush_lock;	/* REQ_FLUSH decision */
	struct daedalus_front_fmt cap;
	u32 dpb_size;
	u32 session_pixfmt;
	enum daedalus_front_drain drain;
	bool out_sized;
	bool session_open;
	bool have_info;
	bool change_pending;
	bool stopped;
	bool failed;
	bool closing;
	bool stateless;
};

void daedalus_front_init(struct daedalus_front *f,
			 struct daedalus_front_dev *fdev,
			 struct daedalus_job_ctx *jctx,
			 const struct daedalus_front_ops *ops, void *priv);
void daedalus_front_set_stateless(struct daedalus_front *f);
int daedalus_front_request_buffers(unsigned int count);
void daedalus_front_destroy(struct daedalus_front *f);

/* Formats and what the glue asks of them. */
void daedalus_front_no_daemon(struct daedalus_front_limits *l);
void daedalus_front_get_cap(struct daedalus_front *f,
			    struct daedalus_front_fmt *cap);
u32 daedalus_front_cap_sizeimage(struct daedalus_front *f);
u32 daedalus_front_cap_pixfmts(struct daedalus_front *f);
void daedalus_front_set_cap_pixfmt(struct daedalus_front *f, u32 pixfmt);
void daedalus_front_set_out_size(struct daedalus_front *f, u32 width,
				 u32 height);
u32 daedalus_front_cap_count(struct daedalus_front *f, u32 count, u32 have,
			     bool create);
u32 daedalus_front_min_buffers(struct daedalus_front *f);
bool daedalus_front_session_open(struct daedalus_front *f);

/* The m2m callbacks. */
bool daedalus_front_job_ready(struct daedalus_front *f, unsigned int src_ready,
			      unsigned int dst_ready);
void daedalus_front_device_run(struct daedalus_front *f, u64 now);

/* The client. */
int daedalus_front_start_streaming(struct daedalus_front *f, bool output,
				   u32 codec);
void daedalus_front_stop_streaming(struct daedalus_front *f, bool output);
void daedalus_front_streamoff(struct daedalus_front *f);
int daedalus_front_decoder_cmd(struct daedalus_front *f, u32 cmd);
void daedalus_front_closing(struct daedalus_front *f);
void daedalus_front_release(struct daedalus_front *f);

/* The daemon and the job core. */
int daedalus_front_stream_info(struct daedalus_front *f,
			       const struct daedalus_msg_stream_info *si);
void daedalus_front_session_error(struct daedalus_front *f);
void daedalus_front_daemon_gone(struct daedalus_front *f);
void daedalus_front_last(struct daedalus_front *f);

#endif /* _DAEDALUS_FRONT_H */
