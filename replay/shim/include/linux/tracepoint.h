/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Changed behaviour: each TRACE_EVENT/DEFINE_EVENT becomes a declaration of
 * trace_<name>(proto), which the Rust mock implements to write the outcome
 * log. Event classes, field layouts and print formats vanish.
 */
#ifndef _LINUX_TRACEPOINT_H
#define _LINUX_TRACEPOINT_H

#include <linux/types.h>

#define PARAMS(args...) args
#define TP_PROTO(args...) args
#define TP_ARGS(args...) args
#define TP_STRUCT__entry(args...) args
#define TP_fast_assign(args...) args
#define TP_printk(fmt, args...) fmt

#define TRACE_EVENT(name, proto, args, tstruct, assign, print) \
	void trace_##name(proto)
#define DECLARE_EVENT_CLASS(name, proto, args, tstruct, assign, print)
#define DEFINE_EVENT(template, name, proto, args) \
	void trace_##name(proto)

#endif /* _LINUX_TRACEPOINT_H */
