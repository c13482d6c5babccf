//! One whole run of the suite against a target: probe, plan, run, results.

use std::sync::Arc;
use std::time::Instant;

use mqtt_reports::{Results, TestResult};

use crate::embedded::EmbeddedTarget;
use crate::probe::{probe, ProbeError, ProbeReport};
use crate::runner::{plan, results, run_planned, PlanError, RunOptions};
use crate::suite;
use crate::target::{Target, TargetSpec};

/// Why a run could not produce results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The target cannot be reached or does not speak MQTT.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The options select nothing or are invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The target kind is not available in this build.
    #[error("{0}")]
    Unsupported(String),
    /// The target's settings are unusable (an unreadable CA file, an invalid host name).
    #[error("{0}")]
    Target(std::io::Error),
}

/// Callbacks while a run goes on.
pub struct Progress {
    /// Called once with the number of tests planned.
    pub planned: Box<dyn Fn(usize) + Send + Sync>,
    /// Called after each test.
    pub done: Arc<dyn Fn(&TestResult) + Send + Sync>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            planned: Box::new(|_| {}),
            done: Arc::new(|_| {}),
        }
    }
}

/// Runs the suite against an already-open target inside the current runtime.
pub async fn run_against(
    target: Arc<dyn Target>,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<(Results, ProbeReport), RunError> {
    let started_at = mqtt_reports::model::now_rfc3339();
    let wall = Instant::now();
    let planned = plan(&suite::all(), opts)?;
    let report = probe(target.clone(), &opts.profile).await?;
    report.check_versions(&target.describe(), &opts.protocols)?;
    (progress.planned)(planned.len());
    let tests = run_planned(
        target.clone(),
        report.capabilities.clone(),
        planned,
        opts,
        progress.done.clone(),
    )
    .await;
    let r = results(
        &target.describe(),
        opts,
        &report.capabilities,
        tests,
        started_at,
        wall.elapsed(),
    );
    Ok((r, report))
}

/// Runs the suite against `spec`, creating the runtime it needs.
pub fn run_blocking(
    spec: &TargetSpec,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<(Results, ProbeReport), RunError> {
    match remote(spec)? {
        Some((rt, target)) => rt.block_on(run_against(target, opts, progress)),
        None => run_embedded(opts, progress),
    }
}

/// Runs the suite against every embedded configuration (see
/// [`crate::embedded::configurations`]) and merges the verdicts: a test's result is its worst
/// decided verdict over the configurations, a skip only when every configuration skipped it.
pub fn run_embedded(
    opts: &RunOptions,
    progress: &Progress,
) -> Result<(Results, ProbeReport), RunError> {
    let rt = embedded_runtime()?;
    let configs = crate::embedded::configurations();
    let started_at = mqtt_reports::model::now_rfc3339();
    let wall = Instant::now();
    let mut merged: Option<(Results, ProbeReport)> = None;
    let n = configs.len();
    for (i, ec) in configs.into_iter().enumerate() {
        let o = ec.run_options(opts);
        let p = Progress {
            planned: Box::new(|_| {}),
            done: progress.done.clone(),
        };
        if i == 0 {
            let count = plan(&suite::all(), &o)?.len();
            (progress.planned)(count * n);
        }
        let (r, probe) = rt.block_on(async {
            let (target, handle) = EmbeddedTarget::start(ec.config, 1, true);
            let r = run_against(Arc::new(target), &o, &p).await;
            handle.stop().await;
            r
        })?;
        merged = Some(match merged {
            None => (r, probe),
            Some((mut acc, first_probe)) => {
                merge_into(&mut acc, r);
                (acc, first_probe)
            }
        });
    }
    let (mut r, probe) = merged.ok_or_else(|| RunError::Unsupported("no configuration".into()))?;
    r.run.target = "embedded".into();
    if r.run.broker.is_none() {
        r.run.broker = Some(mqtt_reports::Broker {
            name: "mqtt-conform reference broker".into(),
            version: Some(mqtt_broker_model::VERSION.to_string()),
        });
    }
    r.run.started_at = started_at;
    r.run.duration_ms = wall.elapsed().as_millis() as u64;
    Ok((r, probe))
}

/// How bad a verdict is, for merging: a skip is the weakest, an error the strongest.
fn rank(v: mqtt_reports::Verdict) -> u8 {
    use mqtt_reports::Verdict as V;
    match v {
        V::Skip => 0,
        V::Pass => 1,
        V::Advisory => 2,
        V::Inconclusive => 3,
        V::Fail => 4,
        V::Error => 5,
    }
}

/// Merges `other`'s verdicts into `acc` (same tests, another configuration).
pub fn merge_into(acc: &mut Results, other: Results) {
    for t in other.tests {
        match acc.tests.iter_mut().find(|a| a.id == t.id) {
            Some(a) => {
                if rank(t.verdict) > rank(a.verdict) {
                    *a = t;
                }
            }
            None => acc.tests.push(t),
        }
    }
}

/// A runtime and the target it runs against.
type RemoteRun = (tokio::runtime::Runtime, Arc<dyn Target>);

/// A multi-threaded runtime (real time) and the target of a remote `spec` (TCP, TLS,
/// WebSocket); `None` for the embedded target.
fn remote(spec: &TargetSpec) -> Result<Option<RemoteRun>, RunError> {
    let Some(target) = spec.remote() else {
        return Ok(None);
    };
    let target = target.map_err(RunError::Target)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    Ok(Some((rt, target)))
}

/// A single-threaded runtime with paused (virtual) time, for the embedded broker.
pub fn embedded_runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(RunError::Runtime)
}

/// Probes `spec`, creating the runtime it needs.
pub fn probe_blocking(
    spec: &TargetSpec,
    profile: &crate::Profile,
) -> Result<ProbeReport, RunError> {
    match remote(spec)? {
        Some((rt, target)) => Ok(rt.block_on(probe(target, profile))?),
        None => {
            let rt = embedded_runtime()?;
            rt.block_on(async {
                let (target, handle) =
                    EmbeddedTarget::start(mqtt_broker_model::Config::default(), 1, true);
                let r = probe(Arc::new(target), profile).await;
                handle.stop().await;
                Ok(r?)
            })
        }
    }
}
