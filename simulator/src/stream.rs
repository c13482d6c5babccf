//! A byte-stream adapter that decodes MQTT packets in both directions and lets a [`Rewrite`]
//! observe, drop, change or add packets. The simulator records what crosses the broker's
//! network interface with it, and tests build faulty brokers with it (a broker whose stream
//! rewrites its own traffic) without touching the broker's code.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use mqtt_codec::{decode, peek_protocol_version, Limits, Packet, ProtocolVersion, Side};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a [`PacketStream`] does with each packet. The stream sits on the broker's side: "up"
/// is from the client to the broker, "down" from the broker to the client.
pub trait Rewrite: Send + 'static {
    /// A packet from the client: push what the broker receives instead.
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        out.push(packet);
    }
    /// A packet from the broker: push what the client receives instead, and in `reply`
    /// anything the broker should receive as if the client had sent it.
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, reply: &mut Vec<Packet>) {
        let _ = reply;
        out.push(packet);
    }
    /// Bytes arrived from the client (before decoding).
    fn bytes_up(&mut self, _n: usize) {}
    /// The broker shut its side down or dropped the stream (called once).
    fn closed(&mut self) {}
}

/// See the module documentation.
pub struct PacketStream<S, R: Rewrite> {
    inner: S,
    rewrite: R,
    version: Option<ProtocolVersion>,
    /// The bytes could not be decoded: pass everything through unchanged.
    raw: bool,
    rx_raw: BytesMut,
    rx_ready: BytesMut,
    tx_raw: BytesMut,
    tx_ready: BytesMut,
    closed: bool,
    scratch: Vec<Packet>,
    replies: Vec<Packet>,
    read_waker: Option<std::task::Waker>,
}

impl<S, R: Rewrite> PacketStream<S, R> {
    /// Wraps `inner`.
    pub fn new(inner: S, rewrite: R) -> Self {
        PacketStream {
            inner,
            rewrite,
            version: None,
            raw: false,
            rx_raw: BytesMut::new(),
            rx_ready: BytesMut::new(),
            tx_raw: BytesMut::new(),
            tx_ready: BytesMut::new(),
            closed: false,
            scratch: Vec::new(),
            replies: Vec::new(),
            read_waker: None,
        }
    }

    fn close_once(&mut self) {
        if !self.closed {
            self.closed = true;
            self.rewrite.closed();
        }
    }

    fn process_up(&mut self) {
        loop {
            if self.raw {
                let all = self.rx_raw.split();
                self.rx_ready.extend_from_slice(&all);
                return;
            }
            let version = match self.version {
                Some(v) => v,
                None => match peek_protocol_version(&self.rx_raw) {
                    Ok(Some(v)) => {
                        self.version = Some(v);
                        v
                    }
                    Ok(None) => return,
                    Err(_) => {
                        self.raw = true;
                        continue;
                    }
                },
            };
            match decode(
                &mut self.rx_raw,
                version,
                &Limits::default(),
                Some(Side::Client),
            ) {
                Ok(Some(p)) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    self.rewrite.up(p, &mut out);
                    for p in out.drain(..) {
                        p.encode_unchecked(version, &mut self.rx_ready);
                    }
                    self.scratch = out;
                }
                Ok(None) => return,
                Err(_) => self.raw = true,
            }
        }
    }

    fn process_down(&mut self) {
        loop {
            let Some(version) = self.version.filter(|_| !self.raw) else {
                let all = self.tx_raw.split();
                self.tx_ready.extend_from_slice(&all);
                return;
            };
            match decode(
                &mut self.tx_raw,
                version,
                &Limits::default(),
                Some(Side::Server),
            ) {
                Ok(Some(p)) => {
                    let mut out = std::mem::take(&mut self.scratch);
                    let mut replies = std::mem::take(&mut self.replies);
                    self.rewrite.down(p, &mut out, &mut replies);
                    for p in out.drain(..) {
                        p.encode_unchecked(version, &mut self.tx_ready);
                    }
                    if !replies.is_empty() {
                        for p in replies.drain(..) {
                            p.encode_unchecked(version, &mut self.rx_ready);
                        }
                        if let Some(w) = self.read_waker.take() {
                            w.wake();
                        }
                    }
                    self.scratch = out;
                    self.replies = replies;
                }
                Ok(None) => return,
                Err(_) => self.raw = true,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin, R: Rewrite> PacketStream<S, R> {
    fn poll_flush_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.tx_ready.is_empty() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.tx_ready) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.tx_ready.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin, R: Rewrite + Unpin> AsyncRead for PacketStream<S, R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.rx_ready.is_empty() {
                let n = this.rx_ready.len().min(buf.remaining());
                buf.put_slice(&this.rx_ready[..n]);
                this.rx_ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            let mut tmp = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    this.read_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if got.is_empty() {
                        // End of stream: whatever could not be decoded goes as it is.
                        let rest = this.rx_raw.split();
                        if rest.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
                        this.rx_ready.extend_from_slice(&rest);
                        continue;
                    }
                    this.rewrite.bytes_up(got.len());
                    this.rx_raw.extend_from_slice(got);
                    this.process_up();
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin, R: Rewrite + Unpin> AsyncWrite for PacketStream<S, R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.poll_flush_ready(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|_| 0)),
        }
        this.tx_raw.extend_from_slice(buf);
        this.process_down();
        // Accepted; what is ready goes out now or at the next write/flush.
        if let Poll::Ready(Err(e)) = this.poll_flush_ready(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_flush_ready(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.close_once();
        match this.poll_flush_ready(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<S, R: Rewrite> Drop for PacketStream<S, R> {
    fn drop(&mut self) {
        self.close_once();
    }
}
