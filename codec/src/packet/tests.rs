//! Unit tests of decode/encode over hand-written bytes (the large corpus lives in tests/).

use bytes::{Bytes, BytesMut};

use crate::raw::{RawPacket, RawProperty, RemainingLength};
use crate::*;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V3: ProtocolVersion = ProtocolVersion::V3_1_1;

fn dec(
    bytes: &[u8],
    v: ProtocolVersion,
    from: Option<Side>,
) -> Result<Option<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let before = buf.clone();
    let r = decode(&mut buf, v, &Limits::default(), from);
    match &r {
        Ok(Some(_)) => {
            let h = parse_fixed_header(&before, v, &Limits::default(), from)
                .unwrap()
                .unwrap();
            assert_eq!(
                buf.len(),
                before.len() - h.packet_len(),
                "consumed one packet"
            );
        }
        _ => assert_eq!(buf, before, "buffer untouched"),
    }
    r
}

fn ok(bytes: &[u8], v: ProtocolVersion) -> Packet {
    match dec(bytes, v, None) {
        Ok(Some(p)) => p,
        other => panic!("expected a packet from {bytes:02x?}, got {other:?}"),
    }
}

fn err(bytes: &[u8], v: ProtocolVersion, from: Option<Side>) -> DecodeError {
    match dec(bytes, v, from) {
        Err(e) => e,
        other => panic!("expected an error from {bytes:02x?}, got {other:?}"),
    }
}

fn ids(e: &DecodeError) -> Vec<&'static str> {
    e.statements().iter().map(|s| s.as_str()).collect()
}

fn round_trip(p: &Packet, v: ProtocolVersion) -> Bytes {
    let bytes = p.to_bytes(v).expect("encodes");
    assert_eq!(p.encoded_len(v).unwrap(), bytes.len());
    assert_eq!(&ok(&bytes, v), p, "round trip of {bytes:02x?}");
    bytes
}

#[test]
fn short_forms_are_valid_in_v5() {
    assert_eq!(
        ok(&[0xe0, 0x00], V5),
        Packet::Disconnect(Disconnect::default())
    );
    assert_eq!(ok(&[0xf0, 0x00], V5), Packet::Auth(Auth::default()));
    let Packet::Disconnect(d) = ok(&[0xe0, 0x01, 0x8e], V5) else {
        panic!()
    };
    assert_eq!(d.reason_code, ReasonCode::SESSION_TAKEN_OVER);
    let Packet::PubAck(a) = ok(&[0x40, 0x02, 0x00, 0x07], V5) else {
        panic!()
    };
    assert_eq!((a.packet_id, a.reason_code), (7, ReasonCode::SUCCESS));
    let Packet::PubRec(a) = ok(&[0x50, 0x03, 0x00, 0x07, 0x10], V5) else {
        panic!()
    };
    assert_eq!(a.reason_code, ReasonCode::NO_MATCHING_SUBSCRIBERS);
    let Packet::PubComp(a) = ok(&[0x70, 0x04, 0x00, 0x07, 0x92, 0x00], V5) else {
        panic!()
    };
    assert_eq!(a.reason_code, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
}

#[test]
fn short_forms_are_written() {
    assert_eq!(
        &round_trip(&Packet::Disconnect(Disconnect::default()), V5)[..],
        &[0xe0, 0]
    );
    assert_eq!(
        &round_trip(&Packet::Disconnect(Disconnect::new(ReasonCode(0x8e))), V5)[..],
        &[0xe0, 1, 0x8e]
    );
    assert_eq!(
        &round_trip(&Packet::Auth(Auth::default()), V5)[..],
        &[0xf0, 0]
    );
    assert_eq!(
        &round_trip(&Packet::PubRel(PubRel::new(9)), V5)[..],
        &[0x62, 2, 0, 9]
    );
    assert_eq!(
        &round_trip(
            &Packet::PubRel(PubRel::with_reason(9, ReasonCode(0x92))),
            V5
        )[..],
        &[0x62, 3, 0, 9, 0x92]
    );
}

#[test]
fn incomplete_is_none() {
    let p = Packet::Publish(Publish::new("a/b", "payload"));
    let bytes = p.to_bytes(V3).unwrap();
    for n in 0..bytes.len() {
        assert_eq!(dec(&bytes[..n], V3, None), Ok(None), "prefix {n}");
    }
    assert_eq!(ok(&bytes, V3), p);
}

#[test]
fn huge_claim_fails_from_the_fixed_header() {
    let limits = Limits::with_max_packet_size(1024);
    let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0x7f][..]);
    let e = decode(&mut buf, V5, &limits, None).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::PacketTooLarge {
            size: 268_435_460,
            max: 1024
        }
    );
    assert_eq!(e.reason_code(), ReasonCode::PACKET_TOO_LARGE);
    let e = err(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], V5, None);
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::RemainingLengthTooLong, 4)
    );
}

#[test]
fn reserved_flags() {
    let e = err(&[0x61, 0x02, 0x00, 0x01], V5, None);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidFixedHeaderFlags {
            packet: PacketType::PubRel,
            flags: 1,
            expected: 2
        }
    );
    assert_eq!(ids(&e), ["MQTT-2.1.3-1", "MQTT-3.6.1-1"]);
    assert_eq!(
        e.to_string(),
        "malformed packet at byte 0: reserved flags 0b0001 on PUBREL must be 0b0010 \
         [MQTT-2.1.3-1] [MQTT-3.6.1-1]; answer with 0x81 Malformed Packet"
    );
    let e = err(&[0x80, 0x06, 0, 1, 0, 1, b'a', 0], V3, None);
    assert_eq!(ids(&e), ["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.8.1-1"]);
    assert_eq!(e.response(), ErrorResponse::Close);
    assert_eq!(err(&[0xa0, 0x05, 0, 1, 0, 1, b'a'], V5, None).offset, 0);
    assert_eq!(
        err(&[0xc1, 0x00], V5, None).reason_code(),
        ReasonCode::MALFORMED_PACKET
    );
    assert!(matches!(
        err(&[0x00, 0x00], V5, None).kind,
        DecodeErrorKind::ReservedPacketType { .. }
    ));
    assert!(matches!(
        err(&[0xf0, 0x00], V3, None).kind,
        DecodeErrorKind::ReservedPacketType { .. }
    ));
}

#[test]
fn publish_rules() {
    assert_eq!(
        err(&[0x36, 0x05, 0, 1, b'a', 0, 1], V5, None).kind,
        DecodeErrorKind::PublishQos3
    );
    assert_eq!(
        ids(&err(&[0x38, 0x03, 0, 1, b'a'], V3, None)),
        ["MQTT-3.3.1-2"]
    );
    let e = err(&[0x30, 0x04, 0, 2, b'a', b'+'], V3, None);
    assert_eq!((e.kind, e.offset), (DecodeErrorKind::TopicNameWildcard, 5));
    let e = err(&[0x30, 0x05, 0, 2, b'a', b'#', 0], V5, None);
    assert_eq!(e.kind, DecodeErrorKind::TopicNameWildcard);
    let e = err(&[0x30, 0x04, 0, 2, b'a', 0], V3, None);
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::NullCharacterInTopic, 5)
    );
    assert_eq!(ids(&e), ["MQTT-1.5.3-2", "MQTT-4.7.3-2"]);
    let e = err(&[0x32, 0x05, 0, 1, b'a', 0, 0], V3, None);
    assert_eq!(
        e.kind,
        DecodeErrorKind::PacketIdZero {
            packet: PacketType::Publish
        }
    );
    assert_eq!(ids(&e), ["MQTT-2.3.1-1"]);
    // Empty topic: error in 3.1.1, and in 5.0 without a Topic Alias.
    assert_eq!(
        err(&[0x30, 0x02, 0, 0], V3, None).kind,
        DecodeErrorKind::EmptyTopicName
    );
    assert_eq!(
        err(&[0x30, 0x03, 0, 0, 0], V5, None).kind,
        DecodeErrorKind::EmptyTopicName
    );
    let Packet::Publish(p) = ok(&[0x30, 0x06, 0, 0, 3, 0x23, 0, 5], V5) else {
        panic!()
    };
    assert_eq!(p.properties.topic_alias, Some(5));
    // Topic Alias 0.
    let e = err(&[0x30, 0x07, 0, 1, b'a', 3, 0x23, 0, 0], V5, None);
    assert_eq!(
        (e.kind, e.reason_code()),
        (DecodeErrorKind::TopicAliasZero, ReasonCode(0x94))
    );
    // Subscription Identifier from a client; repeated ones from the server are fine.
    let bytes = [0x30, 0x09, 0, 1, b'a', 4, 0x0b, 1, 0x0b, 2, b'x'];
    assert_eq!(
        err(&bytes, V5, Some(Side::Client)).kind,
        DecodeErrorKind::SubscriptionIdentifierFromClient
    );
    let Some(Packet::Publish(p)) = dec(&bytes, V5, Some(Side::Server)).unwrap() else {
        panic!()
    };
    assert_eq!(p.properties.subscription_identifiers, [1, 2]);
    assert_eq!(&p.payload[..], b"x");
}

#[test]
fn publish_is_zero_copy() {
    let bytes = Packet::Publish(Publish::new("t", "hello"))
        .to_bytes(V3)
        .unwrap();
    let (p, n) = decode_bytes(&bytes, V3, &Limits::default(), None)
        .unwrap()
        .unwrap();
    assert_eq!(n, bytes.len());
    let Packet::Publish(p) = p else { panic!() };
    assert_eq!(p.payload.as_ptr(), bytes[5..].as_ptr());
    assert_eq!(p.topic.as_bytes().as_ptr(), bytes[4..].as_ptr());
}

#[test]
fn property_rules() {
    // PUBACK with a property PUBACK may not carry (Topic Alias).
    let e = err(&[0x40, 0x07, 0, 1, 0, 3, 0x23, 0, 1], V5, None);
    assert_eq!(
        (e.kind, e.offset),
        (
            DecodeErrorKind::PropertyNotAllowed {
                id: PropertyId::TOPIC_ALIAS,
                packet: PacketType::PubAck
            },
            6
        )
    );
    // Reason String twice.
    let e = err(&[0x40, 0x0a, 0, 1, 0, 6, 0x1f, 0, 0, 0x1f, 0, 0], V5, None);
    assert_eq!(
        e.kind,
        DecodeErrorKind::DuplicateProperty {
            id: PropertyId::REASON_STRING
        }
    );
    assert_eq!(e.reason_code(), ReasonCode::PROTOCOL_ERROR);
    // Unknown property, property length overrunning the packet.
    assert!(matches!(
        err(&[0x40, 0x06, 0, 1, 0, 2, 0x7f, 0], V5, None).kind,
        DecodeErrorKind::UnknownProperty { id: 0x7f }
    ));
    assert_eq!(
        err(&[0x40, 0x05, 0, 1, 0, 9, 0x1f], V5, None).kind,
        DecodeErrorKind::PropertyLengthMismatch
    );
    // Payload Format Indicator 2.
    let e = err(&[0x30, 0x06, 0, 1, b'a', 2, 0x01, 2], V5, None);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidPropertyValue {
            id: PropertyId::PAYLOAD_FORMAT_INDICATOR,
            value: 2
        }
    );
    // Session Expiry Interval in a server's DISCONNECT.
    let d = [0xe0, 0x07, 0x00, 5, 0x11, 0, 0, 0, 1];
    assert_eq!(
        err(&d, V5, Some(Side::Server)).kind,
        DecodeErrorKind::SessionExpiryFromServer
    );
    assert!(dec(&d, V5, Some(Side::Client)).unwrap().is_some());
}

#[test]
fn sender_rules() {
    let e = err(&[0xe0, 0x01, 0x8e], V5, Some(Side::Client));
    assert!(matches!(
        e.kind,
        DecodeErrorKind::ReasonCodeWrongSender { .. }
    ));
    assert_eq!(ids(&e), ["MQTT-3.14.2-1"]);
    assert!(matches!(
        err(&[0xc0, 0x00], V5, Some(Side::Server)).kind,
        DecodeErrorKind::WrongSender { .. }
    ));
    assert!(matches!(
        err(&[0x20, 0x02, 0, 0], V5, Some(Side::Client)).kind,
        DecodeErrorKind::WrongSender { .. }
    ));
    assert!(matches!(
        err(&[0xe0, 0x00], V3, Some(Side::Server)).kind,
        DecodeErrorKind::WrongSender { .. }
    ));
    assert!(matches!(
        err(&[0x40, 0x03, 0, 1, 0x04], V5, None).kind,
        DecodeErrorKind::ReasonCodeNotAllowed { .. }
    ));
}

#[test]
fn trailing_bytes_and_truncation() {
    let e = err(&[0x40, 0x03, 0, 1, 0], V3, None);
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::TrailingBytes { count: 1 }, 4)
    );
    assert_eq!(
        err(&[0xc0, 0x01, 0], V5, None).kind,
        DecodeErrorKind::TrailingBytes { count: 1 }
    );
    assert!(matches!(
        err(&[0x40, 0x01, 0], V5, None).kind,
        DecodeErrorKind::Truncated { needed: 1 }
    ));
    assert!(matches!(
        err(&[0xf0, 0x01, 0x18], V5, None).kind,
        DecodeErrorKind::Truncated { .. }
    ));
    // Non-minimal remaining length: 5.0 refuses, 3.1.1 accepts.
    assert_eq!(
        err(&[0xc0, 0x80, 0x00], V5, None).kind,
        DecodeErrorKind::NonMinimalVarInt
    );
    assert_eq!(ok(&[0xc0, 0x80, 0x00], V3), Packet::PingReq);
}

fn connect_bytes(name: &[u8], level: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut body = vec![0, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0, 60]);
    body.extend_from_slice(rest);
    let mut out = vec![0x10, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn connect_rules() {
    // Decoded by its own level whatever the caller says.
    let Packet::Connect(c) = ok(&connect_bytes(b"MQTT", 5, 2, &[0, 0, 1, b'c']), V3) else {
        panic!()
    };
    assert_eq!((c.protocol, c.client_id.as_ref()), (V5, "c"));
    let Packet::Connect(c) = ok(&connect_bytes(b"MQIsdp", 3, 2, &[0, 1, b'c']), V5) else {
        panic!()
    };
    assert_eq!(c.protocol, ProtocolVersion::V3_1);
    let e = err(&connect_bytes(b"MQTT", 6, 2, &[0, 1, b'c']), V3, None);
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::UnsupportedProtocolLevel { level: 6 }, 8)
    );
    assert_eq!(e.response(), ErrorResponse::ConnAckReturnCode(1));
    let e = err(&connect_bytes(b"MQTT", 6, 2, &[0, 1, b'c']), V5, None);
    assert_eq!(e.response(), ErrorResponse::ReasonCode(ReasonCode(0x84)));
    assert_eq!(
        err(&connect_bytes(b"MQTX", 4, 2, &[0, 1, b'c']), V3, None).kind,
        DecodeErrorKind::InvalidProtocolName
    );
    assert_eq!(
        err(&connect_bytes(b"MQTT", 4, 3, &[0, 1, b'c']), V3, None).kind,
        DecodeErrorKind::ConnectReservedFlag
    );
    assert_eq!(
        err(&connect_bytes(b"MQTT", 4, 0x08, &[0, 1, b'c']), V3, None).kind,
        DecodeErrorKind::WillQosWithoutWill
    );
    assert_eq!(
        err(&connect_bytes(b"MQTT", 4, 0x20, &[0, 1, b'c']), V3, None).kind,
        DecodeErrorKind::WillRetainWithoutWill
    );
    assert_eq!(
        err(&connect_bytes(b"MQTT", 4, 0x1c, &[0, 1, b'c']), V3, None).kind,
        DecodeErrorKind::WillQos3
    );
    // Password without user name: an error in 3.1.1 only.
    let e = err(
        &connect_bytes(b"MQTT", 4, 0x40, &[0, 1, b'c', 0, 1, b'p']),
        V3,
        None,
    );
    assert_eq!(ids(&e), ["MQTT-3.1.2-22"]);
    let Packet::Connect(c) = ok(
        &connect_bytes(b"MQTT", 5, 0x40, &[0, 0, 1, b'c', 0, 1, b'p']),
        V5,
    ) else {
        panic!()
    };
    assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(
        peek_protocol_version(&connect_bytes(b"MQTT", 5, 2, &[])[..9]),
        Ok(Some(V5))
    );
    assert_eq!(peek_protocol_version(&[0x10, 0x10, 0, 4, b'M']), Ok(None));
    assert!(peek_protocol_version(&[0x30, 0x00]).is_err());
}

#[test]
fn subscribe_rules() {
    let sub = |v, opts: u8, filter: &[u8]| {
        let mut b = vec![0x82, 0, 0, 1];
        if v == V5 {
            b.push(0);
        }
        b.extend_from_slice(&[0, filter.len() as u8]);
        b.extend_from_slice(filter);
        b.push(opts);
        b[1] = (b.len() - 2) as u8;
        b
    };
    assert!(matches!(
        ok(&sub(V5, 0x2d, b"a/+"), V5),
        Packet::Subscribe(_)
    ));
    assert_eq!(
        err(&sub(V3, 0x04, b"a"), V3, None).kind,
        DecodeErrorKind::SubscriptionOptionsReserved { options: 4 }
    );
    assert_eq!(
        err(&sub(V5, 0x40, b"a"), V5, None).kind,
        DecodeErrorKind::SubscriptionOptionsReserved { options: 0x40 }
    );
    assert_eq!(
        err(&sub(V5, 0x03, b"a"), V5, None).kind,
        DecodeErrorKind::SubscriptionQos3
    );
    assert_eq!(
        err(&sub(V5, 0x30, b"a"), V5, None).kind,
        DecodeErrorKind::RetainHandling3
    );
    assert_eq!(
        err(&sub(V5, 0x00, b"a/#/b"), V5, None).kind,
        DecodeErrorKind::InvalidTopicFilter
    );
    assert_eq!(
        err(&sub(V3, 0x00, b"a+"), V3, None).kind,
        DecodeErrorKind::InvalidTopicFilter
    );
    assert_eq!(
        err(&sub(V5, 0x00, b"$share/a+/b"), V5, None).kind,
        DecodeErrorKind::InvalidSharedSubscription
    );
    assert_eq!(
        err(&sub(V5, 0x04, b"$share/g/b"), V5, None).kind,
        DecodeErrorKind::NoLocalOnSharedSubscription
    );
    // 3.1.1 has no shared subscriptions: "$share/..." is an ordinary filter there.
    assert!(matches!(
        ok(&sub(V3, 0x00, b"$share//b"), V3),
        Packet::Subscribe(_)
    ));
    assert_eq!(
        err(&sub(V5, 0x00, b"$share//b"), V5, None).kind,
        DecodeErrorKind::InvalidSharedSubscription
    );
    let e = err(&[0x82, 0x02, 0, 1], V3, None);
    assert_eq!(ids(&e), ["MQTT-3.8.3-3"]);
    let e = err(&[0xa2, 0x03, 0, 1, 0], V5, None);
    assert_eq!(ids(&e), ["MQTT-3.10.3-2"]);
    assert!(matches!(
        err(&[0x90, 0x03, 0, 1, 3], V3, None).kind,
        DecodeErrorKind::ReasonCodeNotAllowed { .. }
    ));
}

#[test]
fn encoder_refuses_forbidden_values() {
    let mut p = Publish::new("a/+", "x");
    assert_eq!(
        Packet::Publish(p.clone()).to_bytes(V5).unwrap_err().kind,
        DecodeErrorKind::TopicNameWildcard
    );
    p.topic = "a".into();
    p.qos = QoS::AtLeastOnce;
    assert_eq!(
        Packet::Publish(p.clone()).to_bytes(V5).unwrap_err().kind,
        DecodeErrorKind::PacketIdZero {
            packet: PacketType::Publish
        }
    );
    p.packet_id = 1;
    p.properties.topic_alias = Some(0);
    assert_eq!(
        Packet::Publish(p.clone()).to_bytes(V5).unwrap_err().kind,
        DecodeErrorKind::TopicAliasZero
    );
    p.properties.topic_alias = Some(1);
    assert_eq!(
        Packet::Publish(p.clone()).to_bytes(V3).unwrap_err().kind,
        DecodeErrorKind::PropertiesInV3
    );
    p.properties.receive_maximum = Some(5);
    assert!(matches!(
        Packet::Publish(p.clone()).to_bytes(V5).unwrap_err().kind,
        DecodeErrorKind::PropertyNotAllowed { .. }
    ));
    assert!(Packet::Auth(Auth::default()).to_bytes(V3).is_err());
    assert!(Packet::Subscribe(Subscribe {
        packet_id: 1,
        ..Default::default()
    })
    .to_bytes(V3)
    .is_err());
    // The unchecked path writes it anyway.
    let mut buf = BytesMut::new();
    Packet::Publish(p).encode_unchecked(V5, &mut buf);
    assert!(decode(&mut buf, V5, &Limits::default(), None).is_err());
}

/// The checked encoder names the same fault, with the same statements, as the decoder: the
/// ids depend on the field that holds the string, not on the packet.
#[test]
fn encoder_faults_name_the_field() {
    let sids = |e: EncodeError| -> Vec<&'static str> {
        e.statements().iter().map(|s| s.as_str()).collect()
    };
    // U+0000 in a string that is not a topic: the string rule only.
    let mut p = Publish::new("a", "x");
    p.properties.content_type = Some("t\0".into());
    let e = Packet::Publish(p.clone()).to_bytes(V5).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::NullCharacter);
    assert_eq!(sids(e), ["MQTT-1.5.4-2"]);
    // In the Response Topic (a topic name): the topic rule too [MQTT-4.7.3-2].
    p.properties.content_type = None;
    p.properties.response_topic = Some("r\0".into());
    let e = Packet::Publish(p.clone()).to_bytes(V5).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::NullCharacterInTopic);
    assert_eq!(sids(e), ["MQTT-1.5.4-2", "MQTT-4.7.3-2"]);
    p.properties.response_topic = Some("".into());
    let e = Packet::Publish(p.clone()).to_bytes(V5).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::EmptyResponseTopic);
    assert_eq!(sids(e), ["MQTT-4.7.3-1"]);
    p.properties.response_topic = Some("r/#".into());
    let e = Packet::Publish(p).to_bytes(V5).unwrap_err();
    assert_eq!(sids(e), ["MQTT-3.3.2-14"]);
    // A long Response Topic is a length fault, not a wildcard.
    let mut p = Publish::new("a", "x");
    p.properties.response_topic = Some("r".repeat(70_000).into());
    let e = Packet::Publish(p).to_bytes(V5).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::StringTooLong);
    // The Will Topic: the topic rules, not the PUBLISH topic rule [MQTT-3.3.2-2].
    for (v, wild) in [(V3, "MQTT-4.7.1-1"), (V5, "MQTT-4.7.0-1")] {
        let mut c = Connect::new(v, "c");
        c.will = Some(Will {
            topic: "a/+".into(),
            ..Default::default()
        });
        let e = Packet::Connect(Box::new(c.clone()))
            .to_bytes(v)
            .unwrap_err();
        assert_eq!(sids(e), [wild], "{v}");
        c.will = Some(Will {
            topic: "a\0".into(),
            ..Default::default()
        });
        let e = Packet::Connect(Box::new(c)).to_bytes(v).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::NullCharacterInTopic, "{v}");
        // The client identifier is not a topic.
        let c = Connect::new(v, "c\0");
        let e = Packet::Connect(Box::new(c)).to_bytes(v).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::NullCharacter, "{v}");
    }
    // Topic filters: empty [MQTT-4.7.3-1], U+0000 [MQTT-4.7.3-2].
    for v in [V3, V5] {
        for (filter, kind) in [
            ("", DecodeErrorKind::EmptyTopicFilter),
            ("a\0", DecodeErrorKind::NullCharacterInTopic),
        ] {
            let s = Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![Subscription::new(filter, QoS::AtMostOnce)],
                properties: Props::none(),
            });
            assert_eq!(s.to_bytes(v).unwrap_err().kind, kind, "{v} {filter:?}");
            let u = Packet::Unsubscribe(Unsubscribe {
                packet_id: 1,
                filters: vec![filter.into()],
                properties: Props::none(),
            });
            let e = u.to_bytes(v).unwrap_err();
            assert_eq!(e.kind, kind, "{v} {filter:?}");
            assert!(sids(e).iter().any(|s| s.starts_with("MQTT-4.7.3-")));
        }
    }
}

#[test]
fn connect_fields_missing_for_their_flags() {
    // Each flag with the payload ending where its field should start; then the same field
    // cut short, which stays a plain truncation.
    for (v, user, pass) in [
        (V3, "MQTT-3.1.2-19", "MQTT-3.1.2-21"),
        (V5, "MQTT-3.1.2-17", "MQTT-3.1.2-19"),
    ] {
        let props: &[u8] = if v.is_v5() { &[0] } else { &[] };
        let level = v.level();
        let with = |flags: u8, tail: &[u8]| {
            let mut rest = props.to_vec();
            rest.extend_from_slice(&[0, 1, b'c']);
            rest.extend_from_slice(tail);
            connect_bytes(b"MQTT", level, flags, &rest)
        };
        let e = err(&with(0x82, &[]), v, None);
        assert_eq!(e.kind, DecodeErrorKind::MissingUserName);
        assert_eq!(
            (ids(&e), e.reason_code()),
            (vec![user], ReasonCode::MALFORMED_PACKET)
        );
        let e = err(&with(0xc2, &[0, 1, b'u']), v, None);
        assert_eq!(e.kind, DecodeErrorKind::MissingPassword);
        assert_eq!(ids(&e), [pass]);
        let e = err(&with(0x06, &[]), v, None);
        assert_eq!(
            (e.kind, ids(&e)),
            (DecodeErrorKind::MissingWill, vec!["MQTT-3.1.2-9"])
        );
        let e = err(&with(0x82, &[0, 4, b'u']), v, None);
        assert!(
            matches!(e.kind, DecodeErrorKind::Truncated { needed: 3 }),
            "{e:?}"
        );
        assert!(ids(&e).is_empty());
    }
}

#[test]
fn round_trips() {
    let mut c = Connect::new(V5, "client-1");
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"p"));
    c.properties.receive_maximum = Some(10);
    c.properties.user_properties.push(("k".into(), "v".into()));
    c.will = Some(Will {
        topic: "will/t".into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties {
            will_delay_interval: Some(5),
            ..Default::default()
        }
        .into(),
    });
    round_trip(&Packet::Connect(Box::new(c.clone())), V5);
    c.protocol = V3;
    c.properties = Props::none();
    if let Some(w) = &mut c.will {
        w.properties = Props::none();
    }
    round_trip(&Packet::Connect(Box::new(c)), V3);
    let mut ca = ConnAck::new(ReasonCode::SUCCESS);
    ca.session_present = true;
    ca.properties.maximum_qos = Some(QoS::AtLeastOnce);
    ca.properties.assigned_client_identifier = Some("x".into());
    round_trip(&Packet::ConnAck(ca), V5);
    let mut p = Publish::new("a/b", "payload");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = 42;
    p.dup = true;
    p.retain = true;
    round_trip(&Packet::Publish(p.clone()), V3);
    p.properties.correlation_data = Some(Bytes::from_static(b"\x00\x01"));
    p.properties.response_topic = Some("r".into());
    round_trip(&Packet::Publish(p), V5);
    let s = Subscribe {
        packet_id: 3,
        filters: vec![
            Subscription::new("a/#", QoS::AtLeastOnce),
            Subscription::new("+/b", QoS::ExactlyOnce),
        ],
        properties: Props::none(),
    };
    round_trip(&Packet::Subscribe(s.clone()), V3);
    round_trip(&Packet::Subscribe(s), V5);
    round_trip(
        &Packet::SubAck(SubAck {
            packet_id: 3,
            reason_codes: vec![ReasonCode(1), ReasonCode(0x80)],
            properties: Props::none(),
        }),
        V3,
    );
    round_trip(
        &Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: vec!["a/#".into()],
            properties: Props::none(),
        }),
        V5,
    );
    round_trip(
        &Packet::UnsubAck(UnsubAck {
            packet_id: 4,
            reason_codes: vec![],
            properties: Props::none(),
        }),
        V3,
    );
    round_trip(
        &Packet::UnsubAck(UnsubAck {
            packet_id: 4,
            reason_codes: vec![ReasonCode(0x11)],
            properties: Props::none(),
        }),
        V5,
    );
    round_trip(&Packet::PingReq, V3);
    round_trip(&Packet::PingResp, V5);
    let mut a = Auth {
        reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
        properties: Props::none(),
    };
    a.properties.authentication_method = Some("SCRAM-SHA-256".into());
    a.properties.authentication_data = Some(Bytes::from_static(b"abc"));
    round_trip(&Packet::Auth(a), V5);
}

#[test]
fn raw_builder() {
    let b = RawPacket::new(0xc, 0)
        .remaining_length(RemainingLength::Bytes(vec![0x80, 0x80, 0x00]))
        .to_bytes();
    assert_eq!(&b[..], &[0xc0, 0x80, 0x80, 0x00]);
    assert_eq!(err(&b, V5, None).kind, DecodeErrorKind::NonMinimalVarInt);
    let p = Packet::PubAck(PubAck::new(1));
    let b = RawPacket::from_packet_with_properties(
        &p,
        V5,
        &[
            RawProperty::user("a", "b"),
            RawProperty::two(PropertyId::TOPIC_ALIAS, 1),
        ],
    )
    .to_bytes();
    assert!(matches!(
        err(&b, V5, None).kind,
        DecodeErrorKind::PropertyNotAllowed { .. }
    ));
    let mut c = Connect::new(V5, "c");
    c.keep_alive = 7;
    let b = RawPacket::from_packet_with_properties(
        &Packet::Connect(Box::new(c)),
        V5,
        &[RawProperty::two(PropertyId::RECEIVE_MAXIMUM, 0)],
    )
    .to_bytes();
    let e = err(&b, V5, None);
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidPropertyValue {
            id: PropertyId::RECEIVE_MAXIMUM,
            value: 0
        }
    );
}

/// Deterministic mutations of valid packets: decoding never panics, leaves the buffer as the
/// contract says, and whatever it accepts the checked encoder accepts and reproduces.
#[test]
fn mutated_inputs_never_panic_and_accepted_packets_re_encode() {
    let mut seeds: Vec<(Vec<u8>, ProtocolVersion)> = Vec::new();
    let mut p = Publish::new("a/b", "payload");
    p.qos = QoS::AtLeastOnce;
    p.packet_id = 7;
    p.properties.topic_alias = Some(1);
    p.properties.user_properties.push(("k".into(), "v".into()));
    p.properties.correlation_data = Some(Bytes::from_static(b"c"));
    seeds.push((Packet::Publish(p).to_bytes(V5).unwrap().to_vec(), V5));
    seeds.push((
        Packet::Publish(Publish::new("x", "y"))
            .to_bytes(V3)
            .unwrap()
            .to_vec(),
        V3,
    ));
    let mut c = Connect::new(V5, "id");
    c.will = Some(Will {
        topic: "w".into(),
        ..Default::default()
    });
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"p"));
    c.properties.session_expiry_interval = Some(10);
    seeds.push((
        Packet::Connect(Box::new(c)).to_bytes(V5).unwrap().to_vec(),
        V5,
    ));
    let mut ca = ConnAck::new(ReasonCode::SUCCESS);
    ca.properties.maximum_qos = Some(QoS::AtMostOnce);
    ca.properties.server_keep_alive = Some(5);
    seeds.push((Packet::ConnAck(ca).to_bytes(V5).unwrap().to_vec(), V5));
    let s = Subscribe {
        packet_id: 3,
        filters: vec![Subscription::new("a/+", QoS::AtLeastOnce)],
        properties: Props::none(),
    };
    seeds.push((
        Packet::Subscribe(s.clone()).to_bytes(V5).unwrap().to_vec(),
        V5,
    ));
    seeds.push((Packet::Subscribe(s).to_bytes(V3).unwrap().to_vec(), V3));
    seeds.push((vec![0xe0, 0x03, 0x8e, 0x01, 0x26], V5));
    seeds.push((vec![0xf0, 0x05, 0x18, 0x03, 0x15, 0x00, 0x00], V5));
    seeds.push((vec![0x50, 0x04, 0x00, 0x01, 0x80, 0x00], V5));
    seeds.push((vec![0xb0, 0x04, 0x00, 0x01, 0x00, 0x11], V5));

    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for round in 0..20_000 {
        let (seed, v) = &seeds[round % seeds.len()];
        let mut bytes = seed.clone();
        for _ in 0..=(next() % 3) {
            let r = next();
            let i = (r as usize >> 8) % bytes.len();
            match r % 4 {
                0 => bytes[i] = (r >> 32) as u8,
                1 => bytes[i] ^= 1 << ((r >> 40) % 8),
                2 if bytes.len() > 2 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, (r >> 24) as u8),
            }
        }
        let from = match round % 3 {
            0 => None,
            1 => Some(Side::Client),
            _ => Some(Side::Server),
        };
        let version = if round % 5 == 0 { V3 } else { *v };
        let result = dec(&bytes, version, from);
        let frozen = Bytes::from(bytes.clone());
        let by_bytes = decode_bytes(&frozen, version, &Limits::default(), from);
        match (&result, &by_bytes) {
            (Ok(Some(p)), Ok(Some((q, _)))) => {
                assert_eq!(p, q);
                accepted += 1;
                let ev = if let Packet::Connect(c) = p {
                    c.protocol
                } else {
                    version
                };
                let again = p
                    .to_bytes(ev)
                    .unwrap_or_else(|e| panic!("{bytes:02x?} decoded as {p:?} but: {e}"));
                assert_eq!(&ok(&again, ev), p, "re-encoded {again:02x?}");
            }
            (Ok(None), Ok(None)) => {}
            (Err(a), Err(b)) => assert_eq!(a, b),
            other => panic!("decode and decode_bytes disagree on {bytes:02x?}: {other:?}"),
        }
    }
    assert!(accepted > 100, "only {accepted} mutated packets decoded");
}

#[test]
fn checked_publish_encoder_matches_the_unchecked_writer() {
    // Remaining Lengths of one, two and three bytes; both versions; with and without
    // properties; appended after existing bytes.
    for v in [V3, V5] {
        for payload_len in [0usize, 64, 200, 20_000, 3_000_000] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let mut p = Publish {
                    qos,
                    packet_id: if qos == QoS::AtMostOnce { 0 } else { 7 },
                    retain: true,
                    ..Publish::new("é/topic", Bytes::from(vec![3u8; payload_len]))
                };
                if v == V5 && payload_len == 64 {
                    p.properties.content_type = Some("text/plain".into());
                    p.properties.user_properties.push(("k".into(), "v".into()));
                }
                let p = Packet::Publish(p);
                let mut checked = BytesMut::from(&b"xy"[..]);
                p.encode(v, &mut checked).unwrap();
                let mut unchecked = BytesMut::from(&b"xy"[..]);
                p.encode_unchecked(v, &mut unchecked);
                assert_eq!(checked, unchecked, "{v} {payload_len} {qos:?}");
                assert_eq!(p.encoded_len(v).unwrap() + 2, checked.len());
            }
        }
    }
    // A U+0000 is reported before an earlier wildcard, as the decoder does.
    let p = Packet::Publish(Publish::new("a/+/\0", "x"));
    assert_eq!(
        p.to_bytes(V5).unwrap_err().kind,
        DecodeErrorKind::NullCharacterInTopic
    );
    let p = Packet::Publish(Publish::new("a/#", "x"));
    assert_eq!(
        p.to_bytes(V3).unwrap_err().kind,
        DecodeErrorKind::TopicNameWildcard
    );
    // An empty topic needs a Topic Alias, and only 5.0 has one.
    let mut p = Publish::new("", "x");
    p.properties.topic_alias = Some(2);
    assert!(Packet::Publish(p.clone()).to_bytes(V5).is_ok());
    assert_eq!(
        Packet::Publish(p).to_bytes(V3).unwrap_err().kind,
        DecodeErrorKind::EmptyTopicName
    );
    // An allocated but empty property set is no property at all in 3.1.1.
    let mut p = Publish::new("t", "x");
    p.properties.topic_alias = Some(2);
    p.properties.topic_alias = None;
    assert_eq!(
        Packet::Publish(p).to_bytes(V3).unwrap(),
        Bytes::from_static(&[0x30, 0x04, 0, 1, b't', b'x'])
    );
    // Too long for the Remaining Length.
    let big = Packet::Publish(Publish::new(
        "t",
        Bytes::from(vec![0u8; MAX_REMAINING_LENGTH as usize]),
    ));
    let mut buf = BytesMut::new();
    assert_eq!(
        big.encode(V3, &mut buf).unwrap_err().kind,
        DecodeErrorKind::RemainingLengthTooLarge
    );
    assert!(buf.is_empty());
}

/// PUBLISH byte strings around the fast path's conditions: each one alone, and truncated.
fn publish_variants() -> Vec<Vec<u8>> {
    let topics: [&[u8]; 8] = [
        b"a/b",
        b"",
        b"a/+",
        b"#",
        b"a\0b",
        b"\xC0\xAF",
        "é/ü".as_bytes(),
        b"sensors/building-7/floor-3/temp1",
    ];
    let mut out = Vec::new();
    for topic in topics {
        for first in [0x30u8, 0x31, 0x32, 0x34, 0x36, 0x38, 0x3a, 0x3d] {
            for id in [&[][..], &[0, 0][..], &[0, 9][..]] {
                // Nothing, an empty property block, a Topic Alias, a non-minimal empty block.
                for props in [&[][..], &[0][..], &[3, 0x23, 0, 1][..], &[0x80, 0][..]] {
                    let mut body = Vec::new();
                    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                    body.extend_from_slice(topic);
                    body.extend_from_slice(id);
                    body.extend_from_slice(props);
                    body.extend_from_slice(b"payload");
                    let mut p = vec![first, body.len() as u8];
                    p.extend_from_slice(&body);
                    out.push(p.clone());
                    // The same with a two-byte (non-minimal) Remaining Length.
                    let mut long = vec![first, 0x80 | body.len() as u8, 0];
                    long.extend_from_slice(&body);
                    out.push(long);
                }
            }
        }
    }
    out
}

#[test]
fn publish_fast_path_agrees_with_the_general_decoder() {
    let mut fast_hits = 0;
    for bytes in publish_variants() {
        for cut in [bytes.len(), bytes.len() - 1, 3, 1] {
            let input = bytes.get(..cut).unwrap();
            for v in [V3, V5] {
                for limits in [Limits::default(), Limits::with_max_packet_size(8)] {
                    let mut a = BytesMut::from(input);
                    a.extend_from_slice(b"next");
                    let mut b = a.clone();
                    let shared = a.clone().freeze();
                    let fast = decode(&mut a, v, &limits, None);
                    let general = crate::decode_general(&mut b, v, &limits, None);
                    assert_eq!(fast, general, "{v} {input:02x?}");
                    assert_eq!(a, b, "{v} {input:02x?}: buffer after decoding");
                    let borrowed = decode_bytes(&shared, v, &limits, None);
                    assert_eq!(
                        borrowed.map(|o| o.map(|(p, _)| p)),
                        fast,
                        "{v} {input:02x?}: decode_bytes"
                    );
                    let simple = packet::publish::SimpleLayout::find(
                        input,
                        v.is_v5(),
                        limits.max_packet_size,
                    );
                    if simple.is_some() {
                        // Only the topic's bytes are left to check once the layout is found.
                        match &fast {
                            Ok(Some(Packet::Publish(_))) => fast_hits += 1,
                            Err(e) => assert!(
                                matches!(
                                    e.kind,
                                    DecodeErrorKind::InvalidUtf8
                                        | DecodeErrorKind::TopicNameWildcard
                                        | DecodeErrorKind::NullCharacterInTopic
                                ),
                                "{e:?}"
                            ),
                            other => panic!("{other:?}"),
                        }
                    }
                }
            }
        }
    }
    // The fast path is taken for a good share of the inputs.
    assert!(fast_hits > 100, "{fast_hits}");
}

/// The fast path reads topics of 16 to 32 bytes as two overlapping arrays and trusts an
/// ASCII check to skip UTF-8 validation: a forbidden, non-ASCII or ill-formed byte at every
/// position of topics of every length up to 70 must give what the general decoder gives, and
/// Remaining Lengths around the one- and two-byte limits too.
#[test]
fn publish_fast_path_agrees_at_every_topic_length_and_position() {
    let mut cases = 0;
    for len in 1..=70usize {
        let mut topics = vec![vec![b'a'; len]];
        for pos in 0..len {
            for bad in [
                &[0u8][..],
                b"+",
                b"#",
                b"\x80",
                b"\xff",
                "é".as_bytes(),
                b"\xe2\x82",
            ] {
                let mut t = vec![b'a'; len];
                if pos + bad.len() <= len {
                    t[pos..pos + bad.len()].copy_from_slice(bad);
                    topics.push(t);
                }
            }
        }
        for topic in topics {
            assert_eq!(
                crate::wire::find_topic_forbidden(&topic),
                topic.iter().position(|&b| matches!(b, 0 | b'+' | b'#')),
                "{topic:02x?}"
            );
            for payload_len in [0usize, 60, 120, 16_300, 16_400] {
                for v in [V3, V5] {
                    let mut body = Vec::new();
                    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                    body.extend_from_slice(&topic);
                    body.extend_from_slice(&[0, 7]);
                    if v == V5 {
                        body.push(0);
                    }
                    body.resize(body.len() + payload_len, 0x5a);
                    let mut p = vec![0x32];
                    let mut n = body.len();
                    loop {
                        let b = (n & 0x7f) as u8;
                        n >>= 7;
                        p.push(if n > 0 { b | 0x80 } else { b });
                        if n == 0 {
                            break;
                        }
                    }
                    p.extend_from_slice(&body);
                    let mut a = BytesMut::from(&p[..]);
                    let mut b = a.clone();
                    let shared = a.clone().freeze();
                    let fast = decode(&mut a, v, &Limits::default(), None);
                    let general = crate::decode_general(&mut b, v, &Limits::default(), None);
                    assert_eq!(fast, general, "{v} topic {topic:02x?}");
                    assert_eq!(a, b);
                    let borrowed = decode_bytes(&shared, v, &Limits::default(), None);
                    assert_eq!(borrowed.map(|o| o.map(|(p, _)| p)), fast);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 10_000, "{cases}");
}

/// CONNECTs around every check of the CONNECT encoder: each field alone at a good and a bad
/// value, in every protocol version.
fn connect_variants() -> Vec<Connect> {
    let long = ByteStr::from("x".repeat(70_000));
    let mut out = Vec::new();
    for protocol in [ProtocolVersion::V3_1, V3, V5] {
        let base = Connect::new(protocol, "client-1");
        let mut add = |f: &dyn Fn(&mut Connect)| {
            let mut c = base.clone();
            f(&mut c);
            out.push(c);
        };
        add(&|_| {});
        add(&|c| c.client_id = "".into());
        add(&|c| c.client_id = "a\0b".into());
        add(&|c| c.client_id = long.clone());
        add(&|c| {
            c.username = Some("user".into());
            c.password = Some(Bytes::from_static(b"pw"));
        });
        add(&|c| c.password = Some(Bytes::from_static(b"pw")));
        add(&|c| c.password = Some(Bytes::from(vec![1; 70_000])));
        add(&|c| c.username = Some("u\0".into()));
        add(&|c| c.username = Some(long.clone()));
        for topic in ["a/b", "", "a/+", "#", "a\0", "+/\0", "é/ü", &long[..]] {
            for qos in [QoS::AtMostOnce, QoS::ExactlyOnce] {
                add(&|c| {
                    c.will = Some(Will {
                        topic: topic.into(),
                        payload: Bytes::from_static(b"gone"),
                        qos,
                        retain: true,
                        properties: Props::none(),
                    })
                });
            }
        }
        add(&|c| {
            c.will = Some(Will {
                topic: "w".into(),
                payload: Bytes::from(vec![0; 70_000]),
                ..Default::default()
            })
        });
        for (delay, ok_in_will) in [(Some(5), true), (None, false)] {
            add(&|c| {
                let mut w = Will {
                    topic: "w".into(),
                    ..Default::default()
                };
                w.properties.will_delay_interval = delay;
                w.properties.content_type = Some("text".into());
                if !ok_in_will {
                    w.properties.topic_alias = Some(1); // not allowed in a will
                }
                c.will = Some(w);
            });
        }
        add(&|c| {
            c.properties.session_expiry_interval = Some(10);
            c.properties.receive_maximum = Some(5);
            c.properties.maximum_packet_size = Some(1 << 20);
            c.properties.topic_alias_maximum = Some(3);
            c.properties.request_problem_information = Some(false);
            c.properties.request_response_information = Some(true);
            c.properties.authentication_method = Some("m".into());
            c.properties.authentication_data = Some(Bytes::from_static(b"d"));
            c.properties.user_properties = vec![("k".into(), "v".into()), ("k".into(), "".into())];
        });
        add(&|c| c.properties.receive_maximum = Some(0));
        add(&|c| c.properties.topic_alias = Some(1)); // not allowed in CONNECT
        add(&|c| c.properties.authentication_data = Some(Bytes::from_static(b"d")));
        add(&|c| c.properties.user_properties = vec![("k".into(), "\0".into())]);
        add(&|c| c.properties.reason_string = Some(long.clone()));
        // A large property block (two-byte Property Length) and a large packet.
        add(&|c| c.properties.user_properties = vec![("k".into(), "v".repeat(300).into())]);
        add(&|c| {
            c.will = Some(Will {
                topic: "w".into(),
                payload: Bytes::from(vec![7; 60_000]),
                ..Default::default()
            });
            c.password = Some(Bytes::from(vec![8; 60_000]));
            c.username = Some("u".into());
        });
        // Errors in two places: the first in validation order is reported.
        add(&|c| {
            c.client_id = "\0".into();
            c.properties.receive_maximum = Some(0);
        });
        add(&|c| {
            c.username = Some(long.clone());
            c.properties.topic_alias = Some(1);
        });
    }
    out
}

#[test]
fn checked_connect_encoder_agrees_with_validate_and_the_unchecked_writer() {
    let (mut accepted, mut refused) = (0, 0);
    for c in connect_variants() {
        let p = Packet::Connect(Box::new(c));
        // The version argument is ignored for CONNECT: try both.
        for v in [V3, V5] {
            let mut checked = BytesMut::from(&b"xy"[..]);
            let got = p.encode(v, &mut checked);
            match p.validate(v) {
                Ok(()) => {
                    accepted += 1;
                    assert_eq!(got, Ok(()), "{p:?}");
                    let mut unchecked = BytesMut::from(&b"xy"[..]);
                    p.encode_unchecked(v, &mut unchecked);
                    assert_eq!(checked, unchecked, "{p:?}");
                    assert_eq!(p.encoded_len(v).unwrap() + 2, checked.len());
                    if checked.len() < 1000 {
                        let back = decode(
                            &mut checked.split_off(2),
                            v,
                            &Limits::default(),
                            Some(Side::Client),
                        );
                        assert_eq!(back, Ok(Some(p.clone())));
                    }
                }
                Err(e) => {
                    refused += 1;
                    assert_eq!(got, Err(e), "{p:?}");
                    assert_eq!(&checked[..], b"xy", "buffer untouched on error");
                }
            }
        }
    }
    assert!(accepted > 40 && refused > 40, "{accepted} {refused}");
}
