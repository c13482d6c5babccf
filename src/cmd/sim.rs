//! `mqtt-conform sim`: seeded fault simulations of the reference broker (turmoil).

use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What a worker reports for one run: passing runs carry nothing.
enum Done {
    Passed,
    Bad(Box<Bad>),
}

/// A failing or nondeterministic run.
struct Bad {
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
    let seeds = match (args.seed, args.seeds) {
        (Some(s), _) => SeedSet::range(s, 1),
        (None, n) => SeedSet::range(args.first_seed, n.unwrap_or(100)),
    };
    let seeds = match shard {
        Some((k, n)) => seeds.shard(k, n),
        None => seeds,
    };
    // Work item i is scenario i / seeds.count with seed number i % seeds.count: nothing is
    // materialised per run, so a batch of any size runs in constant memory.
    let total = seeds.count.saturating_mul(scenarios.len() as u64);
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 256)
        .min(usize::try_from(total).unwrap_or(usize::MAX).max(1));

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(total)
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
    let scenarios = Arc::new(scenarios);
    let next = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<Done>();
    let shrink_runs = if args.no_shrink { 0 } else { 64 };
    let determinism = args.check_determinism;
    let mut threads = Vec::new();
    for _ in 0..jobs {
        let (scenarios, next, tx, schedule) = (
            scenarios.clone(),
            next.clone(),
            tx.clone(),
            schedule.clone(),
        );
        threads.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total {
                return;
            }
            let (Some(sc), Some(seed)) = (
                usize::try_from(i / seeds.count)
                    .ok()
                    .and_then(|k| scenarios.get(k)),
                seeds.nth(i % seeds.count),
            ) else {
                return;
            };
            let mut cfg = RunConfig::new(sc.clone(), seed);
            cfg.schedule = schedule.clone();
            let outcome = simrun::run(&cfg);
            let second_digest = determinism.then(|| simrun::run(&cfg).digest);
            let bad = !outcome.passed() || second_digest.is_some_and(|h| h != outcome.digest);
            // Passing runs are only counted: their histories are dropped here.
            let done = if bad {
                let shrunk = if outcome.passed() || shrink_runs == 0 {
                    None
                } else {
                    shrink(&cfg, shrink_runs)
                };
                Done::Bad(Box::new(Bad {
                    outcome,
                    second_digest,
                    shrunk,
                }))
            } else {
                Done::Passed
            };
            if tx.send(done).is_err() {
                return;
            }
        }));
    }
    drop(tx);
    let mut runs = 0u64;
    let mut violations = 0usize;
    let mut failed_runs = 0usize;
    let mut nondeterministic = 0usize;
    for d in rx {
        runs += 1;
        bar.inc(1);
        let Done::Bad(d) = d else { continue };
        let o = &d.outcome;
        let mut text = String::new();
        if let Some(h2) = d.second_digest {
            if h2 != o.digest {
                nondeterministic += 1;
                text.push_str(&format!(
                    "NONDETERMINISTIC scenario {} seed {} (build {BUILD}): history hash {:016x} then {h2:016x}\n  replay: mqtt-conform sim --scenario {} --seed {} --check-determinism\n",
                    o.scenario, o.seed, o.digest, o.scenario, o.seed
                ));
            }
        }
        if !o.passed() {
            failed_runs += 1;
            violations += o.violations.len();
            text.push_str(&report(o, d.shrunk.as_ref(), args.last_events));
        }
        // Printed as soon as it is known, so an interrupted batch loses no failure.
        bar.suspend(|| {
            print!("{text}");
            let _ = std::io::stdout().flush();
        });
        bar.set_message(format!("{} failing", failed_runs + nondeterministic));
    }
    for t in threads {
        let _ = t.join();
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let secs = elapsed.as_secs_f64().max(1e-9);
    let per_scenario = if scenarios.len() == 1 {
        String::new()
    } else {
        format!(" ({} scenarios x {} seeds)", scenarios.len(), seeds.count)
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

/// The seeds of a batch: `count` seeds from `first`, `step` apart (a shard takes every N-th).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeedSet {
    first: u64,
    count: u64,
    step: u64,
}

impl SeedSet {
    /// Seeds `first .. first + n` (stopping at `u64::MAX`).
    fn range(first: u64, n: u64) -> SeedSet {
        SeedSet {
            first,
            count: n
                .min(u64::MAX - first)
                .max(u64::from(first == u64::MAX && n > 0)),
            step: 1,
        }
    }

    /// The K-th of N shares (K from 1): the seeds `s` with `s % N == K - 1`.
    fn shard(self, k: u64, n: u64) -> SeedSet {
        let want = k.saturating_sub(1) % n.max(1);
        let n = n.max(1);
        // In u128: no overflow for any N.
        let skip = ((u128::from(want) + u128::from(n) - u128::from(self.first % n)) % u128::from(n))
            as u64;
        if self.step != 1 || skip >= self.count {
            return SeedSet {
                first: self.first,
                count: 0,
                step: n,
            };
        }
        SeedSet {
            first: self.first + skip,
            count: (self.count - skip).div_ceil(n),
            step: n,
        }
    }

    /// The i-th seed.
    fn nth(&self, i: u64) -> Option<u64> {
        (i < self.count).then(|| self.first + i * self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_shard, SeedSet};

    #[test]
    fn shards_of_a_seed_range_match_the_filter() {
        for first in [0u64, 1, 5, 17, 1000] {
            for n in [0u64, 1, 2, 7, 40] {
                let all = SeedSet::range(first, n);
                for parts in [1u64, 2, 3, 4, 9] {
                    let mut seen = Vec::new();
                    for k in 1..=parts {
                        let sh = all.shard(k, parts);
                        let got: Vec<u64> = (0..sh.count).filter_map(|i| sh.nth(i)).collect();
                        let want: Vec<u64> =
                            (first..first + n).filter(|s| s % parts == k - 1).collect();
                        assert_eq!(got, want, "first {first} n {n} shard {k}/{parts}");
                        seen.extend(got);
                    }
                    seen.sort_unstable();
                    assert_eq!(seen, (first..first + n).collect::<Vec<_>>());
                }
            }
        }
        assert_eq!(SeedSet::range(u64::MAX - 1, 5).count, 1);
        assert_eq!(SeedSet::range(3, 2).nth(2), None);
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("1/4"), Some((1, 4)));
        assert_eq!(parse_shard("4/4"), Some((4, 4)));
        assert_eq!(parse_shard("0/4"), None);
        assert_eq!(parse_shard("5/4"), None);
        assert_eq!(parse_shard("x"), None);
    }
}
