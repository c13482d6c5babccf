//! The task of one connection: a reader feeding the core and a writer draining the connection's
//! bounded queue, both stopped by the router through a `watch` of [`ConnState`].

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::shared::{ConnEnds, ConnState, SharedBroker};
use super::ServeOptions;

/// Runs one connection until both directions are finished.
pub(crate) async fn run<S>(stream: S, ends: ConnEnds, shared: SharedBroker, options: ServeOptions)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let ConnEnds {
        conn,
        writes,
        state,
        queued,
    } = ends;
    let read = read_loop(reader, conn, state.clone(), shared.clone(), &options);
    let write = write_loop(writer, conn, writes, state, queued, shared, &options);
    tokio::join!(read, write);
    tracing::debug!(%conn, "connection finished");
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: R,
    conn: crate::ConnId,
    mut state: watch::Receiver<ConnState>,
    shared: SharedBroker,
    options: &ServeOptions,
) {
    let mut buf = vec![0u8; options.read_buffer.max(1)];
    let mut connect_deadline = options.connect_timeout.map(|t| Instant::now() + t);
    loop {
        tokio::select! {
            biased;
            // Any change (or the router forgetting the connection) means: stop reading.
            _ = state.changed() => return,
            _ = sleep_until(connect_deadline), if connect_deadline.is_some() => {
                connect_deadline = None;
                if shared.connect_deadline(conn) {
                    return;
                }
            }
            read = reader.read(&mut buf) => match read {
                Ok(0) => {
                    tracing::debug!(%conn, "peer closed the connection");
                    shared.lost(conn);
                    return;
                }
                Ok(n) => {
                    if let Some(bytes) = buf.get(..n) {
                        shared.input(conn, bytes);
                    }
                }
                Err(e) => {
                    tracing::debug!(%conn, error = %e, "read failed");
                    shared.lost(conn);
                    return;
                }
            },
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the writer must stop at once: on `Abort`, or when the close grace that
/// started with `Closing` has run out.
struct Stop {
    state: watch::Receiver<ConnState>,
    grace: Duration,
    deadline: Option<Instant>,
}

impl Stop {
    async fn wait(&mut self) {
        if self.deadline.is_none() {
            let changed = self.state.wait_for(|s| *s != ConnState::Open).await.is_ok();
            let now_state = *self.state.borrow();
            if !changed || now_state == ConnState::Abort {
                return;
            }
            self.deadline = Some(Instant::now() + self.grace);
        }
        sleep_until(self.deadline).await;
    }
}

/// Most bytes gathered from the queue into one write.
const GATHER: usize = 64 * 1024;

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    conn: crate::ConnId,
    mut writes: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    state: watch::Receiver<ConnState>,
    queued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    shared: SharedBroker,
    options: &ServeOptions,
) {
    let mut stop = Stop {
        state,
        grace: options.close_grace,
        deadline: None,
    };
    // Packets waiting in the queue are gathered into one write (up to GATHER bytes): one
    // system call for a burst instead of one per packet.
    let mut batch = bytes::BytesMut::new();
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.wait() => return,
            next = writes.recv() => next,
        };
        let Some(first) = next else {
            // The router dropped the queue: everything queued is written; close our side.
            tokio::select! {
                biased;
                _ = stop.wait() => {}
                _ = writer.shutdown() => {}
            }
            return;
        };
        let mut len = first.len();
        let mut single = Some(first);
        while len < GATHER {
            let Ok(more) = writes.try_recv() else { break };
            if let Some(one) = single.take() {
                batch.clear();
                batch.extend_from_slice(&one);
            }
            len += more.len();
            batch.extend_from_slice(&more);
        }
        let bytes: &[u8] = match &single {
            Some(one) => one,
            None => &batch,
        };
        let written = tokio::select! {
            biased;
            _ = stop.wait() => return,
            written = async {
                writer.write_all(bytes).await?;
                // Transports that buffer (TLS, WebSocket) send on flush; with nothing else
                // waiting, send now. (A no-op for TCP.)
                if writes.is_empty() {
                    writer.flush().await?;
                }
                Ok::<(), std::io::Error>(())
            } => written,
        };
        queued.fetch_sub(len, std::sync::atomic::Ordering::AcqRel);
        if let Err(e) = written {
            tracing::debug!(%conn, error = %e, "write failed");
            shared.lost(conn);
            return;
        }
        if batch.capacity() > 4 * GATHER {
            // A burst of large packets grew it: give the memory back.
            batch = bytes::BytesMut::new();
        }
    }
}
