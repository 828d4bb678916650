//! The owned scenario: a list of events with their line numbers, parsed
//! from text (the shared `no_std` parser) or built in memory (the fuzzer).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::ffi;
use crate::scenario::{
    ErrorKind, Event, Line, ParseError, Parser, SCENARIO_MAGIC, SCENARIO_VERSION,
};

/// A scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A line was rejected by the parser.
    #[error("{}:{error}{}", file.display(), named(field.as_deref()))]
    Parse {
        /// The file (or `<memory>`).
        file: PathBuf,
        /// The line, column and reason.
        error: ParseError,
        /// The key of the `key=value` word at fault, when the error is
        /// about one word's key or value.
        field: Option<String>,
    },
    /// The text is not UTF-8.
    #[error("{}: not UTF-8 text (byte {offset})", file.display())]
    NotText {
        /// The file.
        file: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn named(field: Option<&str>) -> String {
    field.map(|f| format!(" (field `{f}`)")).unwrap_or_default()
}

/// The key of the word `error` points into, for the errors about one
/// `key=value` word.
fn field_at(text: &str, error: &ParseError) -> Option<String> {
    if !matches!(
        error.kind,
        ErrorKind::UnknownKey
            | ErrorKind::DuplicateKey
            | ErrorKind::BadNumber
            | ErrorKind::BadQueue
            | ErrorKind::BadFlag
            | ErrorKind::BadJob
    ) || error.column == 0
    {
        return None;
    }
    // As the parser reads it: a byte order mark first is not text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let line = text.split('\n').nth(error.line.checked_sub(1)? as usize)?;
    let at = (error.column as usize - 1).min(line.len());
    let start = line.get(..at)?.rfind([' ', '\t']).map_or(0, |i| i + 1);
    let (key, _) = line.get(start..)?.split_once('=')?;
    Some(key.to_owned())
}

/// The column of `key`'s value on line `line` of `text` (0 if not found).
fn value_column(text: &str, line: u32, key: &str) -> u32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(raw) = text.split('\n').nth(line as usize - 1) else {
        return 0;
    };
    let words = raw.split('#').next().unwrap_or("");
    let mut at = 0;
    for w in words.split([' ', '\t']) {
        if w.strip_prefix(key).is_some_and(|r| r.starts_with('=')) {
            return (at + key.len() + 2) as u32;
        }
        at += w.len() + 1;
    }
    0
}

/// A parsed or constructed scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scenario {
    /// Events in order, each with the line it came from (0 when built in
    /// memory).
    pub lines: Vec<Line>,
}

impl Scenario {
    /// A scenario of `events` (line numbers count from 2, as if written
    /// after the header line).
    pub fn from_events<I: IntoIterator<Item = Event>>(events: I) -> Self {
        let lines = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Line {
                line: i as u32 + 2,
                event,
            })
            .collect();
        Scenario { lines }
    }

    /// Parses scenario text held in memory. A `limits` line must also
    /// name limits the module takes (1 to DAEDALUS_MAX_CONTEXTS contexts,
    /// 1 to DAEDALUS_MAX_CAPTURE_BUFS CAPTURE buffers): the shared parser
    /// does not know the module's constants.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut lines = Vec::new();
        Parser::for_each(text, |l| lines.push(l))?;
        for l in &lines {
            if let Event::Limits { contexts, capture } = l.event {
                for (key, v, max) in [
                    ("contexts", contexts, ffi::DAEDALUS_MAX_CONTEXTS),
                    ("capture", capture, ffi::DAEDALUS_MAX_CAPTURE_BUFS),
                ] {
                    if !(1..=max).contains(&v) {
                        return Err(ParseError {
                            line: l.line,
                            column: value_column(text, l.line, key),
                            kind: ErrorKind::BadNumber,
                        });
                    }
                }
            }
        }
        Ok(Scenario { lines })
    }

    /// Parses bytes, naming `file` in errors.
    pub fn parse_bytes(file: &Path, bytes: &[u8]) -> Result<Self, ScenarioError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ScenarioError::NotText {
            file: file.to_owned(),
            offset: e.valid_up_to(),
        })?;
        Self::parse(text).map_err(|error| ScenarioError::Parse {
            file: file.to_owned(),
            field: field_at(text, &error),
            error,
        })
    }

    /// Reads and parses a scenario file.
    pub fn load(file: &Path) -> Result<Self, ScenarioError> {
        let bytes = std::fs::read(file).map_err(|source| ScenarioError::Io {
            file: file.to_owned(),
            source,
        })?;
        Self::parse_bytes(file, &bytes)
    }

    /// The events, without line numbers.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        self.lines.iter().map(|l| l.event)
    }

    /// The scenario as text the parser reads back to the same events.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{SCENARIO_MAGIC} v{SCENARIO_VERSION}")?;
        for l in &self.lines {
            writeln!(f, "{}", l.event)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{JobRef, Queue};

    const SAMPLE: &str = "\
# a comment before the header
daedalus-scenario v1
open ctx=1            # trailing comment
reqbufs ctx=1 q=out count=2
qbuf ctx=1 q=out index=0 ts=0x10 size=4096
frame ctx=1 job=2 flags=src_consumed|has_pixels ts=16 bytes=100
frame ctx=1 job=cookie:0x100000001 flags=0x40
reset_done ctx=1 gen=3
tick ms=40
attach
detach
";

    #[test]
    fn parses_every_shape() {
        let s = Scenario::parse(SAMPLE).unwrap();
        assert_eq!(s.lines.len(), 9);
        assert_eq!(s.lines[0].line, 3);
        assert_eq!(
            s.lines[2].event,
            Event::Qbuf {
                ctx: 1,
                queue: Queue::Output,
                index: 0,
                ts: 16,
                size: 4096,
                req: None,
            }
        );
        assert_eq!(
            s.lines[3].event,
            Event::Frame {
                ctx: 1,
                job: JobRef::Nth(2),
                flags: 3,
                ts: 16,
                bytes: 100,
                generation: None
            }
        );
        assert_eq!(
            s.lines[4].event,
            Event::Frame {
                ctx: 1,
                job: JobRef::Cookie(0x1_0000_0001),
                flags: 0x40,
                ts: 0,
                bytes: 0,
                generation: None
            }
        );
        assert_eq!(s.lines[7].event, Event::DaemonAttach { version: 1 });
    }

    #[test]
    fn text_round_trips() {
        let s = Scenario::parse(SAMPLE).unwrap();
        let again = Scenario::parse(&s.to_text()).unwrap();
        assert_eq!(
            s.events().collect::<Vec<_>>(),
            again.events().collect::<Vec<_>>()
        );
    }

    fn err(text: &str) -> ParseError {
        Scenario::parse(text).unwrap_err()
    }

    #[test]
    fn errors_name_line_column_and_reason() {
        let cases = [
            "open ctx=1\n",
            "daedalus-scenario v2\n",
            "daedalus-scenario v1\nfly ctx=1\n",
            "daedalus-scenario v1\nopen ctx=1 colour=red\n",
            "daedalus-scenario v1\n\nreqbufs ctx=1 q=out\n",
            "daedalus-scenario v1\nopen ctx=1 ctx=2\n",
            "daedalus-scenario v1\nopen ctx\n",
            "daedalus-scenario v1\nopen ctx=4294967296\n",
            "daedalus-scenario v1\nstreamon ctx=1 q=both\n",
            "daedalus-scenario v1\nframe ctx=1 job=1 flags=done\n",
            "daedalus-scenario v1\nframe ctx=1 job=0 flags=last\n",
            "daedalus-scenario v1\ndaedalus-scenario v1\n",
            "daedalus-scenario v1\nopen ctx=1 a=1 b=2 c=3 d=4 e=5 f=6 g=7\n",
            "daedalus-scenario v1\nopen\x01 ctx=1\n",
            "daedalus-scenario v1\nopen ctx=1\nlimits contexts=1 capture=2\n",
            "daedalus-scenario v1\nlimits contexts=9 capture=2\n",
            "daedalus-scenario v1\nlimits capture=0 contexts=1\n",
            "daedalus-scenario v1\nlimits contexts=1\n",
            "",
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|c| format!("{:?} -> {}", c, err(c)))
            .collect();
        insta::assert_snapshot!(got.join("\n"));
    }

    #[test]
    fn missing_key_is_named() {
        assert_eq!(
            err("daedalus-scenario v1\nqbuf ctx=1 q=cap\n").kind,
            ErrorKind::MissingKey("index")
        );
    }

    #[test]
    fn file_name_is_added_on_the_std_side() {
        let e = Scenario::parse_bytes(
            Path::new("traces/x.scn"),
            b"daedalus-scenario v1\nopen ctx=x\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "traces/x.scn:line 2:10: malformed or out-of-range number (field `ctx`)"
        );
        let e = Scenario::parse_bytes(Path::new("y"), b"\xff").unwrap_err();
        assert!(matches!(e, ScenarioError::NotText { offset: 0, .. }));
    }

    #[test]
    fn garbage_never_panics_and_what_parses_round_trips() {
        // A cheap deterministic sweep; the fuzz target does the real work.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let alphabet = b"daedalus-scenario v1\n open ctx=1 q=cap job=cookie:0x flags=|#\t=9";
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..(x % 64) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
            }
            if let Ok(sc) = Scenario::parse(&s) {
                let again = Scenario::parse(&sc.to_text()).expect("printed scenario parses");
                assert_eq!(
                    sc.events().collect::<Vec<_>>(),
                    again.events().collect::<Vec<_>>()
                );
            }
        }
    }
}
