//! Listeners whose connections need a handshake before they carry MQTT (TLS, WebSocket), and
//! boxing, so that listeners of different transports can be served together.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::tls::TlsAcceptor;
use super::ws::{self, WsOptions};
use super::Listener;

/// A byte stream of any transport.
pub trait AnyStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AnyStream for T {}

/// A boxed [`AnyStream`].
pub type BoxedStream = Box<dyn AnyStream>;

/// Time a connection gets to complete its TLS or WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once on one listener; a connection beyond that is closed at once
/// (a flood of silent connections cannot make the listener hold unbounded state).
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// A listener that accepts from an inner listener, runs a handshake on each connection in a
/// task of its own (bounded by a timeout) and yields the connections whose handshake
/// succeeded, boxed. A failed or slow handshake is logged and dropped; it never holds up the
/// connections behind it. Must be created inside a tokio runtime; dropping it stops accepting.
pub struct UpgradeListener {
    ready: mpsc::Receiver<(BoxedStream, String)>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for UpgradeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradeListener").finish_non_exhaustive()
    }
}

impl Drop for UpgradeListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Upgrade<S> =
    Arc<dyn Fn(S) -> Pin<Box<dyn Future<Output = io::Result<BoxedStream>> + Send>> + Send + Sync>;

impl UpgradeListener {
    /// Runs `upgrade` on every connection `inner` accepts. `kind` names the transport in logs.
    pub fn new<L, F, Fut, S>(mut inner: L, kind: &'static str, upgrade: F) -> Self
    where
        L: Listener,
        F: Fn(L::Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<S>> + Send + 'static,
        S: AnyStream,
    {
        let upgrade: Upgrade<L::Stream> = Arc::new(move |s| {
            let fut = upgrade(s);
            Box::pin(async move { fut.await.map(|s| Box::new(s) as BoxedStream) })
        });
        let (tx, ready) = mpsc::channel(64);
        let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match inner.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "too many {kind} handshakes in progress: connection closed");
                    continue;
                };
                let upgrade = upgrade.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade(stream)).await {
                        Ok(Ok(s)) => {
                            let _ = tx.send((s, format!("{kind}:{peer}"))).await;
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "{kind} handshake failed"),
                        Err(_) => tracing::info!(%peer, "{kind} handshake timed out"),
                    }
                });
            }
        });
        UpgradeListener { ready, task }
    }

    /// The connections of `inner`, boxed, with no handshake.
    pub fn plain<L: Listener>(inner: L) -> Self {
        Self::new(inner, "tcp", |s| async move { Ok(s) })
    }

    /// TLS (`mqtts://`).
    pub fn tls<L: Listener>(inner: L, acceptor: TlsAcceptor) -> Self {
        Self::new(inner, "tls", move |s| acceptor.accept(s))
    }

    /// WebSocket (`ws://`).
    pub fn ws<L: Listener>(inner: L, options: WsOptions) -> Self {
        Self::new(inner, "ws", move |s| {
            let options = options.clone();
            async move { ws::accept(s, &options).await }
        })
    }

    /// WebSocket over TLS (`wss://`).
    pub fn wss<L: Listener>(inner: L, acceptor: TlsAcceptor, options: WsOptions) -> Self {
        Self::new(inner, "wss", move |s| {
            let acceptor = acceptor.clone();
            let options = options.clone();
            async move {
                let tls = acceptor.accept(s).await?;
                ws::accept(tls, &options).await
            }
        })
    }
}

impl Listener for UpgradeListener {
    type Stream = BoxedStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        match self.ready.recv().await {
            Some(x) => Ok(x),
            None => std::future::pending().await,
        }
    }
}

/// Listeners of different transports served together by one `serve_many`: a listener whose
/// connections need no handshake (served as they come, boxed) or an [`UpgradeListener`].
#[derive(Debug)]
pub enum AnyListener<L> {
    /// Connections used as they are accepted.
    Direct(L),
    /// Connections that went through a handshake first.
    Upgrade(UpgradeListener),
}

impl<L: Listener> Listener for AnyListener<L> {
    type Stream = BoxedStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        match self {
            AnyListener::Direct(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Box::new(s) as BoxedStream, peer))
            }
            AnyListener::Upgrade(l) => l.accept().await,
        }
    }
}
