//! `mqtt-conform`: the command-line program. Argument handling only; every decision lives in
//! the library crates.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// MQTT 3.1.1 and 5.0 conformance suite, reference broker, codec and fault simulator.
#[derive(Debug, Parser)]
#[command(name = "mqtt-conform", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the conformance suite against a broker (default: the embedded reference broker).
    Run(cmd::run::RunArgs),
    /// Run the reference broker as a real server.
    Broker(cmd::broker::BrokerArgs),
    /// Deterministic fault simulation of the reference broker.
    Sim(cmd::sim::SimArgs),
    /// Re-render results files; several files give a side-by-side comparison.
    Report(cmd::report::ReportArgs),
    /// List the normative statements of the standards.
    Spec(cmd::spec::SpecArgs),
    /// Decode hex bytes as MQTT packets, naming the statement a malformed packet breaks.
    Decode(cmd::decode::DecodeArgs),
    /// Probe a broker for its capabilities and limits.
    Probe(cmd::probe::ProbeArgs),
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    // The broker logs its connections by default; elsewhere the embedded broker stays quiet.
    let default_log = match cli.command {
        Some(Command::Broker(_)) => "info",
        _ => "warn,mqtt_broker_model=error",
    };
    cmd::init_tracing(default_log);
    match cli.command {
        None => cmd::run::run(cmd::run::RunArgs::default()),
        Some(Command::Run(args)) => cmd::run::run(args),
        Some(Command::Broker(args)) => cmd::broker::run(args),
        Some(Command::Sim(args)) => cmd::sim::run(args),
        Some(Command::Report(args)) => cmd::report::run(args),
        Some(Command::Spec(args)) => cmd::spec::run(args),
        Some(Command::Decode(args)) => cmd::decode::run(args),
        Some(Command::Probe(args)) => cmd::probe::run(args),
    }
}

/// `mqtt-conform spec | head` must end quietly: printing to a closed pipe ends the program
/// with exit code 0 instead of a panic message.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info)
    }));
}
