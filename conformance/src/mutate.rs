//! A packet-level mutator between the suite and a broker: it proves that tests can fail.
//!
//! [`MutatingTarget`] wraps a target; every connection is proxied, and the packets the broker
//! sends are decoded, changed by one [`Mutation`] (dropped, duplicated, a flag flipped, a
//! reason code or property changed, the close suppressed) and re-encoded without validation.
//! Running a test against the reference broker behind a mutation must turn its verdict to
//! fail for at least one mutation; a test no mutation can fail checks nothing.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, peek_protocol_version, Limits, Packet, PacketType, ProtocolVersion, QoS, ReasonCode,
    Side,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::target::{BoxFuture, BoxStream, Target};

/// One way to change what the broker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Drop every packet of this type.
    Drop(PacketType),
    /// Drop only the first packet of this type on each connection.
    DropFirst(PacketType),
    /// Send every packet of this type twice.
    Duplicate(PacketType),
    /// When the broker closes a connection, keep the suite's side open and silent.
    SuppressClose,
    /// Drop DISCONNECT packets and suppress the close (a broker that never disconnects).
    NeverDisconnect,
    /// Toggle DUP on every PUBLISH (QoS > 0 only: DUP with QoS 0 is malformed).
    FlipDup,
    /// Toggle RETAIN on every PUBLISH.
    FlipRetain,
    /// Deliver every PUBLISH one QoS lower (QoS 0 stays 0, packet id removed).
    LowerQos,
    /// Deliver every QoS 0/1 PUBLISH one QoS higher (with a fresh packet id).
    RaiseQos,
    /// Toggle Session Present in CONNACK.
    FlipSessionPresent,
    /// Replace the reason code of every packet of this type (and SUBACK/UNSUBACK codes).
    ReasonCode(PacketType, u8),
    /// Remove all 5.0 properties of every packet of this type.
    StripProperties(PacketType),
    /// Add one to the packet identifier of every packet of this type.
    ShiftPacketId(PacketType),
    /// Change one byte of every PUBLISH payload (or add one to an empty payload).
    AlterPayload,
    /// Append `/x` to the topic of every PUBLISH.
    AlterTopic,
    /// Reverse the order of user properties in every packet (and drop all but the first).
    MangleUserProperties,
    /// Deliver PUBLISH packets in reverse order within each read burst.
    SwapPublishes,
    /// Add a 300-byte Reason String to every packet of this type (5.0).
    AddReasonString(PacketType),
    /// Add a User Property to every packet of this type (5.0).
    AddUserProperty(PacketType),
    /// Add Response Information to CONNACK (5.0).
    AddResponseInformation,
    /// After each SUBACK, send a retained QoS 0 PUBLISH on a topic matching the first filter
    /// of the SUBSCRIBE it answers (a broker that sends retained messages it should not).
    InjectRetained,
    /// Drop every packet of this type on connections whose CONNACK said Session Present (a
    /// broker that forgets what it must resend when a session resumes).
    DropWhenResumed(PacketType),
    /// When a session resumes (CONNACK with Session Present), resend the last QoS 1/2 PUBLISH
    /// this client received on an earlier connection, with DUP set (a broker that resends
    /// what was already acknowledged).
    ReplayOnResume,
    /// Give every PUBLISH a Response Topic with a wildcard (5.0).
    WildcardResponseTopic,
    /// Upstream: set the fixed-header flags of every packet the suite sends (PUBLISH aside) to
    /// the value its type requires before the broker sees it: the reference broker then acts
    /// as a broker that ignores reserved flag bits ([MQTT-2.1.3-1] 5.0, [MQTT-2.2.2-1]
    /// [MQTT-2.2.2-2] 3.1.1). Not in [`Mutation::catalogue`]: the flag tests are checked
    /// against it one by one.
    NormalizeFlags,
}

impl Mutation {
    /// Every mutation the mutation test tries, roughly most to least general.
    pub fn catalogue() -> Vec<Mutation> {
        use PacketType as T;
        let mut v = vec![
            Mutation::SuppressClose,
            Mutation::NeverDisconnect,
            Mutation::Drop(T::Publish),
            Mutation::DropFirst(T::Publish),
            Mutation::Duplicate(T::Publish),
            Mutation::FlipDup,
            Mutation::FlipRetain,
            Mutation::LowerQos,
            Mutation::RaiseQos,
            Mutation::AlterPayload,
            Mutation::AlterTopic,
            Mutation::SwapPublishes,
            Mutation::FlipSessionPresent,
            Mutation::MangleUserProperties,
        ];
        for t in [
            T::ConnAck,
            T::PubAck,
            T::PubRec,
            T::PubRel,
            T::PubComp,
            T::SubAck,
            T::UnsubAck,
            T::PingResp,
            T::Disconnect,
            T::Auth,
        ] {
            v.push(Mutation::Drop(t));
        }
        for t in [
            T::ConnAck,
            T::Publish,
            T::SubAck,
            T::Disconnect,
            T::Auth,
            T::PubAck,
        ] {
            v.push(Mutation::StripProperties(t));
        }
        for t in [
            T::PubAck,
            T::PubRec,
            T::PubRel,
            T::PubComp,
            T::SubAck,
            T::UnsubAck,
        ] {
            v.push(Mutation::ShiftPacketId(t));
        }
        for (t, rc) in [
            (T::ConnAck, 0x00),
            (T::ConnAck, 0x80),
            (T::SubAck, 0x80),
            (T::SubAck, 0x00),
            (T::SubAck, 0x01),
            (T::SubAck, 0x02),
            (T::UnsubAck, 0x80),
            (T::UnsubAck, 0x00),
            (T::PubAck, 0x80),
            (T::PubAck, 0x00),
            (T::PubRec, 0x80),
            (T::PubRec, 0x00),
            (T::Disconnect, 0x00),
            (T::Disconnect, 0x80),
            (T::Auth, 0x00),
        ] {
            v.push(Mutation::ReasonCode(t, rc));
        }
        v.push(Mutation::InjectRetained);
        v.push(Mutation::DropWhenResumed(T::Publish));
        v.push(Mutation::DropWhenResumed(T::PubRel));
        v.push(Mutation::ReplayOnResume);
        v.push(Mutation::WildcardResponseTopic);
        v.push(Mutation::AddResponseInformation);
        for t in [
            T::ConnAck,
            T::PubAck,
            T::PubRec,
            T::PubComp,
            T::SubAck,
            T::UnsubAck,
            T::Disconnect,
        ] {
            v.push(Mutation::AddReasonString(t));
            v.push(Mutation::AddUserProperty(t));
        }
        v.push(Mutation::Duplicate(T::ConnAck));
        v.push(Mutation::Duplicate(T::SubAck));
        v.push(Mutation::Duplicate(T::PubRel));
        v
    }
}

/// A target whose connections pass through a [`Mutation`].
pub struct MutatingTarget {
    inner: Arc<dyn Target>,
    mutation: Mutation,
    /// Last QoS 1/2 PUBLISH delivered to each client id, across connections.
    memory: Memory,
}

type Memory = Arc<std::sync::Mutex<std::collections::BTreeMap<String, Packet>>>;

impl MutatingTarget {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Target>, mutation: Mutation) -> Self {
        MutatingTarget {
            inner,
            mutation,
            memory: Memory::default(),
        }
    }
}

impl Target for MutatingTarget {
    fn describe(&self) -> String {
        format!(
            "{} with mutation {:?}",
            self.inner.describe(),
            self.mutation
        )
    }

    fn virtual_time(&self) -> bool {
        self.inner.virtual_time()
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let upstream = self.inner.connect().await?;
            let (suite_side, proxy_side) = tokio::io::duplex(64 * 1024);
            tokio::spawn(proxy(
                proxy_side,
                upstream,
                self.mutation,
                self.memory.clone(),
            ));
            Ok(Box::new(suite_side) as BoxStream)
        })
    }
}

struct State {
    mutation: Mutation,
    version: Option<ProtocolVersion>,
    /// First filter of each SUBSCRIBE the client sent, by packet id.
    filters: Vec<(u16, String)>,
    /// The CONNACK of this connection said Session Present.
    resumed: bool,
    /// The client id from CONNECT.
    client_id: Option<String>,
    memory: Memory,
    seen_first: Vec<PacketType>,
    next_id: u16,
}

impl State {
    /// The packets to forward for one packet from the broker.
    fn apply(&mut self, p: Packet) -> Vec<Packet> {
        use Mutation as M;
        let ty = p.packet_type();
        if let Packet::ConnAck(a) = &p {
            self.resumed = a.session_present;
        }
        if self.mutation == M::ReplayOnResume {
            return self.replay(p);
        }
        match self.mutation {
            M::DropWhenResumed(t) if t == ty && self.resumed => vec![],
            M::Drop(t) if t == ty => vec![],
            M::DropFirst(t) if t == ty => {
                if self.seen_first.contains(&t) {
                    vec![p]
                } else {
                    self.seen_first.push(t);
                    vec![]
                }
            }
            M::Duplicate(t) if t == ty => vec![p.clone(), p],
            M::NeverDisconnect if ty == PacketType::Disconnect => vec![],
            M::FlipDup => vec![map_publish(p, |m| {
                if m.qos != QoS::AtMostOnce {
                    m.dup = !m.dup
                }
            })],
            M::FlipRetain => vec![map_publish(p, |m| m.retain = !m.retain)],
            M::LowerQos => vec![map_publish(p, |m| {
                m.qos = match m.qos {
                    QoS::ExactlyOnce => QoS::AtLeastOnce,
                    _ => QoS::AtMostOnce,
                };
                if m.qos == QoS::AtMostOnce {
                    m.packet_id = 0;
                    m.dup = false;
                }
            })],
            M::RaiseQos => {
                let id = self.fresh_id();
                vec![map_publish(p, |m| {
                    m.qos = match m.qos {
                        QoS::AtMostOnce => QoS::AtLeastOnce,
                        _ => QoS::ExactlyOnce,
                    };
                    if m.packet_id == 0 {
                        m.packet_id = id;
                    }
                })]
            }
            M::AlterPayload => vec![map_publish(p, |m| {
                let mut b = BytesMut::from(&m.payload[..]);
                match b.first_mut() {
                    Some(x) => *x ^= 0x20,
                    None => b.extend_from_slice(b"x"),
                }
                m.payload = b.freeze();
            })],
            M::AlterTopic => vec![map_publish(p, |m| {
                if !m.topic.is_empty() {
                    m.topic = format!("{}/x", &*m.topic).into();
                }
            })],
            M::FlipSessionPresent => match p {
                Packet::ConnAck(mut a) => {
                    a.session_present = !a.session_present;
                    vec![Packet::ConnAck(a)]
                }
                other => vec![other],
            },
            M::ReasonCode(t, rc) if t == ty => vec![set_reason(p, ReasonCode(rc))],
            M::StripProperties(t) if t == ty => vec![strip(p)],
            M::ShiftPacketId(t) if t == ty => vec![shift_id(p)],
            M::MangleUserProperties => vec![mangle_user(p)],
            M::AddReasonString(t) if t == ty && self.is_v5() => vec![with_props(p, |props| {
                props.reason_string = Some("x".repeat(300).into());
            })],
            M::AddUserProperty(t) if t == ty && self.is_v5() => vec![with_props(p, |props| {
                props
                    .user_properties
                    .push(("injected".into(), "by the mutator".into()));
            })],
            M::AddResponseInformation if ty == PacketType::ConnAck && self.is_v5() => {
                vec![with_props(p, |props| {
                    props.response_information = Some("injected/response".into());
                })]
            }
            M::WildcardResponseTopic if self.is_v5() => vec![map_publish(p, |m| {
                m.properties.response_topic = Some("injected/#".into());
            })],
            M::InjectRetained => match p {
                Packet::SubAck(a) => {
                    let topic = self
                        .filters
                        .iter()
                        .find(|(id, _)| *id == a.packet_id)
                        .map(|(_, f)| concrete(f));
                    let mut out = vec![Packet::SubAck(a)];
                    if let Some(t) = topic {
                        let mut m = mqtt_codec::Publish::new(t.as_str(), "injected retained");
                        m.retain = true;
                        out.push(Packet::Publish(m));
                    }
                    out
                }
                other => vec![other],
            },
            _ => vec![p],
        }
    }

    fn replay(&mut self, p: Packet) -> Vec<Packet> {
        let Some(id) = self.client_id.clone() else {
            return vec![p];
        };
        let Ok(mut memory) = self.memory.lock() else {
            return vec![p];
        };
        match p {
            Packet::Publish(m) if m.qos != QoS::AtMostOnce => {
                memory.insert(id, Packet::Publish(m.clone()));
                vec![Packet::Publish(m)]
            }
            Packet::ConnAck(a) if a.session_present => {
                let mut out = vec![Packet::ConnAck(a)];
                if let Some(Packet::Publish(mut old)) = memory.get(&id).cloned() {
                    old.dup = true;
                    out.push(Packet::Publish(old));
                }
                out
            }
            other => vec![other],
        }
    }

    fn is_v5(&self) -> bool {
        self.version.is_some_and(|v| v.is_v5())
    }

    fn fresh_id(&mut self) -> u16 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        60000u16.wrapping_add(self.next_id).max(1)
    }
}

fn map_publish(p: Packet, f: impl FnOnce(&mut mqtt_codec::Publish)) -> Packet {
    match p {
        Packet::Publish(mut m) => {
            f(&mut m);
            Packet::Publish(m)
        }
        other => other,
    }
}

/// The packet identifier and the reason code(s) of a packet, where it has them.
fn id_and_codes(p: &mut Packet) -> (Option<&mut u16>, Vec<&mut ReasonCode>) {
    match p {
        Packet::ConnAck(a) => (None, vec![&mut a.reason_code]),
        Packet::PubAck(a) => (Some(&mut a.packet_id), vec![&mut a.reason_code]),
        Packet::PubRec(a) => (Some(&mut a.packet_id), vec![&mut a.reason_code]),
        Packet::PubRel(a) => (Some(&mut a.packet_id), vec![&mut a.reason_code]),
        Packet::PubComp(a) => (Some(&mut a.packet_id), vec![&mut a.reason_code]),
        Packet::SubAck(a) => (Some(&mut a.packet_id), a.reason_codes.iter_mut().collect()),
        Packet::UnsubAck(a) => (Some(&mut a.packet_id), a.reason_codes.iter_mut().collect()),
        Packet::Disconnect(d) => (None, vec![&mut d.reason_code]),
        Packet::Auth(a) => (None, vec![&mut a.reason_code]),
        _ => (None, Vec::new()),
    }
}

fn set_reason(mut p: Packet, rc: ReasonCode) -> Packet {
    for c in id_and_codes(&mut p).1 {
        *c = rc;
    }
    p
}

fn props_of(p: &mut Packet) -> Option<&mut mqtt_codec::Props> {
    Some(match p {
        Packet::Connect(c) => &mut c.properties,
        Packet::ConnAck(a) => &mut a.properties,
        Packet::Publish(m) => &mut m.properties,
        Packet::PubAck(a) => &mut a.properties,
        Packet::PubRec(a) => &mut a.properties,
        Packet::PubRel(a) => &mut a.properties,
        Packet::PubComp(a) => &mut a.properties,
        Packet::Subscribe(s) => &mut s.properties,
        Packet::SubAck(a) => &mut a.properties,
        Packet::Unsubscribe(u) => &mut u.properties,
        Packet::UnsubAck(a) => &mut a.properties,
        Packet::Disconnect(d) => &mut d.properties,
        Packet::Auth(a) => &mut a.properties,
        Packet::PingReq | Packet::PingResp => return None,
    })
}

fn with_props(mut p: Packet, f: impl FnOnce(&mut mqtt_codec::Properties)) -> Packet {
    if let Some(props) = props_of(&mut p) {
        f(props);
    }
    p
}

/// A topic name matching `filter`: wildcards replaced, a shared subscription's prefix removed.
fn concrete(filter: &str) -> String {
    let f = match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f),
        None => filter,
    };
    f.split('/')
        .map(|level| match level {
            "+" | "#" => "x",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn strip(mut p: Packet) -> Packet {
    if let Some(props) = props_of(&mut p) {
        *props = mqtt_codec::Props::none();
    }
    p
}

fn mangle_user(mut p: Packet) -> Packet {
    if let Some(props) = props_of(&mut p) {
        if !props.user_properties.is_empty() {
            props.user_properties.reverse();
            props.user_properties.truncate(1);
        }
    }
    p
}

fn shift_id(mut p: Packet) -> Packet {
    if let (Some(id), _) = id_and_codes(&mut p) {
        *id = id.wrapping_add(1).max(1);
    }
    p
}

/// Rewrites the fixed-header flags of a client's packets, across reads: it walks the stream
/// by fixed headers (type and flags, Remaining Length) and skips the bodies.
#[derive(Default)]
struct FlagNormalizer {
    /// Bytes of the current fixed header seen so far (0 at a packet boundary).
    header: usize,
    /// Remaining Length being read, and the multiplier of its next byte.
    length: usize,
    shift: u32,
    /// Body bytes left to skip.
    skip: usize,
    /// The stream stopped making sense (a Remaining Length over 4 bytes): leave it alone.
    lost: bool,
}

impl FlagNormalizer {
    fn normalize(&mut self, chunk: &mut [u8]) {
        let mut i = 0;
        while i < chunk.len() && !self.lost {
            if self.skip > 0 {
                let take = self.skip.min(chunk.len() - i);
                i += take;
                self.skip -= take;
                continue;
            }
            let Some(b) = chunk.get_mut(i) else { break };
            i += 1;
            if self.header == 0 {
                *b = match *b >> 4 {
                    // PUBLISH flags carry DUP, QoS and RETAIN; type 0 has no rule to fake.
                    0 | 3 => *b,
                    // PUBREL, SUBSCRIBE, UNSUBSCRIBE: 0010.
                    6 | 8 | 10 => (*b & 0xF0) | 0x02,
                    _ => *b & 0xF0,
                };
                self.header = 1;
                self.length = 0;
                self.shift = 0;
                continue;
            }
            self.length |= usize::from(*b & 0x7F) << self.shift;
            self.shift += 7;
            self.header += 1;
            if *b & 0x80 == 0 {
                self.skip = self.length;
                self.header = 0;
            } else if self.header >= 5 {
                self.lost = true;
            }
        }
    }
}

/// Proxies one connection: suite <-> broker, mutating what the broker sends.
async fn proxy(
    suite: tokio::io::DuplexStream,
    broker: BoxStream,
    mutation: Mutation,
    memory: Memory,
) {
    let (mut suite_r, mut suite_w) = tokio::io::split(suite);
    let (mut broker_r, mut broker_w) = tokio::io::split(broker);
    let state = Arc::new(tokio::sync::Mutex::new(State {
        mutation,
        version: None,
        seen_first: Vec::new(),
        next_id: 0,
        filters: Vec::new(),
        resumed: false,
        client_id: None,
        memory,
    }));
    let st = state.clone();
    let (suite_gone_tx, suite_gone) = tokio::sync::oneshot::channel::<()>();
    // Suite -> broker: bytes pass unchanged; the first CONNECT tells the version.
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut head = Vec::new();
        // The client's packets, decoded only to learn SUBSCRIBE filters; the first bytes that
        // do not decode (the suite sends malformed packets on purpose) end the decoding.
        let mut parsed = BytesMut::new();
        let mut parsing = true;
        let mut flags = FlagNormalizer::default();
        loop {
            let n = match suite_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = buf.get_mut(..n).unwrap_or(&mut []);
            if mutation == Mutation::NormalizeFlags {
                flags.normalize(chunk);
            }
            let chunk: &[u8] = chunk;
            {
                let mut s = st.lock().await;
                if s.version.is_none() && head.len() < 64 {
                    head.extend_from_slice(chunk);
                    if let Ok(Some(v)) = peek_protocol_version(&head) {
                        s.version = Some(v);
                    }
                }
                if parsing {
                    parsed.extend_from_slice(chunk);
                    let v = s.version.unwrap_or(ProtocolVersion::V5);
                    loop {
                        match decode(&mut parsed, v, &Limits::default(), Some(Side::Client)) {
                            Ok(Some(Packet::Connect(c))) => {
                                s.client_id = Some(c.client_id.to_string());
                            }
                            Ok(Some(Packet::Subscribe(sub))) => {
                                if let Some(f) = sub.filters.first() {
                                    s.filters.push((sub.packet_id, f.filter.to_string()));
                                }
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(_) => {
                                parsing = false;
                                parsed.clear();
                                break;
                            }
                        }
                    }
                }
            }
            if broker_w.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = broker_w.shutdown().await;
        let _ = suite_gone_tx.send(());
    };
    // Broker -> suite: decode, mutate, re-encode.
    let down = async move {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let closed_by_broker;
        loop {
            match broker_r.read_buf(&mut buf).await {
                Ok(0) | Err(_) => {
                    closed_by_broker = true;
                    break;
                }
                Ok(_) => {}
            }
            let mut out = BytesMut::new();
            let mut burst: Vec<Packet> = Vec::new();
            let mut s = state.lock().await;
            let version = s.version.unwrap_or(ProtocolVersion::V5);
            loop {
                match decode(&mut buf, version, &Limits::default(), Some(Side::Server)) {
                    Ok(Some(p)) => burst.extend(s.apply(p)),
                    Ok(None) => break,
                    Err(_) => {
                        // Not ours to judge: pass the bytes on unchanged.
                        out.extend_from_slice(&buf);
                        buf.clear();
                        break;
                    }
                }
            }
            if s.mutation == Mutation::SwapPublishes {
                let (mut pubs, others): (Vec<Packet>, Vec<Packet>) = burst
                    .into_iter()
                    .partition(|p| matches!(p, Packet::Publish(_)));
                pubs.reverse();
                burst = others;
                burst.extend(pubs);
            }
            drop(s);
            let mut head = BytesMut::new();
            for p in &burst {
                p.encode_unchecked(version, &mut head);
            }
            head.extend_from_slice(&out);
            let bytes: Bytes = head.freeze();
            if !bytes.is_empty() && suite_w.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let suppress = matches!(
            mutation,
            Mutation::SuppressClose | Mutation::NeverDisconnect
        );
        if closed_by_broker && suppress {
            // Keep the suite's side open until the suite itself goes away.
            let _ = suite_gone.await;
        }
        let _ = suite_w.shutdown().await;
    };
    tokio::join!(up, down);
}
