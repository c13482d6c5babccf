//! (tests to come)

use crate::case::TestCase;

/// The tests of this module.
pub fn tests() -> Vec<TestCase> {
    Vec::new()
}
