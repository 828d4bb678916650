//! The timeline as Chrome trace-event JSON (ui.perfetto.dev,
//! chrome://tracing). One process per context (and one for the daemon
//! and the scenario), named once; per buffer a track of its client-side
//! states and one track per owner row (holds that overlap go on separate
//! rows, so no track has partial overlaps); a counter track per ready
//! queue; an async slice per job with its running and awaiting-picture
//! phases nested; a flow arrow from each device_run to the completion of
//! each of its buffers; instants on named tracks.
//!
//! Clock: every moment of the run gets its own 10 µs slot, in order, and
//! each scenario event starts a fresh slot, so nothing that happens in
//! order is drawn at one time.

use serde_json::{Value, json};

use super::timeline::{At, Holder, Side, Timeline};
use crate::scenario::Queue;

/// Process of the daemon's messages and the scenario's events.
const PID_RUN: u32 = 0;
const TID_SCENARIO: u32 = 1;
const TID_DAEMON: u32 = 2;
/// Threads of a context's process.
const TID_JOBS: u32 = 1;
const TID_EVENTS: u32 = 2;

/// Thread of buffer `index` of `q`: its client-side track (`row` 0) and
/// its owner rows (1..).
fn buf_tid(q: Queue, index: u32, row: usize) -> u64 {
    let base = match q {
        Queue::Output => 1_000_000u64,
        Queue::Capture => 2_000_000u64,
    };
    base + index as u64 * 100 + row as u64
}

fn ts(t: &Timeline, at: At) -> u64 {
    let r = t.moments.partition_point(|m| *m < at);
    10 * (at.pos as u64 + r as u64 + 1)
}

/// Start of scenario event `pos`.
fn ts_event(t: &Timeline, pos: usize) -> u64 {
    let r = t.moments.partition_point(|m| m.pos < pos);
    10 * (pos as u64 + r as u64)
}

/// Chrome trace-event JSON of the timeline; `records` are the instants
/// (position in the outcome log, context or None for the daemon, text).
pub fn perfetto(t: &Timeline, records: &[(At, Option<u32>, String)]) -> String {
    let mut ev: Vec<Value> = Vec::new();
    let mut meta: Vec<Value> = Vec::new();
    let mut named_p = std::collections::BTreeSet::new();
    let mut named_t = std::collections::BTreeSet::new();
    let mut name_process = |meta: &mut Vec<Value>, pid: u32, name: String, order: i64| {
        if named_p.insert(pid) {
            meta.push(json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}));
            meta.push(json!({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": order}}));
        }
    };
    let mut name_thread = |meta: &mut Vec<Value>, pid: u32, tid: u64, name: String| {
        if named_t.insert((pid, tid)) {
            meta.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}));
            meta.push(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}}));
        }
    };
    let slice = |pid: u32, tid: u64, name: String, from: u64, to: u64, args: Value| json!({"ph": "X", "name": name, "pid": pid, "tid": tid, "ts": from, "dur": to.saturating_sub(from), "args": args});
    // The scenario, one slice per event.
    name_process(&mut meta, PID_RUN, "scenario and daemon".into(), -1);
    name_thread(
        &mut meta,
        PID_RUN,
        TID_SCENARIO as u64,
        "scenario events".into(),
    );
    for (pos, (line, text)) in t.lines.iter().enumerate().take(t.events_run) {
        ev.push(slice(
            PID_RUN,
            TID_SCENARIO as u64,
            text.clone(),
            ts_event(t, pos),
            ts_event(t, pos + 1),
            json!({"line": line}),
        ));
    }
    // Buffers.
    for lane in &t.bufs {
        let b = lane.buf;
        let pid = b.ctx;
        name_process(&mut meta, pid, format!("ctx {pid}"), pid as i64);
        let label = format!("{} #{}", b.queue.v4l2_name(), b.index);
        let side_tid = buf_tid(b.queue, b.index, 0);
        name_thread(&mut meta, pid, side_tid, label.clone());
        for s in &lane.side {
            let name = match s.side {
                Side::User => "with the user",
                Side::Queued => "queued (not streaming)",
                Side::Driver => "with the driver",
                Side::Done(false) => "done DONE",
                Side::Done(true) => "done ERROR",
                Side::Freed => continue,
            };
            ev.push(slice(
                pid,
                side_tid,
                name.into(),
                ts(t, s.from),
                ts(t, s.to),
                json!({}),
            ));
        }
        for h in &lane.holds {
            let tid = buf_tid(b.queue, b.index, h.row + 1);
            name_thread(&mut meta, pid, tid, format!("{label} owner {}", h.row + 1));
            let (from, to) = (ts(t, h.from), ts(t, h.to));
            match h.holder {
                Holder::Ready => ev.push(slice(
                    pid,
                    tid,
                    "on the ready queue".into(),
                    from,
                    to,
                    json!({"ended": h.ended}),
                )),
                Holder::Job(n) => {
                    let j = &t.jobs[n - 1];
                    let args = json!({"cookie": format!("{:#x}", j.cookie), "ended": h.ended});
                    let split = h.parked.map_or(to, |p| ts(t, p));
                    ev.push(slice(
                        pid,
                        tid,
                        format!("claimed by j{n}"),
                        from,
                        split,
                        args.clone(),
                    ));
                    if h.parked.is_some() {
                        ev.push(slice(pid, tid, format!("parked for j{n}"), split, to, args));
                    }
                }
            }
        }
    }
    // Ready queues as counters.
    for r in &t.ready {
        name_process(&mut meta, r.ctx, format!("ctx {}", r.ctx), r.ctx as i64);
        for (at, n, both) in &r.steps {
            ev.push(json!({"ph": "C", "name": format!("{} ready queue", r.queue.v4l2_name()), "pid": r.ctx, "tid": 0,
                "ts": ts(t, *at), "args": {"linked": n, "also held by a job": both}}));
        }
    }
    // Jobs: an async slice each, its phases nested; the device's running
    // job on a track of its own; flows to each buffer's completion.
    for j in &t.jobs {
        let pid = j.ctx;
        name_process(&mut meta, pid, format!("ctx {pid}"), pid as i64);
        name_thread(&mut meta, pid, TID_JOBS as u64, "running job".into());
        let id = format!("{:#x}", j.cookie);
        let (run, finish) = (ts(t, j.run), ts(t, j.finish));
        let end = j.picture.map_or(finish, |(p, _)| ts(t, p).max(finish));
        let name = format!("job j{}", j.n);
        let args = json!({"cookie": id, "finished": j.reason});
        ev.push(slice(
            pid,
            TID_JOBS as u64,
            format!("j{} running", j.n),
            run,
            finish.max(run + 1),
            args.clone(),
        ));
        ev.push(json!({"ph": "b", "cat": "job", "id": id, "name": name, "pid": pid, "tid": TID_JOBS, "ts": run, "args": args}));
        ev.push(json!({"ph": "b", "cat": "job", "id": id, "name": "running", "pid": pid, "tid": TID_JOBS, "ts": run}));
        ev.push(json!({"ph": "e", "cat": "job", "id": id, "name": "running", "pid": pid, "tid": TID_JOBS, "ts": finish}));
        if end > finish {
            ev.push(json!({"ph": "b", "cat": "job", "id": id, "name": "awaiting picture", "pid": pid, "tid": TID_JOBS, "ts": finish}));
            ev.push(json!({"ph": "e", "cat": "job", "id": id, "name": "awaiting picture", "pid": pid, "tid": TID_JOBS, "ts": end}));
        }
        ev.push(json!({"ph": "e", "cat": "job", "id": id, "name": name, "pid": pid, "tid": TID_JOBS, "ts": end}));
        for (k, (buf, at, state)) in j.done.iter().enumerate() {
            // The flow ends inside the hold the completion ended.
            let Some(h) = t.bufs.iter().find(|l| l.buf == *buf).and_then(|l| {
                l.holds
                    .iter()
                    .find(|h| h.holder == Holder::Job(j.n) && h.to == *at)
            }) else {
                continue;
            };
            let fid = format!("{id}-{k}");
            let tid = buf_tid(buf.queue, buf.index, h.row + 1);
            ev.push(json!({"ph": "s", "cat": "done", "id": fid, "name": format!("j{} → {state}", j.n), "pid": pid, "tid": TID_JOBS, "ts": run}));
            ev.push(json!({"ph": "f", "bp": "e", "cat": "done", "id": fid, "name": format!("j{} → {state}", j.n), "pid": buf.ctx, "tid": tid, "ts": ts(t, *at) - 1}));
        }
    }
    // Instants on the driver's and the daemon's tracks.
    for (at, ctx, text) in records {
        let (pid, tid) = match ctx {
            Some(c) => {
                name_process(&mut meta, *c, format!("ctx {c}"), *c as i64);
                name_thread(&mut meta, *c, TID_EVENTS as u64, "driver events".into());
                (*c, TID_EVENTS)
            }
            None => {
                name_thread(
                    &mut meta,
                    PID_RUN,
                    TID_DAEMON as u64,
                    "daemon messages".into(),
                );
                (PID_RUN, TID_DAEMON)
            }
        };
        ev.push(
            json!({"ph": "i", "s": "t", "name": text, "pid": pid, "tid": tid, "ts": ts(t, *at)}),
        );
    }
    // The marks, on the scenario track.
    for m in &t.marks {
        let name = if m.what == "broke" {
            format!("VIOLATION {}", t.invariant.unwrap_or("?"))
        } else {
            "set up".to_owned()
        };
        ev.push(json!({"ph": "i", "s": "t", "name": name, "pid": PID_RUN, "tid": TID_SCENARIO,
            "ts": ts_event(t, m.pos), "args": {"line": m.line, "event": m.text, "diagnosis": t.diagnosis}}));
    }
    meta.extend(ev);
    let doc = json!({"traceEvents": meta, "displayTimeUnit": "ms"});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
