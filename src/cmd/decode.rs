//! `mqtt-conform decode` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform decode`.
#[derive(Debug, Default, clap::Args)]
pub struct DecodeArgs {}

pub fn run(_args: DecodeArgs) -> ExitCode {
    super::usage_error("`decode` is not implemented yet")
}
