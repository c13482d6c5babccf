//! The broker's inputs and outputs: connection ids, outputs, events, statistics.

use std::fmt;

use bytes::Bytes;
use mqtt_codec::{ProtocolVersion, QoS, ReasonCode, StatementId};

/// A point in time: the offset since the broker's epoch. The broker never reads a clock; the
/// caller passes the time in.
pub type Instant = std::time::Duration;

/// One network connection accepted by the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes to the connection, in order.
    Send {
        /// The connection.
        conn: ConnId,
        /// The bytes (one or more whole packets).
        bytes: Bytes,
    },
    /// Close the connection after writing everything sent to it before.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Something worth logging or checking in a test.
    Event(Event),
}

/// Why the broker closes (or lost) a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client sent DISCONNECT.
    ClientDisconnect,
    /// The peer closed the connection or an IO error happened (reported by the caller).
    PeerClosed,
    /// The CONNECT was refused (CONNACK with an error code, or closed without CONNACK).
    ConnectRefused,
    /// A malformed packet or a protocol error.
    ProtocolError,
    /// Nothing received within one and a half times the keep alive.
    KeepAliveTimeout,
    /// No CONNECT within the configured connect timeout.
    ConnectTimeout,
    /// Another connection took over the session (same client identifier).
    SessionTakenOver,
    /// Enhanced authentication or re-authentication failed.
    AuthenticationFailed,
    /// The broker restarted.
    Restart,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::ClientDisconnect => "client disconnected",
            CloseReason::PeerClosed => "peer closed the connection",
            CloseReason::ConnectRefused => "connect refused",
            CloseReason::ProtocolError => "protocol error",
            CloseReason::KeepAliveTimeout => "keep alive timeout",
            CloseReason::ConnectTimeout => "no CONNECT in time",
            CloseReason::SessionTakenOver => "session taken over",
            CloseReason::AuthenticationFailed => "authentication failed",
            CloseReason::Restart => "broker restart",
        })
    }
}

/// Why a message was not delivered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Its Message Expiry Interval passed before it could be sent.
    Expired,
    /// It is larger than the client's Maximum Packet Size.
    TooLarge,
    /// The session's queue is full.
    QueueFull,
    /// A QoS 0 message for a disconnected session.
    Offline,
}

/// Observability: what happened, for logs and tests. Not needed to run the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection was accepted (CONNACK 0x00 sent).
    Connected {
        /// The connection.
        conn: ConnId,
        /// The client identifier (assigned one included).
        client_id: String,
        /// The protocol version.
        protocol: ProtocolVersion,
        /// Whether an existing session was resumed.
        session_present: bool,
    },
    /// A connection ended.
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// Its client identifier, if CONNECT was accepted.
        client_id: Option<String>,
        /// Why.
        reason: CloseReason,
    },
    /// A CONNECT was refused with this code (3.1.1 return code or 5.0 reason code).
    ConnectRefused {
        /// The connection.
        conn: ConnId,
        /// The code sent in CONNACK (none if closed without CONNACK).
        code: Option<ReasonCode>,
    },
    /// An application message was accepted from a client (or a will, or a `$SYS` update).
    Published {
        /// The publishing connection (none for wills and `$SYS`).
        conn: Option<ConnId>,
        /// The publishing client.
        client_id: Option<String>,
        /// The topic.
        topic: String,
        /// The QoS it was published with.
        qos: QoS,
        /// The RETAIN flag.
        retain: bool,
        /// Payload size.
        payload_len: usize,
    },
    /// A will message was published.
    WillPublished {
        /// The client whose will it is.
        client_id: String,
        /// The will topic.
        topic: String,
    },
    /// A message was not delivered to a session.
    MessageDropped {
        /// The session's client identifier.
        client_id: String,
        /// The topic.
        topic: String,
        /// Why.
        reason: DropReason,
    },
    /// A session ended (expired, replaced by clean start, or non-persistent).
    SessionEnded {
        /// Its client identifier.
        client_id: String,
    },
    /// The peer broke a rule of the standard; the connection is closed.
    ProtocolViolation {
        /// The connection.
        conn: ConnId,
        /// The statements broken (may be empty: some rules have no id).
        statements: Vec<StatementId>,
        /// The reason code sent (5.0) or that classifies the fault (3.1.1).
        reason_code: ReasonCode,
        /// What was wrong.
        detail: String,
    },
}

/// Counters, for `$SYS` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections accepted by the network layer and not yet closed.
    pub connections: usize,
    /// Connections whose CONNECT was accepted.
    pub clients_connected: usize,
    /// Sessions held (connected or not).
    pub sessions: usize,
    /// Subscriptions held over all sessions.
    pub subscriptions: usize,
    /// Retained messages stored.
    pub retained_messages: usize,
    /// Messages queued for sessions and not yet sent.
    pub queued_messages: usize,
    /// Outgoing QoS 1/2 messages not yet fully acknowledged.
    pub inflight_messages: usize,
    /// Wills waiting for their delay to pass.
    pub pending_wills: usize,
    /// Application messages received from clients.
    pub messages_received: u64,
    /// PUBLISH packets sent to clients.
    pub messages_sent: u64,
    /// Messages dropped (expired, too large, queue full, offline QoS 0).
    pub messages_dropped: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
}
