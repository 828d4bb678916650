//! Events per second through the mock and the real job core: a steady
//! decode (QBUF both queues, RESP_FRAME, DQBUF both) over many frames.
//! `cargo bench -p daedalus-replay --bench events [-- FRAMES]`

use std::time::Instant;

use daedalus_replay::scenario::{Event, FRAME_HAS_PIXELS, FRAME_SRC_CONSUMED, JobRef, Queue};
use daedalus_replay::{Options, Scenario, run};

fn steady(frames: u32) -> Scenario {
    let ctx = 1;
    let mut ev = vec![
        Event::DaemonAttach { version: 1 },
        Event::Open {
            ctx,
            stateless: false,
        },
        Event::Reqbufs {
            ctx,
            queue: Queue::Output,
            count: 4,
        },
        Event::Reqbufs {
            ctx,
            queue: Queue::Capture,
            count: 4,
        },
        Event::Streamon {
            ctx,
            queue: Queue::Output,
        },
        Event::Streamon {
            ctx,
            queue: Queue::Capture,
        },
    ];
    for n in 1..=frames {
        let index = (n - 1) % 4;
        let ts = u64::from(n) * 33_000_000;
        ev.push(Event::Qbuf {
            ctx,
            queue: Queue::Output,
            index,
            ts,
            size: 1000,
            req: None,
        });
        ev.push(Event::Qbuf {
            ctx,
            queue: Queue::Capture,
            index,
            ts: 0,
            size: 0,
            req: None,
        });
        ev.push(Event::Frame {
            ctx,
            job: JobRef::Nth(n),
            flags: FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS,
            ts,
            bytes: 0,
            generation: None,
        });
        ev.push(Event::Dqbuf {
            ctx,
            queue: Queue::Output,
        });
        ev.push(Event::Dqbuf {
            ctx,
            queue: Queue::Capture,
        });
    }
    ev.push(Event::Close { ctx });
    Scenario::from_events(ev)
}

fn main() {
    let frames: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let s = steady(frames);
    let opts = Options {
        keep_log: false,
        ..Options::default()
    };
    // Warm up, and prove the run is clean (a benchmark of a broken run
    // measures nothing).
    let warm = run(&steady(1000), &opts).expect("run");
    assert!(warm.verdict.is_clean(), "{:?}", warm.verdict);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let o = run(&s, &opts).expect("run");
        let dt = t.elapsed().as_secs_f64();
        assert!(o.verdict.is_clean(), "{:?}", o.verdict);
        assert_eq!(o.events_run, s.lines.len());
        best = best.min(dt);
    }
    let n = s.lines.len() as f64;
    println!(
        "replay-bench: {} events ({frames} frames, {} jobs) in {:.3} s: {:.0} events/s through mock + real job core (best of 3, one core)",
        s.lines.len(),
        frames,
        best,
        n / best
    );
}
