//! `scenario_text` and `trace_import`: the two parsers that read files a
//! user hands the harness. Every input is judged: it is refused with an
//! error that names the file and a place inside the input (the
//! `daedalus-replay` exit 2), or it is accepted as something that holds up
//! (a scenario that survives a round trip through its own text). Never a
//! panic, never an error pointing outside the input.

use std::path::Path;

use daedalus_replay::import::ImportError;
use daedalus_replay::model::ScenarioError;
use daedalus_replay::{Scenario, import};

/// The number of lines a 1-based line number may name in `text`: a last
/// line without its newline counts, and so does an empty text's line 1.
fn line_count(text: &[u8]) -> usize {
    text.split(|&b| b == b'\n').count()
}

/// A refused scenario's error names `fuzz.scn` and a line (and a column
/// within that line) of the input, or the first byte that is not UTF-8.
fn check_scenario_error(data: &[u8], e: &ScenarioError) {
    let msg = e.to_string();
    assert!(
        msg.starts_with("fuzz.scn:"),
        "error without the file: {msg}"
    );
    match e {
        ScenarioError::Parse { error, .. } => {
            let lines = line_count(data);
            let n = error.line as usize;
            assert!(
                (1..=lines).contains(&n),
                "error names line {n} of a {lines}-line input: {msg}"
            );
            // Columns count from after a byte order mark on line 1.
            let text = data.strip_prefix("\u{feff}".as_bytes()).unwrap_or(data);
            let line = text.split(|&b| b == b'\n').nth(n - 1).unwrap_or(&[]);
            // A value left empty at the end of the line is one past it.
            assert!(
                error.column as usize <= line.len() + 1,
                "error names column {} of a {}-byte line: {msg}",
                error.column,
                line.len()
            );
        }
        ScenarioError::NotText { offset, .. } => {
            assert!(*offset < data.len(), "not-UTF-8 offset outside: {msg}");
            assert!(
                std::str::from_utf8(data).is_err(),
                "valid UTF-8 refused as not text"
            );
        }
        ScenarioError::Io { .. } => panic!("parsing bytes read a file: {msg}"),
    }
}

/// The `scenario_text` target body: parse; if refused, the error must
/// place the fault inside the input (above); if accepted, print and parse
/// again to the same events and the same text (the format's writer and
/// reader agree), then run it: a scenario that parses must never stop the
/// executor.
pub fn scenario_text(data: &[u8]) {
    let s = match Scenario::parse_bytes(Path::new("fuzz.scn"), data) {
        Ok(s) => s,
        Err(e) => return check_scenario_error(data, &e),
    };
    let text = s.to_text();
    let again = Scenario::parse(&text)
        .unwrap_or_else(|e| panic!("printed scenario does not parse: {e}\n{text}"));
    assert!(
        s.events().eq(again.events()),
        "print then parse changed the events:\n{text}"
    );
    assert_eq!(again.to_text(), text, "printing is not stable");
    if s.lines.len() <= 256 {
        // Running it is the executor's robustness, not an oracle check:
        // random text breaks invariants on purpose (dead cookies, etc.).
        let _ = crate::verdict(&s);
    }
}

/// The `trace_import` target body: the tracefs / trace-cmd report text
/// importer, given the bytes as `import` reads a text file. Refused: the
/// error names `fuzz.trace` and, for a line at fault, a line of the input.
/// Accepted: at least one context, every event of each scenario on
/// context 1, each line counted once as used or skipped, and every
/// scenario prints and parses back to the same events.
pub fn trace_import(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let imported = match import::import_text(Path::new("fuzz.trace"), &text) {
        Ok(i) => i,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("fuzz.trace"), "error without the file: {msg}");
            match e {
                ImportError::Malformed { line, .. } => {
                    let lines = line_count(text.as_bytes());
                    assert!(
                        (1..=lines).contains(&line),
                        "error names line {line} of a {lines}-line input: {msg}"
                    );
                    assert!(msg.starts_with(&format!("fuzz.trace:{line}: ")), "{msg}");
                }
                ImportError::Empty { .. } | ImportError::NoContext { .. } => {}
                ImportError::Io { .. } | ImportError::TraceDat { .. } => {
                    panic!("importing text read a file: {msg}")
                }
            }
            return;
        }
    };
    assert!(
        !imported.scenarios.is_empty(),
        "an import without a context was accepted"
    );
    assert!(
        imported.used + imported.skipped <= text.lines().count(),
        "{} used and {} skipped of {} lines",
        imported.used,
        imported.skipped,
        text.lines().count()
    );
    for (ctx, s) in &imported.scenarios {
        let printed = s.to_text();
        assert!(
            s.events().all(|e| e.ctx().is_none_or(|c| c == 1)),
            "context {ctx} not numbered 1:\n{printed}"
        );
        let again = Scenario::parse(&printed)
            .unwrap_or_else(|e| panic!("imported scenario does not parse: {e}\n{printed}"));
        assert!(
            s.events().eq(again.events()),
            "imported scenario changes through its text:\n{printed}"
        );
    }
}
