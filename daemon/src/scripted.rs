//! The scripted backend: replies in exactly the order a script gives, so
//! any ordering of SRC_CONSUMED / HAS_PIXELS / LAST / STREAM_INFO can be
//! reproduced against the real module. docs/daemon.md describes the format:
//!
//! ```text
//! # one step per line; jobs are numbered from 1 in arrival order
//! info 320x240 visible=320x240 dpb=4
//! frame 1 consumed
//! frame 2 consumed+pixels ts=src:1
//! await flush
//! frame 3 pixels+last bytes=0
//! fail internal
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use daedalus_proto::*;
use thiserror::Error;

use crate::backend::{
    Backend, Capabilities, Dst, FrameData, Job, Session, SessionEvent, SessionParams, StreamFormat,
};
use crate::layout;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("script line {line}: {reason}")]
pub struct ScriptError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    Fixed(u64),
    /// The source timestamp of job N.
    SrcOf(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Info {
        coded: (u32, u32),
        visible: (u32, u32),
        dpb: u32,
    },
    Frame {
        job: usize,
        flags: u32,
        timestamp: Timestamp,
        bytes: Option<u32>,
    },
    Fail(SessionErrorCode),
    AwaitFlush,
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
}

fn size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

impl Script {
    pub fn parse(text: &str) -> Result<Self, ScriptError> {
        let mut steps = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |reason: String| ScriptError { line, reason };
            let content = raw.split('#').next().unwrap_or("").trim();
            let mut words = content.split_whitespace();
            let Some(verb) = words.next() else { continue };
            let rest: Vec<&str> = words.collect();
            let step = match verb {
                "info" => {
                    let coded = rest
                        .first()
                        .and_then(|s| size(s))
                        .ok_or_else(|| err("info needs a size WxH".into()))?;
                    let mut visible = coded;
                    let mut dpb = 4;
                    for opt in &rest[1..] {
                        match opt.split_once('=') {
                            Some(("visible", v)) => {
                                visible = size(v).ok_or_else(|| err(format!("bad size {v}")))?
                            }
                            Some(("dpb", v)) => {
                                dpb = v.parse().map_err(|_| err(format!("bad dpb {v}")))?
                            }
                            _ => return Err(err(format!("unknown info option {opt}"))),
                        }
                    }
                    if visible.0 > coded.0 || visible.1 > coded.1 || coded.0 == 0 || coded.1 == 0 {
                        return Err(err("visible size must fit in a non-empty coded size".into()));
                    }
                    Step::Info {
                        coded,
                        visible,
                        dpb,
                    }
                }
                "frame" => {
                    let job: usize = rest
                        .first()
                        .and_then(|s| s.parse().ok())
                        .filter(|j| *j >= 1)
                        .ok_or_else(|| err("frame needs a job number from 1".into()))?;
                    let mut flags = 0;
                    for f in rest
                        .get(1)
                        .ok_or_else(|| err("frame needs flags".into()))?
                        .split('+')
                    {
                        flags |= match f {
                            "consumed" => FRAME_SRC_CONSUMED,
                            "pixels" => FRAME_HAS_PIXELS,
                            "error" => FRAME_ERROR,
                            "last" => FRAME_LAST,
                            _ => return Err(err(format!("unknown flag {f}"))),
                        };
                    }
                    let mut timestamp = Timestamp::Fixed(0);
                    let mut bytes = None;
                    for opt in &rest[2..] {
                        match opt.split_once('=') {
                            Some(("ts", v)) => {
                                timestamp = match v.strip_prefix("src:") {
                                    Some(j) => Timestamp::SrcOf(
                                        j.parse()
                                            .ok()
                                            .filter(|j| *j >= 1)
                                            .ok_or_else(|| err(format!("bad job {j}")))?,
                                    ),
                                    None => Timestamp::Fixed(
                                        v.parse().map_err(|_| err(format!("bad ts {v}")))?,
                                    ),
                                }
                            }
                            Some(("bytes", v)) => {
                                bytes = Some(v.parse().map_err(|_| err(format!("bad bytes {v}")))?)
                            }
                            _ => return Err(err(format!("unknown frame option {opt}"))),
                        }
                    }
                    Step::Frame {
                        job,
                        flags,
                        timestamp,
                        bytes,
                    }
                }
                "fail" => Step::Fail(match rest.first().copied() {
                    Some("unsupported-codec") => SessionErrorCode::UnsupportedCodec,
                    Some("unsupported-format") => SessionErrorCode::UnsupportedFormat,
                    Some("nomem") => SessionErrorCode::Nomem,
                    Some("internal") => SessionErrorCode::Internal,
                    other => return Err(err(format!("unknown session error {other:?}"))),
                }),
                "await" if rest == ["flush"] => Step::AwaitFlush,
                _ => return Err(err(format!("unknown step {content:?}"))),
            };
            steps.push(step);
        }
        Ok(Self { steps })
    }
}

/// Replays one script in every session.
pub struct ScriptedBackend {
    script: Arc<Script>,
}

impl ScriptedBackend {
    pub fn new(script: Script) -> Self {
        Self {
            script: Arc::new(script),
        }
    }
}

impl Backend for ScriptedBackend {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            codecs: Codec::mask(),
            pixfmts: Pixfmt::mask(),
            max_width: crate::backend::MAX_SIZE.0,
            max_height: crate::backend::MAX_SIZE.1,
        }
    }

    fn open_session(
        &mut self,
        params: &SessionParams,
    ) -> Result<Box<dyn Session>, SessionErrorCode> {
        Ok(Box::new(ScriptedSession {
            script: self.script.clone(),
            pixfmt: params.pixfmt,
            pos: 0,
            jobs: Vec::new(),
            flushes: 0,
            flushes_used: 0,
            picture_size: 0,
            dsts: HashMap::new(),
            events: VecDeque::new(),
        }))
    }
}

struct ScriptedSession {
    script: Arc<Script>,
    pixfmt: Pixfmt,
    pos: usize,
    /// (cookie, source timestamp) of every job, in arrival order.
    jobs: Vec<(u64, u64)>,
    flushes: usize,
    flushes_used: usize,
    picture_size: usize,
    /// Dsts not yet named by a `pixels` step: a mapped one is written
    /// there.
    dsts: HashMap<u64, Dst>,
    events: VecDeque<SessionEvent>,
}

impl ScriptedSession {
    /// Runs every step whose jobs and flushes have arrived.
    fn run(&mut self) {
        while let Some(step) = self.script.steps.get(self.pos) {
            match step {
                Step::Info {
                    coded,
                    visible,
                    dpb,
                } => {
                    self.picture_size = layout::picture_size(coded.0, coded.1);
                    let cookie = self.jobs.last().map_or(0, |j| j.0);
                    let format = StreamFormat {
                        coded_width: coded.0,
                        coded_height: coded.1,
                        visible_width: visible.0,
                        visible_height: visible.1,
                        pixfmt: self.pixfmt,
                        dpb_size: *dpb,
                    };
                    self.events
                        .push_back(SessionEvent::StreamInfo { cookie, format });
                }
                Step::Frame {
                    job,
                    flags,
                    timestamp,
                    bytes,
                } => {
                    let needed = match timestamp {
                        Timestamp::SrcOf(j) => (*job).max(*j),
                        Timestamp::Fixed(_) => *job,
                    };
                    if self.jobs.len() < needed {
                        return;
                    }
                    let (cookie, _) = self.jobs[job - 1];
                    let pixels = flags & FRAME_HAS_PIXELS != 0;
                    let timestamp = match (pixels, timestamp) {
                        (false, _) => 0,
                        (true, Timestamp::Fixed(t)) => *t,
                        (true, Timestamp::SrcOf(j)) => self.jobs[j - 1].1,
                    };
                    let len = if pixels {
                        bytes.map_or(self.picture_size, |b| b as usize)
                    } else {
                        0
                    };
                    let mut flags = *flags;
                    let dst = if pixels {
                        self.dsts.remove(&cookie)
                    } else {
                        None
                    };
                    let data = match dst {
                        Some(Dst {
                            map: Some(mut map), ..
                        }) => {
                            let out = map.bytes_mut().expect("a dst is writable");
                            if len > out.len() {
                                tracing::warn!(cookie, len, "scripted picture beyond its dst");
                                flags |= FRAME_ERROR;
                                FrameData::Mapped(0)
                            } else {
                                out[..len].fill(*job as u8);
                                FrameData::Mapped(len as u32)
                            }
                        }
                        // An inline dst, or one already returned: the
                        // picture goes inline (a repeated reply the kernel
                        // rejects).
                        _ => FrameData::Inline(vec![*job as u8; len]),
                    };
                    self.events.push_back(SessionEvent::Frame {
                        cookie,
                        flags,
                        timestamp,
                        data,
                    });
                }
                Step::Fail(code) => self.events.push_back(SessionEvent::Failed(*code)),
                Step::AwaitFlush => {
                    if self.flushes_used == self.flushes {
                        return;
                    }
                    self.flushes_used += 1;
                }
            }
            self.pos += 1;
        }
    }
}

impl Session for ScriptedSession {
    fn decode(&mut self, job: Job<'_>) {
        self.jobs
            .push((job.cookie, job.src.map_or(0, |s| s.timestamp)));
        self.dsts.insert(job.cookie, job.dst);
        self.run();
    }

    fn flush(&mut self) {
        self.flushes += 1;
        self.run();
    }

    /// The script goes on: replies it names for jobs before the reset are
    /// exactly the stale replies the kernel must reject (their dsts are
    /// forgotten: a picture for one goes inline).
    fn reset(&mut self) {
        self.dsts.clear();
    }

    /// The script goes on: a reply it names for a job from before is one
    /// the kernel rejects as a dead cookie.
    fn capture_off(&mut self) {
        self.dsts.clear();
    }

    /// Scripted pictures are bytes already laid out: only STREAM_INFO
    /// names the new format.
    fn capture_format(&mut self, pixfmt: Pixfmt) {
        self.pixfmt = pixfmt;
    }

    fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step() {
        let s = Script::parse(
            "# comment\ninfo 320x240 visible=318x240 dpb=3\n\nframe 1 consumed\n\
             frame 2 consumed+pixels ts=src:1 bytes=6 # both\nawait flush\nframe 3 pixels+last bytes=0\nfail nomem\n",
        )
        .unwrap();
        assert_eq!(
            s.steps,
            vec![
                Step::Info {
                    coded: (320, 240),
                    visible: (318, 240),
                    dpb: 3
                },
                Step::Frame {
                    job: 1,
                    flags: FRAME_SRC_CONSUMED,
                    timestamp: Timestamp::Fixed(0),
                    bytes: None
                },
                Step::Frame {
                    job: 2,
                    flags: FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS,
                    timestamp: Timestamp::SrcOf(1),
                    bytes: Some(6)
                },
                Step::AwaitFlush,
                Step::Frame {
                    job: 3,
                    flags: FRAME_HAS_PIXELS | FRAME_LAST,
                    timestamp: Timestamp::Fixed(0),
                    bytes: Some(0)
                },
                Step::Fail(SessionErrorCode::Nomem),
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("frame 0 consumed", 1),
            ("info 10x10\nframe 1 bogus", 2),
            ("\n\nwibble", 3),
            ("info 10x10 visible=20x10", 1),
            ("frame 1 pixels ts=src:x", 1),
            ("fail sometimes", 1),
        ];
        for (text, line) in cases {
            let e = Script::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
        }
    }
}
