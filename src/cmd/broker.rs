//! `mqtt-conform broker`: the reference broker as a real server over TCP, TLS and WebSocket.
//!
//! ```text
//! mqtt-conform broker --listen 127.0.0.1:1883 [--listen ws://127.0.0.1:8080]
//!     [--listen mqtts://127.0.0.1:8883 --tls-cert chain.pem --tls-key key.pem]
//!     [--config broker.yaml] [--seed N]
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

use mqtt_broker_model::serve::tls::{server_config_from_pem, TlsAcceptor};
use mqtt_broker_model::serve::ws::WsOptions;
use mqtt_broker_model::serve::{
    serve_many, ListenSpec, ServerConfig, SharedBroker, TlsFiles, UpgradeListener,
};

/// Address used when neither `--listen` nor the config file gives one.
const DEFAULT_LISTEN: &str = "127.0.0.1:1883";

/// Arguments of `mqtt-conform broker`.
#[derive(Debug, Default, clap::Args)]
pub struct BrokerArgs {
    /// Where to listen: HOST:PORT (TCP), mqtts://HOST:PORT (TLS), ws://HOST:PORT
    /// (WebSocket) or wss://HOST:PORT (repeat for several; default 127.0.0.1:1883, or the
    /// config file's `listeners`).
    #[arg(long = "listen", value_name = "[SCHEME://]HOST:PORT")]
    pub listen: Vec<String>,
    /// Certificate chain (PEM) of the mqtts:// and wss:// listeners.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the mqtts:// and wss:// listeners.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM): TLS clients must present a certificate signed by one of them.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
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
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        server.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.tls_client_ca.clone(),
        });
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
    let mut specs = Vec::new();
    for text in &server.listeners {
        match text.parse::<ListenSpec>() {
            Ok(s) => specs.push(s),
            Err(why) => return super::usage_error(why),
        }
    }
    let acceptor = match (specs.iter().find(|s| s.needs_tls()), &server.tls) {
        (None, _) => None,
        (Some(s), None) => {
            return super::usage_error(format!(
                "listener {s} needs a certificate: give --tls-cert and --tls-key (or `tls:` in the config file)"
            ))
        }
        (Some(_), Some(files)) => match server_config_from_pem(
            &files.cert,
            &files.key,
            files.client_ca.as_deref(),
        ) {
            Ok(c) => Some(TlsAcceptor::from(c)),
            Err(e) => return super::usage_error(e),
        },
    };
    let mut listeners = Vec::new();
    for spec in &specs {
        let tcp = match tokio::net::TcpListener::bind(spec.addr()).await {
            Ok(l) => l,
            Err(e) => {
                let why = match e.kind() {
                    std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                return super::usage_error(format!("cannot listen on {spec}: {why}"));
            }
        };
        let local = tcp
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| spec.addr().to_string());
        let (listener, shown) = match (spec, &acceptor) {
            (ListenSpec::Tcp(_), _) => (UpgradeListener::plain(tcp), format!("mqtt://{local}")),
            (ListenSpec::Ws(_), _) => (
                UpgradeListener::ws(tcp, WsOptions::default()),
                format!("ws://{local}"),
            ),
            (ListenSpec::Tls(_), Some(a)) => (
                UpgradeListener::tls(tcp, a.clone()),
                format!("mqtts://{local}"),
            ),
            (ListenSpec::Wss(_), Some(a)) => (
                UpgradeListener::wss(tcp, a.clone(), WsOptions::default()),
                format!("wss://{local}"),
            ),
            (_, None) => return super::usage_error(format!("listener {spec} needs a certificate")),
        };
        eprintln!("mqtt-conform broker: listening on {shown} (MQTT 3.1.1 and 5.0)");
        listeners.push(listener);
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
