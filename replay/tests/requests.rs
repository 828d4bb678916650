//! The Request API of the stateless node, as the replay models it: what a
//! client's request calls return, when a request completes, and the two
//! stateless mutants caught with the request named.

use daedalus_replay::{Invariant, Options, Scenario, run};

fn on(core: &str) -> Options {
    Options {
        core: core.into(),
        keep_log: true,
        ..Options::default()
    }
}

fn scenario(body: &str) -> Scenario {
    Scenario::parse(&format!("daedalus-scenario v1\n{body}")).unwrap()
}

/// A stateless context streaming, its daemon attached, two CAPTURE
/// buffers queued and two OUTPUT buffers allocated.
const STREAMING: &str = "attach
open ctx=1 node=stateless
reqbufs ctx=1 q=out count=2
reqbufs ctx=1 q=cap count=2
qbuf ctx=1 q=cap index=0
qbuf ctx=1 q=cap index=1
streamon ctx=1 q=out
streamon ctx=1 q=cap
";

#[test]
fn request_calls_get_the_media_cores_errnos() {
    let s = scenario(&format!(
        "{STREAMING}\
qbuf ctx=1 q=out index=0 ts=0 size=100
req_alloc req=1
req_alloc req=1
req_queue req=1
qbuf ctx=1 q=cap index=0 req=1
qbuf ctx=1 q=out index=0 ts=0 size=100 req=9
req_queue req=9
ctrls ctx=1 req=1
qbuf ctx=1 q=out index=0 ts=0 size=100 req=1
qbuf ctx=1 q=out index=1 ts=0 size=100 req=1
req_queue req=1
req_reinit req=1
qbuf ctx=1 q=out index=0 ts=0 size=100 req=1
req_queue req=1
req_queue req=1
ctrls ctx=1 req=1
req_reinit req=1
"
    ));
    let o = run(&s, &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    let io = o.io_log();
    for want in [
        "10: ret=-53", // a plain QBUF on a queue that requires requests: EBADR
        "12: ret=-22", // a request name still open
        "13: ret=-2",  // a request without a buffer: ENOENT
        "14: ret=-1",  // a CAPTURE buffer in a request: EPERM
        "15: ret=-22", // not a request's file descriptor
        "16: ret=-9",  // MEDIA_REQUEST_IOC_QUEUE on a closed descriptor
        "20: ret=-22", // two buffers in one request
        "24: ret=-16", // queued again
        "25: ret=-16", // controls into a queued request
    ] {
        assert!(io.lines().any(|l| l == want), "no `{want}` in\n{io}");
    }
    // After the REINIT the request took a buffer again and was queued.
    assert!(!io.contains("21: ret="), "{io}");
    assert!(!io.contains("23: ret="), "{io}");
    // REINIT of a queued request: EBUSY.
    assert!(io.lines().any(|l| l == "26: ret=-16"), "{io}");
}

#[test]
fn a_request_completes_when_its_buffer_does_and_a_streamoff_completes_the_rest() {
    let s = scenario(&format!(
        "{STREAMING}\
req_alloc req=1
ctrls ctx=1 req=1
qbuf ctx=1 q=out index=0 ts=0 size=100 req=1
req_queue req=1
req_alloc req=2
ctrls ctx=1 req=2
qbuf ctx=1 q=out index=1 ts=33000000 size=100 req=2
req_queue req=2
frame ctx=1 job=1 flags=src_consumed ts=0
frame ctx=1 job=1 flags=has_pixels ts=0 bytes=64
streamoff ctx=1 q=out
"
    ));
    let o = run(&s, &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    let io = o.io_log();
    // Request 1 with its picture (line 19), not with its source
    // (SRC_CONSUMED, line 18); request 2, still waiting for the device,
    // at the STREAMOFF.
    assert!(io.lines().any(|l| l == "19: request_done req=1"), "{io}");
    assert!(io.lines().any(|l| l == "20: request_done req=2"), "{io}");
    assert_eq!(io.matches("request_done").count(), 2, "{io}");
    // Each job went out with its own request's controls.
    let log = o.log_text();
    assert!(
        log.contains("controls ctx=1 cookie=0x100000000 tag=1"),
        "{log}"
    );
    assert!(
        log.contains("controls ctx=1 cookie=0x100000001 tag=2"),
        "{log}"
    );
}

#[test]
fn the_field_bug_on_the_stateless_path_is_caught_naming_the_request() {
    let s = Scenario::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/regress/stateless-field-bug.scn"),
    )
    .unwrap();
    assert!(run(&s, &on("real")).unwrap().verdict.is_clean());
    let o = run(&s, &on("stateless-field-bug")).unwrap();
    let v = o.verdict.violation().expect("stateless-field-bug passes");
    assert_eq!(v.invariant, Invariant::ListCorruption);
    // The second request's job took the first one's CAPTURE buffer.
    assert_eq!(v.request, Some(2));
    insta::assert_snapshot!("stateless_field_bug_diagnosis", v.to_string());

    let o = run(&s, &on("request-controls-kept")).unwrap();
    let v = o.verdict.violation().expect("request-controls-kept passes");
    assert_eq!(v.invariant, Invariant::RequestRules);
    assert_eq!(v.request, Some(1));
    assert!(
        v.detail.contains("controls never completed"),
        "{}",
        v.detail
    );
}

#[test]
fn a_request_completes_only_once_its_picture_is_done() {
    let s = Scenario::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../traces/regress/stateless-field-bug.scn"),
    )
    .unwrap();
    // The daemon consumes request 1's source (line 28) before its picture
    // is done (line 30): the request completes with the picture.
    let o = run(&s, &on("real")).unwrap();
    assert!(o.verdict.is_clean(), "{}", o.verdict.violation().unwrap());
    let io = o.io_log();
    assert!(io.lines().any(|l| l == "30: request_done req=1"), "{io}");
    assert!(!io.contains("28: request_done"), "{io}");
    // A core that completes the source at SRC_CONSUMED wakes the client
    // with no picture to dequeue: caught when the request completes.
    let o = run(&s, &on("request-before-picture")).unwrap();
    let v = o
        .verdict
        .violation()
        .expect("request-before-picture passes");
    assert_eq!(v.invariant, Invariant::RequestRules);
    assert_eq!(v.request, Some(1));
    assert!(
        v.broke
            .text
            .starts_with("frame ctx=1 job=1 flags=src_consumed"),
        "{}",
        v.broke
    );
    assert!(v.detail.contains("dequeues no picture"), "{}", v.detail);
}
