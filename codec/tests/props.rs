//! Property tests: strategies for every packet type of both versions (valid values only), and
//! - any valid packet round-trips: encode, decode gives it back, re-encoding is byte-identical;
//! - arbitrary bytes, and valid packets with a few bytes changed, never panic, keep the buffer
//!   contract, and whatever decodes re-encodes (checked) and decodes to the same packet;
//! - decoding does not depend on how a stream of packets is cut into chunks.

mod common;

use common::{dec, V3, V5};
use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, decode_bytes, parse_fixed_header, peek_protocol_version, Auth, ByteStr, ConnAck,
    Connect, Disconnect, Limits, Packet, PacketType, Properties, PropertyContext, PropertyId,
    Props, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    RetainHandling, Side, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ---------------------------------------------------------------------------------------
// Value strategies.

/// A UTF-8 string without U+0000 (any other scalar value, multi-byte ones included).
fn utf8() -> impl Strategy<Value = ByteStr> {
    "[^\\x00]{0,10}".prop_map(ByteStr::from)
}

/// A valid topic name: at least one character, no wildcard, no U+0000.
fn topic_name() -> impl Strategy<Value = ByteStr> {
    "[a-zA-Z0-9 /$_é€😀-]{1,24}".prop_map(ByteStr::from)
}

/// A valid topic filter: levels of text or `+`, optionally ending in `#`.
fn topic_filter() -> impl Strategy<Value = ByteStr> {
    let level = prop_oneof![3 => "[a-z0-9$é]{0,4}", 1 => Just("+".to_string())];
    (vec(level, 1..5), any::<bool>())
        .prop_map(|(levels, hash)| {
            let mut f = levels.join("/");
            if hash {
                if f.is_empty() {
                    f.push('#');
                } else {
                    f.push_str("/#");
                }
            }
            f
        })
        .prop_filter("a topic filter is not empty", |f| !f.is_empty())
        .prop_map(ByteStr::from)
}

/// A 5.0 shared subscription filter.
fn shared_filter() -> impl Strategy<Value = ByteStr> {
    ("[a-z0-9]{1,6}", topic_filter()).prop_map(|(n, f)| ByteStr::from(format!("$share/{n}/{f}")))
}

fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1u16..=u16::MAX
}

/// The reason codes `packet` may carry in `v`.
fn codes(packet: PacketType, v: ProtocolVersion) -> impl Strategy<Value = ReasonCode> {
    let all: Vec<ReasonCode> = (0..=255u8)
        .map(ReasonCode)
        .filter(|c| c.allowed_on(packet, v))
        .collect();
    select(all)
}

/// Properties that may appear in `ctx`, with valid values; empty in 3.1.1.
fn props(v: ProtocolVersion, ctx: PropertyContext) -> BoxedStrategy<Props> {
    if !v.is_v5() {
        return Just(Props::none()).boxed();
    }
    let a = (
        option::of(0u8..=1),
        option::of(any::<u32>()),
        option::of(utf8()),
        option::of(topic_name()),
        option::of(bytes()),
        vec(1u32..=268_435_455, 0..3),
        option::of(any::<u32>()),
        option::of(utf8()),
        option::of(any::<u16>()),
    );
    let b = (
        option::of(utf8()),
        option::of(bytes()),
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(any::<bool>()),
        option::of(utf8()),
        option::of(utf8()),
        option::of(utf8()),
        option::of(1u16..),
        option::of(any::<u16>()),
        option::of(1u16..),
    );
    let c = (
        option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        option::of(any::<bool>()),
        vec((utf8(), utf8()), 0..3),
        option::of(1u32..),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
    );
    (a, b, c)
        .prop_map(move |(a, b, c)| {
            let mut p = Properties {
                payload_format_indicator: a.0,
                message_expiry_interval: a.1,
                content_type: a.2,
                response_topic: a.3,
                correlation_data: a.4,
                subscription_identifiers: a.5,
                session_expiry_interval: a.6,
                assigned_client_identifier: a.7,
                server_keep_alive: a.8,
                authentication_method: b.0,
                authentication_data: b.1,
                request_problem_information: b.2,
                will_delay_interval: b.3,
                request_response_information: b.4,
                response_information: b.5,
                server_reference: b.6,
                reason_string: b.7,
                receive_maximum: b.8,
                topic_alias_maximum: b.9,
                topic_alias: b.10,
                maximum_qos: c.0,
                retain_available: c.1,
                user_properties: c.2,
                maximum_packet_size: c.3,
                wildcard_subscription_available: c.4,
                subscription_identifier_available: c.5,
                shared_subscription_available: c.6,
            };
            keep_allowed(&mut p, ctx);
            Props::new(p)
        })
        .boxed()
}

/// Drops every property `ctx` may not carry (Table 2-4) and fixes the combinations.
fn keep_allowed(p: &mut Properties, ctx: PropertyContext) {
    let ok = |id: PropertyId| id.allowed_in(ctx);
    macro_rules! keep {
        ($($field:ident: $id:ident),* $(,)?) => {$(
            if !ok(PropertyId::$id) {
                p.$field = Default::default();
            }
        )*};
    }
    keep!(
        payload_format_indicator: PAYLOAD_FORMAT_INDICATOR,
        message_expiry_interval: MESSAGE_EXPIRY_INTERVAL,
        content_type: CONTENT_TYPE,
        response_topic: RESPONSE_TOPIC,
        correlation_data: CORRELATION_DATA,
        subscription_identifiers: SUBSCRIPTION_IDENTIFIER,
        session_expiry_interval: SESSION_EXPIRY_INTERVAL,
        assigned_client_identifier: ASSIGNED_CLIENT_IDENTIFIER,
        server_keep_alive: SERVER_KEEP_ALIVE,
        authentication_method: AUTHENTICATION_METHOD,
        authentication_data: AUTHENTICATION_DATA,
        request_problem_information: REQUEST_PROBLEM_INFORMATION,
        will_delay_interval: WILL_DELAY_INTERVAL,
        request_response_information: REQUEST_RESPONSE_INFORMATION,
        response_information: RESPONSE_INFORMATION,
        server_reference: SERVER_REFERENCE,
        reason_string: REASON_STRING,
        receive_maximum: RECEIVE_MAXIMUM,
        topic_alias_maximum: TOPIC_ALIAS_MAXIMUM,
        topic_alias: TOPIC_ALIAS,
        maximum_qos: MAXIMUM_QOS,
        retain_available: RETAIN_AVAILABLE,
        user_properties: USER_PROPERTY,
        maximum_packet_size: MAXIMUM_PACKET_SIZE,
        wildcard_subscription_available: WILDCARD_SUBSCRIPTION_AVAILABLE,
        subscription_identifier_available: SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        shared_subscription_available: SHARED_SUBSCRIPTION_AVAILABLE,
    );
    if !PropertyId::SUBSCRIPTION_IDENTIFIER.repeatable_in(ctx) {
        p.subscription_identifiers.truncate(1);
    }
    if p.authentication_method.is_none() {
        p.authentication_data = None;
    }
}

fn ctx(p: PacketType) -> PropertyContext {
    PropertyContext::Packet(p)
}

// ---------------------------------------------------------------------------------------
// Packet strategies, one per type.

fn connect(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let protocol = if v.is_v5() {
        Just(V5).boxed()
    } else {
        prop_oneof![Just(V3), Just(ProtocolVersion::V3_1)].boxed()
    };
    let will = (
        topic_name(),
        bytes(),
        qos(),
        any::<bool>(),
        props(v, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        protocol,
        any::<bool>(),
        any::<u16>(),
        utf8(),
        option::of(will),
        option::of(utf8()),
        option::of(bytes()),
        props(v, ctx(PacketType::Connect)),
    )
        .prop_map(
            |(
                protocol,
                clean_start,
                keep_alive,
                client_id,
                will,
                username,
                password,
                properties,
            )| {
                // 3.1.1 [MQTT-3.1.2-22]: no password without a user name.
                let password = if protocol.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
        .boxed()
}

fn connack(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    (
        any::<bool>(),
        codes(PacketType::ConnAck, v),
        props(v, ctx(PacketType::ConnAck)),
    )
        .prop_map(|(sp, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present: sp && reason_code == ReasonCode::SUCCESS,
                reason_code,
                properties,
            })
        })
        .boxed()
}

fn publish(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        bytes(),
        props(v, ctx(PacketType::Publish)),
        any::<bool>(),
    )
        .prop_map(
            |(qos, dup, retain, topic, id, payload, properties, alias_only)| {
                let q0 = qos == QoS::AtMostOnce;
                // 5.0: with a Topic Alias the topic name may be empty.
                let topic = if alias_only && properties.topic_alias.is_some() {
                    ByteStr::from("")
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup: dup && !q0,
                    qos,
                    retain,
                    topic,
                    packet_id: if q0 { 0 } else { id },
                    payload,
                    properties,
                })
            },
        )
        .boxed()
}

fn ack(v: ProtocolVersion, pt: PacketType) -> BoxedStrategy<Packet> {
    let code = if v.is_v5() {
        codes(pt, v).boxed()
    } else {
        Just(ReasonCode::SUCCESS).boxed()
    };
    (packet_id(), code, props(v, ctx(pt)))
        .prop_map(move |(packet_id, reason_code, properties)| match pt {
            PacketType::PubAck => Packet::PubAck(PubAck {
                packet_id,
                reason_code,
                properties,
            }),
            PacketType::PubRec => Packet::PubRec(PubRec {
                packet_id,
                reason_code,
                properties,
            }),
            PacketType::PubRel => Packet::PubRel(PubRel {
                packet_id,
                reason_code,
                properties,
            }),
            _ => Packet::PubComp(PubComp {
                packet_id,
                reason_code,
                properties,
            }),
        })
        .boxed()
}

fn subscription(v: ProtocolVersion) -> BoxedStrategy<Subscription> {
    if !v.is_v5() {
        return (topic_filter(), qos())
            .prop_map(|(f, q)| Subscription::new(f, q))
            .boxed();
    }
    let rh = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNewSubscription),
        Just(RetainHandling::DoNotSend)
    ];
    (
        prop_oneof![3 => topic_filter(), 1 => shared_filter()],
        qos(),
        any::<bool>(),
        any::<bool>(),
        rh,
    )
        .prop_map(|(filter, qos, no_local, rap, retain_handling)| {
            // [MQTT-3.8.3-4]: no No Local on a shared subscription.
            let shared = filter.starts_with("$share/");
            Subscription {
                filter,
                options: SubscriptionOptions {
                    qos,
                    no_local: no_local && !shared,
                    retain_as_published: rap,
                    retain_handling,
                },
            }
        })
        .boxed()
}

fn subscribe(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    (
        packet_id(),
        vec(subscription(v), 1..4),
        props(v, ctx(PacketType::Subscribe)),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
        .boxed()
}

fn suback(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    (
        packet_id(),
        vec(codes(PacketType::SubAck, v), 1..5),
        props(v, ctx(PacketType::SubAck)),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
        .boxed()
}

fn unsubscribe(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let filter = if v.is_v5() {
        prop_oneof![3 => topic_filter(), 1 => shared_filter()].boxed()
    } else {
        topic_filter().boxed()
    };
    (
        packet_id(),
        vec(filter, 1..4),
        props(v, ctx(PacketType::Unsubscribe)),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
        .boxed()
}

fn unsuback(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let codes = if v.is_v5() {
        vec(codes(PacketType::UnsubAck, v), 1..5).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), codes, props(v, ctx(PacketType::UnsubAck)))
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
        .boxed()
}

fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    if !v.is_v5() {
        return Just(Packet::Disconnect(Disconnect::default())).boxed();
    }
    (
        codes(PacketType::Disconnect, v),
        props(v, ctx(PacketType::Disconnect)),
    )
        .prop_map(|(reason_code, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        })
        .boxed()
}

fn auth() -> BoxedStrategy<Packet> {
    (
        codes(PacketType::Auth, V5),
        props(V5, ctx(PacketType::Auth)),
    )
        .prop_map(|(reason_code, mut properties)| {
            // 3.15.2.2.2: the method is required (except in the empty Success form).
            if reason_code != ReasonCode::SUCCESS && properties.authentication_method.is_none() {
                properties.authentication_method = Some(ByteStr::from("SCRAM-SHA-1"));
            }
            Packet::Auth(Auth {
                reason_code,
                properties,
            })
        })
        .boxed()
}

/// Any valid packet of version `v`: 14 types in 3.1.1, 15 in 5.0.
fn any_packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut arms = vec![
        connect(v),
        connack(v),
        publish(v),
        ack(v, PacketType::PubAck),
        ack(v, PacketType::PubRec),
        ack(v, PacketType::PubRel),
        ack(v, PacketType::PubComp),
        subscribe(v),
        suback(v),
        unsubscribe(v),
        unsuback(v),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(v),
    ];
    if v.is_v5() {
        arms.push(auth());
    }
    proptest::strategy::Union::new(arms).boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(V3), Just(V5)]
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| any_packet(v).prop_map(move |p| (v, p)))
}

// ---------------------------------------------------------------------------------------
// Properties.

/// Decodes `bytes` every way the API allows and checks that whatever decodes re-encodes
/// and decodes to the same packet. Never panics on its own.
fn decode_every_way(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = peek_protocol_version(bytes);
    for v in [ProtocolVersion::V3_1, V3, V5] {
        for from in [None, Some(Side::Client), Some(Side::Server)] {
            for limits in [Limits::default(), Limits::with_max_packet_size(64)] {
                let _ = parse_fixed_header(bytes, v, &limits, from);
                let r = common::dec_with(bytes, v, &limits, from);
                let shared = Bytes::copy_from_slice(bytes);
                let r2 = decode_bytes(&shared, v, &limits, from);
                prop_assert_eq!(
                    r.clone(),
                    r2.clone().map(|o| o.map(|(p, _)| p)),
                    "decode and decode_bytes differ"
                );
                if let Ok(Some(p)) = r {
                    let again = p.to_bytes(v).map_err(|e| {
                        TestCaseError::fail(format!(
                            "the encoder refuses what the decoder accepted ({v}, {from:?}): {e}\n{bytes:02x?}\n{p:?}"
                        ))
                    })?;
                    prop_assert_eq!(
                        dec(&again, v, from),
                        Ok(Some(p.clone())),
                        "re-encoded {:02x?}",
                        &again[..]
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_packets_round_trip((v, p) in versioned_packet()) {
        let bytes = p.to_bytes(v).map_err(|e| TestCaseError::fail(format!("encoder refused a valid packet: {e}\n{p:?}")))?;
        prop_assert_eq!(p.encoded_len(v).ok(), Some(bytes.len()));
        prop_assert_eq!(dec(&bytes, v, None), Ok(Some(p.clone())));
        let (back, used) = decode_bytes(&bytes, v, &Limits::default(), None).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&back, &p);
        // Decoding as the only side that may send the type gives the same packet.
        if let Some(side) = p.packet_type().sender(v) {
            prop_assert_eq!(dec(&bytes, v, Some(side)), Ok(Some(p.clone())));
        }
        // Re-encoding the decoded packet is byte-identical.
        let mut again = BytesMut::new();
        back.encode(v, &mut again).unwrap();
        prop_assert_eq!(&again[..], &bytes[..]);
        // Exactly at the size limit it passes; one byte below it is refused.
        let n = bytes.len() as u32;
        prop_assert!(common::dec_with(&bytes, v, &Limits::with_max_packet_size(n), None).is_ok());
        prop_assert!(common::dec_with(&bytes, v, &Limits::with_max_packet_size(n - 1), None).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        decode_every_way(&bytes)?;
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        first in any::<u8>(),
        body in vec(any::<u8>(), 0..120),
    ) {
        // A true Remaining Length, so the body is actually parsed.
        let mut bytes = vec![first];
        let mut n = body.len();
        loop {
            let mut b = (n % 128) as u8;
            n /= 128;
            if n > 0 { b |= 0x80; }
            bytes.push(b);
            if n == 0 { break; }
        }
        bytes.extend_from_slice(&body);
        decode_every_way(&bytes)?;
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        (v, p) in versioned_packet(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        let mut bytes = p.to_bytes(v).unwrap().to_vec();
        for (i, b) in &edits {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        decode_every_way(&bytes)?;
        // A truncated copy too.
        let n = cut.index(bytes.len() + 1);
        decode_every_way(&bytes[..n])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_stream_decodes_the_same_whatever_the_chunks(
        (v, packets) in version().prop_flat_map(|v| vec(any_packet(v), 1..8).prop_map(move |ps| (v, ps))),
        chunks in vec(1usize..40, 1..64),
    ) {
        let mut stream = Vec::new();
        for p in &packets {
            stream.extend_from_slice(&p.to_bytes(v).unwrap());
        }
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut sizes = chunks.iter().cycle();
        while pos < stream.len() {
            let n = (*sizes.next().unwrap()).min(stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            while let Some(p) = decode(&mut buf, v, &Limits::default(), None)
                .map_err(|e| TestCaseError::fail(format!("error on a valid stream: {e}")))?
            {
                got.push(p);
            }
        }
        prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
        prop_assert_eq!(got, packets);
    }
}

#[test]
fn the_strategies_cover_every_packet_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    for (v, expected) in [(V3, 14), (V5, 15)] {
        let mut runner = TestRunner::deterministic();
        let s = any_packet(v);
        let mut types = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let p = s.new_tree(&mut runner).unwrap().current();
            types.insert(p.packet_type() as u8);
        }
        assert_eq!(types.len(), expected, "{v}: {types:?}");
    }
}
