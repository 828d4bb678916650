//! `scenario_text` and `trace_import`: the two parsers that read files a
//! user hands the harness. Bad input must give a typed error, never a
//! panic; accepted input must survive a round trip through its own text.

use std::path::Path;

use daedalus_replay::{Scenario, import};

/// The `scenario_text` target body: parse, and if accepted, print and
/// parse again to the same events (the format's writer and reader agree),
/// then run it: a scenario that parses must never stop the executor.
pub fn scenario_text(data: &[u8]) {
    let Ok(s) = Scenario::parse_bytes(Path::new("fuzz.scn"), data) else {
        return;
    };
    let text = s.to_text();
    let again = Scenario::parse(&text)
        .unwrap_or_else(|e| panic!("printed scenario does not parse: {e}\n{text}"));
    assert!(
        s.events().eq(again.events()),
        "print then parse changed the events:\n{text}"
    );
    if s.lines.len() <= 256 {
        // Running it is the executor's robustness, not an oracle check:
        // random text breaks invariants on purpose (dead cookies, etc.).
        let _ = crate::verdict(&s);
    }
}

/// The `trace_import` target body: the tracefs / trace-cmd report text
/// importer; every scenario it makes must print and parse back.
pub fn trace_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imported) = import::import_text(Path::new("fuzz.trace"), text) else {
        return;
    };
    for (_ctx, s) in &imported.scenarios {
        let printed = s.to_text();
        let again = Scenario::parse(&printed)
            .unwrap_or_else(|e| panic!("imported scenario does not parse: {e}\n{printed}"));
        assert!(
            s.events().eq(again.events()),
            "imported scenario changes through its text:\n{printed}"
        );
    }
}
