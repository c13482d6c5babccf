//! Helpers shared by the integration tests: hex parsing, a checked decode wrapper, and one
//! "rich" valid packet of every type for each version (every property the packet may carry).
#![allow(dead_code)]

use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, Auth, ByteStr, ConnAck, Connect, DecodeError, Disconnect, Limits, Packet, Properties,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, RetainHandling,
    Side, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

pub const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
pub const V5: ProtocolVersion = ProtocolVersion::V5;

/// Bytes from hex text; spaces, newlines and `_` are ignored.
pub fn hex(s: &str) -> Vec<u8> {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    hex::decode(clean).unwrap_or_else(|e| panic!("bad hex in test data {s:?}: {e}"))
}

/// Packet bytes from a small notation, so that lengths need not be counted by hand:
///
/// - `3a`: one byte in hex;
/// - `LL`: the Remaining Length of everything after it (shortest form);
/// - `[ ... ]`: a property block: its length (one byte, shortest form) then its content;
/// - `'text'`: the ASCII bytes as they are;
/// - `<text>`: a length-prefixed string (two-byte length, then the bytes).
pub fn pkt(s: &str) -> Vec<u8> {
    #[derive(Debug)]
    enum Tok {
        Bytes(Vec<u8>),
        Ll,
        Open,
        Close,
    }
    let mut toks = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '[' => toks.push(Tok::Open),
            ']' => toks.push(Tok::Close),
            '\'' | '<' => {
                let end = if c == '<' { '>' } else { '\'' };
                let text: String = chars.by_ref().take_while(|&x| x != end).collect();
                let mut b = Vec::new();
                if c == '<' {
                    b.extend_from_slice(&(text.len() as u16).to_be_bytes());
                }
                b.extend_from_slice(text.as_bytes());
                toks.push(Tok::Bytes(b));
            }
            'L' => {
                assert_eq!(chars.next(), Some('L'), "bad token in {s:?}");
                toks.push(Tok::Ll);
            }
            h => {
                let l = chars.next().unwrap_or_else(|| panic!("odd hex in {s:?}"));
                let byte = u8::from_str_radix(&format!("{h}{l}"), 16)
                    .unwrap_or_else(|_| panic!("bad hex {h}{l} in {s:?}"));
                toks.push(Tok::Bytes(vec![byte]));
            }
        }
    }
    fn vbi(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let mut b = (v % 128) as u8;
            v /= 128;
            if v > 0 {
                b |= 0x80;
            }
            out.push(b);
            if v == 0 {
                break;
            }
        }
    }
    // Build from the end so that every length covers what follows it.
    fn build(toks: &[Tok], i: &mut usize) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(t) = toks.get(*i) {
            *i += 1;
            match t {
                Tok::Bytes(b) => out.extend_from_slice(b),
                Tok::Open => {
                    let inner = build(toks, i);
                    vbi(inner.len(), &mut out);
                    out.extend_from_slice(&inner);
                }
                Tok::Close => return out,
                Tok::Ll => {
                    let rest = build(toks, i);
                    vbi(rest.len(), &mut out);
                    out.extend_from_slice(&rest);
                    return out;
                }
            }
        }
        out
    }
    let mut i = 0;
    build(&toks, &mut i)
}

/// Spaced lower-case hex, 16 bytes a line.
pub fn to_hex_lines(b: &[u8]) -> String {
    b.chunks(16)
        .map(|c| {
            c.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Decodes one packet from `bytes` with the default limits and checks the buffer contract:
/// a packet consumes exactly its bytes, anything else leaves the buffer as it was.
pub fn dec(
    bytes: &[u8],
    v: ProtocolVersion,
    from: Option<Side>,
) -> Result<Option<Packet>, DecodeError> {
    dec_with(bytes, v, &Limits::default(), from)
}

pub fn dec_with(
    bytes: &[u8],
    v: ProtocolVersion,
    limits: &Limits,
    from: Option<Side>,
) -> Result<Option<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let r = decode(&mut buf, v, limits, from);
    match &r {
        Ok(Some(p)) => {
            // What is left is what followed the packet.
            let used = bytes.len() - buf.len();
            assert!(used > 0, "a decoded packet consumed nothing: {p:?}");
            assert_eq!(&buf[..], &bytes[used..], "the rest of the buffer is intact");
        }
        _ => assert_eq!(&buf[..], bytes, "buffer left as it was on {r:?}"),
    }
    r
}

fn s(x: &str) -> ByteStr {
    ByteStr::from(x)
}

fn b(x: &[u8]) -> Bytes {
    Bytes::copy_from_slice(x)
}

fn user() -> Vec<(ByteStr, ByteStr)> {
    vec![
        (s("region"), s("eu-west")),
        (s("trace"), s("c0ffee")),
        (s("region"), s("eu-central")),
    ]
}

/// A valid packet of every type, with every field and property it may carry, named for the
/// snapshot files. `version` picks 3.1.1 (no properties) or 5.0.
pub fn rich_packets(version: ProtocolVersion) -> Vec<(&'static str, Packet)> {
    if version.is_v5() {
        rich_v5()
    } else {
        rich_v3()
    }
}

fn rich_v3() -> Vec<(&'static str, Packet)> {
    let connect = Connect {
        protocol: V3,
        clean_start: false,
        keep_alive: 30,
        client_id: s("client-3"),
        will: Some(Will {
            topic: s("status/client-3"),
            payload: b(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Default::default(),
        }),
        username: Some(s("alice")),
        password: Some(b(b"s3cr\x00t")),
        properties: Default::default(),
    };
    let connect31 = Connect {
        protocol: ProtocolVersion::V3_1,
        will: None,
        ..connect.clone()
    };
    vec![
        ("connect", Packet::Connect(Box::new(connect))),
        ("connect_mqisdp", Packet::Connect(Box::new(connect31))),
        (
            "connack",
            Packet::ConnAck(ConnAck {
                session_present: true,
                reason_code: ReasonCode::SUCCESS,
                properties: Default::default(),
            }),
        ),
        (
            "connack_refused",
            Packet::ConnAck(ConnAck::new(ReasonCode::V3_NOT_AUTHORIZED)),
        ),
        (
            "publish_qos0",
            Packet::Publish(Publish {
                retain: true,
                ..Publish::new("sensors/room1/temp", "21.5")
            }),
        ),
        (
            "publish_qos2_dup",
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: s("a/€/😀"),
                packet_id: 0xBEEF,
                payload: b(&[0, 1, 2, 0xff]),
                properties: Default::default(),
            }),
        ),
        ("puback", Packet::PubAck(PubAck::new(1))),
        ("pubrec", Packet::PubRec(PubRec::new(2))),
        ("pubrel", Packet::PubRel(PubRel::new(3))),
        ("pubcomp", Packet::PubComp(PubComp::new(0xFFFF))),
        (
            "subscribe",
            Packet::Subscribe(Subscribe {
                packet_id: 10,
                filters: vec![
                    Subscription::new("a/+/c", QoS::AtMostOnce),
                    Subscription::new("#", QoS::AtLeastOnce),
                    Subscription::new("$SYS/broker/+", QoS::ExactlyOnce),
                ],
                properties: Default::default(),
            }),
        ),
        (
            "suback",
            Packet::SubAck(SubAck {
                packet_id: 10,
                reason_codes: vec![
                    ReasonCode::GRANTED_QOS_0,
                    ReasonCode::GRANTED_QOS_1,
                    ReasonCode::GRANTED_QOS_2,
                    ReasonCode::V3_SUBACK_FAILURE,
                ],
                properties: Default::default(),
            }),
        ),
        (
            "unsubscribe",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 11,
                filters: vec![s("a/+/c"), s("#")],
                properties: Default::default(),
            }),
        ),
        (
            "unsuback",
            Packet::UnsubAck(UnsubAck {
                packet_id: 11,
                reason_codes: vec![],
                properties: Default::default(),
            }),
        ),
        ("pingreq", Packet::PingReq),
        ("pingresp", Packet::PingResp),
        ("disconnect", Packet::Disconnect(Disconnect::default())),
    ]
}

fn rich_v5() -> Vec<(&'static str, Packet)> {
    let will_props = Properties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(3600),
        content_type: Some(s("text/plain")),
        response_topic: Some(s("replies/client-5")),
        correlation_data: Some(b(b"\x01\x02corr")),
        will_delay_interval: Some(10),
        user_properties: user(),
        ..Default::default()
    };
    let connect = Connect {
        protocol: V5,
        clean_start: false,
        keep_alive: 45,
        client_id: s("client-5"),
        will: Some(Will {
            topic: s("status/client-5"),
            payload: b(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: will_props.into(),
        }),
        username: Some(s("bob")),
        password: Some(b(b"hunter2")),
        properties: Properties {
            session_expiry_interval: Some(86_400),
            receive_maximum: Some(100),
            maximum_packet_size: Some(1 << 20),
            topic_alias_maximum: Some(16),
            request_response_information: Some(true),
            request_problem_information: Some(false),
            user_properties: user(),
            authentication_method: Some(s("SCRAM-SHA-256")),
            authentication_data: Some(b(b"n,,n=bob,r=nonce")),
            ..Default::default()
        }
        .into(),
    };
    // 5.0 allows a password without a user name.
    let connect_password_only = Connect {
        will: None,
        username: None,
        properties: Default::default(),
        ..connect.clone()
    };
    let connack = ConnAck {
        session_present: true,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties {
            session_expiry_interval: Some(7200),
            receive_maximum: Some(20),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(true),
            maximum_packet_size: Some(65_536),
            assigned_client_identifier: Some(s("auto-7f3a")),
            topic_alias_maximum: Some(8),
            reason_string: Some(s("welcome")),
            user_properties: user(),
            wildcard_subscription_available: Some(true),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(true),
            server_keep_alive: Some(120),
            response_information: Some(s("resp/")),
            server_reference: Some(s("other.example:1883")),
            authentication_method: Some(s("SCRAM-SHA-256")),
            authentication_data: Some(b(b"r=nonce,s=salt,i=4096")),
            ..Default::default()
        }
        .into(),
    };
    let publish = Publish {
        dup: true,
        qos: QoS::ExactlyOnce,
        retain: true,
        topic: s("sensors/€/temp"),
        packet_id: 0x1234,
        payload: b(b"{\"t\":21.5}"),
        properties: Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            topic_alias: Some(3),
            response_topic: Some(s("replies/sensors")),
            correlation_data: Some(b(&[0xde, 0xad])),
            user_properties: user(),
            // Several identifiers: a server's PUBLISH matching several subscriptions.
            subscription_identifiers: vec![1, 268_435_455, 300],
            content_type: Some(s("application/json")),
            ..Default::default()
        }
        .into(),
    };
    let publish_alias_only = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: s(""),
        packet_id: 0,
        payload: Bytes::new(),
        properties: Properties {
            topic_alias: Some(3),
            ..Default::default()
        }
        .into(),
    };
    let ack_props = || -> mqtt_codec::Props {
        Properties {
            reason_string: Some(s("why not")),
            user_properties: user(),
            ..Default::default()
        }
        .into()
    };
    vec![
        ("connect", Packet::Connect(Box::new(connect))),
        (
            "connect_password_only",
            Packet::Connect(Box::new(connect_password_only)),
        ),
        ("connack", Packet::ConnAck(connack)),
        (
            "connack_refused",
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::SERVER_MOVED,
                properties: Properties {
                    server_reference: Some(s("b.example")),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        ("publish", Packet::Publish(publish)),
        ("publish_alias_only", Packet::Publish(publish_alias_only)),
        (
            "puback",
            Packet::PubAck(PubAck {
                packet_id: 1,
                reason_code: ReasonCode::NO_MATCHING_SUBSCRIBERS,
                properties: ack_props(),
            }),
        ),
        ("puback_short", Packet::PubAck(PubAck::new(1))),
        (
            "puback_code_only",
            Packet::PubAck(PubAck::with_reason(1, ReasonCode::QUOTA_EXCEEDED)),
        ),
        (
            "pubrec",
            Packet::PubRec(PubRec {
                packet_id: 2,
                reason_code: ReasonCode::PAYLOAD_FORMAT_INVALID,
                properties: ack_props(),
            }),
        ),
        (
            "pubrel",
            Packet::PubRel(PubRel {
                packet_id: 3,
                reason_code: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                properties: ack_props(),
            }),
        ),
        (
            "pubcomp",
            Packet::PubComp(PubComp {
                packet_id: 4,
                reason_code: ReasonCode::SUCCESS,
                properties: ack_props(),
            }),
        ),
        (
            "subscribe",
            Packet::Subscribe(Subscribe {
                packet_id: 20,
                filters: vec![
                    Subscription {
                        filter: s("a/+/c"),
                        options: SubscriptionOptions {
                            qos: QoS::ExactlyOnce,
                            no_local: true,
                            retain_as_published: true,
                            retain_handling: RetainHandling::DoNotSend,
                        },
                    },
                    Subscription {
                        filter: s("$share/group/x/#"),
                        options: SubscriptionOptions {
                            qos: QoS::AtLeastOnce,
                            no_local: false,
                            retain_as_published: false,
                            retain_handling: RetainHandling::SendIfNewSubscription,
                        },
                    },
                    Subscription::new("#", QoS::AtMostOnce),
                ],
                properties: Properties {
                    subscription_identifiers: vec![42],
                    user_properties: user(),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        (
            "suback",
            Packet::SubAck(SubAck {
                packet_id: 20,
                reason_codes: vec![
                    ReasonCode::GRANTED_QOS_2,
                    ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
                    ReasonCode::GRANTED_QOS_0,
                ],
                properties: ack_props(),
            }),
        ),
        (
            "unsubscribe",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 21,
                filters: vec![s("a/+/c"), s("$share/group/x/#")],
                properties: Properties {
                    user_properties: user(),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        (
            "unsuback",
            Packet::UnsubAck(UnsubAck {
                packet_id: 21,
                reason_codes: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
                properties: ack_props(),
            }),
        ),
        ("pingreq", Packet::PingReq),
        ("pingresp", Packet::PingResp),
        (
            "disconnect",
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
                properties: Properties {
                    session_expiry_interval: Some(0),
                    reason_string: Some(s("bye")),
                    user_properties: user(),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        (
            "disconnect_server",
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::USE_ANOTHER_SERVER,
                properties: Properties {
                    reason_string: Some(s("moving")),
                    server_reference: Some(s("b.example")),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        (
            "disconnect_short",
            Packet::Disconnect(Disconnect::default()),
        ),
        (
            "disconnect_code_only",
            Packet::Disconnect(Disconnect::new(ReasonCode::SESSION_TAKEN_OVER)),
        ),
        (
            "auth",
            Packet::Auth(Auth {
                reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: Properties {
                    authentication_method: Some(s("SCRAM-SHA-256")),
                    authentication_data: Some(b(b"c=biws,r=nonce,p=proof")),
                    reason_string: Some(s("step 2")),
                    user_properties: user(),
                    ..Default::default()
                }
                .into(),
            }),
        ),
        ("auth_short", Packet::Auth(Auth::default())),
    ]
}
