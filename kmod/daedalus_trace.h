/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daedalus tracepoints: the vocabulary of field traces. Every field is a
 * plain integer (no pointers), documented in docs/trace-format.md; the
 * replay tools parse the printed form and the binary records alike.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM daedalus

#if !defined(_DAEDALUS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DAEDALUS_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

#define daedalus_show_queue(type)					\
	__print_symbolic(type,						\
			 { 1, "CAPTURE" }, { 2, "OUTPUT" },		\
			 { 9, "CAPTURE" }, { 10, "OUTPUT" })

#define daedalus_show_state(state)					\
	__print_symbolic(state,						\
			 { 0, "DEQUEUED" }, { 1, "IN_REQUEST" },	\
			 { 2, "PREPARING" }, { 3, "QUEUED" },		\
			 { 4, "ACTIVE" }, { 5, "DONE" }, { 6, "ERROR" })

#define daedalus_show_finish(reason)					\
	__print_symbolic(reason,					\
			 { 0, "consumed" }, { 1, "invalid" },		\
			 { 2, "send_failed" }, { 3, "abort" },		\
			 { 4, "cancel" }, { 5, "detach" },		\
			 { 6, "expired" }, { 7, "idle" },		\
			 { 8, "no_src" })

#define daedalus_show_reject(reason)					\
	__print_symbolic(reason,					\
			 { 0, "short" }, { 1, "magic" },		\
			 { 2, "version" }, { 3, "type" },		\
			 { 4, "length" }, { 5, "reserved" },		\
			 { 6, "field" }, { 7, "state" },		\
			 { 8, "unknown_cookie" },			\
			 { 9, "stale_cookie" }, { 10, "wrong_ctx" },	\
			 { 11, "stale_generation" },			\
			 { 12, "dup_src_consumed" },			\
			 { 13, "dup_has_pixels" }, { 14, "too_big" },	\
			 { 15, "no_ctx" })

TRACE_EVENT(daedalus_device_run,
	TP_PROTO(u32 ctx, u64 cookie, u32 src_index, u32 dst_index,
		 u64 src_ts),
	TP_ARGS(ctx, cookie, src_index, dst_index, src_ts),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u64, cookie)
		__field(u32, src_index)
		__field(u32, dst_index)
		__field(u64, src_ts)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cookie = cookie;
		__entry->src_index = src_index;
		__entry->dst_index = dst_index;
		__entry->src_ts = src_ts;
	),
	TP_printk("ctx=%u cookie=%#llx src=%d dst=%d src_ts=%llu",
		  __entry->ctx, __entry->cookie, (int)__entry->src_index,
		  (int)__entry->dst_index, __entry->src_ts)
);

TRACE_EVENT(daedalus_claim,
	TP_PROTO(u32 ctx, u64 cookie, u32 type, u32 index),
	TP_ARGS(ctx, cookie, type, index),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u64, cookie)
		__field(u32, type)
		__field(u32, index)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cookie = cookie;
		__entry->type = type;
		__entry->index = index;
	),
	TP_printk("ctx=%u cookie=%#llx queue=%s index=%u",
		  __entry->ctx, __entry->cookie,
		  daedalus_show_queue(__entry->type), __entry->index)
);

TRACE_EVENT(daedalus_park,
	TP_PROTO(u32 ctx, u64 cookie, u32 dst_index),
	TP_ARGS(ctx, cookie, dst_index),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u64, cookie)
		__field(u32, dst_index)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cookie = cookie;
		__entry->dst_index = dst_index;
	),
	TP_printk("ctx=%u cookie=%#llx dst=%u",
		  __entry->ctx, __entry->cookie, __entry->dst_index)
);

TRACE_EVENT(daedalus_buf_done,
	TP_PROTO(u32 ctx, u64 cookie, u32 type, u32 index, u32 state,
		 u64 timestamp),
	TP_ARGS(ctx, cookie, type, index, state, timestamp),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u64, cookie)
		__field(u32, type)
		__field(u32, index)
		__field(u32, state)
		__field(u64, timestamp)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cookie = cookie;
		__entry->type = type;
		__entry->index = index;
		__entry->state = state;
		__entry->timestamp = timestamp;
	),
	TP_printk("ctx=%u cookie=%#llx queue=%s index=%u state=%s ts=%llu",
		  __entry->ctx, __entry->cookie,
		  daedalus_show_queue(__entry->type), __entry->index,
		  daedalus_show_state(__entry->state), __entry->timestamp)
);

TRACE_EVENT(daedalus_job_finish,
	TP_PROTO(u32 ctx, u64 cookie, u32 reason),
	TP_ARGS(ctx, cookie, reason),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u64, cookie)
		__field(u32, reason)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->cookie = cookie;
		__entry->reason = reason;
	),
	TP_printk("ctx=%u cookie=%#llx reason=%s",
		  __entry->ctx, __entry->cookie,
		  daedalus_show_finish(__entry->reason))
);

DECLARE_EVENT_CLASS(daedalus_msg,
	TP_PROTO(u32 type, u64 cookie, u32 ctx, u32 flags, u32 len),
	TP_ARGS(type, cookie, ctx, flags, len),
	TP_STRUCT__entry(
		__field(u32, type)
		__field(u64, cookie)
		__field(u32, ctx)
		__field(u32, flags)
		__field(u32, len)
	),
	TP_fast_assign(
		__entry->type = type;
		__entry->cookie = cookie;
		__entry->ctx = ctx;
		__entry->flags = flags;
		__entry->len = len;
	),
	TP_printk("type=%#x cookie=%#llx ctx=%u flags=%#x len=%u",
		  __entry->type, __entry->cookie, __entry->ctx,
		  __entry->flags, __entry->len)
);

DEFINE_EVENT(daedalus_msg, daedalus_msg_in,
	TP_PROTO(u32 type, u64 cookie, u32 ctx, u32 flags, u32 len),
	TP_ARGS(type, cookie, ctx, flags, len)
);

DEFINE_EVENT(daedalus_msg, daedalus_msg_out,
	TP_PROTO(u32 type, u64 cookie, u32 ctx, u32 flags, u32 len),
	TP_ARGS(type, cookie, ctx, flags, len)
);

TRACE_EVENT(daedalus_reject,
	TP_PROTO(u32 reason, u32 type, u64 cookie),
	TP_ARGS(reason, type, cookie),
	TP_STRUCT__entry(
		__field(u32, reason)
		__field(u32, type)
		__field(u64, cookie)
	),
	TP_fast_assign(
		__entry->reason = reason;
		__entry->type = type;
		__entry->cookie = cookie;
	),
	TP_printk("reason=%s type=%#x cookie=%#llx",
		  daedalus_show_reject(__entry->reason), __entry->type,
		  __entry->cookie)
);

TRACE_EVENT(daedalus_stream,
	TP_PROTO(u32 ctx, u32 type, bool on),
	TP_ARGS(ctx, type, on),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, type)
		__field(bool, on)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->type = type;
		__entry->on = on;
	),
	TP_printk("ctx=%u queue=%s %s", __entry->ctx,
		  daedalus_show_queue(__entry->type),
		  __entry->on ? "on" : "off")
);

TRACE_EVENT(daedalus_stream_info,
	TP_PROTO(u32 ctx, u32 width, u32 height, u32 dpb, bool change),
	TP_ARGS(ctx, width, height, dpb, change),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, width)
		__field(u32, height)
		__field(u32, dpb)
		__field(bool, change)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->width = width;
		__entry->height = height;
		__entry->dpb = dpb;
		__entry->change = change;
	),
	TP_printk("ctx=%u width=%u height=%u dpb=%u %s", __entry->ctx,
		  __entry->width, __entry->height, __entry->dpb,
		  __entry->change ? "change" : "confirmed")
);

TRACE_EVENT(daedalus_drain,
	TP_PROTO(u32 ctx, u32 phase),
	TP_ARGS(ctx, phase),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, phase)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->phase = phase;
	),
	TP_printk("ctx=%u phase=%s", __entry->ctx,
		  __print_symbolic(__entry->phase,
				   { 0, "start" }, { 1, "flush" },
				   { 2, "last" }, { 3, "restart" },
				   { 4, "abandon" }))
);

TRACE_EVENT(daedalus_daemon,
	TP_PROTO(bool attach, s32 pid, u32 version),
	TP_ARGS(attach, pid, version),
	TP_STRUCT__entry(
		__field(bool, attach)
		__field(s32, pid)
		__field(u32, version)
	),
	TP_fast_assign(
		__entry->attach = attach;
		__entry->pid = pid;
		__entry->version = version;
	),
	TP_printk("%s pid=%d version=%#x",
		  __entry->attach ? "attach" : "detach", __entry->pid,
		  __entry->version)
);

#endif /* _DAEDALUS_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE daedalus_trace
#include <trace/define_trace.h>
