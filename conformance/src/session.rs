//! One whole run of the suite against a target: probe, plan, run, results.

use std::sync::Arc;
use std::time::Instant;

use mqtt_reports::{Results, TestResult};

use crate::embedded::EmbeddedTarget;
use crate::probe::{probe, ProbeError, ProbeReport};
use crate::runner::{plan, results, run_planned, PlanError, RunOptions};
use crate::suite;
use crate::target::{Target, TargetSpec, TcpTarget};

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
    match spec {
        TargetSpec::Tcp { addr } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(RunError::Runtime)?;
            let target: Arc<dyn Target> = Arc::new(TcpTarget::new(addr.clone()));
            rt.block_on(run_against(target, opts, progress))
        }
        TargetSpec::Embedded => {
            let rt = embedded_runtime()?;
            rt.block_on(async {
                let (target, handle) =
                    EmbeddedTarget::start(mqtt_broker_model::Config::default(), 1, true);
                let r = run_against(Arc::new(target), opts, progress).await;
                handle.stop().await;
                r
            })
        }
    }
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
    match spec {
        TargetSpec::Tcp { addr } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(RunError::Runtime)?;
            let target: Arc<dyn Target> = Arc::new(TcpTarget::new(addr.clone()));
            Ok(rt.block_on(probe(target, profile))?)
        }
        TargetSpec::Embedded => {
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
