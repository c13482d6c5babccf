//! Drives the sans-IO reference broker with an arbitrary script of connections, bytes, closes,
//! time steps and restarts, in one of the three configurations the embedded target uses.
//!
//! The script mixes raw bytes (anything at all, malformed included) with well-formed packets
//! picked from a small table (CONNECT in every version with or without a will, SUBSCRIBE,
//! PUBLISH at every QoS, acknowledgements, AUTH, ...), so that the fuzzer reaches deep session
//! states quickly. It checks that:
//!
//! - nothing panics, whatever the input;
//! - the broker is deterministic: the same script on a second broker with the same seed gives
//!   the same outputs, byte for byte;
//! - everything the broker sends decodes as well-formed packets of the connection's protocol
//!   version, sent by a server ([MQTT-1.5.4-1] and every packet-format rule: a reference broker
//!   never sends a malformed packet);
//! - nothing is sent to a connection after the broker closed it.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mqtt_broker_model::mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_broker_model::mqtt_codec::{
    decode, peek_protocol_version, Auth, ByteStr, Connect, Disconnect, Limits, Packet,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Side, Subscribe,
    Subscription, Unsubscribe, Will,
};
use mqtt_broker_model::{Acl, AclAccess, AclRule, Broker, Config, ConnId, Output};

const MAX_CONNS: usize = 6;
const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn config(which: u8) -> Config {
    match which % 3 {
        0 => Config::default(),
        1 => {
            let mut c = Config {
                allow_anonymous: false,
                retain_available: false,
                wildcard_subscriptions: false,
                subscription_identifiers: false,
                shared_subscriptions: false,
                maximum_qos: 1,
                topic_alias_maximum: 0,
                report_no_subscribers: true,
                ..Config::default()
            };
            c.users.insert("u".into(), "p".into());
            c.acl = Some(Acl {
                default_allow: true,
                rules: vec![AclRule {
                    username: None,
                    client_id: None,
                    topic: "d/#".into(),
                    access: AclAccess::Publish,
                    allow: false,
                }],
            });
            c
        }
        _ => Config {
            receive_maximum: 2,
            maximum_packet_size: Some(128),
            server_keep_alive: Some(2),
            topic_alias_maximum: 2,
            ..Config::default()
        },
    }
}

/// Reads the script.
struct Script<'a> {
    data: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// A well-formed packet from the table, shaped by two script bytes.
fn template(kind: u8, arg: u8) -> (Packet, Option<ProtocolVersion>) {
    let topics = ["t", "t/a", "d/x", "$share/g/t", "#", "t/+"];
    let topic = topics[usize::from(arg) % 3];
    let filter = topics[usize::from(arg >> 2) % topics.len()];
    let qos = match arg % 3 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let id = u16::from(arg % 4) + 1;
    match kind % 12 {
        0 => {
            let v = VERSIONS[usize::from(arg) % 3];
            let mut c = Connect::new(v, ["a", "b", "c", ""][usize::from(arg >> 2) % 4]);
            c.clean_start = arg & 0x10 != 0;
            c.keep_alive = u16::from(arg >> 5);
            if arg & 0x20 != 0 {
                c.username = Some(ByteStr::from_static("u"));
                c.password = Some(Bytes::from_static(b"p"));
            }
            if arg & 0x40 != 0 {
                let mut w = Will {
                    topic: ByteStr::from_static("w"),
                    payload: Bytes::from_static(b"will"),
                    qos,
                    retain: arg & 0x80 != 0,
                    properties: Default::default(),
                };
                if v == ProtocolVersion::V5 {
                    w.properties.will_delay_interval = Some(u32::from(arg >> 6));
                }
                c.will = Some(w);
            }
            if v == ProtocolVersion::V5 {
                c.properties.session_expiry_interval = Some(u32::from(arg >> 4) * 3);
                c.properties.receive_maximum = Some(u16::from(arg % 3) + 1);
                c.properties.topic_alias_maximum = Some(u16::from(arg % 2) * 2);
                if arg & 0x08 != 0 {
                    c.properties.maximum_packet_size = Some(64);
                }
            }
            (Packet::Connect(Box::new(c)), Some(v))
        }
        1 => {
            let mut s = Subscription::new(filter, qos);
            s.options.no_local = arg & 0x40 != 0;
            s.options.retain_as_published = arg & 0x80 != 0;
            let mut p = Subscribe {
                packet_id: id,
                filters: vec![s],
                ..Default::default()
            };
            if arg & 0x20 != 0 {
                p.properties.subscription_identifiers = vec![u32::from(arg) + 1];
            }
            (Packet::Subscribe(p), None)
        }
        2..=4 => {
            let mut p = Publish::new(topic, Bytes::from(vec![arg; usize::from(arg >> 3)]));
            p.qos = qos;
            p.retain = arg & 0x04 != 0;
            p.packet_id = if qos == QoS::AtMostOnce { 0 } else { id };
            if arg & 0x08 != 0 {
                p.properties.message_expiry_interval = Some(u32::from(arg >> 6));
            }
            if arg & 0x10 != 0 {
                p.properties.topic_alias = Some(u16::from(arg >> 7) + 1);
            }
            (Packet::Publish(p), None)
        }
        5 => (Packet::PubAck(PubAck::new(id)), None),
        6 => (Packet::PubRec(PubRec::new(id)), None),
        7 => (Packet::PubRel(PubRel::new(id)), None),
        8 => (Packet::PubComp(PubComp::new(id)), None),
        9 => (
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id,
                filters: vec![ByteStr::from(filter)],
                ..Default::default()
            }),
            None,
        ),
        10 => (Packet::PingReq, None),
        _ => {
            if arg & 1 == 0 {
                let mut d = Disconnect::new(if arg & 2 == 0 {
                    ReasonCode::NORMAL_DISCONNECTION
                } else {
                    ReasonCode(0x04)
                });
                if arg & 4 != 0 {
                    d.properties.session_expiry_interval = Some(u32::from(arg >> 4));
                }
                (Packet::Disconnect(d), None)
            } else {
                let mut a = Auth {
                    reason_code: ReasonCode(0x18),
                    ..Auth::default()
                };
                a.properties.authentication_method = Some(ByteStr::from_static("SCRAM-SHA-256"));
                a.properties.authentication_data = Some(Bytes::from(vec![arg; 8]));
                (Packet::Auth(a), None)
            }
        }
    }
}

/// One connection as the script sees it.
#[derive(Default)]
struct Conn {
    id: Option<ConnId>,
    /// What the client sent, until the protocol version is known.
    sent: Vec<u8>,
    version: Option<ProtocolVersion>,
    /// What the broker sent and is not decoded yet.
    inbox: BytesMut,
    closed: bool,
}

/// Runs the script; returns every output, rendered, for the determinism comparison.
fn run(data: &[u8]) -> Vec<String> {
    let mut s = Script { data };
    let which = s.byte().unwrap_or(0);
    let seed = u64::from(s.byte().unwrap_or(0));
    let mut broker = Broker::new(config(which), seed);
    let mut now = Duration::ZERO;
    let mut conns: Vec<Conn> = Vec::new();
    let mut by_id: BTreeMap<ConnId, usize> = BTreeMap::new();
    let mut log = Vec::new();
    let mut steps = 0;
    while let Some(op) = s.byte() {
        if trace() {
            eprintln!("op {} at {now:?} (conns {})", op % 8, conns.len());
        }
        steps += 1;
        if steps > 400 {
            break;
        }
        let pick =
            |conns: &Vec<Conn>, b: u8| (!conns.is_empty()).then(|| usize::from(b) % conns.len());
        match op % 8 {
            0 => {
                if conns.len() < MAX_CONNS {
                    let id = broker.accept(now, "fuzz");
                    by_id.insert(id, conns.len());
                    conns.push(Conn {
                        id: Some(id),
                        ..Conn::default()
                    });
                }
            }
            1 | 2 => {
                // Raw bytes.
                let target = s.byte().unwrap_or(0);
                let len = usize::from(s.byte().unwrap_or(0) % 64);
                let bytes = s.bytes(len).to_vec();
                if let Some(i) = pick(&conns, target) {
                    if trace() {
                        eprintln!("  -> conn {i} raw {bytes:02x?}");
                    }
                    if let Some(id) = conns[i].id {
                        note_sent(&mut conns[i], &bytes, None);
                        broker.handle_bytes(now, id, &bytes);
                    }
                }
            }
            3..=5 => {
                // A well-formed packet from the table.
                let target = s.byte().unwrap_or(0);
                let (kind, arg) = (s.byte().unwrap_or(0), s.byte().unwrap_or(0));
                if let Some(i) = pick(&conns, target) {
                    let (packet, v) = template(kind, arg);
                    let version = v.or(conns[i].version).unwrap_or(ProtocolVersion::V5);
                    let mut buf = BytesMut::new();
                    packet.encode_unchecked(version, &mut buf);
                    if trace() {
                        eprintln!("  -> conn {i} {version:?} {packet:?}");
                    }
                    if let Some(id) = conns[i].id {
                        note_sent(&mut conns[i], &buf, v);
                        broker.handle_bytes(now, id, &buf);
                    }
                }
            }
            6 => {
                let target = s.byte().unwrap_or(0);
                if let Some(i) = pick(&conns, target) {
                    if let Some(id) = conns[i].id {
                        broker.handle_closed(now, id);
                        conns[i].closed = true;
                    }
                }
            }
            _ => {
                let b = s.byte().unwrap_or(0);
                match b % 4 {
                    0 | 1 => {
                        now += Duration::from_millis(u64::from(b) * 50);
                        broker.handle_timeout(now);
                    }
                    2 => {
                        broker.restart(now);
                        for c in &mut conns {
                            c.closed = true;
                        }
                    }
                    _ => {
                        if let Some(i) = pick(&conns, b >> 2) {
                            if let Some(id) = conns[i].id {
                                broker.send_server_disconnect(now, id, ReasonCode(0x8B));
                            }
                        }
                    }
                }
            }
        }
        drain(&mut broker, &mut conns, &by_id, &mut log);
    }
    now += Duration::from_secs(3600);
    broker.handle_timeout(now);
    drain(&mut broker, &mut conns, &by_id, &mut log);
    log
}

/// `FUZZ_TRACE=1` prints the script as it runs (to read a crash).
fn trace() -> bool {
    std::env::var_os("FUZZ_TRACE").is_some()
}

/// Keeps what a client sent until its protocol version is known.
fn note_sent(c: &mut Conn, bytes: &[u8], known: Option<ProtocolVersion>) {
    if c.version.is_some() {
        return;
    }
    if known.is_some() && c.sent.is_empty() {
        c.version = known;
        return;
    }
    c.sent.extend_from_slice(bytes);
    if let Ok(Some(v)) = peek_protocol_version(&c.sent) {
        c.version = Some(v);
    }
}

fn drain(
    broker: &mut Broker,
    conns: &mut [Conn],
    by_id: &BTreeMap<ConnId, usize>,
    log: &mut Vec<String>,
) {
    while let Some(out) = broker.poll_output() {
        match &out {
            Output::Send { conn, bytes } => {
                let c = by_id.get(conn).and_then(|&i| conns.get_mut(i));
                if let Some(c) = c {
                    assert!(
                        !c.closed,
                        "the broker sent {bytes:02x?} to {conn:?} after closing it"
                    );
                    check_sent(c, bytes);
                }
            }
            Output::Close { conn, .. } => {
                if let Some(c) = by_id.get(conn).and_then(|&i| conns.get_mut(i)) {
                    c.closed = true;
                }
            }
            Output::Event(_) => {}
        }
        if trace() {
            eprintln!("  <- {out:?}");
        }
        log.push(format!("{out:?}"));
    }
    if let Some(t) = broker.poll_timeout() {
        log.push(format!("timeout {t:?}"));
    }
}

/// Everything the broker sends decodes, as a server's packets of the connection's version.
fn check_sent(c: &mut Conn, bytes: &Bytes) {
    // A CONNACK refusing an unknown protocol level is sent in the 3.1.1 format.
    let Some(version) = c.version.or(Some(ProtocolVersion::V3_1_1)) else {
        return;
    };
    c.inbox.extend_from_slice(bytes);
    loop {
        match decode(
            &mut c.inbox,
            version,
            &Limits::default(),
            Some(Side::Server),
        ) {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => panic!(
                "the broker sent a malformed {version:?} packet: {e}: {:02x?}",
                &c.inbox[..]
            ),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let first = run(data);
    let second = run(data);
    assert!(first == second, "two runs of the same script differ");
});
