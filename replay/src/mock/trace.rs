//! The module's tracepoints (kmod/daedalus_trace.h), as the mock's probes:
//! each writes its outcome record and moves the buffer in the ownership
//! ledger, where the oracles read it.

use super::{Note, Own, queue_of_type, with};
use crate::oracle::{BufName, Invariant, Record};
use crate::scenario::Queue;

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_device_run(ctx: u32, cookie: u64, src: u32, dst: u32, ts: u64) {
    with(|w| {
        w.record(Record::DeviceRun {
            ctx,
            cookie,
            src,
            dst,
            ts,
        })
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_claim(ctx: u32, cookie: u64, ty: u32, index: u32) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: queue_of_type(ty),
            index,
        };
        w.record(Record::Claim { ctx, cookie, buf });
        w.changes += 1;
        w.moved += 1;
        let Some(id) = w.find_buf(ctx, buf.queue, index) else {
            w.violate(
                Invariant::DoubleOwner,
                None,
                format!("claim of {buf}, which does not exist"),
            );
            return;
        };
        match w.info[id].own {
            Own::Ready => {}
            Own::Claimed(c) | Own::Parked(c) => {
                let what = format!("job {cookie:#x} claimed {buf} while job {c:#x} still holds it");
                w.suspect(id, what, true);
            }
            other => {
                let what = format!("job {cookie:#x} claimed {buf} while it was {other:?}");
                w.suspect(id, what, true);
            }
        }
        if w.info[id].linked {
            let what =
                format!("job {cookie:#x} claimed {buf} without removing it from the ready queue");
            w.suspect(id, what, false);
        }
        w.set_own(id, Own::Claimed(cookie), Note::Claimed(cookie));
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_park(ctx: u32, cookie: u64, index: u32) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: Queue::Capture,
            index,
        };
        w.record(Record::Park { ctx, cookie, buf });
        w.changes += 1;
        if let Some(id) = w.find_buf(ctx, Queue::Capture, index) {
            if let Own::Claimed(_) = w.info[id].own {
                w.set_own(id, Own::Parked(cookie), Note::Parked(cookie));
            } else {
                w.note(id, format!("park by job {cookie:#x}"));
            }
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_buf_done(
    ctx: u32,
    cookie: u64,
    ty: u32,
    index: u32,
    state: u32,
    ts: u64,
) {
    with(|w| {
        let buf = BufName {
            ctx,
            queue: queue_of_type(ty),
            index,
        };
        w.record(Record::BufDone {
            ctx,
            cookie,
            buf,
            state,
            ts,
        });
        if let Some(j) = w.job_mut(ctx, cookie) {
            match buf.queue {
                Queue::Output => j.src_done = true,
                Queue::Capture => j.dst_done = true,
            }
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_job_finish(ctx: u32, cookie: u64, reason: u32) {
    with(|w| {
        w.record(Record::JobFinish {
            ctx,
            cookie,
            reason,
        });
        w.changes += 1;
        let mut twice = false;
        let mut was_running = false;
        if let Some(j) = w.job_mut(ctx, cookie) {
            twice = !j.running;
            was_running = j.running;
            j.running = false;
        }
        if was_running && let Some(s) = w.ctxs.iter().rposition(|c| c.id == ctx) {
            w.ctxs[s].running_jobs -= 1;
        }
        if twice {
            let dst = w.ctxs.iter().position(|c| c.id == ctx).and_then(|s| {
                w.ctxs[s]
                    .jobs
                    .iter()
                    .rev()
                    .find(|j| j.cookie == cookie)
                    .and_then(|j| j.dst)
            });
            let msg = format!(
                "second job_finish for job {cookie:#x} of ctx {ctx}: its device_run was already finished"
            );
            w.violate(Invariant::JobFinishImbalance, dst, msg);
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_reject(reason: u32, ty: u32, cookie: u64) {
    with(|w| w.record(Record::Reject { reason, ty, cookie }));
}

/// The dispatcher's: the executor logs the messages it writes itself.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_msg_in(_ty: u32, _cookie: u64, _ctx: u32, _flags: u32, _len: u32) {}

/// The front's: a drain phase (daedalus_drain's phase numbers).
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_drain(ctx: u32, phase: u32) {
    let phase = crate::import::DRAIN_PHASES
        .get(phase as usize)
        .copied()
        .unwrap_or("?");
    with(|w| w.record(Record::Drain { ctx, phase }));
}

/// The front's: a queue started or stopped streaming.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_stream(ctx: u32, ty: u32, on: bool) {
    let queue = queue_of_type(ty);
    with(|w| w.record(Record::Stream { ctx, queue, on }));
}

/// The front's: a STREAM_INFO applied; its SOURCE_CHANGE event, if any,
/// is in the log as the event.
#[unsafe(no_mangle)]
extern "C" fn trace_daedalus_stream_info(_ctx: u32, _w: u32, _h: u32, _dpb: u32, _change: bool) {}
