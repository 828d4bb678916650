//! The harness bites: every scenario under traces/ is clean on the real job
//! core, and each mutant (replay/mutants/*.patch, a lifecycle mistake put
//! back into a copy of the core) fails the regression traces with the
//! invariant it breaks.

use std::path::{Path, PathBuf};

use daedalus_replay::oracle::BufName;
use daedalus_replay::scenario::Queue;
use daedalus_replay::{Invariant, Options, Scenario, core, render, run};

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

fn scenarios(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "scn") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn regress(name: &str) -> Scenario {
    Scenario::load(&traces().join("regress").join(name)).unwrap()
}

fn on(core: &str) -> Options {
    Options {
        core: core.into(),
        ..Options::default()
    }
}

#[test]
fn every_trace_is_clean_on_the_real_core() {
    let all = scenarios(&traces());
    assert!(all.len() >= 8, "regression traces missing: {all:?}");
    for p in all {
        let s = Scenario::load(&p).unwrap();
        let o = run(&s, &on("real")).unwrap();
        assert!(
            o.verdict.is_clean(),
            "{}:\n{}",
            p.display(),
            o.verdict.violation().unwrap()
        );
        assert_eq!(o.events_run, s.lines.len());
    }
}

/// A field recording is a client decoding through the module: each one
/// (its `.scn`, or its `-ctxN.scn` files together) runs at least one
/// decode job, or it records something else than its name says.
#[test]
fn every_field_recording_runs_a_job() {
    let field = traces().join("field");
    let mut recordings = 0;
    for e in std::fs::read_dir(&field).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "trace") {
            continue;
        }
        recordings += 1;
        let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
        let mine: Vec<PathBuf> = scenarios(&field)
            .into_iter()
            .filter(|s| {
                let n = s.file_stem().unwrap().to_str().unwrap();
                n == stem
                    || n.strip_prefix(&format!("{stem}-ctx"))
                        .is_some_and(|id| id.parse::<u32>().is_ok())
            })
            .collect();
        assert!(
            !mine.is_empty(),
            "{}: no scenario imported from it",
            p.display()
        );
        let jobs: usize = mine
            .iter()
            .map(|s| {
                let o = run(&Scenario::load(s).unwrap(), &on("real")).unwrap();
                o.trace_log()
                    .lines()
                    .filter(|l| l.contains("device_run"))
                    .count()
            })
            .sum();
        assert!(jobs > 0, "{}: no decode job ran in {mine:?}", p.display());
    }
    assert!(recordings >= 5, "field recordings missing");
}

/// Every trace is clean with mapped jobs too (the KUnit suite replays
/// each both ways and compares), and mapping is in effect: a 4096x4096
/// picture larger than any inline one is refused without its bytes when
/// the job went inline, taken when it went mapped.
#[test]
fn mapped_jobs_run_every_trace_clean_and_take_pictures_without_bytes() {
    let mapped = Options {
        mapped: true,
        ..Options::default()
    };
    for p in scenarios(&traces()) {
        let o = run(&Scenario::load(&p).unwrap(), &mapped).unwrap();
        assert!(
            o.verdict.is_clean(),
            "{} mapped:\n{}",
            p.display(),
            o.verdict.violation().unwrap()
        );
    }
    let s = Scenario::parse(
        "daedalus-scenario v1
attach
open ctx=1
reqbufs ctx=1 q=out count=1
qbuf ctx=1 q=out index=0 ts=0 size=100
streamon ctx=1 q=out
info ctx=1 width=4096 height=4096 dpb=1
reqbufs ctx=1 q=cap count=2
qbuf ctx=1 q=cap index=0
streamon ctx=1 q=cap
frame ctx=1 job=1 flags=src_consumed|has_pixels ts=0 bytes=20000000
close ctx=1
",
    )
    .unwrap();
    let inline = run(&s, &on("real")).unwrap();
    let zero_copy = run(&s, &mapped).unwrap();
    assert!(inline.verdict.is_clean() && zero_copy.verdict.is_clean());
    assert!(
        inline.trace_log().contains("reject "),
        "{}",
        inline.trace_log()
    );
    assert!(
        !zero_copy.trace_log().contains("reject "),
        "{}",
        zero_copy.trace_log()
    );
    assert!(
        zero_copy
            .trace_log()
            .contains("buf_done ctx=1 cookie=0x100000000 ctx 1 CAPTURE #0 DONE"),
        "{}",
        zero_copy.trace_log()
    );
}

#[test]
fn every_mutant_patch_still_applies() {
    assert!(
        core::BROKEN_MUTANTS.is_empty(),
        "{:?}",
        core::BROKEN_MUTANTS
    );
    let v = core::variants();
    for m in [
        "field-bug",
        "double-job-finish",
        "leak-parked",
        "paired-timestamp",
        "stale-ctx-held",
        "detach-keeps-running",
        "error-reply-unfinished",
        "stale-generation",
        "cookie-reuse",
        "dst-removed-as-src",
        "finish-on-picture",
        "queue-no-coalesce",
        "eos-after-last",
        "stateless-field-bug",
        "request-controls-kept",
        "request-before-picture",
    ] {
        assert!(v.contains(&m), "{m} not built: {v:?}");
    }
}

fn violation(core: &str, scenario: &str) -> daedalus_replay::Violation {
    let o = run(&regress(scenario), &on(core)).unwrap();
    match o.verdict.violation() {
        Some(v) => v.clone(),
        None => panic!("{core} passes {scenario}"),
    }
}

/// CAPTURE buffer `index` of context 1.
fn capture_of_ctx1(index: u32) -> BufName {
    BufName {
        ctx: 1,
        queue: Queue::Capture,
        index,
    }
}

#[test]
fn field_bug_is_list_del_corruption_on_the_parked_capture_buffer() {
    let v = violation("field-bug", "field-bug-reorder.scn");
    assert_eq!(v.invariant, Invariant::ListCorruption);
    assert_eq!(v.buffer, Some(capture_of_ctx1(0)));
    assert!(v.detail.starts_with("list_del corruption"), "{}", v.detail);
    assert!(v.detail.contains("LIST_POISON1"), "{}", v.detail);
    // The late HAS_PIXELS breaks it; the second device_run set it up.
    assert!(
        v.broke
            .text
            .starts_with("frame ctx=1 job=2 flags=has_pixels"),
        "{}",
        v.broke
    );
    let (setup, what) = v.setup.clone().unwrap();
    assert!(
        setup
            .text
            .starts_with("frame ctx=1 job=1 flags=src_consumed"),
        "{setup}"
    );
    assert!(what.contains("still holds it"), "{what}");
    insta::assert_snapshot!("field_bug_diagnosis", v.to_string());
}

#[test]
fn field_bug_fails_every_regression_trace() {
    for p in scenarios(&traces().join("regress")) {
        let o = run(&Scenario::load(&p).unwrap(), &on("field-bug")).unwrap();
        assert!(!o.verdict.is_clean(), "field-bug passes {}", p.display());
    }
}

#[test]
fn double_job_finish_is_a_job_finish_imbalance() {
    let v = violation("double-job-finish", "field-bug-reorder.scn");
    assert_eq!(v.invariant, Invariant::JobFinishImbalance);
    assert!(v.broke.text.contains("flags=has_pixels"), "{}", v.broke);
    assert!(v.detail.contains("second job_finish"), "{}", v.detail);
}

#[test]
fn leaked_parked_buffer_is_left_active_at_streamoff() {
    let v = violation("leak-parked", "streamoff-parked.scn");
    assert_eq!(v.invariant, Invariant::LeftActiveAtStreamoff);
    assert_eq!(v.buffer, Some(capture_of_ctx1(0)));
    assert_eq!(v.broke.text, "streamoff ctx=1 q=cap");
    assert!(v.setup.unwrap().1.contains("parked"));
}

#[test]
fn context_held_past_a_stale_reply_is_a_hang() {
    // The mutant is in the dispatcher, not the job core: daemon messages
    // go through the module's own dispatch code.
    let v = violation("stale-ctx-held", "stale-cookie.scn");
    assert_eq!(v.invariant, Invariant::Hang);
    assert_eq!(v.broke.text, "reset_done ctx=1 gen=7");
    assert!(v.detail.contains("still holding ctx 1"), "{}", v.detail);
    assert!(
        run(&regress("stale-cookie.scn"), &on("real"))
            .unwrap()
            .verdict
            .is_clean()
    );
}

#[test]
fn paired_timestamp_is_a_wrong_timestamp() {
    let v = violation("paired-timestamp", "field-bug-reorder.scn");
    assert_eq!(v.invariant, Invariant::WrongTimestamp);
    // Job 2 was paired with the P frame (66 ms) but carries the B picture.
    assert_eq!(v.buffer, Some(capture_of_ctx1(1)));
    assert!(
        v.detail.contains("ts=66000000") && v.detail.contains("ts=33000000"),
        "{}",
        v.detail
    );
}

#[test]
fn outcome_log_of_the_field_scenario_on_the_real_core() {
    let o = run(&regress("field-bug-reorder.scn"), &on("real")).unwrap();
    insta::assert_snapshot!("field_bug_reorder_log", o.log_text());
}

#[test]
fn drain_ends_with_last_eos_and_epipe() {
    let o = run(&regress("drain.scn"), &on("real")).unwrap();
    assert!(o.verdict.is_clean());
    let log = o.log_text();
    let last = log.find("LAST").expect("a LAST buffer");
    let eos = log.find("event EOS").expect("EOS");
    let epipe = log.find("-EPIPE").expect("EPIPE");
    assert!(eos < epipe && last < epipe, "{log}");
    insta::assert_snapshot!("drain_log", log);
}

#[test]
fn stale_replies_are_all_refused_and_counted() {
    let o = run(&regress("stale-cookie.scn"), &on("real")).unwrap();
    assert!(o.verdict.is_clean());
    let rejects: Vec<String> = o
        .log
        .iter()
        .filter(|(_, r)| matches!(r, daedalus_replay::oracle::Record::Reject { .. }))
        .map(|(_, r)| r.to_string())
        .collect();
    insta::assert_snapshot!("stale_cookie_rejects", rejects.join("\n"));
}

#[test]
fn minimizer_keeps_the_invariant_and_shrinks() {
    let s = regress("field-bug-reorder.scn");
    let small = daedalus_replay::minimize::minimize(
        &s,
        Invariant::ListCorruption,
        &on("field-bug"),
        |_| {},
    );
    assert!(
        small.lines.len() < s.lines.len() / 2,
        "{} -> {}",
        s.lines.len(),
        small.lines.len()
    );
    let v = run(&small, &on("field-bug")).unwrap().verdict;
    assert_eq!(v.violation().unwrap().invariant, Invariant::ListCorruption);
    assert!(run(&small, &on("real")).unwrap().verdict.is_clean());
    insta::assert_snapshot!("field_bug_minimized", small.to_text());
}

#[test]
fn imported_field_trace_reproduces_the_run_and_the_bug() {
    let s = regress("field-bug-reorder.scn");
    let o = run(&s, &on("real")).unwrap();
    let text = render::tracefs(&o);
    let imported = daedalus_replay::import::import_text(Path::new("field.trace"), &text).unwrap();
    assert_eq!(imported.scenarios.len(), 1);
    let (ctx, again) = &imported.scenarios[0];
    assert_eq!(*ctx, 1);
    let o2 = run(again, &on("real")).unwrap();
    assert!(o2.verdict.is_clean());
    let jobs = |o: &daedalus_replay::Outcome| -> Vec<String> {
        o.log
            .iter()
            .filter(|(_, r)| {
                use daedalus_replay::oracle::Record::*;
                matches!(
                    r,
                    DeviceRun { .. }
                        | Claim { .. }
                        | Park { .. }
                        | BufDone { .. }
                        | JobFinish { .. }
                )
            })
            .map(|(_, r)| r.to_string())
            .collect()
    };
    assert_eq!(jobs(&o), jobs(&o2));
    let v = run(again, &on("field-bug")).unwrap().verdict;
    assert_eq!(v.violation().unwrap().invariant, Invariant::ListCorruption);
}

#[test]
fn import_errors_name_file_and_line() {
    let bad = "  d-1 [000] ..... 1.0: daedalus_device_run: ctx=1 cookie=zz src=0 dst=0 src_ts=0\n";
    let e = daedalus_replay::import::import_text(Path::new("t.txt"), bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.txt:1: daedalus_device_run: field `cookie` is not a number: `zz`"
    );
    let e = daedalus_replay::import::import_text(Path::new("t.txt"), "garbage\n").unwrap_err();
    assert!(e.to_string().contains("no trace events"), "{e}");
    let unknown = "  d-1 [000] ..... 1.0: sched_switch: prev=a next=b\n  d-1 [000] ..... 1.1: daedalus_stream: ctx=1 queue=OUTPUT on\n";
    let i = daedalus_replay::import::import_text(Path::new("t.txt"), unknown).unwrap();
    assert_eq!((i.used, i.skipped), (1, 1));
}

#[test]
fn cli_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_daedalus-replay");
    let dir = std::env::temp_dir().join(format!("daedalus-replay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.scn");
    std::fs::write(
        &garbage,
        "daedalus-scenario v1\nqbuf ctx=1 q=sideways index=0\n",
    )
    .unwrap();
    let check = |args: &[&str]| {
        std::process::Command::new(bin)
            .arg("check")
            .args(args)
            .output()
            .unwrap()
    };
    let clean = check(&[traces().join("regress").to_str().unwrap()]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let bad = check(&[
        "--core",
        "field-bug",
        traces()
            .join("regress/field-bug-reorder.scn")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("list-corruption on ctx 1 CAPTURE #0"));
    let unusable = check(&[garbage.to_str().unwrap()]);
    assert_eq!(unusable.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unusable.stdout)
            .contains("garbage.scn:line 2:14: queue must be `out` or `cap`")
    );
    let matrix = check(&["--mutants", traces().join("regress").to_str().unwrap()]);
    assert_eq!(matrix.status.code(), Some(0));
    let text = String::from_utf8_lossy(&matrix.stdout);
    let mutants = core::variants().len() - 1;
    assert!(
        text.contains(&format!("every mutant ({mutants}) is caught")),
        "{text}"
    );
    // The field bug's diagnosis names the kernel's report and the parked
    // CAPTURE buffer, on the regression trace that reconstructs it.
    assert!(
        text.lines().any(|l| l.starts_with(
            "field-bug in field-bug-reorder.scn: list-corruption on ctx 1 CAPTURE #0: list_del corruption"
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("field-bug-reorder.scn") && l.contains("list-corruption")),
        "{text}"
    );
    let missing = check(&[dir.join("nope").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_log_is_the_tracepoint_subset() {
    let o = run(&regress("watchdog.scn"), &on("real")).unwrap();
    let t = o.trace_log();
    assert!(t.lines().all(|l| {
        [
            "device_run",
            "claim",
            "park",
            "buf_done",
            "job_finish",
            "reject",
            "event",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    }));
    assert!(
        t.contains("job_finish ctx=1 cookie=0x100000000 expired"),
        "{t}"
    );
    insta::assert_snapshot!("watchdog_trace_log", t);
}

#[test]
fn import_reads_trace_cmd_report_and_rejects_truncated_lines() {
    let report = "\
CPU 0 is empty
cpus=2
       daedalusd-812   [001]  5121.004101: daedalus_daemon:      attach pid=812 version=0x100
   ffmpeg-900   [000]  5121.010000: vb2_v4l2_qbuf:        owner = 0xffff888003a1c000, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 3000, timestamp = 40000000
   ffmpeg-900   [000]  5121.010001: vb2_v4l2_qbuf:        owner = 0xffff888003a1c000, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
   ffmpeg-900   [000]  5121.010100: daedalus_stream:      ctx=3 queue=OUTPUT on
   ffmpeg-900   [000]  5121.010200: daedalus_stream:      ctx=3 queue=CAPTURE on
   ffmpeg-900   [000]  5121.010300: daedalus_device_run:  ctx=3 cookie=0x100000000 src=0 dst=0 src_ts=40000000
   ffmpeg-900   [000]  5121.010301: daedalus_claim:       ctx=3 cookie=0x100000000 queue=OUTPUT index=0
   ffmpeg-900   [000]  5121.010302: daedalus_claim:       ctx=3 cookie=0x100000000 queue=CAPTURE index=0
       daedalusd-812   [001]  5121.020000: daedalus_msg_in:      type=0x8002 cookie=0x100000000 ctx=3 flags=0x3 len=56
       daedalusd-812   [001]  5121.020001: daedalus_buf_done:    ctx=3 cookie=0x100000000 queue=CAPTURE index=0 state=DONE ts=40000000
       daedalusd-812   [001]  5121.020002: sched_wakeup:         comm=ffmpeg pid=900
";
    let i = daedalus_replay::import::import_text(Path::new("report.txt"), report).unwrap();
    assert_eq!(i.skipped, 1);
    let (ctx, s) = &i.scenarios[0];
    assert_eq!(*ctx, 3);
    insta::assert_snapshot!("imported_trace_cmd_report", s.to_text());
    let o = run(s, &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{:?}", o.verdict);
    assert!(
        o.log_text()
            .contains("buf_done ctx=1 cookie=0x100000000 ctx 1 CAPTURE #0 DONE ts=40000000"),
        "{}",
        o.log_text()
    );

    let truncated = "   ffmpeg-900   [000]  5121.010300: daedalus_device_run:  ctx=3 cookie=0x100000000 src=0\n";
    let e = daedalus_replay::import::import_text(Path::new("cut.txt"), truncated).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cut.txt:1: daedalus_device_run: missing field `dst`"
    );
    let huge = "   ffmpeg-900   [000]  5121.010300: daedalus_device_run:  ctx=3 cookie=0x1 src=0 dst=4000000000 src_ts=0\n";
    let e = daedalus_replay::import::import_text(Path::new("h.txt"), huge).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

// The protocol's promises over time: each new oracle fires at the moment
// its rule must hold, on the mutant that breaks it, and names the job.

fn field(name: &str) -> Scenario {
    Scenario::load(&traces().join("field").join(name)).unwrap()
}

#[test]
fn a_detach_that_leaves_the_running_job_alive_is_caught_at_the_detach() {
    let v = violation("detach-keeps-running", "daemon-death.scn");
    assert_eq!(v.invariant, Invariant::ScopeNotEnded);
    assert_eq!(v.broke.text, "detach");
    assert_eq!(v.job, Some((1, 0x1_0000_0001)));
    assert!(v.detail.contains("still running"), "{}", v.detail);
    insta::assert_snapshot!("detach_keeps_running_diagnosis", v.to_string());
}

#[test]
fn an_error_reply_that_does_not_finish_the_job_is_caught_at_the_reply() {
    let v = violation("error-reply-unfinished", "error-reply.scn");
    assert_eq!(v.invariant, Invariant::ConsumedNotFinished);
    assert!(
        v.broke
            .text
            .starts_with("frame ctx=1 job=1 flags=src_consumed|error"),
        "{}",
        v.broke
    );
    assert_eq!(v.job, Some((1, 0x1_0000_0000)));
    insta::assert_snapshot!("error_reply_unfinished_diagnosis", v.to_string());
}

#[test]
fn a_reply_of_an_older_generation_applied_is_caught() {
    let v = violation("stale-generation", "stale-generation.scn");
    assert_eq!(v.invariant, Invariant::StaleGenerationApplied);
    assert!(v.broke.text.ends_with("gen=1"), "{}", v.broke);
    assert_eq!(v.job, Some((1, 0x1_0000_0001)));
    insta::assert_snapshot!("stale_generation_diagnosis", v.to_string());
}

/// cookie-reuse on `trace`: job 0x100000000 of ctx 1 reissued, set up by
/// the first job's device_run at line `setup_line` (`setup_text`).
fn cookie_reissued(trace: &str, setup_line: u32, setup_text: &str) -> daedalus_replay::Violation {
    let v = violation("cookie-reuse", trace);
    assert_eq!(v.invariant, Invariant::CookieReissued);
    assert_eq!(v.job, Some((1, 0x1_0000_0000)));
    let (setup, _) = v.setup.clone().unwrap();
    assert_eq!((setup.line, setup.text.as_str()), (setup_line, setup_text));
    v
}

#[test]
fn a_cookie_issued_twice_is_caught_when_the_slot_wraps() {
    // Set up by the first job's device_run, 256 jobs earlier.
    let v = cookie_reissued("slot-wrap.scn", 13, "qbuf ctx=1 q=cap index=0");
    insta::assert_snapshot!("cookie_reuse_diagnosis", v.to_string());
}

#[test]
fn a_cookie_issued_twice_is_caught_at_the_third_job_of_a_two_slot_table() {
    let v = cookie_reissued(
        "small-table-wrap.scn",
        20,
        "qbuf ctx=1 q=out index=0 ts=33000000 size=900",
    );
    assert!(
        v.to_string()
            .contains("broke:   line 30 `qbuf ctx=1 q=out index=0 ts=99000000 size=900`"),
        "{v}"
    );
}

#[test]
fn a_session_beyond_the_limit_is_caught_at_its_session_open() {
    for (trace, line) in [("small-table-wrap.scn", 17), ("sessions.scn", 0)] {
        let v = violation("session-beyond-limit", trace);
        assert_eq!(v.invariant, Invariant::ProtocolRules, "{trace}: {v}");
        let text = v.to_string();
        assert!(text.contains("the module has room for"), "{trace}: {v}");
        if line != 0 {
            assert!(
                text.contains(&format!("broke:   line {line} `streamon ctx=2 q=out`")),
                "{v}"
            );
        }
    }
}

#[test]
fn a_shrunk_device_gives_its_limits_and_refuses_the_stale_cookie() {
    let o = run(&regress("small-table-wrap.scn"), &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{:?}", o.verdict);
    let io = o.io_log();
    for want in [
        "13: ret=-22", // QBUF of CAPTURE #2: REQBUFS gave two
        "17: ret=-16", // the second context's session
        "31: ret=-22", // the first job's cookie, after the wrap
    ] {
        assert!(io.lines().any(|l| l == want), "no `{want}` in\n{io}");
    }
    let log: Vec<String> = o.log.iter().map(|(_, r)| r.to_string()).collect();
    assert!(
        log.iter()
            .any(|l| l == "device_run ctx=1 cookie=0x200000000 src=0 dst=0 ts=99000000")
    );
    assert!(
        log.iter()
            .any(|l| l == "reject stale_cookie type=0x8002 cookie=0x100000000")
    );
}

#[test]
fn a_capture_buffer_claimed_with_the_output_helper_is_caught_by_num_rdy() {
    let v = violation("dst-removed-as-src", "field-bug-reorder.scn");
    assert_eq!(v.invariant, Invariant::NumRdy);
    assert_eq!(v.buffer, Some(capture_of_ctx1(0)));
    assert!(
        v.detail
            .contains("taken off its list with the OUTPUT queue's v4l2_m2m_buf_remove_by_buf"),
        "{}",
        v.detail
    );
    insta::assert_snapshot!("dst_removed_as_src_diagnosis", v.to_string());
}

#[test]
fn a_job_finish_on_every_picture_is_a_livelock_not_an_abort() {
    let s = field("ffmpeg-tiny-decode.scn");
    let o = run(&s, &on("finish-on-picture")).unwrap();
    let v = o.verdict.violation().expect("finish-on-picture runs clean");
    assert_eq!(v.invariant, Invariant::Livelock);
    assert!(v.detail.contains("would spin forever"), "{}", v.detail);
    assert!(o.events_run < s.lines.len());
    insta::assert_snapshot!("finish_on_picture_livelock", v.to_string());
}

#[test]
fn a_drain_s_eos_raised_after_its_last_buffer_is_caught_at_the_buffer() {
    // The real core raises EOS first: a client woken by the LAST buffer
    // already has the event pending.
    let s = regress("drain.scn");
    assert!(
        run(&s, &Options::default())
            .unwrap()
            .verdict
            .violation()
            .is_none()
    );
    let v = violation("eos-after-last", "drain.scn");
    assert_eq!(v.invariant, Invariant::DrainRules);
    assert_eq!(v.buffer, Some(capture_of_ctx1(2)));
    assert!(
        v.detail.contains("no V4L2_EVENT_EOS queued before it"),
        "{}",
        v.detail
    );
    insta::assert_snapshot!("eos_after_last_diagnosis", v.to_string());
}

#[test]
fn a_session_error_for_a_queued_context_does_not_hold_the_device() {
    // The context was on the m2m job queue when its session failed: its
    // run must not send REQ_DECODE for the dropped session.
    let o = run(&regress("session-error-queued.scn"), &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    let log = o.log_text();
    assert!(!log.contains("request DECODE ctx=2"), "{log}");
    assert!(log.contains("job_finish ctx=2 cookie=0x0 abort"), "{log}");
}

/// A request queue that coalesces nothing (kmod/daedalus_outq.c, compiled
/// per mutant like the job core) grows with a client's STREAMON/STREAMOFF
/// loop against a daemon that stopped reading: caught the moment the 138th
/// unread request of the context is queued, with the daemon's stop as the
/// setting up; the real queue holds three.
#[test]
fn a_queue_that_coalesces_nothing_breaks_its_bound_while_the_daemon_is_stopped() {
    let v = violation("queue-no-coalesce", "queue-stopped-daemon.scn");
    assert_eq!(v.invariant, Invariant::QueueBound);
    assert_eq!(v.broke.text, "streamoff ctx=1 q=cap");
    assert_eq!(v.setup.as_ref().unwrap().0.text, "daemon_stop");
    insta::assert_snapshot!("queue_no_coalesce_diagnosis", v.to_string());
    let o = run(&regress("queue-stopped-daemon.scn"), &on("real")).unwrap();
    assert!(o.verdict.violation().is_none());
}

/// Mistakes put back into the decoder front (kmod/daedalus_front.c,
/// compiled per mutant like the job core) break the decoder's contract with
/// its daemon, caught as the request goes out or as the event that had to
/// send it ends: a seek without REQ_RESET ...
#[test]
fn a_seek_without_reset_is_caught_at_the_streamoff() {
    let v = violation("seek-without-reset", "drain.scn");
    assert_eq!(v.invariant, Invariant::ProtocolRules);
    assert_eq!(v.broke.text, "streamoff ctx=1 q=out");
    assert_eq!(v.setup.as_ref().unwrap().0.text, "streamon ctx=1 q=out");
    insta::assert_snapshot!("seek_without_reset_diagnosis", v.to_string());
}

/// ... and a drain taken for flushed although the core kept REQ_FLUSH
/// back (a source still queued): its capture-only job goes out first.
#[test]
fn a_drain_flushed_without_req_flush_is_caught_at_the_capture_only_job() {
    let v = violation("drain-flushed-unsent", "drain-through-format-change.scn");
    assert_eq!(v.invariant, Invariant::ProtocolRules);
    assert!(v.detail.contains("before REQ_FLUSH"), "{}", v.detail);
    assert_eq!(v.setup.as_ref().unwrap().0.text, "stop ctx=1");
    insta::assert_snapshot!("drain_flushed_unsent_diagnosis", v.to_string());
}

/// A STREAM_INFO beyond RESP_HELLO's limits is refused (-EINVAL, reject
/// `field`) and changes nothing: the one announced at STREAMON stands, so
/// the later STREAM_INFO that matches it raises no event.
#[test]
fn stream_info_beyond_the_daemons_limits_is_refused_and_changes_nothing() {
    let s = regress("stream-info-beyond-hello.scn");
    let o = run(&s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean(), "{:?}", o.verdict);
    let trace = o.trace_log();
    assert_eq!(
        trace.matches("reject field type=0x8003").count(),
        2,
        "{trace}"
    );
    assert_eq!(
        trace.matches("event SOURCE_CHANGE").count(),
        1,
        "only the format announced at STREAMON: {trace}"
    );
    let io = o.io_log();
    assert_eq!(io.matches("ret=-22").count(), 2, "{io}");
    assert!(io.contains("rejected_field=2"), "{io}");
    assert!(trace.contains("buf_done ctx=1 cookie=0x100000000 ctx 1 CAPTURE #0 DONE"));
}

/// The module's codec (daedalus_msg.c, compiled unchanged) refuses a
/// RESP_HELLO whose largest coded picture could not travel in one
/// RESP_FRAME, and takes daedalusd's 8192x4352.
#[test]
fn hello_whose_largest_picture_fits_no_frame_is_refused() {
    let hello = |w: u32, h: u32| {
        let mut m = b"DDLS".to_vec();
        m.extend(1u16.to_le_bytes());
        m.extend(0x8001u16.to_le_bytes());
        m.extend(32u32.to_le_bytes());
        m.extend([0; 12]);
        for v in [1u32, 0x10000, 1 << 1, 1 << 1, w, h, 0, 0] {
            m.extend(v.to_le_bytes());
        }
        core::parse_message(&m)
    };
    assert!(hello(8192, 4352).is_ok());
    // 8192x5456 coded is 67,043,328 bytes of NV12: it fits 64 MiB less
    // RESP_FRAME's 32-byte body; 5457 rounds up to 5472 rows and does not.
    assert!(hello(8192, 5456).is_ok());
    assert_eq!(hello(8192, 5457).map(|p| p.ty), Err((22, "field")));
    assert_eq!(hello(16384, 16384).map(|p| p.ty), Err((22, "field")));
}
