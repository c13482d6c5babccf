//! `mqtt-conform run` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform run`.
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {}

pub fn run(_args: RunArgs) -> ExitCode {
    super::usage_error("`run` is not implemented yet")
}
