//! `mqtt-conform sim`: seeded fault simulations of the reference broker (turmoil).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mqtt_simulator::run::{self as simrun, report, shrink, RunConfig, RunOutcome, BUILD};
use mqtt_simulator::scenario::{self, Scenario};
use mqtt_simulator::Schedule;

/// Arguments of `mqtt-conform sim`.
#[derive(Debug, Default, clap::Args)]
pub struct SimArgs {
    /// Number of seeds to run (seeds FIRST..FIRST+N).
    #[arg(long, conflicts_with = "seed")]
    pub seeds: Option<u64>,
    /// Run this one seed (replay).
    #[arg(long)]
    pub seed: Option<u64>,
    /// First seed of `--seeds`.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Scenario to run (`all`: every scenario for every seed).
    #[arg(long, default_value = "all")]
    pub scenario: String,
    /// Parallel simulations (default: available cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run every seed twice and compare the hashes of the two histories.
    #[arg(long)]
    pub check_determinism: bool,
    /// Run only the K-th of N shares of the seeds (K from 1 to N), e.g. `--shard 2/4`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Replace the seed's fault schedule (as printed in a failure report). Needs `--seed`.
    #[arg(long, requires = "seed")]
    pub schedule: Option<String>,
    /// Do not shrink failing schedules.
    #[arg(long)]
    pub no_shrink: bool,
    /// Events printed before a failure.
    #[arg(long, default_value_t = 25)]
    pub last_events: usize,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

fn parse_shard(s: &str) -> Option<(u64, u64)> {
    let (k, n) = s.split_once('/')?;
    let (k, n): (u64, u64) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (n >= 1 && (1..=n).contains(&k)).then_some((k, n))
}

struct Done {
    index: usize,
    outcome: RunOutcome,
    second_digest: Option<u64>,
    shrunk: Option<RunOutcome>,
}

pub fn run(args: SimArgs) -> ExitCode {
    let all = scenario::all();
    if args.list {
        for s in &all {
            println!("{:<16} {}", s.name, s.description);
        }
        return ExitCode::SUCCESS;
    }
    let scenarios: Vec<Scenario> = if args.scenario == "all" {
        all
    } else {
        match scenario::by_name(&args.scenario) {
            Some(s) => vec![s],
            None => {
                return super::usage_error(format!(
                    "unknown scenario `{}`; known: all, {}",
                    args.scenario,
                    scenario::names().join(", ")
                ))
            }
        }
    };
    let schedule: Option<Schedule> = match args.schedule.as_deref().map(str::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return super::usage_error(e),
    };
    let shard = match args.shard.as_deref() {
        None => None,
        Some(s) => match parse_shard(s) {
            Some(x) => Some(x),
            None => {
                return super::usage_error(format!(
                    "invalid --shard `{s}`: expected K/N with 1 <= K <= N"
                ))
            }
        },
    };
    let seeds: Vec<u64> = match (args.seed, args.seeds) {
        (Some(s), _) => vec![s],
        (None, n) => {
            let n = n.unwrap_or(100);
            (args.first_seed..args.first_seed.saturating_add(n)).collect()
        }
    };
    let seeds: Vec<u64> = match shard {
        Some((k, n)) => seeds.into_iter().filter(|s| s % n == k - 1).collect(),
        None => seeds,
    };
    let mut work: Vec<RunConfig> = Vec::new();
    for sc in &scenarios {
        for &seed in &seeds {
            let mut c = RunConfig::new(sc.clone(), seed);
            c.schedule = schedule.clone();
            work.push(c);
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 256)
        .min(work.len().max(1));

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(work.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} runs {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let started = Instant::now();
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<Done>();
    let shrink_runs = if args.no_shrink { 0 } else { 64 };
    let determinism = args.check_determinism;
    let mut threads = Vec::new();
    for _ in 0..jobs {
        let (work, next, tx) = (work.clone(), next.clone(), tx.clone());
        threads.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(cfg) = work.get(i) else { return };
            let outcome = simrun::run(cfg);
            let second_digest = determinism.then(|| simrun::run(cfg).digest);
            let shrunk = if outcome.passed() || shrink_runs == 0 {
                None
            } else {
                shrink(cfg, shrink_runs)
            };
            if tx
                .send(Done {
                    index: i,
                    outcome,
                    second_digest,
                    shrunk,
                })
                .is_err()
            {
                return;
            }
        }));
    }
    drop(tx);
    let mut done: Vec<Done> = Vec::new();
    let mut failing = 0usize;
    for d in rx {
        bar.inc(1);
        let bad = !d.outcome.passed() || d.second_digest.is_some_and(|h| h != d.outcome.digest);
        if bad {
            failing += 1;
            bar.set_message(format!("{failing} failing"));
        }
        done.push(d);
    }
    for t in threads {
        let _ = t.join();
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    done.sort_by_key(|d| d.index);

    let mut violations = 0usize;
    let mut failed_runs = 0usize;
    let mut nondeterministic = 0usize;
    for d in &done {
        let o = &d.outcome;
        if let Some(h2) = d.second_digest {
            if h2 != o.digest {
                nondeterministic += 1;
                println!(
                    "NONDETERMINISTIC scenario {} seed {} (build {BUILD}): history hash {:016x} then {h2:016x}\n  replay: mqtt-conform sim --scenario {} --seed {} --check-determinism",
                    o.scenario, o.seed, o.digest, o.scenario, o.seed
                );
            }
        }
        if !o.passed() {
            failed_runs += 1;
            violations += o.violations.len();
            print!("{}", report(o, d.shrunk.as_ref(), args.last_events));
        }
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let runs = done.len();
    let per_scenario = if scenarios.len() == 1 {
        String::new()
    } else {
        format!(" ({} scenarios x {} seeds)", scenarios.len(), seeds.len())
    };
    println!(
        "sim: {runs} runs{per_scenario}, {violations} violations in {failed_runs} runs{}, {:.1} s, {:.1} seeds/s ({jobs} jobs, build {BUILD})",
        if determinism {
            format!(", {nondeterministic} nondeterministic")
        } else {
            String::new()
        },
        secs,
        runs as f64 / secs,
    );
    if failed_runs > 0 || nondeterministic > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::parse_shard;

    #[test]
    fn shards() {
        assert_eq!(parse_shard("1/4"), Some((1, 4)));
        assert_eq!(parse_shard("4/4"), Some((4, 4)));
        assert_eq!(parse_shard("0/4"), None);
        assert_eq!(parse_shard("5/4"), None);
        assert_eq!(parse_shard("x"), None);
    }
}
