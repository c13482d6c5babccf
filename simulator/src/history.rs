//! The recorded history of one simulation: what each client's application saw, what crossed
//! the broker host's network interface, and the faults. Invariants are checked over it, and
//! its hash is what `--check-determinism` compares.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{ProtocolVersion, QoS};
use mqtt_spec::Protocol;

/// Milliseconds of simulated time.
pub type Millis = u64;

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// When (simulated milliseconds since the start).
    pub at: Millis,
    /// What.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A client received CONNACK.
    Connected {
        /// Client id.
        client: String,
        /// Connection generation.
        generation: u32,
        /// Session Present.
        session_present: bool,
        /// Reason code.
        code: u8,
    },
    /// A client's connection ended (read error, end of stream, its keep alive gave up).
    Lost {
        /// Client id.
        client: String,
        /// Generation.
        generation: u32,
    },
    /// A client sent a normal DISCONNECT and closed.
    Disconnected {
        /// Client id.
        client: String,
        /// Generation.
        generation: u32,
    },
    /// An application message reached a client's application.
    Delivered {
        /// Client id.
        client: String,
        /// Generation of the connection it came on.
        generation: u32,
        /// Topic.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS.
        qos: u8,
        /// DUP.
        dup: bool,
        /// RETAIN.
        retain: bool,
        /// Packet identifier.
        packet_id: u16,
    },
    /// The broker acknowledged a client's message (PUBACK / PUBREC).
    Accepted {
        /// Publisher.
        client: String,
        /// Payload.
        payload: Bytes,
        /// Reason code.
        code: u8,
    },
    /// A client's SUBSCRIBE was acknowledged.
    Subscribed {
        /// Client id.
        client: String,
    },
    /// A client asked to publish a message (its application).
    Published {
        /// Client id.
        client: String,
        /// Topic.
        topic: String,
        /// Payload.
        payload: Bytes,
    },
    /// A fault was applied.
    Fault(String),
    /// An invariant was broken as soon as it was observed.
    Violation {
        /// Statement id.
        statement: &'static str,
        /// The version of the standard the id belongs to (`None`: not a statement).
        protocol: Option<Protocol>,
        /// What.
        detail: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>7}ms ", self.at)?;
        match &self.kind {
            EventKind::Connected {
                client,
                generation,
                session_present,
                code,
            } => write!(
                f,
                "{client}#{generation} CONNACK code={code:#04x} session_present={session_present}"
            ),
            EventKind::Lost { client, generation } => {
                write!(f, "{client}#{generation} connection lost")
            }
            EventKind::Disconnected { client, generation } => {
                write!(f, "{client}#{generation} sent DISCONNECT (normal)")
            }
            EventKind::Delivered {
                client,
                generation,
                topic,
                payload,
                qos,
                dup,
                retain,
                packet_id,
            } => write!(
                f,
                "{client}#{generation} got {topic} {:?} qos={qos} dup={dup} retain={retain} pid={packet_id}",
                String::from_utf8_lossy(payload)
            ),
            EventKind::Accepted {
                client,
                payload,
                code,
            } => write!(
                f,
                "{client} acknowledged by broker {:?} code={code:#04x}",
                String::from_utf8_lossy(payload)
            ),
            EventKind::Subscribed { client } => write!(f, "{client} SUBACK"),
            EventKind::Published {
                client,
                topic,
                payload,
            } => write!(
                f,
                "{client} publishes {topic} {:?}",
                String::from_utf8_lossy(payload)
            ),
            EventKind::Fault(d) => write!(f, "fault: {d}"),
            EventKind::Violation {
                statement,
                protocol,
                detail,
            } => match protocol {
                Some(p) => write!(f, "VIOLATION [{statement}] (MQTT {p}) {detail}"),
                None => write!(f, "VIOLATION [{statement}] {detail}"),
            },
        }
    }
}

/// One network connection as seen at the broker host's interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NicConn {
    /// Accepted at.
    pub accepted_at: Millis,
    /// The protocol version its CONNECT named.
    pub protocol: Option<ProtocolVersion>,
    /// Client id of its CONNECT.
    pub client_id: Option<String>,
    /// Clean Start of its CONNECT.
    pub clean_start: bool,
    /// Keep alive of its CONNECT.
    pub keep_alive: u16,
    /// Session Expiry Interval of its CONNECT.
    pub session_expiry: u32,
    /// Will payload and Will Delay Interval of its CONNECT.
    pub will: Option<(Bytes, u32)>,
    /// When the broker sent a successful CONNACK, and its Session Present.
    pub connack: Option<(Millis, bool)>,
    /// The rank of that CONNACK among all CONNACKs of the run (several can share one
    /// millisecond: the rank tells which CONNECT the broker answered first).
    pub connack_rank: Option<u64>,
    /// Last time bytes arrived from the client.
    pub last_rx: Millis,
    /// A DISCONNECT with reason 0x00 arrived.
    pub normal_disconnect: bool,
    /// When the broker side closed or dropped the connection.
    pub closed_at: Option<Millis>,
}

impl NicConn {
    /// True when its CONNECT named MQTT 3.1.1 (or the older 3.1, which the simulator never
    /// sends): the 3.1.1 rules apply to it.
    pub fn is_v311(&self) -> bool {
        self.protocol.is_some_and(|p| !p.is_v5())
    }
}

/// The whole history of one run.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Events in order.
    pub events: Vec<Event>,
    /// Connections at the broker's interface, by accept order.
    pub nic: BTreeMap<u64, NicConn>,
    /// Messages the broker sent with QoS > 0 and not yet acknowledged, per client id: packet
    /// id -> payload and the connection (accept number) it was written to (for the DUP check).
    pub(crate) unacked: BTreeMap<String, BTreeMap<u16, (Bytes, u64)>>,
    /// CONNACKs seen so far (the next CONNACK's rank).
    pub(crate) connacks: u64,
    /// PUBLISH packets the broker received, by payload (retransmissions counted).
    pub publish_rx: BTreeMap<Bytes, u32>,
}

impl History {
    /// Records an event.
    pub fn push(&mut self, at: Millis, kind: EventKind) {
        self.events.push(Event { at, kind });
    }

    /// A stable 64-bit hash of everything recorded.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv64::default();
        self.events.hash(&mut h);
        for (k, v) in &self.nic {
            k.hash(&mut h);
            v.hash(&mut h);
        }
        self.publish_rx.hash(&mut h);
        h.finish()
    }

    /// The violations recorded while running.
    pub fn inline_violations(&self) -> impl Iterator<Item = &Event> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Violation { .. }))
    }
}

/// FNV-1a, 64 bits: stable across runs and builds (unlike `DefaultHasher`'s contract).
#[derive(Debug)]
pub(crate) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Converts a duration to whole milliseconds.
pub fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The QoS as a number.
pub fn qos_u8(q: QoS) -> u8 {
    q as u8
}
