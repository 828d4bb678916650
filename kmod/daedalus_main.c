// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus_v4l2: a V4L2 stateful video decoder whose decoding is done by a
 * userspace daemon (daedalusd) over /dev/daedalus, protocol v1.
 *
 * Module glue: the device instance, the job watchdog, debugfs counters and
 * the tracepoint definitions.
 */

#include <kunit/visibility.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "daedalus.h"

#define CREATE_TRACE_POINTS
#include "daedalus_trace.h"

static unsigned int job_timeout_ms = 2000;
module_param(job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms,
		 "time a decode job may stay unfinished before it fails (0: never)");

static struct daedalus_dev *daedalus_the_dev;

/**
 * daedalus_ctx_find() - the open context with protocol id @ctx_id
 * @dev:	the device; dev->ctx_lock must be held
 * @ctx_id:	the id
 *
 * Return: the context, or NULL.
 */
struct daedalus_ctx *daedalus_ctx_find(struct daedalus_dev *dev, u32 ctx_id)
	__must_hold(&dev->ctx_lock)
{
	struct daedalus_ctx *ctx;

	lockdep_assert_held(&dev->ctx_lock);
	list_for_each_entry(ctx, &dev->ctx_list, node)
		if (ctx->jctx.ctx_id == ctx_id)
			return ctx;
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_ctx_find);

static void daedalus_watchdog_work(struct work_struct *work)
{
	struct daedalus_dev *dev = container_of(to_delayed_work(work),
						struct daedalus_dev, watchdog);

	daedalus_job_watchdog(&dev->core, daedalus_now(dev));
	if (daedalus_outq_state(&dev->daemon.outq) == DAEDALUS_DAEMON_READY)
		schedule_delayed_work(&dev->watchdog,
				      msecs_to_jiffies(DAEDALUS_WATCHDOG_PERIOD_MS));
}

/* debugfs: counters, the in-flight table and the contexts. */

static int daedalus_stats_show(struct seq_file *m, void *unused)
{
	struct daedalus_dev *dev = m->private;
	struct daedalus_job_stats st;
	struct daedalus_ctx *ctx;
	unsigned int i, n, parked;

	daedalus_job_get_stats(&dev->core, &st);
	mutex_lock(&dev->daemon.lock);
	seq_printf(m, "daemon_attached: %d\n", !!dev->daemon.file);
	seq_printf(m, "daemon_ready: %d\n", dev->daemon.hello_done);
	seq_printf(m, "daemon_pid: %d\n", dev->daemon.file ? dev->daemon.pid : 0);
	mutex_unlock(&dev->daemon.lock);
	seq_printf(m, "runs: %llu\n", st.runs);
	seq_printf(m, "jobs: %llu\n", st.jobs);
	seq_printf(m, "job_finish: %llu\n", st.finished);
	seq_printf(m, "src_done: %llu\n", st.src_done);
	seq_printf(m, "dst_done: %llu\n", st.dst_done);
	seq_printf(m, "buf_errors: %llu\n", st.errors);
	seq_printf(m, "expired: %llu\n", st.expired);
	seq_printf(m, "invalid: %llu\n", st.invalid);
	seq_printf(m, "in_flight: %u\n", st.in_flight);
	seq_printf(m, "parked: %u\n", st.parked);
	seq_printf(m, "running: %u\n", st.running);
	seq_printf(m, "mapped_jobs: %llu\n", READ_ONCE(dev->daemon.mapped_jobs));
	seq_printf(m, "maps_revoked: %llu\n", READ_ONCE(dev->daemon.revoked));
	seq_printf(m, "queued_requests: %u\n", READ_ONCE(dev->daemon.outq.reqs));
	seq_printf(m, "queued_bytes: %llu\n", READ_ONCE(dev->daemon.outq.bytes));
	seq_printf(m, "coalesced: %llu\n", READ_ONCE(dev->daemon.outq.coalesced));
	for (i = 0; i < DAEDALUS_REJECT_MAX; i++)
		seq_printf(m, "rejected_%s: %llu\n",
			   daedalus_msg_reject_name(i), st.rejected[i]);
	mutex_lock(&dev->ctx_lock);
	list_for_each_entry(ctx, &dev->ctx_list, node) {
		n = daedalus_job_ctx_count(&ctx->jctx, &parked);
		seq_printf(m, "ctx %u: jobs %u parked %u generation %u\n",
			   ctx->jctx.ctx_id, n, parked, ctx->jctx.stream_gen);
	}
	mutex_unlock(&dev->ctx_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(daedalus_stats);

static int daedalus_jobs_show(struct seq_file *m, void *unused)
{
	struct daedalus_dev *dev = m->private;
	struct daedalus_job_core *core = &dev->core;
	unsigned int i;

	seq_puts(m, "cookie ctx src dst state\n");
	mutex_lock(&core->lock);
	for (i = 0; i < core->nr_slots; i++) {
		struct daedalus_job *job = &core->slots[i];

		if (!job->in_use)
			continue;
		seq_printf(m, "%#llx %u %d %d %s\n",
			   DAEDALUS_COOKIE(i, job->gen), job->jctx->ctx_id,
			   job->src ? (int)job->src->vb2_buf.index : -1,
			   job->dst ? (int)job->dst->vb2_buf.index : -1,
			   job->running ? "running" : "parked");
	}
	mutex_unlock(&core->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(daedalus_jobs);

static void daedalus_debugfs_init(struct daedalus_dev *dev)
{
	dev->debugfs = debugfs_create_dir(DAEDALUS_NAME, NULL);
	debugfs_create_file("stats", 0400, dev->debugfs, dev,
			    &daedalus_stats_fops);
	debugfs_create_file("jobs", 0400, dev->debugfs, dev,
			    &daedalus_jobs_fops);
}

/**
 * daedalus_dev_create() - a decoder instance
 * @register_nodes: register /dev/videoN and /dev/daedalus; false gives a
 *	bare instance for in-kernel tests (contexts and the daemon are then
 *	driven through daedalus_ctx_create() and daedalus_daemon_*())
 *
 * Return: the device or an ERR_PTR.
 */
struct daedalus_dev *daedalus_dev_create(bool register_nodes)
{
	struct daedalus_dev *dev;
	struct device *parent = NULL;
	int ret;

	/* The in-flight table makes this too big for kmalloc's comfort. */
	dev = kvzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	mutex_init(&dev->dev_mutex);
	mutex_init(&dev->ctx_lock);
	dev->fdev.lock = &dev->ctx_lock;
	INIT_LIST_HEAD(&dev->ctx_list);
	dev->next_ctx_id = 1;
	daedalus_daemon_init(&dev->daemon);
	INIT_DELAYED_WORK(&dev->watchdog, daedalus_watchdog_work);
	dev->debugfs = ERR_PTR(-ENODEV);

	if (register_nodes) {
		dev->pdev = platform_device_register_simple(DAEDALUS_NAME,
							    PLATFORM_DEVID_NONE,
							    NULL, 0);
		if (IS_ERR(dev->pdev)) {
			ret = PTR_ERR(dev->pdev);
			goto err_free;
		}
		parent = &dev->pdev->dev;
	}
	strscpy(dev->v4l2_dev.name, DAEDALUS_NAME, sizeof(dev->v4l2_dev.name));
	ret = v4l2_device_register(parent, &dev->v4l2_dev);
	if (ret)
		goto err_pdev;
	dev->m2m_dev = v4l2_m2m_init(&daedalus_m2m_ops);
	if (IS_ERR(dev->m2m_dev)) {
		ret = PTR_ERR(dev->m2m_dev);
		goto err_v4l2;
	}
	daedalus_job_core_init(&dev->core, dev->m2m_dev, &daedalus_job_ops,
			       &dev->daemon.outq,
			       (u64)job_timeout_ms * NSEC_PER_MSEC);
	daedalus_vdec_init(dev);

	/* A bare instance has it too: its stateless contexts take requests. */
	dev->mdev.dev = parent;
	/* No platform driver is bound: MEDIA_IOC_DEVICE_INFO needs the name. */
	strscpy(dev->mdev.driver_name, DAEDALUS_DRIVER,
		sizeof(dev->mdev.driver_name));
	strscpy(dev->mdev.model, DAEDALUS_NAME, sizeof(dev->mdev.model));
	snprintf(dev->mdev.bus_info, sizeof(dev->mdev.bus_info), "platform:%s",
		 DAEDALUS_NAME);
	media_device_init(&dev->mdev);
	daedalus_sdec_media_init(dev);
	dev->v4l2_dev.mdev = &dev->mdev;
	if (!register_nodes)
		return dev;

	ret = daedalus_vdec_register(dev);
	if (ret)
		goto err_media;
	ret = v4l2_m2m_register_media_controller(dev->m2m_dev, &dev->vfd,
						 MEDIA_ENT_F_PROC_VIDEO_DECODER);
	if (ret)
		goto err_vdec;
	ret = daedalus_sdec_register(dev);
	if (ret)
		goto err_mc;
	ret = media_device_register(&dev->mdev);
	if (ret)
		goto err_sdec;
	ret = daedalus_chardev_register(dev);
	if (ret)
		goto err_mdev;
	dev->registered = true;
	daedalus_debugfs_init(dev);
	return dev;

err_mdev:
	media_device_unregister(&dev->mdev);
err_sdec:
	daedalus_sdec_unregister(dev);
err_mc:
	v4l2_m2m_unregister_media_controller(dev->m2m_dev);
err_vdec:
	daedalus_vdec_unregister(dev);
err_media:
	media_device_cleanup(&dev->mdev);
	daedalus_job_core_destroy(&dev->core);
	v4l2_m2m_release(dev->m2m_dev);
err_v4l2:
	v4l2_device_unregister(&dev->v4l2_dev);
err_pdev:
	if (dev->pdev)
		platform_device_unregister(dev->pdev);
err_free:
	kvfree(dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_dev_create);

/**
 * daedalus_dev_destroy() - remove an instance with no open context
 * @dev:	the device
 */
void daedalus_dev_destroy(struct daedalus_dev *dev)
{
	debugfs_remove_recursive(dev->debugfs);
	if (dev->registered) {
		daedalus_chardev_unregister(dev);
		media_device_unregister(&dev->mdev);
		daedalus_sdec_unregister(dev);
		v4l2_m2m_unregister_media_controller(dev->m2m_dev);
		daedalus_vdec_unregister(dev);
	}
	daedalus_daemon_detach(dev);
	cancel_delayed_work_sync(&dev->watchdog);
	daedalus_job_core_destroy(&dev->core);
	v4l2_m2m_release(dev->m2m_dev);
	media_device_cleanup(&dev->mdev);
	v4l2_device_unregister(&dev->v4l2_dev);
	if (dev->pdev)
		platform_device_unregister(dev->pdev);
	kvfree(dev);
}
EXPORT_SYMBOL_IF_KUNIT(daedalus_dev_destroy);

static int __init daedalus_init(void)
{
	struct daedalus_dev *dev;

	dev = daedalus_dev_create(true);
	if (IS_ERR(dev))
		return PTR_ERR(dev);
	daedalus_the_dev = dev;
	return 0;
}

static void __exit daedalus_exit(void)
{
	daedalus_dev_destroy(daedalus_the_dev);
}

module_init(daedalus_init);
module_exit(daedalus_exit);

MODULE_DESCRIPTION("V4L2 stateful and stateless video decoders backed by a userspace daemon");
MODULE_LICENSE("GPL");
