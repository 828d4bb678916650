//! Replays every target's committed corpus on stable Rust: the seeds under
//! fuzz/seeds/<target>/ (including past finds) and, for the targets that
//! read them, the scenarios and traces under traces/. A panic here is the
//! same failure libFuzzer would report.

use std::alloc::{GlobalAlloc, Layout, System};

use daedalus_fuzz::corpus::{
    dict_file, files, orderings_seeds, seeds_dir, trace_scenarios, traces_dir,
};
use daedalus_fuzz::{bitstream, daemon_protocol, kmod_messages, orderings, parsers};
use daedalus_replay::oracle::Record;
use daedalus_replay::scenario::Queue;

/// libFuzzer's bursts run with `-rss_limit_mb=2048`, which also refuses
/// any single allocation above it (`-malloc_limit_mb` defaults to the RSS
/// limit) and reports out-of-memory. The stable replay applies the same
/// cap, so an input that makes a target reserve gigabytes fails here too
/// (the process aborts naming the allocation's size).
struct Capped;

/// The cap: libFuzzer's `-malloc_limit_mb` in `run.sh`.
const MALLOC_LIMIT: usize = 2048 << 20;

// SAFETY: every call is forwarded to the system allocator unchanged, or
// refused with a null pointer, which GlobalAlloc permits.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MALLOC_LIMIT {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MALLOC_LIMIT {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MALLOC_LIMIT {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static CAPPED: Capped = Capped;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let seeds = files(&seeds_dir(target));
    assert!(!seeds.is_empty(), "no seeds for {target} under fuzz/seeds/");
    for f in &seeds {
        let data = std::fs::read(f).unwrap();
        body(&data);
    }
    seeds.len()
}

#[test]
fn orderings_corpus() {
    replay("orderings", orderings::fuzz);
}

/// The orderings seeds and dictionary are what fuzz-seeds makes of the
/// traces and of the generator today: one seed a trace, none left over
/// from a trace that is gone. A change of the generator's operations
/// changes their bytes; `cargo run --bin fuzz-seeds` writes them again.
#[test]
fn orderings_seeds_are_the_traces_operations() {
    let want = orderings_seeds();
    for (name, bytes) in &want {
        assert!(!bytes.is_empty(), "traces/ scenario {name}: no operations");
        let seed = seeds_dir("orderings").join(name);
        let got = std::fs::read(&seed).unwrap_or_default();
        assert!(
            &got == bytes,
            "{} is not the operations of the trace {name} (cargo run --bin fuzz-seeds)",
            seed.display()
        );
    }
    for f in files(&seeds_dir("orderings")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            want.iter().any(|(n, _)| *n == name),
            "{}: no trace of that name",
            f.display()
        );
    }
    let dict = std::fs::read_to_string(dict_file("orderings")).unwrap_or_default();
    assert_eq!(
        dict,
        daedalus_replay::seeds::dictionary_text(),
        "fuzz/dict/orderings.dict (cargo run --bin fuzz-seeds)"
    );
}

#[test]
fn kmod_messages_corpus() {
    replay("kmod_messages", kmod_messages::fuzz);
}

#[test]
fn daemon_protocol_corpus() {
    replay("daemon_protocol", daemon_protocol::fuzz);
}

#[test]
fn scenario_text_corpus_and_traces() {
    replay("scenario_text", parsers::scenario_text);
    let traces = trace_scenarios();
    assert!(!traces.is_empty(), "no scenarios under traces/");
    for f in traces {
        parsers::scenario_text(&std::fs::read(f).unwrap());
    }
}

#[test]
fn trace_import_corpus_and_traces() {
    replay("trace_import", parsers::trace_import);
    for f in files(&traces_dir().join("field")) {
        parsers::trace_import(&std::fs::read(f).unwrap());
    }
}

#[test]
fn bitstream_corpus() {
    replay("bitstream", bitstream::fuzz);
}

/// The regression scenarios and the fuzz finds under traces/ are
/// orderings the real job core must survive once fixed: every one of them
/// runs clean through the same check the orderings target applies.
#[test]
fn traces_are_clean_on_the_real_core() {
    for f in trace_scenarios() {
        let s = daedalus_replay::Scenario::load(&f).unwrap();
        daedalus_fuzz::check_scenario(&f.display().to_string(), &s);
    }
}

/// The checks can fail: the field-bug mutant breaks the list invariant on
/// the regression trace that reconstructs it, through the same body the
/// orderings target uses.
#[test]
fn the_field_bug_trace_breaks_the_mutant() {
    let s = daedalus_replay::Scenario::load(&traces_dir().join("regress/field-bug-reorder.scn"))
        .unwrap();
    let opts = daedalus_replay::Options {
        core: "field-bug".into(),
        ..Default::default()
    };
    let v = daedalus_replay::run(&s, &opts).unwrap().verdict;
    assert!(v.violation().is_some(), "the field-bug mutant runs clean");
}

/// Inputs the fuzzer produced turn into scenarios whose references exist:
/// a Setup then a Frame for its first job must reach the job core.
#[test]
fn orderings_ops_reference_existing_jobs() {
    let ops = [
        orderings::Op::Setup { nout: 0, ncap: 0 },
        orderings::Op::Frame {
            ctx: 7,
            job: 9,
            flags: orderings::Flags::Both,
            src: 3,
            bytes: 16,
            generation: 0,
        },
    ];
    let s = orderings::scenario(&ops);
    let text = s.to_text();
    assert!(
        text.contains("frame ctx=1 job=1 flags=src_consumed|has_pixels ts=0 bytes=16"),
        "{text}"
    );
    let out = daedalus_replay::run(&s, &daedalus_replay::Options::default()).unwrap();
    assert!(out.verdict.is_clean());
    assert!(
        out.log.iter().any(|(_, r)| matches!(
            r,
            Record::BufDone { buf, .. } if buf.queue == Queue::Capture && buf.index == 0
        )),
        "the job's CAPTURE buffer was not completed:\n{}",
        out.log_text()
    );
}

/// A RESP_FRAME the module accepts reaches the job core as the same event.
#[test]
fn kmod_messages_dispatches_accepted_frames() {
    use daedalus_proto::{Message, RespFrame};
    let frame = Message::RespFrame {
        cookie: 0x1_0000_0005,
        body: RespFrame {
            ctx_id: kmod_messages::CTX,
            flags: 1,
            timestamp: 0,
            bytesused: 0,
            generation: 1,
            reserved: [0; 2],
        },
        data: Vec::new(),
    }
    .encode()
    .unwrap();
    let mut bad = frame.clone();
    bad[0] ^= 1;
    let s = kmod_messages::scenario(&kmod_messages::join(&[frame, bad]));
    let n = kmod_messages::prelude().len();
    assert_eq!(s.lines.len(), n + 1, "one accepted, one refused");
    assert!(
        s.to_text().contains("job=cookie:0x100000005"),
        "{}",
        s.to_text()
    );
}

/// The raw writes reach the module's dispatcher itself: a dispatcher that
/// keeps a context after refusing a stale RESET_DONE (the `stale-ctx-held`
/// mutant) is caught on such a write, and the real one refuses it cleanly.
#[test]
fn kmod_messages_writes_go_through_the_modules_dispatcher() {
    use daedalus_proto::{Message, RespResetDone};
    use daedalus_replay::{Invariant, Options, Scenario, run_writes};
    let stale = Message::RespResetDone(RespResetDone {
        ctx_id: kmod_messages::CTX,
        generation: 9,
    })
    .encode()
    .unwrap();
    let prelude = Scenario::from_events(kmod_messages::prelude());
    let on = |core: &str| Options {
        core: core.into(),
        ..Options::default()
    };
    let real = run_writes(&prelude, &[&stale], &on("real")).unwrap();
    assert!(real.verdict.is_clean(), "{:?}", real.verdict);
    assert!(
        real.log_text().contains("write ctx=1 -EINVAL"),
        "{}",
        real.log_text()
    );
    let broken = run_writes(&prelude, &[&stale], &on("stale-ctx-held")).unwrap();
    let v = broken.verdict.violation().expect("stale-ctx-held passes");
    assert_eq!(v.invariant, Invariant::Hang);
    assert!(v.detail.contains("still holding ctx 1"), "{}", v.detail);
}
