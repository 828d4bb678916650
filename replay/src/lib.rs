//! daedalus replay engine: runs the module's real job-core C code in
//! userspace against a mock of v4l2_m2m/vb2 and checks the buffer
//! ownership invariants of DESIGN.md on every event.
//!
//! The entry points: [`model::Scenario`] (parse or build a scenario),
//! [`run`] (execute it on a job core and get an [`exec::Outcome`] with
//! its [`oracle::Verdict`]), [`minimize::minimize`] (delta debugging).

pub mod model;
#[path = "scenario.rs"]
pub mod scenario;
