//! The `simulated` conformance target: the suite runs on a turmoil client host and opens
//! turmoil TCP connections to the reference broker on the broker host, across links with
//! latency and jitter. Time is turmoil's: waits cost nothing. The broker host also listens for
//! WebSocket, so the chapter 6 tests run over the simulated network too.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mqtt_broker_model::serve::ws::{self, WsOptions};
use mqtt_broker_model::serve::{
    serve_many, AnyListener, ServeOptions, SharedBroker, UpgradeListener,
};
use mqtt_broker_model::Config;
use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_against, Progress, RunError};
use mqtt_conformance::target::{BoxFuture, BoxStream, Target, WsConnect};
use mqtt_reports::Results;

use crate::world::{BROKER_HOST, BROKER_PORT, BROKER_WS_PORT};

/// Connections over turmoil's TCP to the broker host. Only usable inside a simulation host.
#[derive(Debug, Clone)]
pub struct SimulatedTarget {
    host: String,
    port: u16,
    ws_port: Option<u16>,
}

impl SimulatedTarget {
    /// The broker at `host:port` (turmoil host name).
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        SimulatedTarget {
            host: host.into(),
            port,
            ws_port: None,
        }
    }

    /// The same broker also listens for WebSocket on `ws_port`.
    pub fn with_websocket(mut self, ws_port: u16) -> Self {
        self.ws_port = Some(ws_port);
        self
    }
}

impl Target for SimulatedTarget {
    fn describe(&self) -> String {
        format!("simulated://{}:{}", self.host, self.port)
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let s = turmoil::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
            Ok(Box::new(s) as BoxStream)
        })
    }

    fn virtual_time(&self) -> bool {
        true
    }

    fn connect_websocket(&self) -> Option<BoxFuture<'_, io::Result<WsConnect>>> {
        let port = self.ws_port?;
        Some(Box::pin(async move {
            let s = turmoil::net::TcpStream::connect((self.host.as_str(), port)).await?;
            let url = format!("ws://{}:{port}/mqtt", self.host);
            Ok(ws::connect(s, &url).await?.into())
        }))
    }
}

/// Link parameters of a simulated suite run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Smallest one-way latency.
    pub min_latency: Duration,
    /// Largest one-way latency (jitter up to this).
    pub max_latency: Duration,
    /// turmoil's RNG seed (jitter draws).
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            min_latency: Duration::from_millis(1),
            max_latency: Duration::from_millis(20),
            seed: 1,
        }
    }
}

/// Runs the conformance suite against the reference broker inside a turmoil simulation.
pub fn run_suite(config: Config, opts: &RunOptions, link: LinkConfig) -> Result<Results, RunError> {
    let mut sim = turmoil::Builder::new()
        .epoch(crate::run::epoch())
        .simulation_duration(Duration::from_secs(24 * 3600))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(link.min_latency)
        .max_message_latency(link.max_latency.max(link.min_latency))
        .rng_seed(link.seed)
        .build();
    let clock = crate::world::World::default();
    let shared = SharedBroker::with_clock(config, link.seed, move || clock.now());
    sim.host(BROKER_HOST, move || {
        let shared = shared.clone();
        async move {
            let l = turmoil::net::TcpListener::bind(("0.0.0.0", BROKER_PORT)).await?;
            let wl = turmoil::net::TcpListener::bind(("0.0.0.0", BROKER_WS_PORT)).await?;
            let listeners = vec![
                AnyListener::Direct(SimListener(l)),
                AnyListener::Upgrade(UpgradeListener::ws(SimListener(wl), WsOptions::default())),
            ];
            serve_many(
                listeners,
                shared,
                ServeOptions::default(),
                std::future::pending(),
            )
            .await;
            Ok(())
        }
    });
    let result: Arc<std::sync::Mutex<Option<Result<Results, RunError>>>> = Arc::default();
    let slot = result.clone();
    let opts = opts.clone();
    sim.client("suite", async move {
        let target: Arc<dyn Target> =
            Arc::new(SimulatedTarget::new(BROKER_HOST, BROKER_PORT).with_websocket(BROKER_WS_PORT));
        let r = run_against(target, &opts, &Progress::default())
            .await
            .map(|(r, _)| r);
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        Ok(())
    });
    if let Err(e) = sim.run() {
        return Err(RunError::Unsupported(format!("simulation failed: {e}")));
    }
    let r = result.lock().unwrap_or_else(|e| e.into_inner()).take();
    r.unwrap_or_else(|| Err(RunError::Unsupported("the suite did not finish".into())))
}

/// Runs the suite inside simulations against every configuration the embedded target uses
/// (the full-featured broker and a restricted one), each with its profile's credentials, and
/// merges the verdicts as the embedded target does.
pub fn run_suite_all_configs(opts: &RunOptions, link: LinkConfig) -> Result<Results, RunError> {
    let mut merged: Option<Results> = None;
    for ec in mqtt_conformance::embedded::configurations() {
        let o = ec.run_options(opts);
        let r = run_suite(ec.config, &o, link)?;
        merged = Some(match merged {
            None => r,
            Some(mut acc) => {
                mqtt_conformance::session::merge_into(&mut acc, r);
                acc
            }
        });
    }
    merged.ok_or_else(|| RunError::Unsupported("no configuration".into()))
}

/// turmoil's listener for `serve`.
struct SimListener(turmoil::net::TcpListener);

impl mqtt_broker_model::serve::Listener for SimListener {
    type Stream = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (s, peer) = self.0.accept().await?;
        Ok((s, peer.to_string()))
    }
}
