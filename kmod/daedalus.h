/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus_v4l2: shared state of the driver's parts, the V4L2 glue
 * (daedalus_vdec.c) around the decoder's state machine (daedalus_front.c),
 * the daemon's character device (daedalus_chardev.c) and the module glue
 * (daedalus_main.c). The job core (daedalus_job.c) and the front do not
 * include this file.
 *
 * Lock order, outermost first (docs/architecture.md says where each is
 * taken): dev->dev_mutex > ctx->vb_mutex > daemon.attach_lock >
 * front.flush_lock > dev->ctx_lock > daemon.lock > core->lock > a
 * stateless context's control handler lock > daemon.map_lock > the
 * spinlocks front.lock, ctx->lock and daemon.outq.lock, which are never
 * held across a call. A function called
 * with one of them held says so with __must_hold().
 */
#ifndef _DAEDALUS_H
#define _DAEDALUS_H

#include <linux/compiler.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/platform_device.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <media/media-device.h>
#include <media/v4l2-ctrls.h>
#include <media/v4l2-device.h>
#include <media/v4l2-fh.h>
#include <media/v4l2-mem2mem.h>

#include "daedalus_front.h"
#include "daedalus_job.h"
#include "daedalus_msg.h"
#include "daedalus_outq.h"

#define DAEDALUS_NAME		"daedalus"
#define DAEDALUS_DRIVER		"daedalus_v4l2"

/* How often the job watchdog looks at the running job. */
#define DAEDALUS_WATCHDOG_PERIOD_MS	250

/**
 * struct daedalus_map - a vb2 plane the daemon may mmap() (a mapped job's)
 * @vaddr:	the plane (vmalloc memory of an MMAP buffer)
 * @pgoff:	the mmap offset handed out for it, in pages
 * @pages:	its size in pages
 * @live:	the buffer is still the daemon's: faults map it
 */
struct daedalus_map {
	void *vaddr;
	unsigned long pgoff;
	unsigned long pages;
	bool live;
};

/**
 * struct daedalus_daemon - the attached daemon, as /dev/daedalus sees it
 * @lock:	protects every field below but @outq and @read_lock's
 * @file:	the daemon's open file, NULL when detached
 * @attach_lock: held across a whole attach and a whole detach, so a daemon
 *	opening while the last one's detach still drops its queue and
 *	cancels its watchdog waits for it, instead of losing its REQ_HELLO
 *	and its watchdog to it
 * @pid:	the daemon's tgid, for traces and logs
 * @hello_done:	RESP_HELLO accepted: contexts may start sessions
 * @hello:	what the daemon advertised
 * @outq:	requests not read yet, and the connection state
 *	(DAEDALUS_DAEMON_DETACHED, _HELLO_WAIT or _READY) that decides
 *	which it takes
 * @read_lock:	one read() at a time takes a request and copies it out
 * @out_wait:	read()/poll() wait here
 * @mapped:	the daemon takes mapped jobs (RESP_HELLO F_MAPPED); read
 *	with READ_ONCE() under the job core lock
 * @map_space:	the address space of /dev/daedalus, whose mappings a
 *	revocation zaps
 * @map_lock:	protects @maps and serialises faults against revocation;
 *	taken under the job core lock and under mmap_lock, never around
 *	either
 * @maps:	per job slot, its OUTPUT (0) and CAPTURE (1) plane
 * @mapped_jobs: jobs sent mapped since load
 * @revoked:	mappings revoked since load
 */
struct daedalus_daemon {
	struct mutex attach_lock;	/* one attach or detach at a time */
	struct mutex lock;		/* file, pid, hello */
	struct file *file;
	pid_t pid;
	bool hello_done;
	struct daedalus_msg_hello hello;
	struct daedalus_outq outq;
	struct mutex read_lock;		/* one reader */
	wait_queue_head_t out_wait;
	bool mapped;
	struct address_space *map_space;
	struct mutex map_lock;		/* maps */
	struct daedalus_map maps[DAEDALUS_JOB_SLOTS][2];
	u64 mapped_jobs;
	u64 revoked;
};

/**
 * struct daedalus_sl_mc - the stateless node's media entities around its
 *	decoder entity (the node's own entity is the source)
 * @source_pad:	the node's entity's pad
 * @proc:	the decoder entity (MEDIA_ENT_F_PROC_VIDEO_DECODER)
 * @proc_pads:	its sink and source pads
 * @sink:	the CAPTURE side's entity
 * @sink_pad:	its pad
 * @intf:	the node's interface, linked to the source and the sink
 */
struct daedalus_sl_mc {
	struct media_pad source_pad;
	struct media_entity proc;
	struct media_pad proc_pads[2];
	struct media_entity sink;
	struct media_pad sink_pad;
	struct media_intf_devnode *intf;
};

/* Controls of a stateless context (daedalus_sdec.c). */
#define DAEDALUS_SL_NCTRLS	6

struct daedalus_sl;

/**
 * struct daedalus_dev - one decoder instance
 * @pdev:	the platform device the nodes hang off (NULL for bare
 *	test instances)
 * @mdev:	the media controller device (decoder entity, as clients and
 *	v4l2-compliance expect of a stateful decoder)
 * @v4l2_dev:	the V4L2 device
 * @vfd:	the stateful decoder's /dev/videoN node
 * @sl_vfd:	the stateless (Request API) decoder's node
 * @sl_mc:	its media entities
 * @m2m_dev:	the mem2mem scheduler, shared by both nodes: one job runs at
 *	a time
 * @misc:	/dev/daedalus
 * @dev_mutex:	the video node's ioctl lock
 * @ctx_lock:	protects @ctx_list, @nr_ctx and @next_ctx_id
 * @ctx_list:	open contexts, for ctx_id lookup from daemon messages
 * @nr_ctx:	open contexts
 * @fdev:	what the decoder contexts share (fdev.lock is @ctx_lock)
 * @next_ctx_id: the next context id to try
 * @daemon:	the attached daemon
 * @core:	the job core (large: keep last)
 * @watchdog:	runs daedalus_job_watchdog() while a daemon is attached
 * @debugfs:	debugfs directory, or an error pointer
 * @registered:	the nodes are registered (not for bare test instances)
 * @virtual_clock: time is @clock_ns, moved by the KUnit scenario executor
 *	(bare test instances only), instead of ktime_get_ns()
 * @clock_ns:	the virtual clock, when @virtual_clock
 */
struct daedalus_dev {
	struct platform_device *pdev;
	struct media_device mdev;
	struct v4l2_device v4l2_dev;
	struct video_device vfd;
	struct video_device sl_vfd;
	struct daedalus_sl_mc sl_mc;
	struct v4l2_m2m_dev *m2m_dev;
	struct miscdevice misc;
	struct mutex dev_mutex;		/* video node ioctls */
	struct mutex ctx_lock;		/* ctx_list, nr_ctx */
	struct list_head ctx_list;
	unsigned int nr_ctx;
	struct daedalus_front_dev fdev;
	u32 next_ctx_id;
	struct daedalus_daemon daemon;
	struct delayed_work watchdog;
	struct dentry *debugfs;
	bool registered;
	bool virtual_clock;
	u64 clock_ns;
	struct daedalus_job_core core;
};

/**
 * daedalus_now() - the time job deadlines are measured in
 * @dev:	the device
 *
 * Return: ktime_get_ns(), or the virtual clock of a test instance, so a
 * scenario's ticks alone decide which job expires, as in the userspace
 * executor.
 */
static inline u64 daedalus_now(struct daedalus_dev *dev)
{
	return dev->virtual_clock ? READ_ONCE(dev->clock_ns) : ktime_get_ns();
}

/**
 * struct daedalus_ctx - one open decoder file handle
 * @fh:		V4L2 file handle; fh.m2m_ctx is the m2m context
 * @dev:	the device
 * @node:	on dev->ctx_list
 * @jctx:	the context's job state (jctx.ctx_id is its protocol id)
 * @front:	the decoder's state machine (daedalus_front.c): session,
 *	drain, the CAPTURE format
 * @hdl:	controls
 * @min_bufs_ctrl: V4L2_CID_MIN_BUFFERS_FOR_CAPTURE
 * @vb_mutex:	the vb2 queues' lock
 * @lock:	protects @out_fmt and @colorimetry; innermost
 * @out_fmt:	OUTPUT format (coded stream)
 * @colorimetry: colorspace, xfer_func, ycbcr_enc, quantization from OUTPUT
 * @colorimetry.colorspace: V4L2 colorspace
 * @colorimetry.xfer_func: transfer function
 * @colorimetry.ycbcr_enc: Y'CbCr encoding
 * @colorimetry.quantization: quantization range
 * @stateless:	opened on the stateless node
 * @sl:		a stateless context's REQ_DECODE body and request controls
 * @sl_ctrls:	a stateless context's codec controls
 */
struct daedalus_ctx {
	struct v4l2_fh fh;
	struct daedalus_dev *dev;
	struct list_head node;
	struct daedalus_job_ctx jctx;
	struct daedalus_front front;
	struct v4l2_ctrl_handler hdl;
	struct v4l2_ctrl *min_bufs_ctrl;
	struct mutex vb_mutex;		/* vb2 queues */
	spinlock_t lock;		/* out_fmt, colorimetry */
	struct v4l2_pix_format_mplane out_fmt;
	struct {
		u32 colorspace;
		u32 xfer_func;
		u32 ycbcr_enc;
		u32 quantization;
	} colorimetry;
	bool stateless;
	struct daedalus_sl *sl;
	struct v4l2_ctrl *sl_ctrls[DAEDALUS_SL_NCTRLS];
};

/* daedalus_chardev.c */
int daedalus_chardev_register(struct daedalus_dev *dev);
void daedalus_chardev_unregister(struct daedalus_dev *dev);
void daedalus_daemon_init(struct daedalus_daemon *d);
int daedalus_daemon_send(struct daedalus_dev *dev,
			 struct daedalus_outq_share *share, u16 type,
			 u64 cookie, const void *body, u32 body_len,
			 const void *data, u32 data_len, u32 trace_flags);
int daedalus_daemon_codecs(struct daedalus_dev *dev, u32 *codecs,
			   u32 *pixfmts);
u32 daedalus_daemon_flags(struct daedalus_dev *dev);
int daedalus_daemon_attach(struct daedalus_dev *dev, struct file *file);
void daedalus_daemon_detach(struct daedalus_dev *dev);
ssize_t daedalus_daemon_pop(struct daedalus_dev *dev, void *buf, size_t len);
int daedalus_daemon_write(struct daedalus_dev *dev, const void *buf,
			  size_t len);
extern const struct daedalus_job_ops daedalus_job_ops;

/* daedalus_vdec.c */
void daedalus_vdec_init(struct daedalus_dev *dev);
int daedalus_vdec_register(struct daedalus_dev *dev);
void daedalus_vdec_unregister(struct daedalus_dev *dev);
extern const struct v4l2_m2m_ops daedalus_m2m_ops;
struct daedalus_ctx *daedalus_ctx_create(struct daedalus_dev *dev);
struct daedalus_ctx *daedalus_ctx_create_kind(struct daedalus_dev *dev,
					      bool stateless);
void daedalus_ctx_destroy(struct daedalus_ctx *ctx);
int daedalus_vdec_decoder_cmd(struct daedalus_ctx *ctx, u32 cmd);
void daedalus_vdec_kick(struct daedalus_dev *dev);

/* daedalus_sdec.c */
int daedalus_sdec_ctx_init(struct daedalus_ctx *ctx);
void daedalus_sdec_ctx_free(struct daedalus_ctx *ctx);
void daedalus_sdec_prepare(struct daedalus_ctx *ctx);
const void *daedalus_sdec_body(struct daedalus_ctx *ctx,
			       const struct daedalus_req_decode *req, u32 *len);
void daedalus_sdec_src_done(struct daedalus_ctx *ctx,
			    struct vb2_v4l2_buffer *src);
void daedalus_sdec_buf_request_complete(struct vb2_buffer *vb);
void daedalus_sdec_media_init(struct daedalus_dev *dev);
int daedalus_sdec_register(struct daedalus_dev *dev);
void daedalus_sdec_unregister(struct daedalus_dev *dev);

/* daedalus_main.c */
struct daedalus_ctx *daedalus_ctx_find(struct daedalus_dev *dev, u32 ctx_id);
struct daedalus_dev *daedalus_dev_create(bool register_nodes);
void daedalus_dev_destroy(struct daedalus_dev *dev);

#endif /* _DAEDALUS_H */
