//! daedalus replay engine: runs the module's real job-core C code in
//! userspace against a mock of v4l2_m2m/vb2 and checks the buffer
//! ownership invariants of docs/design.md on every event.
//!
//! Entry points: [`model::Scenario`] (parse a scenario, or build one from
//! events in memory), [`run`] (execute it on the real job core or a
//! mutant, get an [`Outcome`] with its [`Verdict`]), [`minimize::minimize`]
//! (delta debugging to the smallest scenario breaking the same invariant).

#[path = "scenario.rs"]
pub mod scenario;

pub mod core;
mod driver;
pub mod exec;
pub mod generate;
pub mod import;
pub mod minimize;
mod mock;
pub mod model;
pub mod oracle;
pub mod render;
pub mod scrub;
pub mod seeds;

pub use exec::{Options, Outcome, RunError, run, run_writes};
pub use model::Scenario;
pub use oracle::{Invariant, Verdict, Violation};
