//! Malformed packets and protocol errors the server has to detect: 1.5 data representation,
//! 2.1/2.2 fixed header and properties, 2.3.1 packet identifiers, topic names and filters,
//! SUBSCRIBE / UNSUBSCRIBE payload rules, packets only a server sends, 4.13 error handling
//! and 4.12 enhanced authentication.
//!
//! Every test puts the forbidden bytes on the wire (built with [`RawPacket`] /
//! [`RawProperty`]) and expects the server to close the connection: the close is the MUST of
//! [MQTT-4.13.1-1] (5.0) and [MQTT-4.8.0-1] (3.1.1). A 5.0 server may first send a DISCONNECT
//! with any error code a server may send (the standard only recommends 0x81 Malformed Packet,
//! 0x82 Protocol Error or the more specific code defined for the case; the specific codes are
//! checked by separate SHOULD-level tests), or, for an error in CONNECT, a CONNACK with the
//! code named for the case. Anything else before the close, in particular an acknowledgement
//! of the forbidden packet, fails the test.

use bytes::Bytes;
use mqtt_broker_model::scram::ScramClient;
use mqtt_codec::raw::{RawPacket, RawProperty, RawValue, RemainingLength};
use mqtt_codec::{ConnAck, Packet, PropertyId, QoS, ReasonCode, Subscribe, Subscription, Will};
use mqtt_spec::{v311, v5, StatementId};
use tokio::time::Instant;

use super::util::{cases, expect_disconnect_code, server_error_code, Row, Table};
use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::{describe, Client, Incoming};
use crate::target::BoxFuture;

/// The 5.0 rule that names the reaction: close, optionally after DISCONNECT / CONNACK.
const HANDLING: StatementId = v5!("MQTT-4.13.1-1");

/// 0x81 Malformed Packet, 0x82 Protocol Error: the generic codes of 4.13.1.
const GENERIC: &[u8] = &[0x81, 0x82];
/// Generic codes and 0x90 Topic Name invalid.
const TOPIC_NAME: &[u8] = &[0x81, 0x82, 0x90];
/// Generic codes and 0x8F Topic Filter invalid.
const TOPIC_FILTER: &[u8] = &[0x81, 0x82, 0x8F];
/// 3.3.2.3.4: an invalid Topic Alias is answered with 0x94 Topic Alias invalid.
const TOPIC_ALIAS: &[u8] = &[0x94];
/// 3.3.2.3.4: a zero-length Topic Name without a usable alias is answered with 0x82.
const PROTOCOL_ERROR: &[u8] = &[0x82];

/// The tests of this module.
pub fn tests() -> Vec<TestCase> {
    cases::<Malformed>()
}

/// What a row of the catalogue sends and how the server has to react.
enum Check {
    /// Client "a" connects and sends `bytes`: the server closes the connection (5.0:
    /// optionally after a DISCONNECT with one of `codes`), see [`expect_rejection`].
    After {
        what: &'static str,
        bytes: fn(&Ctx) -> Vec<u8>,
        codes: &'static [u8],
    },
    /// `bytes` is the first packet on a new connection: the server closes it (optionally
    /// after a refusing CONNACK with one of the codes), see [`expect_connect_rejection`].
    Connect {
        what: &'static str,
        bytes: fn(&Ctx) -> Vec<u8>,
        v311_codes: &'static [u8],
        v5_codes: &'static [u8],
    },
    /// Client "a" connects and sends `bytes`, a SUBSCRIBE (packet id 1) with one invalid topic
    /// filter: the server closes as for [`Check::After`] or, in the versions where
    /// `suback_v311` / `suback_v5` is set, refuses the filter with a SUBACK code of 0x80 or
    /// above (the rule binds the filter the client sends, and the standard lets the server
    /// refuse a subscription it cannot accept in SUBACK).
    Filter {
        what: &'static str,
        bytes: fn(&Ctx) -> Vec<u8>,
        codes: &'static [u8],
        suback_v311: bool,
        suback_v5: bool,
    },
    /// A DISCONNECT the server has to reject, seen through the will, see
    /// [`will_after_bad_disconnect`].
    Will {
        what: &'static str,
        bytes: fn(&Ctx) -> Vec<u8>,
        session_expiry: Option<u32>,
    },
}

/// The catalogue of this module as one table.
struct Malformed;

impl Table for Malformed {
    type Kind = Check;

    fn rows() -> Vec<Row<Check>> {
        let mut v = Vec::new();
        v.extend(utf8_tests());
        v.extend(length_tests());
        v.extend(fixed_header_tests());
        v.extend(property_tests());
        v.extend(reason_code_tests());
        v.extend(packet_id_tests());
        v.extend(topic_tests());
        v.extend(subscribe_tests());
        v.extend(server_only_tests());
        v.extend(disconnect_tests());
        v.extend(auth_tests());
        v
    }

    fn run(ctx: Ctx, check: Check) -> BoxFuture<'static, Outcome> {
        Box::pin(async move {
            match check {
                Check::After { what, bytes, codes } => {
                    let b = bytes(&ctx);
                    reject_after_connect(ctx, what, &b, codes).await
                }
                Check::Filter {
                    what,
                    bytes,
                    codes,
                    suback_v311,
                    suback_v5,
                } => {
                    let b = bytes(&ctx);
                    let suback = ctx.pick(suback_v311, suback_v5);
                    let mut c = ctx.connect("a").await?;
                    c.send_raw(what, &b).await?;
                    rejection(&ctx, &mut c, what, codes, suback).await
                }
                Check::Connect {
                    what,
                    bytes,
                    v311_codes,
                    v5_codes,
                } => {
                    let b = bytes(&ctx);
                    reject_connect(ctx, what, &b, v311_codes, v5_codes).await
                }
                Check::Will {
                    what,
                    bytes,
                    session_expiry,
                } => {
                    let b = bytes(&ctx);
                    will_after_bad_disconnect(ctx, what, &b, session_expiry).await
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

fn utf8_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.utf8.publish-topic.ill-formed",
            "A PUBLISH topic that is not well-formed UTF-8 (C3 28) makes the server close",
            Check::After {
                what: "PUBLISH with topic bytes C3 28 (ill-formed UTF-8)",
                codes: GENERIC,
                bytes: |ctx| {
                    // C3 starts a two-byte sequence; 28 is not a continuation byte.
                    publish_bad_topic(ctx, b"a\xC3\x28").to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-1"), v311!("MQTT-3.3.2-1")])
        .v5(&[v5!("MQTT-1.5.4-1"), v5!("MQTT-3.3.2-1"), HANDLING]),
        Row::new(
            "malformed.utf8.publish-topic.overlong",
            "A PUBLISH topic with an overlong UTF-8 encoding (C0 AF) makes the server close",
            Check::After {
                what: "PUBLISH with topic bytes C0 AF (overlong UTF-8)",
                codes: GENERIC,
                bytes: |ctx| {
                    // C0 AF is a two-byte (overlong) form of '/', forbidden by the Unicode definition.
                    publish_bad_topic(ctx, b"a\xC0\xAF").to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-1"), v311!("MQTT-3.3.2-1")])
        .v5(&[v5!("MQTT-1.5.4-1"), v5!("MQTT-3.3.2-1"), HANDLING]),
        Row::new(
            "malformed.utf8.publish-topic.surrogate",
            "A PUBLISH topic encoding the surrogate U+D800 makes the server close",
            Check::After {
                what: "PUBLISH with topic bytes ED A0 80 (U+D800)",
                codes: GENERIC,
                bytes: |ctx| publish_bad_topic(ctx, b"a\xED\xA0\x80").to_vec(),
            },
        )
        .v311(&[v311!("MQTT-1.5.3-1"), v311!("MQTT-3.3.2-1")])
        .v5(&[v5!("MQTT-1.5.4-1"), v5!("MQTT-3.3.2-1"), HANDLING]),
        Row::new(
            "malformed.utf8.publish-topic.null",
            "A PUBLISH topic containing U+0000 makes the server close",
            Check::After {
                what: "PUBLISH with topic containing U+0000",
                codes: GENERIC,
                bytes: |ctx| publish_bad_topic(ctx, b"a\x00b").to_vec(),
            },
        )
        .v311(&[v311!("MQTT-1.5.3-2"), v311!("MQTT-4.7.3-2")])
        .v5(&[v5!("MQTT-1.5.4-2"), v5!("MQTT-4.7.3-2"), HANDLING]),
        Row::new(
            "malformed.utf8.subscribe-filter.ill-formed",
            "A SUBSCRIBE topic filter that is not well-formed UTF-8 makes the server close",
            Check::After {
                what: "SUBSCRIBE with filter bytes FF FE (ill-formed UTF-8)",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"\xFF\xFE");
                    let bytes = raw_subscribe(ctx, 1, &[], &[(&f, 0)]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-1"), v311!("MQTT-4.8.0-1")])
        .v5(&[v5!("MQTT-1.5.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.subscribe-filter.null",
            "A SUBSCRIBE topic filter containing U+0000 makes the server close",
            Check::After {
                what: "SUBSCRIBE with a filter containing U+0000",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"a\x00b");
                    let bytes = raw_subscribe(ctx, 1, &[], &[(&f, 0)]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-2"), v311!("MQTT-4.7.3-2")])
        .v5(&[v5!("MQTT-1.5.4-2"), v5!("MQTT-4.7.3-2"), HANDLING]),
        Row::new(
            "malformed.utf8.unsubscribe-filter.surrogate",
            "An UNSUBSCRIBE topic filter encoding the surrogate U+DFFF makes the server close",
            Check::After {
                what: "UNSUBSCRIBE with filter bytes ED BF BF (U+DFFF)",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"\xED\xBF\xBF");
                    let bytes = raw_unsubscribe(ctx, 1, &[&f]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-1"), v311!("MQTT-4.8.0-1")])
        .v5(&[v5!("MQTT-1.5.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.connect-client-id.ill-formed",
            "A CONNECT whose client identifier is not well-formed UTF-8 is refused and closed",
            Check::Connect {
                what: "CONNECT with client id bytes C3 28 (ill-formed UTF-8)",
                v311_codes: &[],
                v5_codes: GENERIC,
                bytes: |ctx| {
                    let mut rc = RawConnect::new(ctx, "a");
                    rc.client_id = b"mc\xC3\x28id".to_vec();
                    let bytes = rc.build(ctx);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[
            v311!("MQTT-1.5.3-1"),
            v311!("MQTT-3.1.4-1"),
            v311!("MQTT-3.2.2-6"),
        ])
        .v5(&[v5!("MQTT-1.5.4-1"), v5!("MQTT-3.1.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.connect-username.null",
            "A CONNECT whose user name contains U+0000 is refused and closed",
            Check::Connect {
                what: "CONNECT with a user name containing U+0000",
                v311_codes: &[0x04],
                v5_codes: &[0x81, 0x82, 0x86],
                bytes: |ctx| {
                    let mut rc = RawConnect::new(ctx, "a");
                    rc.username = Some(b"user\x00name".to_vec());
                    let bytes = rc.build(ctx);
                    // 3.1.1's CONNACK 0x04 covers "malformed data in the user name or password"; 5.0's 0x86
                    // is the specific code for a user name the server does not accept.
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-1.5.3-2"), v311!("MQTT-3.1.4-1")])
        .v5(&[v5!("MQTT-1.5.4-2"), v5!("MQTT-3.1.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.connect-will-topic.surrogate",
            "A CONNECT whose will topic encodes a surrogate is refused and closed",
            Check::Connect {
                what: "CONNECT with will topic bytes ED A0 80 (U+D800)",
                v311_codes: &[],
                v5_codes: GENERIC,
                bytes: |ctx| {
                    let mut rc = RawConnect::new(ctx, "a");
                    rc.will = Some((Vec::new(), topic_bytes(ctx, b"w\xED\xA0\x80")));
                    let bytes = rc.build(ctx);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[
            v311!("MQTT-1.5.3-1"),
            v311!("MQTT-3.1.4-1"),
            v311!("MQTT-3.2.2-6"),
        ])
        .v5(&[v5!("MQTT-1.5.4-1"), v5!("MQTT-3.1.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.user-property.ill-formed-value",
            "A User Property whose value is not well-formed UTF-8 makes the server close",
            Check::After {
                what: "PUBLISH with a User Property value C3 28",
                codes: GENERIC,
                bytes: |ctx| {
                    let props = [RawProperty::user(b"k".to_vec(), b"v\xC3\x28".to_vec())];
                    publish_props(ctx, &props).to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-1.5.7-1"), v5!("MQTT-1.5.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.user-property.null-name",
            "A User Property whose name contains U+0000 makes the server close",
            Check::After {
                what: "PUBLISH with a User Property name containing U+0000",
                codes: GENERIC,
                bytes: |ctx| {
                    let props = [RawProperty::user(b"k\x00".to_vec(), b"v".to_vec())];
                    publish_props(ctx, &props).to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-1.5.7-1"), v5!("MQTT-1.5.4-2"), HANDLING]),
        Row::new(
            "malformed.utf8.content-type",
            "A PUBLISH Content Type that is not well-formed UTF-8 makes the server close",
            Check::After {
                what: "PUBLISH with Content Type bytes 'text/' FF",
                codes: GENERIC,
                bytes: |ctx| {
                    let props = [RawProperty::bytes(
                        PropertyId::CONTENT_TYPE,
                        b"text/\xFF".to_vec(),
                    )];
                    publish_props(ctx, &props).to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-3.3.2-19"), v5!("MQTT-1.5.4-1"), HANDLING]),
        Row::new(
            "malformed.utf8.response-topic",
            "A PUBLISH Response Topic encoding a surrogate makes the server close",
            Check::After {
                what: "PUBLISH with a Response Topic encoding U+D800",
                codes: GENERIC,
                bytes: |ctx| {
                    let rt = topic_bytes(ctx, b"r\xED\xA0\x80");
                    let props = [RawProperty::bytes(PropertyId::RESPONSE_TOPIC, rt)];
                    publish_props(ctx, &props).to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-3.3.2-13"), v5!("MQTT-1.5.4-1"), HANDLING]),
    ]
}

fn length_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.vbi.remaining-length-five-bytes",
            "A Remaining Length of five bytes makes the server close",
            Check::After {
                what: "PUBLISH with a 5-byte Remaining Length FF FF FF FF 7F",
                codes: GENERIC,
                bytes: |_| {
                    let bytes = RawPacket::new(3, 0)
                        .remaining_length(RemainingLength::Bytes(vec![
                            0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
                        ]))
                        .to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")])
        .v5(&[HANDLING, v5!("MQTT-1.5.5-1")]),
        Row::new(
            "malformed.vbi.remaining-length-non-minimal",
            "A Remaining Length in a longer form than needed (80 00 for 0) is treated as malformed",
            Check::After {
                what: "PINGREQ with Remaining Length 80 00",
                codes: GENERIC,
                bytes: |_| {
                    let bytes = RawPacket::new(12, 0)
                        .remaining_length(RemainingLength::Bytes(vec![0x80, 0x00]))
                        .to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-1.5.5-1"), HANDLING])
        .should(),
        Row::new(
            "malformed.vbi.property-length-non-minimal",
            "A Property Length in a longer form than needed (80 00 for 0) is treated as malformed",
            Check::After {
                what: "PUBLISH with Property Length 80 00",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("p");
                    let bytes = RawPacket::new(3, 0)
                        .string(&topic)
                        .bytes(&[0x80, 0x00])
                        .bytes(b"x")
                        .to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-1.5.5-1"), HANDLING])
        .should(),
        Row::new(
            "malformed.length.string-overruns-packet",
            "A topic length that runs past the end of the PUBLISH makes the server close",
            Check::After {
                what: "PUBLISH whose topic length 200 runs past its end",
                codes: GENERIC,
                bytes: |_| {
                    // Topic length 200, but the packet holds only 3 more bytes.
                    let bytes = RawPacket::new(3, 0).u16(200).bytes(b"a/b").to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")])
        .v5(&[HANDLING]),
        Row::new(
            "malformed.length.puback-truncated",
            "A PUBACK too short to hold a packet identifier makes the server close",
            Check::After {
                what: "PUBACK with Remaining Length 1",
                codes: GENERIC,
                bytes: |_| {
                    let bytes = RawPacket::new(4, 0).u8(0x01).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")])
        .v5(&[HANDLING]),
        Row::new(
            "malformed.length.pingreq-with-body",
            "A PINGREQ with a non-zero Remaining Length makes the server close",
            Check::After {
                what: "PINGREQ with Remaining Length 1",
                codes: GENERIC,
                bytes: |_| {
                    let bytes = RawPacket::new(12, 0).u8(0x00).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")])
        .v5(&[HANDLING]),
        Row::new(
            "malformed.length.property-length-overruns",
            "A Property Length that runs past the end of the PUBLISH makes the server close",
            Check::After {
                what: "PUBLISH whose Property Length 40 runs past its end",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("p");
                    // Property Length 40, then one 5-byte property and the end of the packet.
                    let bytes = RawPacket::new(3, 0)
                        .string(&topic)
                        .u8(40)
                        .u8(0x02)
                        .u32(60)
                        .to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[HANDLING]),
    ]
}

fn fixed_header_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.type.reserved-0",
            "A packet of the reserved type 0 makes the server close",
            Check::After {
                what: "a packet of type 0 (00 00)",
                codes: GENERIC,
                bytes: |_| ([0x00, 0x00]).to_vec(),
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")])
        .v5(&[HANDLING]),
        Row::new(
            "malformed.type.reserved-15",
            "A packet of type 15 (reserved in 3.1.1) makes the server close",
            Check::After {
                what: "a packet of type 15 (F0 00)",
                codes: GENERIC,
                bytes: |_| ([0xF0, 0x00]).to_vec(),
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")]),
        Row::new(
            "malformed.flags.connect",
            "A CONNECT with fixed-header flags 0001 is refused and closed",
            Check::Connect {
                what: "CONNECT with fixed-header flags 0001",
                v311_codes: &[],
                v5_codes: GENERIC,
                bytes: |ctx| {
                    let mut raw = RawConnect::new(ctx, "a").build(ctx).to_vec();
                    if let Some(b) = raw.first_mut() {
                        *b |= 0x01;
                    }
                    raw.to_vec()
                },
            },
        )
        .v311(&[
            v311!("MQTT-2.2.2-2"),
            v311!("MQTT-2.2.2-1"),
            v311!("MQTT-3.1.4-1"),
            v311!("MQTT-3.2.2-6"),
        ])
        .v5(&[
            v5!("MQTT-2.1.3-1"),
            v5!("MQTT-3.1.4-1"),
            HANDLING,
            v5!("MQTT-4.13.2-1"),
        ]),
        Row::new(
            "malformed.flags.puback",
            "A PUBACK with fixed-header flags 0001 makes the server close",
            Check::After {
                what: "PUBACK with flags 0001",
                codes: GENERIC,
                bytes: |ctx| {
                    let bytes = ack_bytes(ctx, 4, 0b0001, 1);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.2.2-2"), v311!("MQTT-2.2.2-1")])
        .v5(&[HANDLING, v5!("MQTT-2.1.3-1")]),
        Row::new(
            "malformed.flags.pubrec",
            "A PUBREC with fixed-header flags 0010 makes the server close",
            Check::After {
                what: "PUBREC with flags 0010",
                codes: GENERIC,
                bytes: |ctx| {
                    let bytes = ack_bytes(ctx, 5, 0b0010, 1);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.2.2-2"), v311!("MQTT-2.2.2-1")])
        .v5(&[HANDLING, v5!("MQTT-2.1.3-1")]),
        Row::own(
            "malformed.flags.pubrel",
            "A PUBREL with fixed-header flags 0000 makes the server close without PUBCOMP",
            body!(flags_pubrel),
        )
        .v311(&[v311!("MQTT-3.6.1-1"), v311!("MQTT-2.2.2-2")])
        .v5(&[v5!("MQTT-3.6.1-1"), v5!("MQTT-2.1.3-1"), HANDLING]),
        Row::new(
            "malformed.flags.pubcomp",
            "A PUBCOMP with fixed-header flags 1000 makes the server close",
            Check::After {
                what: "PUBCOMP with flags 1000",
                codes: GENERIC,
                bytes: |ctx| {
                    let bytes = ack_bytes(ctx, 7, 0b1000, 1);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.2.2-2"), v311!("MQTT-2.2.2-1")])
        .v5(&[HANDLING, v5!("MQTT-2.1.3-1")]),
        Row::new(
            "malformed.flags.subscribe",
            "A SUBSCRIBE with fixed-header flags 0000 makes the server close without SUBACK",
            Check::After {
                what: "SUBSCRIBE with flags 0000",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = ctx.topic("s");
                    let mut raw = RawPacket::new(8, 0b0000).u16(1);
                    if ctx.v5() {
                        raw = raw.properties(&[]);
                    }
                    let bytes = raw.string(&f).u8(0).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.8.1-1"), v311!("MQTT-2.2.2-2")])
        .v5(&[v5!("MQTT-3.8.1-1"), v5!("MQTT-2.1.3-1"), HANDLING]),
        Row::new(
            "malformed.flags.unsubscribe",
            "An UNSUBSCRIBE with fixed-header flags 0011 makes the server close without UNSUBACK",
            Check::After {
                what: "UNSUBSCRIBE with flags 0011",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = ctx.topic("s");
                    let mut raw = RawPacket::new(10, 0b0011).u16(1);
                    if ctx.v5() {
                        raw = raw.properties(&[]);
                    }
                    let bytes = raw.string(&f).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.10.1-1"), v311!("MQTT-2.2.2-2")])
        .v5(&[v5!("MQTT-3.10.1-1"), v5!("MQTT-2.1.3-1"), HANDLING]),
        Row::new(
            "malformed.flags.pingreq",
            "A PINGREQ with fixed-header flags 0100 makes the server close without PINGRESP",
            Check::After {
                what: "PINGREQ with flags 0100 (C4 00)",
                codes: GENERIC,
                bytes: |_| ([0xC4, 0x00]).to_vec(),
            },
        )
        .v311(&[v311!("MQTT-2.2.2-2"), v311!("MQTT-2.2.2-1")])
        .v5(&[HANDLING, v5!("MQTT-2.1.3-1")]),
        Row::new(
            "malformed.flags.disconnect",
            "A DISCONNECT with flags 0001 is malformed: the server closes and publishes the will",
            Check::Will {
                what: "DISCONNECT with flags 0001 (E1 00)",
                session_expiry: None,
                bytes: |_| {
                    // 3.1.1: E1 00. 5.0: E1 00 as well (the short form means reason 0x00).
                    ([0xE1, 0x00]).to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.14.1-1"), v311!("MQTT-2.2.2-2")])
        .v5(&[v5!("MQTT-3.14.1-1"), v5!("MQTT-2.1.3-1"), HANDLING])
        .requires(&[Cap::Will]),
        Row::own(
            "malformed.flags.auth",
            "An AUTH with fixed-header flags 0001 (a re-authentication inside a SCRAM-SHA-256 connection) makes the server close",
            body!(flags_auth),
        )
        .v5(&[v5!("MQTT-3.15.1-1"), v5!("MQTT-2.1.3-1"), HANDLING]),
        Row::new(
            "malformed.publish.qos3",
            "A PUBLISH with both QoS bits set makes the server close",
            Check::After {
                what: "PUBLISH with QoS bits 11",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("q3");
                    let bytes = raw_publish(ctx, 0b0110, topic.as_bytes(), Some(1), &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.3.1-4")])
        .v5(&[v5!("MQTT-3.3.1-4"), HANDLING]),
        // 3.1.1 makes every protocol violation a reason to close ([MQTT-4.8.0-1]); 5.0 states
        // the DUP rule only as the sender's duty, so there the check is advisory.
        Row::new(
            "malformed.publish.qos0-dup",
            "A QoS 0 PUBLISH with DUP set makes the server close",
            Check::After {
                what: "PUBLISH QoS 0 with DUP 1",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("d");
                    let bytes = raw_publish(ctx, 0b1000, topic.as_bytes(), None, &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1"), v311!("MQTT-3.3.1-2")]),
        Row::new(
            "malformed.publish.qos0-dup-advisory",
            "A QoS 0 PUBLISH with DUP set is treated as a protocol error and closed",
            Check::After {
                what: "PUBLISH QoS 0 with DUP 1",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("d");
                    let bytes = raw_publish(ctx, 0b1000, topic.as_bytes(), None, &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-3.3.1-2"), HANDLING])
        .should(),
    ]
}

fn property_tests() -> Vec<Row<Check>> {
    vec![
        Row::new("malformed.property.duplicate.publish-message-expiry", "A PUBLISH carrying Message Expiry Interval twice makes the server close", Check::After { what: "PUBLISH with Message Expiry Interval twice", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::four(PropertyId::MESSAGE_EXPIRY_INTERVAL, 60);
    publish_props(ctx, &[p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.duplicate.publish-payload-format", "A PUBLISH carrying Payload Format Indicator twice makes the server close", Check::After { what: "PUBLISH with Payload Format Indicator twice", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::byte(PropertyId::PAYLOAD_FORMAT_INDICATOR, 0);
    publish_props(ctx, &[p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.duplicate.publish-content-type", "A PUBLISH carrying Content Type twice makes the server close", Check::After { what: "PUBLISH with Content Type twice", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::bytes(PropertyId::CONTENT_TYPE, b"text/plain".to_vec());
    publish_props(ctx, &[p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.duplicate.publish-response-topic", "A PUBLISH carrying Response Topic twice makes the server close", Check::After { what: "PUBLISH with Response Topic twice", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::bytes(PropertyId::RESPONSE_TOPIC, ctx.topic("r").into_bytes());
    publish_props(ctx, &[p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.duplicate.publish-correlation-data", "A PUBLISH carrying Correlation Data twice makes the server close", Check::After { what: "PUBLISH with Correlation Data twice", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::bytes(PropertyId::CORRELATION_DATA, b"c".to_vec());
    publish_props(ctx, &[p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.duplicate.connect-session-expiry", "A CONNECT carrying Session Expiry Interval twice is refused and closed", Check::Connect { what: "CONNECT with Session Expiry Interval twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::four(PropertyId::SESSION_EXPIRY_INTERVAL, 0);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.connect-receive-maximum", "A CONNECT carrying Receive Maximum twice is refused and closed", Check::Connect { what: "CONNECT with Receive Maximum twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::two(PropertyId::RECEIVE_MAXIMUM, 10);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.connect-maximum-packet-size", "A CONNECT carrying Maximum Packet Size twice is refused and closed", Check::Connect { what: "CONNECT with Maximum Packet Size twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::four(PropertyId::MAXIMUM_PACKET_SIZE, 100_000);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.connect-topic-alias-maximum", "A CONNECT carrying Topic Alias Maximum twice is refused and closed", Check::Connect { what: "CONNECT with Topic Alias Maximum twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::two(PropertyId::TOPIC_ALIAS_MAXIMUM, 5);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.connect-request-problem-information", "A CONNECT carrying Request Problem Information twice is refused and closed", Check::Connect { what: "CONNECT with Request Problem Information twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::byte(PropertyId::REQUEST_PROBLEM_INFORMATION, 1);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.connect-request-response-information", "A CONNECT carrying Request Response Information twice is refused and closed", Check::Connect { what: "CONNECT with Request Response Information twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::byte(PropertyId::REQUEST_RESPONSE_INFORMATION, 0);
    connect_props(ctx, vec![p.clone(), p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.will-delay-interval", "A CONNECT whose Will Properties carry Will Delay Interval twice is refused and closed", Check::Connect { what: "CONNECT with Will Delay Interval twice", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let mut rc = RawConnect::new(ctx, "a");
    let p = RawProperty::four(PropertyId::WILL_DELAY_INTERVAL, 0);
    rc.will = Some((vec![p.clone(), p], ctx.topic("will").into_bytes()));
    let bytes = rc.build(ctx);
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.duplicate.subscribe-subscription-identifier", "A SUBSCRIBE carrying Subscription Identifier twice makes the server close", Check::After { what: "SUBSCRIBE with Subscription Identifier twice", codes: GENERIC, bytes: |ctx| {
    let f = ctx.topic("s");
    let p = RawProperty::vbi(PropertyId::SUBSCRIPTION_IDENTIFIER, 5);
    let bytes = raw_subscribe(ctx, 1, &[p.clone(), p], &[(f.as_bytes(), 0)]);
    bytes.to_vec()
} })
        .v5(&[HANDLING])
        .requires(&[Cap::SubscriptionIds]),
        Row::new("malformed.property.not-allowed.publish-session-expiry", "A PUBLISH carrying Session Expiry Interval (a CONNECT property) makes the server close", Check::After { what: "PUBLISH with Session Expiry Interval", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::four(PropertyId::SESSION_EXPIRY_INTERVAL, 10);
    publish_props(ctx, &[p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.not-allowed.connect-topic-alias", "A CONNECT carrying Topic Alias (a PUBLISH property) is refused and closed", Check::Connect { what: "CONNECT with Topic Alias", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::two(PropertyId::TOPIC_ALIAS, 1);
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.not-allowed.subscribe-message-expiry", "A SUBSCRIBE carrying Message Expiry Interval makes the server close without SUBACK", Check::After { what: "SUBSCRIBE with Message Expiry Interval", codes: GENERIC, bytes: |ctx| {
    let f = ctx.topic("s");
    let p = RawProperty::four(PropertyId::MESSAGE_EXPIRY_INTERVAL, 10);
    let bytes = raw_subscribe(ctx, 1, &[p], &[(f.as_bytes(), 0)]);
    bytes.to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.not-allowed.puback-content-type", "A PUBACK carrying Content Type makes the server close", Check::After { what: "PUBACK with Content Type", codes: GENERIC, bytes: |_| {
    let bytes = RawPacket::new(4, 0)
        .u16(1)
        .u8(0)
        .properties(&[RawProperty::bytes(PropertyId::CONTENT_TYPE, b"t".to_vec())])
        .to_bytes();
    bytes.to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.unknown-identifier", "A PUBLISH carrying the unassigned property identifier 0x05 makes the server close", Check::After { what: "PUBLISH with property identifier 0x05", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty {
        id: 0x05,
        value: RawValue::Byte(0),
    };
    publish_props(ctx, &[p]).to_vec()
} })
        .v5(&[HANDLING]),
        Row::new("malformed.property.client-publish-subscription-identifier", "A PUBLISH from the client carrying a Subscription Identifier makes the server close", Check::After { what: "PUBLISH from the client with Subscription Identifier 3", codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::vbi(PropertyId::SUBSCRIPTION_IDENTIFIER, 3);
    publish_props(ctx, &[p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.3.4-6")]),
        Row::new("malformed.property.topic-alias-zero", "A PUBLISH with Topic Alias 0 makes the server close", Check::After { what: "PUBLISH with Topic Alias 0", codes: TOPIC_ALIAS, bytes: |ctx| {
    let p = RawProperty::two(PropertyId::TOPIC_ALIAS, 0);
    publish_props(ctx, &[p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.3.2-8")]),
        // 3.3.2.3.4 names 0x94 for this error but without a MUST ("the receiver uses"); 4.13.1
        // makes the DISCONNECT a SHOULD.
        Row::own("malformed.property.topic-alias-zero-code-0x94", "A PUBLISH with Topic Alias 0 is answered with DISCONNECT 0x94 (Topic Alias invalid) before the close", body!(topic_alias_zero_code))
        .v5(&[HANDLING, v5!("MQTT-3.3.2-8")])
        .should(),
        Row::own("malformed.property.topic-alias-above-maximum", "A Topic Alias above the server's Topic Alias Maximum makes the server close", body!(topic_alias_above_max))
        .v5(&[HANDLING, v5!("MQTT-3.3.2-9")]),
        Row::own("malformed.property.topic-alias-unmapped", "A PUBLISH with an empty topic and an alias never set on this connection is a protocol error", body!(topic_alias_unmapped))
        .v5(&[HANDLING, v5!("MQTT-3.3.2-7")])
        .requires(&[Cap::TopicAlias]),
        Row::new("malformed.property.connect-receive-maximum-zero", "A CONNECT with Receive Maximum 0 is refused and closed", Check::Connect { what: "CONNECT with Receive Maximum 0", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::two(PropertyId::RECEIVE_MAXIMUM, 0);
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.connect-maximum-packet-size-zero", "A CONNECT with Maximum Packet Size 0 is refused and closed", Check::Connect { what: "CONNECT with Maximum Packet Size 0", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::four(PropertyId::MAXIMUM_PACKET_SIZE, 0);
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.connect-request-problem-information-2", "A CONNECT with Request Problem Information 2 is refused and closed", Check::Connect { what: "CONNECT with Request Problem Information 2", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::byte(PropertyId::REQUEST_PROBLEM_INFORMATION, 2);
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.connect-request-response-information-2", "A CONNECT with Request Response Information 2 is refused and closed", Check::Connect { what: "CONNECT with Request Response Information 2", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::byte(PropertyId::REQUEST_RESPONSE_INFORMATION, 2);
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.connect-auth-data-without-method", "A CONNECT with Authentication Data but no Authentication Method is refused and closed", Check::Connect { what: "CONNECT with Authentication Data and no method", v311_codes: &[], v5_codes: GENERIC, bytes: |ctx| {
    let p = RawProperty::bytes(PropertyId::AUTHENTICATION_DATA, b"data".to_vec());
    connect_props(ctx, vec![p]).to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.4-1"), v5!("MQTT-4.13.2-1")]),
        Row::new("malformed.property.subscription-identifier-zero", "A SUBSCRIBE with Subscription Identifier 0 makes the server close without SUBACK", Check::After { what: "SUBSCRIBE with Subscription Identifier 0", codes: GENERIC, bytes: |ctx| {
    let f = ctx.topic("s");
    let p = RawProperty::vbi(PropertyId::SUBSCRIPTION_IDENTIFIER, 0);
    let bytes = raw_subscribe(ctx, 1, &[p], &[(f.as_bytes(), 0)]);
    bytes.to_vec()
} })
        .v5(&[HANDLING])
        .requires(&[Cap::SubscriptionIds]),
    ]
}

fn reason_code_tests() -> Vec<Row<Check>> {
    vec![
        Row::new("malformed.property.length-missing.publish", "A 5.0 PUBLISH without its Property Length (payload read as one) makes the server close", Check::After { what: "PUBLISH without Property Length", codes: GENERIC, bytes: |ctx| {
    // Without the Property Length the first payload byte, 'x' (120), is read as one: it runs
    // past the end of the packet.
    let topic = ctx.topic("p");
    let bytes = RawPacket::new(3, 0).string(&topic).bytes(b"xy").to_bytes();
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-2.2.2-1"), HANDLING]),
        Row::new("malformed.property.length-missing.subscribe", "A 5.0 SUBSCRIBE without its Property Length makes the server close without SUBACK", Check::After { what: "SUBSCRIBE without Property Length", codes: GENERIC, bytes: |ctx| {
    let f = ctx.topic("s");
    let bytes = RawPacket::new(8, 0b0010).u16(1).string(&f).u8(0).to_bytes();
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-2.2.2-1"), HANDLING]),
        // The reason code tables bind the sender; the standard does not say that a receiver has to
        // check them, so rejecting an acknowledgement with a foreign code is advisory.
        Row::new("malformed.reason-code.puback", "A PUBACK with reason code 0x05 (not a PUBACK code) makes the server close", Check::After { what: "PUBACK with reason code 0x05", codes: GENERIC, bytes: |_| {
    let bytes = ack_with_reason(4, 0, 1, 0x05);
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-3.4.2-1"), HANDLING])
        .should(),
        Row::new("malformed.reason-code.pubrec", "A PUBREC with reason code 0x05 (not a PUBREC code) makes the server close", Check::After { what: "PUBREC with reason code 0x05", codes: GENERIC, bytes: |_| {
    let bytes = ack_with_reason(5, 0, 1, 0x05);
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-3.5.2-1"), HANDLING])
        .should(),
        Row::own("malformed.reason-code.pubrel", "A PUBREL with reason code 0x10 (not a PUBREL code) makes the server close without PUBCOMP", body!(pubrel_bad_reason))
        .v5(&[v5!("MQTT-3.6.2-1"), HANDLING])
        .should(),
        Row::new("malformed.reason-code.pubcomp", "A PUBCOMP with reason code 0x80 (not a PUBCOMP code) makes the server close", Check::After { what: "PUBCOMP with reason code 0x80", codes: GENERIC, bytes: |_| {
    let bytes = ack_with_reason(7, 0, 1, 0x80);
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-3.7.2-1"), HANDLING])
        .should(),
        Row::new("malformed.response-topic.wildcard", "A PUBLISH whose Response Topic contains '#' is treated as an error and closed", Check::After { what: "PUBLISH with Response Topic '<prefix>/reply/#'", codes: TOPIC_NAME, bytes: |ctx| {
    let rt = topic_bytes(ctx, b"reply/#");
    let props = [RawProperty::bytes(PropertyId::RESPONSE_TOPIC, rt)];
    publish_props(ctx, &props).to_vec()
} })
        .v5(&[v5!("MQTT-3.3.2-14"), HANDLING])
        .should(),
    ]
}

fn packet_id_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.packet-id.zero.publish-qos1",
            "A QoS 1 PUBLISH with packet identifier 0 makes the server close without PUBACK",
            Check::After {
                what: "PUBLISH QoS 1 with packet identifier 0",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("q1");
                    let bytes = raw_publish(ctx, 0b0010, topic.as_bytes(), Some(0), &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.3.1-1")])
        .v5(&[HANDLING, v5!("MQTT-2.2.1-3")])
        .requires(&[Cap::QoS1]),
        Row::new(
            "malformed.packet-id.zero.publish-qos2",
            "A QoS 2 PUBLISH with packet identifier 0 makes the server close without PUBREC",
            Check::After {
                what: "PUBLISH QoS 2 with packet identifier 0",
                codes: GENERIC,
                bytes: |ctx| {
                    let topic = ctx.topic("q2");
                    let bytes = raw_publish(ctx, 0b0100, topic.as_bytes(), Some(0), &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.3.1-1")])
        .v5(&[HANDLING, v5!("MQTT-2.2.1-3")])
        .requires(&[Cap::QoS2]),
        Row::new(
            "malformed.packet-id.zero.subscribe",
            "A SUBSCRIBE with packet identifier 0 makes the server close without SUBACK",
            Check::After {
                what: "SUBSCRIBE with packet identifier 0",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = ctx.topic("s");
                    let bytes = raw_subscribe(ctx, 0, &[], &[(f.as_bytes(), 0)]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.3.1-1")])
        .v5(&[HANDLING, v5!("MQTT-2.2.1-3")]),
        Row::new(
            "malformed.packet-id.zero.unsubscribe",
            "An UNSUBSCRIBE with packet identifier 0 makes the server close without UNSUBACK",
            Check::After {
                what: "UNSUBSCRIBE with packet identifier 0",
                codes: GENERIC,
                bytes: |ctx| {
                    let f = ctx.topic("s");
                    let bytes = raw_unsubscribe(ctx, 0, &[f.as_bytes()]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-2.3.1-1")])
        .v5(&[HANDLING, v5!("MQTT-2.2.1-3")]),
    ]
}

fn topic_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.topic-name.plus",
            "A PUBLISH topic name containing '+' makes the server close",
            Check::After {
                what: "PUBLISH to a topic name containing '+'",
                codes: TOPIC_NAME,
                bytes: |ctx| {
                    let topic = topic_bytes(ctx, b"a/+/b");
                    let bytes = raw_publish(ctx, 0, &topic, None, &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.3.2-2"), v311!("MQTT-4.7.1-1")])
        .v5(&[v5!("MQTT-3.3.2-2"), v5!("MQTT-4.7.0-1"), HANDLING]),
        Row::new(
            "malformed.topic-name.hash",
            "A PUBLISH topic name containing '#' makes the server close",
            Check::After {
                what: "PUBLISH to a topic name containing '#'",
                codes: TOPIC_NAME,
                bytes: |ctx| {
                    let topic = topic_bytes(ctx, b"a/#");
                    let bytes = raw_publish(ctx, 0, &topic, None, &[], b"x");
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-3.3.2-2"), v311!("MQTT-4.7.1-1")])
        .v5(&[v5!("MQTT-3.3.2-2"), v5!("MQTT-4.7.0-1"), HANDLING]),
        Row::new(
            "malformed.topic-name.empty",
            "A PUBLISH with a zero-length topic name (and no Topic Alias) makes the server close",
            Check::After {
                what: "PUBLISH with a zero-length topic name",
                codes: PROTOCOL_ERROR,
                bytes: |ctx| raw_publish(ctx, 0, b"", None, &[], b"x").to_vec(),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-1")])
        .v5(&[v5!("MQTT-4.7.3-1"), HANDLING]),
        Row::new(
            "malformed.topic-filter.hash-not-last",
            "A SUBSCRIBE filter with '#' before the last level makes the server close (3.1.1: or refuse it in SUBACK)",
            Check::Filter {
                what: "SUBSCRIBE to '<prefix>/a/#/b'",
                codes: TOPIC_FILTER,
                suback_v311: true,
                suback_v5: false,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"a/#/b");
                    raw_subscribe(ctx, 1, &[], &[(&f, 0)]).to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.7.1-2")])
        .v5(&[v5!("MQTT-4.7.1-1"), HANDLING]),
        Row::new(
            "malformed.topic-filter.hash-not-alone",
            "A SUBSCRIBE filter with '#' sharing its level ('a#') makes the server close (3.1.1: or refuse it in SUBACK)",
            Check::Filter {
                what: "SUBSCRIBE to '<prefix>/a#'",
                codes: TOPIC_FILTER,
                suback_v311: true,
                suback_v5: false,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"a#");
                    raw_subscribe(ctx, 1, &[], &[(&f, 0)]).to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.7.1-2")])
        .v5(&[v5!("MQTT-4.7.1-1"), HANDLING]),
        Row::new(
            "malformed.topic-filter.plus-not-alone",
            "A SUBSCRIBE filter with '+' sharing its level ('a+') makes the server close (3.1.1: or refuse it in SUBACK)",
            Check::Filter {
                what: "SUBSCRIBE to '<prefix>/a+/b'",
                codes: TOPIC_FILTER,
                suback_v311: true,
                suback_v5: false,
                bytes: |ctx| {
                    let f = topic_bytes(ctx, b"a+/b");
                    raw_subscribe(ctx, 1, &[], &[(&f, 0)]).to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.7.1-3")])
        .v5(&[v5!("MQTT-4.7.1-2"), HANDLING]),
        Row::new(
            "malformed.topic-filter.empty",
            "A SUBSCRIBE with a zero-length topic filter makes the server close (3.1.1: or refuse it in SUBACK)",
            Check::Filter {
                what: "SUBSCRIBE to a zero-length filter",
                codes: TOPIC_FILTER,
                suback_v311: true,
                suback_v5: false,
                bytes: |ctx| raw_subscribe(ctx, 1, &[], &[(b"", 0)]).to_vec(),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-1")])
        .v5(&[v5!("MQTT-4.7.3-1"), HANDLING]),
        Row::new(
            "malformed.topic-filter.unsubscribe-empty",
            "An UNSUBSCRIBE with a zero-length topic filter makes the server close",
            Check::After {
                what: "UNSUBSCRIBE from a zero-length filter",
                codes: TOPIC_FILTER,
                bytes: |ctx| {
                    let bytes = raw_unsubscribe(ctx, 1, &[b""]);
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.7.3-1")])
        .v5(&[v5!("MQTT-4.7.3-1"), HANDLING]),
        Row::new(
            "malformed.topic-filter.shared-empty-share-name",
            "A shared subscription '$share//x' with an empty ShareName is not granted: the server closes or refuses it in SUBACK",
            Check::Filter {
                what: "SUBSCRIBE to '$share//<topic>'",
                codes: TOPIC_FILTER,
                suback_v311: false,
                suback_v5: true,
                bytes: |ctx| {
                    let f = format!("$share//{}", ctx.topic("s"));
                    raw_subscribe(ctx, 1, &[], &[(f.as_bytes(), 0)]).to_vec()
                },
            },
        )
        // The syntax rules of 4.8.2 bind the filter the client sends; the standard does not
        // say how the server reacts to a filter that breaks them, so the check is advisory.
        .v5(&[v5!("MQTT-4.8.2-1"), HANDLING])
        .requires(&[Cap::SharedSubscriptions])
        .should(),
        Row::new(
            "malformed.topic-filter.shared-wildcard-share-name",
            "A shared subscription whose ShareName contains '+' is not granted: the server closes or refuses it in SUBACK",
            Check::Filter {
                what: "SUBSCRIBE to '$share/g+/<topic>'",
                codes: TOPIC_FILTER,
                suback_v311: false,
                suback_v5: true,
                bytes: |ctx| {
                    let f = format!("$share/g+/{}", ctx.topic("s"));
                    raw_subscribe(ctx, 1, &[], &[(f.as_bytes(), 0)]).to_vec()
                },
            },
        )
        // Like the other ShareName rules: they bind the filter the client sends (advisory).
        .v5(&[v5!("MQTT-4.8.2-2"), HANDLING])
        .requires(&[Cap::SharedSubscriptions])
        .should(),
        Row::new(
            "malformed.topic-filter.shared-no-filter",
            "A shared subscription '$share/name' with no topic filter is not granted: the server closes or refuses it in SUBACK",
            Check::Filter {
                what: "SUBSCRIBE to '$share/<name>' with no filter",
                codes: TOPIC_FILTER,
                suback_v311: false,
                suback_v5: true,
                bytes: |ctx| {
                    let f = format!("$share/{}", ctx.client_id("g"));
                    raw_subscribe(ctx, 1, &[], &[(f.as_bytes(), 0)]).to_vec()
                },
            },
        )
        .v5(&[v5!("MQTT-4.8.2-2"), HANDLING])
        .requires(&[Cap::SharedSubscriptions])
        .should(),
    ]
}

fn subscribe_tests() -> Vec<Row<Check>> {
    vec![
        Row::new("malformed.subscribe.no-filters", "A SUBSCRIBE with no topic filter makes the server close without SUBACK", Check::After { what: "SUBSCRIBE with no topic filter", codes: GENERIC, bytes: |ctx| {
    let bytes = raw_subscribe(ctx, 1, &[], &[]);
    bytes.to_vec()
} })
        .v311(&[v311!("MQTT-3.8.3-3")])
        .v5(&[v5!("MQTT-3.8.3-2"), HANDLING]),
        Row::new("malformed.subscribe.options-bit-7", "A SUBSCRIBE whose options byte has the reserved bit 7 set makes the server close", Check::After { what: "SUBSCRIBE with options byte 0x81", codes: GENERIC, bytes: |ctx| subscribe_options(ctx, 0x81).to_vec() })
        .v311(&[v311!("MQTT-3.8.3-4")])
        .v5(&[v5!("MQTT-3.8.3-5"), HANDLING]),
        Row::new("malformed.subscribe.options-bit-6", "A SUBSCRIBE whose options byte has the reserved bit 6 set makes the server close", Check::After { what: "SUBSCRIBE with options byte 0x41", codes: GENERIC, bytes: |ctx| subscribe_options(ctx, 0x41).to_vec() })
        .v311(&[v311!("MQTT-3.8.3-4")])
        .v5(&[v5!("MQTT-3.8.3-5"), HANDLING]),
        Row::new("malformed.subscribe.options-bit-2", "A SUBSCRIBE whose requested-QoS byte has bit 2 set (reserved in 3.1.1) makes the server close", Check::After { what: "SUBSCRIBE with options byte 0x05", codes: GENERIC, bytes: |ctx| subscribe_options(ctx, 0x05).to_vec() })
        .v311(&[v311!("MQTT-3.8.3-4")]),
        Row::new("malformed.subscribe.qos3", "A SUBSCRIBE requesting QoS 3 makes the server close without SUBACK", Check::After { what: "SUBSCRIBE with options byte 0x03", codes: GENERIC, bytes: |ctx| subscribe_options(ctx, 0x03).to_vec() })
        .v311(&[v311!("MQTT-3.8.3-4")])
        .v5(&[HANDLING]),
        Row::new("malformed.subscribe.retain-handling-3", "A SUBSCRIBE with Retain Handling 3 makes the server close without SUBACK", Check::After { what: "SUBSCRIBE with options byte 0x30", codes: GENERIC, bytes: |ctx| subscribe_options(ctx, 0x30).to_vec() })
        .v5(&[HANDLING]),
        Row::new("malformed.subscribe.shared-no-local", "A shared subscription with No Local set makes the server close without SUBACK", Check::After { what: "SUBSCRIBE to a shared subscription with No Local", codes: GENERIC, bytes: |ctx| {
    let f = format!("$share/{}/{}", ctx.client_id("g"), ctx.topic("s"));
    let bytes = raw_subscribe(ctx, 1, &[], &[(f.as_bytes(), 0x04)]);
    bytes.to_vec()
} })
        .v5(&[v5!("MQTT-3.8.3-4"), HANDLING])
        .requires(&[Cap::SharedSubscriptions]),
        Row::new("malformed.unsubscribe.no-filters", "An UNSUBSCRIBE with no topic filter makes the server close without UNSUBACK", Check::After { what: "UNSUBSCRIBE with no topic filter", codes: GENERIC, bytes: |ctx| {
    let bytes = raw_unsubscribe(ctx, 1, &[]);
    bytes.to_vec()
} })
        .v311(&[v311!("MQTT-3.10.3-2")])
        .v5(&[v5!("MQTT-3.10.3-2"), HANDLING]),
    ]
}

fn connack_from_client() -> Check {
    Check::After {
        what: "CONNACK from the client",
        codes: GENERIC,
        bytes: |ctx| {
            let p = Packet::ConnAck(ConnAck::default());
            let bytes = RawPacket::from_packet(&p, ctx.version()).to_bytes();
            bytes.to_vec()
        },
    }
}

fn server_only_tests() -> Vec<Row<Check>> {
    vec![
        Row::new(
            "malformed.server-only.connack",
            "A CONNACK sent to the server makes it close",
            connack_from_client(),
        )
        .v311(&[v311!("MQTT-4.8.0-1")]),
        // 5.0 calls no packet sent in the wrong direction a Protocol Error: closing is advisory.
        Row::new(
            "malformed.server-only.connack",
            "A CONNACK sent to the server makes it close",
            connack_from_client(),
        )
        .v5(&[HANDLING])
        .should(),
        Row::new(
            "malformed.server-only.suback",
            "A SUBACK sent to the server makes it close",
            Check::After {
                what: "SUBACK from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let p = Packet::SubAck(mqtt_codec::SubAck {
                        packet_id: 1,
                        reason_codes: vec![ReasonCode::GRANTED_QOS_0],
                        properties: Default::default(),
                    });
                    let bytes = RawPacket::from_packet(&p, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")]),
        // 5.0 calls no packet sent in the wrong direction a Protocol Error: closing is advisory.
        Row::new(
            "malformed.server-only.suback",
            "A SUBACK sent to the server makes it close",
            Check::After {
                what: "SUBACK from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let p = Packet::SubAck(mqtt_codec::SubAck {
                        packet_id: 1,
                        reason_codes: vec![ReasonCode::GRANTED_QOS_0],
                        properties: Default::default(),
                    });
                    let bytes = RawPacket::from_packet(&p, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[HANDLING])
        .should(),
        Row::new(
            "malformed.server-only.unsuback",
            "An UNSUBACK sent to the server makes it close",
            Check::After {
                what: "UNSUBACK from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let p = Packet::UnsubAck(mqtt_codec::UnsubAck {
                        packet_id: 1,
                        reason_codes: if ctx.v5() {
                            vec![ReasonCode::SUCCESS]
                        } else {
                            Vec::new()
                        },
                        properties: Default::default(),
                    });
                    let bytes = RawPacket::from_packet(&p, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")]),
        // 5.0 calls no packet sent in the wrong direction a Protocol Error: closing is advisory.
        Row::new(
            "malformed.server-only.unsuback",
            "An UNSUBACK sent to the server makes it close",
            Check::After {
                what: "UNSUBACK from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let p = Packet::UnsubAck(mqtt_codec::UnsubAck {
                        packet_id: 1,
                        reason_codes: if ctx.v5() {
                            vec![ReasonCode::SUCCESS]
                        } else {
                            Vec::new()
                        },
                        properties: Default::default(),
                    });
                    let bytes = RawPacket::from_packet(&p, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[HANDLING])
        .should(),
        Row::new(
            "malformed.server-only.pingresp",
            "A PINGRESP sent to the server makes it close",
            Check::After {
                what: "PINGRESP from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let bytes = RawPacket::from_packet(&Packet::PingResp, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v311(&[v311!("MQTT-4.8.0-1")]),
        // 5.0 calls no packet sent in the wrong direction a Protocol Error: closing is advisory.
        Row::new(
            "malformed.server-only.pingresp",
            "A PINGRESP sent to the server makes it close",
            Check::After {
                what: "PINGRESP from the client",
                codes: GENERIC,
                bytes: |ctx| {
                    let bytes = RawPacket::from_packet(&Packet::PingResp, ctx.version()).to_bytes();
                    bytes.to_vec()
                },
            },
        )
        .v5(&[HANDLING])
        .should(),
    ]
}

fn disconnect_tests() -> Vec<Row<Check>> {
    vec![
        Row::new("malformed.disconnect.trailing-byte", "A 3.1.1 DISCONNECT with a body is malformed: the server publishes the will", Check::Will { what: "DISCONNECT with a 1-byte body (E0 01 00)", session_expiry: None, bytes: |_| {
    ([0xE0, 0x01, 0x00]).to_vec()
} })
        .v311(&[v311!("MQTT-4.8.0-1"), v311!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        Row::new("malformed.disconnect.session-expiry-after-zero", "DISCONNECT setting a Session Expiry Interval after CONNECT had 0 is a protocol error: the will is published", Check::Will { what: "DISCONNECT 0x00 with Session Expiry Interval 30 after CONNECT had none", session_expiry: None, bytes: |_| {
    let bytes = RawPacket::new(14, 0)
        .u8(0x00)
        .properties(&[RawProperty::four(PropertyId::SESSION_EXPIRY_INTERVAL, 30)])
        .to_bytes();
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        Row::new("malformed.disconnect.misplaced-property", "A DISCONNECT carrying Topic Alias is malformed: the server publishes the will", Check::Will { what: "DISCONNECT 0x00 with Topic Alias", session_expiry: None, bytes: |_| {
    let bytes = RawPacket::new(14, 0)
        .u8(0x00)
        .properties(&[RawProperty::two(PropertyId::TOPIC_ALIAS, 1)])
        .to_bytes();
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        Row::new("malformed.disconnect.duplicate-property", "A DISCONNECT carrying Session Expiry Interval twice is a protocol error: the will is published", Check::Will { what: "DISCONNECT 0x00 with Session Expiry Interval twice", session_expiry: Some(10), bytes: |_| {
    let p = RawProperty::four(PropertyId::SESSION_EXPIRY_INTERVAL, 0);
    let bytes = RawPacket::new(14, 0)
        .u8(0x00)
        .properties(&[p.clone(), p])
        .to_bytes();
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
    ]
}

fn auth_tests() -> Vec<Row<Check>> {
    vec![
        Row::own("auth.unknown-method", "A CONNECT naming an unknown Authentication Method gets a close, optionally after a CONNACK error code (0x8C/0x87 suggested)", body!(auth_unknown_method))
        .v5(&[v5!("MQTT-4.12.0-1"), v5!("MQTT-4.12.0-4"), v5!("MQTT-4.12.0-5")]),
        Row::own("auth.none-without-method-in-connect", "Without an Authentication Method in CONNECT the server sends no AUTH and no method in CONNACK", body!(auth_none_without_method))
        .v5(&[v5!("MQTT-4.12.0-6")]),
        Row::own("auth.rejected-closes", "A rejected enhanced authentication ends with CONNACK 0x80 or above (or none) and a close", body!(auth_rejected_closes))
        .v5(&[v5!("MQTT-4.12.0-4"), v5!("MQTT-4.12.0-2"), v5!("MQTT-4.13.2-1")]),
        Row::new("auth.reauthenticate-without-method-in-connect", "AUTH 0x19 on a connection whose CONNECT had no Authentication Method is a protocol error", Check::After { what: "AUTH 0x19 on a connection without enhanced authentication", codes: GENERIC, bytes: |_| {
    let bytes = auth_packet(0x19, SCRAM);
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-4.12.0-7")]),
        Row::new("auth.continue-without-method-in-connect", "AUTH 0x18 on a connection whose CONNECT had no Authentication Method is a protocol error", Check::After { what: "AUTH 0x18 on a connection without enhanced authentication", codes: GENERIC, bytes: |_| {
    let bytes = auth_packet(0x18, SCRAM);
    bytes.to_vec()
} })
        .v5(&[HANDLING, v5!("MQTT-4.12.0-7")]),
        Row::own("auth.method-changed-during-exchange", "An AUTH naming another method than CONNECT during the exchange is a protocol error", body!(auth_method_changed))
        .v5(&[v5!("MQTT-4.12.0-5"), HANDLING]),
        Row::own("auth.exchange", "A SCRAM-SHA-256 exchange: AUTH 0x18 from the server and a CONNACK, all with the CONNECT's method", body!(auth_exchange))
        .v5(&[v5!("MQTT-4.12.0-2"), v5!("MQTT-4.12.0-5"), v5!("MQTT-3.15.2-1")]),
        Row::own("auth.within-maximum-packet-size", "The server's AUTH packets respect the client's Maximum Packet Size (256 bytes)", body!(auth_within_maximum_packet_size))
        .v5(&[
            v5!("MQTT-3.15.2-2"),
            v5!("MQTT-3.15.2-3"),
            v5!("MQTT-4.12.0-2"),
            v5!("MQTT-4.12.0-5"),
        ]),
        Row::own("auth.reauthenticate-failure-closes", "A failed re-authentication ends the connection (optionally after DISCONNECT with an error code)", body!(auth_reauth_failure))
        .v5(&[v5!("MQTT-4.12.1-2"), HANDLING, v5!("MQTT-4.12.0-2")]),
        Row::own("auth.reauthenticate-other-method", "Re-authentication naming another method than the one the connection used is a protocol error", body!(auth_reauth_other_method))
        .v5(&[v5!("MQTT-4.12.1-1"), HANDLING]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `<prefix>/<suffix bytes>` as bytes (the suffix may be anything).
fn topic_bytes(ctx: &Ctx, suffix: &[u8]) -> Vec<u8> {
    let mut t = ctx.topic_prefix().as_bytes().to_vec();
    t.push(b'/');
    t.extend_from_slice(suffix);
    t
}

/// A PUBLISH as raw bytes: `flags`, topic, packet id (when given), 5.0 property block, payload.
fn raw_publish(
    ctx: &Ctx,
    flags: u8,
    topic: &[u8],
    packet_id: Option<u16>,
    props: &[RawProperty],
    payload: &[u8],
) -> Bytes {
    let mut p = RawPacket::new(3, flags).string_bytes(topic);
    if let Some(id) = packet_id {
        p = p.u16(id);
    }
    if ctx.v5() {
        p = p.properties(props);
    }
    p.bytes(payload).to_bytes()
}

/// A SUBSCRIBE as raw bytes: flags 0010, `packet_id`, 5.0 properties, then (filter, options).
fn raw_subscribe(
    ctx: &Ctx,
    packet_id: u16,
    props: &[RawProperty],
    entries: &[(&[u8], u8)],
) -> Bytes {
    let mut p = RawPacket::new(8, 0b0010).u16(packet_id);
    if ctx.v5() {
        p = p.properties(props);
    }
    for (filter, options) in entries {
        p = p.string_bytes(filter).u8(*options);
    }
    p.to_bytes()
}

/// An UNSUBSCRIBE as raw bytes: flags 0010, `packet_id`, 5.0 empty properties, filters.
fn raw_unsubscribe(ctx: &Ctx, packet_id: u16, filters: &[&[u8]]) -> Bytes {
    let mut p = RawPacket::new(10, 0b0010).u16(packet_id);
    if ctx.v5() {
        p = p.properties(&[]);
    }
    for f in filters {
        p = p.string_bytes(f);
    }
    p.to_bytes()
}

/// What a raw CONNECT contains.
struct RawConnect {
    client_id: Vec<u8>,
    props: Vec<RawProperty>,
    will: Option<(Vec<RawProperty>, Vec<u8>)>,
    username: Option<Vec<u8>>,
}

impl RawConnect {
    fn new(ctx: &Ctx, label: &str) -> Self {
        RawConnect {
            client_id: ctx.client_id(label).into_bytes(),
            props: Vec::new(),
            will: None,
            username: ctx.profile().username.clone().map(String::into_bytes),
        }
    }

    /// The CONNECT bytes: clean start, keep alive 0, the profile's password if any.
    fn build(&self, ctx: &Ctx) -> Bytes {
        let version = ctx.version();
        let password = if self.username.is_some() {
            ctx.profile().password.clone()
        } else {
            None
        };
        let mut flags = 0x02u8;
        if self.will.is_some() {
            flags |= 0x04;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        if password.is_some() {
            flags |= 0x40;
        }
        let mut p = RawPacket::new(1, 0)
            .string(version.protocol_name())
            .u8(version.level())
            .u8(flags)
            .u16(0);
        if ctx.v5() {
            p = p.properties(&self.props);
        }
        p = p.string_bytes(&self.client_id);
        if let Some((props, topic)) = &self.will {
            if ctx.v5() {
                p = p.properties(props);
            }
            p = p.string_bytes(topic).string("gone");
        }
        if let Some(u) = &self.username {
            p = p.string_bytes(u);
        }
        if let Some(pw) = password {
            p = p.string_bytes(pw.as_bytes());
        }
        p.to_bytes()
    }
}

/// A QoS 0 PUBLISH to `<prefix>/<suffix bytes>`.
fn publish_bad_topic(ctx: &Ctx, suffix: &[u8]) -> Bytes {
    let topic = topic_bytes(ctx, suffix);
    raw_publish(ctx, 0, &topic, None, &[], b"x")
}

/// A QoS 0 PUBLISH with the 5.0 properties `props`.
fn publish_props(ctx: &Ctx, props: &[RawProperty]) -> Bytes {
    let topic = ctx.topic("p");
    raw_publish(ctx, 0, topic.as_bytes(), None, props, b"x")
}

/// A CONNECT with the 5.0 properties `props`.
fn connect_props(ctx: &Ctx, props: Vec<RawProperty>) -> Bytes {
    let mut rc = RawConnect::new(ctx, "a");
    rc.props = props;
    rc.build(ctx)
}

/// A SUBSCRIBE to one filter with the options byte `options`.
fn subscribe_options(ctx: &Ctx, options: u8) -> Bytes {
    let f = ctx.topic("s");
    raw_subscribe(ctx, 1, &[], &[(f.as_bytes(), options)])
}

fn rc_list(codes: &[u8]) -> String {
    codes
        .iter()
        .map(|c| format!("0x{c:02X}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The statement a wrong reason code breaks: 4.13.1-1 in 5.0 (every 5.0 test here lists it).
/// In 5.0 a DISCONNECT gets here only with a code no server may send for an error; a CONNACK
/// with a code the standard does not name for the case does too.
fn rc_fail(ctx: &Ctx, expected: String, observed: String) -> Stop {
    if ctx.v5() {
        Stop::fail_at(HANDLING, expected, observed)
    } else {
        Stop::fail(expected, observed)
    }
}

/// The statement a server breaks by not closing the connection after a forbidden packet (or by
/// answering it instead): [MQTT-4.13.1-1] in 5.0, [MQTT-4.8.0-1] in 3.1.1 ("if either the
/// Server or Client encounters a protocol violation, it MUST close the Network Connection").
/// A row's first statement is often the sender's rule the packet breaks, not this one.
fn close_rule(ctx: &Ctx) -> StatementId {
    ctx.pick(v311!("MQTT-4.8.0-1"), HANDLING)
}

/// After a forbidden packet on an established connection: the server closes it. The close is
/// the MUST ([MQTT-4.13.1-1] in 5.0); the DISCONNECT before it is only a SHOULD and the code
/// a recommendation, so a 5.0 server may first send one DISCONNECT with any error code a
/// server may send (`codes`, the ones the standard names for the case, only describe the
/// expectation). Any other packet (in particular an acknowledgement of the forbidden packet)
/// fails the test.
async fn expect_rejection(ctx: &Ctx, c: &mut Client, what: &str, codes: &[u8]) -> Outcome {
    rejection(ctx, c, what, codes, false).await
}

/// [`expect_rejection`]; with `suback`, a SUBACK for packet id 1 whose codes are all 0x80 or
/// above (the filter refused) passes as well, while one granting the filter fails.
async fn rejection(ctx: &Ctx, c: &mut Client, what: &str, codes: &[u8], suback: bool) -> Outcome {
    rejection_from(ctx, c, what, codes, suback, None).await
}

/// [`rejection`], judging `first` (something already read from the server) before reading on.
async fn rejection_from(
    ctx: &Ctx,
    c: &mut Client,
    what: &str,
    codes: &[u8],
    suback: bool,
    mut first: Option<Incoming>,
) -> Outcome {
    let mut expected = if ctx.v5() {
        format!(
            "after {what}, the connection closes (optionally after a DISCONNECT with an error code; the standard names {})",
            rc_list(codes)
        )
    } else {
        format!("after {what}, the connection closes with nothing sent")
    };
    if suback {
        expected.push_str(", or a SUBACK refuses the filter (0x80 or above)");
    }
    let within = ctx.patience();
    let deadline = Instant::now() + within;
    let mut disconnect: Option<u8> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = match first.take() {
            Some(i) => Some(i),
            None => c.next(left).await?,
        };
        match next {
            Some(Incoming::Closed) => return Ok(()),
            Some(Incoming::Packet(Packet::Disconnect(d))) if disconnect.is_none() => {
                let rc = d.reason_code.0;
                if !ctx.v5() || !server_error_code(d.reason_code) {
                    return Err(rc_fail(
                        ctx,
                        expected,
                        format!("DISCONNECT with reason code 0x{rc:02X}"),
                    ));
                }
                disconnect = Some(rc);
            }
            Some(Incoming::Packet(Packet::SubAck(a)))
                if suback && disconnect.is_none() && a.packet_id == 1 =>
            {
                if !a.reason_codes.is_empty() && a.reason_codes.iter().all(|rc| rc.0 >= 0x80) {
                    return Ok(());
                }
                return Err(Stop::fail(
                    expected,
                    format!(
                        "the server granted the filter: {}",
                        describe(&Packet::SubAck(a))
                    ),
                ));
            }
            Some(Incoming::Packet(p)) => {
                let after = disconnect
                    .map(|rc| format!(" after its DISCONNECT 0x{rc:02X}"))
                    .unwrap_or_default();
                return Err(Stop::fail_at(
                    close_rule(ctx),
                    expected,
                    format!("the server sent {}{after}", describe(&p)),
                ));
            }
            Some(Incoming::Malformed(e)) => {
                return Err(Stop::fail(
                    expected,
                    format!("malformed bytes from the server: {e}"),
                ))
            }
            None => {
                let after = disconnect
                    .map(|rc| format!(" (after DISCONNECT 0x{rc:02X})"))
                    .unwrap_or_default();
                return Err(Stop::fail_at(
                    close_rule(ctx),
                    expected,
                    format!(
                        "the connection was still open after {} ms{after}",
                        within.as_millis()
                    ),
                ));
            }
        }
    }
}

/// After a forbidden CONNECT: the server closes the connection. 3.1.1: without any CONNACK,
/// except a CONNACK whose code is in `v311_codes`. 5.0: optionally after a CONNACK whose
/// reason code is in `v5_codes` (never a DISCONNECT, never a success).
async fn expect_connect_rejection(
    ctx: &Ctx,
    c: &mut Client,
    what: &str,
    v311_codes: &[u8],
    v5_codes: &[u8],
) -> Outcome {
    let codes = if ctx.v5() { v5_codes } else { v311_codes };
    let expected = if codes.is_empty() {
        format!("after {what}, the connection closes without CONNACK")
    } else {
        format!(
            "after {what}, the connection closes (optionally after CONNACK {})",
            rc_list(codes)
        )
    };
    let within = ctx.patience();
    let deadline = Instant::now() + within;
    let mut connack: Option<u8> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next(left).await? {
            Some(Incoming::Closed) => return Ok(()),
            Some(Incoming::Packet(Packet::ConnAck(a))) if connack.is_none() => {
                let rc = a.reason_code.0;
                if rc == 0 {
                    return Err(Stop::fail(
                        expected,
                        "CONNACK 0x00: the CONNECT was accepted",
                    ));
                }
                // 5.0: any CONNACK error code before the close is allowed (3.1.4, 4.13); the
                // listed codes only name what the standard suggests.
                let v5_error = ctx.v5()
                    && rc >= 0x80
                    && a.reason_code.allowed_on(
                        mqtt_codec::PacketType::ConnAck,
                        mqtt_codec::ProtocolVersion::V5,
                    );
                if !codes.contains(&rc) && !v5_error {
                    return Err(rc_fail(ctx, expected, format!("CONNACK 0x{rc:02X}")));
                }
                connack = Some(rc);
            }
            Some(Incoming::Packet(p)) => {
                return Err(Stop::fail(
                    expected,
                    format!("the server sent {}", describe(&p)),
                ))
            }
            Some(Incoming::Malformed(e)) => {
                return Err(Stop::fail(
                    expected,
                    format!("malformed bytes from the server: {e}"),
                ))
            }
            None => {
                let after = connack
                    .map(|rc| format!(" (after CONNACK 0x{rc:02X})"))
                    .unwrap_or_default();
                return Err(Stop::fail_at(
                    close_rule(ctx),
                    expected,
                    format!(
                        "the connection was still open after {} ms{after}",
                        within.as_millis()
                    ),
                ));
            }
        }
    }
}

/// Connects client "a", sends `bytes` and expects the rejection.
async fn reject_after_connect(ctx: Ctx, what: &str, bytes: &[u8], codes: &[u8]) -> Outcome {
    let mut c = ctx.connect("a").await?;
    c.send_raw(what, bytes).await?;
    expect_rejection(&ctx, &mut c, what, codes).await
}

/// Opens a connection, sends the raw CONNECT and expects the rejection.
async fn reject_connect(
    ctx: Ctx,
    what: &str,
    bytes: &[u8],
    v311_codes: &[u8],
    v5_codes: &[u8],
) -> Outcome {
    let mut c = ctx.open("a").await?;
    c.send_raw(what, bytes).await?;
    expect_connect_rejection(&ctx, &mut c, what, v311_codes, v5_codes).await
}

/// Subscribes `c` to `filter` at QoS 0 and waits for a successful SUBACK.
async fn subscribe_ok(ctx: &Ctx, c: &mut Client, filter: &str) -> Outcome {
    c.send(Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![Subscription::new(filter, QoS::AtMostOnce)],
        properties: Default::default(),
    }))
    .await?;
    let codes = c
        .expect(ctx.patience(), "SUBACK for the observer", |p| match p {
            Packet::SubAck(a) if a.packet_id == 1 => Some(a.reason_codes.clone()),
            _ => None,
        })
        .await
        .map_err(|e| Stop::Inconclusive(format!("the observer could not subscribe: {e:?}")))?;
    match codes.first() {
        Some(rc) if rc.0 < 0x80 => Ok(()),
        other => Err(Stop::Inconclusive(format!(
            "the observer's subscription to {filter} was refused ({other:?})"
        ))),
    }
}

/// The will cases: an observer subscribes to the will topic; client "a" connects with a will
/// (5.0: with `connect_props`), sends `bytes` (a DISCONNECT the server has to reject), and the
/// server must close and publish the will (it closed for a protocol error, so the DISCONNECT
/// did not remove the will).
async fn will_after_bad_disconnect(
    ctx: Ctx,
    what: &str,
    bytes: &[u8],
    session_expiry: Option<u32>,
) -> Outcome {
    let will_topic = ctx.topic("will");
    let mut w = ctx.connect("w").await?;
    subscribe_ok(&ctx, &mut w, &will_topic).await?;
    let (mut a, _) = ctx
        .connect_with("a", |c| {
            c.will = Some(Will {
                topic: will_topic.as_str().into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Default::default(),
            });
            if let Some(s) = session_expiry {
                c.properties.session_expiry_interval = Some(s);
            }
        })
        .await?;
    a.send_raw(what, bytes).await?;
    expect_rejection(&ctx, &mut a, what, GENERIC).await?;
    let expected = format!(
        "the will on {will_topic} is published: {what} is rejected, so it does not remove the will"
    );
    w.expect(ctx.patience(), &expected, |p| match p {
        Packet::Publish(m) if *m.topic == *will_topic => Some(()),
        _ => None,
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 1.5 Data representation
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Lengths and Variable Byte Integers
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Fixed header
// ---------------------------------------------------------------------------------------------

fn ack_bytes(ctx: &Ctx, ty: u8, flags: u8, id: u16) -> Bytes {
    let p = RawPacket::new(ty, flags).u16(id);
    // 5.0: reason code 0x00 and an empty property block (the long form).
    if ctx.v5() {
        p.u8(0).properties(&[]).to_bytes()
    } else {
        p.to_bytes()
    }
}

async fn flags_pubrel(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    // With QoS 2 available, open a real exchange first so that a server ignoring the flags
    // has a reason to answer PUBCOMP.
    if ctx.caps().has(Cap::QoS2) {
        let topic = ctx.topic("q2");
        let p = raw_publish(&ctx, 0b0100, topic.as_bytes(), Some(7), &[], b"x");
        c.send_raw("PUBLISH QoS 2 id 7", &p).await?;
        c.expect(ctx.patience(), "PUBREC for id 7", |p| match p {
            Packet::PubRec(r) if r.packet_id == 7 => Some(()),
            _ => None,
        })
        .await
        .map_err(|e| Stop::Inconclusive(format!("no PUBREC for the QoS 2 PUBLISH: {e:?}")))?;
    }
    let bytes = ack_bytes(&ctx, 6, 0b0000, 7);
    c.send_raw("PUBREL with flags 0000", &bytes).await?;
    expect_rejection(&ctx, &mut c, "PUBREL with flags 0000", GENERIC).await
}

// ---------------------------------------------------------------------------------------------
// 2.2.2 Properties (5.0)
// ---------------------------------------------------------------------------------------------

async fn topic_alias_above_max(ctx: Ctx) -> Outcome {
    let max = ctx.caps().topic_alias_maximum;
    let Some(alias) = max.checked_add(1) else {
        return Err(Stop::Skip(
            "Topic Alias Maximum is 65535: no alias is above it".into(),
        ));
    };
    let p = RawProperty::two(PropertyId::TOPIC_ALIAS, alias);
    let what = format!("PUBLISH with Topic Alias {alias} (server maximum {max})");
    let bytes = publish_props(&ctx, &[p]);
    reject_after_connect(ctx, &what, &bytes, TOPIC_ALIAS).await
}

async fn topic_alias_zero_code(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let p = RawProperty::two(PropertyId::TOPIC_ALIAS, 0);
    c.send_raw("PUBLISH with Topic Alias 0", &publish_props(&ctx, &[p]))
        .await?;
    expect_disconnect_code(&ctx, &mut c, ReasonCode::TOPIC_ALIAS_INVALID).await
}

async fn topic_alias_unmapped(ctx: Ctx) -> Outcome {
    // Set alias 1 on a first connection, then use it without a topic on a second one: the
    // mapping did not survive the connection.
    let topic = ctx.topic("alias");
    let mut first = ctx.connect("a").await?;
    let set = raw_publish(
        &ctx,
        0,
        topic.as_bytes(),
        None,
        &[RawProperty::two(PropertyId::TOPIC_ALIAS, 1)],
        b"x",
    );
    first
        .send_raw("PUBLISH setting Topic Alias 1", &set)
        .await?;
    first.disconnect().await?;
    let use_it = raw_publish(
        &ctx,
        0,
        b"",
        None,
        &[RawProperty::two(PropertyId::TOPIC_ALIAS, 1)],
        b"x",
    );
    let what = "PUBLISH with an empty topic and Topic Alias 1 set only on an earlier connection";
    // 3.3.2.3.4: an unknown alias with an empty topic is a Protocol Error (0x82); 0x94 is the
    // code for an alias value out of range, which a server may also judge this to be.
    reject_after_connect(ctx, what, &use_it, &[0x82, 0x94]).await
}

// ---------------------------------------------------------------------------------------------
// Property Length and reason codes (5.0)
// ---------------------------------------------------------------------------------------------

fn ack_with_reason(ty: u8, flags: u8, id: u16, reason: u8) -> Bytes {
    RawPacket::new(ty, flags)
        .u16(id)
        .u8(reason)
        .properties(&[])
        .to_bytes()
}

async fn pubrel_bad_reason(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    if ctx.caps().has(Cap::QoS2) {
        let topic = ctx.topic("q2");
        let p = raw_publish(&ctx, 0b0100, topic.as_bytes(), Some(9), &[], b"x");
        c.send_raw("PUBLISH QoS 2 id 9", &p).await?;
        c.expect(ctx.patience(), "PUBREC for id 9", |p| match p {
            Packet::PubRec(r) if r.packet_id == 9 => Some(()),
            _ => None,
        })
        .await
        .map_err(|e| Stop::Inconclusive(format!("no PUBREC for the QoS 2 PUBLISH: {e:?}")))?;
    }
    let what = "PUBREL with reason code 0x10";
    c.send_raw(what, &ack_with_reason(6, 0b0010, 9, 0x10))
        .await?;
    expect_rejection(&ctx, &mut c, what, GENERIC).await
}

// ---------------------------------------------------------------------------------------------
// 2.3.1 Packet identifiers
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Topic names and filters
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE payloads
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Packets only a server sends
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// DISCONNECT that the server has to reject (observable through the will)
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// 4.12 Enhanced authentication (5.0)
// ---------------------------------------------------------------------------------------------

/// An Authentication Method no broker knows.
const UNKNOWN_METHOD: &str = "mqtt-conform-no-such-method";
/// A widely implemented method, used to start an exchange when the broker offers it.
const SCRAM: &str = "SCRAM-SHA-256";

fn auth_packet(reason: u8, method: &str) -> Bytes {
    RawPacket::new(15, 0)
        .u8(reason)
        .properties(&[RawProperty::bytes(
            PropertyId::AUTHENTICATION_METHOD,
            method.as_bytes().to_vec(),
        )])
        .to_bytes()
}

async fn auth_unknown_method(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.properties.authentication_method = Some(UNKNOWN_METHOD.into());
    c.send(Packet::Connect(Box::new(p))).await?;
    // [MQTT-4.12.0-1]: the server MAY send CONNACK 0x8C or 0x87 and MUST close; it may reject
    // an authentication with any CONNACK code of 0x80 or above ([MQTT-4.12.0-4], 4.13).
    let expected =
        "the connection closes, optionally after a CONNACK error code (0x8C or 0x87 suggested)";
    match c.next(ctx.patience()).await? {
        Some(Incoming::Closed) => Ok(()),
        Some(Incoming::Packet(Packet::ConnAck(a))) => {
            let rc = a.reason_code;
            if rc.0 >= 0x80
                && rc.allowed_on(
                    mqtt_codec::PacketType::ConnAck,
                    mqtt_codec::ProtocolVersion::V5,
                )
            {
                let seen = c.expect_close(ctx.patience()).await?;
                if !seen.before.is_empty() || seen.disconnect.is_some() {
                    return Err(Stop::fail(
                        "nothing after the refusing CONNACK but the close",
                        format!("the server sent {:?} / {:?}", seen.before, seen.disconnect),
                    ));
                }
                return Ok(());
            }
            if rc == ReasonCode::SUCCESS {
                let method = a.properties.authentication_method.as_deref();
                if method == Some(UNKNOWN_METHOD) {
                    return Err(Stop::Skip(format!(
                        "the broker accepted the Authentication Method {UNKNOWN_METHOD}"
                    )));
                }
                return Err(Stop::fail(
                    expected,
                    format!("CONNACK 0x00 with Authentication Method {method:?}"),
                ));
            }
            Err(Stop::fail(expected, format!("CONNACK 0x{:02X}", rc.0)))
        }
        Some(Incoming::Packet(Packet::Auth(a))) => {
            let method = a.properties.authentication_method.as_deref();
            if method == Some(UNKNOWN_METHOD) {
                Err(Stop::Skip(format!(
                    "the broker continues an exchange with method {UNKNOWN_METHOD}"
                )))
            } else {
                Err(Stop::fail_at(
                    v5!("MQTT-4.12.0-5"),
                    format!("any AUTH carries Authentication Method {UNKNOWN_METHOD}"),
                    format!("AUTH with Authentication Method {method:?}"),
                ))
            }
        }
        Some(other) => Err(Stop::fail(
            expected,
            crate::client::describe_incoming(&other),
        )),
        None => Err(Stop::fail(
            expected,
            format!("nothing within {} ms", ctx.patience().as_millis()),
        )),
    }
}

async fn auth_none_without_method(ctx: Ctx) -> Outcome {
    let (mut c, ack) = ctx.connect_with("a", |_| {}).await?;
    if let Some(m) = &ack.properties.authentication_method {
        return Err(Stop::fail(
            "a CONNACK without Authentication Method (CONNECT had none)",
            format!("CONNACK with Authentication Method {:?}", &**m),
        ));
    }
    // Nothing else may start an exchange: the next packet answers our PINGREQ.
    c.send(Packet::PingReq).await?;
    let p = c
        .recv(ctx.patience(), "PINGRESP, and no AUTH before it")
        .await?;
    if p != Packet::PingResp {
        return Err(Stop::fail("PINGRESP, and no AUTH before it", describe(&p)));
    }
    Ok(())
}

async fn auth_rejected_closes(ctx: Ctx) -> Outcome {
    // A SCRAM exchange for a user no broker has. The broker rejects it at the first step
    // (unknown method or user) or after our bogus proof; either way the connection closes,
    // optionally after a CONNACK of 0x80 or above.
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.username = None;
    p.password = None;
    let nonce = format!("mqttconform{}", ctx.client_id("n"));
    p.properties.authentication_method = Some(SCRAM.into());
    p.properties.authentication_data =
        Some(Bytes::from(format!("n,,n=mqtt-conform-nobody,r={nonce}")));
    c.send(Packet::Connect(Box::new(p))).await?;
    let expected = "CONNACK 0x80 or above (or none), then the connection closes";
    let mut answer = c.next(ctx.patience()).await?;
    if let Some(Incoming::Packet(Packet::Auth(a))) = &answer {
        // The server continues: [MQTT-4.12.0-2] says with 0x18, [MQTT-4.12.0-5] same method.
        if a.reason_code != ReasonCode::CONTINUE_AUTHENTICATION {
            return Err(Stop::fail_at(
                v5!("MQTT-4.12.0-2"),
                "an AUTH asking for more data has reason code 0x18",
                format!("AUTH with reason code 0x{:02X}", a.reason_code.0),
            ));
        }
        let fin = format!("c=biws,r={nonce}x,p=bm90IGEgcHJvb2Y=");
        let bogus = RawPacket::new(15, 0)
            .u8(0x18)
            .properties(&[
                RawProperty::bytes(PropertyId::AUTHENTICATION_METHOD, SCRAM.as_bytes().to_vec()),
                RawProperty::bytes(PropertyId::AUTHENTICATION_DATA, fin.into_bytes()),
            ])
            .to_bytes();
        c.send_raw("AUTH 0x18 with a wrong SCRAM proof", &bogus)
            .await?;
        answer = c.next(ctx.patience()).await?;
    }
    match answer {
        Some(Incoming::Closed) => Ok(()),
        Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code.0 >= 0x80 => {
            let seen = c.expect_close(ctx.patience()).await?;
            if !seen.before.is_empty() || seen.disconnect.is_some() {
                return Err(Stop::fail(
                    "nothing after the refusing CONNACK but the close",
                    format!("the server sent {:?} / {:?}", seen.before, seen.disconnect),
                ));
            }
            Ok(())
        }
        Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code == ReasonCode::SUCCESS => {
            Err(Stop::Skip(format!(
                "the broker accepted {SCRAM} for an unknown user without a valid proof"
            )))
        }
        Some(other) => Err(Stop::fail(
            expected,
            crate::client::describe_incoming(&other),
        )),
        None => Err(Stop::fail(
            expected,
            format!("nothing within {} ms", ctx.patience().as_millis()),
        )),
    }
}

/// Starts an enhanced authentication with SCRAM-SHA-256 (client-first message as data).
/// Returns the client and the first answer.
async fn start_scram(ctx: &Ctx) -> Result<(Client, Option<Incoming>), Stop> {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    let user = ctx
        .profile()
        .username
        .clone()
        .unwrap_or_else(|| "mqtt-conform".into());
    p.username = None;
    p.password = None;
    p.properties.authentication_method = Some(SCRAM.into());
    p.properties.authentication_data = Some(Bytes::from(format!(
        "n,,n={user},r=mqttconform{}",
        ctx.client_id("n")
    )));
    c.send(Packet::Connect(Box::new(p))).await?;
    let first = c.next(ctx.patience()).await?;
    Ok((c, first))
}

async fn auth_method_changed(ctx: Ctx) -> Outcome {
    let (mut c, first) = start_scram(&ctx).await?;
    match first {
        Some(Incoming::Packet(Packet::Auth(a)))
            if a.reason_code == ReasonCode::CONTINUE_AUTHENTICATION =>
        {
            let other = "mqtt-conform-other-method";
            let what = format!("AUTH 0x18 naming {other} in a {SCRAM} exchange");
            c.send_raw(&what, &auth_packet(0x18, other)).await?;
            // Still before CONNACK: the server may refuse with a CONNACK error code.
            expect_connect_rejection(&ctx, &mut c, &what, &[], &[0x81, 0x82, 0x87, 0x8C]).await
        }
        Some(i) => Err(Stop::Skip(format!(
            "the broker does not continue an enhanced authentication with {SCRAM}: {}",
            crate::client::describe_incoming(&i)
        ))),
        None => Err(Stop::Skip(format!(
            "no answer to a CONNECT with Authentication Method {SCRAM}"
        ))),
    }
}

/// The profile's credentials, which a SCRAM exchange needs.
fn scram_credentials(ctx: &Ctx) -> Result<(String, String), Stop> {
    match (&ctx.profile().username, &ctx.profile().password) {
        (Some(u), Some(p)) => Ok((u.clone(), p.clone())),
        _ => Err(Stop::Skip(format!(
            "completing an enhanced authentication ({SCRAM}) needs the profile's username and password"
        ))),
    }
}

fn auth_with_data(reason: u8, method: &str, data: &[u8]) -> Bytes {
    RawPacket::new(15, 0)
        .u8(reason)
        .properties(&[
            RawProperty::bytes(
                PropertyId::AUTHENTICATION_METHOD,
                method.as_bytes().to_vec(),
            ),
            RawProperty::bytes(PropertyId::AUTHENTICATION_DATA, data.to_vec()),
        ])
        .to_bytes()
}

/// Waits for the server's AUTH 0x18 of a SCRAM exchange and returns its data. A refusal
/// (CONNACK or DISCONNECT) is a skip when `refusal_skips` (the broker does not offer SCRAM for
/// this user), a failure otherwise.
async fn server_continue(
    ctx: &Ctx,
    c: &mut Client,
    refusal_skips: bool,
) -> Result<(Bytes, usize), Stop> {
    let answer = c.next(ctx.patience()).await?;
    continue_data(ctx, answer, refusal_skips)
}

/// [`server_continue`] on an answer already read.
fn continue_data(
    ctx: &Ctx,
    answer: Option<Incoming>,
    refusal_skips: bool,
) -> Result<(Bytes, usize), Stop> {
    let expected = format!("AUTH 0x18 with Authentication Method {SCRAM}");
    match answer {
        Some(Incoming::Packet(Packet::Auth(a))) => {
            if a.reason_code != ReasonCode::CONTINUE_AUTHENTICATION {
                return Err(Stop::fail_at(
                    v5!("MQTT-4.12.0-2"),
                    expected,
                    format!("AUTH with reason code 0x{:02X}", a.reason_code.0),
                ));
            }
            if a.properties.authentication_method.as_deref() != Some(SCRAM) {
                return Err(Stop::fail_at(
                    v5!("MQTT-4.12.0-5"),
                    expected,
                    format!(
                        "AUTH with Authentication Method {:?}",
                        a.properties.authentication_method.as_deref()
                    ),
                ));
            }
            let size = Packet::Auth(a.clone())
                .encoded_len(mqtt_codec::ProtocolVersion::V5)
                .unwrap_or(usize::MAX);
            Ok((
                a.properties.authentication_data.clone().unwrap_or_default(),
                size,
            ))
        }
        Some(Incoming::Malformed(e)) => Err(Stop::fail(
            expected,
            format!("malformed bytes from the server: {e}"),
        )),
        Some(i) if refusal_skips => Err(Stop::Skip(format!(
            "the broker does not run {SCRAM} for the profile's user: {}",
            crate::client::describe_incoming(&i)
        ))),
        Some(i) => Err(Stop::fail_at(
            v5!("MQTT-4.12.0-2"),
            expected,
            crate::client::describe_incoming(&i),
        )),
        None => Err(Stop::fail_at(
            v5!("MQTT-4.12.0-2"),
            expected,
            format!("nothing within {} ms", ctx.patience().as_millis()),
        )),
    }
}

/// A connection authenticated with SCRAM-SHA-256 using the profile's credentials: CONNECT,
/// AUTH 0x18 from the server, AUTH 0x18 with the proof, CONNACK 0x00 with the same method.
/// With `limit`, the CONNECT announces that Maximum Packet Size and the server's AUTH has to
/// fit in it ([MQTT-3.15.2-2], [MQTT-3.15.2-3]; the caller lists them).
async fn scram_connect(ctx: &Ctx, label: &str, limit: Option<u32>) -> Result<Client, Stop> {
    let (user, password) = scram_credentials(ctx)?;
    let mut scram = ScramClient::new(&user, &password, &format!("mc{}", ctx.client_id(label)));
    let mut c = ctx.open(label).await?;
    let mut p = ctx.connect_packet(label);
    p.username = None;
    p.password = None;
    p.properties.authentication_method = Some(SCRAM.into());
    p.properties.authentication_data = Some(Bytes::from(scram.client_first()));
    p.properties.maximum_packet_size = limit;
    c.send(Packet::Connect(Box::new(p))).await?;
    let (server_first, size) = server_continue(ctx, &mut c, true).await?;
    if let Some(max) = limit {
        if size > max as usize {
            return Err(Stop::fail_at(
                v5!("MQTT-3.15.2-2"),
                format!("an AUTH of at most {max} bytes (the client's Maximum Packet Size)"),
                format!("an AUTH of {size} bytes"),
            ));
        }
    }
    let fin = scram.client_final(&server_first).map_err(|e| {
        Stop::fail_at(
            v5!("MQTT-4.12.0-2"),
            "a SCRAM server-first message in the AUTH data",
            format!("data the client cannot use: {e}"),
        )
    })?;
    c.send_raw(
        "AUTH 0x18 with the SCRAM client-final message",
        &auth_with_data(0x18, SCRAM, &fin),
    )
    .await?;
    let expected = format!("CONNACK 0x00 with Authentication Method {SCRAM}");
    match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code == ReasonCode::SUCCESS => {
            if a.properties.authentication_method.as_deref() != Some(SCRAM) {
                return Err(Stop::fail_at(
                    v5!("MQTT-4.12.0-5"),
                    expected,
                    format!(
                        "CONNACK 0x00 with Authentication Method {:?}",
                        a.properties.authentication_method.as_deref()
                    ),
                ));
            }
            Ok(c)
        }
        Some(i) => Err(Stop::Inconclusive(format!(
            "the {SCRAM} exchange with the profile's credentials did not succeed: {}",
            crate::client::describe_incoming(&i)
        ))),
        None => Err(Stop::Inconclusive(format!(
            "no CONNACK after the {SCRAM} client-final message"
        ))),
    }
}

/// [`scram_connect`] as a precondition: its failures make the test inconclusive.
async fn scram_connect_pre(ctx: &Ctx, label: &str) -> Result<Client, Stop> {
    scram_connect(ctx, label, None).await.map_err(|e| match e {
        Stop::Fail {
            expected, observed, ..
        } => Stop::Inconclusive(format!(
            "the {SCRAM} authentication failed: expected {expected}; observed {observed}"
        )),
        other => other,
    })
}

async fn flags_auth(ctx: Ctx) -> Outcome {
    // Only inside an enhanced-authentication connection is an AUTH 0x19 (re-authentication)
    // a packet the server would answer: there, the flags alone make it malformed, so a server
    // that ignores reserved flag bits answers it (AUTH 0x18) and one that checks them closes.
    // (On a connection without enhanced authentication any AUTH is a protocol error, and the
    // close would prove nothing about the flags.)
    let mut c = scram_connect_pre(&ctx, "a").await?;
    let (user, _) = scram_credentials(&ctx)?;
    let first = format!("n,,n={user},r=mcflags{}", ctx.client_id("a"));
    let bytes = RawPacket::new(15, 0b0001)
        .u8(0x19)
        .properties(&[
            RawProperty::bytes(PropertyId::AUTHENTICATION_METHOD, SCRAM.as_bytes().to_vec()),
            RawProperty::bytes(PropertyId::AUTHENTICATION_DATA, first.into_bytes()),
        ])
        .to_bytes();
    let what = "AUTH 0x19 (re-authentication) with fixed-header flags 0001";
    c.send_raw(what, &bytes).await?;
    expect_rejection(&ctx, &mut c, what, GENERIC).await
}

async fn auth_exchange(ctx: Ctx) -> Outcome {
    let c = scram_connect(&ctx, "a", None).await?;
    c.disconnect().await
}

async fn auth_within_maximum_packet_size(ctx: Ctx) -> Outcome {
    // 256 bytes hold a SCRAM server-first message with room to spare, not a long Reason
    // String or many User Properties.
    let c = scram_connect(&ctx, "a", Some(256)).await?;
    c.disconnect().await
}

async fn auth_reauth_other_method(ctx: Ctx) -> Outcome {
    let mut c = scram_connect_pre(&ctx, "a").await?;
    let other = "mqtt-conform-other-method";
    let what = format!("AUTH 0x19 naming {other} after authenticating with {SCRAM}");
    c.send_raw(&what, &auth_packet(0x19, other)).await?;
    expect_rejection(&ctx, &mut c, &what, GENERIC).await
}

async fn auth_reauth_failure(ctx: Ctx) -> Outcome {
    let mut c = scram_connect_pre(&ctx, "a").await?;
    let (user, _) = scram_credentials(&ctx)?;
    let nonce = format!("mcre{}", ctx.client_id("a"));
    let first = format!("n,,n={user},r={nonce}");
    let what = "AUTH 0x19 (re-authentication) with a SCRAM client-first message";
    c.send_raw(what, &auth_with_data(0x19, SCRAM, first.as_bytes()))
        .await?;
    // The server may refuse the re-authentication at once ([MQTT-4.12.1-2]: DISCONNECT with
    // an error code, a SHOULD, and the close, the MUST): that passes like a refusal of the
    // proof below. An AUTH continuing the exchange has to carry 0x18 ([MQTT-4.12.0-2]).
    let codes: Vec<u8> = (0x80..=0xA2).collect();
    let answer = c.next(ctx.patience()).await?;
    match &answer {
        Some(Incoming::Closed) | Some(Incoming::Packet(Packet::Disconnect(_))) => {
            let refused = rejection_from(&ctx, &mut c, what, &codes, false, answer).await;
            return reauth_refused(refused);
        }
        Some(Incoming::Packet(Packet::Auth(a))) if a.reason_code == ReasonCode::SUCCESS => {
            return Err(Stop::Inconclusive(format!(
                "the server completed the {SCRAM} re-authentication without the proof (AUTH 0x00)"
            )));
        }
        Some(Incoming::Packet(Packet::Auth(_))) | Some(Incoming::Malformed(_)) => {}
        Some(Incoming::Packet(p)) => {
            return Err(Stop::fail(
                format!("after {what}: AUTH 0x18, or a refusal (the close, optionally after DISCONNECT)"),
                format!("the server sent {}", describe(p)),
            ));
        }
        None => {
            return Err(Stop::Inconclusive(format!(
                "no answer to {what} within {} ms: no re-authentication to fail",
                ctx.patience().as_millis()
            )));
        }
    }
    let (server_first, _) = continue_data(&ctx, answer, false)?;
    let combined = String::from_utf8_lossy(&server_first)
        .split(',')
        .find_map(|kv| kv.strip_prefix("r=").map(str::to_string))
        .unwrap_or(nonce);
    let bogus = format!("c=biws,r={combined},p=bm90IGEgcHJvb2Y=");
    let what = "AUTH 0x18 with a wrong SCRAM proof during re-authentication";
    c.send_raw(what, &auth_with_data(0x18, SCRAM, bogus.as_bytes()))
        .await?;
    // Any error code is "suitable" here; a DISCONNECT below 0x80 is not.
    reauth_refused(expect_rejection(&ctx, &mut c, what, &codes).await)
}

/// A failed re-authentication is not a protocol error: what [`rejection`] reports against
/// [MQTT-4.13.1-1] (no close, or a DISCONNECT without an error code) breaks [MQTT-4.12.1-2],
/// the test's first statement, here.
fn reauth_refused(r: Outcome) -> Outcome {
    r.map_err(|e| match e {
        Stop::Fail {
            statement: Some(s),
            expected,
            observed,
        } if s == HANDLING => Stop::fail(expected, observed),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_prefixed() {
        let all = tests();
        // An id may appear twice: once as a 3.1.1 MUST and once as a 5.0 SHOULD. Result ids
        // are unique.
        let mut seen = BTreeSet::new();
        for t in &all {
            for (v, list) in [("v311", t.v311), ("v5", t.v5)] {
                if !list.is_empty() {
                    assert!(
                        seen.insert(format!("{v}.{}", t.id)),
                        "duplicate {v}.{}",
                        t.id
                    );
                }
            }
            assert!(
                t.id.starts_with("malformed.") || t.id.starts_with("auth."),
                "{}",
                t.id
            );
            assert!(
                !t.v311.is_empty() || !t.v5.is_empty(),
                "{} runs nowhere",
                t.id
            );
        }
        assert!(all.len() > 60, "{}", all.len());
    }

    #[test]
    fn every_v5_test_names_the_error_handling_rule() {
        // rc_fail names MQTT-4.13.1-1, which therefore has to be in every 5.0 list.
        for t in tests() {
            // These check their own rules and never call rc_fail.
            let own = [
                "auth.unknown-method",
                "auth.none-without-method-in-connect",
                "auth.rejected-closes",
                "auth.exchange",
                "auth.within-maximum-packet-size",
            ];
            if !t.v5.is_empty() && !own.contains(&t.id) {
                assert!(t.v5.contains(&HANDLING), "{}", t.id);
            }
        }
    }

    #[test]
    fn enhanced_auth_tests_pass_against_the_reference_broker_with_a_scram_user() {
        use std::sync::Arc;

        use crate::embedded::EmbeddedTarget;
        use crate::runner::{plan, run_planned, RunOptions};
        use crate::target::Target;

        let rt = crate::session::embedded_runtime().expect("runtime");
        rt.block_on(async {
            let mut config = mqtt_broker_model::Config::default();
            config.users.insert("alice".into(), "secret".into());
            config.enhanced_auth = true;
            let (t, h) = EmbeddedTarget::start(config, 1, true);
            let target: Arc<dyn Target> = Arc::new(t);
            let opts = RunOptions {
                filters: vec!["v5.auth.*".into()],
                profile: crate::Profile {
                    username: Some("alice".into()),
                    password: Some("secret".into()),
                    ..Default::default()
                },
                ..RunOptions::default()
            };
            let planned = plan(&tests(), &opts).expect("plan");
            assert!(planned.len() >= 8, "{}", planned.len());
            let caps = crate::probe::probe(target.clone(), &opts.profile)
                .await
                .expect("probe")
                .capabilities;
            let results = run_planned(target, caps, planned, &opts, Arc::new(|_| {})).await;
            h.stop().await;
            let bad: Vec<String> = results
                .iter()
                .filter(|r| r.verdict != mqtt_reports::Verdict::Pass)
                .map(|r| format!("{} {:?} {:?} {:?}", r.id, r.verdict, r.observed, r.reason))
                .collect();
            assert!(bad.is_empty(), "{}", bad.join("\n"));
        });
    }

    #[test]
    fn raw_builders_write_the_forbidden_bytes() {
        let ctx = Ctx::standalone(
            std::sync::Arc::new(crate::target::TcpTarget::new("127.0.0.1:1".to_string())),
            mqtt_codec::ProtocolVersion::V5,
            Default::default(),
            "t",
        );
        let p = raw_publish(&ctx, 0b0110, b"a", Some(1), &[], b"x");
        assert_eq!(&p[..], &[0x36, 0x07, 0, 1, b'a', 0, 1, 0, b'x']);
        let s = raw_subscribe(&ctx, 0, &[], &[(b"a", 3)]);
        assert_eq!(&s[..], &[0x82, 0x07, 0, 0, 0, 0, 1, b'a', 3][..]);
        let c = RawConnect::new(&ctx, "a").build(&ctx);
        assert_eq!(c.first(), Some(&0x10));
        assert_eq!(hex::encode(auth_packet(0x19, "m")), "f00619041500016d");
    }
}
