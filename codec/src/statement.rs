//! Statement identifiers of the standards.
//!
//! Stand-in until the `mqtt-spec` crate exposes its checked `StatementId`: the codec only needs
//! a cheap, comparable handle on an id such as `MQTT-3.6.1-1`. The `s3!` / `s5!` macros mark
//! which catalogue an id belongs to (3.1.1 or 5.0), so the switch to the checked macros of
//! `mqtt-spec` is mechanical.

use std::fmt;

/// The id of a normative statement, e.g. `MQTT-3.3.1-4`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatementId(&'static str);

impl StatementId {
    /// Wraps an id. The codec only builds these from literals checked by its tests.
    pub const fn new(id: &'static str) -> Self {
        StatementId(id)
    }

    /// The id as printed in the standard, e.g. `MQTT-3.3.1-4`.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A statement of the 3.1.1 catalogue.
macro_rules! s3 {
    ($id:literal) => {
        $crate::statement::StatementId::new($id)
    };
}

/// A statement of the 5.0 catalogue.
macro_rules! s5 {
    ($id:literal) => {
        $crate::statement::StatementId::new($id)
    };
}

/// A `&'static [StatementId]` from `s3!`/`s5!` items.
macro_rules! ids {
    ($($m:ident!($id:literal)),* $(,)?) => {{
        const IDS: &[$crate::statement::StatementId] = &[$($m!($id)),*];
        IDS
    }};
}

pub(crate) use ids;
pub(crate) use s3;
pub(crate) use s5;
