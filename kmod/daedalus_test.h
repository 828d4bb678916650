/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's internals for in-kernel tests (KUnit): make a device with
 * no nodes, open contexts without files, drive their queues the way the
 * ioctls would, and play the daemon by writing and reading raw protocol
 * bytes. Every function is exported with EXPORT_SYMBOL_IF_KUNIT.
 *
 * A test typically does:
 *   dev = daedalus_dev_create(false);
 *   daedalus_daemon_attach(dev, token);     REQ_HELLO is queued
 *   daedalus_daemon_pop(dev, buf, len);      read it
 *   daedalus_daemon_write(dev, hello, n);    RESP_HELLO
 *   ctx = daedalus_ctx_create(dev);
 *   daedalus_test_reqbufs(ctx, false, 4); daedalus_test_reqbufs(ctx, true, 4);
 *   daedalus_test_qbuf(...); daedalus_test_streamon(ctx, false/true);
 *   ... pop REQ_SESSION_OPEN / REQ_DECODE, write RESP_FRAME ...
 *   daedalus_test_dqbuf(...); daedalus_job_get_stats(&dev->core, &st);
 *   daedalus_ctx_destroy(ctx); daedalus_dev_destroy(dev);
 * device_run runs synchronously inside QBUF/STREAMON/DECODER_CMD when the
 * context becomes ready, but after a job_finish (RESP_FRAME SRC_CONSUMED,
 * abort, watchdog) the next one runs from the system workqueue:
 * daedalus_test_wait_runs() waits for it.
 */
#ifndef _DAEDALUS_TEST_H
#define _DAEDALUS_TEST_H

#include <linux/types.h>
#include <media/videobuf2-core.h>

#include "daedalus.h"

/**
 * struct daedalus_test_buf - a dequeued buffer, as the client sees it
 * @index:	vb2 index
 * @error:	V4L2_BUF_FLAG_ERROR was set
 * @last:	V4L2_BUF_FLAG_LAST was set
 * @flags:	all V4L2_BUF_FLAG_* bits
 * @timestamp:	timestamp in ns
 * @sequence:	sequence number
 * @bytesused:	payload of plane 0
 */
struct daedalus_test_buf {
	u32 index;
	bool error;
	bool last;
	u32 flags;
	u64 timestamp;
	u32 sequence;
	u32 bytesused;
};

/**
 * daedalus_test_set_format() - S_FMT(OUTPUT) without a file
 * @ctx:	the context (no buffers allocated)
 * @fourcc:	coded format, e.g. V4L2_PIX_FMT_H264
 * @width:	coded width, 0 to learn it from the stream
 * @height:	coded height, 0 to learn it from the stream
 *
 * Return: 0, -EBUSY with buffers allocated, -EINVAL for an unknown format.
 */
int daedalus_test_set_format(struct daedalus_ctx *ctx, u32 fourcc, u32 width,
			     u32 height);

/**
 * daedalus_test_reqbufs() - REQBUFS (MMAP)
 * @ctx:	the context
 * @capture:	CAPTURE queue, else OUTPUT
 * @count:	buffers wanted; updated to the count allocated
 *
 * Return: 0 or the vb2 error.
 */
int daedalus_test_reqbufs(struct daedalus_ctx *ctx, bool capture,
			  unsigned int *count);

/**
 * daedalus_test_qbuf() - QBUF, with data for an OUTPUT buffer
 * @ctx:	the context
 * @capture:	CAPTURE queue, else OUTPUT
 * @index:	buffer index
 * @data:	bitstream copied into an OUTPUT buffer first (may be NULL)
 * @bytesused:	OUTPUT payload (ignored for CAPTURE)
 * @timestamp:	OUTPUT timestamp in ns; like the ioctl, struct v4l2_buffer
 *	carries microseconds, so it is rounded down to a multiple of 1000
 *	(use multiples of 1000 to compare exactly); ignored for CAPTURE
 *
 * Return: 0 or the vb2 error.
 */
int daedalus_test_qbuf(struct daedalus_ctx *ctx, bool capture, u32 index,
		       const void *data, u32 bytesused, u64 timestamp);

/**
 * daedalus_test_qbuf_request() - QBUF, into a request or not
 * @ctx:	the context
 * @capture:	CAPTURE (never in a request: -EPERM, as v4l2_m2m_qbuf())
 * @index:	the buffer
 * @data:	bytes copied into an OUTPUT buffer first, may be NULL
 * @bytesused:	an OUTPUT buffer's payload
 * @timestamp:	an OUTPUT buffer's timestamp (ns)
 * @request_fd:	the file descriptor given with V4L2_BUF_FLAG_REQUEST_FD
 *		(any value, as a client may give), or NULL for a plain QBUF
 *
 * Return: 0 or vb2_qbuf()'s errno; a buffer in a request reaches the
 * driver when the request is queued.
 */
int daedalus_test_qbuf_request(struct daedalus_ctx *ctx, bool capture,
			       u32 index, const void *data, u32 bytesused,
			       u64 timestamp, const int *request_fd);

/**
 * daedalus_test_dqbuf() - non-blocking DQBUF
 * @ctx:	the context
 * @capture:	CAPTURE queue, else OUTPUT
 * @out:	filled on success
 *
 * Return: 0, -EAGAIN when nothing is done, -EPIPE after LAST, or another
 * vb2 error.
 */
int daedalus_test_dqbuf(struct daedalus_ctx *ctx, bool capture,
			struct daedalus_test_buf *out);

/**
 * daedalus_test_streamon() - STREAMON
 * @ctx:	the context
 * @capture:	CAPTURE queue, else OUTPUT
 *
 * Return: 0 or the error STREAMON would give.
 */
int daedalus_test_streamon(struct daedalus_ctx *ctx, bool capture);

/**
 * daedalus_test_streamoff() - STREAMOFF, as the ioctl does it
 * @ctx:	the context
 * @capture:	CAPTURE queue, else OUTPUT
 *
 * Return: 0 or the error STREAMOFF would give.
 */
int daedalus_test_streamoff(struct daedalus_ctx *ctx, bool capture);

/**
 * daedalus_test_decoder_cmd() - DECODER_CMD
 * @ctx:	the context
 * @cmd:	V4L2_DEC_CMD_STOP or V4L2_DEC_CMD_START
 *
 * Return: 0 or the error the ioctl would give.
 */
int daedalus_test_decoder_cmd(struct daedalus_ctx *ctx, u32 cmd);

/**
 * daedalus_test_wait_runs() - wait until device_run ran @runs times in all
 * @dev:	the device
 * @runs:	the daedalus_job_stats.runs value to reach
 * @timeout_ms:	give up after this long
 *
 * Return: 0, or -ETIMEDOUT.
 */
int daedalus_test_wait_runs(struct daedalus_dev *dev, u64 runs,
			    unsigned int timeout_ms);

#endif /* _DAEDALUS_TEST_H */
