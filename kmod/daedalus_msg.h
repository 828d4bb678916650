/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus protocol v1 codec: raw bytes written by the daemon become a
 * validated, CPU-endian message or an error, and kernel requests become the
 * bytes read() returns. No state lives here, so the same file builds in
 * userspace for fuzzing and replay.
 */
#ifndef _DAEDALUS_MSG_H
#define _DAEDALUS_MSG_H

#include <linux/types.h>
#include <uapi/linux/daedalus.h>

/* Bytes of the fixed header in front of every message. */
#define DAEDALUS_HDR_SIZE	((u32)sizeof(struct daedalus_hdr))

/**
 * enum daedalus_reject - why a daemon message was refused
 * @DAEDALUS_REJECT_SHORT: fewer bytes than the header or the type's body
 * @DAEDALUS_REJECT_MAGIC: wrong magic
 * @DAEDALUS_REJECT_VERSION: header version is not DAEDALUS_PROTO_VERSION
 * @DAEDALUS_REJECT_TYPE: not a response type, or unknown
 * @DAEDALUS_REJECT_LENGTH: payload_len disagrees with the bytes written or
 *	with the type's body and data
 * @DAEDALUS_REJECT_RESERVED: a reserved field or undefined flag bit is set
 * @DAEDALUS_REJECT_FIELD: a field holds a value outside its range
 * @DAEDALUS_REJECT_STATE: the message is not expected now (before HELLO,
 *	a second HELLO)
 * @DAEDALUS_REJECT_UNKNOWN_COOKIE: no job ever had this cookie's slot id,
 *	or the slot is idle
 * @DAEDALUS_REJECT_STALE_COOKIE: the slot's generation moved on: a late
 *	reply to a finished, cancelled or expired job
 * @DAEDALUS_REJECT_WRONG_CTX: the cookie belongs to another context
 * @DAEDALUS_REJECT_STALE_GENERATION: the stream generation was reset since
 * @DAEDALUS_REJECT_DUP_SRC: SRC_CONSUMED for a job already finished
 * @DAEDALUS_REJECT_DUP_PIXELS: HAS_PIXELS for a picture already returned
 * @DAEDALUS_REJECT_TOO_BIG: picture larger than the CAPTURE buffer
 * @DAEDALUS_REJECT_NO_CTX: no open context has this ctx_id
 * @DAEDALUS_REJECT_MAX: number of reasons
 */
enum daedalus_reject {
	DAEDALUS_REJECT_SHORT,
	DAEDALUS_REJECT_MAGIC,
	DAEDALUS_REJECT_VERSION,
	DAEDALUS_REJECT_TYPE,
	DAEDALUS_REJECT_LENGTH,
	DAEDALUS_REJECT_RESERVED,
	DAEDALUS_REJECT_FIELD,
	DAEDALUS_REJECT_STATE,
	DAEDALUS_REJECT_UNKNOWN_COOKIE,
	DAEDALUS_REJECT_STALE_COOKIE,
	DAEDALUS_REJECT_WRONG_CTX,
	DAEDALUS_REJECT_STALE_GENERATION,
	DAEDALUS_REJECT_DUP_SRC,
	DAEDALUS_REJECT_DUP_PIXELS,
	DAEDALUS_REJECT_TOO_BIG,
	DAEDALUS_REJECT_NO_CTX,
	DAEDALUS_REJECT_MAX,
};

/**
 * struct daedalus_msg_hello - a validated RESP_HELLO
 * @proto_version: the daemon's protocol version (checked by the caller,
 *	which logs both versions on a mismatch)
 * @daemon_version: (major << 16) | (minor << 8) | patch
 * @codecs:	DAEDALUS_CODEC_BIT() mask, only known codecs
 * @pixfmts:	DAEDALUS_PIXFMT_BIT() mask, only known formats
 * @max_width:	largest coded width, non-zero
 * @max_height:	largest coded height, non-zero
 * @flags:	DAEDALUS_HELLO_F_*
 */
struct daedalus_msg_hello {
	u32 proto_version;
	u32 daemon_version;
	u32 codecs;
	u32 pixfmts;
	u32 max_width;
	u32 max_height;
	u32 flags;
};

/**
 * struct daedalus_msg_frame - a validated RESP_FRAME
 * @cookie:	the job
 * @ctx_id:	the context
 * @flags:	DAEDALUS_FRAME_*, at least one of SRC_CONSUMED and HAS_PIXELS
 * @timestamp:	with HAS_PIXELS, the producing source's timestamp in ns
 * @bytesused:	with HAS_PIXELS, the picture's size; 0 otherwise
 * @generation:	the job's stream generation
 * @data:	the picture bytes inside the written message, or NULL when
 *	the message carries none (mapped buffers, or no HAS_PIXELS)
 * @data_len:	bytes at @data: @bytesused, or 0
 */
struct daedalus_msg_frame {
	u64 cookie;
	u32 ctx_id;
	u32 flags;
	u64 timestamp;
	u32 bytesused;
	u32 generation;
	const void *data;
	u32 data_len;
};

/**
 * struct daedalus_msg_stream_info - a validated RESP_STREAM_INFO
 * @ctx_id:	the context
 * @generation:	the stream generation
 * @coded_width: coded width, non-zero
 * @coded_height: coded height, non-zero
 * @visible_left: visible rectangle, inside the coded size
 * @visible_top: visible rectangle
 * @visible_width: visible rectangle, non-zero
 * @visible_height: visible rectangle, non-zero
 * @pixfmt:	enum daedalus_pixfmt
 * @dpb_size:	minimum CAPTURE buffers, 1..32
 */
struct daedalus_msg_stream_info {
	u32 ctx_id;
	u32 generation;
	u32 coded_width;
	u32 coded_height;
	u32 visible_left;
	u32 visible_top;
	u32 visible_width;
	u32 visible_height;
	u32 pixfmt;
	u32 dpb_size;
};

/**
 * struct daedalus_msg - one validated daemon->kernel message
 * @type:	enum daedalus_msg_type, a response
 * @cookie:	hdr.cookie
 * @hello:	RESP_HELLO body
 * @frame:	RESP_FRAME body
 * @stream_info: RESP_STREAM_INFO body
 * @pong_seq:	RESP_PONG sequence number
 * @session_error: RESP_SESSION_ERROR body
 * @session_error.ctx_id: the context
 * @session_error.error: enum daedalus_session_error
 * @reset_done:	RESP_RESET_DONE body
 * @reset_done.ctx_id: the context
 * @reset_done.generation: the generation of the REQ_RESET answered
 */
struct daedalus_msg {
	u16 type;
	u64 cookie;
	union {
		struct daedalus_msg_hello hello;
		struct daedalus_msg_frame frame;
		struct daedalus_msg_stream_info stream_info;
		u32 pong_seq;
		struct {
			u32 ctx_id;
			u32 error;
		} session_error;
		struct {
			u32 ctx_id;
			u32 generation;
		} reset_done;
	};
};

/**
 * struct daedalus_decode_params - the fields of one REQ_DECODE, CPU-endian
 * @cookie:	the job's cookie
 * @ctx_id:	the context
 * @codec:	enum daedalus_codec
 * @flags:	DAEDALUS_DECODE_F_*
 * @generation:	the context's stream generation
 * @timestamp:	the OUTPUT buffer's timestamp, 0 without one
 * @src_index:	OUTPUT buffer index or DAEDALUS_NO_BUF
 * @dst_index:	CAPTURE buffer index
 * @bytes:	bitstream bytes
 * @dst_size:	CAPTURE buffer capacity
 * @src_map:	mmap offset of the OUTPUT buffer (F_MAPPED)
 * @dst_map:	mmap offset of the CAPTURE buffer (F_MAPPED)
 */
struct daedalus_decode_params {
	u64 cookie;
	u32 ctx_id;
	u32 codec;
	u32 flags;
	u32 generation;
	u64 timestamp;
	u32 src_index;
	u32 dst_index;
	u32 bytes;
	u32 dst_size;
	u64 src_map;
	u64 dst_map;
};

/**
 * daedalus_msg_header_len() - how long the message starting with @hdr is
 * @buf:	the first DAEDALUS_HDR_SIZE bytes of a write
 * @len:	bytes available at @buf
 * @total:	set to header plus payload length on success
 * @reason:	set to an enum daedalus_reject on failure (may be NULL)
 *
 * Lets the character device size its copy before taking the whole write.
 *
 * Return: 0, or -EINVAL for a short, foreign or oversized header.
 */
int daedalus_msg_header_len(const void *buf, size_t len, u32 *total,
			    enum daedalus_reject *reason);

/**
 * daedalus_msg_parse() - validate one daemon->kernel message
 * @buf:	the bytes of one write(), any alignment
 * @len:	number of bytes at @buf
 * @msg:	filled on success, untouched on failure
 * @reason:	set to an enum daedalus_reject on failure (may be NULL)
 *
 * Checks magic, version, type, that payload_len matches @len exactly, the
 * type's body size, reserved fields, flag bits and field ranges. Picture
 * bytes of a RESP_FRAME are referenced in place (@msg->frame.data points
 * into @buf). Cookies and contexts are not checked here: that needs state.
 *
 * Return: 0; -EPROTO for a wrong magic or version; -EINVAL for anything
 * else.
 */
int daedalus_msg_parse(const void *buf, size_t len, struct daedalus_msg *msg,
		       enum daedalus_reject *reason);

/**
 * daedalus_msg_encode() - write a kernel->daemon message
 * @buf:	destination, at least DAEDALUS_HDR_SIZE + @body_len bytes
 * @type:	a request type
 * @cookie:	hdr.cookie
 * @body:	the type's fixed body, already little-endian
 * @body_len:	size of @body
 * @data_len:	bytes of data the caller places after the body
 *
 * Return: the number of bytes written (header and body).
 */
size_t daedalus_msg_encode(void *buf, u16 type, u64 cookie, const void *body,
			   u32 body_len, u32 data_len);

/**
 * daedalus_msg_encode_decode() - build the fixed body of a REQ_DECODE
 * @req:	destination
 * @p:		the job's fields
 */
void daedalus_msg_encode_decode(struct daedalus_req_decode *req,
				const struct daedalus_decode_params *p);

/**
 * daedalus_msg_reject_name() - short name of a rejection reason
 * @reason:	enum daedalus_reject
 *
 * Return: a static string, "invalid" for an out-of-range value.
 */
const char *daedalus_msg_reject_name(unsigned int reason);

#endif /* _DAEDALUS_MSG_H */
