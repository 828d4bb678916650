//! Every input `check` and `import` are given is judged: the command ends,
//! reads each file once, and an input it cannot use fully is exit 2 with
//! the file (and line) named, never a quiet success.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// A fresh directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daedalus-inputs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `daedalus-replay ARGS`; a run that does not end within a minute
/// is killed and fails the test.
fn replay<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_daedalus-replay"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("daedalus-replay did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_directory_walk_follows_no_link_cycle_and_reads_each_file_once() {
    let dir = scratch("walk");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::copy(traces().join("regress/drain.scn"), tree.join("drain.scn")).unwrap();
    let once = |why: &str| {
        let r = replay(&[Path::new("check"), &tree]);
        assert_eq!(r.code, Some(0), "{why}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("core real: 1 clean, 0 violation(s), 0 unusable"),
            "{why}: {}",
            r.stdout
        );
    };
    symlink("..", tree.join("sub/up")).unwrap();
    once("a link to the parent");
    symlink(".", tree.join("self-a")).unwrap();
    symlink(".", tree.join("self-b")).unwrap();
    once("two links to the directory itself");
    // A link to a directory outside the tree is followed, and a file
    // named on the command line may be a link.
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(
        traces().join("regress/watchdog.scn"),
        outside.join("watchdog.scn"),
    )
    .unwrap();
    symlink(&outside, tree.join("sub/elsewhere")).unwrap();
    symlink(tree.join("drain.scn"), dir.join("link.scn")).unwrap();
    let r = replay(&[Path::new("check"), &tree, &dir.join("link.scn")]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("core real: 2 clean, 0 violation(s), 0 unusable"),
        "{}",
        r.stdout
    );
    let r = replay(&[Path::new("check"), &dir.join("link.scn")]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 clean"), "{}", r.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_without_scenarios_is_unusable_input() {
    let dir = scratch("empty");
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a scenario\n").unwrap();
    let want = format!(
        "daedalus-replay: {}: no scenario file (*.scn) in this directory or below",
        empty.display()
    );
    for args in [vec!["check"], vec!["check", "--mutants"]] {
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        args.push(empty.as_os_str());
        let r = replay(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.trim_end(), want, "{args:?}");
        assert!(!r.stdout.contains("NOT caught"), "{args:?}: {}", r.stdout);
    }
    // Also next to a directory that has some: each one given must.
    let r = replay(&[
        Path::new("check"),
        &traces().join("regress/drain.scn"),
        &empty,
    ]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stderr.trim_end(), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small trace-cmd report of one context: every field the importer
/// reads on each kind of line it uses.
const REPORT: &str = "\
       daedalusd-812   [001]  5121.004101: daedalus_daemon:      attach pid=812 version=0x100
   ffmpeg-900   [000]  5121.010000: vb2_qbuf:             owner = 00000000e8d2ad81, queued = 1, owned_by_drv = 0, index = 0, type = 10, bytesused = 3000, timestamp = 40000000
   ffmpeg-900   [000]  5121.010001: vb2_qbuf:             owner = 00000000e8d2ad81, queued = 1, owned_by_drv = 0, index = 0, type = 9, bytesused = 0, timestamp = 0
   ffmpeg-900   [000]  5121.010050: daedalus_msg_out:     type=0x2 cookie=0x0 ctx=3 flags=0x0 len=64
   ffmpeg-900   [000]  5121.010100: daedalus_stream:      ctx=3 queue=OUTPUT on
   ffmpeg-900   [000]  5121.010200: daedalus_stream:      ctx=3 queue=CAPTURE on
   ffmpeg-900   [000]  5121.010300: daedalus_device_run:  ctx=3 cookie=0x100000000 src=0 dst=0 src_ts=40000000
   ffmpeg-900   [000]  5121.010301: daedalus_claim:       ctx=3 cookie=0x100000000 queue=OUTPUT index=0
       daedalusd-812   [001]  5121.020000: daedalus_msg_in:      type=0x8002 cookie=0x100000000 ctx=3 flags=0x3 len=56
       daedalusd-812   [001]  5121.020001: daedalus_buf_done:    ctx=3 cookie=0x100000000 queue=CAPTURE index=0 state=DONE ts=40000000
       daedalusd-812   [001]  5121.020002: daedalus_stream_info: ctx=3 width=64 height=48 dpb=2 confirmed
";

fn import(name: &str, text: &str) -> Result<daedalus_replay::import::Imported, String> {
    daedalus_replay::import::import_text(Path::new(name), text).map_err(|e| e.to_string())
}

#[test]
fn the_report_imports() {
    let i = import("r.txt", REPORT).unwrap();
    assert_eq!(i.scenarios.len(), 1);
    assert_eq!(i.scenarios[0].0, 3);
}

#[test]
fn a_number_out_of_its_fields_range_is_refused_with_file_line_and_field() {
    // (line, what is in REPORT, what replaces it, the field's type)
    let cases = [
        (
            4,
            "ctx=3 flags",
            "ctx=99999999999999999999 flags",
            "ctx",
            "u32",
        ),
        (
            5,
            "ctx=3 queue=OUTPUT",
            "ctx=4294967299 queue=OUTPUT",
            "ctx",
            "u32",
        ),
        (
            5,
            "ctx=3 queue=OUTPUT",
            "ctx=-4294967293 queue=OUTPUT",
            "ctx",
            "u32",
        ),
        (
            6,
            "ctx=3 queue=CAPTURE",
            "ctx=-1 queue=CAPTURE",
            "ctx",
            "u32",
        ),
        (
            7,
            "cookie=0x100000000 src",
            "cookie=0x10000000000000000 src",
            "cookie",
            "u64",
        ),
        (7, "src=0 dst", "src=2147483648 dst", "src", "s32"),
        (7, "src_ts=40000000", "src_ts=-40000000", "src_ts", "u64"),
        (9, "flags=0x3", "flags=0xfffffffff03", "flags", "u32"),
        (9, "len=56", "len=4294967352", "len", "u32"),
        (10, "ts=40000000", "ts=18446744073709551616", "ts", "u64"),
        (11, "dpb=2", "dpb=4294967298", "dpb", "u32"),
        (
            2,
            "bytesused = 3000",
            "bytesused = 4294970296",
            "bytesused",
            "u32",
        ),
        (
            2,
            "timestamp = 40000000",
            "timestamp = -40000000",
            "timestamp",
            "u64",
        ),
    ];
    for (line, from, to, field, ty) in cases {
        let nth = REPORT.lines().nth(line - 1).unwrap();
        assert!(nth.contains(from), "{line}: {from}");
        let text = REPORT.replacen(nth, &nth.replacen(from, to, 1), 1);
        let err = import("r.txt", &text).expect_err(to);
        let name = nth.split(": ").nth(1).unwrap().trim();
        let value = to
            .split_once('=')
            .unwrap()
            .1
            .split_whitespace()
            .next()
            .unwrap();
        let want =
            format!("r.txt:{line}: {name}: field `{field}` is out of range for {ty}: `{value}`");
        assert_eq!(err, want, "{to}");
    }
    // -1 is the only source index below 0: a capture-only job.
    let text = REPORT.replacen("src=0 dst", "src=-2 dst", 1);
    assert_eq!(
        import("r.txt", &text).unwrap_err(),
        "r.txt:7: daedalus_device_run: buffer index `src=-2` out of range"
    );
    // Not a number at all is said so.
    let text = REPORT.replacen("ctx=3 queue=OUTPUT", "ctx=3x queue=OUTPUT", 1);
    assert_eq!(
        import("r.txt", &text).unwrap_err(),
        "r.txt:5: daedalus_stream: field `ctx` is not a number: `3x`"
    );
}

#[test]
fn an_import_with_a_number_out_of_range_is_exit_2() {
    let dir = scratch("range");
    let trace = dir.join("t.txt");
    std::fs::write(
        &trace,
        REPORT.replacen("ctx=3 flags=0x0", "ctx=99999999999999999999 flags=0x0", 1),
    )
    .unwrap();
    let out = dir.join("out/");
    let r = replay(&[Path::new("import"), &trace, Path::new("-o"), &out]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{}:4: daedalus_msg_out: field `ctx` is out of range for u32",
            trace.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing is written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_field_of_a_daedalus_line_is_judged_also_those_not_replayed() {
    // The job core's consequences (claim, buf_done, ...) are recomputed,
    // not replayed; a line of them that the module cannot have written is
    // still refused.
    let cases = [
        (
            "queue=OUTPUT index=0",
            "queue=OUTPUT index=0x100000000",
            "r.txt:8: daedalus_claim: field `index` is out of range for u32: `0x100000000`",
        ),
        (
            "queue=OUTPUT index=0",
            "queue=OUTPUT",
            "r.txt:8: daedalus_claim: missing field `index`",
        ),
        (
            "queue=OUTPUT index=0",
            "queue=SIDEWAYS index=0",
            "r.txt:8: daedalus_claim: field `queue` is not one of CAPTURE, OUTPUT (or a number): `SIDEWAYS`",
        ),
        (
            "state=DONE",
            "state=FINE",
            "r.txt:10: daedalus_buf_done: field `state` is not one of DEQUEUED, IN_REQUEST, PREPARING, QUEUED, ACTIVE, DONE, ERROR (or a number): `FINE`",
        ),
        (
            "queue=CAPTURE on",
            "queue=CAPTURE maybe",
            "r.txt:6: daedalus_stream: expected one of `on`, `off`",
        ),
        (
            "attach pid=812",
            "attached pid=812",
            "r.txt:1: daedalus_daemon: expected one of `attach`, `detach`",
        ),
        (
            "pid=812",
            "pid=-2147483649",
            "r.txt:1: daedalus_daemon: field `pid` is out of range for s32: `-2147483649`",
        ),
        (
            "dpb=2 confirmed",
            "dpb=2",
            "r.txt:11: daedalus_stream_info: expected one of `change`, `confirmed`",
        ),
    ];
    for (from, to, want) in cases {
        assert!(REPORT.contains(from), "{from}");
        let text = REPORT.replacen(from, to, 1);
        assert_eq!(import("r.txt", &text).unwrap_err(), want, "{to}");
    }
    // A symbolic field may print as a number: the kernel does so for a
    // value its list does not name.
    let text = REPORT.replacen("state=DONE", "state=0x9", 1);
    import("r.txt", &text).unwrap();
}

#[test]
fn a_last_line_without_its_newline_is_refused_as_cut() {
    let whole = REPORT.strip_suffix('\n').unwrap();
    let cut_number = whole
        .strip_suffix("confirmed")
        .unwrap()
        .replacen("dpb=2 ", "dpb=", 1);
    let cut_name = format!("{REPORT}   ffmpeg-900   [000]  5121.030000: daedalus_dev");
    let one_line = REPORT.lines().nth(4).unwrap();
    for (text, want) in [
        // Whole, but a number at its end could have lost digits: the
        // import cannot tell, and refuses it as any other.
        (
            whole.to_owned(),
            "r.txt:11: daedalus_stream_info: the last line has no newline at its end, so it may be cut short (a trace ends every line with one)",
        ),
        (
            format!(
                "{}\n{}",
                &whole[..whole.rfind('\n').unwrap()],
                "       daedalusd-812   [001]  5121.020002: daedalus_stream_info: ctx=3 width=64 height=4"
            ),
            "r.txt:11: daedalus_stream_info: the last line has no newline at its end, so it may be cut short (a trace ends every line with one)",
        ),
        (
            cut_number.clone(),
            "r.txt:11: daedalus_stream_info: the last line has no newline at its end, so it may be cut short (a trace ends every line with one)",
        ),
        // src_ts=40000000 that lost its last digits.
        (
            format!(
                "{REPORT}   ffmpeg-900   [000]  5121.030000: daedalus_device_run:  ctx=3 cookie=0x100000001 src=0 dst=0 src_ts=4000"
            ),
            "r.txt:12: daedalus_device_run: the last line has no newline at its end, so it may be cut short (a trace ends every line with one)",
        ),
        (
            cut_name,
            "r.txt:12: the last line has no newline at its end and is not a whole trace line: the trace is cut short",
        ),
        // The only line.
        (
            one_line.to_owned(),
            "r.txt:1: daedalus_stream: the last line has no newline at its end, so it may be cut short (a trace ends every line with one)",
        ),
    ] {
        assert_eq!(import("r.txt", &text).unwrap_err(), want, "{text}");
    }
    // Nothing is lost when the line is blank, a comment, or an event
    // the import skips.
    let whole = import("r.txt", REPORT).unwrap();
    for tail in [
        "   ",
        "# the end",
        "   ffmpeg-900   [000]  5121.030000: sched_switch: prev_comm=ffmpeg prev_pid=900",
    ] {
        let i = import("r.txt", &format!("{REPORT}{tail}")).unwrap();
        assert_eq!(i.used, whole.used, "{tail}");
        assert_eq!(i.scenarios[0].1, whole.scenarios[0].1, "{tail}");
    }
    // A line ending in \r\n is whole.
    import("r.txt", &REPORT.replace('\n', "\r\n")).unwrap();
}

#[test]
fn an_import_with_no_decoder_context_is_exit_2() {
    let dir = scratch("noctx");
    for (name, text) in [
        (
            "other.txt",
            "   ffmpeg-900   [000]  5121.030000: sched_switch: prev_comm=ffmpeg prev_pid=900\n",
        ),
        ("daemon.txt", REPORT.lines().next().unwrap()),
    ] {
        let trace = dir.join(name);
        std::fs::write(&trace, format!("{}\n", text.trim_end())).unwrap();
        let r = replay(&[Path::new("import"), &trace]);
        assert_eq!(r.code, Some(2), "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "{name}: {}", r.stdout);
        assert_eq!(
            r.stderr.trim_end(),
            format!(
                "daedalus-replay: no decoder context in {}: no daedalus event names one",
                trace.display()
            ),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn field(name: &str) -> PathBuf {
    traces().join("field").join(name)
}

fn scn_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn import_to_a_path_ending_in_a_slash_makes_the_directory() {
    let dir = scratch("outdir");
    // README's command, into a directory that does not exist yet (nor
    // its parent): one scenario per context, also for one context.
    let new = dir.join("parent/new-dir/");
    let r = replay(&[
        Path::new("import"),
        &field("ffmpeg-tiny-decode-20261204.dat"),
        Path::new("-o"),
        &new,
    ]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_eq!(scn_files(&new), ["ctx125.scn"]);
    let r = replay(&[Path::new("check"), &new]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    // Several contexts into an existing directory named without '/'.
    let two = dir.join("two");
    std::fs::create_dir_all(&two).unwrap();
    let r = replay(&[
        Path::new("import"),
        &field("ffmpeg-tiny-two-clients.trace"),
        Path::new("-o"),
        &two,
    ]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_eq!(scn_files(&two), ["ctx124.scn", "ctx126.scn"]);
    // One context to a file.
    let file = dir.join("one.scn");
    let r = replay(&[
        Path::new("import"),
        &field("ffmpeg-tiny-decode.trace"),
        Path::new("-o"),
        &file,
    ]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("daedalus-scenario v1\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn several_contexts_to_a_file_or_standard_output_are_refused() {
    let dir = scratch("several");
    let trace = field("ffmpeg-tiny-two-clients.trace");
    let file = dir.join("both.scn");
    let r = replay(&[Path::new("import"), &trace, Path::new("-o"), &file]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(!file.exists(), "no file, no directory is made");
    assert!(
        r.stderr.contains(&format!(
            "daedalus-replay: {}: 2 decoder contexts (ctx 124, 126), one scenario each, and {} is not a directory: give a directory, ending in '/' if it does not exist yet (-o DIR/)",
            trace.display(),
            file.display()
        )),
        "{}",
        r.stderr
    );
    let r = replay(&[Path::new("import"), &trace]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains(
            "2 decoder contexts (ctx 124, 126), one scenario each, and standard output takes one: give a directory, ending in '/' if it does not exist yet (-o DIR/)"
        ),
        "{}",
        r.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    let dir = scratch("bom");
    let text = std::fs::read_to_string(traces().join("regress/drain.scn")).unwrap();
    let plain = daedalus_replay::Scenario::parse(&text).unwrap();
    let bom = daedalus_replay::Scenario::parse(&format!("\u{feff}{text}")).unwrap();
    assert_eq!(bom, plain);
    let file = dir.join("bom.scn");
    std::fs::write(&file, format!("\u{feff}{text}")).unwrap();
    let r = replay(&[Path::new("check"), &file]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 clean"), "{}", r.stdout);
    // Only at the very start: elsewhere it is a character of a word.
    let e = daedalus_replay::Scenario::parse("daedalus-scenario v1\n\u{feff}open ctx=1\n");
    assert_eq!(e.unwrap_err().to_string(), "line 2:1: unknown event");
    // A trace, through the file reader.
    let trace = dir.join("bom.txt");
    std::fs::write(&trace, format!("\u{feff}{REPORT}")).unwrap();
    let i = daedalus_replay::import::import_file(&trace).unwrap();
    let plain = import("r.txt", REPORT).unwrap();
    assert_eq!(i.scenarios, plain.scenarios);
    assert_eq!((i.used, i.skipped), (plain.used, plain.skipped));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_scenario_number_out_of_its_fields_range_is_refused_never_wrapped() {
    use daedalus_replay::Scenario;
    use daedalus_replay::scenario::ErrorKind;
    const U64_PAST: &str = "18446744073709551616";
    let cases = [
        ("open ctx=4294967296", "ctx="),
        ("open ctx=-1", "ctx="),
        ("open ctx=+1", "ctx="),
        ("reqbufs ctx=1 q=out count=0x100000000", "count="),
        ("qbuf ctx=1 q=out index=4294967296", "index="),
        (&format!("qbuf ctx=1 q=out index=0 ts={U64_PAST}"), "ts="),
        ("qbuf ctx=1 q=out index=0 ts=0x1_0000_0000_0000_0000", "ts="),
        ("qbuf ctx=1 q=out index=0 size=4294967296", "size="),
        ("attach version=4294967297", "version="),
        ("frame ctx=1 job=1 flags=4294967296", "flags="),
        ("frame ctx=1 job=1 flags=0xfffffffff01", "flags="),
        (
            &format!("frame ctx=1 job=1 flags=last ts={U64_PAST}"),
            "ts=",
        ),
        ("frame ctx=1 job=1 flags=last bytes=4294967296", "bytes="),
        ("frame ctx=1 job=1 flags=last gen=4294967296", "gen="),
        ("info ctx=1 width=4294967296 height=1 dpb=1", "width="),
        ("error ctx=1 code=-5", "code="),
        ("reset_done ctx=1 gen=4294967296", "gen="),
        ("tick ms=4294967296", "ms="),
        // `_` only between digits.
        ("tick ms=1_", "ms="),
        ("tick ms=_1", "ms="),
    ];
    for (line, key) in cases {
        let text = format!("daedalus-scenario v1\n{line}\n");
        let e = Scenario::parse(&text).expect_err(line);
        assert_eq!(e.kind, ErrorKind::BadNumber, "{line}");
        assert_eq!(e.line, 2, "{line}");
        let col = line.find(key).unwrap() + key.len() + 1;
        assert_eq!(e.column as usize, col, "{line}");
    }
    // The job's own forms.
    for line in [
        "frame ctx=1 job=4294967296 flags=last",
        "frame ctx=1 job=0 flags=last",
        &format!("frame ctx=1 job=cookie:{U64_PAST} flags=last"),
    ] {
        let text = format!("daedalus-scenario v1\n{line}\n");
        assert_eq!(
            Scenario::parse(&text).expect_err(line).kind,
            ErrorKind::BadJob,
            "{line}"
        );
    }
    // The largest values fit.
    let s = Scenario::parse(
        "daedalus-scenario v1\nqbuf ctx=4294967295 q=out index=4_294_967_295 ts=18446744073709551615 size=0xffff_ffff\n",
    )
    .unwrap();
    assert_eq!(s.lines.len(), 1);
    // Through the command: file, line and column, exit 2.
    let dir = scratch("scn-range");
    let file = dir.join("wrap.scn");
    std::fs::write(&file, "daedalus-scenario v1\nopen ctx=4294967297\n").unwrap();
    let r = replay(&[Path::new("check"), &file]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "{}:line 2:10: malformed or out-of-range number (field `ctx`)",
            file.display()
        )),
        "{}",
        r.stdout
    );
    // The std side names the word's key for each error about one word.
    for (line, want) in [
        (
            "\u{feff}daedalus-scenario v1\nqbuf ctx=1\tq=out index=0 ts=-1\n",
            "w.scn:line 2:29: malformed or out-of-range number (field `ts`)",
        ),
        (
            "daedalus-scenario v1\nqbuf ctx=1 q=sideways index=0\n",
            "w.scn:line 2:14: queue must be `out` or `cap` (field `q`)",
        ),
        (
            "daedalus-scenario v1\nframe ctx=1 job=0 flags=last\n",
            "w.scn:line 2:17: job must be a number from 1, newest or cookie:<number> (field `job`)",
        ),
        (
            "daedalus-scenario v1\nframe ctx=1 job=1 flags=done\n",
            "w.scn:line 2:25: unknown frame flag (field `flags`)",
        ),
        (
            "daedalus-scenario v1\nopen ctx=1 colour=red\n",
            "w.scn:line 2:12: unknown key for this event (field `colour`)",
        ),
        (
            "daedalus-scenario v1\nopen ctx\n",
            "w.scn:line 2:6: expected key=value",
        ),
    ] {
        let e = Scenario::parse_bytes(Path::new("w.scn"), line.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), want, "{line:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
