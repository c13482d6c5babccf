//! `mqtt-conform sim` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform sim`.
#[derive(Debug, Default, clap::Args)]
pub struct SimArgs {}

pub fn run(_args: SimArgs) -> ExitCode {
    super::usage_error("`sim` is not implemented yet")
}
