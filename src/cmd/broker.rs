//! `mqtt-conform broker` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform broker`.
#[derive(Debug, Default, clap::Args)]
pub struct BrokerArgs {}

pub fn run(_args: BrokerArgs) -> ExitCode {
    super::usage_error("`broker` is not implemented yet")
}
