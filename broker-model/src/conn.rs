//! Per-connection state: lost with the connection (never part of the durable state).

use std::collections::{BTreeMap, BTreeSet};

use bytes::BytesMut;
use mqtt_codec::{ByteStr, Connect, ProtocolVersion, Will};

use crate::scram::ScramServer;
use crate::types::{ConnId, Instant};

/// Where the connection stands.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Waiting for CONNECT.
    AwaitConnect,
    /// CONNECT with an Authentication Method received; AUTH exchange running.
    Authenticating {
        connect: Box<Connect>,
        scram: Option<ScramServer>,
    },
    /// CONNACK 0x00 sent.
    Connected,
}

/// A re-authentication in progress.
#[derive(Debug, Clone)]
pub(crate) struct ReAuth {
    pub(crate) scram: ScramServer,
}

/// One network connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) peer: String,
    pub(crate) phase: Phase,
    pub(crate) accepted_at: Instant,
    /// Version (known once CONNECT is read).
    pub(crate) version: ProtocolVersion,
    /// Bytes received and not yet decoded (at most one partial packet after decoding).
    pub(crate) buf: BytesMut,
    pub(crate) client_id: Option<String>,
    pub(crate) username: Option<String>,
    /// The server sent DISCONNECT ([`crate::Broker::send_server_disconnect`]): nothing more
    /// goes out ([MQTT-3.14.4-1]) and nothing more is read, until the caller closes it.
    pub(crate) disconnect_sent: bool,
    /// Keep alive in force, seconds (0: none).
    pub(crate) keep_alive: u16,
    pub(crate) last_received: Instant,
    /// The will of this connection (cleared by a normal DISCONNECT).
    pub(crate) will: Option<Will>,
    /// Client's Receive Maximum (65535 when absent).
    pub(crate) client_receive_maximum: u16,
    /// Client's Maximum Packet Size.
    pub(crate) client_max_packet_size: u32,
    /// Client's Topic Alias Maximum.
    pub(crate) client_topic_alias_maximum: u16,
    /// Request Problem Information (default true).
    pub(crate) request_problem_information: bool,
    /// Authentication Method of CONNECT (5.0).
    pub(crate) auth_method: Option<ByteStr>,
    pub(crate) reauth: Option<ReAuth>,
    /// Client -> server topic aliases.
    pub(crate) aliases_in: BTreeMap<u16, ByteStr>,
    /// Server -> client topic aliases.
    pub(crate) aliases_out: BTreeMap<ByteStr, u16>,
    /// QoS 2 packet ids received on this connection and not yet released (Receive Maximum).
    pub(crate) inbound_qos2: BTreeSet<u16>,
}

impl Conn {
    pub(crate) fn new(id: ConnId, peer: &str, now: Instant) -> Conn {
        Conn {
            id,
            peer: peer.to_string(),
            phase: Phase::AwaitConnect,
            disconnect_sent: false,
            accepted_at: now,
            version: ProtocolVersion::V3_1_1,
            buf: BytesMut::new(),
            client_id: None,
            username: None,
            keep_alive: 0,
            last_received: now,
            will: None,
            client_receive_maximum: u16::MAX,
            client_max_packet_size: mqtt_codec::MAX_PACKET_SIZE,
            client_topic_alias_maximum: 0,
            request_problem_information: true,
            auth_method: None,
            reauth: None,
            aliases_in: BTreeMap::new(),
            aliases_out: BTreeMap::new(),
            inbound_qos2: BTreeSet::new(),
        }
    }

    pub(crate) fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Connected)
    }

    pub(crate) fn is_v5(&self) -> bool {
        self.version.is_v5()
    }

    /// When the keep alive runs out: one and a half times the keep alive after the last
    /// packet ([MQTT-3.1.2-22] 5.0, [MQTT-3.1.2-24] 3.1.1).
    pub(crate) fn keep_alive_deadline(&self) -> Option<Instant> {
        if self.keep_alive == 0 || !self.is_connected() {
            return None;
        }
        let ms = u64::from(self.keep_alive) * 1500;
        Some(self.last_received + std::time::Duration::from_millis(ms))
    }
}
