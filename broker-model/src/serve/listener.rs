//! Where connections come from: the [`Listener`] trait, its TCP implementation and an in-memory
//! listener/connector pair built on `tokio::io::duplex`.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::mpsc;

/// A source of byte-stream connections for [`serve`](super::serve).
///
/// The trait assumes nothing about the transport: a simulator can wrap its own listener (for
/// example turmoil's) in a newtype and implement this trait outside this crate.
pub trait Listener: Send + 'static {
    /// The connection type. It is split into a read half and a write half by the shell.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection and returns it with a label naming the peer (for logs and
    /// for the broker core, which receives it in `Broker::accept`).
    ///
    /// An error is treated as transient: the shell logs it, waits a little and calls `accept`
    /// again. A listener that will never produce another connection should stay pending
    /// instead of failing.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, String)>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // MQTT packets are small and latency matters more than coalescing.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer.to_string()))
    }
}

/// Default capacity, in bytes, of each direction of an in-memory connection.
pub const MEMORY_PIPE_CAPACITY: usize = 64 * 1024;

/// The accepting side of an in-memory transport; see [`memory_pair`].
#[derive(Debug)]
pub struct MemoryListener {
    incoming: mpsc::UnboundedReceiver<(DuplexStream, u64)>,
}

/// The connecting side of an in-memory transport; cheap to clone.
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    outgoing: mpsc::UnboundedSender<(DuplexStream, u64)>,
    capacity: usize,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// An in-memory listener and the connector that reaches it. Each `connector.connect()` creates a
/// `tokio::io::duplex` pipe, hands one end to the listener and returns the other. Peers are
/// labelled `memory:1`, `memory:2`, ... in connection order.
pub fn memory_pair() -> (MemoryListener, MemoryConnector) {
    memory_pair_with_capacity(MEMORY_PIPE_CAPACITY)
}

/// Like [`memory_pair`], with `capacity` bytes of buffering in each direction of each pipe
/// (small values make a slow reader visible quickly in tests).
pub fn memory_pair_with_capacity(capacity: usize) -> (MemoryListener, MemoryConnector) {
    let (outgoing, incoming) = mpsc::unbounded_channel();
    (
        MemoryListener { incoming },
        MemoryConnector {
            outgoing,
            capacity: capacity.max(1),
            counter: Default::default(),
        },
    )
}

impl MemoryConnector {
    /// Opens a new connection to the listener. Fails with `ConnectionRefused` when the
    /// listener has been dropped (the server is gone).
    pub async fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(self.capacity);
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        self.outgoing.send((server, n)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the in-memory listener is gone",
            )
        })?;
        Ok(client)
    }
}

impl Listener for MemoryListener {
    type Stream = DuplexStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        match self.incoming.recv().await {
            Some((stream, n)) => Ok((stream, format!("memory:{n}"))),
            // Every connector is gone: no connection will ever come again.
            None => std::future::pending().await,
        }
    }
}
