//! `mqtt-conform broker`: the reference broker as a real TCP server.
//!
//! ```text
//! mqtt-conform broker --listen 127.0.0.1:1883 [--listen [::1]:1883] [--config broker.yaml] [--seed N]
//! ```
//!
//! The YAML file (documented by `broker-model/examples/broker.yaml`) holds the listeners, the
//! shell's limits (`serve:`), the seed and the broker's configuration (`broker:`). Command-line
//! `--listen` replaces the file's listeners; `--seed` replaces its seed. Logs go through
//! `tracing` (`RUST_LOG=info` shows connections, `warn` protocol violations with their
//! statement ids). Ctrl-C (or SIGTERM) closes every connection and exits 0. Exit 2: invalid
//! arguments, an unreadable or invalid config file, or an address that cannot be listened on.

use std::path::PathBuf;
use std::process::ExitCode;

use mqtt_broker_model::serve::{serve_many, ServerConfig, SharedBroker};

/// Address used when neither `--listen` nor the config file gives one.
const DEFAULT_LISTEN: &str = "127.0.0.1:1883";

/// Arguments of `mqtt-conform broker`.
#[derive(Debug, Default, clap::Args)]
pub struct BrokerArgs {
    /// Address to listen on, HOST:PORT (repeat for several; default 127.0.0.1:1883, or the
    /// config file's `listeners`).
    #[arg(long = "listen", value_name = "HOST:PORT")]
    pub listen: Vec<String>,
    /// YAML configuration file (see broker-model/examples/broker.yaml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of the broker's random choices (assigned client ids, shared subscriptions).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

pub fn run(args: BrokerArgs) -> ExitCode {
    let mut server = match &args.config {
        Some(path) => match ServerConfig::load(path) {
            Ok(c) => c,
            Err(e) => return super::usage_error(e),
        },
        None => ServerConfig::default(),
    };
    if !args.listen.is_empty() {
        server.listeners = args.listen.clone();
    }
    if server.listeners.is_empty() {
        server.listeners.push(DEFAULT_LISTEN.to_string());
    }
    if let Some(seed) = args.seed {
        server.seed = seed;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::usage_error(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(serve_until_signal(server))
}

async fn serve_until_signal(server: ServerConfig) -> ExitCode {
    let mut listeners = Vec::new();
    for addr in &server.listeners {
        match tokio::net::TcpListener::bind(addr.as_str()).await {
            Ok(l) => listeners.push(l),
            Err(e) => {
                let why = match e.kind() {
                    std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                return super::usage_error(format!("cannot listen on {addr}: {why}"));
            }
        }
    }
    for l in &listeners {
        if let Ok(local) = l.local_addr() {
            eprintln!("mqtt-conform broker: listening on {local} (MQTT 3.1.1 and 5.0)");
        }
    }
    eprintln!("mqtt-conform broker: press Ctrl-C to stop");
    let shared = SharedBroker::new(server.broker, server.seed);
    serve_many(listeners, shared, server.serve, shutdown_signal()).await;
    eprintln!("mqtt-conform broker: stopped");
    ExitCode::SUCCESS
}

/// Completes on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    biased;
                    _ = ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => ctrl_c().await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c().await;
}

/// Completes on Ctrl-C; never, if the handler cannot be installed.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        tracing::warn!("cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
