//! What a run looks like: its buffer-ownership timeline as a
//! self-contained SVG and as Chrome trace-event JSON (opens in
//! ui.perfetto.dev and chrome://tracing), the report page of a whole check,
//! and the outcome log as tracefs text. Renderings are deterministic.

use crate::exec::Outcome;
use crate::model::Scenario;
use crate::oracle::{BufName, Record, state_name};

mod perfetto;
pub mod report;
mod svg;
pub mod timeline;

pub use svg::{MAX_COLUMNS, wrap};
pub use timeline::Timeline;

/// Chrome trace-event JSON of a run (see the `perfetto` module): tracks
/// per buffer and ready queue, async slices per job, flows from each
/// device_run to its buffers' completions.
pub fn perfetto(scenario: &Scenario, outcome: &Outcome) -> String {
    let t = Timeline::new(scenario, outcome);
    let records: Vec<_> = outcome
        .log
        .iter()
        .enumerate()
        .filter_map(|(i, (pos, r))| {
            let ctx = match r {
                Record::Request { ctx, .. }
                | Record::V4l2Event { ctx, .. }
                | Record::Stream { ctx, .. }
                | Record::Drain { ctx, .. }
                | Record::Errno { ctx, .. }
                | Record::Dqbuf { ctx, .. } => Some(*ctx),
                Record::Reject { .. } | Record::Daemon { .. } | Record::Frame { .. } => None,
                _ => return None,
            };
            Some((timeline::At::record(*pos, i), ctx, r.to_string()))
        })
        .collect();
    perfetto::perfetto(&t, &records)
}

/// The timeline of a run as a standalone SVG with its diagnosis under it
/// (see the `svg` module).
pub fn svg(scenario: &Scenario, outcome: &Outcome) -> String {
    svg::svg(&Timeline::new(scenario, outcome), true)
}

/// The timeline alone, for a page that shows the diagnosis itself.
pub fn svg_timeline(scenario: &Scenario, outcome: &Outcome) -> String {
    svg::svg(&Timeline::new(scenario, outcome), false)
}

/// The outcome log in tracefs `trace` text form (the `TP_printk` formats of
/// kmod/daedalus_trace.h), one line per traced record: what a field
/// recording of this run would hold. The importer reads it back.
pub fn tracefs(outcome: &Outcome) -> String {
    let mut o = String::from("# tracer: nop\n#\n");
    let queue = |b: &BufName| b.queue.v4l2_name();
    for (i, (pos, r)) in outcome.log.iter().enumerate() {
        let ts = format!("{}.{:06}", 100 + pos / 1000, (pos % 1000) * 1000 + i % 1000);
        let body = match r {
            Record::DeviceRun {
                ctx,
                cookie,
                src,
                dst,
                ts,
            } => {
                format!(
                    "daedalus_device_run: ctx={ctx} cookie={cookie:#x} src={} dst={} src_ts={ts}",
                    *src as i32, *dst as i32
                )
            }
            Record::Claim { ctx, cookie, buf } => {
                format!(
                    "daedalus_claim: ctx={ctx} cookie={cookie:#x} queue={} index={}",
                    queue(buf),
                    buf.index
                )
            }
            Record::Park { ctx, cookie, buf } => format!(
                "daedalus_park: ctx={ctx} cookie={cookie:#x} dst={}",
                buf.index
            ),
            Record::BufDone {
                ctx,
                cookie,
                buf,
                state,
                ts,
            } => format!(
                "daedalus_buf_done: ctx={ctx} cookie={cookie:#x} queue={} index={} state={} ts={ts}",
                queue(buf),
                buf.index,
                state_name(*state)
            ),
            Record::JobFinish {
                ctx,
                cookie,
                reason,
            } => {
                format!(
                    "daedalus_job_finish: ctx={ctx} cookie={cookie:#x} reason={}",
                    crate::oracle::finish_name(*reason)
                )
            }
            Record::Reject { reason, ty, cookie } => {
                format!(
                    "daedalus_reject: reason={} type={ty:#x} cookie={cookie:#x}",
                    crate::core::reject_name(*reason)
                )
            }
            Record::Frame { ctx, cookie, flags } => {
                format!(
                    "daedalus_msg_in: type=0x8002 cookie={cookie:#x} ctx={ctx} flags={flags:#x} len=56"
                )
            }
            Record::Stream { ctx, queue: q, on } => format!(
                "daedalus_stream: ctx={ctx} queue={} {}",
                q.v4l2_name(),
                if *on { "on" } else { "off" }
            ),
            Record::Drain { ctx, phase } => format!("daedalus_drain: ctx={ctx} phase={phase}"),
            Record::Daemon { attach } => {
                format!(
                    "daedalus_daemon: {} pid=100 version=0x100",
                    if *attach { "attach" } else { "detach" }
                )
            }
            _ => continue,
        };
        o.push_str(&format!(
            "       daedalusd-100     [000] ..... {ts}: {body}\n"
        ));
    }
    o
}
