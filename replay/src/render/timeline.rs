//! The model every rendering draws: who held each buffer when, each
//! context's ready queues, each job from device_run to its picture, on one
//! clock of scenario events.
//!
//! Time is an [`At`]: the scenario event (its position) and, inside it, the
//! order of the step among the run's outcome-log records and ledger moves,
//! so two things that happen during one event keep their order and a hold
//! that ends when the next begins never overlaps it.

use std::collections::BTreeMap;

use crate::exec::Outcome;
use crate::model::Scenario;
use crate::oracle::{BufName, Own, Record, Violation, state_name};
use crate::scenario::Queue;

/// A moment of a run: event position, then the step's order in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    /// Scenario event position (from 0; the run's end is one past the last).
    pub pos: usize,
    /// Order of the step: `2 * k` for the ledger move made before outcome
    /// record `k`, `2 * k + 1` for record `k`.
    pub step: usize,
}

impl At {
    /// The moment of outcome-log record `index`, logged during event `pos`.
    pub fn record(pos: usize, index: usize) -> At {
        At {
            pos,
            step: 2 * index + 1,
        }
    }
}

/// What the client side has of a buffer between driver holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Allocated, with the client (before QBUF, after DQBUF or STREAMOFF).
    User,
    /// Queued by the client, not given to the driver (queue not streaming).
    Queued,
    /// With the driver (on the ready queue, claimed or parked: the owner
    /// bars say which).
    Driver,
    /// Done, on vb2's done list waiting for DQBUF: `true` for ERROR.
    Done(bool),
    /// Freed (REQBUFS 0, close).
    Freed,
}

/// A stretch of a buffer's client-side state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideSpan {
    /// The state.
    pub side: Side,
    /// From.
    pub from: At,
    /// To (exclusive).
    pub to: At,
}

/// Who holds a buffer on the driver's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Linked on its m2m ready queue.
    Ready,
    /// A job, by its number in the run (see [`Job::n`]).
    Job(usize),
}

/// One owner's hold of a buffer; holds of one buffer may overlap (the
/// double owner every list-corruption bug starts with).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// Who.
    pub holder: Holder,
    /// Claimed (or linked) at.
    pub from: At,
    /// Parked at, for a job whose CAPTURE buffer waits for pixels.
    pub parked: Option<At>,
    /// Ended at (the run's end when it never did).
    pub to: At,
    /// How it ended: "DONE", "ERROR", "unlinked", "returned" (vb2 took it
    /// back), or "open" at the end of the run.
    pub ended: &'static str,
    /// The row of its lane it is drawn on (holds that overlap differ).
    pub row: usize,
}

/// One buffer's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufLane {
    /// The buffer.
    pub buf: BufName,
    /// Its client-side states in order.
    pub side: Vec<SideSpan>,
    /// Its driver-side holds, by start.
    pub holds: Vec<Hold>,
    /// Rows its holds take (at least 1).
    pub rows: usize,
}

/// A job: device_run to job_finish, and on to its CAPTURE picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Its number in the run, from 1 in device_run order.
    pub n: usize,
    /// Context.
    pub ctx: u32,
    /// Cookie.
    pub cookie: u64,
    /// device_run.
    pub run: At,
    /// job_finish (the run's end when it never came) and its reason.
    pub finish: At,
    /// Why it finished, or "open".
    pub reason: &'static str,
    /// Its CAPTURE buffer's completion and state name, if it came.
    pub picture: Option<(At, &'static str)>,
    /// Its buffers' completions (for flow arrows): buffer, moment, state.
    pub done: Vec<(BufName, At, &'static str)>,
    /// Row in its context's job lane.
    pub row: usize,
}

/// A context's ready queue's length after each change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyLane {
    /// Context.
    pub ctx: u32,
    /// Queue.
    pub queue: Queue,
    /// (moment, buffers linked, of which also held by a job).
    pub steps: Vec<(At, usize, usize)>,
}

/// A marked event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Position.
    pub pos: usize,
    /// Scenario line.
    pub line: u32,
    /// "broke" or "set up".
    pub what: &'static str,
    /// The event's text.
    pub text: String,
}

/// Everything a timeline shows.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// Scenario events (columns); the run's end is at position `events`.
    pub events: usize,
    /// Events the run executed (it stops at a violation).
    pub events_run: usize,
    /// The run's end: what never ended is drawn to here.
    pub end: At,
    /// Line and text of each event.
    pub lines: Vec<(u32, String)>,
    /// Buffer lanes, by context, queue (OUTPUT first), index.
    pub bufs: Vec<BufLane>,
    /// Ready-queue lanes, by context and queue.
    pub ready: Vec<ReadyLane>,
    /// Jobs in device_run order.
    pub jobs: Vec<Job>,
    /// Rows of each context's job lane.
    pub job_rows: BTreeMap<u32, usize>,
    /// Every moment something happened, in order.
    pub moments: Vec<At>,
    /// The broke and set-up events, when the run has a violation.
    pub marks: Vec<Mark>,
    /// The violation's full diagnosis.
    pub diagnosis: Option<String>,
    /// Name of the violation's invariant.
    pub invariant: Option<&'static str>,
}

/// Gives each interval the lowest row free at its start (intervals in
/// order of start); returns the number of rows used.
fn assign_rows<T>(
    items: &mut [T],
    span: impl Fn(&T) -> (At, At),
    set: impl Fn(&mut T, usize),
) -> usize {
    let mut ends: Vec<At> = Vec::new();
    for it in items.iter_mut() {
        let (from, to) = span(it);
        let row = match ends.iter().position(|e| *e <= from) {
            Some(r) => r,
            None => {
                ends.push(to);
                ends.len() - 1
            }
        };
        ends[row] = to;
        set(it, row);
    }
    ends.len().max(1)
}

/// The state of the walk over a run's records and moves.
struct Builder {
    end: At,
    jobs: Vec<Job>,
    by_cookie: BTreeMap<(u32, u64), usize>,
    holds: BTreeMap<BufName, Vec<Hold>>,
    moments: Vec<At>,
    side: BTreeMap<BufName, Vec<SideSpan>>,
    linked: BTreeMap<BufName, bool>,
    ready_now: BTreeMap<(u32, Queue), Vec<BufName>>,
    ready: BTreeMap<(u32, Queue), ReadyLane>,
}

/// Ends the open holds `pick` chooses.
fn close(hs: &mut [Hold], pick: impl Fn(&Hold) -> bool, at: At, how: &'static str) {
    for h in hs.iter_mut().filter(|h| h.ended == "open" && pick(h)) {
        h.to = at;
        h.ended = how;
    }
}

fn is_job(h: &Hold) -> bool {
    matches!(h.holder, Holder::Job(_))
}

impl Builder {
    fn held_by_job(&self, b: &BufName) -> bool {
        self.holds
            .get(b)
            .is_some_and(|hs| hs.iter().any(|h| is_job(h) && h.ended == "open"))
    }

    /// Notes the length of a ready queue (and how many of its buffers a
    /// job holds too) when it changed.
    fn note_ready(&mut self, key: (u32, Queue), at: At) {
        let on = self.ready_now.get(&key).map_or(&[][..], |v| &v[..]);
        let both = on.iter().filter(|b| self.held_by_job(b)).count();
        let n = on.len();
        let lane = self.ready.entry(key).or_insert_with(|| ReadyLane {
            ctx: key.0,
            queue: key.1,
            steps: Vec::new(),
        });
        if lane.steps.last().map(|s| (s.1, s.2)) != Some((n, both)) {
            lane.steps.push((at, n, both));
        }
    }

    fn apply_move(&mut self, m: &crate::oracle::Move) {
        let at = At {
            pos: m.pos,
            step: 2 * m.seq,
        };
        self.moments.push(at);
        let was = self.linked.insert(m.buf, m.linked).unwrap_or(false);
        let key = (m.buf.ctx, m.buf.queue);
        if was != m.linked {
            let hs = self.holds.entry(m.buf).or_default();
            if m.linked {
                hs.push(Hold {
                    holder: Holder::Ready,
                    from: at,
                    parked: None,
                    to: self.end,
                    ended: "open",
                    row: 0,
                });
                self.ready_now.entry(key).or_default().push(m.buf);
            } else {
                close(hs, |h| h.holder == Holder::Ready, at, "unlinked");
                self.ready_now
                    .entry(key)
                    .or_default()
                    .retain(|b| *b != m.buf);
            }
        }
        let s = match m.own {
            Own::Dequeued => Side::User,
            Own::Queued | Own::InRequest(_) => Side::Queued,
            Own::Ready | Own::Claimed(_) | Own::Parked(_) => Side::Driver,
            Own::Done(state) => Side::Done(state_name(state) == "ERROR"),
            Own::Freed => Side::Freed,
        };
        let spans = self.side.entry(m.buf).or_default();
        if spans.last().map(|l| l.side) != Some(s) {
            if let Some(l) = spans.last_mut() {
                l.to = at;
            }
            spans.push(SideSpan {
                side: s,
                from: at,
                to: self.end,
            });
        }
        // vb2 took the buffer back (STREAMOFF, close): no job holds it.
        if matches!(s, Side::User | Side::Freed) {
            close(self.holds.entry(m.buf).or_default(), is_job, at, "returned");
        }
        self.note_ready(key, at);
    }

    fn job(&self, ctx: u32, cookie: u64) -> Option<usize> {
        self.by_cookie.get(&(ctx, cookie)).copied()
    }

    fn apply_record(&mut self, at: At, r: &Record) {
        match r {
            Record::DeviceRun { ctx, cookie, .. } => {
                self.by_cookie.insert((*ctx, *cookie), self.jobs.len());
                self.jobs.push(Job {
                    n: self.jobs.len() + 1,
                    ctx: *ctx,
                    cookie: *cookie,
                    run: at,
                    finish: self.end,
                    reason: "open",
                    picture: None,
                    done: Vec::new(),
                    row: 0,
                });
            }
            Record::JobFinish {
                ctx,
                cookie,
                reason,
            } => {
                if let Some(j) = self.job(*ctx, *cookie)
                    && self.jobs[j].reason == "open"
                {
                    self.jobs[j].finish = at;
                    self.jobs[j].reason = crate::oracle::finish_name(*reason);
                }
            }
            Record::Claim { ctx, cookie, buf } => {
                if let Some(j) = self.job(*ctx, *cookie) {
                    self.holds.entry(*buf).or_default().push(Hold {
                        holder: Holder::Job(j + 1),
                        from: at,
                        parked: None,
                        to: self.end,
                        ended: "open",
                        row: 0,
                    });
                    self.note_ready((buf.ctx, buf.queue), at);
                }
            }
            Record::Park { ctx, cookie, buf } => {
                if let Some(j) = self.job(*ctx, *cookie) {
                    for h in self.holds.entry(*buf).or_default().iter_mut() {
                        if h.holder == Holder::Job(j + 1) && h.ended == "open" {
                            h.parked.get_or_insert(at);
                        }
                    }
                }
            }
            Record::BufDone {
                ctx,
                cookie,
                buf,
                state,
                ..
            } => {
                let name = state_name(*state);
                let job = self.job(*ctx, *cookie);
                let mine = |h: &Hold| Some(h.holder) == job.map(|j| Holder::Job(j + 1));
                let hs = self.holds.entry(*buf).or_default();
                if hs.iter().any(|h| h.ended == "open" && mine(h)) {
                    close(hs, mine, at, name);
                } else {
                    close(hs, is_job, at, name);
                }
                if let Some(j) = job {
                    self.jobs[j].done.push((*buf, at, name));
                    if buf.queue == Queue::Capture && self.jobs[j].picture.is_none() {
                        self.jobs[j].picture = Some((at, name));
                    }
                }
                self.note_ready((buf.ctx, buf.queue), at);
            }
            Record::Vb2Done { buf, state } => {
                close(
                    self.holds.entry(*buf).or_default(),
                    is_job,
                    at,
                    state_name(*state),
                );
            }
            Record::Errno { .. } | Record::Dqbuf { result: Err(_), .. } => return,
            _ => {}
        }
        self.moments.push(at);
    }
}

impl Timeline {
    /// The timeline of `outcome`, a run of `scenario` with its log kept.
    pub fn new(scenario: &Scenario, outcome: &Outcome) -> Timeline {
        let events = scenario.lines.len();
        // A run cut short by a violation ends at its breaking event.
        let end = At {
            pos: outcome
                .verdict
                .violation()
                .map_or(events, |v| v.broke.pos.min(events)),
            step: 2 * outcome.log.len() + 2,
        };
        let mut w = Builder {
            end,
            jobs: Vec::new(),
            by_cookie: BTreeMap::new(),
            holds: BTreeMap::new(),
            moments: Vec::new(),
            side: BTreeMap::new(),
            linked: BTreeMap::new(),
            ready_now: BTreeMap::new(),
            ready: BTreeMap::new(),
        };
        // Ready-queue links and client-side states come from the ledger's
        // moves, holds by jobs from the job core's records: both in order.
        let mut moves = outcome.moves.iter().peekable();
        for (i, (pos, r)) in outcome.log.iter().enumerate() {
            while let Some(m) = moves.next_if(|m| m.seq <= i) {
                w.apply_move(m);
            }
            w.apply_record(At::record(*pos, i), r);
        }
        for m in moves {
            w.apply_move(m);
        }
        let Builder {
            mut jobs,
            mut holds,
            mut moments,
            mut side,
            ready,
            ..
        } = w;
        moments.sort();
        moments.dedup();
        let mut bufs: Vec<BufLane> = Vec::new();
        let names: std::collections::BTreeSet<BufName> =
            side.keys().chain(holds.keys()).copied().collect();
        let mut names: Vec<BufName> = names.into_iter().collect();
        names.sort_by_key(|b| (b.ctx, b.queue != Queue::Output, b.index));
        for b in names {
            let mut hs = holds.remove(&b).unwrap_or_default();
            hs.sort_by_key(|h| h.from);
            let rows = assign_rows(&mut hs, |h| (h.from, h.to), |h, r| h.row = r);
            bufs.push(BufLane {
                buf: b,
                side: side.remove(&b).unwrap_or_default(),
                holds: hs,
                rows,
            });
        }
        let mut job_rows = BTreeMap::new();
        let ctxs: std::collections::BTreeSet<u32> = jobs.iter().map(|j| j.ctx).collect();
        for c in ctxs {
            let mut mine: Vec<&mut Job> = jobs.iter_mut().filter(|j| j.ctx == c).collect();
            let rows = assign_rows(
                &mut mine,
                |j| (j.run, j.picture.map_or(j.finish, |p| p.0.max(j.finish))),
                |j, r| j.row = r,
            );
            job_rows.insert(c, rows);
        }
        let mut ready: Vec<ReadyLane> = ready.into_values().collect();
        ready.sort_by_key(|l| (l.ctx, l.queue != Queue::Output));
        let v: Option<&Violation> = outcome.verdict.violation();
        let mut marks = Vec::new();
        if let Some(v) = v {
            if let Some((e, _)) = &v.setup {
                marks.push(Mark {
                    pos: e.pos,
                    line: e.line,
                    what: "set up",
                    text: e.text.clone(),
                });
            }
            marks.push(Mark {
                pos: v.broke.pos,
                line: v.broke.line,
                what: "broke",
                text: v.broke.text.clone(),
            });
        }
        Timeline {
            events,
            events_run: outcome.events_run,
            end,
            lines: scenario
                .lines
                .iter()
                .map(|l| (l.line, l.event.to_string()))
                .collect(),
            bufs,
            ready,
            jobs,
            job_rows,
            moments,
            marks,
            diagnosis: v.map(|v| v.to_string()),
            invariant: v.map(|v| v.invariant.name()),
        }
    }
}
