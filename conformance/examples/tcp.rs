//! Developer tool: run (part of) the suite against a broker over TCP and print each verdict.
//!
//! `cargo run -p mqtt-conformance --example tcp -- 127.0.0.1:1883 'v5.publish.*' [--trace]`

use std::sync::Arc;

use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_blocking, Progress};
use mqtt_conformance::TargetSpec;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(addr) = args.first() else {
        eprintln!("usage: tcp HOST:PORT [FILTER] [--trace]");
        std::process::exit(2);
    };
    let trace = args.iter().any(|a| a == "--trace");
    let filters: Vec<String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let opts = RunOptions {
        filters,
        run_tag: format!("x{}", std::process::id()),
        ..RunOptions::default()
    };
    let progress = Progress {
        planned: Box::new(|n| eprintln!("{n} tests planned")),
        done: Arc::new(|_| {}),
    };
    let spec = TargetSpec::Tcp { addr: addr.clone() };
    match run_blocking(&spec, &opts, &progress) {
        Ok((results, probe)) => {
            eprintln!("capabilities: {:?}", probe.capabilities);
            for t in &results.tests {
                println!(
                    "{:<64} {:<12} {}",
                    t.id,
                    t.verdict.as_str(),
                    t.observed
                        .as_ref()
                        .map(|o| format!(
                            "[{}] expected {}; observed {}",
                            t.statements.join(" "),
                            t.expected.clone().unwrap_or_default(),
                            o
                        ))
                        .or(t.reason.clone())
                        .unwrap_or_default()
                );
                if trace && !t.trace.is_empty() {
                    for e in &t.trace {
                        println!(
                            "    {:>9.1} ms {:<5} {:<12} {} {}",
                            e.t_ms,
                            e.dir.as_str(),
                            e.packet,
                            e.fields,
                            e.hex
                        );
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
