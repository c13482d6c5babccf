//! The deterministic, sans-IO MQTT reference broker and its async shell (`serve`).
//!
//! The broker core is a pure state machine: bytes and time go in, bytes, closes and events
//! come out. Same configuration, seed and inputs always give the same outputs.
#![forbid(unsafe_code)]
