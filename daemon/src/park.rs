//! The dst side of a session: parked CAPTURE buffers in job order, pictures
//! waiting for a buffer, and the drain and format-change sequences that
//! need buffers of their own. Backends feed it pictures in display order
//! and take `SessionEvent`s out.

use std::collections::VecDeque;

use daedalus_proto::{FRAME_ERROR, FRAME_HAS_PIXELS, FRAME_LAST, FRAME_SRC_CONSUMED};

use crate::backend::{Dst, SessionEvent, StreamFormat};

#[derive(Debug)]
enum Pending {
    /// A picture in the session's pixel format.
    Picture {
        timestamp: u64,
        data: Vec<u8>,
        error: bool,
    },
    /// The first format of the stream: needs no buffer.
    Format { cookie: u64, format: StreamFormat },
    /// A new format: every parked dst goes back, the last one with LAST,
    /// then STREAM_INFO.
    FormatChange { cookie: u64, format: StreamFormat },
    /// The end of a drain: one empty dst with LAST.
    Last,
}

/// Parked dsts and what waits for them.
#[derive(Debug)]
pub struct Parking {
    /// Parked dsts beyond this many, with no picture waiting, go back empty.
    limit: usize,
    dsts: VecDeque<Dst>,
    pending: VecDeque<Pending>,
    events: VecDeque<SessionEvent>,
}

impl Default for Parking {
    fn default() -> Self {
        Self {
            limit: 8,
            dsts: VecDeque::new(),
            pending: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
}

impl Parking {
    /// Parks a job's dst until a picture fills it. Every job brings a dst
    /// but a picture may take several jobs' bitstream: a dst beyond the
    /// limit (the stream's DPB size) goes back at once, empty, so the
    /// kernel never runs out of CAPTURE buffers while the decoder waits
    /// for more bitstream.
    pub fn park(&mut self, dst: Dst) {
        self.dsts.push_back(dst);
        self.pump();
        if self.pending.is_empty() && self.dsts.len() > self.limit {
            let surplus = self.dsts.pop_back().expect("len > limit");
            self.pixels(surplus, 0, 0, Vec::new());
        }
    }

    /// Sets how many dsts may stay parked with no picture for them.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
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
    pub fn src_consumed_at(&mut self, mark: usize, cookie: u64, error: bool) {
        let flags = FRAME_SRC_CONSUMED | if error { FRAME_ERROR } else { 0 };
        let ev = SessionEvent::Frame {
            cookie,
            flags,
            timestamp: 0,
            data: Vec::new(),
        };
        self.events.insert(mark.min(self.events.len()), ev);
    }

    /// Queues a picture (display order) for the next parked dst.
    pub fn picture(&mut self, timestamp: u64, data: Vec<u8>, error: bool) {
        self.pending.push_back(Pending::Picture {
            timestamp,
            data,
            error,
        });
        self.pump();
    }

    /// Announces the stream's format: the first one goes out at once (in
    /// order with the pictures), a later one after every picture before it,
    /// the return of every parked dst and a LAST buffer.
    pub fn format(&mut self, cookie: u64, format: StreamFormat, first: bool) {
        self.pending.push_back(if first {
            Pending::Format { cookie, format }
        } else {
            Pending::FormatChange { cookie, format }
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

    /// Forgets every dst, pending picture and event.
    pub fn clear(&mut self) {
        self.dsts.clear();
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

    fn pixels(&mut self, dst: Dst, flags: u32, timestamp: u64, data: Vec<u8>) {
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
                        self.events
                            .push_back(SessionEvent::StreamInfo { cookie, format });
                    }
                }
                Some(_) if self.dsts.is_empty() => return,
                Some(Pending::FormatChange { .. }) => {
                    let Some(Pending::FormatChange { cookie, format }) = self.pending.pop_front()
                    else {
                        return;
                    };
                    while self.dsts.len() > 1 {
                        let dst = self.dsts.pop_front().expect("len > 1");
                        self.pixels(dst, FRAME_ERROR, 0, Vec::new());
                    }
                    let dst = self.dsts.pop_front().expect("checked non-empty");
                    self.pixels(dst, FRAME_LAST, 0, Vec::new());
                    self.events
                        .push_back(SessionEvent::StreamInfo { cookie, format });
                }
                Some(Pending::Last) => {
                    self.pending.pop_front();
                    let dst = self.dsts.pop_front().expect("checked non-empty");
                    self.pixels(dst, FRAME_LAST, 0, Vec::new());
                }
                Some(Pending::Picture { .. }) => {
                    let Some(Pending::Picture {
                        timestamp,
                        data,
                        error,
                    }) = self.pending.pop_front()
                    else {
                        return;
                    };
                    let dst = self.dsts.pop_front().expect("checked non-empty");
                    if error || data.len() > dst.size as usize {
                        if !error {
                            tracing::warn!(
                                cookie = dst.cookie,
                                need = data.len(),
                                size = dst.size,
                                "CAPTURE buffer too small for the picture"
                            );
                        }
                        self.pixels(dst, FRAME_ERROR, timestamp, Vec::new());
                    } else {
                        self.pixels(dst, 0, timestamp, data);
                    }
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
                    data: vec![1; 10]
                },
                SessionEvent::Frame {
                    cookie: 2,
                    flags: FRAME_HAS_PIXELS,
                    timestamp: 9,
                    data: vec![2; 10]
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
                data: vec![]
            }]
        );
    }

    #[test]
    fn format_change_returns_every_dst_then_info() {
        let mut p = Parking::default();
        p.format(5, fmt(16), true);
        p.park(dst(1));
        p.park(dst(2));
        p.park(dst(3));
        p.picture(1, vec![0; 4], false);
        p.format(6, fmt(32), false);
        p.picture(2, vec![0; 8], false);
        let ev = drain(&mut p);
        let flags: Vec<(u64, u32)> = ev
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Frame { cookie, flags, .. } => Some((*cookie, *flags)),
                _ => None,
            })
            .collect();
        assert_eq!(
            flags,
            vec![
                (1, FRAME_HAS_PIXELS),
                (2, FRAME_HAS_PIXELS | FRAME_ERROR),
                (3, FRAME_HAS_PIXELS | FRAME_LAST)
            ]
        );
        assert_eq!(
            ev[0],
            SessionEvent::StreamInfo {
                cookie: 5,
                format: fmt(16)
            }
        );
        assert_eq!(
            ev[4],
            SessionEvent::StreamInfo {
                cookie: 6,
                format: fmt(32)
            }
        );
        assert_eq!(
            p.waiting(),
            1,
            "the new format's picture waits for a new dst"
        );
        p.park(dst(4));
        assert_eq!(drain(&mut p).len(), 1);
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
                data: vec![]
            }]
        );
        p.src_consumed(9, true);
        assert_eq!(
            drain(&mut p),
            vec![SessionEvent::Frame {
                cookie: 9,
                flags: FRAME_SRC_CONSUMED | FRAME_ERROR,
                timestamp: 0,
                data: vec![]
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
}
