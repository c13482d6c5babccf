//! Durable session state: lives apart from connections and survives a restart.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mqtt_codec::{ProtocolVersion, QoS, RetainHandling};

use crate::message::Delivery;
use crate::types::{ConnId, Instant};

/// Session Expiry Interval meaning "never".
pub(crate) const NEVER: u32 = u32::MAX;

/// A subscription of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sub {
    /// Granted maximum QoS.
    pub(crate) qos: QoS,
    pub(crate) no_local: bool,
    pub(crate) retain_as_published: bool,
    pub(crate) retain_handling: RetainHandling,
    pub(crate) subscription_id: Option<u32>,
    /// For `$share/{name}/{filter}`: (name, filter). The map key is the full filter.
    pub(crate) shared: Option<(String, String)>,
}

/// Where an outgoing QoS 1/2 message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum OutState {
    /// PUBLISH QoS 1 sent, waiting for PUBACK.
    AwaitPubAck,
    /// PUBLISH QoS 2 sent, waiting for PUBREC.
    AwaitPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

/// An outgoing message holding a packet identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inflight {
    pub(crate) packet_id: u16,
    pub(crate) delivery: Delivery,
    pub(crate) state: OutState,
    /// Message Expiry Interval written in the first PUBLISH (used again when expiry is off).
    pub(crate) expiry: Option<u32>,
    /// Owed a resend since the session was resumed, not yet sent on this connection (the
    /// client's Receive Maximum holds it back).
    pub(crate) resend_pending: bool,
    /// Its PUBLISH went out on the current connection and it is not complete: it uses the
    /// send quota of this connection (4.9). A message resumed in the PUBREL state does not:
    /// only PUBLISH packets take quota, and the quota starts again with each connection.
    pub(crate) counted: bool,
}

/// A session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) client_id: String,
    /// Version of the last connection.
    pub(crate) protocol: ProtocolVersion,
    /// The connection using it, if any.
    pub(crate) conn: Option<ConnId>,
    /// Session Expiry Interval, seconds ([`NEVER`] for never).
    pub(crate) expiry_interval: u32,
    /// The Session Expiry Interval of the CONNECT (for the DISCONNECT rule).
    pub(crate) connect_expiry_was_zero: bool,
    /// When a disconnected session ends.
    pub(crate) expires_at: Option<Instant>,
    /// Subscriptions by topic filter (shared ones by their full `$share/...` filter).
    pub(crate) subs: BTreeMap<String, Sub>,
    /// Messages not yet sent, in order.
    pub(crate) queue: VecDeque<Delivery>,
    /// Sent and not yet completed, in the order first sent.
    pub(crate) inflight: VecDeque<Inflight>,
    /// QoS 2 packet identifiers received (PUBREC sent) and not yet released.
    pub(crate) incoming_qos2: BTreeSet<u16>,
    /// Next packet identifier to try.
    pub(crate) next_packet_id: u16,
    /// User name of the last connection (authorizes deliveries while it is away too).
    pub(crate) username: Option<String>,
}

impl Session {
    pub(crate) fn new(client_id: String, protocol: ProtocolVersion) -> Session {
        Session {
            client_id,
            protocol,
            conn: None,
            expiry_interval: 0,
            connect_expiry_was_zero: true,
            expires_at: None,
            subs: BTreeMap::new(),
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            incoming_qos2: BTreeSet::new(),
            username: None,
            next_packet_id: 1,
        }
    }

    /// A non-zero packet identifier not used by any message in flight ([MQTT-2.2.1-4],
    /// 3.1.1 [MQTT-2.3.1-4]); `None` if all 65535 are in use.
    pub(crate) fn allocate_packet_id(&mut self) -> Option<u16> {
        if self.inflight.len() >= usize::from(u16::MAX) {
            return None;
        }
        let used: BTreeSet<u16> = self.inflight.iter().map(|f| f.packet_id).collect();
        for _ in 0..u16::MAX {
            let id = self.next_packet_id;
            self.next_packet_id = if id == u16::MAX { 1 } else { id + 1 };
            if id != 0 && !used.contains(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Messages held for this session (queued and in flight).
    pub(crate) fn held(&self) -> usize {
        self.queue.len() + self.inflight.len()
    }
}
