//! The catalogue of conformance tests, one module per chapter of the standards.
//!
//! A statement id leads to its tests with `grep -rn 'MQTT-3.1.2-4' conformance/src/suite/`.

use crate::case::TestCase;

pub mod connect;

/// Every test of the suite, in catalogue order.
pub fn all() -> Vec<TestCase> {
    let mut v = Vec::new();
    v.extend(connect::tests());
    v
}
