//! The bodies of the daedalus fuzz targets. Each `fuzz_targets/*.rs` is a
//! one-line `fuzz_target!` around a function here, so the same code runs
//! under libFuzzer (nightly, `cargo fuzz run`) and replays the committed
//! corpora under `cargo test` on stable. Every body panics (libFuzzer: a
//! crash) when a check fails, with the broken rule in the message.

pub mod bitstream;
pub mod corpus;
pub mod daemon_protocol;
pub mod kmod_messages;
pub mod orderings;
pub mod parsers;

use daedalus_replay::{Options, Scenario, Verdict};

/// The job core a scenario-running target uses: "real", or the mutant
/// named by `DAEDALUS_FUZZ_CORE` (fuzz/bench.sh hunts the field bug with
/// `DAEDALUS_FUZZ_CORE=field-bug`).
pub fn options() -> &'static Options {
    static OPTS: std::sync::OnceLock<Options> = std::sync::OnceLock::new();
    OPTS.get_or_init(|| Options {
        core: std::env::var("DAEDALUS_FUZZ_CORE").unwrap_or_else(|_| "real".into()),
        keep_log: false,
        ..Options::default()
    })
}

/// Runs `scenario` on the selected job core and returns its verdict.
///
/// # Panics
/// When the core is unknown: no input can be tested then.
pub fn verdict(scenario: &Scenario) -> Verdict {
    match daedalus_replay::run(scenario, options()) {
        Ok(o) => o.verdict,
        Err(e) => panic!("the replay executor cannot run: {e}"),
    }
}

/// Runs `scenario` and aborts on any oracle violation, naming the
/// invariant first so crash logs can be sorted by it.
pub fn check_scenario(target: &str, scenario: &Scenario) {
    if let Verdict::Violation(v) = verdict(scenario) {
        panic!(
            "{target}: invariant {} broken\n{v}\nscenario:\n{}",
            v.invariant.name(),
            scenario.to_text()
        );
    }
}
