//! A small sans-IO MQTT 5.0 client written from the standard, on the project's codec.
//!
//! It keeps its session state (messages in flight both ways, next packet identifier,
//! subscriptions) in a value that outlives any connection, so a simulated client crash is a
//! restart with persistent storage: the next connection resumes the session
//! ([MQTT-4.4.0-1]: unacknowledged PUBLISH and PUBREL are sent again, in their original order
//! [MQTT-4.6.0-1], PUBLISH with DUP set [MQTT-3.3.1-1]).
//!
//! Inputs are decoded packets; outputs are packets to send and application events.

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
    /// Keep alive, seconds (0: off).
    pub keep_alive: u16,
    /// Session Expiry Interval, seconds (0: the session ends with the connection).
    pub session_expiry: u32,
    /// Start every connection with a clean session (otherwise only the first one).
    pub always_clean: bool,
    /// The will: topic, QoS, Will Delay Interval in seconds. The payload is
    /// `<client id>:<connection generation>` so a will names the connection it belongs to.
    pub will: Option<(String, QoS, u32)>,
    /// Subscriptions made whenever the broker has no session for us.
    pub subscriptions: Vec<(String, QoS)>,
    /// Outgoing QoS 1/2 messages in flight at once.
    pub max_inflight: usize,
}

impl ClientConfig {
    /// A persistent-session client with keep alive 1 s and no will.
    pub fn new(client_id: impl Into<String>) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            keep_alive: 1,
            session_expiry: 3600,
            always_clean: false,
            will: None,
            subscriptions: Vec::new(),
            max_inflight: 4,
        }
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
        /// Reason code.
        code: ReasonCode,
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
        }
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
        let mut c = Connect::new(ProtocolVersion::V5, self.config.client_id.as_str());
        c.keep_alive = self.config.keep_alive;
        c.clean_start = self.config.always_clean || !self.has_session;
        if self.config.session_expiry > 0 {
            c.properties.session_expiry_interval = Some(self.config.session_expiry);
        }
        if let Some((topic, qos, delay)) = &self.config.will {
            let mut w = Will {
                topic: topic.as_str().into(),
                payload: Bytes::from(format!("{}:{}", self.config.client_id, self.generation)),
                qos: *qos,
                ..Will::default()
            };
            if *delay > 0 {
                w.properties.will_delay_interval = Some(*delay);
            }
            c.will = Some(w);
        }
        if c.clean_start {
            // [MQTT-3.1.2-4]: a clean start discards the session on both sides.
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
                app.push(AppEvent::Connected {
                    code: reason_code,
                    session_present,
                });
                if reason_code.0 >= 0x80 {
                    return;
                }
                self.connected = true;
                if !session_present {
                    // No session on the broker: ours goes too (5.0 section 4.1); messages not
                    // yet sent stay queued.
                    self.incoming_qos2.clear();
                    let old: Vec<InFlight> = self.inflight.drain(..).collect();
                    for f in old.into_iter().rev() {
                        if f.state != OutState::AwaitPubComp {
                            self.queue.push_front(f.msg);
                        }
                    }
                }
                self.has_session = self.config.session_expiry > 0;
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
                        // [MQTT-4.4.0-2]: treated as acknowledged.
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
