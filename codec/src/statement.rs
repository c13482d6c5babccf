//! Statement identifiers of the standards: the checked [`StatementId`] of `mqtt-spec`.
//!
//! The codec writes its ids with `s3!` (3.1.1 catalogue) and `s5!` (5.0 catalogue), which are
//! `mqtt_spec::v311!` / `mqtt_spec::v5!`: an id missing from the catalogue fails the build.

pub use mqtt_spec::StatementId;

/// A statement of the 3.1.1 catalogue, checked at compile time.
macro_rules! s3 {
    ($id:literal) => {
        mqtt_spec::v311!($id)
    };
}

/// A statement of the 5.0 catalogue, checked at compile time.
macro_rules! s5 {
    ($id:literal) => {
        mqtt_spec::v5!($id)
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
