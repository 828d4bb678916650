// SPDX-License-Identifier: GPL-2.0
/*
 * One variant's function table (struct daedalus_replay_fns in replay.h).
 * Compiled with the real code and again with each mutant, under the
 * variant's symbol prefix, so each entry names that variant's function
 * and the C compiler checks it against the module's prototype.
 */
#include "replay.h"

#define FN(field, fn) .field = fn

const struct daedalus_replay_fns daedalus_replay_fns = {
	FN(core_init, daedalus_job_core_init),
	FN(core_set_limits, daedalus_job_core_set_limits),
	FN(core_destroy, daedalus_job_core_destroy),
	FN(ctx_init, daedalus_job_ctx_init),
	FN(abort, daedalus_job_abort),
	FN(detach, daedalus_job_detach),
	FN(watchdog, daedalus_job_watchdog),
	FN(ctx_count, daedalus_job_ctx_count),
	FN(dispatch, daedalus_dispatch),
	FN(front_init, daedalus_front_init),
	FN(front_set_stateless, daedalus_front_set_stateless),
	FN(front_request_buffers, daedalus_front_request_buffers),
	FN(front_job_ready, daedalus_front_job_ready),
	FN(front_device_run, daedalus_front_device_run),
	FN(front_start_streaming, daedalus_front_start_streaming),
	FN(front_stop_streaming, daedalus_front_stop_streaming),
	FN(front_streamoff, daedalus_front_streamoff),
	FN(front_decoder_cmd, daedalus_front_decoder_cmd),
	FN(front_closing, daedalus_front_closing),
	FN(front_release, daedalus_front_release),
	FN(front_stream_info, daedalus_front_stream_info),
	FN(front_session_error, daedalus_front_session_error),
	FN(front_daemon_gone, daedalus_front_daemon_gone),
	FN(front_last, daedalus_front_last),
	FN(front_cap_sizeimage, daedalus_front_cap_sizeimage),
	FN(front_cap_count, daedalus_front_cap_count),
	FN(front_session_open, daedalus_front_session_open),
	FN(front_min_buffers, daedalus_front_min_buffers),
	FN(front_no_daemon, daedalus_front_no_daemon),
	FN(outq_init, daedalus_outq_init),
	FN(outq_set_state, daedalus_outq_set_state),
	FN(outq_push, daedalus_outq_push),
	FN(outq_take, daedalus_outq_take),
	FN(outq_done, daedalus_outq_done),
	FN(outq_forget, daedalus_outq_forget),
	FN(outq_drop_all, daedalus_outq_drop_all),
};
