//! One module per subcommand. Each module owns its clap `Args` struct and a `run` function
//! returning the process exit code: 0 all good, 1 the target failed something, 2 usage error
//! or target unreachable.

use std::process::ExitCode;

pub mod broker;
pub mod decode;
pub mod probe;
pub mod report;
pub mod run;
pub mod sim;
pub mod spec;

/// Exit code 2: usage error or unreachable target.
pub fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Logs go to stderr through `tracing`, filtered by `RUST_LOG` (else `default`).
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
