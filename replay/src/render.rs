//! Buffer-ownership timelines of a run: Chrome trace-event JSON (opens in
//! ui.perfetto.dev and chrome://tracing) and a self-contained SVG for docs.
//! Time is the scenario's event position (one event = 1 ms on the trace
//! clock), so renderings are deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::exec::Outcome;
use crate::model::Scenario;
use crate::oracle::{BufName, Record, state_name};

/// One span of a buffer's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The buffer.
    pub buf: BufName,
    /// What held it: "claimed", "parked".
    pub what: &'static str,
    /// The job's cookie.
    pub cookie: u64,
    /// First event position.
    pub start: usize,
    /// Event position where it ended (exclusive), or the run's end.
    pub end: usize,
    /// How it ended: a vb2 state name, or "open" at the end of the run.
    pub outcome: &'static str,
}

/// The spans of every buffer, in order of start.
pub fn spans(outcome: &Outcome, events: usize) -> Vec<Span> {
    let mut open: BTreeMap<BufName, Span> = BTreeMap::new();
    let mut done = Vec::new();
    for (pos, r) in &outcome.log {
        let pos = *pos;
        let mut close =
            |buf: BufName, outcome: &'static str, open: &mut BTreeMap<BufName, Span>| {
                if let Some(mut s) = open.remove(&buf) {
                    s.end = pos + 1;
                    s.outcome = outcome;
                    done.push(s);
                }
            };
        match r {
            Record::Claim { cookie, buf, .. } | Record::Park { cookie, buf, .. } => {
                // A new hold ends the buffer's previous span.
                let (what, ended) = match r {
                    Record::Claim { .. } => ("claimed", "reclaimed"),
                    _ => ("parked", "parked"),
                };
                close(*buf, ended, &mut open);
                open.insert(
                    *buf,
                    Span {
                        buf: *buf,
                        what,
                        cookie: *cookie,
                        start: pos,
                        end: pos,
                        outcome: "open",
                    },
                );
            }
            Record::BufDone { buf, state, .. } | Record::Vb2Done { buf, state } => {
                close(*buf, state_name(*state), &mut open)
            }
            _ => {}
        }
    }
    for (_, mut s) in open {
        s.end = events.max(s.start + 1);
        done.push(s);
    }
    done.sort_by_key(|s| (s.start, s.buf));
    done
}

fn track(b: &BufName) -> u32 {
    let q = match b.queue {
        crate::scenario::Queue::Output => 0,
        crate::scenario::Queue::Capture => 1000,
    };
    1 + q + b.index
}

/// Chrome trace-event JSON: one process per context, one thread per
/// buffer, a slice per ownership span, instants for the driver's steps and
/// the violation.
pub fn perfetto(scenario: &Scenario, outcome: &Outcome) -> String {
    use serde_json::{Value, json};
    let n = scenario.lines.len();
    let mut ev: Vec<Value> = Vec::new();
    let mut named = std::collections::BTreeSet::new();
    for s in spans(outcome, n) {
        if named.insert(s.buf) {
            ev.push(json!({"ph": "M", "name": "process_name", "pid": s.buf.ctx, "args": {"name": format!("ctx {}", s.buf.ctx)}}));
            ev.push(json!({"ph": "M", "name": "thread_name", "pid": s.buf.ctx, "tid": track(&s.buf), "args": {"name": s.buf.to_string()}}));
        }
        ev.push(json!({
            "ph": "X", "name": format!("{} {:#x}", s.what, s.cookie), "cat": s.what,
            "pid": s.buf.ctx, "tid": track(&s.buf),
            "ts": s.start * 1000, "dur": (s.end - s.start) * 1000,
            "args": {"cookie": format!("{:#x}", s.cookie), "ended": s.outcome,
                     "from": scenario.lines.get(s.start).map(|l| l.event.to_string())},
        }));
    }
    for (pos, r) in &outcome.log {
        let (pid, name) = match r {
            Record::DeviceRun { ctx, .. } | Record::JobFinish { ctx, .. } => (*ctx, r.to_string()),
            Record::Reject { .. } => (0, r.to_string()),
            Record::V4l2Event { ctx, .. } | Record::Request { ctx, .. } => (*ctx, r.to_string()),
            _ => continue,
        };
        ev.push(json!({"ph": "i", "s": "p", "name": name, "pid": pid, "tid": 0, "ts": pos * 1000}));
    }
    if let Some(v) = outcome.verdict.violation() {
        let pid = v.buffer.map_or(0, |b| b.ctx);
        ev.push(json!({"ph": "i", "s": "g", "name": format!("VIOLATION {}", v.invariant.name()), "pid": pid, "tid": 0,
                       "ts": v.broke.pos * 1000, "args": {"detail": v.detail}}));
    }
    let doc = json!({"traceEvents": ev, "displayTimeUnit": "ms"});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A static SVG: one row per buffer, event positions across.
pub fn svg(scenario: &Scenario, outcome: &Outcome) -> String {
    let n = scenario.lines.len().max(1);
    let spans = spans(outcome, n);
    let mut rows: Vec<BufName> = spans.iter().map(|s| s.buf).collect();
    rows.sort();
    rows.dedup();
    let (left, top, step, rowh) = (170usize, 30usize, 14usize, 22usize);
    let width = left + n * step + 20;
    let height = top + rows.len().max(1) * rowh + 40;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(
        o,
        r#"<rect width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="4" y="16">buffer ownership by scenario event (claimed: blue, parked: amber)</text>"#
    );
    for (i, b) in rows.iter().enumerate() {
        let y = top + i * rowh;
        let _ = writeln!(
            o,
            r#"<text x="4" y="{}">{}</text>"#,
            y + 14,
            esc(&b.to_string())
        );
        let _ = writeln!(
            o,
            r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            y + 10,
            left + n * step,
            y + 10
        );
    }
    for s in &spans {
        let i = rows.iter().position(|b| *b == s.buf).unwrap_or(0);
        let y = top + i * rowh + 3;
        let x = left + s.start * step;
        let w = ((s.end - s.start) * step).max(3);
        let fill = if s.what == "parked" {
            "#f0b030"
        } else {
            "#3070d0"
        };
        let _ = writeln!(
            o,
            r#"<rect x="{x}" y="{y}" width="{w}" height="14" fill="{fill}"><title>{} {:#x} ({}), ended {}</title></rect>"#,
            s.what,
            s.cookie,
            esc(&s.buf.to_string()),
            s.outcome
        );
    }
    if let Some(v) = outcome.verdict.violation() {
        let x = left + v.broke.pos * step + step / 2;
        let _ = writeln!(
            o,
            r#"<line x1="{x}" y1="{top}" x2="{x}" y2="{}" stroke="red" stroke-width="2"/>"#,
            height - 30
        );
        let _ = writeln!(
            o,
            r#"<text x="4" y="{}" fill="red">{}</text>"#,
            height - 12,
            esc(&format!(
                "{}: {} ({})",
                v.invariant.name(),
                v.detail,
                v.broke
            ))
        );
    }
    o.push_str("</svg>\n");
    o
}

/// The outcome log in tracefs `trace` text form (the `TP_printk` formats of
/// kmod/daedalus_trace.h), one line per traced record: what a field
/// recording of this run would hold. The importer reads it back.
pub fn tracefs(outcome: &Outcome) -> String {
    let mut o = String::from("# tracer: nop\n#\n");
    let queue = |b: &BufName| match b.queue {
        crate::scenario::Queue::Output => "OUTPUT",
        crate::scenario::Queue::Capture => "CAPTURE",
    };
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
                if *q == crate::scenario::Queue::Output {
                    "OUTPUT"
                } else {
                    "CAPTURE"
                },
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
