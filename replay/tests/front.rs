//! The executor's model of the V4L2 front (kmod/daedalus_vdec.c) and of
//! vb2's timeval boundary, each pinned against what the module does.

use std::path::Path;

use daedalus_replay::{Options, Scenario, Verdict, run};

const HEAD: &str = "daedalus-scenario v1\n";

fn outcome(body: &str) -> String {
    let s = Scenario::parse(&format!("{HEAD}{body}")).unwrap();
    let o = run(&s, &Options::default()).unwrap();
    assert!(matches!(o.verdict, Verdict::Clean), "{:?}", o.verdict);
    o.log_text()
}

fn lines<'a>(log: &'a str, prefix: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// One context streaming with two sources and two dsts.
const STREAMING: &str = "\
attach
open ctx=1
reqbufs ctx=1 q=out count=2
reqbufs ctx=1 q=cap count=2
qbuf ctx=1 q=out index=0 ts=1500 size=100
qbuf ctx=1 q=out index=1 ts=33000999 size=100
qbuf ctx=1 q=cap index=0
qbuf ctx=1 q=cap index=1
streamon ctx=1 q=out
streamon ctx=1 q=cap
";

#[test]
fn qbuf_keeps_whole_microseconds_like_the_timeval() {
    let log = outcome(&format!(
        "{STREAMING}frame ctx=1 job=1 flags=src_consumed|has_pixels ts=1000 bytes=8
frame ctx=1 job=2 flags=src_consumed|has_pixels ts=2999 bytes=8
dqbuf ctx=1 q=cap
dqbuf ctx=1 q=cap
dqbuf ctx=1 q=out
"
    ));
    let runs = lines(&log, "device_run");
    assert_eq!(runs.len(), 2, "{log}");
    // The driver sees the source's timestamp as the client's timeval
    // carried it, in REQ_DECODE too.
    assert!(runs[0].ends_with(" ts=1000"), "{log}");
    assert!(runs[1].ends_with(" ts=33000000"), "{log}");
    assert_eq!(
        lines(&log, "request DECODE")
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["arg=1000", "arg=33000000"],
        "{log}"
    );
    // The daemon's nanoseconds reach the CAPTURE buffer unchanged (no
    // timeval on that path) and the client reads them in microseconds.
    assert!(
        log.contains("buf_done ctx=1 cookie=0x100000001 ctx 1 CAPTURE #1 DONE ts=2999"),
        "{log}"
    );
    let dq = lines(&log, "dqbuf ctx=1 q=cap");
    assert!(dq[0].ends_with(" ts=1000"), "{log}");
    assert!(dq[1].ends_with(" ts=2000"), "{log}");
    assert!(
        lines(&log, "dqbuf ctx=1 q=out")[0].ends_with(" ts=1000"),
        "{log}"
    );
}

#[test]
fn close_in_flight_sees_the_5ns_source_as_0_like_the_kernel() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/regress/close-in-flight.scn");
    let o = run(&Scenario::load(&file).unwrap(), &Options::default()).unwrap();
    let t = o.trace_log();
    let ctx2: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("device_run ctx=2"))
        .collect();
    assert_eq!(ctx2.len(), 1, "{t}");
    assert!(ctx2[0].ends_with(" ts=0"), "{t}");
}

#[test]
fn close_sends_session_close_and_no_reset() {
    let log = outcome(&format!(
        "{STREAMING}frame ctx=1 job=1 flags=src_consumed
close ctx=1
"
    ));
    assert_eq!(lines(&log, "request RESET"), Vec::<&str>::new(), "{log}");
    assert_eq!(lines(&log, "request SESSION_CLOSE").len(), 1, "{log}");
}

#[test]
fn streamoff_of_an_open_context_still_resets() {
    let log = outcome(&format!("{STREAMING}streamoff ctx=1 q=out\nclose ctx=1\n"));
    assert_eq!(lines(&log, "request RESET").len(), 1, "{log}");
    assert_eq!(lines(&log, "request SESSION_CLOSE").len(), 1, "{log}");
}

#[test]
fn reset_done_answers_any_reset_sent_so_far() {
    // Two seeks: REQ_RESET generation 2, then 3. The daemon answers the
    // first late: accepted. 4 was never sent, 0 never exists.
    let log = outcome(&format!(
        "{STREAMING}streamoff ctx=1 q=out
streamon ctx=1 q=out
streamoff ctx=1 q=out
reset_done ctx=1 gen=2
reset_done ctx=1 gen=3
reset_done ctx=1 gen=1
reset_done ctx=1 gen=4
reset_done ctx=1 gen=0
"
    ));
    assert_eq!(
        lines(&log, "request RESET")
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["arg=2", "arg=3"],
        "{log}"
    );
    let refused = lines(&log, "reject");
    assert_eq!(refused.len(), 2, "{log}");
    assert!(
        refused.iter().all(|l| l.contains("stale_generation")),
        "{log}"
    );
}

#[test]
fn capture_streamoff_keeps_the_stream() {
    // Mid-stream, after a resolution change's LAST and after a drain's
    // LAST: CAPTURE alone goes off, the daemon hears REQ_CAPTURE_OFF in
    // the same generation, never REQ_RESET (dev-decoder.rst: Decoding ->
    // Stopped -> Decoding keeps the decoder's state).
    for body in [
        "streamoff ctx=1 q=cap\n",
        "frame ctx=1 job=1 flags=src_consumed|has_pixels|last ts=1000\ndqbuf ctx=1 q=cap\nstreamoff ctx=1 q=cap\n",
        "frame ctx=1 job=1 flags=src_consumed\nframe ctx=1 job=2 flags=src_consumed\nstop ctx=1\n\
         frame ctx=1 job=1 flags=has_pixels|last ts=1000\nstreamoff ctx=1 q=cap\n",
    ] {
        let log = outcome(&format!("{STREAMING}{body}"));
        assert_eq!(lines(&log, "request RESET"), Vec::<&str>::new(), "{log}");
        assert_eq!(
            lines(&log, "request CAPTURE_OFF")
                .iter()
                .map(|l| l.rsplit(' ').next().unwrap())
                .collect::<Vec<_>>(),
            ["arg=1"],
            "{log}"
        );
    }
    // CAPTURE comes back: the source still queued runs in generation 1.
    // The running job was ended at the STREAMOFF (its source back with
    // ERROR: the daemon has its bytes) and both dead cookies are refused.
    let log = outcome(
        "attach
open ctx=1
reqbufs ctx=1 q=out count=3
reqbufs ctx=1 q=cap count=2
qbuf ctx=1 q=out index=0 ts=1000 size=100
qbuf ctx=1 q=out index=1 ts=2000 size=100
qbuf ctx=1 q=out index=2 ts=3000 size=100
qbuf ctx=1 q=cap index=0
qbuf ctx=1 q=cap index=1
streamon ctx=1 q=out
streamon ctx=1 q=cap
frame ctx=1 job=1 flags=src_consumed
streamoff ctx=1 q=cap
frame ctx=1 job=1 flags=has_pixels ts=1000 bytes=8
frame ctx=1 job=2 flags=src_consumed
qbuf ctx=1 q=cap index=0
qbuf ctx=1 q=cap index=1
streamon ctx=1 q=cap
frame ctx=1 job=3 flags=src_consumed|has_pixels ts=1000 bytes=8 gen=1
dqbuf ctx=1 q=cap
",
    );
    assert_eq!(lines(&log, "request RESET"), Vec::<&str>::new(), "{log}");
    let refused = lines(&log, "reject");
    assert_eq!(refused.len(), 2, "{log}");
    assert!(refused.iter().all(|l| l.contains("stale_cookie")), "{log}");
    assert_eq!(lines(&log, "device_run").len(), 3, "{log}");
    assert_eq!(lines(&log, "dqbuf ctx=1 q=cap index=").len(), 1, "{log}");
}

#[test]
fn capture_only_job_is_finished_when_sent() {
    let log = outcome(&format!(
        "{STREAMING}frame ctx=1 job=1 flags=src_consumed
frame ctx=1 job=2 flags=src_consumed
stop ctx=1
frame ctx=1 job=1 flags=has_pixels ts=1000 bytes=8
dqbuf ctx=1 q=cap
qbuf ctx=1 q=cap index=0
"
    ));
    // Job 3 carries no source and is finished at once: the device is free
    // while its dst stays parked in the daemon.
    let runs = lines(&log, "device_run");
    assert_eq!(runs.len(), 3, "{log}");
    assert!(
        runs[2].contains(" src=-1 ") || runs[2].contains("src=none"),
        "{log}"
    );
    let cookie = runs[2].split(' ').nth(2).unwrap();
    let after: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.starts_with("device_run") || !l.contains(cookie))
        .collect();
    assert!(
        after
            .iter()
            .any(|l| l.starts_with("job_finish") && l.contains(cookie) && l.ends_with("no_src")),
        "{log}"
    );
}

#[test]
fn streamon_hands_queued_buffers_over_in_qbuf_order() {
    // vb2_start_streaming walks q->queued_list: QBUF order, not index
    // order. The first job takes OUTPUT #1, queued first.
    let log = outcome(
        "attach
open ctx=1
reqbufs ctx=1 q=out count=2
reqbufs ctx=1 q=cap count=2
qbuf ctx=1 q=out index=1 ts=2000 size=100
qbuf ctx=1 q=out index=0 ts=1000 size=100
qbuf ctx=1 q=cap index=1
qbuf ctx=1 q=cap index=0
streamon ctx=1 q=out
streamon ctx=1 q=cap
",
    );
    let runs = lines(&log, "device_run");
    assert!(runs[0].contains(" src=1 dst=1 "), "{log}");
}

#[test]
fn stream_info_raises_source_change_only_for_a_change() {
    let events = |log: &str| lines(log, "event SOURCE_CHANGE").len();
    // 1920x1080 is the format announced at STREAMON(OUTPUT): confirmed.
    let base = format!("{STREAMING}info ctx=1 width=1920 height=1080 dpb=1\n");
    assert_eq!(events(&outcome(&base)), 1, "{}", outcome(&base));
    // The same format again after a seek: nothing changed for the client.
    let log = outcome(&format!(
        "{base}streamoff ctx=1 q=out\nstreamon ctx=1 q=out\ninfo ctx=1 width=1920 height=1080 dpb=1\n"
    ));
    assert_eq!(events(&log), 1, "{log}");
    // A new size: an event.
    let log = outcome(&format!("{base}info ctx=1 width=320 height=240 dpb=1\n"));
    assert_eq!(events(&log), 2, "{log}");
}

#[test]
fn stream_info_is_a_change_when_a_known_dpb_grows_or_the_size_differs() {
    let events = |log: &str| lines(log, "event SOURCE_CHANGE").len();
    let base = format!("{STREAMING}info ctx=1 width=1920 height=1080 dpb=2\n");
    assert_eq!(events(&outcome(&base)), 1, "{}", outcome(&base));
    // The same size with a larger DPB needs more CAPTURE buffers.
    let log = outcome(&format!("{base}info ctx=1 width=1920 height=1080 dpb=4\n"));
    assert_eq!(events(&log), 2, "{log}");
    // A smaller one does not.
    let log = outcome(&format!("{base}info ctx=1 width=1920 height=1080 dpb=1\n"));
    assert_eq!(events(&log), 1, "{log}");
}

#[test]
fn capture_set_up_before_output_streams_hears_only_of_a_change() {
    let events = |log: &str| lines(log, "event SOURCE_CHANGE").len();
    // CAPTURE streams first, for the format S_FMT(OUTPUT) implies (the
    // default 1920x1080): no announcement at STREAMON(OUTPUT).
    let early = "attach
open ctx=1
reqbufs ctx=1 q=out count=2
reqbufs ctx=1 q=cap count=4
qbuf ctx=1 q=cap index=0
streamon ctx=1 q=cap
qbuf ctx=1 q=out index=0 ts=1000 size=100
streamon ctx=1 q=out
";
    assert_eq!(events(&outcome(early)), 0, "{}", outcome(early));
    // A stream of that size fits what the client set up: nothing to hear.
    let log = outcome(&format!("{early}info ctx=1 width=1920 height=1080 dpb=2\n"));
    assert_eq!(events(&log), 0, "{log}");
    // Another size is a change.
    let log = outcome(&format!("{early}info ctx=1 width=64 height=48 dpb=2\n"));
    assert_eq!(events(&log), 1, "{log}");
}
