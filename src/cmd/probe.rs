//! `mqtt-conform probe` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform probe`.
#[derive(Debug, Default, clap::Args)]
pub struct ProbeArgs {}

pub fn run(_args: ProbeArgs) -> ExitCode {
    super::usage_error("`probe` is not implemented yet")
}
