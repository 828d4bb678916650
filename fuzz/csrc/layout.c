// SPDX-License-Identifier: GPL-2.0
/*
 * Sizes and offsets of struct daedalus_msg, for the Rust mirror in
 * src/kmod_messages.rs to check itself against before the first input.
 */
#include <linux/types.h>

#include "daedalus_msg.h"

#define OFF(type, field) ((size_t)__builtin_offsetof(struct type, field))

size_t daedalus_fuzz_msg_layout(size_t i)
{
	static const size_t table[] = {
		sizeof(struct daedalus_msg),
		OFF(daedalus_msg, cookie),
		OFF(daedalus_msg, frame),
		sizeof(struct daedalus_msg_frame),
		OFF(daedalus_msg_frame, data),
		OFF(daedalus_msg_frame, data_len),
		sizeof(struct daedalus_msg_stream_info),
		sizeof(struct daedalus_msg_hello),
	};

	return i < sizeof(table) / sizeof(table[0]) ? table[i] : (size_t)-1;
}
