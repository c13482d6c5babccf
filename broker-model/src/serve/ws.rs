//! MQTT over WebSocket (chapter 6 of both standards): a byte stream carried in WebSocket
//! binary frames, for the broker's listeners and for the conformance suite's client.
//!
//! [`WsStream`] turns a `tokio-tungstenite` WebSocket into `AsyncRead + AsyncWrite`:
//!
//! - reading concatenates the payloads of binary frames, so packets may span frames and a
//!   frame may hold several packets ([MQTT-6.0.0-2]); a text frame ends the stream with an
//!   error, which closes the connection ([MQTT-6.0.0-1]); a close frame or the end of the
//!   connection is the end of the stream; pings are answered by tungstenite;
//! - each write goes out as one binary frame ([MQTT-6.0.0-1]); [`WsControl`] lets a test
//!   client send its next write as a text frame or cut it into several frames.
//!
//! [`accept`] performs the server's opening handshake and returns the subprotocol `mqtt`
//! ([MQTT-6.0.0-4]) when the client offers it (a client must, [MQTT-6.0.0-3]; one that does
//! not is refused with HTTP 400). [`connect`] is the client's side, offering `mqtt`.
//!
//! [`WsOptions`] can also make the server break those rules on purpose, so that the
//! conformance tests of chapter 6 are shown to fail against a broker that does.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// The WebSocket subprotocol name of MQTT.
pub const SUBPROTOCOL: &str = "mqtt";

/// How the server side of a WebSocket connection behaves. The default follows the standard;
/// the other settings break one rule each and exist to prove that the conformance tests of
/// chapter 6 can fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsOptions {
    /// The subprotocol returned in the handshake response: `Some("mqtt")` by default
    /// ([MQTT-6.0.0-4]); `None` returns none, any other value returns that one.
    pub subprotocol: Option<String>,
    /// Refuse a handshake that does not offer `mqtt` ([MQTT-6.0.0-3]); default true.
    pub require_subprotocol: bool,
    /// What a text frame does: close the connection (default, [MQTT-6.0.0-1]) or, wrongly,
    /// count its bytes as if they came in a binary frame.
    pub on_text: OnText,
    /// Reassemble packets across frames (default, [MQTT-6.0.0-2]) or, wrongly, assume each
    /// frame holds exactly one whole packet: the first packet of a frame is kept, the rest of
    /// the frame dropped, and a frame holding less than one packet closes the connection.
    pub framing: Framing,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            subprotocol: Some(SUBPROTOCOL.to_string()),
            require_subprotocol: true,
            on_text: OnText::Close,
            framing: Framing::Stream,
        }
    }
}

/// What a received text frame does; see [`WsOptions::on_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnText {
    /// Close the connection ([MQTT-6.0.0-1]).
    Close,
    /// Take its bytes as data (breaks [MQTT-6.0.0-1]).
    AcceptAsBinary,
}

/// How received frames become bytes; see [`WsOptions::framing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One byte stream, whatever the frame boundaries ([MQTT-6.0.0-2]).
    Stream,
    /// One whole packet per frame (breaks [MQTT-6.0.0-2]).
    OnePacketPerFrame,
}

/// How the next write of a [`WsStream`] is framed; set through its [`WsControl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum NextWrite {
    /// One binary frame.
    #[default]
    Binary,
    /// One text frame (the bytes must be UTF-8 for the frame to be sent).
    Text,
    /// Binary frames of at most this many bytes each.
    Chunks(usize),
}

/// A handle on how a [`WsStream`] frames its next write, usable after the stream itself has
/// been boxed and handed to a client. Each setting applies to one write, then the stream goes
/// back to one binary frame per write.
#[derive(Debug, Clone, Default)]
pub struct WsControl(Arc<Mutex<NextWrite>>);

impl WsControl {
    /// The next write goes out as one text frame (breaking [MQTT-6.0.0-1] on purpose).
    pub fn next_as_text(&self) {
        self.set(NextWrite::Text);
    }

    /// The next write goes out as binary frames of at most `size` bytes each.
    pub fn next_in_chunks(&self, size: usize) {
        self.set(NextWrite::Chunks(size.max(1)));
    }

    fn set(&self, w: NextWrite) {
        if let Ok(mut g) = self.0.lock() {
            *g = w;
        }
    }

    fn take(&self) -> NextWrite {
        self.0
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

/// An MQTT byte stream over a WebSocket; see the module documentation.
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    pending: Bytes,
    framing: Framing,
    on_text: OnText,
    control: WsControl,
    eof: bool,
}

impl<S> std::fmt::Debug for WsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("pending", &self.pending.len())
            .field("framing", &self.framing)
            .field("on_text", &self.on_text)
            .field("eof", &self.eof)
            .finish()
    }
}

impl<S> WsStream<S> {
    fn new(ws: WebSocketStream<S>, framing: Framing, on_text: OnText) -> Self {
        WsStream {
            ws,
            pending: Bytes::new(),
            framing,
            on_text,
            control: WsControl::default(),
            eof: false,
        }
    }

    /// The handle that frames this stream's next write.
    pub fn control(&self) -> WsControl {
        self.control.clone()
    }
}

/// The size of the packet at the front of `frame`, from its fixed header; `None` if the frame
/// holds less than one whole packet.
fn first_packet_len(frame: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for i in 0..4 {
        let b = *frame.get(1 + i)?;
        len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return (frame.len() >= total).then_some(total);
        }
    }
    None
}

fn ws_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket is closed")
        }
        e => io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let data = match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None => {
                    this.eof = true;
                    continue;
                }
                Some(Err(tungstenite::Error::ConnectionClosed))
                | Some(Err(tungstenite::Error::AlreadyClosed)) => {
                    this.eof = true;
                    continue;
                }
                Some(Err(e)) => return Poll::Ready(Err(ws_error(e))),
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(Message::Text(t))) => match this.on_text {
                    OnText::AcceptAsBinary => Bytes::from(t),
                    // [MQTT-6.0.0-1]: a data frame other than binary closes the connection;
                    // a close frame (1003: data of a type it cannot accept) says why, if it
                    // can go out at once.
                    OnText::Close => {
                        this.eof = true;
                        if let Poll::Ready(Ok(())) = Pin::new(&mut this.ws).poll_ready(cx) {
                            let why = CloseFrame {
                                code: CloseCode::Unsupported,
                                reason: "MQTT travels in binary frames only".into(),
                            };
                            let sent = Pin::new(&mut this.ws).start_send(Message::Close(Some(why)));
                            if sent.is_ok() {
                                let _ = Pin::new(&mut this.ws).poll_flush(cx);
                            }
                        }
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a WebSocket text frame: MQTT travels in binary frames only \
                             [MQTT-6.0.0-1]",
                        )));
                    }
                },
                Some(Ok(Message::Close(_))) => {
                    this.eof = true;
                    continue;
                }
                // Pings are answered by tungstenite; pongs and raw frames carry no data.
                Some(Ok(_)) => continue,
            };
            this.pending = match this.framing {
                Framing::Stream => data,
                Framing::OnePacketPerFrame => match first_packet_len(&data) {
                    Some(n) => data.slice(..n),
                    None => {
                        this.eof = true;
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a WebSocket frame holding part of a packet",
                        )));
                    }
                },
            };
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(ws_error)?;
        let frames: Vec<Message> = match this.control.take() {
            NextWrite::Binary => vec![Message::binary(Bytes::copy_from_slice(buf))],
            NextWrite::Text => match std::str::from_utf8(buf) {
                Ok(text) => vec![Message::text(text)],
                Err(_) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a text frame needs UTF-8 bytes",
                    )))
                }
            },
            NextWrite::Chunks(size) => buf
                .chunks(size)
                .map(|c| Message::binary(Bytes::copy_from_slice(c)))
                .collect(),
        };
        // tungstenite queues frames without limit once ready: all of them go in now.
        for m in frames {
            Pin::new(&mut this.ws).start_send(m).map_err(ws_error)?;
        }
        // Frames wait in tungstenite until a flush; a writer that never flushes (plain TCP
        // needs none) must not stall, so start sending now. What does not go out at once
        // goes with the next write or flush.
        if let Poll::Ready(Err(e)) = Pin::new(&mut this.ws).poll_flush(cx) {
            return Poll::Ready(Err(ws_error(e)));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(ws_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.ws).poll_close(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(ws_error(e))),
        }
    }
}

/// Does the `Sec-WebSocket-Protocol` header of `req` offer `mqtt`?
fn offers_mqtt(req: &Request) -> bool {
    req.headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// The server's opening handshake on `stream`, then the MQTT byte stream.
pub async fn accept<S>(stream: S, options: &WsOptions) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let opts = options.clone();
    // The callback's shape is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if opts.require_subprotocol && !offers_mqtt(req) {
            let mut refusal = ErrorResponse::new(Some(
                "the WebSocket subprotocol `mqtt` must be offered [MQTT-6.0.0-3]".to_string(),
            ));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        if let Some(p) = &opts.subprotocol {
            // [MQTT-6.0.0-4]
            if let Ok(v) = HeaderValue::from_str(p) {
                resp.headers_mut().insert("Sec-WebSocket-Protocol", v);
            }
        }
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .map_err(ws_error)?;
    Ok(WsStream::new(ws, options.framing, options.on_text))
}

/// The server's handshake response selected no subprotocol, or one the client did not offer
/// (the client's handshake fails then, as RFC 6455 requires). Found inside the `io::Error` that
/// [`connect`] returns: `e.get_ref().and_then(|e| e.downcast_ref::<SubprotocolMismatch>())`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server's WebSocket handshake did not select the subprotocol `mqtt`: {0}")]
pub struct SubprotocolMismatch(pub String);

/// A client's WebSocket connection: the stream and what the server's handshake said.
#[derive(Debug)]
pub struct WsConnection<S> {
    /// The MQTT byte stream.
    pub stream: WsStream<S>,
    /// The subprotocol the server selected (`Sec-WebSocket-Protocol` of its response), if any.
    pub subprotocol: Option<String>,
}

/// The client's opening handshake on `stream` for `url` (`ws://host:port/path`; the host and
/// path go into the request, the connection is `stream`), offering the subprotocol `mqtt`
/// ([MQTT-6.0.0-3]).
pub async fn connect<S>(stream: S, url: &str) -> io::Result<WsConnection<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url
        .into_client_request()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| match e {
            tungstenite::Error::Io(e) => e,
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(why),
            ) => io::Error::new(
                io::ErrorKind::InvalidData,
                SubprotocolMismatch(why.to_string()),
            ),
            e => io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("WebSocket handshake with {url} failed: {e}"),
            ),
        })?;
    let subprotocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(WsConnection {
        stream: WsStream::new(ws, Framing::Stream, OnText::Close),
        subprotocol,
    })
}
