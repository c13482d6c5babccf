//! Test harness: drives the broker with virtual time, encodes client packets with the codec and
//! decodes what the broker sends back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_broker_model::mqtt_codec::{
    decode, ByteStr, ConnAck, Connect, Disconnect, Limits, Packet, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Side, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use mqtt_broker_model::{Broker, CloseReason, Config, ConnId, Event, Output};

pub use mqtt_broker_model::mqtt_codec;

pub const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
pub const V5: ProtocolVersion = ProtocolVersion::V5;

/// A broker plus everything it said, per connection.
pub struct Harness {
    pub broker: Broker,
    pub now: Duration,
    inbox: BTreeMap<ConnId, BytesMut>,
    versions: BTreeMap<ConnId, ProtocolVersion>,
    pub closed: BTreeMap<ConnId, CloseReason>,
    pub events: Vec<Event>,
    /// Every output in order (for determinism checks).
    pub log: Vec<Output>,
}

impl Harness {
    pub fn new(config: Config) -> Harness {
        Harness::with_seed(config, 1)
    }

    pub fn with_seed(config: Config, seed: u64) -> Harness {
        Harness {
            broker: Broker::new(config, seed),
            now: Duration::ZERO,
            inbox: BTreeMap::new(),
            versions: BTreeMap::new(),
            closed: BTreeMap::new(),
            events: Vec::new(),
            log: Vec::new(),
        }
    }

    pub fn default_broker() -> Harness {
        Harness::new(Config {
            sys_topics: false,
            ..Config::default()
        })
    }

    fn drain(&mut self) {
        while let Some(o) = self.broker.poll_output() {
            self.log.push(o.clone());
            match o {
                Output::Send { conn, bytes } => {
                    self.inbox
                        .entry(conn)
                        .or_default()
                        .extend_from_slice(&bytes);
                }
                Output::Close { conn, reason } => {
                    self.closed.insert(conn, reason);
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    /// A new TCP connection.
    pub fn accept(&mut self) -> ConnId {
        let c = self.broker.accept(self.now, "127.0.0.1:40000");
        self.drain();
        c
    }

    /// Raw bytes from the client.
    pub fn send_raw(&mut self, conn: ConnId, bytes: &[u8]) {
        self.broker.handle_bytes(self.now, conn, bytes);
        self.drain();
    }

    /// A packet from the client (checked encoding; CONNECT sets the connection's version).
    pub fn send(&mut self, conn: ConnId, p: Packet) {
        if let Packet::Connect(c) = &p {
            self.versions.insert(conn, c.protocol);
        }
        let v = self.version(conn);
        let mut buf = BytesMut::new();
        p.encode(v, &mut buf).expect("test packet encodes");
        self.send_raw(conn, &buf);
    }

    /// A packet encoded without checks (to break rules on purpose).
    pub fn send_unchecked(&mut self, conn: ConnId, p: Packet) {
        let v = self.version(conn);
        let mut buf = BytesMut::new();
        p.encode_unchecked(v, &mut buf);
        self.send_raw(conn, &buf);
    }

    pub fn version(&self, conn: ConnId) -> ProtocolVersion {
        self.versions.get(&conn).copied().unwrap_or(V5)
    }

    /// The peer closed the connection.
    pub fn drop_conn(&mut self, conn: ConnId) {
        self.broker.handle_closed(self.now, conn);
        self.drain();
    }

    /// Moves virtual time forward by `secs` and runs the timers (in steps at every deadline).
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.broker.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.broker.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
        self.broker.handle_timeout(self.now);
        self.drain();
    }

    pub fn advance_secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    pub fn restart(&mut self) {
        self.broker.restart(self.now);
        self.drain();
    }

    /// Every packet the broker sent to `conn` since the last call.
    pub fn recv(&mut self, conn: ConnId) -> Vec<Packet> {
        let v = self.version(conn);
        let mut out = Vec::new();
        let Some(buf) = self.inbox.get_mut(&conn) else {
            return out;
        };
        while let Some(p) = decode(buf, v, &Limits::default(), Some(Side::Server))
            .expect("broker sends well-formed packets")
        {
            out.push(p);
        }
        out
    }

    /// Raw bytes the broker sent to `conn` since the last call.
    pub fn recv_raw(&mut self, conn: ConnId) -> Bytes {
        self.inbox
            .get_mut(&conn)
            .map(|b| b.split().freeze())
            .unwrap_or_default()
    }

    pub fn is_closed(&self, conn: ConnId) -> bool {
        self.closed.contains_key(&conn)
    }

    /// CONNECT and CONNACK in one step.
    pub fn connect(&mut self, c: Connect) -> (ConnId, ConnAck) {
        let conn = self.accept();
        self.send(conn, Packet::Connect(Box::new(c)));
        let mut packets = self.recv(conn);
        if packets.is_empty() {
            panic!("expected CONNACK, got nothing");
        }
        let rest = packets.split_off(1);
        self.unread(conn, rest);
        match packets.pop() {
            Some(Packet::ConnAck(a)) => (conn, a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects a client with default options.
    pub fn client(&mut self, version: ProtocolVersion, id: &str, clean: bool) -> ConnId {
        let mut c = Connect::new(version, id);
        c.keep_alive = 0;
        c.clean_start = clean;
        if version.is_v5() && !clean {
            c.properties.session_expiry_interval = Some(3600);
        }
        let (conn, ack) = self.connect(c);
        assert_eq!(ack.reason_code, ReasonCode::SUCCESS, "connect {id}");
        conn
    }

    pub fn subscribe(&mut self, conn: ConnId, filter: &str, qos: QoS) -> SubAck {
        self.subscribe_with(conn, vec![Subscription::new(filter, qos)], None)
    }

    pub fn subscribe_opts(
        &mut self,
        conn: ConnId,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> SubAck {
        self.subscribe_with(
            conn,
            vec![Subscription {
                filter: filter.into(),
                options,
            }],
            id,
        )
    }

    pub fn subscribe_with(
        &mut self,
        conn: ConnId,
        filters: Vec<Subscription>,
        id: Option<u32>,
    ) -> SubAck {
        let mut s = Subscribe {
            packet_id: 4242,
            filters,
            properties: Default::default(),
        };
        if let Some(id) = id {
            s.properties.subscription_identifiers = vec![id];
        }
        self.send(conn, Packet::Subscribe(s));
        let mut packets = self.recv(conn);
        let pos = packets
            .iter()
            .position(|p| matches!(p, Packet::SubAck(_)))
            .expect("SUBACK");
        let rest = packets.split_off(pos + 1);
        // Put back what came after the SUBACK (retained messages).
        self.unread(conn, rest);
        match packets.pop() {
            Some(Packet::SubAck(a)) => a,
            _ => unreachable!(),
        }
    }

    pub fn unsubscribe(&mut self, conn: ConnId, filters: &[&str]) -> UnsubAck {
        let u = Unsubscribe {
            packet_id: 4343,
            filters: filters
                .iter()
                .map(|f| ByteStr::from(f.to_string()))
                .collect(),
            properties: Default::default(),
        };
        self.send(conn, Packet::Unsubscribe(u));
        match self
            .recv(conn)
            .into_iter()
            .find(|p| matches!(p, Packet::UnsubAck(_)))
        {
            Some(Packet::UnsubAck(a)) => a,
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }

    /// Re-queues decoded packets in front of the inbox (re-encoded).
    fn unread(&mut self, conn: ConnId, packets: Vec<Packet>) {
        let v = self.version(conn);
        let mut buf = BytesMut::new();
        for p in packets {
            p.encode_unchecked(v, &mut buf);
        }
        let inbox = self.inbox.entry(conn).or_default();
        buf.extend_from_slice(inbox);
        *inbox = buf;
    }

    pub fn publish(&mut self, conn: ConnId, p: Publish) {
        self.send(conn, Packet::Publish(p));
    }

    /// Publishes and completes the acknowledgement flow from the publisher's side.
    pub fn publish_acked(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        pid: u16,
    ) {
        let p = publish(topic, payload, qos, retain, pid);
        self.publish(conn, p);
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                let got = self.recv(conn);
                assert!(
                    got.iter()
                        .any(|p| matches!(p, Packet::PubAck(a) if a.packet_id == pid)),
                    "PUBACK for {pid}: {got:?}"
                );
            }
            QoS::ExactlyOnce => {
                let got = self.recv(conn);
                assert!(
                    got.iter()
                        .any(|p| matches!(p, Packet::PubRec(a) if a.packet_id == pid)),
                    "PUBREC for {pid}: {got:?}"
                );
                self.send(conn, Packet::PubRel(PubRel::new(pid)));
                let got = self.recv(conn);
                assert!(
                    got.iter()
                        .any(|p| matches!(p, Packet::PubComp(a) if a.packet_id == pid)),
                    "PUBCOMP for {pid}: {got:?}"
                );
            }
        }
    }

    /// PUBLISH packets received by `conn`.
    pub fn publishes(&mut self, conn: ConnId) -> Vec<Publish> {
        self.recv(conn)
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// Acknowledges a received PUBLISH as a well-behaved client would.
    pub fn ack(&mut self, conn: ConnId, p: &Publish) {
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(conn, Packet::PubAck(PubAck::new(p.packet_id))),
            QoS::ExactlyOnce => {
                self.send(conn, Packet::PubRec(PubRec::new(p.packet_id)));
                let rel = self.recv(conn);
                assert!(
                    rel.iter()
                        .any(|r| matches!(r, Packet::PubRel(x) if x.packet_id == p.packet_id)),
                    "PUBREL expected: {rel:?}"
                );
                self.send(conn, Packet::PubComp(PubComp::new(p.packet_id)));
            }
        }
    }

    pub fn disconnect(&mut self, conn: ConnId) {
        self.send(
            conn,
            Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)),
        );
    }

    /// Statement ids of every protocol violation reported for `conn`.
    pub fn violations(&self, conn: ConnId) -> Vec<(ReasonCode, Vec<String>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ProtocolViolation {
                    conn: c,
                    statements,
                    reason_code,
                    ..
                } if *c == conn => Some((
                    *reason_code,
                    statements.iter().map(|s| s.as_str().to_string()).collect(),
                )),
                _ => None,
            })
            .collect()
    }
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, retain: bool, pid: u16) -> Publish {
    let mut p = Publish::new(topic.to_string(), Bytes::copy_from_slice(payload));
    p.qos = qos;
    p.retain = retain;
    p.packet_id = if qos == QoS::AtMostOnce { 0 } else { pid };
    p
}

pub fn will(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload),
        qos,
        retain,
        properties: Default::default(),
    }
}

/// A broker (no `$SYS`) with one ACL rule: `allow` or deny `access` to `topic` for everyone,
/// the opposite for everything else.
pub fn one_acl_rule(topic: &str, access: mqtt_broker_model::AclAccess, allow: bool) -> Config {
    Config {
        acl: Some(mqtt_broker_model::Acl {
            default_allow: !allow,
            rules: vec![mqtt_broker_model::AclRule {
                username: None,
                client_id: None,
                topic: topic.into(),
                access,
                allow,
            }],
        }),
        sys_topics: false,
        ..Config::default()
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
