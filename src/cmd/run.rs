//! `mqtt-conform run [TARGET]`: the conformance suite against a broker.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mqtt_codec::ProtocolVersion;
use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_blocking, Progress, RunError};
use mqtt_conformance::{Profile, TargetSpec};
use mqtt_reports::summary::{by_chapter, by_protocol};
use mqtt_reports::{Results, Verdict};

/// Arguments of `mqtt-conform run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `embedded` (the reference broker in-process), `tcp://HOST:PORT`, `mqtts://HOST:PORT`,
    /// `ws://HOST:PORT/PATH` or `wss://HOST:PORT/PATH` (path /mqtt when none is given).
    #[arg(default_value = "embedded")]
    pub target: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Protocol versions to test: 3.1.1, 5.0 or all.
    #[arg(long, default_value = "all")]
    pub protocol: String,
    /// Broker profile (YAML): credentials, capabilities, refused topics, known deviations.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Only tests whose id matches (glob, e.g. 'v5.publish.*'; repeatable or comma-separated).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Tests run at the same time.
    #[arg(long, default_value_t = 16)]
    pub jobs: usize,
    /// Upper bound on each test's duration (e.g. 5s, 1500ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// Directory for results.json, junit.xml, report.md and report.html.
    #[arg(long, default_value = "conformance-report")]
    pub out: PathBuf,
}

/// How a TLS target's certificate is checked (`run`, `probe`).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct TlsArgs {
    /// For mqtts:// and wss:// targets: trust only the CA certificates in this PEM file
    /// (default: the Mozilla root certificates built in).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// For mqtts:// and wss:// targets: accept any certificate (self-signed test brokers).
    #[arg(long)]
    pub insecure: bool,
    /// For mqtts:// and wss:// targets: present this client certificate chain (PEM), for
    /// brokers that require one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

/// Parses TARGET and applies the TLS options; they are an error for a target without TLS.
pub fn target_spec(target: &str, tls: &TlsArgs) -> Result<TargetSpec, String> {
    let mut spec: TargetSpec = target.parse().map_err(|e| format!("{e}"))?;
    if tls.ca.is_some() || tls.insecure || tls.cert.is_some() {
        if !spec.uses_tls() {
            return Err(format!(
                "--ca, --insecure, --cert and --key apply to mqtts:// and wss:// targets, not to {spec}"
            ));
        }
        if tls.insecure {
            eprintln!("warning: --insecure: the broker's certificate is not checked");
        }
        spec.set_tls(mqtt_conformance::TlsClientOptions {
            ca_file: tls.ca.clone(),
            insecure: tls.insecure,
            client_cert: tls.cert.clone(),
            client_key: tls.key.clone(),
        });
    }
    Ok(spec)
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            target: "embedded".into(),
            tls: TlsArgs::default(),
            protocol: "all".into(),
            profile: None,
            filter: Vec::new(),
            jobs: 16,
            timeout: None,
            out: PathBuf::from("conformance-report"),
        }
    }
}

/// Parses `--protocol`.
pub fn parse_protocols(s: &str) -> Result<Vec<ProtocolVersion>, String> {
    match s.trim() {
        "all" => Ok(vec![ProtocolVersion::V3_1_1, ProtocolVersion::V5]),
        "3.1.1" | "311" | "4" => Ok(vec![ProtocolVersion::V3_1_1]),
        "5.0" | "5" | "50" => Ok(vec![ProtocolVersion::V5]),
        other => Err(format!("unknown protocol `{other}`: use 3.1.1, 5.0 or all")),
    }
}

/// Loads the profile named on the command line (or the default one).
pub fn load_profile(path: &Option<PathBuf>) -> Result<Profile, String> {
    match path {
        None => Ok(Profile::default()),
        Some(p) => Profile::load(p).map_err(|e| e.to_string()),
    }
}

pub fn run(args: RunArgs) -> ExitCode {
    let spec = match target_spec(&args.target, &args.tls) {
        Ok(s) => s,
        Err(e) => return super::usage_error(e),
    };
    let protocols = match parse_protocols(&args.protocol) {
        Ok(p) => p,
        Err(e) => return super::usage_error(e),
    };
    let profile = match load_profile(&args.profile) {
        Ok(p) => p,
        Err(e) => return super::usage_error(e),
    };
    if args.jobs == 0 {
        return super::usage_error("--jobs must be at least 1");
    }
    let opts = RunOptions {
        protocols,
        filters: args.filter.clone(),
        jobs: args.jobs,
        timeout: args.timeout,
        profile,
        profile_name: args.profile.as_ref().map(|p| p.display().to_string()),
        run_tag: run_tag(),
    };

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let b1 = bar.clone();
    let b2 = bar.clone();
    let progress = Progress {
        planned: Box::new(move |n| b1.set_length(n as u64)),
        done: Arc::new(move |t| {
            b2.inc(1);
            if matches!(t.verdict, Verdict::Fail | Verdict::Error) {
                b2.set_message(format!("last failure: {}", t.id));
            }
        }),
    };
    let outcome = run_blocking(&spec, &opts, &progress);
    bar.finish_and_clear();
    let results = match outcome {
        Ok((r, probe)) => {
            // A version the broker does not speak is skipped: say so, with its answer.
            for n in probe.notes.iter().filter(|n| n.contains("not supported")) {
                eprintln!("note: {n}: its tests are skipped");
            }
            r
        }
        Err(e @ (RunError::Probe(_) | RunError::Plan(_) | RunError::Unsupported(_))) => {
            return super::usage_error(e)
        }
        Err(e) => return super::usage_error(e),
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return super::usage_error(format!("cannot create {}: {e}", args.out.display()));
    }
    if let Err(e) = mqtt_reports::write_all(&results, &args.out) {
        return super::usage_error(e);
    }
    print!("{}", summary(&results));
    for line in stale_deviations(&opts.profile, &results) {
        println!("{line}");
    }
    println!(
        "Report: {}",
        args.out.join(mqtt_reports::REPORT_HTML).display()
    );
    ExitCode::from(results.exit_code())
}

/// Known deviations of the profile whose test passed in this run (not marked intermittent):
/// the broker may have been fixed, and a stale deviation would hide the failure if it came
/// back. Listed so that the profile can be brought up to date.
fn stale_deviations(profile: &Profile, results: &mqtt_reports::Results) -> Vec<String> {
    profile
        .deviations
        .iter()
        .filter(|d| !d.intermittent)
        .filter(|d| {
            results
                .tests
                .iter()
                .any(|t| t.id == d.test && t.verdict == mqtt_reports::Verdict::Pass)
        })
        .map(|d| {
            format!(
                "note: {} passed although the profile lists it as a known deviation: remove it (or mark it `intermittent: true`)",
                d.test
            )
        })
        .collect()
}

/// A label unique enough to keep this run's client ids and topics apart from other runs'.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    format!(
        "{:x}",
        (nanos ^ std::process::id().rotate_left(16)) & 0xffffff
    )
}

/// The summary printed on stdout: per protocol, per chapter, then every failure.
pub fn summary(r: &Results) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "MQTT conformance of {} ({} tests, {:.1} s)",
        r.run.target,
        r.tests.len(),
        r.run.duration_ms as f64 / 1000.0
    );
    for (p, c) in by_protocol(r) {
        let _ = writeln!(
            o,
            "  MQTT {:<5}  {} of decided MUST tests passed: {} passed, {} failed, {} advisory, {} skipped, {} inconclusive, {} errors",
            p.to_string(),
            c.conformance_text(),
            c.pass,
            c.fail,
            c.advisory,
            c.skip,
            c.inconclusive,
            c.error
        );
    }
    let _ = writeln!(
        o,
        "\n  {:<8} {:<8} {:>6} {:>6} {:>8} {:>7} {:>12} {:>6}",
        "protocol", "chapter", "passed", "failed", "advisory", "skipped", "inconclusive", "errors"
    );
    for ch in by_chapter(r) {
        let _ = writeln!(
            o,
            "  {:<8} {:<8} {:>6} {:>6} {:>8} {:>7} {:>12} {:>6}",
            ch.protocol.to_string(),
            ch.chapter,
            ch.counts.pass,
            ch.counts.fail,
            ch.counts.advisory,
            ch.counts.skip,
            ch.counts.inconclusive,
            ch.counts.error
        );
    }
    let failures: Vec<_> = r
        .tests
        .iter()
        .filter(|t| {
            matches!(
                t.verdict,
                Verdict::Fail | Verdict::Error | Verdict::Advisory
            )
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(o, "\nFailures:");
        for t in failures {
            let tag = match (t.verdict, &t.deviation) {
                (Verdict::Fail, Some(_)) => "KNOWN",
                (Verdict::Fail, None) => "FAIL",
                (Verdict::Advisory, _) => "ADVISORY",
                _ => "ERROR",
            };
            let _ = writeln!(
                o,
                "  {tag:<8} {} [{}]",
                t.id,
                t.statements.first().map(String::as_str).unwrap_or("-")
            );
            match t.verdict {
                Verdict::Error => {
                    let _ = writeln!(o, "           {}", t.reason.as_deref().unwrap_or(""));
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "           expected {}; observed {}",
                        t.expected.as_deref().unwrap_or("?"),
                        t.observed.as_deref().unwrap_or("?")
                    );
                }
            }
            if let Some(d) = &t.deviation {
                let _ = writeln!(o, "           known deviation: {d}");
            }
        }
    }
    o
}
