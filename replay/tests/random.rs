//! Random orderings on the real job core: every one must run to the end
//! without a panic and without a violation (a violation here is a core bug
//! or an oracle that cries wolf; either must be fixed). Deterministic; set
//! DAEDALUS_SEED to replay another seed, DAEDALUS_RUNS for more runs.

use daedalus_replay::scenario::{
    Event, FRAME_ERROR, FRAME_HAS_PIXELS, FRAME_LAST, FRAME_SRC_CONSUMED, JobRef, Queue,
};
use daedalus_replay::{Options, Scenario, run};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn event(r: &mut Rng) -> Event {
    let ctx = 1 + r.below(2) as u32;
    let queue = if r.below(2) == 0 {
        Queue::Output
    } else {
        Queue::Capture
    };
    let index = r.below(3) as u32;
    match r.below(20) {
        0 => Event::Open {
            ctx,
            stateless: false,
        },
        1 => Event::Close { ctx },
        2 => Event::Reqbufs {
            ctx,
            queue,
            count: 1 + r.below(3) as u32,
        },
        3..=6 => Event::Qbuf {
            ctx,
            queue,
            index,
            ts: r.below(5) * 33_000_000,
            size: 1 + r.below(2000) as u32,
            req: None,
        },
        7 => Event::Dqbuf { ctx, queue },
        8 => Event::Streamon { ctx, queue },
        9 => Event::Streamoff { ctx, queue },
        10 => Event::DecoderStop { ctx },
        11 => Event::DecoderStart { ctx },
        12 => Event::DaemonAttach { version: 1 },
        13 => Event::DaemonDetach,
        14..=17 => {
            let flags = match r.below(6) {
                0 => FRAME_SRC_CONSUMED,
                1 => FRAME_HAS_PIXELS,
                2 => FRAME_SRC_CONSUMED | FRAME_HAS_PIXELS,
                3 => FRAME_HAS_PIXELS | FRAME_LAST,
                4 => FRAME_SRC_CONSUMED | FRAME_ERROR,
                _ => FRAME_HAS_PIXELS | FRAME_ERROR,
            };
            Event::Frame {
                ctx,
                job: JobRef::Nth(1 + r.below(6) as u32),
                flags,
                ts: r.below(5) * 33_000_000,
                bytes: r.below(64) as u32,
                generation: None,
            }
        }
        18 => Event::Tick {
            ms: r.below(3000) as u32,
        },
        _ => Event::StreamInfo {
            ctx,
            width: 64,
            height: 64,
            dpb: 2,
        },
    }
}

/// A working pipeline (daemon attached, one context streaming with three
/// buffers a queue) followed by 10 to 69 random events, so those events
/// meet jobs in flight.
fn random_scenario(r: &mut Rng) -> Scenario {
    let mut ev = vec![
        Event::DaemonAttach { version: 1 },
        Event::Open {
            ctx: 1,
            stateless: false,
        },
        Event::Reqbufs {
            ctx: 1,
            queue: Queue::Output,
            count: 3,
        },
        Event::Reqbufs {
            ctx: 1,
            queue: Queue::Capture,
            count: 3,
        },
        Event::Streamon {
            ctx: 1,
            queue: Queue::Output,
        },
        Event::Streamon {
            ctx: 1,
            queue: Queue::Capture,
        },
    ];
    let n = 10 + r.below(60);
    ev.extend((0..n).map(|_| event(r)));
    Scenario::from_events(ev)
}

#[test]
fn random_orderings_are_clean_on_the_real_core() {
    let seed: u64 = std::env::var("DAEDALUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_dae0);
    let runs: u64 = std::env::var("DAEDALUS_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    println!("seed {seed}, {runs} runs");
    let mut r = Rng(seed | 1);
    let opts = Options {
        keep_log: true,
        ..Options::default()
    };
    let mut events_total = 0;
    for i in 0..runs {
        let s = random_scenario(&mut r);
        let o = run(&s, &opts).unwrap();
        events_total += o.events_run;
        if let Some(v) = o.verdict.violation() {
            panic!(
                "run {i} (seed {seed}):\n{v}\nscenario:\n{}\nlog:\n{}",
                s.to_text(),
                o.log_text()
            );
        }
    }
    assert!(events_total as u64 >= runs * 16);
}

#[test]
fn random_orderings_find_the_field_bug() {
    let mut r = Rng(0x5eed_dae0 | 1);
    let opts = Options {
        core: "field-bug".into(),
        keep_log: false,
        ..Options::default()
    };
    for i in 0..3000 {
        let o = run(&random_scenario(&mut r), &opts).unwrap();
        if let Some(v) = o.verdict.violation()
            && v.invariant == daedalus_replay::Invariant::ListCorruption
        {
            println!("found after {} runs", i + 1);
            return;
        }
    }
    panic!("3000 random orderings never hit the field bug");
}
