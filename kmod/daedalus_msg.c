// SPDX-License-Identifier: GPL-2.0
/*
 * daedalus protocol v1 codec: bytes -> validated message, request -> bytes.
 *
 * Nothing here touches driver state: a message either parses completely or
 * is refused with a reason, so the character device can reject it before
 * anything changes. The file builds unchanged in userspace (fuzz targets
 * feed it raw bytes); its includes are exactly:
 *   <asm/byteorder.h> <linux/errno.h> <linux/string.h> <linux/types.h>
 *   "daedalus_msg.h" (which includes <uapi/linux/daedalus.h>)
 */

#include <asm/byteorder.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>

#include "daedalus_msg.h"

#define DAEDALUS_CODEC_MASK	(DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_HEVC) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_VP8) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_VP9) | \
				 DAEDALUS_CODEC_BIT(DAEDALUS_CODEC_H264_SLICE))
#define DAEDALUS_PIXFMT_MASK	(DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_NV12) | \
				 DAEDALUS_PIXFMT_BIT(DAEDALUS_PIXFMT_YUV420))


static const char * const daedalus_reject_names[DAEDALUS_REJECT_MAX] = {
	[DAEDALUS_REJECT_SHORT]		   = "short",
	[DAEDALUS_REJECT_MAGIC]		   = "magic",
	[DAEDALUS_REJECT_VERSION]	   = "version",
	[DAEDALUS_REJECT_TYPE]		   = "type",
	[DAEDALUS_REJECT_LENGTH]	   = "length",
	[DAEDALUS_REJECT_RESERVED]	   = "reserved",
	[DAEDALUS_REJECT_FIELD]		   = "field",
	[DAEDALUS_REJECT_STATE]		   = "state",
	[DAEDALUS_REJECT_UNKNOWN_COOKIE]   = "unknown_cookie",
	[DAEDALUS_REJECT_STALE_COOKIE]	   = "stale_cookie",
	[DAEDALUS_REJECT_WRONG_CTX]	   = "wrong_ctx",
	[DAEDALUS_REJECT_STALE_GENERATION] = "stale_generation",
	[DAEDALUS_REJECT_DUP_SRC]	   = "dup_src_consumed",
	[DAEDALUS_REJECT_DUP_PIXELS]	   = "dup_has_pixels",
	[DAEDALUS_REJECT_TOO_BIG]	   = "too_big",
	[DAEDALUS_REJECT_NO_CTX]	   = "no_ctx",
};

const char *daedalus_msg_reject_name(unsigned int reason)
{
	if (reason >= DAEDALUS_REJECT_MAX)
		return "invalid";
	return daedalus_reject_names[reason];
}

static int daedalus_refuse(enum daedalus_reject *reason, enum daedalus_reject r)
{
	if (reason)
		*reason = r;
	return (r == DAEDALUS_REJECT_MAGIC || r == DAEDALUS_REJECT_VERSION) ?
	       -EPROTO : -EINVAL;
}

int daedalus_msg_header_len(const void *buf, size_t len, u32 *total,
			    enum daedalus_reject *reason)
{
	struct daedalus_hdr hdr;
	u32 payload;

	if (len < DAEDALUS_HDR_SIZE)
		return daedalus_refuse(reason, DAEDALUS_REJECT_SHORT);
	memcpy(&hdr, buf, sizeof(hdr));
	if (le32_to_cpu(hdr.magic) != DAEDALUS_PROTO_MAGIC)
		return daedalus_refuse(reason, DAEDALUS_REJECT_MAGIC);
	if (le16_to_cpu(hdr.version) != DAEDALUS_PROTO_VERSION)
		return daedalus_refuse(reason, DAEDALUS_REJECT_VERSION);
	payload = le32_to_cpu(hdr.payload_len);
	if (payload > DAEDALUS_MAX_PAYLOAD)
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	*total = DAEDALUS_HDR_SIZE + payload;
	return 0;
}

static int daedalus_parse_hello(const void *body, u32 len,
				struct daedalus_msg *msg,
				enum daedalus_reject *reason)
{
	struct daedalus_resp_hello b;
	struct daedalus_msg_hello *h = &msg->hello;

	if (len != sizeof(b))
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	memcpy(&b, body, sizeof(b));
	if (b.reserved || msg->cookie)
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	h->proto_version = le32_to_cpu(b.proto_version);
	h->daemon_version = le32_to_cpu(b.daemon_version);
	h->codecs = le32_to_cpu(b.codecs);
	h->pixfmts = le32_to_cpu(b.pixfmts);
	h->max_width = le32_to_cpu(b.max_width);
	h->max_height = le32_to_cpu(b.max_height);
	h->flags = le32_to_cpu(b.flags);
	if ((h->codecs & ~DAEDALUS_CODEC_MASK) ||
	    (h->pixfmts & ~DAEDALUS_PIXFMT_MASK) ||
	    (h->flags & ~DAEDALUS_HELLO_FLAGS))
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	if (!h->codecs || !h->pixfmts || !h->max_width || !h->max_height ||
	    h->max_width > DAEDALUS_MAX_DIM || h->max_height > DAEDALUS_MAX_DIM)
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	/*
	 * A picture of the largest coded size (rounded up to macroblocks)
	 * fits one RESP_FRAME, and so a REQ_DECODE's bitstream fits one
	 * REQ_DECODE: a larger promise could only end in refused writes.
	 */
	if ((u64)((h->max_width + 15) & ~15u) * ((h->max_height + 15) & ~15u) *
	    3 / 2 > DAEDALUS_MAX_PAYLOAD - sizeof(struct daedalus_resp_frame))
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	return 0;
}

static int daedalus_parse_frame(const u8 *body, u32 len,
				struct daedalus_msg *msg,
				enum daedalus_reject *reason)
{
	struct daedalus_resp_frame b;
	struct daedalus_msg_frame *f = &msg->frame;
	u32 data_len;

	if (len < sizeof(b))
		return daedalus_refuse(reason, DAEDALUS_REJECT_SHORT);
	memcpy(&b, body, sizeof(b));
	data_len = len - sizeof(b);
	if (b.reserved[0] || b.reserved[1])
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	f->cookie = msg->cookie;
	f->ctx_id = le32_to_cpu(b.ctx_id);
	f->flags = le32_to_cpu(b.flags);
	f->timestamp = le64_to_cpu(b.timestamp);
	f->bytesused = le32_to_cpu(b.bytesused);
	f->generation = le32_to_cpu(b.generation);
	if (f->flags & ~DAEDALUS_FRAME_FLAGS)
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	if (!(f->flags & (DAEDALUS_FRAME_SRC_CONSUMED |
			  DAEDALUS_FRAME_HAS_PIXELS)))
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	if ((f->flags & DAEDALUS_FRAME_LAST) &&
	    !(f->flags & DAEDALUS_FRAME_HAS_PIXELS))
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	if (!f->ctx_id || !DAEDALUS_COOKIE_GEN(f->cookie))
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	if (f->flags & DAEDALUS_FRAME_HAS_PIXELS) {
		/* Pictures come inline, or already sit in a mapped buffer. */
		if (data_len && data_len != f->bytesused)
			return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	} else if (f->bytesused || data_len) {
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	} else if (f->timestamp) {
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	}
	f->data = data_len ? body + sizeof(b) : NULL;
	f->data_len = data_len;
	return 0;
}

static int daedalus_parse_stream_info(const void *body, u32 len,
				      struct daedalus_msg *msg,
				      enum daedalus_reject *reason)
{
	struct daedalus_resp_stream_info b;
	struct daedalus_msg_stream_info *s = &msg->stream_info;

	if (len != sizeof(b))
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	memcpy(&b, body, sizeof(b));
	if (b.reserved[0] || b.reserved[1])
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	s->ctx_id = le32_to_cpu(b.ctx_id);
	s->generation = le32_to_cpu(b.generation);
	s->coded_width = le32_to_cpu(b.coded_width);
	s->coded_height = le32_to_cpu(b.coded_height);
	s->visible_left = le32_to_cpu(b.visible_left);
	s->visible_top = le32_to_cpu(b.visible_top);
	s->visible_width = le32_to_cpu(b.visible_width);
	s->visible_height = le32_to_cpu(b.visible_height);
	s->pixfmt = le32_to_cpu(b.pixfmt);
	s->dpb_size = le32_to_cpu(b.dpb_size);
	if (!s->ctx_id ||
	    !s->coded_width || s->coded_width > DAEDALUS_MAX_DIM ||
	    !s->coded_height || s->coded_height > DAEDALUS_MAX_DIM ||
	    !s->visible_width || !s->visible_height ||
	    s->visible_left > s->coded_width ||
	    s->visible_width > s->coded_width - s->visible_left ||
	    s->visible_top > s->coded_height ||
	    s->visible_height > s->coded_height - s->visible_top ||
	    !s->pixfmt || s->pixfmt > DAEDALUS_PIXFMT_MAX ||
	    !s->dpb_size || s->dpb_size > DAEDALUS_MAX_DPB)
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	return 0;
}

static int daedalus_parse_ctx_pair(const void *body, u32 len,
				   u32 *ctx_id, u32 *second,
				   enum daedalus_reject *reason)
{
	__le32 b[2];

	if (len != sizeof(b))
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	memcpy(b, body, sizeof(b));
	*ctx_id = le32_to_cpu(b[0]);
	*second = le32_to_cpu(b[1]);
	if (!*ctx_id)
		return daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
	return 0;
}

static int daedalus_parse_pong(const void *body, u32 len,
			       struct daedalus_msg *msg,
			       enum daedalus_reject *reason)
{
	struct daedalus_ping b;

	if (len != sizeof(b))
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	memcpy(&b, body, sizeof(b));
	if (b.reserved)
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	msg->pong_seq = le32_to_cpu(b.seq);
	return 0;
}

int daedalus_msg_parse(const void *buf, size_t len, struct daedalus_msg *msg,
		       enum daedalus_reject *reason)
{
	const u8 *body = (const u8 *)buf + DAEDALUS_HDR_SIZE;
	struct daedalus_msg m;
	struct daedalus_hdr hdr;
	u32 total, payload;
	int ret;

	ret = daedalus_msg_header_len(buf, len, &total, reason);
	if (ret)
		return ret;
	if (total != len)
		return daedalus_refuse(reason, DAEDALUS_REJECT_LENGTH);
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.reserved)
		return daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
	payload = total - DAEDALUS_HDR_SIZE;
	memset(&m, 0, sizeof(m));
	m.type = le16_to_cpu(hdr.type);
	m.cookie = le64_to_cpu(hdr.cookie);

	switch (m.type) {
	case DAEDALUS_RESP_HELLO:
		ret = daedalus_parse_hello(body, payload, &m, reason);
		break;
	case DAEDALUS_RESP_FRAME:
		ret = daedalus_parse_frame(body, payload, &m, reason);
		break;
	case DAEDALUS_RESP_STREAM_INFO:
		ret = daedalus_parse_stream_info(body, payload, &m, reason);
		break;
	case DAEDALUS_RESP_PONG:
		ret = daedalus_parse_pong(body, payload, &m, reason);
		break;
	case DAEDALUS_RESP_SESSION_ERROR:
		ret = daedalus_parse_ctx_pair(body, payload,
					      &m.session_error.ctx_id,
					      &m.session_error.error, reason);
		if (!ret && (!m.session_error.error ||
			     m.session_error.error > DAEDALUS_ERR_MAX))
			ret = daedalus_refuse(reason, DAEDALUS_REJECT_FIELD);
		if (!ret && m.cookie)
			ret = daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
		break;
	case DAEDALUS_RESP_RESET_DONE:
		ret = daedalus_parse_ctx_pair(body, payload,
					      &m.reset_done.ctx_id,
					      &m.reset_done.generation, reason);
		if (!ret && m.cookie)
			ret = daedalus_refuse(reason, DAEDALUS_REJECT_RESERVED);
		break;
	default:
		ret = daedalus_refuse(reason, DAEDALUS_REJECT_TYPE);
		break;
	}
	if (ret)
		return ret;
	*msg = m;
	return 0;
}

size_t daedalus_msg_encode(void *buf, u16 type, u64 cookie, const void *body,
			   u32 body_len, u32 data_len)
{
	struct daedalus_hdr hdr = {
		.magic		= cpu_to_le32(DAEDALUS_PROTO_MAGIC),
		.version	= cpu_to_le16(DAEDALUS_PROTO_VERSION),
		.type		= cpu_to_le16(type),
		.payload_len	= cpu_to_le32(body_len + data_len),
		.cookie		= cpu_to_le64(cookie),
	};

	memcpy(buf, &hdr, sizeof(hdr));
	if (body_len)
		memcpy((u8 *)buf + sizeof(hdr), body, body_len);
	return sizeof(hdr) + body_len;
}

void daedalus_msg_encode_decode(struct daedalus_req_decode *req,
				const struct daedalus_decode_params *p)
{
	req->ctx_id = cpu_to_le32(p->ctx_id);
	req->codec = cpu_to_le32(p->codec);
	req->flags = cpu_to_le32(p->flags);
	req->generation = cpu_to_le32(p->generation);
	req->timestamp = cpu_to_le64(p->timestamp);
	req->src_index = cpu_to_le32(p->src_index);
	req->dst_index = cpu_to_le32(p->dst_index);
	req->bytes = cpu_to_le32(p->bytes);
	req->dst_size = cpu_to_le32(p->dst_size);
	req->src_map = cpu_to_le64(p->src_map);
	req->dst_map = cpu_to_le64(p->dst_map);
}
