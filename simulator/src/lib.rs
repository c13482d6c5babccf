//! Deterministic fault simulation of the reference broker with turmoil: seeded fault
//! schedules, invariants checked over the recorded history, replay and shrinking.
//!
//! - [`run::run`] runs one seed of one [`scenario::Scenario`]: the broker on a turmoil host
//!   (`serve` over turmoil's TCP, its durable state outside the host so that a bounce is a
//!   restart with persistence), clients on their own hosts running [`client::ClientModel`],
//!   faults from [`faults::Schedule`] (a proptest strategy, so failing schedules shrink).
//! - [`check`] states the invariants, each naming its statement id.
//! - [`target::SimulatedTarget`] lets the conformance suite run inside a simulation.
//!
//! Determinism: turmoil never reaches the real network (no real tokio IO), turmoil host names only, ordered maps only, `biased;` in
//! every `select!`, a pinned epoch, and every random choice drawn from the seed.
#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod faults;
pub mod history;
pub mod run;
pub mod scenario;
pub mod stream;
pub mod target;
pub mod world;

pub use check::Violation;
pub use faults::{Fault, FaultKind, Schedule};
pub use run::{report, run, shrink, RunConfig, RunOutcome, BUILD};
pub use scenario::Scenario;
