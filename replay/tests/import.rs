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
