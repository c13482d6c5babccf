//! `mqtt-conform spec` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform spec`.
#[derive(Debug, Default, clap::Args)]
pub struct SpecArgs {}

pub fn run(_args: SpecArgs) -> ExitCode {
    super::usage_error("`spec` is not implemented yet")
}
