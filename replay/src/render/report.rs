//! report.html: the page `make run` (and `check --report`) writes. The
//! verdict of every scenario, the mutant matrix, and for each violation its
//! diagnosis with its timeline inline, linked both ways; one
//! self-contained file that needs no script and no network to read.
//!
//! Written with maud: its templates are checked by the compiler and every
//! piece of text (diagnoses quote scenario lines and file names) is
//! escaped by construction, where format! strings would each have to
//! remember to.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A violation as the report shows it.
#[derive(Clone, Debug)]
pub struct Shown {
    /// Anchor of its section.
    pub id: String,
    /// Heading.
    pub title: String,
    /// The scenario it happened in (its file name).
    pub scenario: String,
    /// The diagnosis as `check -v` prints it.
    pub diagnosis: String,
    /// Its timeline (an SVG document).
    pub svg: String,
}

/// One scenario's line of the verdict table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario file.
    pub file: String,
    /// "clean", "VIOLATION" or "UNUSABLE".
    pub verdict: String,
    /// What the text table says.
    pub detail: String,
    /// Its violation, if it has one.
    pub shown: Option<Shown>,
}

/// A matrix cell of a mutant that was caught: the invariant and the
/// diagnosis.
pub type Caught = Option<(String, String)>;

/// The mutant matrix.
#[derive(Clone, Debug, Default)]
pub struct Matrix {
    /// Mutant core names.
    pub mutants: Vec<String>,
    /// Per scenario: its name and, per mutant, the invariant that caught
    /// it and the diagnosis.
    pub rows: Vec<(String, Vec<Caught>)>,
    /// Per mutant: the violation shown in full.
    pub shown: Vec<Option<Shown>>,
    /// Lines under the table (what was not caught, what does not apply).
    pub notes: Vec<String>,
}

/// A whole check.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The core the scenarios ran on.
    pub core: String,
    /// The summary line.
    pub summary: String,
    /// The verdict table.
    pub rows: Vec<Row>,
    /// The mutant matrix, when mutants ran.
    pub matrix: Option<Matrix>,
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.clean { color: #2a7a2a; } td.bad { color: #c00; font-weight: bold; } td.none { color: #aaa; }
td.caught a, td.caught { color: #8a1c1c; }
pre { background: #f7f7f7; padding: 8px; font-size: 12px; white-space: pre-wrap; }
.timeline { overflow-x: auto; border: 1px solid #ddd; margin: 8px 0; }
.timeline svg { display: block; }
nav a { margin-right: 1em; }
.ok { color: #2a7a2a; } .fail { color: #c00; font-weight: bold; }
";

fn section(s: &Shown, back: &str) -> Markup {
    html! {
        section.violation id=(s.id) {
            h3 { (s.title) " " a href=(back) { "↑" } }
            pre.diagnosis { (s.diagnosis) }
            div.timeline { (PreEscaped(s.svg.trim_end())) }
        }
    }
}

/// The page.
pub fn html(r: &Report) -> String {
    let bad: Vec<&Row> = r.rows.iter().filter(|row| row.shown.is_some()).collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "daedalus replay: " (r.summary) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "daedalus replay report" }
                p.summary class=(if bad.is_empty() { "ok" } else { "fail" }) { (r.summary) }
                nav {
                    a href="#verdicts" { "verdicts" }
                    @if !bad.is_empty() { a href="#violations" { "violations (" (bad.len()) ")" } }
                    @if r.matrix.is_some() { a href="#mutants" { "mutant matrix" } a href="#caught" { "how each mutant is caught" } }
                }
                @if let Some(m) = &r.matrix {
                    // The field bug first: the mistake this harness exists for.
                    @if let Some(Some(s)) = m.mutants.iter().position(|n| n == "field-bug").map(|i| &m.shown[i]) {
                        h2 { "The field bug, as the harness sees it" }
                        p { "The " code { "field-bug" } " mutant finishes the m2m job on SRC_CONSUMED while its CAPTURE buffer stays on the ready queue; its timeline below shows the buffer held by the ready queue and by several jobs at once (bars outlined in red)." }
                        (section(s, "#mutants"))
                    }
                }
                h2 id="verdicts" { "Verdicts on core " code { (r.core) } }
                table {
                    tr { th { "scenario" } th { "verdict" } th { "detail" } }
                    @for row in &r.rows {
                        tr {
                            td { (row.file) }
                            td class=(match row.verdict.as_str() { "clean" => "clean", _ => "bad" }) { (row.verdict) }
                            td {
                                @if let Some(s) = &row.shown { a href=(format!("#{}", s.id)) { (row.detail) } }
                                @else { (row.detail) }
                            }
                        }
                    }
                }
                @if !bad.is_empty() {
                    h2 id="violations" { "Violations" }
                    @for row in &bad {
                        @if let Some(s) = &row.shown { (section(s, "#verdicts")) }
                    }
                }
                @if let Some(m) = &r.matrix {
                    h2 id="mutants" { "Mutant matrix" }
                    p { "Each mutant core is a lifecycle mistake; a cell names the invariant that caught it on that scenario (hover for the diagnosis); a linked cell's violation is shown in full below." }
                    table {
                        tr { th { "scenario" } @for n in &m.mutants { th { (n) } } }
                        @for (name, cells) in &m.rows {
                            tr {
                                td { (name) }
                                @for (i, c) in cells.iter().enumerate() {
                                    @match c {
                                        None => { td.none { "-" } }
                                        Some((inv, diag)) => {
                                            td.caught title=(diag) {
                                                @match &m.shown[i] {
                                                    Some(s) if s.scenario == *name => { a href=(format!("#{}", s.id)) { (inv) } }
                                                    _ => { (inv) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @for n in &m.notes { p { (n) } }
                    h2 id="caught" { "How each mutant is caught" }
                    @for s in m.shown.iter().flatten() { (section(s, "#mutants")) }
                }
            }
        }
    };
    page.into_string() + "\n"
}
