//! The timeline as a self-contained SVG: one lane per buffer (its
//! client-side state as a thin band, each owner's hold as a bar, two
//! owners at once as two bars on two rows, outlined in red), each
//! context's ready queues and jobs as lanes of their own, an axis of
//! scenario lines, the breaking and set-up events marked and labelled, a
//! legend, and the diagnosis below. Idle stretches collapse; a long run is
//! drawn as a window around the violation under an overview of the whole.

use maud::{Markup, html};

use super::timeline::{At, Hold, Holder, Side, Timeline};
use crate::scenario::Queue;

/// Widest run drawn whole, in columns; a longer one with a violation is
/// drawn as the window of this many columns around it.
pub const MAX_COLUMNS: usize = 120;

const LEFT: f64 = 170.0;
/// Width of an event's column: wider for a short run, never narrower
/// than this.
const COL: f64 = 14.0;
const COL_WIDEST: f64 = 30.0;
/// Narrowest the drawing gets (legend and diagnosis).
const MIN_WIDTH: f64 = 940.0;
const IDLE_COL: f64 = 8.0;
const ROW: f64 = 12.0;
const BAND: f64 = 5.0;
const LANE_GAP: f64 = 4.0;
const WRAP: usize = 130;

const C_USER: &str = "#d0d0d0";
const C_QUEUED: &str = "#b9dcd9";
const C_READY: &str = "#2aa198";
const C_CLAIMED: &str = "#2f6fd0";
const C_PARKED: &str = "#e8a317";
const C_DONE: &str = "#3a9a3a";
const C_ERROR: &str = "#c62828";
const C_JOB: &str = "#6c3fb5";
const C_BROKE: &str = "#d01010";
const C_SETUP: &str = "#e07000";

fn f(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

/// One column of the drawing: an event, or a collapsed stretch of idle
/// events.
#[derive(Clone, Debug)]
struct Col {
    first: usize,
    last: usize,
    idle: bool,
    x: f64,
    w: f64,
}

struct Layout<'a> {
    t: &'a Timeline,
    cols: Vec<Col>,
    /// Column of each position.
    col_of: Vec<usize>,
    /// The window of columns drawn.
    from: usize,
    to: usize,
    /// x of the window's first column.
    x0: f64,
}

impl<'a> Layout<'a> {
    fn new(t: &'a Timeline) -> Self {
        let positions = t.events + 1;
        let mut busy = vec![false; positions];
        for m in &t.moments {
            if m.pos < positions {
                busy[m.pos] = true;
            }
        }
        for m in &t.marks {
            busy[m.pos.min(t.events)] = true;
        }
        // The end column and a lone idle event stay as they are.
        busy[t.events] = true;
        let mut cols: Vec<Col> = Vec::new();
        let mut col_of = vec![0; positions];
        let mut p = 0;
        while p < positions {
            let mut q = p;
            if !busy[p] {
                while q + 1 < positions && !busy[q + 1] {
                    q += 1;
                }
            }
            let idle = q > p;
            for c in col_of.iter_mut().take(q + 1).skip(p) {
                *c = cols.len();
            }
            cols.push(Col {
                first: p,
                last: q,
                idle,
                x: 0.0,
                w: if idle { IDLE_COL } else { COL },
            });
            p = q + 1;
        }
        let (from, to) = if cols.len() <= MAX_COLUMNS {
            (0, cols.len())
        } else if let Some(broke) = t.marks.iter().find(|m| m.what == "broke") {
            let b = col_of[broke.pos.min(t.events)];
            let to = (b + 8).min(cols.len());
            let mut from = to.saturating_sub(MAX_COLUMNS);
            if let Some(s) = t.marks.iter().find(|m| m.what == "set up") {
                from = from.min(col_of[s.pos].saturating_sub(4));
            }
            (from, to)
        } else {
            (0, cols.len())
        };
        let busy_cols = cols[from..to].iter().filter(|c| !c.idle).count().max(1);
        let col = (700.0 / busy_cols as f64).clamp(COL, COL_WIDEST).floor();
        let mut x = 0.0;
        for c in cols.iter_mut() {
            if !c.idle {
                c.w = col;
            }
            c.x = x;
            x += c.w;
        }
        let x0 = cols[from].x;
        Layout {
            t,
            cols,
            col_of,
            from,
            to,
            x0,
        }
    }

    fn windowed(&self) -> bool {
        self.from > 0 || self.to < self.cols.len()
    }

    fn plot_w(&self) -> f64 {
        let last = &self.cols[self.to - 1];
        last.x + last.w - self.x0
    }

    fn col_x(&self, c: usize) -> f64 {
        LEFT + self.cols[c].x - self.x0
    }

    /// x of a moment: its order among the moments of its event spreads the
    /// steps of one event across the event's column.
    fn x(&self, at: At) -> f64 {
        let pos = at.pos.min(self.t.events);
        let c = self.col_of[pos];
        let col = &self.cols[c];
        let x = self.col_x(c);
        if col.idle {
            return x + col.w / 2.0;
        }
        let ms = &self.t.moments;
        let lo = ms.partition_point(|m| m.pos < pos);
        let hi = ms.partition_point(|m| m.pos <= pos);
        let n = hi - lo;
        let r = ms[lo..hi].partition_point(|m| *m < at);
        if r < n && ms[lo + r] == at {
            x + col.w * (r + 1) as f64 / (n + 1) as f64
        } else if r == n {
            x + col.w
        } else {
            x + col.w * r as f64 / (n + 1) as f64
        }
    }

    fn visible(&self, from: At, to: At) -> bool {
        let a = self.col_of[from.pos.min(self.t.events)];
        let b = self.col_of[to.pos.min(self.t.events)];
        b >= self.from && a < self.to
    }

    fn line_of(&self, pos: usize) -> String {
        match self.t.lines.get(pos) {
            Some((l, _)) => l.to_string(),
            None => "end".into(),
        }
    }

    fn event_text(&self, pos: usize) -> String {
        match self.t.lines.get(pos) {
            Some((l, e)) => format!("line {l}: {e}"),
            None => "end of the scenario (end-of-run checks)".into(),
        }
    }
}

fn hold_title(t: &Timeline, lane: &str, h: &Hold) -> String {
    let who = match h.holder {
        Holder::Ready => "on the ready queue".to_owned(),
        Holder::Job(n) => {
            let j = &t.jobs[n - 1];
            format!("held by job j{n} (cookie {:#x})", j.cookie)
        }
    };
    let parked = if h.parked.is_some() { ", parked" } else { "" };
    format!("{lane}: {who}{parked}; ended {}", h.ended)
}

/// Text wrapped to `width` columns, breaking at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut cur = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push(cur);
                cur = format!("{indent}    ");
            } else if !cur.is_empty() && cur.trim() != "" {
                cur.push(' ');
            } else if cur.is_empty() {
                cur.push_str(&indent);
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}

/// The timeline of a run as a standalone SVG document, its diagnosis
/// written under it when `diagnosis`.
pub fn svg(t: &Timeline, diagnosis: bool) -> String {
    let l = Layout::new(t);
    let pw = l.plot_w();
    let width = (LEFT + pw + 20.0).max(MIN_WIDTH);
    // Vertical layout, top to bottom.
    let mut y = 22.0;
    let overview = l.windowed().then(|| {
        let top = y;
        y += 34.0;
        top
    });
    let axis_y = y;
    y += 40.0;
    let lanes_top = y;
    struct LaneBox {
        y: f64,
        h: f64,
    }
    let mut job_lanes = Vec::new();
    let mut ready_lanes = Vec::new();
    let mut buf_lanes = Vec::new();
    let mut ctxs: Vec<u32> = t.bufs.iter().map(|b| b.buf.ctx).collect();
    ctxs.extend(t.jobs.iter().map(|j| j.ctx));
    ctxs.sort();
    ctxs.dedup();
    for &c in &ctxs {
        if let Some(&rows) = t.job_rows.get(&c) {
            let h = rows as f64 * ROW + 2.0;
            job_lanes.push((c, LaneBox { y, h }));
            y += h + LANE_GAP;
        }
        for q in [Queue::Output, Queue::Capture] {
            if let Some(r) = t.ready.iter().position(|r| r.ctx == c && r.queue == q) {
                ready_lanes.push((r, LaneBox { y, h: ROW + 2.0 }));
                y += ROW + 2.0 + LANE_GAP;
            }
            for (i, b) in t.bufs.iter().enumerate() {
                if b.buf.ctx == c && b.buf.queue == q {
                    let h = BAND + 1.0 + b.rows as f64 * ROW;
                    buf_lanes.push((i, LaneBox { y, h }));
                    y += h + LANE_GAP;
                }
            }
        }
    }
    let lanes_bottom = y;
    y += 6.0;
    let marks_y = y;
    y += if t.marks.is_empty() { 0.0 } else { 30.0 };
    let legend_y = y;
    y += 56.0;
    let diag: Vec<String> = t
        .diagnosis
        .as_deref()
        .filter(|_| diagnosis)
        .map(|d| wrap(d, WRAP))
        .unwrap_or_default();
    let diag_y = y;
    y += diag.len() as f64 * 13.0 + 10.0;
    let height = y;
    let right = LEFT + pw;
    let title = match t.invariant {
        Some(inv) => format!(
            "violation: {inv}, at line {}",
            t.marks.last().map_or(0, |m| m.line)
        ),
        None => format!("clean run of {} events", t.events),
    };
    let jobs_by_ctx = |c: u32| t.jobs.iter().filter(move |j| j.ctx == c);
    // Holds of one buffer that overlap another of its holds.
    let overlaps = |hs: &[Hold], h: &Hold| {
        hs.iter()
            .filter(|o| !std::ptr::eq(*o, h))
            .any(|o| o.from < h.to && h.from < o.to)
    };
    let clip = "clip-plot";
    let doc: Markup = html! {
        svg xmlns="http://www.w3.org/2000/svg" class="daedalus-timeline"
            width=(f(width)) height=(f(height)) viewBox=(format!("0 0 {} {}", f(width), f(height)))
            font-family="DejaVu Sans Mono, monospace" font-size="11" {
            title { "daedalus timeline: " (title) }
            defs {
                clipPath id=(clip) {
                    rect x=(f(LEFT)) y="0" width=(f(pw)) height=(f(height)) {}
                }
                pattern id="not-run" width="6" height="6" patternUnits="userSpaceOnUse" {
                    path d="M0 6 L6 0" stroke="#bbb" stroke-width="1" {}
                }
            }
            rect width=(f(width)) height=(f(height)) fill="white" {}
            text x="4" y="15" font-weight="bold" { (title) }
            @if let Some(top) = overview {
                // The whole run, one pixel column per position.
                @let scale = pw / (t.events + 1) as f64;
                @let wx = |p: usize| LEFT + p as f64 * scale;
                g.overview {
                    text x="4" y=(f(top + 14.0)) { "whole run" }
                    rect x=(f(LEFT)) y=(f(top + 4.0)) width=(f(pw)) height="14" fill="#f4f4f4" stroke="#999" {}
                    @for j in &t.jobs {
                        line x1=(f(wx(j.run.pos))) x2=(f(wx(j.run.pos))) y1=(f(top + 6.0)) y2=(f(top + 16.0)) stroke=(C_JOB) {}
                    }
                    @for m in &t.marks {
                        line x1=(f(wx(m.pos))) x2=(f(wx(m.pos))) y1=(f(top + 2.0)) y2=(f(top + 20.0))
                            stroke=(if m.what == "broke" { C_BROKE } else { C_SETUP }) stroke-width="2" {}
                    }
                    @let a = l.cols[l.from].first;
                    @let b = l.cols[l.to - 1].last + 1;
                    rect.window x=(f(wx(a))) y=(f(top + 2.0)) width=(f(((b - a) as f64 * scale).max(2.0))) height="18"
                        fill="none" stroke="black" stroke-width="1.5" {}
                    text x=(f(LEFT)) y=(f(top + 31.0)) fill="#444" {
                        (format!("{} events; lines {} to {} drawn below", t.events, l.line_of(a), l.line_of(b.min(t.events + 1) - 1)))
                    }
                }
            }
            // The axis: each column's scenario line, rotated.
            g.axis {
                text x="4" y=(f(axis_y + 30.0)) { "scenario line" }
                @for c in l.from..l.to {
                    @let col = &l.cols[c];
                    @let cx = l.col_x(c) + col.w / 2.0 + 3.5;
                    @if col.idle {
                        text x=(f(cx)) y=(f(axis_y + 36.0)) transform=(format!("rotate(-90 {} {})", f(cx), f(axis_y + 36.0))) fill="#888" {
                            title { (format!("lines {} to {}: {} events that moved no buffer", l.line_of(col.first), l.line_of(col.last), col.last - col.first + 1)) }
                            "…"
                        }
                    } @else {
                        text x=(f(cx)) y=(f(axis_y + 36.0)) transform=(format!("rotate(-90 {} {})", f(cx), f(axis_y + 36.0))) {
                            title { (l.event_text(col.first)) }
                            (l.line_of(col.first))
                        }
                    }
                }
            }
            // Column guides, events the run never reached, the marks.
            g clip-path=(format!("url(#{clip})")) {
                @for c in l.from..l.to {
                    @let col = &l.cols[c];
                    @if col.first >= t.events_run && col.first < t.events {
                        rect.not-run x=(f(l.col_x(c))) y=(f(lanes_top)) width=(f(col.w)) height=(f(lanes_bottom - lanes_top)) fill="url(#not-run)" {}
                    }
                    line x1=(f(l.col_x(c))) x2=(f(l.col_x(c))) y1=(f(lanes_top)) y2=(f(lanes_bottom)) stroke="#eee" {}
                }
                @for m in &t.marks {
                    @let c = l.col_of[m.pos.min(t.events)];
                    @let color = if m.what == "broke" { C_BROKE } else { C_SETUP };
                    rect class=(if m.what == "broke" { "mark mark-broke" } else { "mark mark-setup" })
                        x=(f(l.col_x(c))) y=(f(axis_y)) width=(f(l.cols[c].w)) height=(f(lanes_bottom - axis_y + 8.0))
                        fill=(color) fill-opacity="0.12" stroke=(color) stroke-width="1.5" {
                        title { (m.what) ": " (l.event_text(m.pos)) }
                    }
                }
            }
            // Lane labels and separators.
            @for (c, b) in &job_lanes {
                text.lane-label x="4" y=(f(b.y + 10.0)) { (format!("ctx {c} jobs")) }
            }
            @for (r, b) in &ready_lanes {
                @let lane = &t.ready[*r];
                text.lane-label x="4" y=(f(b.y + 10.0)) fill="#1b6f68" {
                    (format!("ctx {} {} ready", lane.ctx, lane.queue.v4l2_name()))
                }
            }
            @for (i, b) in &buf_lanes {
                @let lane = &t.bufs[*i];
                text.lane-label x="14" y=(f(b.y + 10.0)) {
                    (format!("{} #{}", lane.buf.queue.v4l2_name(), lane.buf.index))
                }
                line x1=(f(LEFT)) x2=(f(right)) y1=(f(b.y + b.h + LANE_GAP / 2.0)) y2=(f(b.y + b.h + LANE_GAP / 2.0)) stroke="#f0f0f0" {}
            }
            g clip-path=(format!("url(#{clip})")) {
                // Jobs: device_run to job_finish, then on to the picture.
                @for (c, b) in &job_lanes {
                    @for j in jobs_by_ctx(*c) {
                        @let end = j.picture.map_or(j.finish, |p| p.0.max(j.finish));
                        @if l.visible(j.run, end) {
                            @let y = b.y + 1.0 + j.row as f64 * ROW;
                            @let (x1, x2) = (l.x(j.run), l.x(j.finish));
                            g.job {
                                title {
                                    (format!("job j{} cookie {:#x}: device_run at {}; job_finish ({}) at {}{}", j.n, j.cookie,
                                        l.event_text(j.run.pos), j.reason,
                                        if j.reason == "open" { "never".to_owned() } else { l.event_text(j.finish.pos) },
                                        j.picture.map(|(p, s)| format!("; picture {s} at {}", l.event_text(p.pos))).unwrap_or_default()))
                                }
                                rect x=(f(x1)) y=(f(y + 1.0)) width=(f((x2 - x1).max(2.0))) height=(f(ROW - 2.0)) fill=(C_JOB) {}
                                @if let Some((p, s)) = j.picture {
                                    @if p > j.finish {
                                        line x1=(f(x2)) x2=(f(l.x(p))) y1=(f(y + ROW / 2.0)) y2=(f(y + ROW / 2.0)) stroke=(C_JOB) stroke-dasharray="3 2" {}
                                    }
                                    circle cx=(f(l.x(p))) cy=(f(y + ROW / 2.0)) r="3" fill=(if s == "ERROR" { C_ERROR } else { C_DONE }) {}
                                }
                                @if x2 - x1 > 18.0 {
                                    text x=(f(x1 + 2.0)) y=(f(y + 9.0)) fill="white" font-size="9" { "j" (j.n) }
                                }
                            }
                        }
                    }
                }
                // Ready queues: how many buffers are linked; red where a
                // linked buffer is also held by a job.
                @for (r, b) in &ready_lanes {
                    @let lane = &t.ready[*r];
                    @let max = lane.steps.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f64;
                    @for (k, s) in lane.steps.iter().enumerate() {
                        @let to = lane.steps.get(k + 1).map_or(t.end, |n| n.0);
                        @if s.1 > 0 && l.visible(s.0, to) {
                            @let (x1, x2) = (l.x(s.0), l.x(to));
                            @let h = ROW * s.1 as f64 / max;
                            @let hb = ROW * s.2 as f64 / max;
                            g.ready {
                                title { (format!("ctx {} {} ready queue: {} buffer(s){}", lane.ctx, lane.queue.v4l2_name(), s.1,
                                    if s.2 > 0 { format!(", {} of them also held by a job", s.2) } else { String::new() })) }
                                rect x=(f(x1)) y=(f(b.y + 1.0 + ROW - h)) width=(f((x2 - x1).max(1.0))) height=(f(h)) fill=(C_READY) fill-opacity="0.55" {}
                                @if s.2 > 0 {
                                    rect.double-owner x=(f(x1)) y=(f(b.y + 1.0 + ROW - hb)) width=(f((x2 - x1).max(1.0))) height=(f(hb)) fill=(C_BROKE) {}
                                }
                            }
                        }
                    }
                }
                // Buffers: the client-side band, then each owner's hold.
                @for (i, b) in &buf_lanes {
                    @let lane = &t.bufs[*i];
                    @let name = lane.buf.to_string();
                    @for s in &lane.side {
                        @let fill = match s.side {
                            Side::User => Some((C_USER, "with the user")),
                            Side::Queued => Some((C_QUEUED, "queued, not streaming")),
                            Side::Done(false) => Some((C_DONE, "done DONE, waiting for DQBUF")),
                            Side::Done(true) => Some((C_ERROR, "done ERROR, waiting for DQBUF")),
                            Side::Driver | Side::Freed => None,
                        };
                        @if let Some((color, what)) = fill {
                            @if l.visible(s.from, s.to) {
                                rect.side x=(f(l.x(s.from))) y=(f(b.y)) width=(f((l.x(s.to) - l.x(s.from)).max(1.0))) height=(f(BAND)) fill=(color) {
                                    title { (name) ": " (what) }
                                }
                            }
                        }
                    }
                    @for h in &lane.holds {
                        @if l.visible(h.from, h.to) {
                            @let y = b.y + BAND + 1.0 + h.row as f64 * ROW;
                            @let (x1, x2) = (l.x(h.from), l.x(h.to));
                            @let xp = h.parked.map(|p| l.x(p));
                            @let double = overlaps(&lane.holds, h);
                            g class=(if double { "hold double-owner" } else { "hold" }) {
                                title { (hold_title(t, &name, h)) }
                                @match h.holder {
                                    Holder::Ready => {
                                        rect x=(f(x1)) y=(f(y + 1.0)) width=(f((x2 - x1).max(2.0))) height=(f(ROW - 2.0)) fill=(C_READY) {}
                                    }
                                    Holder::Job(n) => {
                                        @let split = xp.unwrap_or(x2);
                                        rect x=(f(x1)) y=(f(y + 1.0)) width=(f((split - x1).max(2.0))) height=(f(ROW - 2.0)) fill=(C_CLAIMED) {}
                                        @if let Some(xp) = xp {
                                            rect x=(f(xp)) y=(f(y + 1.0)) width=(f((x2 - xp).max(2.0))) height=(f(ROW - 2.0)) fill=(C_PARKED) {}
                                        }
                                        @if x2 - x1 > 18.0 {
                                            text x=(f(x1 + 2.0)) y=(f(y + 9.0)) fill="white" font-size="9" { "j" (n) }
                                        }
                                    }
                                }
                                @if double {
                                    rect x=(f(x1 - 0.5)) y=(f(y + 0.5)) width=(f((x2 - x1).max(2.0) + 1.0)) height=(f(ROW - 1.0))
                                        fill="none" stroke=(C_BROKE) stroke-width="1.5" {}
                                }
                                @if h.ended == "ERROR" {
                                    rect x=(f(x2 - 3.0)) y=(f(y + 1.0)) width="3" height=(f(ROW - 2.0)) fill=(C_ERROR) {}
                                }
                            }
                        }
                    }
                }
            }
            // The marks' labels, under the lanes.
            @for (k, m) in t.marks.iter().enumerate() {
                @let c = l.col_of[m.pos.min(t.events)];
                @let x = (l.col_x(c) + l.cols[c].w / 2.0).clamp(LEFT, right);
                @let color = if m.what == "broke" { C_BROKE } else { C_SETUP };
                @let ly = marks_y + 11.0 + k as f64 * 13.0;
                g class=(if m.what == "broke" { "mark-label mark-label-broke" } else { "mark-label mark-label-setup" }) {
                    line x1=(f(x)) x2=(f(x)) y1=(f(lanes_bottom)) y2=(f(ly - 9.0)) stroke=(color) {}
                    text x=(f(x.min(width - 8.0 * (m.text.len() as f64 + 24.0)).max(4.0))) y=(f(ly)) fill=(color) font-weight="bold" {
                        (m.what) " · line " (m.line) ": " (m.text)
                    }
                }
            }
            // Legend.
            g.legend {
                @let items: [(&str, &str, bool); 10] = [
                    (C_USER, "with the user", false), (C_QUEUED, "queued (not streaming)", false),
                    (C_READY, "on the ready queue", false), (C_CLAIMED, "claimed by job jN", false),
                    (C_PARKED, "parked for job jN", false), (C_DONE, "done DONE", false),
                    (C_ERROR, "done ERROR", false), (C_JOB, "job jN running, - - its picture", false),
                    (C_BROKE, "two owners at once", true), (C_SETUP, "set up", true),
                ];
                @for (k, (color, what, outline)) in items.iter().enumerate() {
                    @let x = 4.0 + (k % 4) as f64 * 232.0;
                    @let ly = legend_y + (k / 4) as f64 * 16.0;
                    @if *outline {
                        rect x=(f(x)) y=(f(ly)) width="18" height="10" fill="none" stroke=(color) stroke-width="1.5" {}
                    } @else {
                        rect x=(f(x)) y=(f(ly)) width="18" height="10" fill=(color) {}
                    }
                    text x=(f(x + 24.0)) y=(f(ly + 9.0)) { (what) }
                }
            }
            @if !diag.is_empty() {
                text.diagnosis x="4" y=(f(diag_y)) {
                    @for (k, line) in diag.iter().enumerate() {
                        tspan x="4" dy=(if k == 0 { "0" } else { "13" }) style="white-space:pre" { (line) }
                    }
                }
            }
        }
    };
    // One element a line, so a change reads as a diff of lines.
    let mut out = doc.into_string();
    for tag in [
        "</g>",
        "</rect>",
        "</line>",
        "</circle>",
        "</text>",
        "</defs>",
    ] {
        out = out.replace(&format!("{tag}<"), &format!("{tag}\n<"));
    }
    out.replace("><g", ">\n<g") + "\n"
}
