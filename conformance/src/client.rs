//! The raw test client: sends any packet or any bytes, waits for packets with deadlines,
//! expects closes and silences, and records every step in the test's trace.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{
    decode, ConnAck, Connect, DecodeError, Disconnect, Limits, Packet, PacketType, ProtocolVersion,
    ReasonCode, Side,
};
use mqtt_reports::TraceEntry;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::case::{Ctx, Stop};
use crate::target::BoxStream;

/// Something that arrived from the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A well-formed packet.
    Packet(Packet),
    /// The broker closed the connection (EOF or reset).
    Closed,
    /// The broker sent bytes that do not decode.
    Malformed(DecodeError),
}

/// How a connection ended in [`Client::expect_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseSeen {
    /// The reason code of a DISCONNECT the broker sent first (5.0), if any.
    pub disconnect: Option<ReasonCode>,
    /// Other packets seen before the close.
    pub before: Vec<String>,
}

/// Everything a connection did until it closed (or a deadline passed), from
/// [`Client::watch_close`]: unlike [`CloseSeen`] it keeps the whole DISCONNECT packet and the
/// packets that came after it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ending {
    /// Packets before the first DISCONNECT.
    pub before: Vec<Packet>,
    /// The first DISCONNECT from the broker.
    pub disconnect: Option<Disconnect>,
    /// Packets after that DISCONNECT.
    pub after: Vec<Packet>,
    /// The connection closed within the deadline.
    pub closed: bool,
    /// The broker sent bytes that do not decode (the client stops reading there).
    pub malformed: Option<String>,
    /// When the close was seen.
    pub closed_at: Option<Instant>,
}

impl Ending {
    /// The first CONNACK before the DISCONNECT, if any.
    pub fn first_connack(&self) -> Option<&ConnAck> {
        self.before.iter().find_map(|p| match p {
            Packet::ConnAck(a) => Some(a),
            _ => None,
        })
    }

    /// One line: every packet in order, then `close` or `no close`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.before.iter().map(describe).collect();
        if let Some(d) = &self.disconnect {
            parts.push(describe(&Packet::Disconnect(d.clone())));
        }
        parts.extend(self.after.iter().map(describe));
        if let Some(m) = &self.malformed {
            parts.push(format!("malformed bytes ({m})"));
        }
        parts.push(if self.closed {
            "close".to_string()
        } else {
            "no close".to_string()
        });
        parts.join(", ")
    }
}

/// One connection of a test to the broker.
pub struct Client {
    ctx: Ctx,
    label: String,
    version: ProtocolVersion,
    stream: Option<BoxStream>,
    buf: BytesMut,
    backlog: VecDeque<Packet>,
    closed: bool,
    limits: Limits,
}

/// A one-line description of a packet for expectations and observations.
pub fn describe(p: &Packet) -> String {
    match p {
        Packet::ConnAck(a) => format!(
            "CONNACK(rc=0x{:02X}, session_present={})",
            a.reason_code.0, a.session_present
        ),
        Packet::Publish(m) => format!(
            "PUBLISH(topic={:?}, qos={}, dup={}, retain={}, id={}, {} bytes)",
            &*m.topic,
            m.qos.as_u8(),
            m.dup,
            m.retain,
            m.packet_id,
            m.payload.len()
        ),
        Packet::PubAck(a) => format!("PUBACK(id={}, rc=0x{:02X})", a.packet_id, a.reason_code.0),
        Packet::PubRec(a) => format!("PUBREC(id={}, rc=0x{:02X})", a.packet_id, a.reason_code.0),
        Packet::PubRel(a) => format!("PUBREL(id={}, rc=0x{:02X})", a.packet_id, a.reason_code.0),
        Packet::PubComp(a) => {
            format!("PUBCOMP(id={}, rc=0x{:02X})", a.packet_id, a.reason_code.0)
        }
        Packet::SubAck(a) => format!(
            "SUBACK(id={}, codes=[{}])",
            a.packet_id,
            a.reason_codes
                .iter()
                .map(|c| format!("0x{:02X}", c.0))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Packet::UnsubAck(a) => format!(
            "UNSUBACK(id={}, codes=[{}])",
            a.packet_id,
            a.reason_codes
                .iter()
                .map(|c| format!("0x{:02X}", c.0))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Packet::Disconnect(d) => format!("DISCONNECT(rc=0x{:02X})", d.reason_code.0),
        Packet::Auth(a) => format!("AUTH(rc=0x{:02X})", a.reason_code.0),
        other => other.packet_type().name().to_string(),
    }
}

/// A one-line description of what arrived.
pub fn describe_incoming(i: &Incoming) -> String {
    match i {
        Incoming::Packet(p) => describe(p),
        Incoming::Closed => "the connection closed".into(),
        Incoming::Malformed(e) => format!("malformed bytes from the broker: {e}"),
    }
}

impl Client {
    pub(crate) fn new(ctx: Ctx, label: &str, stream: BoxStream) -> Self {
        let version = ctx.version();
        Client {
            ctx,
            label: label.to_string(),
            version,
            stream: Some(stream),
            buf: BytesMut::with_capacity(4096),
            backlog: VecDeque::new(),
            closed: false,
            limits: Limits::default(),
        }
    }

    /// The protocol version this client speaks (by default the test's).
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Makes the client speak another version (e.g. to send a 3.1.1 CONNECT in a 5.0 test).
    pub fn set_version(&mut self, v: ProtocolVersion) {
        self.version = v;
    }

    /// The label of this client in the trace.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn fields(&self, p: Option<&Packet>) -> serde_json::Value {
        let mut v = match p {
            Some(p) => mqtt_codec::json::to_json(p, self.version),
            None => json!({}),
        };
        if let Some(m) = v.as_object_mut() {
            m.insert("client".into(), json!(self.label));
        }
        v
    }

    fn trace_out(&self, what: &str, p: Option<&Packet>, bytes: &[u8]) {
        let name = match p {
            Some(p) => p.packet_type().name().to_string(),
            None => format!("raw: {what}"),
        };
        self.ctx.record(TraceEntry::out(
            self.ctx.elapsed_ms(),
            name,
            self.fields(p),
            hex::encode(bytes),
        ));
    }

    fn trace_in(&self, p: &Packet, raw: &[u8]) {
        self.ctx.record(TraceEntry::incoming(
            self.ctx.elapsed_ms(),
            p.packet_type().name().to_string(),
            self.fields(Some(p)),
            hex::encode(raw),
        ));
    }

    fn trace_event(&self, name: &str, detail: String) {
        self.ctx.record(TraceEntry::event(
            self.ctx.elapsed_ms(),
            name.to_string(),
            json!({ "client": self.label, "detail": detail }),
        ));
    }

    /// Sends a packet, encoded with the checked encoder (the suite never sends a malformed
    /// packet by accident; use [`Client::send_raw`] for that).
    pub async fn send(&mut self, p: impl Into<Packet>) -> Result<(), Stop> {
        let p = p.into();
        let bytes = p.to_bytes(self.version).map_err(|e| {
            Stop::Error(format!("the suite built an invalid {}: {e}", describe(&p)))
        })?;
        self.trace_out(&describe(&p), Some(&p), &bytes);
        self.write(&describe(&p), &bytes).await
    }

    /// Sends bytes as they are. `what` describes them in the trace.
    pub async fn send_raw(&mut self, what: &str, bytes: &[u8]) -> Result<(), Stop> {
        self.trace_out(what, None, bytes);
        self.write(what, bytes).await
    }

    async fn write(&mut self, what: &str, bytes: &[u8]) -> Result<(), Stop> {
        let Some(s) = self.stream.as_mut() else {
            self.trace_event("write-after-close", what.to_string());
            return Ok(());
        };
        // A broker may close the connection while we write (that is often the behaviour under
        // test); a failed write is recorded and the close shows up on the next read.
        if let Err(e) = s.write_all(bytes).await {
            self.trace_event("write-error", e.to_string());
            return Ok(());
        }
        if let Err(e) = s.flush().await {
            self.trace_event("write-error", e.to_string());
        }
        Ok(())
    }

    /// The next thing from the broker within `within`; `Ok(None)` when nothing came.
    pub async fn next(&mut self, within: Duration) -> Result<Option<Incoming>, Stop> {
        if let Some(p) = self.backlog.pop_front() {
            return Ok(Some(Incoming::Packet(p)));
        }
        let deadline = Instant::now() + within;
        loop {
            if self.closed {
                return Ok(Some(Incoming::Closed));
            }
            let before = self.buf.len();
            let snapshot = self.buf.clone();
            match decode(
                &mut self.buf,
                self.version,
                &self.limits,
                Some(Side::Server),
            ) {
                Ok(Some(p)) => {
                    let used = before - self.buf.len();
                    self.trace_in(&p, snapshot.get(..used).unwrap_or(&[]));
                    return Ok(Some(Incoming::Packet(p)));
                }
                Ok(None) => {}
                Err(e) => {
                    self.trace_event(
                        "malformed-from-broker",
                        format!(
                            "{e} (bytes {})",
                            hex::encode(&self.buf[..self.buf.len().min(64)])
                        ),
                    );
                    self.buf.clear();
                    self.closed = true;
                    self.stream = None;
                    return Ok(Some(Incoming::Malformed(e)));
                }
            }
            let Some(s) = self.stream.as_mut() else {
                self.closed = true;
                continue;
            };
            let read = tokio::time::timeout_at(deadline, s.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    if let Ok(Err(e)) = &read {
                        self.trace_event("read-error", e.to_string());
                    }
                    self.closed = true;
                    self.stream = None;
                    if self.buf.is_empty() {
                        self.trace_event("closed", "the broker closed the connection".into());
                    } else {
                        // Bytes left that never formed a whole packet.
                        self.trace_event(
                            "closed",
                            format!(
                                "closed with {} bytes of an incomplete packet: {}",
                                self.buf.len(),
                                hex::encode(&self.buf[..self.buf.len().min(64)])
                            ),
                        );
                        self.buf.clear();
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next packet within `within`. A close, malformed bytes or nothing at all fail the
    /// test's main statement with `expected` as the expectation.
    pub async fn recv(&mut self, within: Duration, expected: &str) -> Result<Packet, Stop> {
        match self.next(within).await? {
            Some(Incoming::Packet(p)) => Ok(p),
            Some(other) => Err(Stop::fail(expected, describe_incoming(&other))),
            None => Err(Stop::fail(
                expected,
                format!("nothing within {} ms", within.as_millis()),
            )),
        }
    }

    /// Waits for the first packet for which `pick` returns `Some`, within `within`; other
    /// packets are kept, in order, for later reads. Fails with `expected` otherwise.
    pub async fn expect<T>(
        &mut self,
        within: Duration,
        expected: &str,
        mut pick: impl FnMut(&Packet) -> Option<T>,
    ) -> Result<T, Stop> {
        let deadline = Instant::now() + within;
        let mut skipped: Vec<Packet> = Vec::new();
        // Look at the backlog first.
        let mut found = None;
        let mut rest = VecDeque::new();
        while let Some(p) = self.backlog.pop_front() {
            if found.is_none() {
                if let Some(t) = pick(&p) {
                    found = Some(t);
                    continue;
                }
            }
            rest.push_back(p);
        }
        self.backlog = rest;
        if let Some(t) = found {
            return Ok(t);
        }
        let saved = std::mem::take(&mut self.backlog);
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Packet(p)) => match pick(&p) {
                    Some(t) => break Ok(t),
                    None => skipped.push(p),
                },
                Some(other) => {
                    break Err(Stop::fail(
                        expected,
                        observed_with(&skipped, &describe_incoming(&other)),
                    ))
                }
                None => {
                    break Err(Stop::fail(
                        expected,
                        observed_with(
                            &skipped,
                            &format!("nothing matching within {} ms", within.as_millis()),
                        ),
                    ))
                }
            }
        };
        self.backlog = saved;
        self.backlog.extend(skipped);
        result
    }

    /// Waits for a packet of `ty` (other packets are kept for later).
    pub async fn expect_type(&mut self, within: Duration, ty: PacketType) -> Result<Packet, Stop> {
        let what = format!("a {} from the broker", ty.name());
        self.expect(within, &what, |p| {
            (p.packet_type() == ty).then(|| p.clone())
        })
        .await
    }

    /// Expects the broker to close the connection within `within` (5.0: optionally after a
    /// DISCONNECT, whose reason code is returned). Any other packet before the close is
    /// recorded in [`CloseSeen::before`]; a missing close fails the test's main statement.
    pub async fn expect_close(&mut self, within: Duration) -> Result<CloseSeen, Stop> {
        let deadline = Instant::now() + within;
        let mut seen = CloseSeen {
            disconnect: None,
            before: Vec::new(),
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Closed) => return Ok(seen),
                Some(Incoming::Packet(Packet::Disconnect(d))) => {
                    seen.disconnect = Some(d.reason_code)
                }
                Some(Incoming::Packet(p)) => seen.before.push(describe(&p)),
                Some(Incoming::Malformed(e)) => {
                    return Err(Stop::fail(
                        "the broker closes the network connection",
                        format!("malformed bytes from the broker: {e}"),
                    ))
                }
                None => {
                    let mut obs = format!(
                        "the connection was still open after {} ms",
                        within.as_millis()
                    );
                    if let Some(rc) = seen.disconnect {
                        obs.push_str(&format!(" (after DISCONNECT 0x{:02X})", rc.0));
                    }
                    if !seen.before.is_empty() {
                        obs.push_str(&format!("; it sent {}", seen.before.join(", ")));
                    }
                    return Err(Stop::fail("the broker closes the network connection", obs));
                }
            }
        }
    }

    /// Reads everything until the broker closes the connection, sends malformed bytes, or
    /// `within` passes; never fails on what it sees (the caller judges the [`Ending`]).
    pub async fn watch_close(&mut self, within: Duration) -> Result<Ending, Stop> {
        let deadline = Instant::now() + within;
        let mut e = Ending::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Closed) => {
                    e.closed = true;
                    e.closed_at = Some(Instant::now());
                    return Ok(e);
                }
                Some(Incoming::Malformed(err)) => {
                    e.malformed = Some(err.to_string());
                    return Ok(e);
                }
                Some(Incoming::Packet(Packet::Disconnect(d))) if e.disconnect.is_none() => {
                    e.disconnect = Some(d);
                }
                Some(Incoming::Packet(p)) => {
                    if e.disconnect.is_some() {
                        e.after.push(p);
                    } else {
                        e.before.push(p);
                    }
                }
                None => return Ok(e),
            }
        }
    }

    /// Expects nothing from the broker for `quiet`; anything that arrives fails the test's
    /// main statement with `expected`.
    pub async fn expect_silence(&mut self, quiet: Duration, expected: &str) -> Result<(), Stop> {
        if let Some(p) = self.backlog.front() {
            return Err(Stop::fail(expected, describe(p)));
        }
        match self.next(quiet).await? {
            None => Ok(()),
            Some(i) => Err(Stop::fail(expected, describe_incoming(&i))),
        }
    }

    /// Sends CONNECT and waits for a successful CONNACK. A refusal or no answer makes the test
    /// inconclusive: the precondition failed, not the statement under test.
    pub async fn handshake(&mut self, connect: Connect) -> Result<ConnAck, Stop> {
        self.version = connect.protocol;
        let label = self.label.clone();
        self.send(Packet::Connect(Box::new(connect))).await?;
        match self.next(self.ctx.patience()).await? {
            Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code == ReasonCode::SUCCESS => {
                Ok(a)
            }
            Some(i) => Err(Stop::Inconclusive(format!(
                "client {label} could not connect: {}",
                describe_incoming(&i)
            ))),
            None => Err(Stop::Inconclusive(format!(
                "client {label} got no CONNACK within {} ms",
                self.ctx.patience().as_millis()
            ))),
        }
    }

    /// Sends a normal DISCONNECT and closes the connection.
    pub async fn disconnect(mut self) -> Result<(), Stop> {
        self.send(Packet::Disconnect(mqtt_codec::Disconnect::new(
            ReasonCode::NORMAL_DISCONNECTION,
        )))
        .await?;
        self.shutdown().await;
        Ok(())
    }

    /// Sends DISCONNECT and waits (up to `within`) until the broker closes the connection,
    /// as it must on a DISCONNECT: then the broker has taken this client as gone, and a
    /// message published afterwards cannot still be sent to this connection (on a network
    /// with jitter, a PUBLISH from another client can otherwise overtake the DISCONNECT).
    pub async fn disconnect_and_wait(mut self, within: Duration) -> Result<(), Stop> {
        self.send(Packet::Disconnect(mqtt_codec::Disconnect::new(
            ReasonCode::NORMAL_DISCONNECTION,
        )))
        .await?;
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Closed) | None | Some(Incoming::Malformed(_)) => break,
                Some(Incoming::Packet(_)) => {}
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// Closes the connection without DISCONNECT (an abnormal loss for the broker).
    pub async fn drop_connection(mut self) {
        self.trace_event(
            "drop",
            "the suite closes the connection without DISCONNECT".into(),
        );
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(mut s) = self.stream.take() {
            let _ = s.shutdown().await;
        }
        self.closed = true;
    }

    /// True once the broker closed the connection (as far as this client has read).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

fn observed_with(skipped: &[Packet], last: &str) -> String {
    if skipped.is_empty() {
        last.to_string()
    } else {
        format!(
            "{} (after {})",
            last,
            skipped.iter().map(describe).collect::<Vec<_>>().join(", ")
        )
    }
}
