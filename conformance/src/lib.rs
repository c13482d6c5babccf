//! The conformance suite: a raw test client, the catalogue of tests, targets (embedded,
//! TCP, simulated), the runner and the capability probe.
#![forbid(unsafe_code)]
