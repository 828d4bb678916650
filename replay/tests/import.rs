//! An imported field trace replays as it was recorded: every client call
//! the recording shows succeeding succeeds in the replay, and the client
//! dequeues the same buffers in the same order.

use std::path::{Path, PathBuf};

use daedalus_replay::oracle::Record;
use daedalus_replay::scenario::Queue;
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
