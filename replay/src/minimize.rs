//! Delta debugging (ddmin) over a scenario's events: the smallest scenario
//! the same job core still fails with the same invariant.

use crate::exec::{Options, run};
use crate::model::Scenario;
use crate::oracle::Invariant;

/// Shrinks `scenario` while it still breaks `invariant` on `opts.core`.
/// `progress` is called with the current size after each successful cut.
/// Returns the scenario unchanged if it does not break `invariant`.
pub fn minimize(
    scenario: &Scenario,
    invariant: Invariant,
    opts: &Options,
    mut progress: impl FnMut(usize),
) -> Scenario {
    let opts = Options {
        keep_log: true,
        ..opts.clone()
    };
    let fails = |s: &Scenario| {
        run(s, &opts).is_ok_and(|o| {
            o.verdict
                .violation()
                .is_some_and(|v| v.invariant == invariant)
        })
    };
    let mut cur = scenario.lines.clone();
    if !fails(scenario) {
        return scenario.clone();
    }
    let mut n = 2usize;
    while cur.len() >= 2 {
        let chunk = cur.len().div_ceil(n);
        let mut cut = false;
        let mut start = 0;
        while start < cur.len() {
            let end = (start + chunk).min(cur.len());
            let mut cand = cur.clone();
            cand.drain(start..end);
            if fails(&Scenario {
                lines: cand.clone(),
            }) {
                cur = cand;
                n = (n - 1).max(2);
                cut = true;
                progress(cur.len());
                break;
            }
            start = end;
        }
        if !cut {
            if n >= cur.len() {
                break;
            }
            n = (n * 2).min(cur.len());
        }
    }
    Scenario { lines: cur }
}
