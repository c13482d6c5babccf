//! A small sans-IO MQTT client (3.1.1 or 5.0, one version per client) written from the two
//! standards, on the project's codec.
//!
//! It keeps its session state (messages in flight both ways, next packet identifier,
//! subscriptions) in a value that outlives any connection, so a simulated client crash is a
//! restart with persistent storage: the next connection resumes the session
//! ([MQTT-4.4.0-1]: unacknowledged PUBLISH and PUBREL are sent again, in their original order
//! [MQTT-4.6.0-1], PUBLISH with DUP set [MQTT-3.3.1-1]).
//!
//! Inputs are decoded packets; outputs are packets to send and application events.
//!
//! The versions differ in how a session is asked for. A 5.0 client starts its first connection
//! with Clean Start and a Session Expiry Interval, then resumes with Clean Start 0. A 3.1.1
//! client has no expiry: Clean Session 0 on every connection keeps one session on the server
//! until a connection with Clean Session 1 ([MQTT-3.1.2-4] of 3.1.1), and Clean Session 1 gives
//! a session that lasts as long as the connection ([MQTT-3.1.2-6] of 3.1.1). A 3.1.1 CONNECT
//! has no properties, so no Will Delay Interval either: its will goes as soon as the connection
//! is lost.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use mqtt_codec::{
    ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, Subscribe, Subscription, Will,
};

/// How a client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Client identifier.
    pub client_id: String,
    /// The protocol version of every connection of this client (3.1.1 or 5.0).
    pub protocol: ProtocolVersion,
    /// Keep alive, seconds (0: off).
    pub keep_alive: u16,
    /// Session Expiry Interval, seconds (0: the session ends with the connection). 5.0 only: a
    /// 3.1.1 client ignores it (its session lasts until a Clean Session 1 connection).
    pub session_expiry: u32,
    /// Start every connection with a clean session. Otherwise a 5.0 client starts only its
    /// first connection clean, and a 3.1.1 client none.
    pub always_clean: bool,
    /// 3.1.1 only: start afresh the 3.1.1 way. Until the server has accepted one, connect with
    /// Clean Session 1 (discarding whatever session the server kept) and leave at once with
    /// DISCONNECT; then connect with Clean Session 0 for a new persistent session, which must
    /// not be the clean one resumed ([MQTT-3.1.2-6] of 3.1.1).
    pub purge_first: bool,
    /// The will: topic, QoS, Will Delay Interval in seconds (5.0 only; a 3.1.1 will has no
    /// delay). The payload is `<client id>:<connection generation>` so a will names the
    /// connection it belongs to.
    pub will: Option<(String, QoS, u32)>,
    /// Subscriptions made whenever the broker has no session for us.
    pub subscriptions: Vec<(String, QoS)>,
    /// Outgoing QoS 1/2 messages in flight at once.
    pub max_inflight: usize,
}

impl ClientConfig {
    /// A persistent-session MQTT 5.0 client with keep alive 1 s and no will.
    pub fn new(client_id: impl Into<String>) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            protocol: ProtocolVersion::V5,
            keep_alive: 1,
            session_expiry: 3600,
            always_clean: false,
            purge_first: false,
            will: None,
            subscriptions: Vec::new(),
            max_inflight: 4,
        }
    }

    /// The same client speaking MQTT 3.1.1.
    pub fn v311(self) -> Self {
        ClientConfig {
            protocol: ProtocolVersion::V3_1_1,
            ..self
        }
    }

    /// True for an MQTT 5.0 client.
    pub fn is_v5(&self) -> bool {
        self.protocol.is_v5()
    }
}

/// Whether a CONNACK code accepts the connection: a 3.1.1 Connect Return Code of 0 (3.2.2.3;
/// 1 to 5 refuse), a 5.0 Connect Reason Code below 0x80 (3.2.2.2).
pub fn connack_accepts(protocol: ProtocolVersion, code: ReasonCode) -> bool {
    if protocol.is_v5() {
        code.0 < 0x80
    } else {
        code == ReasonCode::SUCCESS
    }
}

/// A message the application asked to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named after the packet awaited
enum OutState {
    AwaitPubAck,
    AwaitPubRec,
    AwaitPubComp,
}

#[derive(Debug, Clone)]
struct InFlight {
    packet_id: u16,
    msg: OutMessage,
    state: OutState,
    sent_once: bool,
}

/// What the client tells its application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// CONNACK received.
    Connected {
        /// Reason code (5.0) or return code (3.1.1).
        code: ReasonCode,
        /// The code accepts the connection (see [`connack_accepts`]).
        accepted: bool,
        /// Session Present.
        session_present: bool,
    },
    /// An application message arrived (after duplicate suppression for QoS 2).
    Message {
        /// Topic.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS of the PUBLISH.
        qos: QoS,
        /// DUP flag of the PUBLISH.
        dup: bool,
        /// RETAIN flag.
        retain: bool,
        /// Packet identifier (0 for QoS 0).
        packet_id: u16,
    },
    /// The broker took ownership of one of our messages (PUBACK, or PUBREC for QoS 2).
    Accepted {
        /// Its payload.
        payload: Bytes,
        /// The reason code of the acknowledgement.
        code: ReasonCode,
    },
    /// A QoS 2 exchange we started is complete (PUBCOMP).
    Completed {
        /// Its payload.
        payload: Bytes,
    },
    /// SUBACK received.
    Subscribed,
    /// The server sent DISCONNECT.
    ServerDisconnect {
        /// Its reason code.
        code: ReasonCode,
    },
}

/// The client state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct ClientModel {
    /// Configuration.
    pub config: ClientConfig,
    /// Connections attempted so far (the generation of the current one).
    pub generation: u32,
    /// Whether a session may exist on the broker (a CONNACK said so, or we made one).
    has_session: bool,
    connected: bool,
    next_pid: u16,
    queue: VecDeque<OutMessage>,
    inflight: VecDeque<InFlight>,
    /// QoS 2 packet identifiers received and not yet released (method B of figure 4.3).
    incoming_qos2: BTreeSet<u16>,
    sub_pid: Option<u16>,
    /// A purging connection was accepted (see [`ClientConfig::purge_first`]).
    purged: bool,
    /// The current connection is a purging one that was accepted: leave it.
    leave: bool,
}

impl ClientModel {
    /// A client that has never connected.
    pub fn new(config: ClientConfig) -> Self {
        ClientModel {
            config,
            generation: 0,
            has_session: false,
            connected: false,
            next_pid: 1,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            incoming_qos2: BTreeSet::new(),
            sub_pid: None,
            purged: false,
            leave: false,
        }
    }

    /// True once, after the server accepted a purging connection: the application sends
    /// DISCONNECT and connects again (see [`ClientConfig::purge_first`]).
    pub fn take_leave(&mut self) -> bool {
        std::mem::take(&mut self.leave)
    }

    fn purging(&self) -> bool {
        !self.config.is_v5() && self.config.purge_first && !self.purged
    }

    /// True between a successful CONNACK and the end of the connection.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Messages not yet fully acknowledged (queued or in flight).
    pub fn pending(&self) -> usize {
        self.queue.len() + self.inflight.len()
    }

    /// The application publishes a message (sent when the window allows).
    pub fn publish(&mut self, msg: OutMessage) {
        self.queue.push_back(msg);
    }

    /// The CONNECT of a new connection. Bumps the generation.
    pub fn connect_packet(&mut self) -> Packet {
        self.generation = self.generation.wrapping_add(1);
        self.connected = false;
        self.leave = false;
        let v5 = self.config.is_v5();
        let mut c = Connect::new(self.config.protocol, self.config.client_id.as_str());
        c.keep_alive = self.config.keep_alive;
        c.clean_start = if v5 {
            self.config.always_clean || !self.has_session
        } else {
            // 3.1.1 [MQTT-3.1.2-4]: Clean Session 0 resumes the session, or makes one that
            // outlives the connection; asking for a clean one would make it end with it.
            self.config.always_clean || self.purging()
        };
        if v5 && self.config.session_expiry > 0 {
            c.properties.session_expiry_interval = Some(self.config.session_expiry);
        }
        if let Some((topic, qos, delay)) = &self.config.will {
            let mut w = Will {
                topic: topic.as_str().into(),
                payload: Bytes::from(format!("{}:{}", self.config.client_id, self.generation)),
                qos: *qos,
                ..Will::default()
            };
            if v5 && *delay > 0 {
                w.properties.will_delay_interval = Some(*delay);
            }
            c.will = Some(w);
        }
        if c.clean_start {
            // 5.0 [MQTT-3.1.2-4], 3.1.1 [MQTT-3.1.2-6]: a clean session discards the session
            // on both sides.
            self.inflight.clear();
            self.incoming_qos2.clear();
        }
        Packet::Connect(Box::new(c))
    }

    /// A normal DISCONNECT (the will is discarded: [MQTT-3.14.4-3]).
    pub fn disconnect_packet(&mut self) -> Packet {
        self.connected = false;
        Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))
    }

    /// The connection ended (any way).
    pub fn connection_lost(&mut self) {
        self.connected = false;
        self.sub_pid = None;
    }

    fn alloc_pid(&mut self) -> u16 {
        // [MQTT-2.2.1-3]: an identifier not in use.
        loop {
            let pid = self.next_pid;
            self.next_pid = if self.next_pid == u16::MAX {
                1
            } else {
                self.next_pid + 1
            };
            let busy =
                self.inflight.iter().any(|f| f.packet_id == pid) || self.sub_pid == Some(pid);
            if !busy {
                return pid;
            }
        }
    }

    /// Handles one packet from the broker.
    pub fn handle(&mut self, packet: Packet, out: &mut Vec<Packet>, app: &mut Vec<AppEvent>) {
        match packet {
            Packet::ConnAck(ConnAck {
                session_present,
                reason_code,
                ..
            }) => {
                let accepted = connack_accepts(self.config.protocol, reason_code);
                app.push(AppEvent::Connected {
                    code: reason_code,
                    accepted,
                    session_present,
                });
                if !accepted {
                    return;
                }
                if self.purging() {
                    // The server discarded any old session and made one that ends with this
                    // connection: nothing to resume or subscribe, leave.
                    self.purged = true;
                    self.leave = true;
                    return;
                }
                self.connected = true;
                if !session_present {
                    // No session on the broker: ours goes too (section 4.1 of both versions);
                    // messages not yet sent stay queued.
                    self.incoming_qos2.clear();
                    let old: Vec<InFlight> = self.inflight.drain(..).collect();
                    for f in old.into_iter().rev() {
                        if f.state != OutState::AwaitPubComp {
                            self.queue.push_front(f.msg);
                        }
                    }
                }
                // Whether the session outlives this connection: 5.0 while its expiry runs; 3.1.1
                // with Clean Session 0 (it has no expiry).
                self.has_session = if self.config.is_v5() {
                    self.config.session_expiry > 0
                } else {
                    !self.config.always_clean
                };
                // [MQTT-4.4.0-1] in the original order [MQTT-4.6.0-1].
                for f in self.inflight.iter_mut() {
                    match f.state {
                        OutState::AwaitPubComp => {
                            out.push(Packet::PubRel(PubRel::new(f.packet_id)));
                        }
                        _ => {
                            out.push(Packet::Publish(publish_of(f, f.sent_once)));
                            f.sent_once = true;
                        }
                    }
                }
                if !session_present && !self.config.subscriptions.is_empty() {
                    let pid = self.alloc_pid();
                    self.sub_pid = Some(pid);
                    let filters = self
                        .config
                        .subscriptions
                        .iter()
                        .map(|(f, q)| Subscription::new(f.as_str(), *q))
                        .collect();
                    out.push(Packet::Subscribe(Subscribe {
                        packet_id: pid,
                        filters,
                        properties: Default::default(),
                    }));
                }
            }
            Packet::Publish(p) => {
                let deliver = match p.qos {
                    QoS::AtMostOnce => true,
                    QoS::AtLeastOnce => {
                        out.push(Packet::PubAck(PubAck::new(p.packet_id)));
                        true
                    }
                    QoS::ExactlyOnce => {
                        // [MQTT-4.3.3-10]: a repeat before PUBREL is acknowledged, not
                        // delivered again.
                        out.push(Packet::PubRec(PubRec::new(p.packet_id)));
                        self.incoming_qos2.insert(p.packet_id)
                    }
                };
                if deliver {
                    app.push(AppEvent::Message {
                        topic: p.topic.to_string(),
                        payload: p.payload.clone(),
                        qos: p.qos,
                        dup: p.dup,
                        retain: p.retain,
                        packet_id: p.packet_id,
                    });
                }
            }
            Packet::PubRel(r) => {
                // [MQTT-4.3.3-11]
                self.incoming_qos2.remove(&r.packet_id);
                out.push(Packet::PubComp(PubComp::new(r.packet_id)));
            }
            Packet::PubAck(a) => {
                if let Some(i) = self
                    .inflight
                    .iter()
                    .position(|f| f.packet_id == a.packet_id && f.state == OutState::AwaitPubAck)
                {
                    if let Some(f) = self.inflight.remove(i) {
                        app.push(AppEvent::Accepted {
                            payload: f.msg.payload,
                            code: a.reason_code,
                        });
                    }
                }
            }
            Packet::PubRec(r) => {
                if let Some(f) = self
                    .inflight
                    .iter_mut()
                    .find(|f| f.packet_id == r.packet_id && f.state != OutState::AwaitPubAck)
                {
                    if f.state == OutState::AwaitPubRec {
                        app.push(AppEvent::Accepted {
                            payload: f.msg.payload.clone(),
                            code: r.reason_code,
                        });
                    }
                    if r.reason_code.0 >= 0x80 {
                        // 5.0 [MQTT-4.4.0-2]: treated as acknowledged (a 3.1.1 PUBREC has no
                        // reason code: the codec gives it 0x00).
                        let pid = r.packet_id;
                        self.inflight.retain(|f| f.packet_id != pid);
                        return;
                    }
                    f.state = OutState::AwaitPubComp;
                }
                out.push(Packet::PubRel(PubRel::new(r.packet_id)));
            }
            Packet::PubComp(c) => {
                if let Some(i) = self
                    .inflight
                    .iter()
                    .position(|f| f.packet_id == c.packet_id && f.state == OutState::AwaitPubComp)
                {
                    if let Some(f) = self.inflight.remove(i) {
                        app.push(AppEvent::Completed {
                            payload: f.msg.payload,
                        });
                    }
                }
            }
            Packet::SubAck(s) if self.sub_pid == Some(s.packet_id) => {
                self.sub_pid = None;
                app.push(AppEvent::Subscribed);
            }
            Packet::Disconnect(d) => {
                app.push(AppEvent::ServerDisconnect {
                    code: d.reason_code,
                });
            }
            _ => {}
        }
        self.fill_window(out);
    }

    /// Sends queued messages while the in-flight window has room.
    pub fn fill_window(&mut self, out: &mut Vec<Packet>) {
        if !self.connected {
            return;
        }
        while let Some(msg) = self.queue.front() {
            if msg.qos != QoS::AtMostOnce && self.inflight.len() >= self.config.max_inflight.max(1)
            {
                return;
            }
            let Some(msg) = self.queue.pop_front() else {
                return;
            };
            if msg.qos == QoS::AtMostOnce {
                let mut p = Publish::new(msg.topic.as_str(), msg.payload.clone());
                p.retain = msg.retain;
                out.push(Packet::Publish(p));
                continue;
            }
            let packet_id = self.alloc_pid();
            let state = if msg.qos == QoS::ExactlyOnce {
                OutState::AwaitPubRec
            } else {
                OutState::AwaitPubAck
            };
            let f = InFlight {
                packet_id,
                msg,
                state,
                sent_once: true,
            };
            // [MQTT-4.3.2-1] [MQTT-4.3.3-1]: a new identifier, DUP 0 [MQTT-4.3.3-2].
            out.push(Packet::Publish(publish_of(&f, false)));
            self.inflight.push_back(f);
        }
    }
}

fn publish_of(f: &InFlight, dup: bool) -> Publish {
    let mut p = Publish::new(f.msg.topic.as_str(), f.msg.payload.clone());
    p.qos = f.msg.qos;
    p.retain = f.msg.retain;
    p.packet_id = f.packet_id;
    // [MQTT-3.3.1-1]: DUP on a re-delivery.
    p.dup = dup;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn connack(session_present: bool) -> Packet {
        let mut c = ConnAck::new(ReasonCode::SUCCESS);
        c.session_present = session_present;
        Packet::ConnAck(c)
    }

    #[test]
    fn resends_unacknowledged_with_dup_in_order() {
        let mut c = ClientModel::new(ClientConfig::new("a"));
        let (mut out, mut app) = (Vec::new(), Vec::new());
        let Packet::Connect(first) = c.connect_packet() else {
            panic!("not a CONNECT")
        };
        assert!(first.clean_start);
        c.handle(connack(false), &mut out, &mut app);
        for i in 0..3u8 {
            c.publish(OutMessage {
                topic: "t".into(),
                payload: Bytes::from(vec![i]),
                qos: QoS::AtLeastOnce,
                retain: false,
            });
        }
        out.clear();
        c.fill_window(&mut out);
        assert_eq!(out.len(), 3);
        c.handle(Packet::PubAck(PubAck::new(1)), &mut Vec::new(), &mut app);
        c.connection_lost();
        let Packet::Connect(second) = c.connect_packet() else {
            panic!("not a CONNECT")
        };
        assert!(!second.clean_start);
        out.clear();
        c.handle(connack(true), &mut out, &mut app);
        let resent: Vec<(u16, bool)> = out
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((p.packet_id, p.dup)),
                _ => None,
            })
            .collect();
        assert_eq!(resent, vec![(2, true), (3, true)]);
    }

    fn connect_of(c: &mut ClientModel) -> Connect {
        match c.connect_packet() {
            Packet::Connect(c) => *c,
            other => panic!("not a CONNECT: {other:?}"),
        }
    }

    #[test]
    fn a_v311_client_connects_the_3_1_1_way() {
        let config = ClientConfig {
            will: Some(("will/a".into(), QoS::AtLeastOnce, 5)),
            subscriptions: vec![("t/#".into(), QoS::AtLeastOnce)],
            ..ClientConfig::new("a").v311()
        };
        let mut c = ClientModel::new(config);
        let first = connect_of(&mut c);
        assert_eq!(first.protocol, ProtocolVersion::V3_1_1);
        // Clean Session 0 from the start: that is how a 3.1.1 session outlives connections.
        assert!(!first.clean_start);
        assert_eq!(
            first.properties,
            Default::default(),
            "3.1.1 has no properties"
        );
        let will = first.will.as_ref().expect("a will");
        assert_eq!(
            will.properties.will_delay_interval, None,
            "3.1.1 has no will delay"
        );
        // Protocol level 4 on the wire, and it decodes as 3.1.1.
        let mut buf = BytesMut::new();
        Packet::Connect(Box::new(first)).encode_unchecked(ProtocolVersion::V3_1_1, &mut buf);
        assert_eq!(
            mqtt_codec::peek_protocol_version(&buf),
            Ok(Some(ProtocolVersion::V3_1_1))
        );
        let (mut out, mut app) = (Vec::new(), Vec::new());
        c.handle(connack(false), &mut out, &mut app);
        assert!(c.is_connected());
        assert!(matches!(out.as_slice(), [Packet::Subscribe(_)]));
        c.connection_lost();
        assert!(!connect_of(&mut c).clean_start);
    }

    #[test]
    fn a_refusing_v311_return_code_is_a_refusal() {
        let mut c = ClientModel::new(ClientConfig::new("a").v311());
        c.connect_packet();
        let (mut out, mut app) = (Vec::new(), Vec::new());
        c.handle(
            Packet::ConnAck(ConnAck::new(ReasonCode::V3_NOT_AUTHORIZED)),
            &mut out,
            &mut app,
        );
        assert!(!c.is_connected());
        assert!(matches!(
            app.as_slice(),
            [AppEvent::Connected {
                accepted: false,
                ..
            }]
        ));
        assert!(connack_accepts(
            ProtocolVersion::V3_1_1,
            ReasonCode::SUCCESS
        ));
        assert!(!connack_accepts(ProtocolVersion::V3_1_1, ReasonCode(0x01)));
        assert!(connack_accepts(ProtocolVersion::V5, ReasonCode::SUCCESS));
        assert!(!connack_accepts(ProtocolVersion::V5, ReasonCode(0x87)));
    }

    #[test]
    fn a_purging_v311_client_leaves_its_clean_session_then_starts_a_persistent_one() {
        let config = ClientConfig {
            purge_first: true,
            subscriptions: vec![("t/#".into(), QoS::AtLeastOnce)],
            ..ClientConfig::new("a").v311()
        };
        let mut c = ClientModel::new(config);
        let (mut out, mut app) = (Vec::new(), Vec::new());
        // A purging connection that breaks before its CONNACK is purged again.
        assert!(connect_of(&mut c).clean_start);
        c.connection_lost();
        assert!(connect_of(&mut c).clean_start);
        c.handle(connack(false), &mut out, &mut app);
        assert!(
            out.is_empty(),
            "nothing subscribed on the clean session: {out:?}"
        );
        assert!(!c.is_connected());
        assert!(c.take_leave());
        assert!(!c.take_leave());
        c.connection_lost();
        assert!(!connect_of(&mut c).clean_start);
        c.handle(connack(false), &mut out, &mut app);
        assert!(matches!(out.as_slice(), [Packet::Subscribe(_)]));
        assert!(!c.take_leave());
    }

    #[test]
    fn a_v5_client_ignores_purge_first() {
        let mut c = ClientModel::new(ClientConfig {
            purge_first: true,
            ..ClientConfig::new("a")
        });
        assert!(connect_of(&mut c).clean_start);
        c.handle(connack(false), &mut Vec::new(), &mut Vec::new());
        assert!(c.is_connected());
        assert!(!c.take_leave());
        c.connection_lost();
        let second = connect_of(&mut c);
        assert!(!second.clean_start);
        assert_eq!(second.properties.session_expiry_interval, Some(3600));
    }

    #[test]
    fn qos2_repeat_is_not_delivered_twice() {
        let mut c = ClientModel::new(ClientConfig::new("b"));
        let (mut out, mut app) = (Vec::new(), Vec::new());
        c.connect_packet();
        c.handle(connack(false), &mut out, &mut app);
        app.clear();
        let mut p = Publish::new("t", Bytes::from_static(b"x"));
        p.qos = QoS::ExactlyOnce;
        p.packet_id = 9;
        c.handle(Packet::Publish(p.clone()), &mut out, &mut app);
        p.dup = true;
        c.handle(Packet::Publish(p.clone()), &mut out, &mut app);
        let delivered = app
            .iter()
            .filter(|e| matches!(e, AppEvent::Message { .. }))
            .count();
        assert_eq!(delivered, 1);
        c.handle(Packet::PubRel(PubRel::new(9)), &mut out, &mut app);
        c.handle(Packet::Publish(p), &mut out, &mut app);
        let delivered = app
            .iter()
            .filter(|e| matches!(e, AppEvent::Message { .. }))
            .count();
        assert_eq!(delivered, 2, "after PUBREL the identifier is new again");
    }
}
