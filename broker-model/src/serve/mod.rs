//! `serve`: the async shell around the sans-IO broker core.
//!
//! The shell moves bytes and timers and makes no protocol decision:
//!
//! - every accepted stream is told to the core (`Broker::accept`); what is read from it goes to
//!   `Broker::handle_bytes`; end of stream or an IO error goes to `Broker::handle_closed`;
//! - one timer task per `serve` call sleeps until `Broker::poll_timeout` and then calls
//!   `Broker::handle_timeout`;
//! - after every call into the core, `Broker::poll_output` is drained: `Send` goes to the
//!   connection's write queue, `Close` closes the connection after what was queued before it,
//!   events are logged through `tracing`.
//!
//! Time given to the core is the time elapsed since the [`SharedBroker`] was created, read from
//! `tokio::time::Instant` (so tokio's paused time and turmoil's simulated time both work), or
//! from a clock of the caller's choosing ([`SharedBroker::with_clock`]).
//!
//! # Transports
//!
//! Anything implementing [`Listener`] can be served: `tokio::net::TcpListener`, the in-memory
//! [`memory_pair`], an [`UpgradeListener`] (TLS with [`tls`], WebSocket with [`ws`], both, or
//! any listener boxed so that several transports share one `serve_many`), or a newtype around
//! another listener, outside this crate:
//!
//! ```text
//! struct SimListener(turmoil::net::TcpListener);
//! impl mqtt_broker_model::serve::Listener for SimListener {
//!     type Stream = turmoil::net::TcpStream;
//!     async fn accept(&mut self) -> std::io::Result<(Self::Stream, String)> {
//!         let (s, peer) = self.0.accept().await?;
//!         Ok((s, peer.to_string()))
//!     }
//! }
//! ```
//!
//! # Resource limits (shell-level, see [`ServeOptions`])
//!
//! - Each connection has a bounded write queue (`max_write_queue` packets and `max_write_bytes`
//!   bytes). When the core produces a packet for a connection whose queue is full (a peer that
//!   does not read), the shell **drops that connection at once** (as if the network had failed:
//!   the core gets `handle_closed`, so the will and session rules apply). It never stops reading
//!   other connections and never buffers without bound.
//! - A connection that never sends CONNECT is closed by the core after its
//!   `Config::connect_timeout_secs` (driven by the shell's timer). The shell option
//!   `connect_timeout` adds a backstop of its own: a connection the core has not reported as
//!   connected within it is closed (the core gets `handle_closed`).
//! - A connection closed by the core (`Output::Close`) or by the shell gets `close_grace` to
//!   flush what is queued for it; then it is dropped.
//! - Reads use one buffer of `read_buffer` bytes per connection.
//!
//! # Shutdown
//!
//! When the `shutdown` future completes, `serve` stops accepting, closes every connection it
//! owns (the core hears `handle_closed` for each), waits up to `close_grace` for the queues to
//! drain and returns. If the `serve` future is dropped instead, its connections are cut without
//! telling the core, like a crash: call [`SharedBroker::restart`] before serving again.

mod conn;
mod file;
mod listener;
mod shared;
#[cfg(test)]
mod tests;
pub mod tls;
mod upgrade;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

pub use file::{parse_duration, ListenSpec, ServerConfig, ServerConfigError, TlsFiles};
pub use listener::{
    memory_pair, memory_pair_with_capacity, Listener, MemoryConnector, MemoryListener,
    MEMORY_PIPE_CAPACITY,
};
pub use shared::SharedBroker;
pub use upgrade::{
    AnyListener, AnyStream, BoxedStream, UpgradeListener, HANDSHAKE_TIMEOUT, MAX_PENDING_HANDSHAKES,
};

use crate::{Config, ConnId, Event};

/// Shell-level limits and timeouts (none of them is a protocol decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Close a connection whose CONNECT the core has not accepted within this time
    /// (`None`: never). Default `None`: the core's own `Config::connect_timeout_secs` applies
    /// (it runs on the shell's timer); this is a shell-level backstop on top of it.
    pub connect_timeout: Option<Duration>,
    /// Packets that may wait in one connection's write queue. Default 65536 (with small
    /// packets, `max_write_bytes` is the bound that matters; a burst of QoS 0 messages to a
    /// subscriber reading at full speed must not trip this).
    pub max_write_queue: usize,
    /// Bytes that may wait in one connection's write queue (one packet alone is always
    /// accepted). Default 4 MiB.
    pub max_write_bytes: usize,
    /// Size of each connection's read buffer. Default 8 KiB.
    pub read_buffer: usize,
    /// Time a closing connection gets to flush its queue, and that `serve` waits for all of
    /// them at shutdown. Default 2 s.
    pub close_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            connect_timeout: None,
            max_write_queue: 65536,
            max_write_bytes: 4 * 1024 * 1024,
            read_buffer: 8 * 1024,
            close_grace: Duration::from_secs(2),
        }
    }
}

/// Serves `listener` with `shared` and default [`ServeOptions`] until `shutdown` completes.
pub async fn serve<L: Listener>(
    listener: L,
    shared: SharedBroker,
    shutdown: impl Future<Output = ()>,
) {
    serve_many(vec![listener], shared, ServeOptions::default(), shutdown).await
}

/// Serves `listener` with `shared` and `options` until `shutdown` completes.
pub async fn serve_with<L: Listener>(
    listener: L,
    shared: SharedBroker,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    serve_many(vec![listener], shared, options, shutdown).await
}

/// Serves a new broker built from `config` and `seed` on `listener` until `shutdown` completes.
pub async fn serve_config<L: Listener>(
    listener: L,
    config: Config,
    seed: u64,
    shutdown: impl Future<Output = ()>,
) {
    serve(listener, SharedBroker::new(config, seed), shutdown).await
}

/// Serves several listeners of one type (for example several TCP addresses) with one broker
/// and one timer until `shutdown` completes.
pub async fn serve_many<L: Listener>(
    listeners: Vec<L>,
    shared: SharedBroker,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let timer = Arc::new(Notify::new());
    let owner = shared.register_serve(timer.clone());
    // Unregisters even if this future is dropped (then the connections are simply cut).
    let _guard = Unregister {
        shared: shared.clone(),
        owner,
    };

    let mut background = JoinSet::new();
    let (accepted_tx, mut accepted) = mpsc::channel(16);
    for listener in listeners {
        background.spawn(accept_loop(listener, accepted_tx.clone()));
    }
    drop(accepted_tx);
    background.spawn(timer_loop(shared.clone(), timer));

    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!(error = %e, "a connection task panicked");
                    }
                }
            }
            Some(accepted) = accepted.recv() => {
                let Accepted { stream, peer } = accepted;
                let ends = shared.accept(owner, &peer, options.max_write_queue, options.max_write_bytes);
                tracing::info!(conn = %ends.conn, %peer, "connection accepted");
                connections.spawn(conn::run(stream, ends, shared.clone(), options.clone()));
            }
        }
    }

    tracing::info!("shutting down: closing every connection");
    background.shutdown().await;
    drop(accepted);
    shared.close_all(owner);
    let drained = tokio::time::timeout(options.close_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections did not drain in time; dropping them");
    }
    connections.shutdown().await;
}

struct Accepted<S> {
    stream: S,
    peer: String,
}

async fn accept_loop<L: Listener>(mut listener: L, accepted: mpsc::Sender<Accepted<L::Stream>>) {
    let mut backoff = Duration::from_millis(5);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                if accepted.send(Accepted { stream, peer }).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Typically out of file descriptors: wait and retry rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Sleeps until the core's next deadline, calls `handle_timeout`, again; woken early whenever
/// the deadline changes.
async fn timer_loop(shared: SharedBroker, changed: Arc<Notify>) {
    let mut fired_at: Option<Duration> = None;
    loop {
        let wait = match shared.next_wakeup() {
            // Never spin: if the core asks again for an instant it has already been given, let
            // a little time pass first.
            Some((deadline, _)) if fired_at.is_some_and(|f| deadline <= f) => {
                Some(Duration::from_millis(1))
            }
            Some((deadline, now)) => Some(deadline.saturating_sub(now)),
            None => None,
        };
        tokio::select! {
            biased;
            _ = changed.notified() => {}
            _ = sleep_opt(wait), if wait.is_some() => {
                fired_at = Some(shared.timeout());
            }
        }
    }
}

async fn sleep_opt(wait: Option<Duration>) {
    match wait {
        Some(w) => tokio::time::sleep(w).await,
        None => std::future::pending().await,
    }
}

struct Unregister {
    shared: SharedBroker,
    owner: u64,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        self.shared.unregister_serve(self.owner);
    }
}

/// Logs one event of the core; returns the connection it reports as connected, if any.
pub(crate) fn log_event(event: &Event) -> Option<ConnId> {
    match event {
        Event::Connected {
            conn,
            client_id,
            protocol,
            session_present,
        } => {
            tracing::info!(%conn, %client_id, ?protocol, session_present, "client connected");
            return Some(*conn);
        }
        Event::Disconnected {
            conn,
            client_id,
            reason,
        } => {
            tracing::info!(%conn, client_id = client_id.as_deref().unwrap_or(""), %reason, "client disconnected");
        }
        Event::ConnectRefused { conn, code } => {
            tracing::info!(%conn, ?code, "CONNECT refused");
        }
        Event::ProtocolViolation {
            conn,
            statements,
            reason_code,
            detail,
        } => {
            let ids: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
            tracing::warn!(%conn, statements = %ids.join(" "), ?reason_code, %detail, "protocol violation");
        }
        Event::WillPublished { client_id, topic } => {
            tracing::info!(%client_id, %topic, "will published");
        }
        Event::SessionEnded { client_id } => {
            tracing::debug!(%client_id, "session ended");
        }
        Event::Published {
            client_id,
            topic,
            qos,
            retain,
            payload_len,
            ..
        } => {
            tracing::debug!(client_id = client_id.as_deref().unwrap_or(""), %topic, ?qos, retain, payload_len, "published");
        }
        Event::MessageDropped {
            client_id,
            topic,
            reason,
        } => {
            tracing::debug!(%client_id, %topic, ?reason, "message dropped");
        }
    }
    None
}
