/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Copy with changed behaviour: struct vb2_buffer as the kernel lays out the
 * fields the job core reads; struct vb2_queue is opaque (the Rust mock owns
 * it). The plane helpers are functions of the mock rather than inlines, so
 * every access is checked against the buffer's ownership ledger.
 */
#ifndef _MEDIA_VIDEOBUF2_CORE_H
#define _MEDIA_VIDEOBUF2_CORE_H

#include <linux/types.h>

#define VB2_MAX_FRAME	(64)
#define VB2_MAX_PLANES	(8)

enum vb2_buffer_state {
	VB2_BUF_STATE_DEQUEUED,
	VB2_BUF_STATE_IN_REQUEST,
	VB2_BUF_STATE_PREPARING,
	VB2_BUF_STATE_QUEUED,
	VB2_BUF_STATE_ACTIVE,
	VB2_BUF_STATE_DONE,
	VB2_BUF_STATE_ERROR,
};

struct vb2_queue;

/* mem_priv is the plane's memory itself (vmalloc-style allocator). */
struct vb2_plane {
	void			*mem_priv;
	unsigned int		bytesused;
	unsigned int		length;
	unsigned int		min_length;
	unsigned int		data_offset;
};

struct vb2_buffer {
	struct vb2_queue	*vb2_queue;
	unsigned int		index;
	unsigned int		type;
	unsigned int		memory;
	unsigned int		num_planes;
	u64			timestamp;
	enum vb2_buffer_state	state;
	unsigned int		copied_timestamp;
	struct vb2_plane	planes[VB2_MAX_PLANES];
};

void *vb2_plane_vaddr(struct vb2_buffer *vb, unsigned int plane_no);
unsigned long vb2_plane_size(struct vb2_buffer *vb, unsigned int plane_no);
unsigned long vb2_get_plane_payload(struct vb2_buffer *vb,
				    unsigned int plane_no);
void vb2_set_plane_payload(struct vb2_buffer *vb, unsigned int plane_no,
			   unsigned long size);
void vb2_buffer_done(struct vb2_buffer *vb, enum vb2_buffer_state state);

#endif /* _MEDIA_VIDEOBUF2_CORE_H */
