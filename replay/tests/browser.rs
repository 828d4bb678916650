//! report.html as a person opens it: Debian's headless Chromium (`make
//! setup` installs chromium-headless-shell) loads the page `make run`
//! writes, with no network and no script, and what it shows is checked:
//! the page loads without a console message, the field bug's timeline has
//! its lanes, its marked events and the double claim of CAPTURE #0, the
//! diagnosis is there, and the screenshot of the top of the page shows the
//! claimed, parked and double-owner colours.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser: $DAEDALUS_CHROMIUM, else chromium-headless-shell or
/// chromium on PATH. Missing, the test fails: it is part of `make test`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("DAEDALUS_CHROMIUM") {
        return p.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium-headless-shell", "chromium"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no chromium-headless-shell or chromium on PATH: `make setup` installs Debian's \
         chromium-headless-shell (or set DAEDALUS_CHROMIUM)"
    );
}

/// Runs the browser on `page` with `args`; its stdout and stderr. A
/// browser that does not finish in two minutes is killed and named.
fn browse(page: &Path, profile: &Path, args: &[&str]) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (o, e) = (out.join().unwrap(), err.join().unwrap());
            assert!(status.success(), "chromium {args:?}: {status}\n{e}");
            return (o, e);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium {args:?} did not finish within 120 s: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn near(p: &[u8], rgb: [u8; 3]) -> bool {
    p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 10)
}

#[test]
fn report_page_shows_the_field_bug_in_a_browser() {
    let dir = std::env::temp_dir().join(format!("daedalus-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces");
    let out = Command::new(env!("CARGO_BIN_EXE_daedalus-replay"))
        .args(["check", "--mutants", "--report"])
        .arg(&page)
        .arg(&traces)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // Opens offline: nothing is fetched, nothing runs.
    for needle in ["<script", "src=\"", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(needle), "the page holds `{needle}`");
    }

    // The DOM the browser built.
    let (dom, log) = browse(&page, &dir.join("profile-dom"), &["--dump-dom"]);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    assert!(
        dom.trim_end().ends_with("</html>"),
        "{}",
        &dom[dom.len().saturating_sub(200)..]
    );
    let field = dom
        .find("field-bug in field-bug-reorder.scn")
        .expect("the field bug's section");
    let svg = &dom[field..];
    let svg = &svg[svg.find("<svg").expect("its timeline")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    for lane in [
        "ctx 1 jobs",
        "ctx 1 CAPTURE ready",
        "CAPTURE #0",
        "OUTPUT #2",
    ] {
        assert!(svg.contains(&format!(">{lane}</text>")), "no lane {lane}");
    }
    assert!(svg.contains("mark mark-broke") && svg.contains("mark mark-setup"));
    assert!(
        svg.contains("broke · line 27"),
        "the breaking event is labelled"
    );
    assert!(
        svg.contains("set up · line 22"),
        "the set-up event is labelled"
    );
    assert!(
        svg.matches("class=\"hold double-owner\"").count() >= 3,
        "CAPTURE #0's owners drawn as bars of their own"
    );
    assert!(
        dom.contains("violation: list-corruption (no buffer is removed from a list it is not on)")
    );
    assert!(dom.contains("LIST_POISON1"));

    // What a person sees at the top of the page.
    let png = dir.join("top.png");
    browse(
        &page,
        &dir.join("profile-shot"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1400",
            "--hide-scrollbars",
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    assert!(px >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let count = |rgb: [u8; 3]| pixels.iter().filter(|p| near(p, rgb)).count();
    let (claimed, parked, red) = (
        count([0x2f, 0x6f, 0xd0]),
        count([0xe8, 0xa3, 0x17]),
        count([0xd0, 0x10, 0x10]),
    );
    assert!(
        claimed > 300 && parked > 1000 && red > 300,
        "top of the page: {claimed} claimed, {parked} parked, {red} red pixels ({})",
        png.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
