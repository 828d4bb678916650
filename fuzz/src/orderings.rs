//! `orderings`: a sequence of client and daemon operations (the replay
//! crate's generator, `daedalus_replay::generate`, shared with the KUnit
//! differential fuzzing) run on the mock and the real job core. Any oracle
//! violation aborts.

pub use daedalus_replay::generate::{Flags, MAX_OPS, OWN_GENERATION, Op, Q, ops, scenario};

/// The target body.
pub fn fuzz(data: &[u8]) {
    crate::check_scenario("orderings", &scenario(&ops(data)));
}
