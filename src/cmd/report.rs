//! `mqtt-conform report` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `mqtt-conform report`.
#[derive(Debug, Default, clap::Args)]
pub struct ReportArgs {}

pub fn run(_args: ReportArgs) -> ExitCode {
    super::usage_error("`report` is not implemented yet")
}
