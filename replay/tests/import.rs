//! An imported field trace replays as it was recorded: every client call
//! the recording shows succeeding succeeds in the replay, and the client
//! dequeues the same buffers in the same order.

use std::path::{Path, PathBuf};

use daedalus_replay::oracle::Record;
use daedalus_replay::scenario::{Event, FRAME_HAS_PIXELS, JobRef, Queue};
use daedalus_replay::{Options, Outcome, import, run};

fn field(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../traces/field")
        .join(name)
}

/// The client calls the replay refused, as `check --log` prints them.
fn refused(o: &Outcome) -> Vec<String> {
    o.log
        .iter()
        .filter(|(_, r)| match r {
            Record::Errno { what, .. } => {
                matches!(*what, "qbuf" | "dqbuf" | "streamon" | "reqbufs")
            }
            Record::Dqbuf { result, .. } => result.is_err(),
            _ => false,
        })
        .map(|(_, r)| r.to_string())
        .collect()
}

/// (queue, index) of each successful DQBUF of the replay.
fn dequeued(o: &Outcome) -> Vec<(Queue, u32)> {
    o.log
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Dqbuf {
                queue,
                result: Ok((index, ..)),
                ..
            } => Some((*queue, *index)),
            _ => None,
        })
        .collect()
}

/// (queue, index) of each `vb2_dqbuf` of the recording.
fn recorded_dqbufs(trace: &str) -> Vec<(Queue, u32)> {
    trace
        .lines()
        .filter(|l| l.contains(" vb2_dqbuf: "))
        .map(|l| {
            let field = |k: &str| -> u32 {
                let at = l.find(&format!(" {k} = ")).unwrap() + k.len() + 4;
                let v: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
                v.parse().unwrap()
            };
            let queue = match field("type") {
                10 => Queue::Output,
                9 => Queue::Capture,
                t => panic!("vb2_dqbuf of queue type {t}"),
            };
            (queue, field("index"))
        })
        .collect()
}

#[test]
fn imported_field_trace_replays_without_a_refused_client_call() {
    let path = field("ffmpeg-tiny-decode.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let imported = import::import_text(&path, &text).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (_, s) = &imported.scenarios[0];
    let o = run(s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    assert_eq!(refused(&o), Vec::<String>::new());
    let recorded = recorded_dqbufs(&text);
    assert!(recorded.len() >= 20, "{recorded:?}");
    assert_eq!(dequeued(&o), recorded);
}

#[test]
fn imported_contexts_are_numbered_from_one() {
    let path = field("ffmpeg-tiny-two-clients.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let imported = import::import_text(&path, &text).unwrap();
    let ids: Vec<u32> = imported.scenarios.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [124, 126]);
    for (id, s) in &imported.scenarios {
        let text = s.to_text();
        assert!(text.contains("open ctx=1\n"), "ctx{id}:\n{text}");
        assert!(!text.contains(&format!("ctx={id}")), "ctx{id}:\n{text}");
        let o = run(s, &Options::default()).unwrap();
        assert!(o.verdict.is_clean(), "ctx{id}");
        assert_eq!(refused(&o), Vec::<String>::new(), "ctx{id}");
    }
}

/// An excerpt of `ffmpeg-tiny-scripted-garbage.trace`: the scripted daemon
/// answers job 0x2000000e9 with HAS_PIXELS twice (the module rejects the
/// duplicate) and never with SRC_CONSUMED, so the watchdog ends it; the
/// client then dequeues the OUTPUT buffer that came back with ERROR and
/// queues it again, and the watchdog ends the next job too.
const REJECTED_THEN_EXPIRED: &str = "\
          ffmpeg-367     [000] .l...   527.342785: daedalus_stream: ctx=143 queue=OUTPUT on
          ffmpeg-367     [000] .....   527.393149: daedalus_stream: ctx=143 queue=CAPTURE on
     kworker/0:1-11      [000] .l...   527.417262: daedalus_device_run: ctx=143 cookie=0x2000000e9 src=1 dst=1 src_ts=160000000
     kworker/0:1-11      [000] .l...   527.417285: daedalus_claim: ctx=143 cookie=0x2000000e9 queue=OUTPUT index=1
     kworker/0:1-11      [000] .l...   527.417295: daedalus_claim: ctx=143 cookie=0x2000000e9 queue=CAPTURE index=1
     kworker/0:1-11      [000] .l...   527.417449: daedalus_msg_out: type=0x4 cookie=0x2000000e9 ctx=143 flags=0x0 len=141
          ffmpeg-367     [000] .....   527.419303: vb2_qbuf: owner = 00000000e8d2ad81, queued = 2, owned_by_drv = 1, index = 0, type = 10, bytesused = 32, timestamp = 80000000
       daedalusd-352     [000] .....   527.437079: daedalus_msg_in: type=0x8002 cookie=0x2000000e9 ctx=143 flags=0x2 len=4664
       daedalusd-352     [000] .....   527.437149: daedalus_buf_done: ctx=143 cookie=0x2000000e9 queue=CAPTURE index=1 state=DONE ts=0
          ffmpeg-367     [000] .....   527.437756: vb2_dqbuf: owner = 00000000e8d2ad81, queued = 19, owned_by_drv = 19, index = 1, type = 9, bytesused = 4608, timestamp = 0
       daedalusd-352     [000] .....   527.441022: daedalus_msg_in: type=0x8002 cookie=0x2000000e9 ctx=143 flags=0x2 len=4664
       daedalusd-352     [000] .....   527.441074: daedalus_reject: reason=dup_has_pixels type=0x8002 cookie=0x2000000e9
          ffmpeg-367     [000] .....   527.470497: vb2_qbuf: owner = 00000000e8d2ad81, queued = 3, owned_by_drv = 2, index = 2, type = 10, bytesused = 18, timestamp = 40000000
     kworker/0:1-11      [000] .....   529.540798: daedalus_buf_done: ctx=143 cookie=0x2000000e9 queue=OUTPUT index=1 state=ERROR ts=160000000
     kworker/0:1-11      [000] .l...   529.541310: daedalus_job_finish: ctx=143 cookie=0x2000000e9 reason=expired
     kworker/0:1-11      [000] .l...   529.542111: daedalus_device_run: ctx=143 cookie=0x2000000ea src=0 dst=2 src_ts=80000000
     kworker/0:1-11      [000] .l...   529.542132: daedalus_claim: ctx=143 cookie=0x2000000ea queue=OUTPUT index=0
     kworker/0:1-11      [000] .l...   529.542141: daedalus_claim: ctx=143 cookie=0x2000000ea queue=CAPTURE index=2
     kworker/0:1-11      [000] .l...   529.542341: daedalus_msg_out: type=0x4 cookie=0x2000000ea ctx=143 flags=0x0 len=112
          ffmpeg-367     [000] .....   529.545784: vb2_dqbuf: owner = 00000000e8d2ad81, queued = 2, owned_by_drv = 2, index = 1, type = 10, bytesused = 61, timestamp = 160000000
          ffmpeg-367     [000] .....   529.546113: vb2_qbuf: owner = 00000000e8d2ad81, queued = 3, owned_by_drv = 2, index = 1, type = 10, bytesused = 32, timestamp = 120000000
     kworker/0:1-11      [000] .....   531.597276: daedalus_buf_done: ctx=143 cookie=0x2000000ea queue=OUTPUT index=0 state=ERROR ts=80000000
     kworker/0:1-11      [000] .....   531.597432: daedalus_buf_done: ctx=143 cookie=0x2000000ea queue=CAPTURE index=2 state=ERROR ts=0
     kworker/0:1-11      [000] .....   531.597456: daedalus_job_finish: ctx=143 cookie=0x2000000ea reason=expired
";

/// The `reason=` of each line of `trace` naming `event`, in order.
fn recorded_reasons(trace: &str, event: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| l.contains(&format!(" {event}: ")))
        .map(|l| {
            let at = l.find(" reason=").unwrap() + " reason=".len();
            l[at..].split(' ').next().unwrap().to_owned()
        })
        .collect()
}

/// The reason of each `job_finish` and `reject` record of the replay, as
/// the outcome log names them.
fn replayed_reasons(o: &Outcome) -> (Vec<String>, Vec<String>) {
    let mut finishes = Vec::new();
    let mut rejects = Vec::new();
    for (_, r) in &o.log {
        let text = r.to_string();
        match r {
            Record::JobFinish { .. } => finishes.push(text.rsplit(' ').next().unwrap().to_owned()),
            Record::Reject { .. } => rejects.push(text.split(' ').nth(1).unwrap().to_owned()),
            _ => {}
        }
    }
    (finishes, rejects)
}

/// The replay of `trace`'s one context does what the recording shows: no
/// client call refused, the same DQBUFs, the same job endings and rejects.
fn assert_follows_recording(trace: &str, s: &daedalus_replay::Scenario) {
    let o = run(s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    assert_eq!(refused(&o), Vec::<String>::new(), "{}", o.log_text());
    assert_eq!(dequeued(&o), recorded_dqbufs(trace), "{}", o.log_text());
    let (finishes, rejects) = replayed_reasons(&o);
    assert_eq!(finishes, recorded_reasons(trace, "daedalus_job_finish"));
    assert_eq!(rejects, recorded_reasons(trace, "daedalus_reject"));
}

#[test]
fn a_job_the_watchdog_ended_after_a_rejected_reply_expires_in_the_replay() {
    let path = Path::new("rejected-then-expired.trace");
    let imported = import::import_text(path, REJECTED_THEN_EXPIRED).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (id, s) = &imported.scenarios[0];
    assert_eq!(*id, 143);
    let events: Vec<Event> = s.events().collect();
    // Both HAS_PIXELS replies are the daemon's writes: the replay sends the
    // duplicate too, for the module to reject as it did.
    let frames: Vec<(JobRef, u32)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Frame { job, flags, .. } => Some((job, flags)),
            _ => None,
        })
        .collect();
    assert_eq!(
        frames,
        [
            (JobRef::Nth(1), FRAME_HAS_PIXELS),
            (JobRef::Nth(1), FRAME_HAS_PIXELS)
        ]
    );
    // Each expiry is the watchdog's budget passing, after the client's
    // QBUFs that came before it and before the DQBUF of the buffer the
    // watchdog returned.
    let ticks: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Tick { ms: 2000 }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ticks.len(), 2, "{}", s.to_text());
    assert!(matches!(
        events[ticks[0] - 1],
        Event::Qbuf {
            queue: Queue::Output,
            index: 2,
            ..
        }
    ));
    let out_dqbuf = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Dqbuf {
                    queue: Queue::Output,
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        ticks[0] < out_dqbuf && out_dqbuf < ticks[1],
        "{}",
        s.to_text()
    );
    assert_eq!(ticks[1], events.len() - 1, "{}", s.to_text());
    insta::assert_snapshot!("rejected_then_expired", s.to_text());
    assert_follows_recording(REJECTED_THEN_EXPIRED, s);
}

#[test]
fn garbage_daemon_recording_replays_as_recorded() {
    let path = field("ffmpeg-tiny-scripted-garbage.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let imported = import::import_text(&path, &text).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (_, s) = &imported.scenarios[0];
    assert_follows_recording(&text, s);
    let stored = field("ffmpeg-tiny-scripted-garbage.scn");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), s.to_text());
}

/// v4l2-compliance's buffer tests, as a recording shows them: both OUTPUT
/// buffers queued, VIDIOC_STREAMOFF on the idle queue (vb2 hands them back
/// without calling the driver, so no `daedalus_stream` event), both queued
/// again, then streaming and a decode.
const QUEUED_TWICE_BEFORE_STREAMON: &str = "\
 v4l2-compliance-90  [000] .....    84.100001: vb2_qbuf: owner = 00000000aa, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 1000
 v4l2-compliance-90  [000] .....    84.100002: vb2_qbuf: owner = 00000000aa, queued = 2, owned_by_drv = 0, index = 1, type = 10, bytesused = 1555200, timestamp = 2000
 v4l2-compliance-90  [000] .....    84.100003: vb2_qbuf: owner = 00000000aa, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 3000
 v4l2-compliance-90  [000] .....    84.100004: vb2_qbuf: owner = 00000000aa, queued = 2, owned_by_drv = 0, index = 1, type = 10, bytesused = 1555200, timestamp = 4000
 v4l2-compliance-90  [000] .....    84.100005: daedalus_stream: ctx=108 queue=OUTPUT on
 v4l2-compliance-90  [000] .....    84.100006: vb2_qbuf: owner = 00000000aa, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
 v4l2-compliance-90  [000] .....    84.100007: daedalus_stream: ctx=108 queue=CAPTURE on
     kworker/0:1-11  [000] .....    84.100008: daedalus_device_run: ctx=108 cookie=0x100000001 src=0 dst=0 src_ts=3000
       daedalusd-52  [000] .....    84.100009: daedalus_msg_in: type=0x8002 cookie=0x100000001 ctx=108 flags=0x1 len=56
 v4l2-compliance-90  [000] .....    84.100010: vb2_dqbuf: owner = 00000000aa, queued = 1, owned_by_drv = 1, index = 0, type = 10, bytesused = 1555200, timestamp = 3000
 v4l2-compliance-90  [000] .....    84.100011: vb2_qbuf: owner = 00000000aa, queued = 2, owned_by_drv = 1, index = 0, type = 10, bytesused = 1555200, timestamp = 5000
";

#[test]
fn a_queue_given_back_by_an_idle_streamoff_is_queued_again_in_the_replay() {
    let path = Path::new("queued-twice.trace");
    let imported = import::import_text(path, QUEUED_TWICE_BEFORE_STREAMON).unwrap();
    let (_, s) = &imported.scenarios[0];
    let text = s.to_text();
    // The unseen STREAMOFF comes back exactly once: between the second
    // round of QBUFs and the first, not before the re-QBUF after DQBUF.
    assert_eq!(text.matches("streamoff ctx=1 q=out").count(), 1, "{text}");
    let off = text.find("streamoff ctx=1 q=out").unwrap();
    assert!(
        text[..off].contains("ts=2000") && !text[..off].contains("ts=3000"),
        "{text}"
    );
    let o = run(s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    assert_eq!(refused(&o), Vec::<String>::new(), "{text}");
}

#[test]
fn a_recording_without_vb2_events_replays_from_the_v4l2_ones() {
    let path = field("ffmpeg-tiny-decode.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let full = import::import_text(&path, &text).unwrap();
    // `-e daedalus -e v4l2`: the same recording without the vb2 events.
    let v4l2_only: String = text
        .lines()
        .filter(|l| !l.contains(" vb2_"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(v4l2_only.contains(" v4l2_dqbuf: "));
    let imported = import::import_text(&path, &v4l2_only).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (_, s) = &imported.scenarios[0];
    let o = run(s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    assert_eq!(refused(&o), Vec::<String>::new());
    // The client's DQBUFs are the recording's, as with the vb2 events.
    let from_vb2 = run(&full.scenarios[0].1, &Options::default()).unwrap();
    assert_eq!(dequeued(&o), dequeued(&from_vb2));
    assert_eq!(dequeued(&o), recorded_dqbufs(&text));
}

#[test]
fn stream_info_is_imported_as_the_daemon_sent_it() {
    let trace = "\
 v4l2-compliance-90  [000] .....    84.100005: daedalus_stream: ctx=110 queue=OUTPUT on
 v4l2-compliance-90  [000] .....    84.100006: vb2_qbuf: owner = 00000000aa, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
 v4l2-compliance-90  [000] .....    84.100007: daedalus_stream: ctx=110 queue=CAPTURE on
     kworker/0:1-11  [000] .....    84.100008: daedalus_device_run: ctx=110 cookie=0x100000000 src=0 dst=0 src_ts=3000
       daedalusd-52  [000] .....    84.100009: daedalus_stream_info: ctx=110 width=64 height=48 dpb=7 change
       daedalusd-52  [000] .....    84.100010: daedalus_msg_in: type=0x8002 cookie=0x100000000 ctx=110 flags=0xb len=56
";
    let imported = import::import_text(Path::new("info.trace"), trace).unwrap();
    let (_, s) = &imported.scenarios[0];
    let text = s.to_text();
    let info = text
        .find("info ctx=1 width=64 height=48 dpb=7\n")
        .expect(&text);
    assert!(info < text.find("frame ctx=1 job=1").unwrap(), "{text}");
    let o = run(s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
}

#[test]
fn a_reordered_trace_is_refused_with_its_file_and_line() {
    let path = field("ffmpeg-tiny-decode.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let events: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" daedalus_device_run: "))
        .collect();
    // The second decode job's line moved ahead of the first's: the line
    // after it is the first to go back in time.
    lines.swap(events[0], events[1]);
    let reordered = lines.join("\n");
    let err = import::import_text(&path, &reordered)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:{}: time goes backwards",
            path.display(),
            events[0] + 2
        )),
        "{err}"
    );
    // Every recording under traces/field/ is in time order.
    for entry in std::fs::read_dir(field("")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "trace") {
            let t = std::fs::read_to_string(&p).unwrap();
            import::import_text(&p, &t).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The replay's DQBUFs of each imported context, by its id in the trace.
fn dequeued_by_context(imported: &import::Imported) -> Vec<(u32, Vec<(Queue, u32)>)> {
    imported
        .scenarios
        .iter()
        .map(|(id, s)| {
            let o = run(s, &Options::default()).unwrap();
            let text = s.to_text();
            assert!(o.verdict.is_clean(), "ctx{id}:\n{text}");
            assert_eq!(refused(&o), Vec::<String>::new(), "ctx{id}:\n{text}");
            (*id, dequeued(&o))
        })
        .collect()
}

/// v4l2-compliance's streaming tests, as a recording shows them: a
/// context that only streams (106, its STREAMOFF from a forked child),
/// then two that decode, opened one after another by the same task, every
/// vb2 event of both with the same owner (a file handle's memory used
/// again, or owner 0 of a CREATE_BUFS queue).
const CONTEXTS_IN_TURN_ON_ONE_OWNER: &str = "\
 v4l2-compliance-89      [000] .....    97.541739: daedalus_msg_out: type=0x2 cookie=0x0 ctx=106 flags=0x0 len=48
 v4l2-compliance-89      [000] .l...    97.542329: daedalus_stream: ctx=106 queue=OUTPUT on
 v4l2-compliance-93      [000] .....    98.549278: daedalus_msg_out: type=0x6 cookie=0x0 ctx=106 flags=0x0 len=32
 v4l2-compliance-93      [000] .l...    98.549899: daedalus_stream: ctx=106 queue=OUTPUT off
 v4l2-compliance-89      [000] .....   109.615878: daedalus_msg_out: type=0x3 cookie=0x0 ctx=106 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   109.914234: vb2_qbuf: owner = 00000000d46d31bb, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 109955818000
 v4l2-compliance-89      [000] .l...   109.921680: daedalus_msg_out: type=0x2 cookie=0x0 ctx=110 flags=0x0 len=48
 v4l2-compliance-89      [000] .l...   109.921814: daedalus_stream: ctx=110 queue=OUTPUT on
 v4l2-compliance-89      [000] .....   110.001275: vb2_qbuf: owner = 00000000d46d31bb, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
 v4l2-compliance-89      [000] .....   110.002663: daedalus_stream: ctx=110 queue=CAPTURE on
 v4l2-compliance-89      [000] .l...   110.005428: daedalus_device_run: ctx=110 cookie=0x100000000 src=0 dst=0 src_ts=109955818000
 v4l2-compliance-89      [000] .l...   110.005709: daedalus_claim: ctx=110 cookie=0x100000000 queue=OUTPUT index=0
 v4l2-compliance-89      [000] .l...   110.005829: daedalus_claim: ctx=110 cookie=0x100000000 queue=CAPTURE index=0
 v4l2-compliance-89      [000] .l...   110.007158: daedalus_msg_out: type=0x4 cookie=0x100000000 ctx=110 flags=0x2 len=80
       daedalusd-48      [000] .....   110.628277: daedalus_msg_in: type=0x8002 cookie=0x100000000 ctx=110 flags=0x3 len=56
       daedalusd-48      [000] .l...   110.630076: daedalus_buf_done: ctx=110 cookie=0x100000000 queue=CAPTURE index=0 state=DONE ts=109955818000
       daedalusd-48      [000] .l...   110.631602: daedalus_buf_done: ctx=110 cookie=0x100000000 queue=OUTPUT index=0 state=DONE ts=109955818000
       daedalusd-48      [000] .l...   110.631851: daedalus_job_finish: ctx=110 cookie=0x100000000 reason=consumed
 v4l2-compliance-89      [000] .....   110.633612: vb2_dqbuf: owner = 00000000d46d31bb, queued = 0, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 109955818000
 v4l2-compliance-89      [000] .....   110.633901: vb2_dqbuf: owner = 00000000d46d31bb, queued = 0, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 109955818000
 v4l2-compliance-89      [000] .....   112.166732: daedalus_msg_out: type=0x6 cookie=0x0 ctx=110 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   112.166752: daedalus_stream: ctx=110 queue=OUTPUT off
 v4l2-compliance-89      [000] .....   112.166944: daedalus_msg_out: type=0x8 cookie=0x0 ctx=110 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   112.166956: daedalus_stream: ctx=110 queue=CAPTURE off
 v4l2-compliance-89      [000] .....   112.191639: daedalus_msg_out: type=0x3 cookie=0x0 ctx=110 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   112.219525: vb2_qbuf: owner = 00000000d46d31bb, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 112261240000
 v4l2-compliance-89      [000] .l...   112.392908: daedalus_msg_out: type=0x2 cookie=0x0 ctx=111 flags=0x0 len=48
 v4l2-compliance-89      [000] .l...   112.392994: daedalus_stream: ctx=111 queue=OUTPUT on
 v4l2-compliance-89      [000] .....   112.466101: vb2_qbuf: owner = 00000000d46d31bb, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
 v4l2-compliance-89      [000] .....   112.467630: daedalus_stream: ctx=111 queue=CAPTURE on
 v4l2-compliance-89      [000] .l...   112.467801: daedalus_device_run: ctx=111 cookie=0x100000052 src=0 dst=0 src_ts=112261240000
 v4l2-compliance-89      [000] .l...   112.467912: daedalus_claim: ctx=111 cookie=0x100000052 queue=OUTPUT index=0
 v4l2-compliance-89      [000] .l...   112.468020: daedalus_claim: ctx=111 cookie=0x100000052 queue=CAPTURE index=0
 v4l2-compliance-89      [000] .l...   112.468533: daedalus_msg_out: type=0x4 cookie=0x100000052 ctx=111 flags=0x2 len=80
       daedalusd-48      [000] .....   112.517211: daedalus_msg_in: type=0x8002 cookie=0x100000052 ctx=111 flags=0x3 len=56
       daedalusd-48      [000] .l...   112.517405: daedalus_buf_done: ctx=111 cookie=0x100000052 queue=CAPTURE index=0 state=DONE ts=112261240000
       daedalusd-48      [000] .l...   112.517562: daedalus_buf_done: ctx=111 cookie=0x100000052 queue=OUTPUT index=0 state=DONE ts=112261240000
       daedalusd-48      [000] .l...   112.517698: daedalus_job_finish: ctx=111 cookie=0x100000052 reason=consumed
 v4l2-compliance-89      [000] .....   112.521001: vb2_dqbuf: owner = 00000000d46d31bb, queued = 0, owned_by_drv = 0, index = 0, type = 10, bytesused = 1555200, timestamp = 112261240000
 v4l2-compliance-89      [000] .....   112.521323: vb2_dqbuf: owner = 00000000d46d31bb, queued = 0, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 112261240000
 v4l2-compliance-89      [000] .....   113.875201: daedalus_msg_out: type=0x6 cookie=0x0 ctx=111 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   113.875265: daedalus_stream: ctx=111 queue=OUTPUT off
 v4l2-compliance-89      [000] .....   113.875401: daedalus_msg_out: type=0x8 cookie=0x0 ctx=111 flags=0x0 len=32
 v4l2-compliance-89      [000] .....   113.875457: daedalus_stream: ctx=111 queue=CAPTURE off
 v4l2-compliance-89      [000] .....   113.906605: daedalus_msg_out: type=0x3 cookie=0x0 ctx=111 flags=0x0 len=32
";

#[test]
fn contexts_opened_in_turn_on_one_owner_each_get_their_own_calls() {
    let path = Path::new("in-turn.trace");
    let imported = import::import_text(path, CONTEXTS_IN_TURN_ON_ONE_OWNER).unwrap();
    let ids: Vec<u32> = imported.scenarios.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [106, 110, 111]);
    for (id, s) in &imported.scenarios {
        let text = s.to_text();
        let calls = if *id == 106 { 0 } else { 2 };
        assert_eq!(text.matches("\nqbuf ").count(), calls, "ctx{id}:\n{text}");
        assert_eq!(text.matches("\ndqbuf ").count(), calls, "ctx{id}:\n{text}");
    }
    let decoded = [(Queue::Output, 0), (Queue::Capture, 0)];
    assert_eq!(
        dequeued_by_context(&imported),
        [
            (106, vec![]),
            (110, decoded.to_vec()),
            (111, decoded.to_vec())
        ]
    );
}

/// Two ffmpeg clients decoding at once, as a recording shows them: A
/// (task 248, context 136, owner ...5f) queues first, B (task 249) runs
/// the first job on context 135, closes it and opens context 137, whose
/// queues get the owner 135's had (the freed file handle's memory). A
/// QBUF of B's ran A's pending job in B's task: that `device_run`, its
/// claims, REQ_DECODE, REQ_FLUSH and the drain's `flush` are traced in
/// B's task while A's context is still open.
const TWO_CLIENTS_ONE_RUNS_THE_OTHERS_JOB: &str = "\
          ffmpeg-248     [000] .l...   629.635262: vb2_qbuf: owner = 00000000fe779d5f, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 4793, timestamp = 1480000000
          ffmpeg-249     [000] .....   629.636598: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 2840, timestamp = 1480000000
          ffmpeg-249     [000] .....   629.637329: daedalus_msg_out: type=0x2 cookie=0x0 ctx=135 flags=0x0 len=48
          ffmpeg-249     [000] .l...   629.637510: daedalus_stream: ctx=135 queue=OUTPUT on
          ffmpeg-249     [000] .....   629.654266: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
          ffmpeg-249     [000] .....   629.718598: daedalus_stream: ctx=135 queue=CAPTURE on
          ffmpeg-249     [000] .....   629.718758: daedalus_device_run: ctx=135 cookie=0x300000048 src=0 dst=0 src_ts=1480000000
          ffmpeg-249     [000] .....   629.718777: daedalus_claim: ctx=135 cookie=0x300000048 queue=OUTPUT index=0
          ffmpeg-249     [000] .....   629.718790: daedalus_claim: ctx=135 cookie=0x300000048 queue=CAPTURE index=0
          ffmpeg-249     [000] .l...   629.720133: daedalus_msg_out: type=0x4 cookie=0x300000048 ctx=135 flags=0x2 len=80
          ffmpeg-248     [000] .....   629.736029: daedalus_msg_out: type=0x2 cookie=0x0 ctx=136 flags=0x0 len=48
          ffmpeg-248     [000] .l...   629.736140: daedalus_stream: ctx=136 queue=OUTPUT on
          ffmpeg-248     [000] .....   629.740051: vb2_qbuf: owner = 00000000fe779d5f, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
          ffmpeg-248     [000] .....   629.741824: daedalus_stream: ctx=136 queue=CAPTURE on
       daedalusd-49      [000] .....   629.747437: daedalus_msg_in: type=0x8002 cookie=0x300000048 ctx=135 flags=0x3 len=56
       daedalusd-49      [000] .....   629.747491: daedalus_buf_done: ctx=135 cookie=0x300000048 queue=CAPTURE index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .....   629.747547: daedalus_buf_done: ctx=135 cookie=0x300000048 queue=OUTPUT index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .l...   629.747698: daedalus_job_finish: ctx=135 cookie=0x300000048 reason=consumed
     kworker/0:0-9       [000] .l...   629.752001: daedalus_device_run: ctx=136 cookie=0x300000100 src=0 dst=0 src_ts=1480000000
     kworker/0:0-9       [000] .l...   629.752029: daedalus_claim: ctx=136 cookie=0x300000100 queue=OUTPUT index=0
     kworker/0:0-9       [000] .l...   629.752042: daedalus_claim: ctx=136 cookie=0x300000100 queue=CAPTURE index=0
     kworker/0:0-9       [000] .l...   629.752323: daedalus_msg_out: type=0x4 cookie=0x300000100 ctx=136 flags=0x2 len=80
          ffmpeg-249     [000] .....   629.757353: vb2_dqbuf: owner = 00000000b2dc7881, queued = 0, owned_by_drv = 0, index = 0, type = 10, bytesused = 2840, timestamp = 1480000000
          ffmpeg-249     [000] .....   629.757601: vb2_dqbuf: owner = 00000000b2dc7881, queued = 0, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 1480000000
       daedalusd-49      [000] .....   629.785094: daedalus_msg_in: type=0x8002 cookie=0x300000100 ctx=136 flags=0x3 len=56
       daedalusd-49      [000] .....   629.785141: daedalus_buf_done: ctx=136 cookie=0x300000100 queue=CAPTURE index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .....   629.785196: daedalus_buf_done: ctx=136 cookie=0x300000100 queue=OUTPUT index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .l...   629.785366: daedalus_job_finish: ctx=136 cookie=0x300000100 reason=consumed
          ffmpeg-248     [000] .....   629.790247: vb2_dqbuf: owner = 00000000fe779d5f, queued = 0, owned_by_drv = 0, index = 0, type = 10, bytesused = 4793, timestamp = 1480000000
          ffmpeg-248     [000] .....   629.790301: vb2_dqbuf: owner = 00000000fe779d5f, queued = 0, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 1480000000
          ffmpeg-248     [000] .....   629.791012: vb2_qbuf: owner = 00000000fe779d5f, queued = 1, owned_by_drv = 0, index = 1, type = 10, bytesused = 968, timestamp = 1520000000
          ffmpeg-248     [000] .....   629.791544: daedalus_drain: ctx=136 phase=start
          ffmpeg-249     [000] .....   629.793877: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 1, type = 10, bytesused = 355, timestamp = 1520000000
          ffmpeg-249     [000] .....   629.794302: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 1, type = 9, bytesused = 0, timestamp = 0
          ffmpeg-249     [000] .....   629.794390: daedalus_device_run: ctx=135 cookie=0x300000049 src=1 dst=1 src_ts=1520000000
          ffmpeg-249     [000] .....   629.794413: daedalus_claim: ctx=135 cookie=0x300000049 queue=OUTPUT index=1
          ffmpeg-249     [000] .....   629.794425: daedalus_claim: ctx=135 cookie=0x300000049 queue=CAPTURE index=1
          ffmpeg-249     [000] .....   629.794743: daedalus_msg_out: type=0x4 cookie=0x300000049 ctx=135 flags=0x2 len=80
          ffmpeg-248     [000] .....   629.795110: vb2_qbuf: owner = 00000000fe779d5f, queued = 1, owned_by_drv = 0, index = 1, type = 9, bytesused = 0, timestamp = 0
       daedalusd-49      [000] .....   629.801656: daedalus_msg_in: type=0x8002 cookie=0x300000049 ctx=135 flags=0x3 len=56
       daedalusd-49      [000] .....   629.801702: daedalus_buf_done: ctx=135 cookie=0x300000049 queue=CAPTURE index=1 state=DONE ts=1520000000
       daedalusd-49      [000] .....   629.801750: daedalus_buf_done: ctx=135 cookie=0x300000049 queue=OUTPUT index=1 state=DONE ts=1520000000
       daedalusd-49      [000] .l...   629.801893: daedalus_job_finish: ctx=135 cookie=0x300000049 reason=consumed
          ffmpeg-249     [000] .....   629.802506: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
          ffmpeg-249     [000] .l...   629.802590: daedalus_device_run: ctx=136 cookie=0x300000101 src=1 dst=1 src_ts=1520000000
          ffmpeg-249     [000] .l...   629.802613: daedalus_claim: ctx=136 cookie=0x300000101 queue=OUTPUT index=1
          ffmpeg-249     [000] .l...   629.802625: daedalus_claim: ctx=136 cookie=0x300000101 queue=CAPTURE index=1
          ffmpeg-249     [000] .l...   629.802743: daedalus_msg_out: type=0x4 cookie=0x300000101 ctx=136 flags=0x2 len=80
          ffmpeg-249     [000] .l...   629.802811: daedalus_msg_out: type=0x5 cookie=0x0 ctx=136 flags=0x0 len=32
          ffmpeg-249     [000] .l...   629.802840: daedalus_drain: ctx=136 phase=flush
          ffmpeg-249     [000] .....   629.803301: vb2_dqbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 1, index = 1, type = 10, bytesused = 355, timestamp = 1520000000
          ffmpeg-249     [000] .....   629.803502: vb2_dqbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 1, index = 1, type = 9, bytesused = 0, timestamp = 1520000000
          ffmpeg-249     [000] .....   629.810777: daedalus_msg_out: type=0x6 cookie=0x0 ctx=135 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.810842: daedalus_stream: ctx=135 queue=OUTPUT off
          ffmpeg-249     [000] .....   629.811179: daedalus_msg_out: type=0x8 cookie=0x0 ctx=135 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.811203: daedalus_stream: ctx=135 queue=CAPTURE off
          ffmpeg-249     [000] .....   629.812034: daedalus_msg_out: type=0x3 cookie=0x0 ctx=135 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.830217: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 2840, timestamp = 1480000000
          ffmpeg-249     [000] .....   629.830991: daedalus_msg_out: type=0x2 cookie=0x0 ctx=137 flags=0x0 len=48
          ffmpeg-249     [000] .l...   629.831120: daedalus_stream: ctx=137 queue=OUTPUT on
          ffmpeg-249     [000] .....   629.832410: vb2_qbuf: owner = 00000000b2dc7881, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
          ffmpeg-249     [000] .....   629.832598: daedalus_stream: ctx=137 queue=CAPTURE on
       daedalusd-49      [000] .....   629.833120: daedalus_msg_in: type=0x8002 cookie=0x300000101 ctx=136 flags=0xb len=56
       daedalusd-49      [000] .....   629.833184: daedalus_buf_done: ctx=136 cookie=0x300000101 queue=CAPTURE index=1 state=DONE ts=1520000000
       daedalusd-49      [000] .l...   629.833227: daedalus_drain: ctx=136 phase=last
       daedalusd-49      [000] .l...   629.833261: daedalus_buf_done: ctx=136 cookie=0x300000101 queue=OUTPUT index=1 state=DONE ts=1520000000
       daedalusd-49      [000] .l...   629.833302: daedalus_job_finish: ctx=136 cookie=0x300000101 reason=consumed
     kworker/0:0-9       [000] .l...   629.833650: daedalus_device_run: ctx=137 cookie=0x300000200 src=0 dst=0 src_ts=1480000000
     kworker/0:0-9       [000] .l...   629.833671: daedalus_claim: ctx=137 cookie=0x300000200 queue=OUTPUT index=0
     kworker/0:0-9       [000] .l...   629.833689: daedalus_claim: ctx=137 cookie=0x300000200 queue=CAPTURE index=0
     kworker/0:0-9       [000] .l...   629.833901: daedalus_msg_out: type=0x4 cookie=0x300000200 ctx=137 flags=0x2 len=80
          ffmpeg-248     [000] .....   629.834410: vb2_dqbuf: owner = 00000000fe779d5f, queued = 0, owned_by_drv = 0, index = 1, type = 10, bytesused = 968, timestamp = 1520000000
          ffmpeg-248     [000] .....   629.834622: vb2_dqbuf: owner = 00000000fe779d5f, queued = 0, owned_by_drv = 0, index = 1, type = 9, bytesused = 0, timestamp = 1520000000
       daedalusd-49      [000] .....   629.850331: daedalus_msg_in: type=0x8002 cookie=0x300000200 ctx=137 flags=0x3 len=56
       daedalusd-49      [000] .....   629.850390: daedalus_buf_done: ctx=137 cookie=0x300000200 queue=CAPTURE index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .....   629.850436: daedalus_buf_done: ctx=137 cookie=0x300000200 queue=OUTPUT index=0 state=DONE ts=1480000000
       daedalusd-49      [000] .l...   629.850512: daedalus_job_finish: ctx=137 cookie=0x300000200 reason=consumed
          ffmpeg-249     [000] .....   629.851002: vb2_dqbuf: owner = 00000000b2dc7881, queued = 0, owned_by_drv = 0, index = 0, type = 10, bytesused = 2840, timestamp = 1480000000
          ffmpeg-249     [000] .....   629.851240: vb2_dqbuf: owner = 00000000b2dc7881, queued = 0, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 1480000000
          ffmpeg-248     [000] .....   629.860104: daedalus_msg_out: type=0x6 cookie=0x0 ctx=136 flags=0x0 len=32
          ffmpeg-248     [000] .....   629.860177: daedalus_stream: ctx=136 queue=OUTPUT off
          ffmpeg-248     [000] .....   629.860391: daedalus_msg_out: type=0x8 cookie=0x0 ctx=136 flags=0x0 len=32
          ffmpeg-248     [000] .....   629.860402: daedalus_stream: ctx=136 queue=CAPTURE off
          ffmpeg-248     [000] .....   629.861029: daedalus_msg_out: type=0x3 cookie=0x0 ctx=136 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.870018: daedalus_msg_out: type=0x6 cookie=0x0 ctx=137 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.870077: daedalus_stream: ctx=137 queue=OUTPUT off
          ffmpeg-249     [000] .....   629.870291: daedalus_msg_out: type=0x8 cookie=0x0 ctx=137 flags=0x0 len=32
          ffmpeg-249     [000] .....   629.870302: daedalus_stream: ctx=137 queue=CAPTURE off
          ffmpeg-249     [000] .....   629.871029: daedalus_msg_out: type=0x3 cookie=0x0 ctx=137 flags=0x0 len=32
";

#[test]
fn a_job_run_in_another_clients_task_does_not_move_that_clients_calls() {
    let path = Path::new("two-clients.trace");
    let imported = import::import_text(path, TWO_CLIENTS_ONE_RUNS_THE_OTHERS_JOB).unwrap();
    let two = vec![
        (Queue::Output, 0),
        (Queue::Capture, 0),
        (Queue::Output, 1),
        (Queue::Capture, 1),
    ];
    assert_eq!(
        dequeued_by_context(&imported),
        [
            (135, two.clone()),
            (136, two),
            (137, vec![(Queue::Output, 0), (Queue::Capture, 0)])
        ]
    );
    // Each context got exactly its client's QBUFs.
    let qbufs: Vec<(u32, usize)> = imported
        .scenarios
        .iter()
        .map(|(id, s)| (*id, s.to_text().matches("\nqbuf ").count()))
        .collect();
    assert_eq!(qbufs, [(135, 5), (136, 4), (137, 2)]);
}

/// The e2e guest's recording of `ffmpeg -c:v h264_v4l2m2m` on the tiny
/// clip, taken from one trace buffer twice: tracefs text, and trace-cmd's
/// trace.dat (`trace-cmd extract`).
const TINY_DAT: &str = "ffmpeg-tiny-decode-20261204";

fn printed(i: &import::Imported) -> Vec<(u32, String)> {
    i.scenarios
        .iter()
        .map(|(ctx, s)| (*ctx, s.to_text()))
        .collect()
}

/// libtracecmd reads a trace.dat into the same scenarios as the text.
#[test]
fn a_trace_dat_imports_as_its_text() {
    let dat = import::import_file(&field(&format!("{TINY_DAT}.dat"))).unwrap();
    let text = import::import_file(&field(&format!("{TINY_DAT}.trace"))).unwrap();
    assert!(!dat.scenarios.is_empty());
    assert_eq!(dat.used, text.used);
    assert_eq!(printed(&dat), printed(&text));
}

/// A trace.dat cut short is an error that names the file, not a panic or
/// an empty import.
#[test]
fn a_truncated_trace_dat_is_an_error_naming_it() {
    let bytes = std::fs::read(field(&format!("{TINY_DAT}.dat"))).unwrap();
    let path = std::env::temp_dir().join(format!("daedalus-cut-{}.dat", std::process::id()));
    for keep in [16, 4096] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = import::import_file(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
    let _ = std::fs::remove_file(&path);
}

/// A recording of GStreamer's v4l2slh264dec on the stateless node: the
/// context is imported as one of that node, each OUTPUT buffer goes in a
/// request of its own, and the replay follows the recording, every
/// request completing; both stateless mutants are caught on it.
#[test]
fn a_stateless_recording_replays_with_its_requests() {
    let path = field("gst-stateless-bframes-decode.trace");
    let text = std::fs::read_to_string(&path).unwrap();
    let imported = import::import_text(&path, &text).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (_, s) = &imported.scenarios[0];
    let scn = s.to_text();
    assert!(scn.contains("open ctx=1 node=stateless\n"), "{scn}");
    let queued = scn.matches("req_queue").count();
    let recorded_out = text
        .lines()
        .filter(|l| l.contains(" vb2_qbuf: ") && l.contains(" type = 10,"))
        .count();
    assert_eq!(queued, recorded_out);
    assert_follows_recording(&text, s);
    let o = run(s, &Options::default()).unwrap();
    let requests_refused: Vec<_> = o
        .log
        .iter()
        .filter(|(_, r)| matches!(r, Record::Errno { what, .. } if what.starts_with("req_") || *what == "s_ext_ctrls"))
        .collect();
    assert!(requests_refused.is_empty(), "{requests_refused:?}");
    let done = o
        .log
        .iter()
        .filter(|(_, r)| matches!(r, Record::ReqDone { .. }))
        .count();
    assert_eq!(done, queued, "{}", o.log_text());
    for core in ["stateless-field-bug", "request-controls-kept"] {
        let o = run(
            s,
            &Options {
                core: core.into(),
                ..Options::default()
            },
        )
        .unwrap();
        assert!(!o.verdict.is_clean(), "{core} passes the recording");
    }
}
