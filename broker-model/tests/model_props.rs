//! Property tests over random multi-client action sequences: no panic, byte-identical outputs
//! for the same seed and inputs, and delivery invariants:
//! - a QoS 1/2 message for a persistent-session subscriber is delivered once it reconnects
//!   (5.0 [MQTT-4.4.0-1] [MQTT-4.5.0-1], 3.1.1 [MQTT-3.1.2-5]);
//! - QoS 2 is never delivered twice to the application (5.0 [MQTT-4.3.3-10]);
//! - the retained value is the last one published (5.0 [MQTT-3.3.1-5]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_broker_model::mqtt_codec::{
    decode, Connect, Disconnect, Limits, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, Side, Subscribe, Subscription,
};
use mqtt_broker_model::{Broker, Config, ConnId, Output};
use proptest::prelude::*;

const TOPICS: [&str; 3] = ["t/a", "t/b", "u"];
const FILTERS: [&str; 4] = ["t/#", "t/+", "#", "u"];

#[derive(Debug, Clone)]
enum Action {
    Connect {
        client: usize,
        keep_alive: bool,
    },
    Subscribe {
        client: usize,
        filter: usize,
        qos: u8,
    },
    Publish {
        client: usize,
        topic: usize,
        qos: u8,
        retain: bool,
        empty: bool,
        twice: bool,
    },
    Ack {
        client: usize,
    },
    Disconnect {
        client: usize,
        abrupt: bool,
    },
    Advance {
        secs: u8,
    },
    Restart,
    Garbage {
        client: usize,
        bytes: Vec<u8>,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        1 => (0..4usize, any::<bool>()).prop_map(|(client, keep_alive)| Action::Connect { client, keep_alive }),
        1 => (2..4usize, 0..4usize, 0..3u8).prop_map(|(client, filter, qos)| Action::Subscribe { client, filter, qos }),
        3 => (0..4usize, 0..3usize, 0..3u8, any::<bool>(), prop::bool::weighted(0.1), any::<bool>()).prop_map(
            |(client, topic, qos, retain, empty, twice)| Action::Publish { client, topic, qos, retain, empty, twice }
        ),
        2 => (0..4usize).prop_map(|client| Action::Ack { client }),
        1 => (0..4usize, any::<bool>()).prop_map(|(client, abrupt)| Action::Disconnect { client, abrupt }),
        1 => (0..120u8).prop_map(|secs| Action::Advance { secs }),
        1 => Just(Action::Restart),
        1 => (0..4usize, prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(client, bytes)| Action::Garbage { client, bytes }),
    ]
}

#[derive(Debug, Default)]
struct Client {
    conn: Option<ConnId>,
    version: Option<ProtocolVersion>,
    inbox: BytesMut,
    /// QoS 2 packet ids received and not yet released (client-side method B).
    awaiting_pubrel: BTreeSet<u16>,
    /// Acknowledgements held back until an Ack action.
    pending: Vec<Packet>,
    /// (message id, delivered QoS, retain flag) handed to the application.
    delivered: Vec<(u32, QoS, bool)>,
    next_pid: u16,
}

struct Sim {
    broker: Broker,
    now: Duration,
    clients: Vec<Client>,
    log: Vec<Output>,
    next_msg: u32,
    /// Messages at QoS >= 1 on topics under t/ (seen by the persistent subscribers).
    persistent_expect: Vec<u32>,
    last_retained: BTreeMap<&'static str, Option<u32>>,
    to_send: Vec<(usize, Packet)>,
}

const VERSIONS: [ProtocolVersion; 4] = [
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
    ProtocolVersion::V5,
    ProtocolVersion::V3_1_1,
];

impl Sim {
    fn new(seed: u64) -> Sim {
        let config = Config {
            sys_topics: false,
            ..Config::default()
        };
        let mut s = Sim {
            broker: Broker::new(config, seed),
            now: Duration::ZERO,
            clients: (0..4).map(|_| Client::default()).collect(),
            log: Vec::new(),
            next_msg: 1,
            persistent_expect: Vec::new(),
            last_retained: BTreeMap::new(),
            to_send: Vec::new(),
        };
        // Clients 0 (3.1.1, QoS 1) and 1 (5.0, QoS 2) hold persistent subscriptions to t/#.
        for (i, qos) in [(0usize, QoS::AtLeastOnce), (1, QoS::ExactlyOnce)] {
            s.connect(i, false);
            s.send(
                i,
                Packet::Subscribe(Subscribe {
                    packet_id: 1,
                    filters: vec![Subscription::new("t/#", qos)],
                    properties: Default::default(),
                }),
            );
        }
        s
    }

    fn persistent(i: usize) -> bool {
        i < 2
    }

    fn connect(&mut self, i: usize, keep_alive: bool) {
        let v = VERSIONS[i];
        let conn = self.broker.accept(self.now, "sim");
        let c = &mut self.clients[i];
        c.conn = Some(conn);
        c.version = Some(v);
        c.inbox.clear();
        let mut p = Connect::new(v, format!("c{i}"));
        p.keep_alive = if keep_alive { 30 } else { 0 };
        p.clean_start = !Self::persistent(i);
        if v.is_v5() && Self::persistent(i) {
            p.properties.session_expiry_interval = Some(u32::MAX);
        }
        self.send(i, Packet::Connect(Box::new(p)));
    }

    fn send(&mut self, i: usize, p: Packet) {
        let (Some(conn), Some(v)) = (self.clients[i].conn, self.clients[i].version) else {
            return;
        };
        let mut buf = BytesMut::new();
        p.encode(v, &mut buf).expect("client packets encode");
        self.broker.handle_bytes(self.now, conn, &buf);
        self.drain();
    }

    fn owner(&self, conn: ConnId) -> Option<usize> {
        self.clients.iter().position(|c| c.conn == Some(conn))
    }

    fn drain(&mut self) {
        loop {
            while let Some(o) = self.broker.poll_output() {
                self.log.push(o.clone());
                match o {
                    Output::Send { conn, bytes } => {
                        if let Some(i) = self.owner(conn) {
                            self.clients[i].inbox.extend_from_slice(&bytes);
                            self.read(i);
                        }
                    }
                    Output::Close { conn, .. } => {
                        if let Some(i) = self.owner(conn) {
                            self.clients[i].conn = None;
                        }
                    }
                    Output::Event(_) => {}
                }
            }
            if self.to_send.is_empty() {
                return;
            }
            let batch = std::mem::take(&mut self.to_send);
            for (i, p) in batch {
                let (Some(conn), Some(v)) = (self.clients[i].conn, self.clients[i].version) else {
                    continue;
                };
                let mut buf = BytesMut::new();
                p.encode(v, &mut buf).expect("encodes");
                self.broker.handle_bytes(self.now, conn, &buf);
            }
        }
    }

    fn read(&mut self, i: usize) {
        let v = self.clients[i].version.unwrap_or(ProtocolVersion::V5);
        loop {
            let c = &mut self.clients[i];
            let p = decode(&mut c.inbox, v, &Limits::default(), Some(Side::Server))
                .expect("the broker sends well-formed packets");
            let Some(p) = p else {
                return;
            };
            match p {
                Packet::ConnAck(a) if !a.session_present => {
                    c.awaiting_pubrel.clear();
                    c.pending.clear();
                }
                Packet::Publish(p) => {
                    let id = msg_id(&p.payload);
                    match p.qos {
                        QoS::AtMostOnce => c.delivered.push((id, p.qos, p.retain)),
                        QoS::AtLeastOnce => {
                            c.delivered.push((id, p.qos, p.retain));
                            c.pending.push(Packet::PubAck(PubAck::new(p.packet_id)));
                        }
                        QoS::ExactlyOnce => {
                            if c.awaiting_pubrel.insert(p.packet_id) {
                                c.delivered.push((id, p.qos, p.retain));
                            }
                            c.pending.push(Packet::PubRec(PubRec::new(p.packet_id)));
                        }
                    }
                }
                Packet::PubRel(r) => {
                    c.awaiting_pubrel.remove(&r.packet_id);
                    self.to_send
                        .push((i, Packet::PubComp(PubComp::new(r.packet_id))));
                }
                Packet::PubRec(r) if r.reason_code == ReasonCode::SUCCESS => {
                    // Held back too, so a repeated PUBLISH can arrive before PUBREL.
                    c.pending.push(Packet::PubRel(PubRel::new(r.packet_id)));
                }
                _ => {}
            }
        }
    }

    fn run(&mut self, a: &Action) {
        match *a {
            Action::Connect { client, keep_alive } => self.connect(client, keep_alive),
            Action::Subscribe {
                client,
                filter,
                qos,
            } => {
                let qos = QoS::from_u8(qos).unwrap_or_default();
                self.send(
                    client,
                    Packet::Subscribe(Subscribe {
                        packet_id: 2,
                        filters: vec![Subscription::new(FILTERS[filter], qos)],
                        properties: Default::default(),
                    }),
                );
            }
            Action::Publish {
                client,
                topic,
                qos,
                retain,
                empty,
                twice,
            } => {
                if self.clients[client].conn.is_none() {
                    return;
                }
                let qos = QoS::from_u8(qos).unwrap_or_default();
                let id = self.next_msg;
                self.next_msg += 1;
                let payload = if empty {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(&id.to_be_bytes())
                };
                let topic = TOPICS[topic];
                let c = &mut self.clients[client];
                c.next_pid = c.next_pid.wrapping_add(1).max(1);
                let mut p = Publish::new(topic, payload);
                p.qos = qos;
                p.retain = retain;
                p.packet_id = if qos == QoS::AtMostOnce {
                    0
                } else {
                    c.next_pid + 1000
                };
                if qos != QoS::AtMostOnce && topic.starts_with("t/") && !empty {
                    self.persistent_expect.push(id);
                }
                if retain {
                    self.last_retained.insert(topic, (!empty).then_some(id));
                }
                self.send(client, Packet::Publish(p.clone()));
                if twice && qos != QoS::AtMostOnce {
                    // A retransmission with DUP 1 (as after a lost acknowledgement).
                    p.dup = true;
                    self.send(client, Packet::Publish(p));
                }
            }
            Action::Ack { client } => {
                let pending = std::mem::take(&mut self.clients[client].pending);
                for p in pending {
                    self.send(client, p);
                }
            }
            Action::Disconnect { client, abrupt } => {
                let Some(conn) = self.clients[client].conn else {
                    return;
                };
                if abrupt {
                    self.broker.handle_closed(self.now, conn);
                    self.clients[client].conn = None;
                    self.drain();
                } else {
                    self.send(
                        client,
                        Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
                    );
                }
            }
            Action::Advance { secs } => {
                self.now += Duration::from_secs(u64::from(secs));
                self.broker.handle_timeout(self.now);
                self.drain();
            }
            Action::Restart => {
                self.broker.restart(self.now);
                for c in &mut self.clients {
                    c.conn = None;
                }
                self.drain();
            }
            Action::Garbage { client, ref bytes } => {
                // Garbage on a client's stream, then that stream is gone (the client cannot
                // resynchronise); or garbage on a connection of its own.
                let conn = match self.clients[client].conn.take() {
                    Some(conn) => conn,
                    None => self.broker.accept(self.now, "garbage"),
                };
                self.broker.handle_bytes(self.now, conn, bytes);
                self.broker.handle_closed(self.now, conn);
                self.drain();
            }
        }
    }

    /// Reconnects the persistent subscribers and acknowledges until nothing moves.
    fn settle(&mut self) {
        for i in 0..2 {
            if self.clients[i].conn.is_none() {
                self.connect(i, false);
            }
        }
        for _ in 0..100 {
            let before = self.log.len();
            for i in 0..4 {
                self.run(&Action::Ack { client: i });
            }
            if self.log.len() == before {
                break;
            }
        }
    }
}

/// The id carried in a payload (0 for the empty payloads that delete retained messages).
fn msg_id(payload: &[u8]) -> u32 {
    match payload {
        [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

fn scenario(seed: u64, actions: &[Action]) -> Sim {
    let mut sim = Sim::new(seed);
    for a in actions {
        sim.run(a);
    }
    sim.settle();
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn model_invariants(seed in any::<u64>(), actions in prop::collection::vec(action(), 1..40)) {
        let mut sim = scenario(seed, &actions);

        // Determinism: same seed, same inputs, same bytes.
        let again = scenario(seed, &actions);
        prop_assert!(sim.log == again.log, "outputs differ between two identical runs");

        // Persistent subscribers get every QoS 1/2 message on t/ after reconnecting.
        for i in 0..2 {
            let got: BTreeSet<u32> = sim.clients[i].delivered.iter().map(|d| d.0).collect();
            for id in &sim.persistent_expect {
                prop_assert!(got.contains(id), "client {} missed message {}", i, id);
            }
        }

        // QoS 2 never delivered twice to the application (retained copies sent on a new
        // subscription are new deliveries and carry RETAIN 1).
        for c in &sim.clients {
            let mut seen = BTreeSet::new();
            for (id, qos, retain) in &c.delivered {
                if *qos == QoS::ExactlyOnce && !*retain && *id != 0 {
                    prop_assert!(seen.insert(*id), "QoS 2 message {} delivered twice", id);
                }
            }
        }

        // The retained value is the last one published.
        for (topic, expected) in sim.last_retained.clone() {
            let conn = sim.broker.accept(sim.now, "checker");
            sim.clients.push(Client {
                conn: Some(conn),
                version: Some(ProtocolVersion::V5),
                ..Client::default()
            });
            let i = sim.clients.len() - 1;
            let mut p = Connect::new(ProtocolVersion::V5, format!("checker-{topic}"));
            p.keep_alive = 0;
            sim.send(i, Packet::Connect(Box::new(p)));
            sim.send(i, Packet::Subscribe(Subscribe {
                packet_id: 9,
                filters: vec![Subscription::new(topic, QoS::AtMostOnce)],
                properties: Default::default(),
            }));
            let got: Vec<u32> = sim.clients[i].delivered.iter().filter(|d| d.2).map(|d| d.0).collect();
            match expected {
                Some(id) => prop_assert_eq!(got, vec![id], "retained on {}", topic),
                None => prop_assert!(got.is_empty(), "retained on {} should be gone", topic),
            }
        }
    }
}
