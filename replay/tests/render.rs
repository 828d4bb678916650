//! The renderings as a reader meets them: the SVG timeline (well-formed
//! XML, a lane per buffer, ready queue and job, two owners drawn as two
//! bars, the breaking and set-up events marked), the structure of the
//! Perfetto JSON on every trace and core, and report.html's links.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use daedalus_replay::{Options, Scenario, core, render, run};
use serde_json::Value;

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

fn load(rel: &str) -> Scenario {
    Scenario::load(&traces().join(rel)).unwrap()
}

fn on(core: &str) -> Options {
    Options {
        core: core.into(),
        ..Options::default()
    }
}

/// Every scenario under traces/.
fn every_trace() -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    let mut dirs = vec![traces()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "scn") {
                let name = p.strip_prefix(traces()).unwrap().display().to_string();
                out.push((name, Scenario::load(&p).unwrap()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() > 20, "traces/ holds {} scenarios", out.len());
    out
}

/// The `<title>` of an element, if it has one.
fn title<'a>(n: roxmltree::Node<'a, 'a>) -> String {
    n.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_owned()
}

/// An element's own text, without its `<title>`.
fn own_text(n: roxmltree::Node) -> String {
    n.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect()
}

fn with_class<'a>(doc: &'a roxmltree::Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|w| w == class))
        })
        .collect()
}

fn texts(doc: &roxmltree::Document, class: &str) -> Vec<String> {
    with_class(doc, class)
        .iter()
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn field_bug_timeline_shows_the_double_claim_of_capture_0() {
    let s = load("regress/field-bug-reorder.scn");
    let o = run(&s, &on("field-bug")).unwrap();
    let svg = render::svg(&s, &o);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    // A lane per buffer, per ready queue and for the jobs.
    let labels = texts(&doc, "lane-label");
    for want in [
        "ctx 1 jobs",
        "ctx 1 OUTPUT ready",
        "ctx 1 CAPTURE ready",
        "OUTPUT #0",
        "OUTPUT #3",
        "CAPTURE #0",
        "CAPTURE #3",
    ] {
        assert!(
            labels.iter().any(|l| l == want),
            "no lane `{want}` in {labels:?}"
        );
    }
    // CAPTURE #0 is on the ready queue and held by jobs at once: each of
    // its owners is a bar of its own, outlined as a double owner.
    let doubles: Vec<String> = with_class(&doc, "double-owner")
        .into_iter()
        .filter(|n| n.has_tag_name("g"))
        .map(title)
        .collect();
    let cap0: Vec<&String> = doubles
        .iter()
        .filter(|t| t.starts_with("ctx 1 CAPTURE #0"))
        .collect();
    assert!(
        cap0.iter().any(|t| t.contains("on the ready queue")),
        "{doubles:#?}"
    );
    let jobs: BTreeSet<&str> = cap0
        .iter()
        .filter_map(|t| t.split("held by job ").nth(1))
        .filter_map(|t| t.split(' ').next())
        .collect();
    assert!(
        jobs.len() >= 2,
        "CAPTURE #0 held by jobs {jobs:?}: {doubles:#?}"
    );
    assert!(
        doubles.iter().all(|t| t.starts_with("ctx 1 CAPTURE #0")),
        "only CAPTURE #0 has two owners: {doubles:#?}"
    );
    // The ready queue lane shows a linked buffer held by a job.
    assert!(
        !with_class(&doc, "double-owner")
            .iter()
            .all(|n| n.has_tag_name("g"))
    );
    // The breaking and setting-up events are marked and labelled.
    let marks: Vec<String> = with_class(&doc, "mark").into_iter().map(title).collect();
    assert!(
        marks.iter().any(|m| m.starts_with("broke: line 27")),
        "{marks:?}"
    );
    assert!(
        marks.iter().any(|m| m.starts_with("set up: line 22")),
        "{marks:?}"
    );
    let labels: String = with_class(&doc, "mark-label")
        .iter()
        .flat_map(|g| g.descendants().filter_map(|n| n.text()))
        .collect();
    assert!(labels.contains("broke · line 27"), "{labels}");
    // The diagnosis is written out in full under it.
    let diag: String = with_class(&doc, "diagnosis")
        .iter()
        .flat_map(|g| g.descendants().filter_map(|n| n.text()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(diag.contains("violation: list-corruption"), "{diag}");
    assert!(diag.contains("LIST_POISON1"), "{diag}");
    insta::assert_snapshot!("field_bug_svg", svg);
}

#[test]
fn clean_field_trace_timeline() {
    let s = load("field/ffmpeg-tiny-decode.scn");
    let o = run(&s, &Options::default()).unwrap();
    assert!(o.verdict.is_clean());
    let svg = render::svg(&s, &o);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(with_class(&doc, "double-owner").is_empty());
    assert!(with_class(&doc, "mark").is_empty());
    assert!(with_class(&doc, "diagnosis").is_empty());
    let labels = texts(&doc, "lane-label");
    // Two OUTPUT and twenty CAPTURE buffers (the scenario's REQBUFS).
    assert_eq!(
        labels.iter().filter(|l| l.starts_with("OUTPUT #")).count(),
        2
    );
    assert_eq!(
        labels.iter().filter(|l| l.starts_with("CAPTURE #")).count(),
        20
    );
    let jobs = with_class(&doc, "job").len();
    assert!(jobs > 5, "{jobs} job bars");
    insta::assert_snapshot!("clean_field_trace_svg", svg);
}

/// A clean run never draws two owners: the renderer's reading of the run
/// agrees with the oracles on every trace.
#[test]
fn no_trace_draws_two_owners_on_the_real_core() {
    for (name, s) in every_trace() {
        let o = run(&s, &Options::default()).unwrap();
        assert!(o.verdict.is_clean(), "{name}");
        let svg = render::svg(&s, &o);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            with_class(&doc, "double-owner").is_empty(),
            "{name}: a clean run drawn with two owners"
        );
    }
}

/// A run longer than the drawing's width is drawn as the window around
/// its violation under an overview of the whole; idle stretches collapse.
#[test]
fn a_long_run_is_windowed_around_its_violation() {
    let bug = std::fs::read_to_string(traces().join("regress/field-bug-reorder.scn")).unwrap();
    let mut text = String::from("daedalus-scenario v1\nopen ctx=2\n");
    for _ in 0..150 {
        text.push_str("reqbufs ctx=2 q=out count=1\nreqbufs ctx=2 q=out count=0\n");
    }
    // Idle: DQBUF on a queue that is not streaming moves nothing.
    for _ in 0..40 {
        text.push_str("dqbuf ctx=2 q=cap\n");
    }
    text.push_str(bug.split_once('\n').unwrap().1);
    let s = Scenario::parse(&text).unwrap();
    let o = run(&s, &on("field-bug")).unwrap();
    let v = o.verdict.violation().expect("the field bug still breaks");
    assert_eq!(v.invariant.name(), "list-corruption");
    let svg = render::svg(&s, &o);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let overview = with_class(&doc, "overview");
    assert_eq!(overview.len(), 1, "an overview strip");
    let axis: Vec<String> = with_class(&doc, "axis")[0]
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(own_text)
        .collect();
    let columns = axis.len() - 1;
    assert!(
        columns <= render::MAX_COLUMNS,
        "{columns} columns drawn of {} events",
        s.lines.len()
    );
    // The window ends with the breaking event and the end of the run and
    // reaches back to the set-up event; the first events are only in the
    // overview.
    let broke = v.broke.line.to_string();
    let setup = v.setup.as_ref().unwrap().0.line.to_string();
    assert!(axis.contains(&broke) && axis.contains(&setup), "{axis:?}");
    assert!(!axis.contains(&"3".to_owned()), "{axis:?}");
    // Forty idle events are one column.
    let idle = with_class(&doc, "axis")[0]
        .descendants()
        .filter(|n| n.has_tag_name("text") && title(*n).contains("40 events that moved no buffer"))
        .count();
    assert_eq!(idle, 1, "{axis:?}");
    // The window's double claim is drawn as for the short run.
    assert!(!with_class(&doc, "double-owner").is_empty());
}

/// What is wrong with a Chrome trace-event document, as a track viewer
/// would see it: a slice that partly overlaps another on its track, an
/// async slice not closed or closed out of order, a flow without both
/// ends, a process or thread used without a name or named twice.
fn trace_problems(doc: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(ev) = doc["traceEvents"].as_array() else {
        return vec!["no traceEvents array".into()];
    };
    let mut pnames: BTreeMap<u64, usize> = BTreeMap::new();
    let mut tnames: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut used: BTreeSet<(u64, u64)> = BTreeSet::new();
    // Per track (pid, tid): each slice's [start, end) and name.
    type Slices = Vec<(u64, u64, String)>;
    let mut slices: BTreeMap<(u64, u64), Slices> = BTreeMap::new();
    let mut asyncs: BTreeMap<(u64, String, String), Vec<String>> = BTreeMap::new();
    let mut flows: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut last_ts: BTreeMap<(u64, String, String), u64> = BTreeMap::new();
    for e in ev {
        let ph = e["ph"].as_str().unwrap_or("?");
        let pid = e["pid"].as_u64().unwrap_or(u64::MAX);
        let tid = e["tid"].as_u64().unwrap_or(u64::MAX);
        let name = e["name"].as_str().unwrap_or("").to_owned();
        let ts = e["ts"].as_u64().unwrap_or(0);
        match ph {
            "M" if name == "process_name" => *pnames.entry(pid).or_default() += 1,
            "M" if name == "thread_name" => *tnames.entry((pid, tid)).or_default() += 1,
            "M" => {}
            "X" => {
                used.insert((pid, tid));
                let dur = e["dur"].as_u64().unwrap_or(0);
                slices
                    .entry((pid, tid))
                    .or_default()
                    .push((ts, ts + dur, name));
            }
            "b" | "e" => {
                used.insert((pid, tid));
                let key = (
                    pid,
                    e["cat"].as_str().unwrap_or("").to_owned(),
                    e["id"]
                        .as_str()
                        .map_or_else(|| e["id"].to_string(), str::to_owned),
                );
                let prev = last_ts.insert(key.clone(), ts).unwrap_or(0);
                if ts < prev {
                    bad.push(format!("async {key:?} goes back in time at {name}"));
                }
                let stack = asyncs.entry(key.clone()).or_default();
                if ph == "b" {
                    stack.push(name);
                } else if stack.pop().as_deref() != Some(name.as_str()) {
                    bad.push(format!("async {key:?}: `{name}` ends out of order"));
                }
            }
            "s" | "f" => {
                used.insert((pid, tid));
                let id = e["id"]
                    .as_str()
                    .map_or_else(|| e["id"].to_string(), str::to_owned);
                let f = flows.entry(id).or_default();
                if ph == "s" { f.0 += 1 } else { f.1 += 1 }
            }
            "i" | "I" => {
                if e["s"].as_str() != Some("g") {
                    used.insert((pid, tid));
                }
            }
            "C" => {
                pnames.entry(pid).or_default();
                used.insert((pid, u64::MAX));
            }
            other => bad.push(format!("unknown phase {other}")),
        }
    }
    for (k, n) in &pnames {
        if *n != 1 {
            bad.push(format!("process {k} named {n} times"));
        }
    }
    for (k, n) in &tnames {
        if *n != 1 {
            bad.push(format!("thread {k:?} named {n} times"));
        }
    }
    for (pid, tid) in &used {
        if pnames.get(pid).copied().unwrap_or(0) == 0 {
            bad.push(format!("process {pid} has no name"));
        }
        if *tid != u64::MAX && !tnames.contains_key(&(*pid, *tid)) {
            bad.push(format!("thread {pid}/{tid} has no name"));
        }
    }
    for (track, mut s) in slices {
        s.sort_by_key(|x| (x.0, std::cmp::Reverse(x.1)));
        // A stack of open slices: the next must start after the top ends
        // or end inside it.
        let mut open: Vec<&(u64, u64, String)> = Vec::new();
        for x in &s {
            while open.last().is_some_and(|o| o.1 <= x.0) {
                open.pop();
            }
            if let Some(o) = open.last()
                && x.1 > o.1
            {
                bad.push(format!(
                    "track {track:?}: `{}` [{}, {}) partly overlaps `{}` [{}, {})",
                    x.2, x.0, x.1, o.2, o.0, o.1
                ));
            }
            open.push(x);
        }
    }
    for (k, stack) in asyncs {
        if !stack.is_empty() {
            bad.push(format!("async {k:?} left open: {stack:?}"));
        }
    }
    for (id, (s, f)) in flows {
        if s != 1 || f != 1 {
            bad.push(format!("flow {id}: {s} start(s), {f} end(s)"));
        }
    }
    bad
}

#[test]
fn perfetto_nests_on_every_trace_and_core() {
    let mut cores: Vec<&str> = core::variants();
    cores.sort();
    let mut flows = 0;
    for (name, s) in every_trace() {
        for c in &cores {
            let o = run(&s, &on(c)).unwrap();
            let json = render::perfetto(&s, &o);
            let doc: Value = serde_json::from_str(&json).unwrap();
            let bad = trace_problems(&doc);
            assert!(bad.is_empty(), "{name} on {c}:\n{}", bad.join("\n"));
            flows += doc["traceEvents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["ph"] == "s")
                .count();
        }
    }
    assert!(flows > 1000, "{flows} flows");
}

#[test]
fn the_structure_check_catches_overlaps_open_slices_and_loose_flows() {
    let named = r#"{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"p"}},
        {"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"t"}}"#;
    let doc = |body: &str| -> Value {
        serde_json::from_str(&format!(r#"{{"traceEvents":[{named},{body}]}}"#)).unwrap()
    };
    let fine = doc(r#"{"ph":"X","name":"a","pid":1,"tid":2,"ts":0,"dur":10},
           {"ph":"X","name":"b","pid":1,"tid":2,"ts":2,"dur":3},
           {"ph":"X","name":"c","pid":1,"tid":2,"ts":10,"dur":5}"#);
    assert_eq!(trace_problems(&fine), Vec::<String>::new());
    // The old renderer's spans: each ended one event after the next began.
    let overlap = doc(
        r#"{"ph":"X","name":"claimed","pid":1,"tid":2,"ts":0,"dur":2000},
           {"ph":"X","name":"parked","pid":1,"tid":2,"ts":1000,"dur":2000}"#,
    );
    assert!(trace_problems(&overlap)[0].contains("partly overlaps"));
    let open = doc(r#"{"ph":"b","cat":"job","id":"0x1","name":"job","pid":1,"tid":2,"ts":0}"#);
    assert!(trace_problems(&open)[0].contains("left open"));
    let loose = doc(r#"{"ph":"s","cat":"done","id":"f","name":"x","pid":1,"tid":2,"ts":0}"#);
    assert!(trace_problems(&loose)[0].contains("0 end(s)"));
    let nameless = doc(r#"{"ph":"X","name":"a","pid":1,"tid":3,"ts":0,"dur":1}"#);
    assert!(trace_problems(&nameless)[0].contains("has no name"));
    let twice = doc(r#"{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"again"}}"#);
    assert!(trace_problems(&twice)[0].contains("named 2 times"));
}

#[test]
fn field_bug_perfetto_snapshot() {
    let s = load("regress/field-bug-reorder.scn");
    let o = run(&s, &on("field-bug")).unwrap();
    let json = render::perfetto(&s, &o);
    let doc: Value = serde_json::from_str(&json).unwrap();
    // CAPTURE #0 has more than one owner track; job j2's flow ends on one.
    let names: Vec<String> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"CAPTURE #0 owner 3".to_owned()),
        "{names:?}"
    );
    insta::assert_snapshot!("field_bug_perfetto", json);
}

/// report.html: every link lands on an anchor of the page, every
/// violation has its diagnosis and timeline, the field bug comes first.
#[test]
fn report_links_land_and_every_mutant_has_its_timeline() {
    let bin = env!("CARGO_BIN_EXE_daedalus-replay");
    let dir = std::env::temp_dir().join(format!("daedalus-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let out = std::process::Command::new(bin)
        .args(["check", "--mutants", "--report"])
        .arg(&page)
        .arg(traces())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("report: {}", page.display())));
    let html = std::fs::read_to_string(&page).unwrap();
    let ids: BTreeSet<&str> = html
        .split("id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    let hrefs: Vec<&str> = html
        .split("href=\"#")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(hrefs.len() > 20);
    for h in &hrefs {
        assert!(ids.contains(h), "link to #{h}, which is not on the page");
    }
    let variants = core::variants();
    for m in variants.iter().filter(|v| **v != "real") {
        let id = format!("m-{m}");
        assert!(ids.contains(id.as_str()), "no section for mutant {m}");
        assert!(hrefs.contains(&id.as_str()), "no link to mutant {m}");
    }
    // One timeline per mutant, and the field bug's a second time at the top.
    assert_eq!(
        html.matches("<svg").count(),
        variants.len() - 1 + 1,
        "timelines on the page"
    );
    let first_svg = html.find("<svg").unwrap();
    assert!(html[..first_svg].contains("field-bug in field-bug-reorder.scn"));
    assert!(!html.contains("<script"));
    let _ = std::fs::remove_dir_all(&dir);
}
