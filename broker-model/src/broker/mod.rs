//! The broker state machine: the public API, outputs, timers, closing connections, sessions
//! ending, and routing. Packet handling lives in the sibling modules.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, peek_protocol_version, topic_matches, ConnAck, DecodeError, DecodeErrorKind,
    Disconnect, ErrorResponse, Limits, Packet, PacketType, ProtocolVersion, QoS, ReasonCode, Side,
    StatementId, Will,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::acl::{self, Op};
use crate::config::Config;
use crate::conn::{Conn, Phase};
use crate::message::{Delivery, Message};
use crate::session::{Session, NEVER};
use crate::types::{CloseReason, ConnId, DropReason, Event, Instant, Output, Stats};

mod connect;
mod publish;
mod subscribe;
mod sys;

/// A will waiting for its Will Delay Interval (or for its session to end).
#[derive(Debug, Clone)]
pub(crate) struct PendingWill {
    pub(crate) at: Instant,
    pub(crate) will: Will,
    pub(crate) username: Option<String>,
}

/// A connection detached from its session, waiting for its will and session to be settled.
struct Detached {
    cid: String,
    will: Option<Will>,
    username: Option<String>,
    v5: bool,
    expiry: u32,
}

/// A member of a shared subscription that matches a message.
#[derive(Debug, Clone)]
struct Member {
    client_id: String,
    granted: QoS,
    subscription_id: Option<u32>,
    connected: bool,
    /// Its Retain As Published option ([MQTT-3.3.1-12] [MQTT-3.3.1-13] hold for shared
    /// subscriptions too).
    retain_as_published: bool,
}

/// Running totals.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    messages_received: u64,
    messages_sent: u64,
    messages_dropped: u64,
    bytes_received: u64,
    bytes_sent: u64,
}

/// The reference broker: a deterministic, sans-IO state machine for MQTT 3.1.1 and 5.0.
///
/// Feed it connections, bytes, closes and time; drain [`Broker::poll_output`] after each
/// call; call [`Broker::handle_timeout`] at [`Broker::poll_timeout`]. Same config, seed and
/// inputs give the same outputs, byte for byte.
#[derive(Debug)]
pub struct Broker {
    config: Config,
    rng: ChaCha8Rng,
    started_at: Instant,
    now: Instant,
    next_conn: u64,
    conns: BTreeMap<ConnId, Conn>,
    // ---- durable state ----
    sessions: BTreeMap<String, Session>,
    retained: BTreeMap<String, Arc<Message>>,
    pending_wills: BTreeMap<String, PendingWill>,
    // ----
    out: VecDeque<Output>,
    next_sys: Option<Instant>,
    counters: Counters,
}

impl Broker {
    /// A broker with this configuration; `seed` drives every random choice (assigned client
    /// identifiers, shared-subscription members, SCRAM nonces).
    pub fn new(config: Config, seed: u64) -> Broker {
        let next_sys = config.sys_topics.then_some(Duration::ZERO);
        Broker {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            started_at: Duration::ZERO,
            now: Duration::ZERO,
            next_conn: 1,
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            retained: BTreeMap::new(),
            pending_wills: BTreeMap::new(),
            out: VecDeque::new(),
            next_sys,
            counters: Counters::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new network connection from `peer` (any label).
    pub fn accept(&mut self, now: Instant, peer: &str) -> ConnId {
        self.advance(now);
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(id, Conn::new(id, peer, self.now));
        id
    }

    /// Bytes arrived on `conn` (any split of the stream).
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        self.advance(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.disconnect_sent {
            return; // closing: what the client still sends is not read
        }
        self.counters.bytes_received += bytes.len() as u64;
        c.buf.extend_from_slice(bytes);
        self.process_buffer(conn);
    }

    /// The peer went away (or an IO error happened): an abnormal loss, the will is published.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.advance(now);
        self.close_conn(conn, CloseReason::PeerClosed, true, false);
    }

    /// The server ends a connection of its own accord (shutdown, administrative action): a 5.0
    /// client that completed CONNECT first gets DISCONNECT with `reason` (for example 0x8B
    /// Server shutting down; [MQTT-3.14.2-1]: a code a server may send). Queues the packet only;
    /// the caller closes the connection afterwards (through [`Broker::handle_closed`] once the
    /// bytes are written), so the will and session rules apply as for any closed connection.
    /// Returns whether a DISCONNECT was queued.
    pub fn send_server_disconnect(
        &mut self,
        now: Instant,
        conn: ConnId,
        reason: ReasonCode,
    ) -> bool {
        self.advance(now);
        let v5_connected = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.is_v5() && c.is_connected());
        if !v5_connected
            || !reason.allowed_on(PacketType::Disconnect, ProtocolVersion::V5)
            || !reason.allowed_from(PacketType::Disconnect, Side::Server)
        {
            return false;
        }
        let sent = self.send_packet(conn, &Packet::Disconnect(Disconnect::new(reason)));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.disconnect_sent = true;
        }
        sent
    }

    /// Time passed: keep alive, connect timeouts, will delays, session expiry, `$SYS`.
    /// (Every other entry point runs what is due first too; see `advance`.)
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.run_due_timers();
    }

    /// Everything due at `self.now`.
    fn run_due_timers(&mut self) {
        let now = self.now;
        // Connections that never sent CONNECT.
        if self.config.connect_timeout_secs > 0 {
            let limit = Duration::from_secs(u64::from(self.config.connect_timeout_secs));
            let late: Vec<ConnId> = self
                .conns
                .values()
                .filter(|c| !c.is_connected() && c.accepted_at + limit <= now)
                .map(|c| c.id)
                .collect();
            for id in late {
                self.close_conn(id, CloseReason::ConnectTimeout, true, true);
            }
        }
        // Keep alive: [MQTT-3.1.2-22] (5.0), [MQTT-3.1.2-24] (3.1.1).
        let expired: Vec<ConnId> = self
            .conns
            .values()
            .filter(|c| c.keep_alive_deadline().is_some_and(|d| d <= now))
            .map(|c| c.id)
            .collect();
        for id in expired {
            if self.conns.get(&id).is_some_and(|c| c.is_v5()) {
                self.send_packet(
                    id,
                    &Packet::Disconnect(Disconnect::new(ReasonCode::KEEP_ALIVE_TIMEOUT)),
                );
            }
            self.close_conn(id, CloseReason::KeepAliveTimeout, true, true);
        }
        // Wills whose delay passed.
        let due: Vec<String> = self
            .pending_wills
            .iter()
            .filter(|(_, w)| w.at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for cid in due {
            if let Some(w) = self.pending_wills.remove(&cid) {
                self.publish_will(&cid, w.will, w.username);
            }
        }
        // Sessions whose expiry passed: [MQTT-4.1.0-2] (5.0).
        let ended: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now))
            .map(|s| s.client_id.clone())
            .collect();
        for cid in ended {
            self.end_session(&cid);
        }
        if self.next_sys.is_some_and(|t| t <= now) {
            self.publish_sys();
            let every = Duration::from_secs(u64::from(self.config.sys_interval_secs.max(1)));
            self.next_sys = Some(now + every);
        }
    }

    /// The next output, if any. Drain after every call.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The next instant at which [`Broker::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = self.next_sys;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        for c in self.conns.values() {
            if let Some(d) = c.keep_alive_deadline() {
                consider(d);
            }
            if !c.is_connected() && self.config.connect_timeout_secs > 0 {
                consider(
                    c.accepted_at
                        + Duration::from_secs(u64::from(self.config.connect_timeout_secs)),
                );
            }
        }
        for w in self.pending_wills.values() {
            consider(w.at);
        }
        for s in self.sessions.values() {
            if s.conn.is_none() {
                if let Some(t) = s.expires_at {
                    consider(t);
                }
            }
        }
        next
    }

    /// A crash and restart of the broker: every connection is dropped (closed without any
    /// packet, wills handled as for a lost connection); with `persistence` the durable state
    /// (sessions with a non-zero expiry, subscriptions, queued and in-flight messages, retained
    /// messages, pending wills) is kept, otherwise it is all forgotten.
    pub fn restart(&mut self, now: Instant) {
        self.advance(now);
        // Every connection goes at once: all are detached before any will is published or
        // any shared message moves, so nothing is sent to a connection of this restart (its
        // session keeps the message for the next connection instead).
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        let detached: Vec<Detached> = ids
            .into_iter()
            .filter_map(|id| self.detach_conn(id, CloseReason::Restart, true))
            .collect();
        for d in detached {
            self.settle_detached(d, true);
        }
        if !self.config.persistence {
            self.sessions.clear();
            self.retained.clear();
            self.pending_wills.clear();
        }
        self.started_at = self.now;
        if self.config.sys_topics {
            self.next_sys = Some(self.now);
        }
    }

    /// The peer label given to [`Broker::accept`] for a live connection.
    pub fn peer(&self, conn: ConnId) -> Option<&str> {
        self.conns.get(&conn).map(|c| c.peer.as_str())
    }

    /// The client identifier of a connection whose CONNECT was accepted.
    pub fn client_id(&self, conn: ConnId) -> Option<&str> {
        self.conns.get(&conn).and_then(|c| c.client_id.as_deref())
    }

    /// Counters for `$SYS` and tests.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.conns.len(),
            clients_connected: self.conns.values().filter(|c| c.is_connected()).count(),
            sessions: self.sessions.len(),
            subscriptions: self.sessions.values().map(|s| s.subs.len()).sum(),
            retained_messages: self.retained.len(),
            queued_messages: self.sessions.values().map(|s| s.queue.len()).sum(),
            inflight_messages: self.sessions.values().map(|s| s.inflight.len()).sum(),
            pending_wills: self.pending_wills.len(),
            messages_received: self.counters.messages_received,
            messages_sent: self.counters.messages_sent,
            messages_dropped: self.counters.messages_dropped,
            bytes_received: self.counters.bytes_received,
            bytes_sent: self.counters.bytes_sent,
        }
    }

    // ------------------------------------------------------------------------------------
    // internals

    /// Time only moves forward. When it moves, whatever fell due meanwhile happens before the
    /// input that brought the new time: a CONNECT arriving after a session expired does not
    /// resume it ([MQTT-3.2.2-3]), a will whose delay has passed is published before a
    /// reconnect could cancel it ([MQTT-3.1.2-8]), and a packet arriving after the keep-alive
    /// deadline finds its connection closed ([MQTT-3.1.2-22] 5.0, [MQTT-3.1.2-24] 3.1.1),
    /// however late the caller's timer runs.
    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
            self.run_due_timers();
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn limits(&self) -> Limits {
        Limits::with_max_packet_size(self.config.max_packet_size())
    }

    /// Decodes and handles every complete packet buffered for `conn`.
    fn process_buffer(&mut self, conn: ConnId) {
        loop {
            let limits = self.limits();
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.buf.is_empty() {
                return;
            }
            let version = if matches!(c.phase, Phase::AwaitConnect) {
                match peek_protocol_version(&c.buf) {
                    Ok(None) => return,
                    Ok(Some(v)) => v,
                    Err(e) => {
                        self.connect_decode_error(conn, e);
                        return;
                    }
                }
            } else {
                c.version
            };
            let mut buf = std::mem::take(&mut c.buf);
            let res = decode(&mut buf, version, &limits, Some(Side::Client));
            c.buf = buf;
            match res {
                Ok(None) => return,
                Ok(Some(packet)) => {
                    c.last_received = self.now;
                    self.handle_packet(conn, packet);
                }
                Err(e) => {
                    if matches!(c.phase, Phase::Connected) {
                        self.decode_error(conn, e);
                    } else {
                        self.connect_decode_error(conn, e);
                    }
                    return;
                }
            }
        }
    }

    fn handle_packet(&mut self, conn: ConnId, packet: Packet) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        match (&c.phase, packet) {
            (Phase::AwaitConnect, Packet::Connect(p)) => self.on_connect(conn, *p),
            (Phase::AwaitConnect, other) => {
                // peek_protocol_version lets only CONNECT through; kept for safety.
                self.violation(
                    conn,
                    &[st(v5, S::FirstConnect)],
                    ReasonCode::PROTOCOL_ERROR,
                    format!("first packet is {}", other.packet_type()),
                );
            }
            (Phase::Authenticating { .. }, Packet::Auth(a)) => self.on_auth(conn, a),
            (Phase::Authenticating { .. }, Packet::Disconnect(_)) => {
                self.close_conn(conn, CloseReason::ClientDisconnect, false, true);
            }
            (Phase::Authenticating { .. }, other) => {
                // [MQTT-3.1.2-30] only AUTH or DISCONNECT before CONNACK.
                self.violation(
                    conn,
                    &[mqtt_spec::v5!("MQTT-3.1.2-30")],
                    ReasonCode::PROTOCOL_ERROR,
                    format!("{} during authentication", other.packet_type()),
                );
            }
            (Phase::Connected, Packet::Connect(_)) => {
                // [MQTT-3.1.0-2]: a second CONNECT is a protocol error.
                self.violation(
                    conn,
                    &[st(v5, S::SecondConnect)],
                    ReasonCode::PROTOCOL_ERROR,
                    "second CONNECT".into(),
                );
            }
            (Phase::Connected, Packet::Publish(p)) => self.on_publish(conn, p),
            (Phase::Connected, Packet::PubAck(p)) => self.on_puback(conn, p.packet_id),
            (Phase::Connected, Packet::PubRec(p)) => {
                self.on_pubrec(conn, p.packet_id, p.reason_code)
            }
            (Phase::Connected, Packet::PubRel(p)) => self.on_pubrel(conn, p.packet_id),
            (Phase::Connected, Packet::PubComp(p)) => self.on_pubcomp(conn, p.packet_id),
            (Phase::Connected, Packet::Subscribe(p)) => self.on_subscribe(conn, p),
            (Phase::Connected, Packet::Unsubscribe(p)) => self.on_unsubscribe(conn, p),
            (Phase::Connected, Packet::PingReq) => {
                // [MQTT-3.12.4-1]
                self.send_packet(conn, &Packet::PingResp);
            }
            (Phase::Connected, Packet::Disconnect(d)) => self.on_disconnect(conn, d),
            (Phase::Connected, Packet::Auth(a)) => self.on_auth(conn, a),
            (Phase::Connected, other) => {
                // The codec refuses server-only packets from a client; kept for safety.
                self.violation(
                    conn,
                    &[],
                    ReasonCode::PROTOCOL_ERROR,
                    format!("unexpected {}", other.packet_type()),
                );
            }
        }
    }

    /// A malformed packet or protocol error after CONNACK: 5.0 DISCONNECT with the code the
    /// codec names, then close; 3.1.1 close ([MQTT-4.8.0-1] 3.1.1, [MQTT-4.13.1-1] 5.0).
    fn decode_error(&mut self, conn: ConnId, e: DecodeError) {
        let rc = e.reason_code();
        self.violation(conn, e.statements(), rc, e.to_string());
    }

    /// A bad first packet or a bad CONNECT.
    fn connect_decode_error(&mut self, conn: ConnId, e: DecodeError) {
        self.emit(Event::ProtocolViolation {
            conn,
            statements: e.statements().to_vec(),
            reason_code: e.reason_code(),
            detail: e.to_string(),
        });
        let code = match (e.kind, e.response()) {
            // An unknown protocol level: 3.1.1 CONNACK 0x01 [MQTT-3.1.2-2] (3.1.1), or for a
            // level above 5, the 5.0 form with 0x84 [MQTT-3.1.2-2] (5.0).
            (DecodeErrorKind::UnsupportedProtocolLevel { level }, _) => {
                if level > 5 && self.config.allow_v5 {
                    Some((
                        ProtocolVersion::V5,
                        ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
                    ))
                } else {
                    Some((
                        ProtocolVersion::V3_1_1,
                        ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                    ))
                }
            }
            (_, ErrorResponse::ConnAckReturnCode(c)) => {
                Some((ProtocolVersion::V3_1_1, ReasonCode(c)))
            }
            (_, ErrorResponse::ReasonCode(rc)) => {
                // 5.0: CONNACK with the error code before closing ([MQTT-3.1.4-1] allows the
                // close; [MQTT-3.2.2-8] limits the codes).
                let rc = if rc.allowed_on(PacketType::ConnAck, ProtocolVersion::V5) {
                    rc
                } else {
                    ReasonCode::PROTOCOL_ERROR
                };
                Some((ProtocolVersion::V5, rc))
            }
            // 3.1.1: close without CONNACK [MQTT-3.1.4-1].
            (_, ErrorResponse::Close) => None,
        };
        if let Some((v, rc)) = code {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.version = v;
            }
            self.send_packet(conn, &Packet::ConnAck(ConnAck::new(rc)));
        }
        self.emit(Event::ConnectRefused {
            conn,
            code: code.map(|(_, rc)| rc),
        });
        self.close_conn(conn, CloseReason::ConnectRefused, false, true);
    }

    /// The client broke a rule: report it, answer with the reason code (5.0: DISCONNECT after
    /// CONNACK, CONNACK before), then close. The will is published ([MQTT-3.1.2-8] lists a
    /// close for a protocol error among the triggers).
    pub(crate) fn violation(
        &mut self,
        conn: ConnId,
        statements: &[StatementId],
        rc: ReasonCode,
        detail: String,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        let connected = c.is_connected();
        self.emit(Event::ProtocolViolation {
            conn,
            statements: statements.to_vec(),
            reason_code: rc,
            detail: detail.clone(),
        });
        if v5 {
            // [MQTT-4.13.1-1] [MQTT-4.13.2-1]: a code of 0x80 or more, then the close below.
            // [MQTT-3.14.0-1]: DISCONNECT only after a successful CONNACK; before it, the
            // code goes in the CONNACK.
            if connected {
                let rc = if rc.allowed_on(PacketType::Disconnect, ProtocolVersion::V5)
                    && rc.allowed_from(PacketType::Disconnect, Side::Server)
                {
                    rc
                } else {
                    ReasonCode::PROTOCOL_ERROR
                };
                let mut d = Disconnect::new(rc);
                if self.config.reason_strings {
                    d.properties.reason_string = Some(detail.into());
                }
                self.send_disconnect(conn, d);
            } else {
                let rc = if rc.allowed_on(PacketType::ConnAck, ProtocolVersion::V5) {
                    rc
                } else {
                    ReasonCode::PROTOCOL_ERROR
                };
                self.send_packet(conn, &Packet::ConnAck(ConnAck::new(rc)));
            }
        }
        self.close_conn(conn, CloseReason::ProtocolError, true, true);
    }

    /// Sends a server DISCONNECT, dropping the Reason String if the packet would exceed the
    /// client's Maximum Packet Size ([MQTT-3.14.2-3]).
    pub(crate) fn send_disconnect(&mut self, conn: ConnId, mut d: Disconnect) {
        let max = self
            .conns
            .get(&conn)
            .map_or(u32::MAX, |c| c.client_max_packet_size);
        let p = Packet::Disconnect(d.clone());
        if p.encoded_len(ProtocolVersion::V5).unwrap_or(usize::MAX) > max as usize {
            d.properties.reason_string = None;
            d.properties.user_properties.clear();
        }
        self.send_packet(conn, &Packet::Disconnect(d));
    }

    /// Encodes `packet` in the connection's version and queues it. Returns false if the
    /// connection is gone or the packet cannot be encoded.
    pub(crate) fn send_packet(&mut self, conn: ConnId, packet: &Packet) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        // [MQTT-3.14.4-1]: after its DISCONNECT the server sends nothing more.
        if c.disconnect_sent {
            return false;
        }
        let version = c.version;
        let max = c.client_max_packet_size as usize;
        let mut trimmed: Packet;
        let mut packet = packet;
        // 5.0: a Reason String or User Property that would make a packet other than PUBLISH
        // larger than the client's Maximum Packet Size is left out ([MQTT-3.2.2-19]
        // [MQTT-3.2.2-20] [MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.14.2-3] [MQTT-3.14.2-4] and the
        // same rule for every acknowledgement).
        if version.is_v5()
            && !matches!(packet, Packet::Publish(_))
            && packet.encoded_len(version).unwrap_or(0) > max
        {
            trimmed = packet.clone();
            let props = match &mut trimmed {
                Packet::ConnAck(p) => Some(&mut p.properties),
                Packet::PubAck(p) => Some(&mut p.properties),
                Packet::PubRec(p) => Some(&mut p.properties),
                Packet::PubRel(p) => Some(&mut p.properties),
                Packet::PubComp(p) => Some(&mut p.properties),
                Packet::SubAck(p) => Some(&mut p.properties),
                Packet::UnsubAck(p) => Some(&mut p.properties),
                Packet::Disconnect(p) => Some(&mut p.properties),
                Packet::Auth(p) => Some(&mut p.properties),
                _ => None,
            };
            if let Some(props) = props {
                props.reason_string = None;
                props.user_properties.clear();
            }
            packet = &trimmed;
        }
        let mut buf = BytesMut::new();
        match packet.encode(version, &mut buf) {
            Ok(()) => {
                self.push_bytes(conn, buf.freeze());
                true
            }
            Err(e) => {
                self.emit(Event::ProtocolViolation {
                    conn,
                    statements: e.statements().to_vec(),
                    reason_code: ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
                    detail: format!("broker could not encode its own packet: {e}"),
                });
                false
            }
        }
    }

    fn push_bytes(&mut self, conn: ConnId, bytes: Bytes) {
        self.counters.bytes_sent += bytes.len() as u64;
        self.out.push_back(Output::Send { conn, bytes });
    }

    /// Ends a connection. `will`: publish (or schedule) the will if it is still held;
    /// `output_close`: tell the caller to close the socket.
    pub(crate) fn close_conn(
        &mut self,
        conn: ConnId,
        reason: CloseReason,
        will: bool,
        output_close: bool,
    ) {
        if let Some(d) = self.detach_conn(conn, reason, output_close) {
            self.settle_detached(d, will);
        }
    }

    /// First half of closing a connection: it is forgotten (nothing can be sent to it any
    /// more) and its session, if it held one, becomes disconnected. Returns what the second
    /// half ([`Broker::settle_detached`]) needs: the session's client id, the will and so on.
    fn detach_conn(
        &mut self,
        conn: ConnId,
        reason: CloseReason,
        output_close: bool,
    ) -> Option<Detached> {
        let c = self.conns.remove(&conn)?;
        if output_close {
            self.out.push_back(Output::Close { conn, reason });
        }
        let connected = c.is_connected();
        self.emit(Event::Disconnected {
            conn,
            client_id: if connected { c.client_id.clone() } else { None },
            reason,
        });
        if !connected {
            return None;
        }
        let cid = c.client_id?;
        let s = self.sessions.get_mut(&cid)?;
        if s.conn != Some(conn) {
            return None;
        }
        s.conn = None;
        let expiry = s.expiry_interval;
        s.expires_at = if expiry == NEVER {
            None
        } else {
            Some(self.now + Duration::from_secs(u64::from(expiry)))
        };
        Some(Detached {
            cid,
            will: c.will,
            username: c.username,
            v5: c.version.is_v5(),
            expiry,
        })
    }

    /// Second half of closing a connection: its will is published or scheduled (if `will`),
    /// and its session ends or keeps its messages for a later connection.
    fn settle_detached(&mut self, d: Detached, will: bool) {
        let Detached {
            cid,
            will: held,
            username,
            v5,
            expiry,
        } = d;
        if will {
            if let Some(w) = held {
                let delay = if self.config.will_delay && v5 {
                    w.properties.will_delay_interval.unwrap_or(0)
                } else {
                    0
                };
                if delay == 0 {
                    // [MQTT-3.1.2-8]: published once the connection is closed.
                    self.publish_will(&cid, w, username);
                } else {
                    // [MQTT-3.1.3-9]: delayed; cancelled if the session is resumed first.
                    self.pending_wills.insert(
                        cid.clone(),
                        PendingWill {
                            at: self.now + Duration::from_secs(u64::from(delay)),
                            will: w,
                            username,
                        },
                    );
                }
            }
        }
        if expiry == 0 {
            // 5.0 [MQTT-3.1.2-23] only keeps sessions with an expiry above 0; 3.1.1
            // [MQTT-3.1.2-6]: a clean session lasts as long as the connection.
            self.end_session(&cid);
        } else {
            self.redistribute(&cid, false);
        }
    }

    /// A session ends: its pending will is published ([MQTT-3.1.2-8]), its shared deliveries
    /// go to other members, and its state is discarded ([MQTT-4.1.0-2]).
    pub(crate) fn end_session(&mut self, cid: &str) {
        if let Some(w) = self.pending_wills.remove(cid) {
            self.publish_will(cid, w.will, w.username);
        }
        self.redistribute(cid, true);
        if self.sessions.remove(cid).is_some() {
            self.emit(Event::SessionEnded {
                client_id: cid.to_string(),
            });
        }
    }

    /// Publishes a will message ([MQTT-3.1.2-14] [MQTT-3.1.2-15] 5.0, [MQTT-3.1.2-16]
    /// [MQTT-3.1.2-17] 3.1.1: RETAIN as the Will Retain flag says; [MQTT-3.1.3-10] user
    /// properties in order).
    pub(crate) fn publish_will(&mut self, cid: &str, w: Will, username: Option<String>) {
        // [MQTT-3.1.2-10]: removed once published (the caller took it out).
        if !acl::allowed(
            self.config.acl.as_ref(),
            Op::Publish,
            cid,
            username.as_deref(),
            &w.topic,
        ) {
            return;
        }
        let props = &w.properties;
        let msg = Message {
            topic: w.topic.clone(),
            payload: w.payload.clone(),
            qos: w.qos.min(self.config.max_qos()),
            retain: w.retain,
            received_at: self.now,
            payload_format_indicator: props.payload_format_indicator,
            message_expiry_interval: if self.config.message_expiry {
                props.message_expiry_interval
            } else {
                None
            },
            content_type: props.content_type.clone(),
            response_topic: props.response_topic.clone(),
            correlation_data: props.correlation_data.clone(),
            user_properties: props.user_properties.clone(),
            publisher: Some(cid.to_string()),
        };
        self.emit(Event::WillPublished {
            client_id: cid.to_string(),
            topic: w.topic.to_string(),
        });
        self.accept_message(msg, None);
    }

    /// Takes ownership of an application message: retained store, then routing. Returns the
    /// number of sessions it was given to.
    pub(crate) fn accept_message(&mut self, msg: Message, conn: Option<ConnId>) -> usize {
        self.counters.messages_received += 1;
        self.emit(Event::Published {
            conn,
            client_id: msg.publisher.clone(),
            topic: msg.topic.to_string(),
            qos: msg.qos,
            retain: msg.retain,
            payload_len: msg.payload.len(),
        });
        let msg = Arc::new(msg);
        if msg.retain && self.config.retain_available {
            if msg.payload.is_empty() {
                // [MQTT-3.3.1-6] [MQTT-3.3.1-7] (5.0), [MQTT-3.3.1-10] [MQTT-3.3.1-11]
                // (3.1.1): an empty retained message deletes, and is not stored.
                self.retained.remove(&*msg.topic);
            } else {
                // [MQTT-3.3.1-5]: replace and store (3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-7]).
                self.retained.insert(msg.topic.to_string(), msg.clone());
            }
        }
        self.route(msg)
    }

    /// Gives a message to every session with a matching subscription ([MQTT-4.5.0-1]).
    fn route(&mut self, msg: Arc<Message>) -> usize {
        let topic: &str = &msg.topic;
        let mut direct: BTreeMap<String, Delivery> = BTreeMap::new();
        let mut groups: BTreeMap<(String, String), Vec<Member>> = BTreeMap::new();
        let acl = self.config.acl.as_ref();
        for (cid, s) in &self.sessions {
            // Authorization is checked per message too: a granted wildcard filter does not
            // open the topics a rule keeps this user or client from receiving.
            if acl.is_some()
                && !s.subs.is_empty()
                && !acl::allowed(acl, Op::Subscribe, cid, s.username.as_deref(), topic)
            {
                continue;
            }
            // Options of 5.0 only, kept by a session a 3.1.1 connection resumed: 3.1.1 has no
            // No Local, and RETAIN is 0 on established subscriptions ([MQTT-3.3.1-9] 3.1.1).
            let v5 = s.protocol.is_v5();
            for (filter, sub) in &s.subs {
                if let Some((name, inner)) = &sub.shared {
                    if topic_matches(inner, topic) {
                        groups
                            .entry((name.clone(), inner.clone()))
                            .or_default()
                            .push(Member {
                                client_id: cid.clone(),
                                granted: sub.qos,
                                subscription_id: sub.subscription_id,
                                connected: s.conn.is_some(),
                                retain_as_published: v5 && sub.retain_as_published,
                            });
                    }
                    continue;
                }
                // [MQTT-4.7.2-1] and [MQTT-4.7.3-4] are in topic_matches.
                if !topic_matches(filter, topic) {
                    continue;
                }
                // [MQTT-3.8.3-3]: No Local.
                if v5 && sub.no_local && msg.publisher.as_deref() == Some(cid.as_str()) {
                    continue;
                }
                // [MQTT-3.8.4-8] (5.0) / [MQTT-3.8.4-6] (3.1.1): min(published, granted).
                let qos = msg.qos.min(sub.qos);
                // [MQTT-3.3.1-12] [MQTT-3.3.1-13] (5.0) Retain As Published; 3.1.1
                // [MQTT-3.3.1-9]: RETAIN 0 on established subscriptions.
                let retain = v5 && sub.retain_as_published && msg.retain;
                let d = direct.entry(cid.clone()).or_insert_with(|| Delivery {
                    msg: msg.clone(),
                    qos,
                    retain,
                    subscription_ids: Vec::new(),
                    shared: None,
                });
                // 3.1.1 [MQTT-3.3.5-1] / 5.0 [MQTT-3.3.4-2]: one copy at the highest QoS,
                // with every matching Subscription Identifier [MQTT-3.3.4-3] [MQTT-3.3.4-4].
                d.qos = d.qos.max(qos);
                d.retain |= retain;
                if let Some(id) = sub.subscription_id {
                    d.subscription_ids.push(id);
                }
            }
        }
        let mut count = 0;
        let mut touched: Vec<String> = Vec::new();
        for (cid, d) in direct {
            if self.enqueue(&cid, d) {
                count += 1;
            }
            touched.push(cid);
        }
        for ((name, inner), members) in groups {
            // A seeded choice among the connected members (any member if none is).
            let online: Vec<&Member> = members.iter().filter(|m| m.connected).collect();
            let pool: Vec<&Member> = if online.is_empty() {
                members.iter().collect()
            } else {
                online
            };
            if pool.is_empty() {
                continue;
            }
            let pick = self.rng.random_range(0..pool.len());
            let Some(&m) = pool.get(pick) else {
                continue;
            };
            let d = Delivery {
                msg: msg.clone(),
                qos: msg.qos.min(m.granted),
                retain: m.retain_as_published && msg.retain,
                subscription_ids: m.subscription_id.into_iter().collect(),
                shared: Some((name, inner)),
            };
            let cid = m.client_id.clone();
            if self.enqueue(&cid, d) {
                count += 1;
            }
            touched.push(cid);
        }
        for cid in touched {
            self.pump(&cid);
        }
        count
    }

    /// Adds a delivery to a session's queue, within the configured bound. Returns false if
    /// it was dropped.
    pub(crate) fn enqueue(&mut self, cid: &str, d: Delivery) -> bool {
        let max = self.config.max_queued_messages.max(1);
        let qos0_offline = self.config.queue_qos0_offline;
        let Some(s) = self.sessions.get_mut(cid) else {
            return false;
        };
        let topic = d.msg.topic.to_string();
        if s.conn.is_none() && d.qos == QoS::AtMostOnce && !qos0_offline {
            // 3.1.1 [MQTT-3.1.2-5]: QoS 1 and 2 are stored for an absent client; QoS 0
            // optionally.
            self.drop_message(cid, topic, DropReason::Offline);
            return false;
        }
        if s.held() >= max {
            if let Some(i) = s.queue.iter().position(|q| q.qos == QoS::AtMostOnce) {
                if let Some(old) = s.queue.remove(i) {
                    let t = old.msg.topic.to_string();
                    s.queue.push_back(d);
                    self.drop_message(cid, t, DropReason::QueueFull);
                    return true;
                }
            }
            self.drop_message(cid, topic, DropReason::QueueFull);
            return false;
        }
        s.queue.push_back(d);
        true
    }

    fn drop_message(&mut self, cid: &str, topic: String, reason: DropReason) {
        self.counters.messages_dropped += 1;
        self.emit(Event::MessageDropped {
            client_id: cid.to_string(),
            topic,
            reason,
        });
    }

    /// Shared-subscription deliveries of a session that went away go to other members:
    /// queued ones when the connection drops; when the session ends, also QoS 1 messages in
    /// flight, never QoS 2 ones ([MQTT-4.8.2-4] [MQTT-4.8.2-5]).
    fn redistribute(&mut self, cid: &str, session_ends: bool) {
        let Some(s) = self.sessions.get_mut(cid) else {
            return;
        };
        let mut moving: Vec<Delivery> = Vec::new();
        let mut keep = std::collections::VecDeque::new();
        for d in s.queue.drain(..) {
            if d.shared.is_some() {
                moving.push(d);
            } else {
                keep.push_back(d);
            }
        }
        s.queue = keep;
        if session_ends {
            let mut keep_inflight = VecDeque::new();
            for f in s.inflight.drain(..) {
                if f.delivery.shared.is_some() && f.state == crate::session::OutState::AwaitPubAck {
                    moving.push(f.delivery);
                } else {
                    keep_inflight.push_back(f);
                }
            }
            s.inflight = keep_inflight;
        }
        for d in moving {
            let Some((name, inner)) = d.shared.clone() else {
                continue;
            };
            let full = format!("$share/{name}/{inner}");
            let candidates: Vec<(String, QoS, Option<u32>, bool)> = self
                .sessions
                .values()
                .filter(|o| o.client_id != cid && o.conn.is_some())
                .filter_map(|o| {
                    o.subs.get(&full).map(|sub| {
                        (
                            o.client_id.clone(),
                            sub.qos,
                            sub.subscription_id,
                            o.protocol.is_v5() && sub.retain_as_published,
                        )
                    })
                })
                .collect();
            if candidates.is_empty() {
                if !session_ends {
                    // Nobody else: keep it for this member.
                    if let Some(s) = self.sessions.get_mut(cid) {
                        s.queue.push_back(d);
                    }
                }
                continue;
            }
            let pick = self.rng.random_range(0..candidates.len());
            let Some((other, granted, sub_id, rap)) = candidates.get(pick).cloned() else {
                continue;
            };
            let nd = Delivery {
                qos: d.msg.qos.min(granted),
                retain: rap && d.msg.retain,
                subscription_ids: sub_id.into_iter().collect(),
                ..d
            };
            if self.enqueue(&other, nd) {
                self.pump(&other);
            }
        }
    }

    /// The username of a connection.
    fn username(&self, conn: ConnId) -> Option<String> {
        self.conns.get(&conn).and_then(|c| c.username.clone())
    }

    /// 5.0 Reason Strings on packets other than CONNACK/DISCONNECT/PUBLISH only when the
    /// client did not set Request Problem Information to 0 ([MQTT-3.1.2-29]).
    fn may_add_reason(&self, conn: ConnId) -> bool {
        self.config.reason_strings
            && self
                .conns
                .get(&conn)
                .is_some_and(|c| c.is_v5() && c.request_problem_information)
    }

    /// A random string of `n` letters and digits.
    fn random_alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..n)
            .map(|_| {
                let i = self.rng.random_range(0..CHARS.len());
                char::from(CHARS.get(i).copied().unwrap_or(b'x'))
            })
            .collect()
    }
}

/// Statements that exist in both versions under different numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum S {
    FirstConnect,
    SecondConnect,
}

/// The id of `s` in the catalogue of the connection's version.
pub(crate) fn st(v5: bool, s: S) -> StatementId {
    match (s, v5) {
        (S::FirstConnect, true) => mqtt_spec::v5!("MQTT-3.1.0-1"),
        (S::FirstConnect, false) => mqtt_spec::v311!("MQTT-3.1.0-1"),
        (S::SecondConnect, true) => mqtt_spec::v5!("MQTT-3.1.0-2"),
        (S::SecondConnect, false) => mqtt_spec::v311!("MQTT-3.1.0-2"),
    }
}
