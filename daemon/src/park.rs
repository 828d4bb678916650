//! The dst side of a session: parked CAPTURE buffers in job order, pictures
//! waiting for a buffer, and the drain and format-change sequences that
//! need buffers of their own. Backends feed it pictures in display order
//! and take `SessionEvent`s out.
//!
//! At a format change the spare dsts are not returned: a client takes an
//! ERROR buffer before the LAST for a decode error, and the kernel takes
//! them back itself when the client streams CAPTURE off (REQ_CAPTURE_OFF).
//! Until then they are retired: no picture of the new format goes to them.

use std::collections::VecDeque;

use daedalus_proto::{
    FRAME_ERROR, FRAME_HAS_PIXELS, FRAME_LAST, FRAME_SRC_CONSUMED, Pixfmt, SessionErrorCode,
};

use crate::backend::{Dst, FrameData, Picture, SessionEvent, StreamFormat, lay_out};

#[derive(Debug)]
enum Pending {
    /// A picture in the session's pixel format, laid out when a dst takes
    /// it.
    Picture {
        timestamp: u64,
        picture: Box<dyn Picture>,
        error: bool,
    },
    /// A format the kernel's CAPTURE format holds: needs no buffer.
    Format { cookie: u64, format: StreamFormat },
    /// A new format: STREAM_INFO, then the newest parked dst goes back
    /// with LAST; the others retire. With `after`, only a dst parked after
    /// the change was found may take the LAST (`park_seq` beyond it).
    FormatChange {
        cookie: u64,
        format: StreamFormat,
        after: Option<u64>,
    },
    /// The end of a drain: one empty dst with LAST.
    Last,
}

/// Parked dsts and what waits for them.
#[derive(Debug)]
pub struct Parking {
    /// Parked dsts beyond this many, with no picture waiting, go back empty.
    limit: usize,
    dsts: VecDeque<Dst>,
    /// Spare dsts of the CAPTURE allocation before a format change's LAST:
    /// claimed in the kernel until CAPTURE STREAMOFF, never written to.
    retired: Vec<Dst>,
    /// Bytes of one picture of the current format.
    picture_size: usize,
    /// The CAPTURE format's layout, which pictures are written in.
    pixfmt: Pixfmt,
    pending: VecDeque<Pending>,
    events: VecDeque<SessionEvent>,
    /// More pictures are on their way (a source still being decoded):
    /// parked dsts wait for them instead of going back empty.
    hold: bool,
    /// A format change's LAST went out without the SRC_CONSUMED of a
    /// running job, and the kernel has not been heard to go on since
    /// (REQ_CAPTURE_OFF, a source): the dst of a capture-only job arriving
    /// now may have been claimed before the kernel saw the LAST, from the
    /// old CAPTURE allocation.
    stopped: bool,
    /// How many dsts `park` took: the newest parked dst, if any, is the
    /// `park_seq`th.
    park_seq: u64,
}

impl Default for Parking {
    fn default() -> Self {
        Self {
            limit: 8,
            dsts: VecDeque::new(),
            retired: Vec::new(),
            picture_size: 0,
            pixfmt: Pixfmt::Nv12,
            pending: VecDeque::new(),
            events: VecDeque::new(),
            hold: false,
            stopped: false,
            park_seq: 0,
        }
    }
}

/// Bytes of one picture of `format` (NV12 and I420 alike).
fn picture_size(format: &StreamFormat) -> usize {
    format.coded_width as usize * format.coded_height as usize * 3 / 2
}

impl Parking {
    /// Parking for a session whose CAPTURE format is `pixfmt`.
    pub fn new(pixfmt: Pixfmt) -> Self {
        Self {
            pixfmt,
            ..Self::default()
        }
    }

    /// The CAPTURE format's pixel format: the layout pictures go out in,
    /// and the one STREAM_INFO names.
    pub fn pixfmt(&self) -> Pixfmt {
        self.pixfmt
    }

    /// The CAPTURE format changed (REQ_CAPTURE_FMT): pictures not yet
    /// written are laid out in `pixfmt`.
    pub fn set_pixfmt(&mut self, pixfmt: Pixfmt) {
        self.pixfmt = pixfmt;
    }

    /// Parks a job's dst until a picture fills it. Every job brings a dst
    /// but a picture may take several jobs' bitstream: a dst beyond the
    /// limit (the stream's DPB size) goes back at once, empty, so the
    /// kernel never runs out of CAPTURE buffers while the decoder waits
    /// for more bitstream.
    ///
    /// A dst that arrives while dsts are retired, with no REQ_CAPTURE_OFF
    /// in between, proves the client resumed on the same allocation
    /// (V4L2_DEC_CMD_START instead of a reallocation; the LAST carried the
    /// last job's SRC_CONSUMED, so no job of the old allocation can still
    /// come): the retired dsts are live again.
    pub fn park(&mut self, dst: Dst) {
        self.resume();
        self.dsts.push_back(dst);
        self.park_seq += 1;
        self.pump();
        self.trim();
    }

    /// Parks the dst of a capture-only job (a drain's). After a format
    /// change's LAST that went without a running job's SRC_CONSUMED,
    /// before the kernel is heard to go on, it may be one the kernel
    /// claimed before it saw the LAST: retired with the old allocation's
    /// spares, so no picture of the new format goes into it. (A client
    /// resuming with V4L2_DEC_CMD_START on the same buffers and draining
    /// at once, with no source in between, then drains no further.)
    pub fn park_capture_only(&mut self, dst: Dst) {
        if self.stopped {
            self.retired.push(dst);
        } else {
            self.park(dst);
        }
    }

    /// The kernel went on after a format change's LAST on the same CAPTURE
    /// allocation (a source after V4L2_DEC_CMD_START): the retired dsts are
    /// live again.
    fn resume(&mut self) {
        self.stopped = false;
        self.unretire();
    }

    /// Whether pictures are on their way without more bitstream (the rest
    /// of a source being decoded): while they are, no parked dst goes back
    /// empty; when they are no longer, the surplus goes back.
    pub fn hold(&mut self, hold: bool) {
        self.hold = hold;
        self.trim();
    }

    /// Returns the dsts beyond the limit, empty, when no picture waits and
    /// none is on its way. The oldest goes back, so the newest (the current
    /// job's) can still take a format change's LAST along with its
    /// SRC_CONSUMED.
    fn trim(&mut self) {
        while !self.hold && self.pending.is_empty() && self.dsts.len() > self.limit {
            let surplus = self.dsts.pop_front().expect("len > limit");
            self.pixels(surplus, 0, 0, FrameData::Inline(Vec::new()));
        }
    }

    /// Back to the parked FIFO, as its oldest; those too small for the new
    /// format go back empty (not ERROR: nothing went wrong).
    fn unretire(&mut self) {
        for dst in std::mem::take(&mut self.retired).into_iter().rev() {
            if (dst.size as usize) < self.picture_size {
                self.pixels(dst, 0, 0, FrameData::Inline(Vec::new()));
            } else {
                self.dsts.push_front(dst);
            }
        }
    }

    /// REQ_CAPTURE_OFF: the kernel took back every dst it had handed over
    /// (and ended the running job): forget them (unmapped, untouched) and
    /// anything not yet sent about them. Pictures keep waiting, for the
    /// dsts of later jobs.
    pub fn capture_off(&mut self) {
        self.stopped = false;
        self.dsts.clear();
        self.retired.clear();
        self.events
            .retain(|e| !matches!(e, SessionEvent::Frame { .. }));
    }

    /// Sets how many dsts may stay parked with no picture for them.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Whether job `cookie`'s dst went into a LAST not sent yet: the
    /// kernel stops at it, and its SRC_CONSUMED can join it.
    pub fn last_of(&self, cookie: u64) -> bool {
        self.events.iter().any(|e| {
            matches!(e, SessionEvent::Frame { cookie: c, flags, .. }
                if *c == cookie && *flags & FRAME_LAST != 0)
        })
    }

    /// Reports that job `cookie`'s source is consumed.
    pub fn src_consumed(&mut self, cookie: u64, error: bool) {
        self.src_consumed_at(self.events.len(), cookie, error);
    }

    /// Where the events of what happens next begin, for `src_consumed_at`.
    pub fn mark(&self) -> usize {
        self.events.len()
    }

    /// Reports a consumed source ahead of the events queued since `mark`
    /// (the pictures its decoding produced): the kernel can then finish the
    /// job and send the next one while it still reads those pictures.
    ///
    /// If the job's dst carries a LAST not yet sent, SRC_CONSUMED goes in
    /// that message instead: the kernel stops at the LAST before it finishes
    /// the job, so no job of the old CAPTURE allocation runs after it. A
    /// source error then goes unflagged (logged): a LAST buffer with ERROR
    /// reads as a failed decode.
    pub fn src_consumed_at(&mut self, mark: usize, cookie: u64, error: bool) {
        let last = self.events.iter_mut().find_map(|e| match e {
            SessionEvent::Frame {
                cookie: c, flags, ..
            } if *c == cookie && *flags & FRAME_LAST != 0 => Some(flags),
            _ => None,
        });
        if let Some(flags) = last {
            if error {
                tracing::warn!(
                    cookie,
                    "source error not flagged: it rides on a LAST buffer"
                );
            }
            *flags |= FRAME_SRC_CONSUMED;
            // The job ran until the kernel saw this LAST: it claimed no
            // dst before it.
            self.stopped = false;
            return;
        }
        let flags = FRAME_SRC_CONSUMED | if error { FRAME_ERROR } else { 0 };
        let ev = SessionEvent::Frame {
            cookie,
            flags,
            timestamp: 0,
            data: FrameData::Inline(Vec::new()),
        };
        self.events.insert(mark.min(self.events.len()), ev);
    }

    /// Queues a picture (display order) for the next parked dst.
    pub fn picture<P: Picture + 'static>(&mut self, timestamp: u64, picture: P, error: bool) {
        self.pending.push_back(Pending::Picture {
            timestamp,
            picture: Box::new(picture),
            error,
        });
        self.pump();
    }

    /// Announces the stream's format. One the kernel's CAPTURE format
    /// already holds (`fits`) goes out at once, in order with the pictures;
    /// a change goes out after every picture before it, followed by a LAST
    /// buffer, and the other parked dsts retire.
    ///
    /// `fresh`: the change was found between requests, after the jobs of
    /// the parked dsts were finished; the kernel may have run another job
    /// on the old CAPTURE allocation since. Its LAST then waits for a dst
    /// parked after now (that job's, whose SRC_CONSUMED can join it).
    pub fn format(&mut self, cookie: u64, format: StreamFormat, fits: bool, fresh: bool) {
        self.pending.push_back(if fits {
            Pending::Format { cookie, format }
        } else {
            Pending::FormatChange {
                cookie,
                format,
                after: fresh.then_some(self.park_seq),
            }
        });
        self.pump();
    }

    /// Queues the end of a drain.
    pub fn last(&mut self) {
        self.pending.push_back(Pending::Last);
        self.pump();
    }

    pub fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The session cannot go on: every dst, pending picture and event is
    /// dropped (the kernel takes the buffers back at RESP_SESSION_ERROR),
    /// and that error is the only event left.
    pub fn fail(&mut self, code: SessionErrorCode) {
        self.clear();
        self.events.push_back(SessionEvent::Failed(code));
    }

    /// Forgets every dst, pending picture and event.
    pub fn clear(&mut self) {
        self.hold = false;
        self.stopped = false;
        self.dsts.clear();
        self.retired.clear();
        self.pending.clear();
        self.events.clear();
    }

    /// Pictures waiting for a dst.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    pub fn parked(&self) -> usize {
        self.dsts.len()
    }

    /// Spare dsts left parked at a format change.
    pub fn retired(&self) -> usize {
        self.retired.len()
    }

    /// Returns `dst`; a mapped one is unmapped here, before its reply is
    /// even queued.
    fn pixels(&mut self, dst: Dst, flags: u32, timestamp: u64, data: FrameData) {
        let ev = SessionEvent::Frame {
            cookie: dst.cookie,
            flags: FRAME_HAS_PIXELS | flags,
            timestamp,
            data,
        };
        self.events.push_back(ev);
    }

    fn pump(&mut self) {
        loop {
            match self.pending.front() {
                None => return,
                Some(Pending::Format { .. }) => {
                    if let Some(Pending::Format { cookie, format }) = self.pending.pop_front() {
                        self.picture_size = picture_size(&format);
                        self.events
                            .push_back(SessionEvent::StreamInfo { cookie, format });
                    }
                }
                Some(_) if self.dsts.is_empty() => return,
                Some(Pending::FormatChange {
                    after: Some(after), ..
                }) if self.park_seq <= *after => return,
                Some(Pending::FormatChange { .. }) => {
                    let Some(Pending::FormatChange { cookie, format, .. }) =
                        self.pending.pop_front()
                    else {
                        return;
                    };
                    // STREAM_INFO first: the client hears of the change
                    // (SOURCE_CHANGE) before it dequeues the LAST that ends
                    // the old format's pictures (dev-decoder.rst).
                    self.picture_size = picture_size(&format);
                    self.events
                        .push_back(SessionEvent::StreamInfo { cookie, format });
                    // The newest is the current job's, if a picture did not
                    // take it: its SRC_CONSUMED can join the LAST.
                    let dst = self.dsts.pop_back().expect("checked non-empty");
                    self.retired.extend(self.dsts.drain(..));
                    self.pixels(dst, FRAME_LAST, 0, FrameData::Inline(Vec::new()));
                    self.stopped = true;
                }
                Some(Pending::Last) => {
                    self.pending.pop_front();
                    let dst = self.dsts.pop_front().expect("checked non-empty");
                    self.pixels(dst, FRAME_LAST, 0, FrameData::Inline(Vec::new()));
                }
                Some(Pending::Picture { .. }) => {
                    let Some(Pending::Picture {
                        timestamp,
                        picture,
                        error,
                    }) = self.pending.pop_front()
                    else {
                        return;
                    };
                    let mut dst = self.dsts.pop_front().expect("checked non-empty");
                    let size = picture.size();
                    if (error && size == 0) || size > dst.size as usize {
                        if size > dst.size as usize {
                            tracing::warn!(
                                cookie = dst.cookie,
                                need = size,
                                size = dst.size,
                                "CAPTURE buffer too small for the picture"
                            );
                        }
                        self.pixels(dst, FRAME_ERROR, timestamp, FrameData::Inline(Vec::new()));
                        continue;
                    }
                    // A picture the decoder concealed goes out whole with
                    // ERROR: the client decides whether to show it.
                    let flags = if error { FRAME_ERROR } else { 0 };
                    let data = lay_out(picture, &mut dst, self.pixfmt);
                    self.pixels(dst, flags, timestamp, data);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daedalus_proto::Pixfmt;

    fn dst(cookie: u64) -> Dst {
        Dst {
            cookie,
            index: cookie as u32,
            size: 100,
            map: None,
        }
    }

    fn fmt(w: u32) -> StreamFormat {
        StreamFormat {
            coded_width: w,
            coded_height: 16,
            visible_width: w,
            visible_height: 16,
            pixfmt: Pixfmt::Nv12,
            dpb_size: 4,
        }
    }

    fn drain(p: &mut Parking) -> Vec<SessionEvent> {
        std::iter::from_fn(|| p.next_event()).collect()
    }

    #[test]
    fn pictures_wait_for_dsts_and_fill_them_in_job_order() {
        let mut p = Parking::default();
        p.picture(7, vec![1; 10], false);
        assert!(drain(&mut p).is_empty());
        p.park(dst(1));
        p.park(dst(2));
        p.picture(9, vec![2; 10], false);
        let ev = drain(&mut p);
        assert_eq!(
            ev,
            vec![
                SessionEvent::Frame {
                    cookie: 1,
                    flags: FRAME_HAS_PIXELS,
                    timestamp: 7,
                    data: vec![1; 10].into()
                },
                SessionEvent::Frame {
                    cookie: 2,
                    flags: FRAME_HAS_PIXELS,
                    timestamp: 9,
                    data: vec![2; 10].into()
                },
            ]
        );
    }

    #[test]
    fn too_small_dst_is_an_error_buffer() {
        let mut p = Parking::default();
        p.park(dst(1));
        p.picture(3, vec![0; 101], false);
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 1,
                flags: FRAME_HAS_PIXELS | FRAME_ERROR,
                timestamp: 3,
                data: vec![].into()
            }]
        );
    }

    /// After a format change's LAST, a capture-only job's dst was claimed
    /// before the kernel saw it: it takes no picture of the new format
    /// until the kernel is heard to go on (here REQ_CAPTURE_OFF).
    #[test]
    fn a_capture_only_dst_after_a_change_waits_for_the_kernel_to_go_on() {
        let mut p = Parking::default();
        p.park(dst(1));
        p.format(1, fmt(32), false, false);
        let ev = drain(&mut p);
        assert!(
            matches!(ev.last(), Some(SessionEvent::Frame { cookie: 1, flags, .. })
            if *flags == FRAME_HAS_PIXELS | FRAME_LAST)
        );
        p.picture(5, vec![7; 10], false);
        p.park_capture_only(dst(2));
        assert!(drain(&mut p).is_empty(), "an old dst takes a new picture");
        assert_eq!(p.retired(), 1);
        p.capture_off();
        p.park_capture_only(dst(3));
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 3,
                flags: FRAME_HAS_PIXELS,
                timestamp: 5,
                data: vec![7; 10].into()
            }]
        );
    }

    /// A change's LAST that carries its running job's SRC_CONSUMED stops
    /// the kernel before it can claim another dst: a capture-only dst
    /// after it is a new one (here: a client that resumed and drains).
    #[test]
    fn a_capture_only_dst_after_a_last_with_src_consumed_is_used() {
        let mut p = Parking::default();
        p.park(dst(1));
        let mark = p.mark();
        p.format(1, fmt(32), false, false);
        p.src_consumed_at(mark, 1, false);
        let ev = drain(&mut p);
        assert!(
            matches!(ev.last(), Some(SessionEvent::Frame { cookie: 1, flags, .. })
            if *flags == FRAME_HAS_PIXELS | FRAME_LAST | FRAME_SRC_CONSUMED)
        );
        p.picture(5, vec![7; 10], false);
        p.park_capture_only(dst(2));
        assert_eq!(drain(&mut p).len(), 1, "the picture goes to dst 2");
    }

    /// A change found between requests waits for a dst parked after it:
    /// the older ones belong to jobs the kernel finished, and it may have
    /// run another on the old allocation since; that one's dst takes the
    /// LAST, the older ones retire.
    #[test]
    fn a_fresh_change_takes_only_a_dst_parked_after_it() {
        let mut p = Parking::default();
        p.park(dst(1));
        p.park(dst(2));
        p.picture(3, vec![1; 10], false);
        p.format(2, fmt(32), false, true);
        p.picture(4, vec![2; 10], false);
        let ev = drain(&mut p);
        assert_eq!(ev.len(), 1, "the old picture goes to dst 1: {ev:?}");
        assert_eq!(
            (p.parked(), p.waiting()),
            (1, 2),
            "dst 2 waits, so does the change"
        );
        p.park(dst(3));
        let ev = drain(&mut p);
        assert!(matches!(ev[0], SessionEvent::StreamInfo { .. }));
        assert!(matches!(ev[1], SessionEvent::Frame { cookie: 3, flags, .. }
            if flags == FRAME_HAS_PIXELS | FRAME_LAST));
        assert_eq!(ev.len(), 2);
        assert_eq!((p.parked(), p.retired(), p.waiting()), (0, 1, 1));
    }

    /// A concealed picture keeps its pixels; an error with none is an
    /// empty ERROR buffer.
    #[test]
    fn an_error_picture_goes_out_with_its_pixels() {
        let mut p = Parking::default();
        p.park(dst(1));
        p.park(dst(2));
        p.picture(3, vec![7; 10], true);
        p.picture(4, Vec::new(), true);
        assert_eq!(
            drain(&mut p),
            vec![
                SessionEvent::Frame {
                    cookie: 1,
                    flags: FRAME_HAS_PIXELS | FRAME_ERROR,
                    timestamp: 3,
                    data: vec![7; 10].into()
                },
                SessionEvent::Frame {
                    cookie: 2,
                    flags: FRAME_HAS_PIXELS | FRAME_ERROR,
                    timestamp: 4,
                    data: vec![].into()
                }
            ]
        );
    }

    fn frames(ev: &[SessionEvent]) -> Vec<(u64, u32)> {
        ev.iter()
            .filter_map(|e| match e {
                SessionEvent::Frame { cookie, flags, .. } => Some((*cookie, *flags)),
                _ => None,
            })
            .collect()
    }

    /// Dsts 1..=3 parked under a 16-wide format, one picture of it pending
    /// and the 32-wide format found while job 3 decodes.
    fn changed() -> (Parking, Vec<SessionEvent>) {
        let mut p = Parking::default();
        p.format(5, fmt(16), true, false);
        p.park(dst(1));
        p.park(dst(2));
        p.park(dst(3));
        let mark = p.mark();
        p.picture(1, vec![0; 4], false);
        p.format(6, fmt(32), false, false);
        p.picture(2, vec![0; 8], false);
        p.src_consumed_at(mark, 3, false);
        let ev = drain(&mut p);
        (p, ev)
    }

    #[test]
    fn format_change_sends_last_with_the_jobs_src_and_retires_the_spares() {
        let (p, ev) = changed();
        assert_eq!(
            frames(&ev),
            vec![
                (1, FRAME_HAS_PIXELS),
                (3, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_LAST)
            ],
            "no ERROR buffer; the LAST carries the job's SRC_CONSUMED"
        );
        assert_eq!(
            ev[0],
            SessionEvent::StreamInfo {
                cookie: 5,
                format: fmt(16)
            }
        );
        // The change's STREAM_INFO goes ahead of its LAST: the client hears
        // of it before it dequeues the LAST buffer.
        assert_eq!(
            ev[2],
            SessionEvent::StreamInfo {
                cookie: 6,
                format: fmt(32)
            }
        );
        assert!(
            matches!(ev[3], SessionEvent::Frame { cookie: 3, flags, .. } if flags & FRAME_LAST != 0),
            "{ev:?}"
        );
        assert_eq!((p.parked(), p.retired()), (0, 1), "dst 2 is retired");
        assert_eq!(p.waiting(), 1, "the new format's picture waits");
    }

    #[test]
    fn capture_off_forgets_the_retired_dsts_and_new_pictures_go_to_new_ones() {
        let (mut p, _) = changed();
        p.capture_off();
        assert_eq!((p.parked(), p.retired(), p.waiting()), (0, 0, 1));
        p.park(dst(7));
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 7,
                flags: FRAME_HAS_PIXELS,
                timestamp: 2,
                data: vec![0; 8].into()
            }]
        );
    }

    #[test]
    fn a_dst_without_capture_off_brings_the_retired_ones_back() {
        // DEC_CMD_START: the client goes on with the same buffers; those too
        // small for the new format go back empty, without ERROR.
        let (mut p, _) = changed();
        p.park(Dst {
            cookie: 8,
            index: 8,
            size: 10_000,
            map: None,
        });
        let ev = drain(&mut p);
        assert_eq!(
            frames(&ev),
            vec![(2, FRAME_HAS_PIXELS), (8, FRAME_HAS_PIXELS)]
        );
        assert!(matches!(&ev[0], SessionEvent::Frame { data, .. } if data.bytesused() == 0));
        assert!(
            matches!(&ev[1], SessionEvent::Frame { timestamp: 2, data, .. } if data.bytesused() == 8)
        );
        assert_eq!((p.parked(), p.retired()), (0, 0));
    }

    #[test]
    fn a_source_error_does_not_make_the_last_buffer_an_error() {
        let mut p = Parking::default();
        p.format(5, fmt(16), true, false);
        p.park(dst(1));
        let mark = p.mark();
        p.format(6, fmt(32), false, false);
        p.src_consumed_at(mark, 1, true);
        assert_eq!(
            frames(&drain(&mut p)),
            vec![(1, FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS | FRAME_LAST)]
        );
    }

    #[test]
    fn surplus_dsts_go_back_oldest_first() {
        let mut p = Parking::default();
        p.set_limit(2);
        for c in 1..=4 {
            p.park(dst(c));
        }
        assert_eq!(
            frames(&drain(&mut p)),
            vec![(1, FRAME_HAS_PIXELS), (2, FRAME_HAS_PIXELS)]
        );
        assert_eq!(p.parked(), 2);
    }

    #[test]
    fn drain_ends_with_an_empty_last_buffer() {
        let mut p = Parking::default();
        p.picture(1, vec![0; 4], false);
        p.last();
        p.park(dst(1));
        assert_eq!(drain(&mut p).len(), 1);
        p.park(dst(2));
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 2,
                flags: FRAME_HAS_PIXELS | FRAME_LAST,
                timestamp: 0,
                data: vec![].into()
            }]
        );
        p.src_consumed(9, true);
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 9,
                flags: FRAME_SRC_CONSUMED | FRAME_ERROR,
                timestamp: 0,
                data: vec![].into()
            }]
        );
    }

    #[test]
    fn src_consumed_goes_ahead_of_the_pictures_its_decode_made() {
        let mut p = Parking::default();
        p.park(dst(1));
        let mark = p.mark();
        p.picture(5, vec![0; 4], false);
        p.src_consumed_at(mark, 1, false);
        let ev = drain(&mut p);
        assert!(matches!(
            ev[0],
            SessionEvent::Frame {
                cookie: 1,
                flags: FRAME_SRC_CONSUMED,
                ..
            }
        ));
        assert!(matches!(
            ev[1],
            SessionEvent::Frame {
                cookie: 1,
                flags: FRAME_HAS_PIXELS,
                timestamp: 5,
                ..
            }
        ));
    }

    /// A mapped dst gets the picture in its buffer and is unmapped before
    /// its event is even queued; the reply carries only the length. A
    /// mapped dst forgotten at CAPTURE off is unmapped too.
    #[test]
    fn a_mapped_dst_is_written_then_unmapped_before_its_reply() {
        use crate::mapping::{MapKind, MapSpace};
        let space = MapSpace::new();
        let mapped = |cookie: u64| {
            let off = space.lend(cookie, MapKind::Dst, 100, &[0xa5; 100]).unwrap();
            Dst {
                map: Some(space.map(off, 100, MapKind::Dst).unwrap()),
                ..dst(cookie)
            }
        };
        let mut p = Parking::default();
        p.park(mapped(1));
        p.park(mapped(2));
        assert_eq!(space.live(), 2);
        p.picture(4, vec![7; 10], false);
        assert_eq!(space.live(), 1, "dst 1 unmapped as soon as it is written");
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 1,
                flags: FRAME_HAS_PIXELS,
                timestamp: 4,
                data: FrameData::Mapped(10)
            }]
        );
        space.replied(1, FRAME_HAS_PIXELS, 10);
        assert_eq!(space.take_picture(1).unwrap(), vec![7; 10]);
        p.capture_off();
        assert_eq!((space.live(), space.take_touched()), (0, 0));
    }
}
