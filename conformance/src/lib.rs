//! The conformance suite: a raw test client, the catalogue of tests, targets (embedded, TCP,
//! TLS, WebSocket, simulated), the runner and the capability probe.
//!
//! - [`target`]: where byte streams go ([`Target`], [`TcpTarget`], [`TlsTarget`], [`WsTarget`],
//!   the embedded broker).
//! - [`client`]: the raw test client with its trace.
//! - [`case`]: what a test is ([`TestCase`], [`Ctx`], [`Stop`]).
//! - [`suite`]: the tests, one module per chapter of the standards.
//! - [`runner`]: planning, parallel execution with deadlines, results.
//! - [`caps`], [`profile`]: capabilities and broker profiles.
#![forbid(unsafe_code)]

pub mod caps;
pub mod case;
pub mod client;
pub mod coverage;
pub mod embedded;
pub mod mutate;
pub mod probe;
pub mod profile;
pub mod runner;
pub mod session;
pub mod suite;
pub mod target;

pub use caps::{Cap, Capabilities};
pub use case::{Ctx, Outcome, Stop, TestCase};
pub use profile::Profile;
pub use runner::{plan, run_planned, Planned, RunOptions};
pub use target::{Target, TargetSpec, TcpTarget, TlsClientOptions, TlsTarget, WsConnect, WsTarget};
