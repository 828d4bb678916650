/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * daedalus protocol v1: the messages between daedalus_v4l2.ko and the
 * decoding daemon, daedalusd, over the /dev/daedalus character device.
 *
 * read() on the device returns exactly one kernel->daemon request per call;
 * write() takes exactly one daemon->kernel response per call. Every message
 * is a struct daedalus_hdr followed by hdr.payload_len bytes: the fixed body
 * of its type, then, for the types that carry data (REQ_DECODE, RESP_FRAME),
 * the data itself.
 *
 * Integers are little-endian. Every struct is naturally aligned, its size a
 * multiple of 8, with explicit padding; every reserved field and every
 * undefined flag bit must be zero, or the receiver rejects the message
 * (-EINVAL). No field ever carries a pointer.
 *
 * docs/protocol.md describes the message flow and who owns which buffer
 * after each message.
 */
#ifndef _UAPI_LINUX_DAEDALUS_H
#define _UAPI_LINUX_DAEDALUS_H

#include <linux/types.h>
#include <linux/v4l2-controls.h>

#define DAEDALUS_PROTO_MAGIC		0x534c4444	/* "DDLS" as LE bytes */
#define DAEDALUS_PROTO_VERSION		1

/* The largest payload either side sends or accepts (an 8K NV12 picture). */
#define DAEDALUS_MAX_PAYLOAD		(64u << 20)

/* The largest coded width or height any message may name. */
#define DAEDALUS_MAX_DIM		16384u

/* The largest DPB a stream may ask CAPTURE buffers for. */
#define DAEDALUS_MAX_DPB		32u

/* No buffer on this side of a job (src_index/dst_index). */
#define DAEDALUS_NO_BUF			0xffffffffu

/*
 * Message types. Requests (kernel -> daemon) live in the low half of the
 * type space, responses (daemon -> kernel) in the high half.
 */
#define DAEDALUS_MSG_RESPONSE		0x8000

enum daedalus_msg_type {
	DAEDALUS_REQ_HELLO		= 0x0001,
	DAEDALUS_REQ_SESSION_OPEN	= 0x0002,
	DAEDALUS_REQ_SESSION_CLOSE	= 0x0003,
	DAEDALUS_REQ_DECODE		= 0x0004,
	DAEDALUS_REQ_FLUSH		= 0x0005,
	DAEDALUS_REQ_RESET		= 0x0006,
	DAEDALUS_REQ_PING		= 0x0007,
	DAEDALUS_REQ_CAPTURE_OFF	= 0x0008,
	DAEDALUS_REQ_CAPTURE_FMT	= 0x0009,

	DAEDALUS_RESP_HELLO		= 0x8001,
	DAEDALUS_RESP_FRAME		= 0x8002,
	DAEDALUS_RESP_STREAM_INFO	= 0x8003,
	DAEDALUS_RESP_PONG		= 0x8004,
	DAEDALUS_RESP_SESSION_ERROR	= 0x8005,
	DAEDALUS_RESP_RESET_DONE	= 0x8006,
};

/*
 * Job cookies: the kernel's in-flight slot id in the low 32 bits and the
 * slot's generation in the high 32 bits. A slot's generation changes every
 * time the slot is reused, so a reply to a finished job names a cookie that
 * no longer exists. Generations start at 1: cookie 0 is never a job.
 */
#define DAEDALUS_COOKIE(id, gen)	((((__u64)(gen)) << 32) | (__u32)(id))
#define DAEDALUS_COOKIE_ID(cookie)	((__u32)((cookie) & 0xffffffffu))
#define DAEDALUS_COOKIE_GEN(cookie)	((__u32)((cookie) >> 32))

/**
 * struct daedalus_hdr - the fixed header in front of every message
 * @magic:	DAEDALUS_PROTO_MAGIC
 * @version:	DAEDALUS_PROTO_VERSION
 * @type:	an enum daedalus_msg_type value
 * @payload_len: bytes following the header: fixed body plus data
 * @reserved:	zero
 * @cookie:	the job this message is about (REQ_DECODE, RESP_FRAME,
 *		RESP_STREAM_INFO), a PING/PONG token, or zero
 */
struct daedalus_hdr {
	__le32 magic;
	__le16 version;
	__le16 type;
	__le32 payload_len;
	__le32 reserved;
	__le64 cookie;
};

/* Codecs (OUTPUT formats) a daemon can decode. */
enum daedalus_codec {
	DAEDALUS_CODEC_H264	= 1,
	DAEDALUS_CODEC_HEVC	= 2,
	DAEDALUS_CODEC_VP8	= 3,
	DAEDALUS_CODEC_VP9	= 4,
	/*
	 * Stateless H.264 (the Request API node): a job is one picture, its
	 * REQ_DECODE data starts with struct daedalus_h264_slice.
	 */
	DAEDALUS_CODEC_H264_SLICE = 5,
	DAEDALUS_CODEC_MAX	= DAEDALUS_CODEC_H264_SLICE,
};

/* Picture formats (CAPTURE formats) a daemon can produce. */
enum daedalus_pixfmt {
	DAEDALUS_PIXFMT_NV12	= 1,
	DAEDALUS_PIXFMT_YUV420	= 2,
	DAEDALUS_PIXFMT_MAX	= DAEDALUS_PIXFMT_YUV420,
};

#define DAEDALUS_CODEC_BIT(codec)	(1u << (codec))
#define DAEDALUS_PIXFMT_BIT(pixfmt)	(1u << (pixfmt))

/*
 * The codecs a module of the protocol's first release knows: it refuses
 * a RESP_HELLO naming any other (-EINVAL) and keeps waiting for one, so a
 * daemon whose RESP_HELLO is refused answers again with these only.
 */
#define DAEDALUS_CODECS_BASE	(DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_HEVC) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_VP8) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_VP9))

/**
 * struct daedalus_req_hello - REQ_HELLO: the first message read() returns
 * @proto_version: the protocol version the module speaks
 * @max_contexts: how many decoder contexts may be open at once
 * @max_payload: the largest payload the module accepts in a write()
 * @reserved:	zero
 */
struct daedalus_req_hello {
	__le32 proto_version;
	__le32 max_contexts;
	__le32 max_payload;
	__le32 reserved;
};

/* The daemon can fill buffers mapped from /dev/daedalus (zero-copy). */
#define DAEDALUS_HELLO_F_MAPPED		(1u << 0)
/* The daemon takes REQ_CAPTURE_FMT: the client may change the CAPTURE
 * pixel format while the session is open. */
#define DAEDALUS_HELLO_F_CAPTURE_FMT	(1u << 1)
#define DAEDALUS_HELLO_FLAGS		(DAEDALUS_HELLO_F_MAPPED | \
					 DAEDALUS_HELLO_F_CAPTURE_FMT)

/**
 * struct daedalus_resp_hello - RESP_HELLO: the daemon's answer to REQ_HELLO
 * @proto_version: must equal DAEDALUS_PROTO_VERSION, else -EPROTO
 * @daemon_version: (major << 16) | (minor << 8) | patch
 * @codecs:	mask of DAEDALUS_CODEC_BIT(), not empty; the module offers
 *		these only
 * @pixfmts:	mask of DAEDALUS_PIXFMT_BIT(), not empty
 * @max_width:	largest coded width the daemon decodes, 1..DAEDALUS_MAX_DIM
 * @max_height:	largest coded height the daemon decodes, 1..DAEDALUS_MAX_DIM;
 *		a 4:2:0 picture of both, rounded up to multiples of 16, must
 *		fit one RESP_FRAME (DAEDALUS_MAX_PAYLOAD less its body)
 * @flags:	DAEDALUS_HELLO_F_*
 * @reserved:	zero
 */
struct daedalus_resp_hello {
	__le32 proto_version;
	__le32 daemon_version;
	__le32 codecs;
	__le32 pixfmts;
	__le32 max_width;
	__le32 max_height;
	__le32 flags;
	__le32 reserved;
};

/**
 * struct daedalus_req_session_open - REQ_SESSION_OPEN: a decoder context
 *	starts streaming; the daemon creates its session
 * @ctx_id:	the context, unique while it is open, never 0
 * @codec:	enum daedalus_codec
 * @pixfmt:	enum daedalus_pixfmt wanted on CAPTURE
 * @width:	visible width the CAPTURE format is set up for (S_FMT(OUTPUT)'s
 *		until the stream says otherwise); a first STREAM_INFO of
 *		another size is a format change
 * @height:	visible height, likewise
 * @reserved:	zero
 */
struct daedalus_req_session_open {
	__le32 ctx_id;
	__le32 codec;
	__le32 pixfmt;
	__le32 width;
	__le32 height;
	__le32 reserved;
};

/**
 * struct daedalus_req_session_close - REQ_SESSION_CLOSE: the context is gone;
 *	every cookie of it is dead
 * @ctx_id:	the context
 * @reserved:	zero
 */
struct daedalus_req_session_close {
	__le32 ctx_id;
	__le32 reserved;
};

/* The job has no OUTPUT buffer: it only hands the daemon a CAPTURE buffer. */
#define DAEDALUS_DECODE_F_NO_SRC	(1u << 0)
/* The buffers are mapped through /dev/daedalus at src_map and dst_map. */
#define DAEDALUS_DECODE_F_MAPPED	(1u << 1)
#define DAEDALUS_DECODE_FLAGS	(DAEDALUS_DECODE_F_NO_SRC | DAEDALUS_DECODE_F_MAPPED)

/**
 * struct daedalus_req_decode - REQ_DECODE: one job; hdr.cookie names it
 * @ctx_id:	the context
 * @codec:	enum daedalus_codec
 * @flags:	DAEDALUS_DECODE_F_*
 * @generation:	the context's stream generation (see REQ_RESET)
 * @timestamp:	the OUTPUT buffer's timestamp in ns; 0 with F_NO_SRC
 * @src_index:	vb2 index of the OUTPUT buffer, DAEDALUS_NO_BUF with F_NO_SRC
 * @dst_index:	vb2 index of the CAPTURE buffer
 * @bytes:	bitstream bytes; unless F_MAPPED they follow this struct
 *		(with CODEC_H264_SLICE, after struct daedalus_h264_slice)
 * @dst_size:	capacity of the CAPTURE buffer in bytes
 * @src_map:	mmap offset of the OUTPUT buffer on /dev/daedalus (F_MAPPED)
 * @dst_map:	mmap offset of the CAPTURE buffer on /dev/daedalus (F_MAPPED)
 */
struct daedalus_req_decode {
	__le32 ctx_id;
	__le32 codec;
	__le32 flags;
	__le32 generation;
	__le64 timestamp;
	__le32 src_index;
	__le32 dst_index;
	__le32 bytes;
	__le32 dst_size;
	__le64 src_map;
	__le64 dst_map;
};

/*
 * A scaling matrix is in effect (the PPS control has
 * V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT): scaling_matrix holds it.
 */
#define DAEDALUS_H264_F_SCALING_MATRIX	(1u << 0)
#define DAEDALUS_H264_FLAGS		DAEDALUS_H264_F_SCALING_MATRIX

/**
 * struct daedalus_h264_slice - the controls of one stateless H.264
 *	request: the first bytes of a CODEC_H264_SLICE REQ_DECODE's data,
 *	mapped or not, before the bitstream (the request's OUTPUT buffer:
 *	every slice of one picture, Annex B start codes). The V4L2 structs
 *	are the controls' payloads as the request holds them (uapi layout,
 *	little-endian like every field here).
 * @flags:	DAEDALUS_H264_F_*
 * @width:	the visible width, the OUTPUT format's, 1..DAEDALUS_MAX_DIM:
 *		the picture's cropping (the SPS control carries none)
 * @height:	the visible height, likewise
 * @reserved:	zero
 * @decode_params: V4L2_CID_STATELESS_H264_DECODE_PARAMS; its DPB names
 *		the reference pictures by the timestamps of their requests
 * @sps:	V4L2_CID_STATELESS_H264_SPS
 * @pps:	V4L2_CID_STATELESS_H264_PPS
 * @scaling_matrix: V4L2_CID_STATELESS_H264_SCALING_MATRIX with
 *		F_SCALING_MATRIX, else zero
 * @reserved2:	zero
 */
struct daedalus_h264_slice {
	__le32 flags;
	__le32 width;
	__le32 height;
	__le32 reserved;
	struct v4l2_ctrl_h264_decode_params decode_params;
	struct v4l2_ctrl_h264_sps sps;
	struct v4l2_ctrl_h264_pps pps;
	struct v4l2_ctrl_h264_scaling_matrix scaling_matrix;
	__u8 reserved2[4];
};

/*
 * RESP_FRAME flags. SRC_CONSUMED: the job's OUTPUT buffer (if it has one)
 * is done and the job is finished; its CAPTURE buffer stays parked.
 * HAS_PIXELS: the job's CAPTURE buffer is filled and done. Both may come in
 * one message, or in either order in two. ERROR marks the buffers this
 * message releases as failed. LAST (with HAS_PIXELS only) ends a drain or
 * the pictures before a resolution change.
 */
#define DAEDALUS_FRAME_SRC_CONSUMED	(1u << 0)
#define DAEDALUS_FRAME_HAS_PIXELS	(1u << 1)
#define DAEDALUS_FRAME_ERROR		(1u << 2)
#define DAEDALUS_FRAME_LAST		(1u << 3)
#define DAEDALUS_FRAME_FLAGS	(DAEDALUS_FRAME_SRC_CONSUMED | \
				 DAEDALUS_FRAME_HAS_PIXELS | \
				 DAEDALUS_FRAME_ERROR | DAEDALUS_FRAME_LAST)

/**
 * struct daedalus_resp_frame - RESP_FRAME: progress of the job hdr.cookie
 * @ctx_id:	the context
 * @flags:	DAEDALUS_FRAME_*, at least one of SRC_CONSUMED and HAS_PIXELS
 * @timestamp:	with HAS_PIXELS: the timestamp of the source buffer that
 *		produced this picture (not of the job's own source)
 * @bytesused:	with HAS_PIXELS: picture bytes; unless the job was F_MAPPED
 *		they follow this struct
 * @generation:	the stream generation of the job
 * @reserved:	zero
 */
struct daedalus_resp_frame {
	__le32 ctx_id;
	__le32 flags;
	__le64 timestamp;
	__le32 bytesused;
	__le32 generation;
	__le32 reserved[2];
};

/**
 * struct daedalus_resp_stream_info - RESP_STREAM_INFO: the stream's format,
 *	at its first header and at every change of size or DPB; every picture
 *	of the previous format has been sent before it
 * @ctx_id:	the context
 * @generation:	the stream generation
 * @coded_width: coded (allocated) width in pixels, 1..DAEDALUS_MAX_DIM
 * @coded_height: coded height in pixels, 1..DAEDALUS_MAX_DIM
 * @visible_left: visible rectangle, not empty, inside the coded size
 * @visible_top: visible rectangle
 * @visible_width: visible rectangle
 * @visible_height: visible rectangle
 * @pixfmt:	enum daedalus_pixfmt of the pictures
 * @dpb_size:	pictures the decoder holds: the minimum CAPTURE buffers,
 *		1..DAEDALUS_MAX_DPB
 * @reserved:	zero
 */
struct daedalus_resp_stream_info {
	__le32 ctx_id;
	__le32 generation;
	__le32 coded_width;
	__le32 coded_height;
	__le32 visible_left;
	__le32 visible_top;
	__le32 visible_width;
	__le32 visible_height;
	__le32 pixfmt;
	__le32 dpb_size;
	__le32 reserved[2];
};

/**
 * struct daedalus_req_flush - REQ_FLUSH: drain; the daemon sends every
 *	remaining picture, the last one with DAEDALUS_FRAME_LAST
 * @ctx_id:	the context
 * @generation:	the stream generation being drained
 */
struct daedalus_req_flush {
	__le32 ctx_id;
	__le32 generation;
};

/**
 * struct daedalus_req_reset - REQ_RESET: drop all decoder state and every
 *	job of the context (seek: OUTPUT STREAMOFF); the daemon answers
 *	RESP_RESET_DONE
 * @ctx_id:	the context
 * @generation:	the new stream generation; replies naming an older one are
 *		stale and rejected
 */
struct daedalus_req_reset {
	__le32 ctx_id;
	__le32 generation;
};

/**
 * struct daedalus_req_capture_off - REQ_CAPTURE_OFF: CAPTURE was streamed off
 *	(reallocation after SOURCE_CHANGE, or the client stopped it). The
 *	module has returned every CAPTURE buffer of the context's jobs and
 *	ended the running one: every cookie of the context issued so far is
 *	dead. The daemon forgets them and keeps its decoder state; pictures it
 *	still holds go to the CAPTURE buffers of later jobs. No answer.
 * @ctx_id:	the context
 * @generation:	the context's stream generation, unchanged
 */
struct daedalus_req_capture_off {
	__le32 ctx_id;
	__le32 generation;
};

/**
 * struct daedalus_req_capture_fmt - REQ_CAPTURE_FMT: CAPTURE starts
 *	streaming (STREAMON) with this pixel format, which the client may have
 *	changed since REQ_SESSION_OPEN (after a SOURCE_CHANGE, say). Every
 *	picture the daemon sends from now on, those it already holds included,
 *	is laid out in it. Sent only to a daemon whose RESP_HELLO has
 *	DAEDALUS_HELLO_F_CAPTURE_FMT. No answer.
 * @ctx_id:	the context
 * @pixfmt:	enum daedalus_pixfmt
 */
struct daedalus_req_capture_fmt {
	__le32 ctx_id;
	__le32 pixfmt;
};

/**
 * struct daedalus_resp_reset_done - RESP_RESET_DONE
 * @ctx_id:	the context
 * @generation:	the generation of the REQ_RESET being answered
 */
struct daedalus_resp_reset_done {
	__le32 ctx_id;
	__le32 generation;
};

/**
 * struct daedalus_ping - REQ_PING and RESP_PONG: liveness; hdr.cookie is the
 *	token, echoed in the PONG
 * @seq:	sender's sequence number, echoed
 * @reserved:	zero
 */
struct daedalus_ping {
	__le32 seq;
	__le32 reserved;
};

/* Why a session failed (RESP_SESSION_ERROR). */
enum daedalus_session_error {
	DAEDALUS_ERR_UNSUPPORTED_CODEC	= 1,
	DAEDALUS_ERR_UNSUPPORTED_FORMAT	= 2,
	DAEDALUS_ERR_NOMEM		= 3,
	DAEDALUS_ERR_INTERNAL		= 4,
	DAEDALUS_ERR_MAX		= DAEDALUS_ERR_INTERNAL,
};

/**
 * struct daedalus_resp_session_error - RESP_SESSION_ERROR: the session is
 *	unusable; the kernel returns all of its buffers with ERROR
 * @ctx_id:	the context
 * @error:	enum daedalus_session_error
 */
struct daedalus_resp_session_error {
	__le32 ctx_id;
	__le32 error;
};

#endif /* _UAPI_LINUX_DAEDALUS_H */
