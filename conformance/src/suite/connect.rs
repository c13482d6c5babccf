//! Chapter 3.1 / 3.2: CONNECT and CONNACK; 3.12 / 3.13 PINGREQ / PINGRESP; 3.14 DISCONNECT;
//! keep alive; wills (with the 5.0 Will Delay Interval); client identifiers; authentication
//! failures and session takeover.
//!
//! Every test names the statements it checks; a statement leads to its tests with
//! `grep -n 'MQTT-3.1.2-8' conformance/src/suite/connect.rs`.

use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{
    decode_bytes, ConnAck, Connect, DecodeErrorKind, Disconnect, Limits, Packet, PacketType,
    ProtocolVersion, PubAck, PubRel, Publish, QoS, ReasonCode, Side, Subscribe, Subscription,
    Unsubscribe, Will,
};
use mqtt_spec::{v311, v5};
use tokio::time::Instant;

use super::util::{connect_persistent, optional_properties_fit, server_error_code, wire_len};
use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::{describe, describe_incoming, Client, Incoming};

/// The tests of this chapter.
pub fn tests() -> Vec<TestCase> {
    let mut v = connect_tests();
    v.extend(client_id_tests());
    v.extend(connack_tests());
    v.extend(auth_tests());
    v.extend(ping_disconnect_tests());
    v.extend(will_tests());
    v.extend(keep_alive_tests());
    v
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn rc(code: ReasonCode) -> String {
    format!("0x{:02X}", code.0)
}

fn codes(list: &[u8]) -> String {
    list.iter()
        .map(|c| format!("0x{c:02X}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Subscribes `c` to `filter` and waits for a granting SUBACK; a refusal is inconclusive.
async fn subscribe(ctx: &Ctx, c: &mut Client, filter: &str, qos: QoS) -> Result<QoS, Stop> {
    let id = 7;
    c.send(Packet::Subscribe(Subscribe {
        packet_id: id,
        filters: vec![Subscription::new(filter, qos)],
        properties: Default::default(),
    }))
    .await?;
    let ack = c
        .expect(
            ctx.patience(),
            "SUBACK for the test's subscription",
            |p| match p {
                Packet::SubAck(a) if a.packet_id == id => Some(a.clone()),
                _ => None,
            },
        )
        .await
        .map_err(|s| match s {
            Stop::Fail { observed, .. } => {
                Stop::Inconclusive(format!("no SUBACK for {filter}: {observed}"))
            }
            other => other,
        })?;
    match ack.reason_codes.first().and_then(|c| QoS::from_u8(c.0)) {
        Some(q) => Ok(q),
        None => Err(Stop::Inconclusive(format!(
            "the broker refused the subscription to {filter}: {}",
            describe(&Packet::SubAck(ack.clone()))
        ))),
    }
}

/// A will on `topic` with `payload`.
fn will(topic: &str, payload: &'static [u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: topic.into(),
        payload: Bytes::from_static(payload),
        qos,
        retain,
        properties: Default::default(),
    }
}

/// Waits for a PUBLISH on `topic` (acknowledging QoS 1).
async fn expect_publish(
    c: &mut Client,
    within: Duration,
    topic: &str,
    expected: &str,
) -> Result<Publish, Stop> {
    let t = topic.to_string();
    let m = c
        .expect(within, expected, |p| match p {
            Packet::Publish(m) if *m.topic == *t => Some(m.clone()),
            _ => None,
        })
        .await?;
    if m.qos == QoS::AtLeastOnce {
        c.send(Packet::PubAck(PubAck::new(m.packet_id))).await?;
    }
    Ok(m)
}

/// Expects no PUBLISH on `topic` for `quiet` (other packets are ignored).
async fn expect_no_publish(
    c: &mut Client,
    quiet: Duration,
    topic: &str,
    expected: &str,
) -> Result<(), Stop> {
    let deadline = Instant::now() + quiet;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next(left).await? {
            None => return Ok(()),
            Some(Incoming::Packet(Packet::Publish(m))) if *m.topic == *topic => {
                return Err(Stop::fail(expected, describe(&Packet::Publish(m.clone()))))
            }
            Some(Incoming::Packet(_)) => {}
            Some(other) => {
                return Err(Stop::Inconclusive(format!(
                    "the watching client lost its connection: {}",
                    crate::client::describe_incoming(&other)
                )))
            }
        }
    }
}

/// Expects no PUBLISH on `topic` for `quiet`, then publishes a marker there from another
/// client and expects `watcher` to receive it: the silence only means something if the watcher
/// would have seen a publication. A missing marker fails the test's main statement.
async fn quiet_then_marker(
    ctx: &Ctx,
    watcher: &mut Client,
    quiet: Duration,
    topic: &str,
    expected: &str,
) -> Outcome {
    expect_no_publish(watcher, quiet, topic, expected).await?;
    let mut m = ctx.connect("marker").await?;
    m.send(Packet::Publish(Publish::new(topic, "marker")))
        .await?;
    let got = expect_publish(
        watcher,
        ctx.patience(),
        topic,
        &format!("{expected}; then the marker message published after the quiet period"),
    )
    .await?;
    if &got.payload[..] != b"marker" {
        return Err(Stop::fail(expected, describe(&Packet::Publish(got))));
    }
    m.disconnect().await
}

/// The CONNACK at the front of `bytes`, decoded as 5.0 or as 3.1.1 (whichever works), with
/// the version that decoded it.
fn parse_connack(bytes: &[u8]) -> Option<(ConnAck, ProtocolVersion)> {
    let b = Bytes::copy_from_slice(bytes);
    for v in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        if let Ok(Some((Packet::ConnAck(a), _))) =
            decode_bytes(&b, v, &Limits::default(), Some(Side::Server))
        {
            return Some((a, v));
        }
    }
    None
}

fn connect_bytes(ctx: &Ctx, c: Connect) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    Packet::Connect(Box::new(c)).encode_unchecked(ctx.version(), &mut b);
    b.to_vec()
}

// ---------------------------------------------------------------------------------------------
// 3.1 CONNECT: first packet, protocol name and level, flags
// ---------------------------------------------------------------------------------------------

/// A test of a malformed CONNECT: [MQTT-3.1.4-1] and the flag rule of each version (`$v3`,
/// `$v5`), and in 5.0 [MQTT-3.14.0-1] (no DISCONNECT before a CONNACK).
macro_rules! malformed_connect_case {
    ($id:literal, $title:literal, $body:path, $v3:literal, $v5:literal) => {
        TestCase::new($id, $title, body!($body))
            .v311(&[v311!("MQTT-3.1.4-1"), v311!($v3)])
            .v5(&[v5!("MQTT-3.1.4-1"), v5!($v5), v5!("MQTT-3.14.0-1")])
    };
}

fn connect_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "connect.first-packet-must-be-connect",
            "A first packet other than CONNECT makes the server close the connection",
            body!(first_packet_not_connect),
        )
        .v311(&[v311!("MQTT-3.1.0-1")])
        .v5(&[v5!("MQTT-3.1.0-1")]),
        TestCase::new(
            "connect.second-connect-is-violation",
            "A second CONNECT on a connection is a protocol violation",
            body!(second_connect),
        )
        .v311(&[v311!("MQTT-3.1.0-2")])
        .v5(&[v5!("MQTT-3.1.0-2"), v5!("MQTT-3.14.2-1")]),
        TestCase::new(
            "connect.protocol-name-wrong",
            "A CONNECT whose protocol name is not MQTT is not accepted",
            body!(protocol_name_wrong),
        )
        .v311(&[v311!("MQTT-3.1.2-1"), v311!("MQTT-3.1.4-4")])
        .v5(&[v5!("MQTT-3.1.2-1")]),
        TestCase::new(
            "connect.protocol-level-unsupported",
            "An unsupported protocol level is refused (3.1.1: CONNACK 0x01; 5.0: optionally CONNACK 0x84) and the connection closed",
            body!(protocol_level_unsupported),
        )
        .v311(&[v311!("MQTT-3.1.2-2")])
        .v5(&[v5!("MQTT-3.1.2-2")]),
        TestCase::new(
            "connect.reserved-flag-must-be-zero",
            "CONNECT with the reserved flag set is malformed and the connection is closed",
            body!(reserved_flag),
        )
        .v311(&[v311!("MQTT-3.1.2-3"), v311!("MQTT-3.1.4-1")])
        .v5(&[v5!("MQTT-3.1.2-3"), v5!("MQTT-3.1.4-1"), v5!("MQTT-3.14.0-1")]),
        malformed_connect_case!(
            "connect.will-qos-without-will-flag",
            "A CONNECT with Will QoS 1 but no Will Flag is malformed and the connection is closed",
            will_qos_without_flag,
            "MQTT-3.1.2-13",
            "MQTT-3.1.2-11"
        ),
        malformed_connect_case!(
            "connect.will-retain-without-will-flag",
            "A CONNECT with Will Retain but no Will Flag is malformed and the connection is closed",
            will_retain_without_flag,
            "MQTT-3.1.2-15",
            "MQTT-3.1.2-13"
        ),
        malformed_connect_case!(
            "connect.will-qos-3",
            "A CONNECT with Will QoS 3 is malformed and the connection is closed",
            will_qos_3,
            "MQTT-3.1.2-14",
            "MQTT-3.1.2-12"
        ),
        malformed_connect_case!(
            "connect.will-flag-without-will-fields",
            "A CONNECT with the Will Flag but no will topic or payload is malformed and the connection is closed",
            will_flag_without_fields,
            "MQTT-3.1.2-9",
            "MQTT-3.1.2-9"
        ),
        malformed_connect_case!(
            "connect.username-flag-without-username",
            "A CONNECT with the User Name Flag but no user name is malformed and the connection is closed",
            username_flag_without_username,
            "MQTT-3.1.2-19",
            "MQTT-3.1.2-17"
        ),
        TestCase::new(
            "connect.password-without-username",
            "3.1.1: a CONNECT with the Password Flag but no User Name Flag is malformed and the connection is closed",
            body!(password_without_username),
        )
        .v311(&[v311!("MQTT-3.1.4-1"), v311!("MQTT-3.1.2-22")]),
        TestCase::new(
            "connect.password-without-username-allowed",
            "5.0: a password without a user name is allowed: the server does not treat it as malformed",
            body!(password_without_username_v5),
        )
        .v5(&[v5!("MQTT-3.1.4-5")]),
        TestCase::new(
            "connect.session-takeover",
            "A CONNECT with the client id of a connected client closes the older connection (5.0: optionally after a DISCONNECT)",
            body!(session_takeover),
        )
        .v311(&[v311!("MQTT-3.1.4-2")])
        .v5(&[
            v5!("MQTT-3.1.4-3"),
            v5!("MQTT-3.14.2-1"),
            v5!("MQTT-3.14.2-2"),
            v5!("MQTT-3.14.4-1"),
            v5!("MQTT-3.14.4-2"),
        ]),
        TestCase::new(
            "connect.maximum-packet-size-respected",
            "The server sends no packet larger than the client's Maximum Packet Size; a too large message is skipped, later ones still arrive",
            body!(maximum_packet_size),
        )
        .v5(&[v5!("MQTT-3.1.2-24"), v5!("MQTT-3.1.2-25")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "connect.topic-alias-maximum-respected",
            "The server uses no Topic Alias towards a client that allowed none, and none above the client's Topic Alias Maximum",
            body!(topic_alias_maximum),
        )
        .v5(&[v5!("MQTT-3.1.2-27"), v5!("MQTT-3.1.2-26")])
        .requires(&[Cap::Wildcards]),
        TestCase::new(
            "connect.request-problem-information-0",
            "With Request Problem Information 0 the server puts no Reason String or User Property on acknowledgements",
            body!(request_problem_information_0),
        )
        .v5(&[v5!("MQTT-3.1.2-29")])
        .requires(&[Cap::QoS1, Cap::QoS2]),
    ]
}

async fn first_packet_not_connect(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    c.send(Packet::PingReq).await?;
    let seen = c.expect_close(ctx.patience()).await?;
    if !seen.before.is_empty() {
        return Err(Stop::fail(
            "the connection closed with no answer to a PINGREQ sent before CONNECT",
            format!("the server sent {} before closing", seen.before.join(", ")),
        ));
    }
    Ok(())
}

async fn second_connect(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let again = ctx.connect_packet("a");
    c.send(Packet::Connect(Box::new(again))).await?;
    let e = c.watch_close(ctx.patience()).await?;
    if !e.closed {
        return Err(Stop::fail(
            "the server closes the connection after a second CONNECT",
            e.summary(),
        ));
    }
    if let Some(p) = e.before.iter().find(|p| matches!(p, Packet::ConnAck(_))) {
        return Err(Stop::fail(
            "no second CONNACK, only the close",
            format!("the server sent {}", describe(p)),
        ));
    }
    // The close is the MUST ([MQTT-3.1.0-2]); a DISCONNECT before it is a SHOULD, and 0x82
    // only the recommended code (4.13.1): any error code a server may send is conforming.
    if let Some(d) = &e.disconnect {
        if !server_error_code(d.reason_code) {
            return Err(Stop::fail_at(
                v5!("MQTT-3.14.2-1"),
                "a DISCONNECT with an error code a server may send (0x82 recommended), or none, before the close",
                format!("DISCONNECT {}", rc(d.reason_code)),
            ));
        }
    }
    Ok(())
}

/// How a CONNECT the server must not accept may be answered before the close.
struct Refusal {
    /// CONNACK codes allowed in a 3.1.1-format answer (empty: no CONNACK allowed).
    v3_codes: &'static [u8],
    /// CONNACK codes allowed in a 5.0-format answer.
    v5_codes: &'static [u8],
    /// The close is required (otherwise the server may keep quiet and wait).
    close_required: bool,
}

/// Sends `bytes` (a CONNECT the server must not accept) and checks the answer against `r`.
/// A DISCONNECT before the close fails [MQTT-3.14.0-1] (5.0), which the caller must list.
async fn expect_refused(ctx: &Ctx, what: &str, bytes: &[u8], r: Refusal) -> Outcome {
    let (got, closed) = ctx.raw_exchange("a", what, bytes, ctx.patience()).await?;
    let allowed = || {
        let mut a = Vec::new();
        if !r.v3_codes.is_empty() {
            a.push(format!("a 3.1.1 CONNACK {}", codes(r.v3_codes)));
        }
        if !r.v5_codes.is_empty() {
            a.push(format!("a 5.0 CONNACK {}", codes(r.v5_codes)));
        }
        if a.is_empty() {
            "no CONNACK".to_string()
        } else {
            format!("no CONNACK or {}", a.join(" or "))
        }
    };
    if !got.is_empty() {
        if ctx.v5() && got.first().map(|b| b >> 4) == Some(PacketType::Disconnect as u8) {
            return Err(Stop::fail_at(
                v5!("MQTT-3.14.0-1"),
                "no DISCONNECT before a successful CONNACK",
                format!("the server sent {}", hex::encode(&got)),
            ));
        }
        let ok = match parse_connack(&got) {
            // 5.0: a server refusing a CONNECT it must close on MAY first send a CONNACK with
            // any error code (3.1.4, 4.13): the listed codes are what the standard names, but
            // the MUST is the close.
            Some((a, v)) if v.is_v5() => {
                r.v5_codes.contains(&a.reason_code.0)
                    || (r.close_required
                        && a.reason_code.0 >= 0x80
                        && a.reason_code
                            .allowed_on(PacketType::ConnAck, ProtocolVersion::V5))
            }
            Some((a, _)) => r.v3_codes.contains(&a.reason_code.0),
            None => false,
        };
        if !ok {
            let seen = match parse_connack(&got) {
                Some((a, v)) => format!(
                    "a {} CONNACK with code {}",
                    if v.is_v5() { "5.0" } else { "3.1.1" },
                    rc(a.reason_code)
                ),
                None => format!("bytes {}", hex::encode(&got)),
            };
            return Err(Stop::fail(
                format!("{} and then the close", allowed()),
                seen,
            ));
        }
    }
    if r.close_required && !closed {
        return Err(Stop::fail(
            format!("{} and then the close", allowed()),
            format!(
                "the connection was still open after {} ms",
                ctx.patience().as_millis()
            ),
        ));
    }
    Ok(())
}

/// A malformed CONNECT: 3.1.1 closes without any CONNACK [MQTT-3.1.4-1]; 5.0 closes, after at
/// most a CONNACK 0x81 / 0x82 (4.13.1).
async fn expect_malformed_connect(ctx: &Ctx, what: &str, bytes: &[u8]) -> Outcome {
    expect_refused(
        ctx,
        what,
        bytes,
        Refusal {
            v3_codes: &[],
            v5_codes: if ctx.v5() { &[0x81, 0x82] } else { &[] },
            close_required: true,
        },
    )
    .await
}

/// The default CONNECT of the test with its flags byte changed by `f`.
fn connect_with_flags(ctx: &Ctx, c: Connect, f: impl FnOnce(u8) -> u8) -> Result<Vec<u8>, Stop> {
    // The flags byte follows the protocol name (2 + 4 bytes) and the level (1 byte).
    connect_with_flags_at(ctx, c, 7, f)
}

/// The bytes of CONNECT `c` with byte `at` of its body changed by `f`.
fn connect_with_flags_at(
    ctx: &Ctx,
    c: Connect,
    at: usize,
    f: impl FnOnce(u8) -> u8,
) -> Result<Vec<u8>, Stop> {
    let mut raw = RawPacket::from_packet(&Packet::Connect(Box::new(c)), ctx.version());
    match raw.body.get_mut(at) {
        Some(b) => *b = f(*b),
        None => return Err(Stop::Error("CONNECT body too short to patch".into())),
    }
    Ok(raw.to_bytes().to_vec())
}

/// The bytes of CONNECT `c` with byte `at` of its body (after the fixed header) set to
/// `value`.
fn patch_connect_body(ctx: &Ctx, c: Connect, at: usize, value: u8) -> Result<Vec<u8>, Stop> {
    connect_with_flags_at(ctx, c, at, |_| value)
}

async fn protocol_name_wrong(ctx: Ctx) -> Outcome {
    // Name length (2 bytes), then "MQTT": make it "MQTX" (patched in the body, so a long
    // CONNECT with a 2-byte Remaining Length is patched at the same place).
    let bytes = patch_connect_body(&ctx, ctx.connect_packet("a"), 5, b'X')?;
    // [MQTT-3.1.2-1] 3.1.1: the server may close or apply another protocol, but never accepts
    // the CONNECT as MQTT; 5.0: optionally CONNACK 0x84, then the close.
    if !ctx.v5() {
        // 3.1.1 allows silence, which means something only if the same CONNECT named MQTT is
        // accepted. A server may refuse a CONNECT for reasons of its own, so a refusal of this
        // control CONNECT (a CONNACK with a non-zero code, or a close) leaves the test
        // undecided; a valid CONNECT neither acknowledged nor refused fails [MQTT-3.1.4-4].
        let mut c = ctx.open("b").await?;
        c.send(Packet::Connect(Box::new(ctx.connect_packet("b"))))
            .await?;
        let expected = "CONNACK 0x00 for the same CONNECT named MQTT";
        match c.next(ctx.patience()).await? {
            Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code == ReasonCode::SUCCESS => {
                c.disconnect().await?
            }
            Some(Incoming::Packet(Packet::ConnAck(a))) => {
                return Err(Stop::Inconclusive(format!(
                    "the control CONNECT named MQTT was refused: CONNACK {}",
                    rc(a.reason_code)
                )))
            }
            Some(Incoming::Closed) => {
                return Err(Stop::Inconclusive(
                    "the control CONNECT named MQTT was refused: the connection closed".into(),
                ))
            }
            Some(other) => {
                return Err(Stop::fail_at(
                    v311!("MQTT-3.1.4-4"),
                    expected,
                    crate::client::describe_incoming(&other),
                ))
            }
            None => {
                return Err(Stop::fail_at(
                    v311!("MQTT-3.1.4-4"),
                    expected,
                    format!(
                        "neither CONNACK nor a close within {} ms",
                        ctx.patience().as_millis()
                    ),
                ))
            }
        }
    }
    expect_refused(
        &ctx,
        "CONNECT with protocol name MQTX",
        &bytes,
        Refusal {
            v3_codes: &[0x01],
            v5_codes: &[0x84],
            close_required: ctx.v5(),
        },
    )
    .await
}

async fn protocol_level_unsupported(ctx: Ctx) -> Outcome {
    // The level byte follows the name (2 + 4 bytes) in the body.
    // 3.1.1: level 2, below every MQTT version, is the case [MQTT-3.1.2-2] of 3.1.1 describes;
    // 5.0: level 6, a version after 5.
    let level = ctx.pick(2u8, 6u8);
    let bytes = patch_connect_body(&ctx, ctx.connect_packet("a"), 6, level)?;
    let what = format!("CONNECT with protocol level {level}");
    if ctx.v5() {
        // [MQTT-3.1.2-2] 5.0: optionally CONNACK 0x84, then close. A server cannot know the
        // format of an unknown version, so a 3.1.1-format CONNACK 0x01 is accepted too.
        expect_refused(
            &ctx,
            &what,
            &bytes,
            Refusal {
                v3_codes: &[0x01],
                v5_codes: &[0x84],
                close_required: true,
            },
        )
        .await
    } else {
        // [MQTT-3.1.2-2] 3.1.1: CONNACK 0x01 is required, then the close.
        let (got, closed) = ctx.raw_exchange("a", &what, &bytes, ctx.patience()).await?;
        match parse_connack(&got) {
            Some((a, v)) if !v.is_v5() && a.reason_code.0 == 0x01 => {}
            Some((a, _)) => {
                return Err(Stop::fail(
                    "CONNACK 0x01 (unacceptable protocol version), then the close",
                    format!("CONNACK with code {}", rc(a.reason_code)),
                ))
            }
            None => {
                return Err(Stop::fail(
                    "CONNACK 0x01 (unacceptable protocol version), then the close",
                    if got.is_empty() {
                        if closed {
                            "the connection closed without CONNACK".to_string()
                        } else {
                            "nothing".to_string()
                        }
                    } else {
                        format!("bytes {}", hex::encode(&got))
                    },
                ))
            }
        }
        if !closed {
            return Err(Stop::fail(
                "CONNACK 0x01 (unacceptable protocol version), then the close",
                "CONNACK 0x01 but the connection stayed open",
            ));
        }
        Ok(())
    }
}

/// Sends CONNECT `c` with `bits` also set in its flags byte and expects the server to treat
/// it as malformed.
async fn malformed_flags(ctx: &Ctx, c: Connect, bits: u8, what: &str) -> Outcome {
    let bytes = connect_with_flags(ctx, c, |f| f | bits)?;
    expect_malformed_connect(ctx, what, &bytes).await
}

async fn reserved_flag(ctx: Ctx) -> Outcome {
    let c = ctx.connect_packet("a");
    malformed_flags(&ctx, c, 0x01, "CONNECT with reserved flag = 1").await
}

async fn will_qos_without_flag(ctx: Ctx) -> Outcome {
    let c = ctx.connect_packet("a");
    malformed_flags(
        &ctx,
        c,
        0b0000_1000,
        "CONNECT with Will QoS 1 and Will Flag 0",
    )
    .await
}

async fn will_retain_without_flag(ctx: Ctx) -> Outcome {
    let c = ctx.connect_packet("a");
    malformed_flags(
        &ctx,
        c,
        0b0010_0000,
        "CONNECT with Will Retain 1 and Will Flag 0",
    )
    .await
}

async fn will_qos_3(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect_packet("a");
    c.will = Some(will(&ctx.topic("will"), b"w", QoS::AtLeastOnce, false));
    malformed_flags(&ctx, c, 0b0001_1000, "CONNECT with Will QoS 3").await
}

async fn will_flag_without_fields(ctx: Ctx) -> Outcome {
    // The Will Flag is set but the payload ends after the client id (5.0: no will properties).
    let c = ctx.connect_packet("a");
    malformed_flags(
        &ctx,
        c,
        0b0000_0100,
        "CONNECT with Will Flag 1 and no will fields",
    )
    .await
}

async fn username_flag_without_username(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect_packet("a");
    c.username = None;
    c.password = None;
    malformed_flags(
        &ctx,
        c,
        0x80,
        "CONNECT with User Name Flag 1 and no user name",
    )
    .await
}

async fn password_without_username(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect_packet("a");
    c.username = None;
    c.password = Some(Bytes::from_static(b"secret"));
    let bytes = connect_bytes(&ctx, c);
    expect_malformed_connect(&ctx, "CONNECT with a password and no user name", &bytes).await
}

async fn password_without_username_v5(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    if p.username.is_some() {
        return Err(Stop::Skip(
            "the profile gives credentials: a password alone would not authenticate".into(),
        ));
    }
    p.password = Some(Bytes::from_static(b"mqtt-conform"));
    c.send(Packet::Connect(Box::new(p))).await?;
    match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::ConnAck(a))) => {
            if a.reason_code == ReasonCode::SUCCESS {
                Ok(())
            } else if matches!(a.reason_code.0, 0x81 | 0x82) {
                Err(Stop::fail(
                    "CONNACK 0x00 (a password without a user name is well-formed in 5.0)",
                    format!("CONNACK {}", rc(a.reason_code)),
                ))
            } else {
                // Refused for another reason (e.g. the password is checked): not decidable.
                Err(Stop::Inconclusive(format!(
                    "the broker refused the CONNECT with {}",
                    rc(a.reason_code)
                )))
            }
        }
        // A close without CONNACK may be an authentication refusal ([MQTT-3.1.4-2] allows a
        // bare close when the server's own checks fail): it cannot be told apart from taking
        // the packet as malformed.
        Some(Incoming::Closed) => Err(Stop::Inconclusive(
            "the broker closed the connection without a CONNACK: refused as malformed, or by an authentication check".into(),
        )),
        Some(other) => Err(Stop::fail(
            "CONNACK 0x00 (a password without a user name is well-formed in 5.0)",
            describe_incoming(&other),
        )),
        None => Err(Stop::fail(
            "CONNACK 0x00 (a password without a user name is well-formed in 5.0)",
            "nothing",
        )),
    }
}

async fn session_takeover(ctx: Ctx) -> Outcome {
    let mut old = ctx.connect("a").await?;
    let mut new = ctx.open("a").await?;
    new.handshake(ctx.connect_packet("a")).await?;
    let e = old.watch_close(ctx.patience()).await?;
    let expected = ctx.pick(
        "the older connection is closed",
        "the older connection closed, after a DISCONNECT if any (0x8E Session taken over fits)",
    );
    if ctx.v5() {
        // The close is the MUST of [MQTT-3.1.4-3]; a DISCONNECT before it only has to carry a
        // code a server may send ([MQTT-3.14.2-1]); 0x8E itself is checked at SHOULD level by
        // `session.takeover.disconnect-0x8e`.
        match &e.disconnect {
            None if e.closed => {}
            None => return Err(Stop::fail(expected, e.summary())),
            Some(d) => {
                if !d
                    .reason_code
                    .allowed_on(PacketType::Disconnect, ProtocolVersion::V5)
                    || !d
                        .reason_code
                        .allowed_from(PacketType::Disconnect, Side::Server)
                {
                    return Err(Stop::fail_at(
                        v5!("MQTT-3.14.2-1"),
                        "a DISCONNECT reason code a server may send",
                        format!("DISCONNECT {}", rc(d.reason_code)),
                    ));
                }
                if d.properties.session_expiry_interval.is_some() {
                    return Err(Stop::fail_at(
                        v5!("MQTT-3.14.2-2"),
                        "no Session Expiry Interval on a server's DISCONNECT",
                        format!(
                            "Session Expiry Interval {:?}",
                            d.properties.session_expiry_interval
                        ),
                    ));
                }
            }
        }
        if let Some(p) = e.after.first() {
            return Err(Stop::fail_at(
                v5!("MQTT-3.14.4-1"),
                "nothing after the server's DISCONNECT",
                describe(p),
            ));
        }
        if !e.closed {
            return Err(Stop::fail_at(
                v5!("MQTT-3.14.4-2"),
                "the close after the server's DISCONNECT",
                e.summary(),
            ));
        }
    } else if !e.closed {
        return Err(Stop::fail(expected, e.summary()));
    }
    // The new connection works.
    new.send(Packet::PingReq).await?;
    new.expect_type(ctx.patience(), PacketType::PingResp)
        .await
        .map_err(|_| Stop::fail(expected, "the new connection did not answer PINGREQ"))?;
    new.disconnect().await
}

async fn maximum_packet_size(ctx: Ctx) -> Outcome {
    let limit: u32 = 128;
    let topic = ctx.topic("mps");
    let (mut sub, _) = ctx
        .connect_with("s", |c| c.properties.maximum_packet_size = Some(limit))
        .await?;
    subscribe(&ctx, &mut sub, &topic, QoS::AtLeastOnce).await?;
    let mut publ = ctx.connect("p").await?;
    let mut big = Publish::new(topic.as_str(), Bytes::from(vec![b'x'; 400]));
    big.qos = QoS::AtLeastOnce;
    big.packet_id = 1;
    publ.send(Packet::Publish(big)).await?;
    let mut small = Publish::new(topic.as_str(), Bytes::from_static(b"small"));
    small.qos = QoS::AtLeastOnce;
    small.packet_id = 2;
    publ.send(Packet::Publish(small)).await?;
    // Whatever arrives before the small message must fit in the limit.
    let deadline = Instant::now() + ctx.patience();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sub.next(left).await? {
            Some(Incoming::Packet(p)) => {
                let len = wire_len(&p, ProtocolVersion::V5);
                if len > limit as usize {
                    return Err(Stop::fail(
                        format!("no packet larger than the client's Maximum Packet Size {limit}"),
                        format!("{} of {len} bytes", describe(&p)),
                    ));
                }
                if let Packet::Publish(m) = &p {
                    if m.qos == QoS::AtLeastOnce {
                        sub.send(Packet::PubAck(PubAck::new(m.packet_id))).await?;
                    }
                    if &m.payload[..] == b"small" {
                        return Ok(());
                    }
                }
            }
            Some(other) => {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.1.2-25"),
                    "the too large message is dropped and the next one delivered",
                    crate::client::describe_incoming(&other),
                ))
            }
            None => {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.1.2-25"),
                    "the too large message is dropped and the next one delivered",
                    "the small message never arrived",
                ))
            }
        }
    }
}

async fn topic_alias_maximum(ctx: Ctx) -> Outcome {
    let filter = ctx.topic("ta/#");
    let mut none = ctx.connect("n").await?;
    subscribe(&ctx, &mut none, &filter, QoS::AtMostOnce).await?;
    let (mut one, _) = ctx
        .connect_with("o", |c| c.properties.topic_alias_maximum = Some(1))
        .await?;
    subscribe(&ctx, &mut one, &filter, QoS::AtMostOnce).await?;
    let mut publ = ctx.connect("p").await?;
    let topics: Vec<String> = (0..3).map(|i| ctx.topic(&format!("ta/{i}"))).collect();
    for _round in 0..2 {
        for t in &topics {
            publ.send(Packet::Publish(Publish::new(t.as_str(), "m")))
                .await?;
        }
    }
    for (client, max, label) in [(&mut none, 0u16, "none"), (&mut one, 1u16, "one")] {
        for n in 0..6 {
            let m = client
                .expect(
                    ctx.patience(),
                    &format!("6 messages to the client allowing {max} aliases"),
                    |p| match p {
                        Packet::Publish(m) => Some(m.clone()),
                        _ => None,
                    },
                )
                .await
                .map_err(|s| match s {
                    Stop::Fail { observed, .. } => Stop::fail(
                        "6 messages, none with a Topic Alias above the client's maximum",
                        format!("client {label} got only {n} of 6 messages: {observed}"),
                    ),
                    other => other,
                })?;
            if let Some(a) = m.properties.topic_alias {
                if max == 0 {
                    return Err(Stop::fail(
                        "no Topic Alias towards a client that sent no Topic Alias Maximum",
                        format!("PUBLISH with Topic Alias {a}"),
                    ));
                }
                if a > max {
                    return Err(Stop::fail_at(
                        v5!("MQTT-3.1.2-26"),
                        format!("Topic Alias at most {max}"),
                        format!("PUBLISH with Topic Alias {a}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

async fn request_problem_information_0(ctx: Ctx) -> Outcome {
    let (mut c, _) = ctx
        .connect_with("a", |c| {
            c.properties.request_problem_information = Some(false)
        })
        .await?;
    let topic = ctx.topic("rpi");
    // Acknowledgements that often carry a Reason String: no subscribers, no subscription,
    // unknown packet id.
    let mut q1 = Publish::new(topic.as_str(), "x");
    q1.qos = QoS::AtLeastOnce;
    q1.packet_id = 1;
    c.send(Packet::Publish(q1)).await?;
    let mut q2 = Publish::new(topic.as_str(), "x");
    q2.qos = QoS::ExactlyOnce;
    q2.packet_id = 2;
    c.send(Packet::Publish(q2)).await?;
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: 3,
        filters: vec![ctx.topic("never-subscribed").into()],
        properties: Default::default(),
    }))
    .await?;
    c.send(Packet::PubRel(PubRel::new(999))).await?;
    c.send(Packet::Subscribe(Subscribe {
        packet_id: 4,
        filters: vec![Subscription::new(ctx.topic("rpi-sub"), QoS::AtLeastOnce)],
        properties: Default::default(),
    }))
    .await?;
    let mut seen = 0;
    let deadline = Instant::now() + ctx.patience();
    while seen < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let p = match c.next(left).await? {
            Some(Incoming::Packet(p)) => p,
            Some(other) => {
                return Err(Stop::Inconclusive(format!(
                    "the connection ended: {}",
                    crate::client::describe_incoming(&other)
                )))
            }
            None => break,
        };
        let props = match &p {
            Packet::PubAck(a) => Some(&a.properties),
            Packet::PubRec(a) => Some(&a.properties),
            Packet::PubComp(a) => Some(&a.properties),
            Packet::SubAck(a) => Some(&a.properties),
            Packet::UnsubAck(a) => Some(&a.properties),
            _ => None,
        };
        if let Some(props) = props {
            seen += 1;
            if props.reason_string.is_some() || !props.user_properties.is_empty() {
                return Err(Stop::fail(
                    "no Reason String and no User Property on packets other than PUBLISH, CONNACK, DISCONNECT",
                    format!(
                        "{} with reason string {:?} and {} user properties",
                        describe(&p),
                        props.reason_string.as_deref(),
                        props.user_properties.len()
                    ),
                ));
            }
            if let Packet::PubRec(a) = &p {
                c.send(Packet::PubRel(PubRel::new(a.packet_id))).await?;
            }
        }
    }
    if seen < 5 {
        return Err(Stop::fail(
            "PUBACK, PUBREC, UNSUBACK, PUBCOMP and SUBACK without Reason String or User Property",
            format!("only {seen} of the 5 acknowledgements arrived"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3.1.3 Client identifiers
// ---------------------------------------------------------------------------------------------

fn client_id_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "connect.client-id.23-alphanumeric-accepted",
            "A client id of 23 ASCII letters and digits is accepted with CONNACK 0x00",
            body!(client_id_23),
        )
        .v311(&[v311!("MQTT-3.1.3-5"), v311!("MQTT-3.1.4-4")])
        .v5(&[v5!("MQTT-3.1.3-5"), v5!("MQTT-3.1.4-5")]),
        TestCase::new(
            "connect.client-id.empty-gets-unique-id",
            "An empty client id is either refused (3.1.1: CONNACK 0x02; 5.0: CONNACK 0x85) and closed, or given a unique id (5.0: Assigned Client Identifier)",
            body!(client_id_empty),
        )
        .v311(&[v311!("MQTT-3.1.3-6"), v311!("MQTT-3.1.3-9")])
        .v5(&[
            v5!("MQTT-3.1.3-6"),
            v5!("MQTT-3.2.2-16"),
            v5!("MQTT-3.1.3-7"),
            v5!("MQTT-3.1.3-8"),
        ]),
        TestCase::new(
            "connect.client-id.assigned-id-is-the-session-key",
            "The server handles a client with an empty id as if it had sent the assigned id: connecting with that id takes the session over",
            body!(client_id_assigned_is_used),
        )
        .v5(&[v5!("MQTT-3.1.3-7")])
        .requires(&[Cap::EmptyClientId]),
        TestCase::new(
            "connect.client-id.empty-with-persistent-session-refused",
            "3.1.1: an empty client id with CleanSession 0 gets CONNACK 0x02 (session present 0) and the close",
            body!(client_id_empty_persistent),
        )
        .v311(&[
            v311!("MQTT-3.1.3-8"),
            v311!("MQTT-3.1.3-9"),
            v311!("MQTT-3.2.2-4"),
            v311!("MQTT-3.2.2-5"),
        ]),
    ]
}

async fn client_id_23(ctx: Ctx) -> Outcome {
    let mut id = ctx.client_id("k");
    let fill = "aZ09bY18cX27dW36eV45fU5";
    id.push_str(fill.get(..23usize.saturating_sub(id.len())).unwrap_or(""));
    id.truncate(23);
    let mut c = ctx.open("k").await?;
    let mut p = ctx.connect_packet("k");
    p.client_id = id.as_str().into();
    c.send(Packet::Connect(Box::new(p))).await?;
    let expected = format!("CONNACK 0x00 for the {}-character client id {id}", id.len());
    match c.recv(ctx.patience(), &expected).await? {
        Packet::ConnAck(a) if a.reason_code == ReasonCode::SUCCESS => c.disconnect().await,
        other => Err(Stop::fail(expected, describe(&other))),
    }
}

/// Connects with an empty client id: `Ok(Some(ack))` when accepted, `Ok(None)` when refused
/// correctly (code and close checked), an error otherwise.
async fn connect_empty_id(ctx: &Ctx, label: &str) -> Result<Option<(Client, ConnAck)>, Stop> {
    let mut c = ctx.open(label).await?;
    let mut p = ctx.connect_packet(label);
    p.client_id = "".into();
    p.clean_start = true;
    c.send(Packet::Connect(Box::new(p))).await?;
    // 3.1.1 [MQTT-3.1.3-9]: refused with CONNACK 0x02, then the close. 5.0 [MQTT-3.1.3-8]:
    // the CONNACK (0x85 suggested) is a MAY, the close a MUST: any refusing CONNACK, or a bare
    // close, is a correct refusal.
    let refusal = ctx.pick(
        "CONNACK 0x00, or CONNACK 0x02 and the close",
        "CONNACK 0x00, or a refusal (CONNACK 0x85 or another error code, or none) and the close",
    );
    let a = match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::ConnAck(a))) => a,
        Some(Incoming::Closed) if ctx.v5() => return Ok(None),
        Some(other) => return Err(Stop::fail(refusal, describe_incoming(&other))),
        None => return Err(Stop::fail(refusal, "nothing within the deadline")),
    };
    if a.reason_code == ReasonCode::SUCCESS {
        return Ok(Some((c, a)));
    }
    let ok_code = if ctx.v5() {
        a.reason_code.0 >= 0x80
            && a.reason_code
                .allowed_on(PacketType::ConnAck, mqtt_codec::ProtocolVersion::V5)
    } else {
        a.reason_code.0 == 0x02
    };
    let stmt = ctx.pick(v311!("MQTT-3.1.3-9"), v5!("MQTT-3.1.3-8"));
    if !ok_code {
        return Err(Stop::fail_at(
            stmt,
            refusal,
            format!("CONNACK {}", rc(a.reason_code)),
        ));
    }
    let e = c.watch_close(ctx.patience()).await?;
    if !e.closed {
        return Err(Stop::fail_at(stmt, refusal, e.summary()));
    }
    Ok(None)
}

async fn client_id_empty(ctx: Ctx) -> Outcome {
    let Some((mut a, ack_a)) = connect_empty_id(&ctx, "a").await? else {
        return Ok(());
    };
    let Some((mut b, ack_b)) = connect_empty_id(&ctx, "b").await? else {
        return Err(Stop::fail(
            "the same answer to two identical CONNECTs",
            "the first empty client id was accepted, the second refused",
        ));
    };
    if ctx.v5() {
        let ida = ack_a.properties.assigned_client_identifier.clone();
        let idb = ack_b.properties.assigned_client_identifier.clone();
        match (&ida, &idb) {
            (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => {
                if x == y {
                    return Err(Stop::fail_at(
                        v5!("MQTT-3.2.2-16"),
                        "different Assigned Client Identifiers for two clients",
                        format!("both got {:?}", &**x),
                    ));
                }
            }
            _ => {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.2.2-16"),
                    "a non-empty Assigned Client Identifier in the CONNACK of an empty client id",
                    format!(
                        "Assigned Client Identifier {:?} / {:?}",
                        ida.as_deref(),
                        idb.as_deref()
                    ),
                ))
            }
        }
    }
    // Both connections are alive: a shared generated id would have taken the first over.
    for (c, label) in [(&mut a, "first"), (&mut b, "second")] {
        c.send(Packet::PingReq).await?;
        c.expect_type(ctx.patience(), PacketType::PingResp)
            .await
            .map_err(|s| match s {
                Stop::Fail { observed, .. } => Stop::fail(
                    "two clients with empty ids get distinct ids and both stay connected",
                    format!("the {label} client: {observed}"),
                ),
                other => other,
            })?;
    }
    a.disconnect().await?;
    b.disconnect().await
}

async fn client_id_assigned_is_used(ctx: Ctx) -> Outcome {
    let Some((mut a, ack)) = connect_empty_id(&ctx, "a").await? else {
        return Err(Stop::Skip("the broker refuses empty client ids".into()));
    };
    let Some(id) = ack
        .properties
        .assigned_client_identifier
        .clone()
        .filter(|s| !s.is_empty())
    else {
        return Err(Stop::Inconclusive(
            "no Assigned Client Identifier in the CONNACK".into(),
        ));
    };
    let mut b = ctx.open("b").await?;
    let mut p = ctx.connect_packet("b");
    p.client_id = id.clone();
    b.handshake(p).await?;
    let e = a.watch_close(ctx.patience()).await?;
    if !e.closed {
        return Err(Stop::fail(
            format!(
                "the client assigned {:?} is taken over by a CONNECT with that id",
                &*id
            ),
            e.summary(),
        ));
    }
    b.disconnect().await
}

async fn client_id_empty_persistent(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.client_id = "".into();
    p.clean_start = false;
    c.send(Packet::Connect(Box::new(p))).await?;
    let expected = "CONNACK 0x02 (identifier rejected), then the close";
    let e = c.watch_close(ctx.patience()).await?;
    if let Some(m) = &e.malformed {
        // The codec refuses Session Present 1 with a non-zero code [MQTT-3.2.2-4].
        return Err(Stop::fail_at(
            v311!("MQTT-3.2.2-4"),
            "a well-formed CONNACK with session present 0",
            m.clone(),
        ));
    }
    match e.first_connack() {
        Some(a) if a.reason_code.0 == 0x02 => {}
        Some(a) => {
            return Err(Stop::fail(
                expected,
                format!("CONNACK {}", rc(a.reason_code)),
            ))
        }
        None => return Err(Stop::fail(expected, e.summary())),
    }
    if !e.closed {
        return Err(Stop::fail_at(v311!("MQTT-3.2.2-5"), expected, e.summary()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3.2 CONNACK
// ---------------------------------------------------------------------------------------------

fn connack_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "connack.first-packet-from-server",
            "The server's first packet is CONNACK",
            body!(connack_first),
        )
        .v311(&[v311!("MQTT-3.2.0-1")])
        .v5(&[v5!("MQTT-3.2.0-1"), v5!("MQTT-3.2.2-1"), v5!("MQTT-3.2.2-8")]),
        TestCase::new(
            "connack.only-one",
            "The server sends one CONNACK per connection",
            body!(connack_only_one),
        )
        .v5(&[v5!("MQTT-3.2.0-2")]),
        TestCase::new(
            "connack.session-present.clean-start-after-session",
            "A clean session/start CONNECT gets session present 0 even when a session existed",
            body!(session_present_clean),
        )
        .v311(&[v311!("MQTT-3.2.2-1")])
        .v5(&[v5!("MQTT-3.2.2-2")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "connack.session-present.resumed",
            "A CONNECT without clean session/start for a stored session gets session present 1",
            body!(session_present_resumed),
        )
        .v311(&[v311!("MQTT-3.2.2-2")])
        .v5(&[v5!("MQTT-3.2.2-3")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "connack.session-present.no-session",
            "A CONNECT without clean session/start and no stored session gets session present 0",
            body!(session_present_none),
        )
        .v311(&[v311!("MQTT-3.2.2-3")])
        .v5(&[v5!("MQTT-3.2.2-3")]),
        TestCase::new(
            "connack.no-response-information-unless-requested",
            "Without Request Response Information 1 the CONNACK has no Response Information",
            body!(no_response_information),
        )
        .v5(&[v5!("MQTT-3.1.2-28"), v5!("MQTT-3.1.4-5")]),
        TestCase::new(
            "connack.maximum-qos-advertised",
            "A server that does not advertise Maximum QoS accepts QoS 2 messages (and one advertising 1 accepts QoS 1)",
            body!(maximum_qos_advertised),
        )
        .v5(&[v5!("MQTT-3.2.2-9")]),
        TestCase::new(
            "connack.maximum-qos.subscribe-any-qos",
            "Whatever its Maximum QoS, the server accepts a QoS 2 subscription (granting what it supports)",
            body!(subscribe_any_qos),
        )
        .v5(&[v5!("MQTT-3.2.2-10")]),
        TestCase::new(
            "connack.will-qos-above-maximum-refused",
            "A will QoS above the server's Maximum QoS is refused (CONNACK 0x9B preferred) and the connection closed",
            body!(will_qos_above_maximum),
        )
        .v5(&[v5!("MQTT-3.2.2-12"), v5!("MQTT-3.2.2-6")]),
        TestCase::new(
            "connack.will-retain-without-retain-support-refused",
            "Without retained messages, a will with Will Retain is refused (CONNACK 0x9A preferred) and the connection closed",
            body!(will_retain_unsupported),
        )
        .v5(&[v5!("MQTT-3.2.2-13"), v5!("MQTT-3.2.2-6")]),
        TestCase::new(
            "connack.reason-string-within-maximum-packet-size",
            "A refusing CONNACK carries no Reason String or User Property that would exceed the client's Maximum Packet Size",
            body!(connack_within_maximum_packet_size),
        )
        .v5(&[v5!("MQTT-3.2.2-19"), v5!("MQTT-3.2.2-20")]),
    ]
}

async fn connack_first(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let p = ctx.connect_packet("a");
    c.send(Packet::Connect(Box::new(p))).await?;
    let expected = "CONNACK 0x00 as the first packet";
    match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::ConnAck(a))) if a.reason_code == ReasonCode::SUCCESS => {
            c.disconnect().await
        }
        Some(Incoming::Packet(p)) => Err(Stop::fail(expected, describe(&p))),
        // A CONNACK with reserved flag bits set or a code outside the table does not decode.
        Some(Incoming::Malformed(e)) => {
            let observed = format!("malformed bytes from the broker: {e}");
            match e.kind {
                DecodeErrorKind::ConnAckReservedFlags { .. } if ctx.v5() => Err(Stop::fail_at(
                    v5!("MQTT-3.2.2-1"),
                    "CONNACK flags bits 7-1 zero",
                    observed,
                )),
                DecodeErrorKind::ReasonCodeNotAllowed { .. } if ctx.v5() => Err(Stop::fail_at(
                    v5!("MQTT-3.2.2-8"),
                    "a CONNACK reason code from the table",
                    observed,
                )),
                _ => Err(Stop::fail(expected, observed)),
            }
        }
        Some(Incoming::Closed) => Err(Stop::fail(expected, "the connection closed")),
        None => Err(Stop::fail(expected, "nothing")),
    }
}

async fn connack_only_one(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    c.send(Packet::PingReq).await?;
    let p = c
        .recv(ctx.patience(), "PINGRESP and no second CONNACK")
        .await?;
    if p.packet_type() != PacketType::PingResp {
        return Err(Stop::fail("PINGRESP and no second CONNACK", describe(&p)));
    }
    c.expect_silence(ctx.quiet(), "no second CONNACK").await?;
    c.disconnect().await
}

/// Connects `label` with a session that survives the connection (5.0: expiry 60 s), creates a
/// subscription in it, and disconnects.
async fn make_session(ctx: &Ctx, label: &str) -> Outcome {
    let (mut c, _) = connect_persistent(ctx, label, false).await?;
    subscribe(ctx, &mut c, &ctx.topic("session"), QoS::AtLeastOnce).await?;
    c.disconnect().await
}

/// Removes the session of `label` (clean start, no expiry).
async fn drop_session(ctx: &Ctx, label: &str) -> Outcome {
    let c = ctx.connect(label).await?;
    c.disconnect().await
}

async fn session_present_clean(ctx: Ctx) -> Outcome {
    make_session(&ctx, "a").await?;
    let (c, ack) = ctx.connect_with("a", |c| c.clean_start = true).await?;
    c.disconnect().await?;
    if ack.session_present {
        return Err(Stop::fail(
            "CONNACK 0x00 with session present 0",
            "session present 1",
        ));
    }
    Ok(())
}

async fn session_present_resumed(ctx: Ctx) -> Outcome {
    make_session(&ctx, "a").await?;
    let (c, ack) = connect_persistent(&ctx, "a", false).await?;
    c.disconnect().await?;
    drop_session(&ctx, "a").await?;
    if !ack.session_present {
        return Err(Stop::fail(
            "CONNACK 0x00 with session present 1 (the session was stored)",
            "session present 0",
        ));
    }
    Ok(())
}

async fn session_present_none(ctx: Ctx) -> Outcome {
    let (c, ack) = connect_persistent(&ctx, "fresh", false).await?;
    c.disconnect().await?;
    drop_session(&ctx, "fresh").await?;
    if ack.session_present {
        return Err(Stop::fail(
            "CONNACK 0x00 with session present 0 (no session existed for this id)",
            "session present 1",
        ));
    }
    Ok(())
}

async fn no_response_information(ctx: Ctx) -> Outcome {
    for (label, request) in [("a", None), ("b", Some(false))] {
        let mut c = ctx.open(label).await?;
        let mut p = ctx.connect_packet(label);
        p.properties.request_response_information = request;
        c.send(Packet::Connect(Box::new(p))).await?;
        let expected = "CONNACK 0x00 without Response Information";
        let ack = match c.recv(ctx.patience(), expected).await {
            Ok(Packet::ConnAck(a)) if a.reason_code == ReasonCode::SUCCESS => a,
            Ok(other) => {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.1.4-5"),
                    expected,
                    describe(&other),
                ))
            }
            Err(Stop::Fail { observed, .. }) => {
                return Err(Stop::fail_at(v5!("MQTT-3.1.4-5"), expected, observed))
            }
            Err(other) => return Err(other),
        };
        c.disconnect().await?;
        if let Some(info) = &ack.properties.response_information {
            return Err(Stop::fail(
                "no Response Information in the CONNACK",
                format!(
                    "Response Information {:?} (Request Response Information {:?})",
                    &**info, request
                ),
            ));
        }
    }
    Ok(())
}

async fn maximum_qos_advertised(ctx: Ctx) -> Outcome {
    let (mut c, ack) = ctx.connect_with("a", |_| {}).await?;
    let max = ack.properties.maximum_qos.unwrap_or(QoS::ExactlyOnce);
    let topic = ctx.topic("maxqos");
    let expected = format!(
        "a successful acknowledgement of a QoS {} PUBLISH (Maximum QoS {})",
        max.as_u8(),
        match ack.properties.maximum_qos {
            Some(q) => q.as_u8().to_string(),
            None => "absent".into(),
        }
    );
    match max {
        QoS::AtMostOnce => return Err(Stop::Skip("the broker advertises Maximum QoS 0".into())),
        QoS::AtLeastOnce => {
            let mut m = Publish::new(topic.as_str(), "q");
            m.qos = QoS::AtLeastOnce;
            m.packet_id = 1;
            c.send(Packet::Publish(m)).await?;
            let p = c.recv(ctx.patience(), &expected).await?;
            match &p {
                Packet::PubAck(a) if a.packet_id == 1 && !a.reason_code.is_error() => {}
                other => return Err(Stop::fail(expected, describe(other))),
            }
        }
        QoS::ExactlyOnce => {
            let mut m = Publish::new(topic.as_str(), "q");
            m.qos = QoS::ExactlyOnce;
            m.packet_id = 1;
            c.send(Packet::Publish(m)).await?;
            let p = c.recv(ctx.patience(), &expected).await?;
            match &p {
                Packet::PubRec(a) if a.packet_id == 1 && !a.reason_code.is_error() => {}
                other => return Err(Stop::fail(expected, describe(other))),
            }
            c.send(Packet::PubRel(PubRel::new(1))).await?;
            let p = c.recv(ctx.patience(), "PUBCOMP").await?;
            if !matches!(&p, Packet::PubComp(a) if a.packet_id == 1) {
                return Err(Stop::fail(expected, describe(&p)));
            }
        }
    }
    c.disconnect().await
}

async fn subscribe_any_qos(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    c.send(Packet::Subscribe(Subscribe {
        packet_id: 5,
        filters: vec![Subscription::new(ctx.topic("anyqos"), QoS::ExactlyOnce)],
        properties: Default::default(),
    }))
    .await?;
    let expected = "SUBACK granting QoS 0, 1 or 2";
    let p = c.recv(ctx.patience(), expected).await?;
    match &p {
        Packet::SubAck(a) if a.packet_id == 5 => match a.reason_codes.first() {
            Some(code) if code.0 <= 2 => c.disconnect().await,
            _ => Err(Stop::fail(expected, describe(&p))),
        },
        other => Err(Stop::fail(expected, describe(other))),
    }
}

/// Expects a refusing CONNACK (any error code allowed on CONNACK) or a bare close, then the
/// close: [MQTT-3.2.2-12] and [MQTT-3.2.2-13] make the refusal and the close MUSTs and the
/// specific code (0x9B, 0x9A) a SHOULD.
async fn expect_connack_refusal(ctx: &Ctx, c: &mut Client, expected: &str) -> Outcome {
    let e = c.watch_close(ctx.patience()).await?;
    if let Some(m) = &e.malformed {
        return Err(Stop::fail(expected, format!("malformed bytes: {m}")));
    }
    if let Some(a) = e.first_connack() {
        let refusing = a.reason_code.0 >= 0x80
            && a.reason_code
                .allowed_on(PacketType::ConnAck, mqtt_codec::ProtocolVersion::V5);
        if !refusing {
            return Err(Stop::fail(expected, describe(&Packet::ConnAck(a.clone()))));
        }
    }
    if !e.closed {
        return Err(Stop::fail(expected, e.summary()));
    }
    Ok(())
}

/// Connects with will `w` and expects a refusal and the close.
async fn will_refused(ctx: &Ctx, w: Will, expected: &str) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.will = Some(w);
    c.send(Packet::Connect(Box::new(p))).await?;
    expect_connack_refusal(ctx, &mut c, expected).await
}

async fn will_qos_above_maximum(ctx: Ctx) -> Outcome {
    let max = ctx.caps().maximum_qos;
    let Some(q) = QoS::from_u8(max + 1) else {
        return Err(Stop::Skip("the broker supports QoS 2".into()));
    };
    will_refused(
        &ctx,
        will(&ctx.topic("will"), b"w", q, false),
        &format!(
            "CONNACK 0x9B (or another refusal) for Will QoS {} above Maximum QoS {max}, then the close",
            q.as_u8()
        ),
    )
    .await
}

async fn will_retain_unsupported(ctx: Ctx) -> Outcome {
    if ctx.caps().retain {
        return Err(Stop::Skip("the broker supports retained messages".into()));
    }
    will_refused(
        &ctx,
        will(&ctx.topic("will"), b"w", QoS::AtMostOnce, true),
        "CONNACK 0x9A (or another refusal) for Will Retain without retain support, then the close",
    )
    .await
}

async fn connack_within_maximum_packet_size(ctx: Ctx) -> Outcome {
    let limit: u32 = 16;
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.properties.maximum_packet_size = Some(limit);
    p.properties.authentication_method = Some("mqtt-conform-no-such-method".into());
    c.send(Packet::Connect(Box::new(p))).await?;
    let e = c.watch_close(ctx.patience()).await?;
    let Some(a) = e.first_connack() else {
        return Err(Stop::Inconclusive(format!(
            "no CONNACK to a CONNECT with an unknown authentication method: {}",
            e.summary()
        )));
    };
    let len = wire_len(&Packet::ConnAck(a.clone()), ProtocolVersion::V5);
    optional_properties_fit("CONNACK", len, limit, &a.properties, v5!("MQTT-3.2.2-20"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3.1.4 CONNECT actions: authentication failures, packets after a refused CONNECT
// ---------------------------------------------------------------------------------------------

fn auth_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "connect.auth.bad-credentials-refused",
            "Unknown credentials are either accepted (no authentication) or refused with CONNACK 0x04/0x05 (5.0: 0x80 or above) and the close",
            body!(bad_credentials),
        )
        .v311(&[v311!("MQTT-3.2.2-5"), v311!("MQTT-3.2.2-4")])
        .v5(&[v5!("MQTT-3.1.4-2"), v5!("MQTT-3.2.2-7"), v5!("MQTT-3.2.2-6")]),
        TestCase::new(
            "connect.auth.unknown-method-refused",
            "A CONNECT with an authentication method the server does not know is refused (any refusing CONNACK, or none) and closed",
            body!(unknown_auth_method),
        )
        .v5(&[
            v5!("MQTT-4.12.0-1"),
            v5!("MQTT-3.1.4-2"),
            v5!("MQTT-3.2.2-7"),
            v5!("MQTT-3.2.2-6"),
            v5!("MQTT-3.14.0-1"),
        ]),
        TestCase::new(
            "connect.refused-ignores-later-packets",
            "Packets pipelined after a refused CONNECT are not processed (a PUBLISH is not delivered)",
            body!(refused_ignores_later),
        )
        .v311(&[v311!("MQTT-3.1.4-5")])
        .v5(&[v5!("MQTT-3.1.4-6")]),
    ]
}

async fn bad_credentials(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.username = Some(format!("mqtt-conform-nobody-{}", ctx.client_id("a")).into());
    p.password = Some(Bytes::from_static(b"mqtt-conform-wrong-password"));
    c.send(Packet::Connect(Box::new(p))).await?;
    let e = c.watch_close(ctx.patience()).await?;
    let expected = ctx.pick(
        "CONNACK 0x04 or 0x05 (session present 0), then the close",
        "CONNACK 0x80 or above (0x86/0x87 fit), session present 0, then the close",
    );
    if let Some(m) = &e.malformed {
        // Session present 1 with an error code does not decode.
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-3.2.2-4"), v5!("MQTT-3.2.2-6")),
            expected,
            format!("malformed bytes: {m}"),
        ));
    }
    match e.first_connack() {
        Some(a) if a.reason_code == ReasonCode::SUCCESS => {
            return Err(Stop::Skip(
                "the broker accepted unknown credentials: it does not authenticate".into(),
            ))
        }
        Some(a) => {
            let ok = if ctx.v5() {
                a.reason_code.0 >= 0x80
            } else {
                matches!(a.reason_code.0, 0x04 | 0x05)
            };
            if !ok {
                return Err(Stop::fail(expected, describe(&Packet::ConnAck(a.clone()))));
            }
        }
        None => {}
    }
    if !e.closed {
        return Err(Stop::fail(expected, e.summary()));
    }
    Ok(())
}

async fn unknown_auth_method(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let mut p = ctx.connect_packet("a");
    p.properties.authentication_method = Some("mqtt-conform-no-such-method".into());
    c.send(Packet::Connect(Box::new(p))).await?;
    let e = c.watch_close(ctx.patience()).await?;
    // [MQTT-4.12.0-1]: CONNACK 0x8C or 0x87 is a MAY (any refusing CONNACK is allowed by
    // [MQTT-3.2.2-6]); the close is the MUST.
    let expected =
        "a refusal (CONNACK 0x8C or 0x87 suggested, another error code, or none), then the close";
    if let Some(d) = &e.disconnect {
        let accepted = e
            .first_connack()
            .is_some_and(|a| a.reason_code == ReasonCode::SUCCESS);
        return Err(if accepted {
            Stop::fail(
                expected,
                format!(
                    "CONNACK 0x00 (the unknown method accepted), then {}",
                    describe(&Packet::Disconnect(d.clone()))
                ),
            )
        } else {
            Stop::fail_at(
                v5!("MQTT-3.14.0-1"),
                "no DISCONNECT before a successful CONNACK",
                describe(&Packet::Disconnect(d.clone())),
            )
        });
    }
    if let Some(p) = e.before.iter().find(|p| matches!(p, Packet::Auth(_))) {
        return Err(Stop::Inconclusive(format!(
            "the broker knows the method mqtt-conform-no-such-method: {}",
            describe(p)
        )));
    }
    if let Some(m) = &e.malformed {
        return Err(Stop::fail(expected, format!("malformed bytes: {m}")));
    }
    if let Some(a) = e.first_connack() {
        let refusing = a.reason_code.0 >= 0x80
            && a.reason_code
                .allowed_on(PacketType::ConnAck, mqtt_codec::ProtocolVersion::V5);
        if !refusing {
            return Err(Stop::fail(expected, describe(&Packet::ConnAck(a.clone()))));
        }
    }
    if !e.closed {
        return Err(Stop::fail(expected, e.summary()));
    }
    Ok(())
}

async fn refused_ignores_later(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("pipelined");
    let mut watcher = ctx.connect("w").await?;
    subscribe(&ctx, &mut watcher, &topic, QoS::AtMostOnce).await?;

    // A CONNECT the server must refuse: 3.1.1 an empty client id with CleanSession 0
    // [MQTT-3.1.3-8]; 5.0 an unknown authentication method.
    let mut p = ctx.connect_packet("r");
    if ctx.v5() {
        p.properties.authentication_method = Some("mqtt-conform-no-such-method".into());
    } else {
        p.client_id = "".into();
        p.clean_start = false;
    }
    let mut bytes = connect_bytes(&ctx, p);
    let m = Publish::new(topic.as_str(), "after a refused CONNECT");
    let mut b = bytes::BytesMut::new();
    Packet::Publish(m).encode_unchecked(ctx.version(), &mut b);
    bytes.extend_from_slice(&b);
    let mut c = ctx.open("r").await?;
    c.send_raw("CONNECT to be refused + PUBLISH", &bytes)
        .await?;
    let e = c.watch_close(ctx.patience()).await?;
    match e.first_connack() {
        Some(a) if a.reason_code == ReasonCode::SUCCESS => {
            return Err(Stop::Inconclusive(
                "the broker accepted the CONNECT meant to be refused".into(),
            ))
        }
        _ => {}
    }
    if e.before.iter().any(|p| matches!(p, Packet::Auth(_))) {
        return Err(Stop::Inconclusive(
            "the broker started an authentication exchange".into(),
        ));
    }
    quiet_then_marker(
        &ctx,
        &mut watcher,
        ctx.quiet(),
        &topic,
        "the PUBLISH sent after the refused CONNECT is not delivered",
    )
    .await?;
    watcher.disconnect().await
}

// ---------------------------------------------------------------------------------------------
// 3.12 / 3.13 PINGREQ / PINGRESP, 3.14 DISCONNECT
// ---------------------------------------------------------------------------------------------

fn ping_disconnect_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "ping.pingresp",
            "Each PINGREQ is answered with a PINGRESP",
            body!(pingresp),
        )
        .v311(&[v311!("MQTT-3.12.4-1")])
        .v5(&[v5!("MQTT-3.12.4-1")]),
        TestCase::new(
            "disconnect.reserved-flags",
            "A DISCONNECT with non-zero flags is malformed: the server closes (5.0: optionally after DISCONNECT 0x81) and, unlike after a normal DISCONNECT, publishes the will",
            body!(disconnect_reserved_flags),
        )
        .v311(&[v311!("MQTT-3.14.1-1")])
        .v5(&[v5!("MQTT-3.14.1-1")]),
        TestCase::new(
            "disconnect.normal-discards-will",
            "After a normal DISCONNECT the will is not published",
            body!(disconnect_discards_will),
        )
        .v311(&[v311!("MQTT-3.14.4-3"), v311!("MQTT-3.1.2-10")])
        .v5(&[v5!("MQTT-3.14.4-3"), v5!("MQTT-3.1.2-10")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "disconnect.server-reason-string-within-maximum-packet-size",
            "A server DISCONNECT carries no Reason String or User Property that would exceed the client's Maximum Packet Size",
            body!(disconnect_within_maximum_packet_size),
        )
        .v5(&[v5!("MQTT-3.14.2-3"), v5!("MQTT-3.14.2-4"), v5!("MQTT-3.1.4-3")]),
    ]
}

async fn pingresp(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    for i in 0..3 {
        c.send(Packet::PingReq).await?;
        let p = c
            .recv(ctx.patience(), &format!("PINGRESP to PINGREQ #{}", i + 1))
            .await?;
        if p.packet_type() != PacketType::PingResp {
            return Err(Stop::fail(
                format!("PINGRESP to PINGREQ #{}", i + 1),
                describe(&p),
            ));
        }
    }
    c.disconnect().await
}

async fn disconnect_reserved_flags(ctx: Ctx) -> Outcome {
    // A bare close proves nothing: a broker that ignores the flags takes `E1 00` for a normal
    // DISCONNECT and closes too. The evidence of validation is what a normal DISCONNECT would
    // not bring: the will (a malformed packet is not a DISCONNECT with reason 0x00, so the
    // will stays: 5.0 [MQTT-3.1.2-8], 3.1.1 3.1.2.5 "closes the Network Connection because of
    // a protocol error"), or in 5.0 a DISCONNECT 0x81.
    let use_will = ctx.caps().has(Cap::Will);
    let topic = ctx.topic("will");
    let (mut watcher, mut c) = if use_will {
        let (w, c) = plain_will(&ctx, &topic, b"flags", QoS::AtMostOnce, false).await?;
        (Some(w), c)
    } else {
        (None, ctx.connect("a").await?)
    };
    let bytes = RawPacket::new(PacketType::Disconnect as u8, 0x01).to_bytes();
    c.send_raw("DISCONNECT with flags 0001", &bytes).await?;
    let e = c.watch_close(ctx.patience()).await?;
    let expected = ctx.pick(
        "the close, and the will published (the packet is malformed, not a DISCONNECT)",
        "DISCONNECT 0x81 (or no DISCONNECT), then the close, and the will published",
    );
    let code_0x81 = match &e.disconnect {
        Some(d) if d.reason_code != ReasonCode::MALFORMED_PACKET => {
            return Err(Stop::fail(expected, e.summary()))
        }
        Some(_) => true,
        None => false,
    };
    if !e.closed || !e.before.is_empty() {
        return Err(Stop::fail(expected, e.summary()));
    }
    match watcher.as_mut() {
        Some(w) => {
            expect_publish(
                w,
                ctx.patience(),
                &topic,
                "the will: the broker must not take a DISCONNECT with reserved flags set for a normal one",
            )
            .await?;
        }
        None if code_0x81 => {}
        None => {
            return Err(Stop::Inconclusive(
                "the broker closed the connection without DISCONNECT 0x81; without will support \
                 a close cannot be told apart from accepting the packet as a normal DISCONNECT"
                    .into(),
            ))
        }
    }
    if let Some(w) = watcher {
        w.disconnect().await?;
    }
    Ok(())
}

async fn disconnect_discards_will(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let mut watcher = ctx.connect("w").await?;
    subscribe(&ctx, &mut watcher, &topic, QoS::AtMostOnce).await?;
    let (c, _) = ctx
        .connect_with("a", |c| {
            c.will = Some(will(&topic, b"must not appear", QoS::AtMostOnce, false))
        })
        .await?;
    c.disconnect().await?;
    quiet_then_marker(
        &ctx,
        &mut watcher,
        ctx.quiet(),
        &topic,
        "no will after a normal DISCONNECT",
    )
    .await?;
    watcher.disconnect().await
}

async fn disconnect_within_maximum_packet_size(ctx: Ctx) -> Outcome {
    let limit: u32 = 32;
    let (mut old, _) = ctx
        .connect_with("a", |c| c.properties.maximum_packet_size = Some(limit))
        .await?;
    let mut new = ctx.open("a").await?;
    new.handshake(ctx.connect_packet("a")).await?;
    let e = old.watch_close(ctx.patience()).await?;
    let Some(d) = &e.disconnect else {
        // Nothing to measure: a server may close a taken-over connection without DISCONNECT.
        return Err(Stop::Inconclusive(format!(
            "the server sent no DISCONNECT on the taken-over connection: {}",
            e.summary()
        )));
    };
    let len = wire_len(&Packet::Disconnect(d.clone()), ProtocolVersion::V5);
    optional_properties_fit(
        "DISCONNECT",
        len,
        limit,
        &d.properties,
        v5!("MQTT-3.14.2-4"),
    )?;
    new.disconnect().await
}

// ---------------------------------------------------------------------------------------------
// Wills (3.1.2.5, 3.1.3.2, 5.0 Will Delay Interval)
// ---------------------------------------------------------------------------------------------

fn will_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "will.published-on-abnormal-close",
            "The will is published, once, when the connection closes without DISCONNECT",
            body!(will_on_abnormal_close),
        )
        .v311(&[v311!("MQTT-3.1.2-8"), v311!("MQTT-3.1.2-10")])
        .v5(&[v5!("MQTT-3.1.2-8"), v5!("MQTT-3.1.2-7"), v5!("MQTT-3.1.2-10")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "will.published-after-protocol-error",
            "The will is published when the server closes the connection because of a malformed packet",
            body!(will_after_protocol_error),
        )
        .v311(&[v311!("MQTT-3.1.2-8")])
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "will.none-without-will-flag",
            "A connection without the Will Flag publishes nothing when it ends abnormally",
            body!(will_none_without_flag),
        )
        .v311(&[v311!("MQTT-3.1.2-12")])
        .requires(&[Cap::Wildcards]),
        TestCase::new(
            "will.qos1",
            "A QoS 1 will reaches a QoS 1 subscriber as a QoS 1 message",
            body!(will_qos1),
        )
        .v311(&[v311!("MQTT-3.1.2-8")])
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will, Cap::QoS1]),
        TestCase::new(
            "will.retain-0-not-retained",
            "A will with Will Retain 0 is not kept as a retained message",
            body!(will_retain_0),
        )
        .v311(&[v311!("MQTT-3.1.2-16")])
        .v5(&[v5!("MQTT-3.1.2-14")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "will.retain-1-retained",
            "A will with Will Retain 1 is published as a retained message",
            body!(will_retain_1),
        )
        .v311(&[v311!("MQTT-3.1.2-17")])
        .v5(&[v5!("MQTT-3.1.2-15")])
        .requires(&[Cap::Will, Cap::Retain]),
        TestCase::new(
            "will.disconnect-with-will-message",
            "5.0: DISCONNECT 0x04 (Disconnect with Will Message) publishes the will",
            body!(will_on_disconnect_0x04),
        )
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "will.disconnect-with-error-code",
            "5.0: a client DISCONNECT with an error reason code (0x80) does not delete the will",
            body!(will_on_disconnect_error),
        )
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will]),
        TestCase::new(
            "will.delay-interval",
            "5.0: the will is published only after its Will Delay Interval",
            body!(will_delay),
        )
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will])
        .timeout(Duration::from_secs(12)),
        TestCase::new(
            "will.delay.session-ends-first",
            "5.0: when the session expires before the Will Delay Interval, the will is published at the session's end",
            body!(will_delay_session_end),
        )
        .v5(&[v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will])
        .timeout(Duration::from_secs(12)),
        TestCase::new(
            "will.delay.reconnect-cancels",
            "5.0: reconnecting before the Will Delay Interval passes cancels the will",
            body!(will_delay_reconnect),
        )
        .v5(&[v5!("MQTT-3.1.3-9")])
        .requires(&[Cap::Will, Cap::PersistentSessions])
        .timeout(Duration::from_secs(12)),
        TestCase::new(
            "will.user-properties-in-order",
            "5.0: the will's User Properties reach the subscriber in their order",
            body!(will_user_properties),
        )
        .v5(&[v5!("MQTT-3.1.3-10")])
        .requires(&[Cap::Will]),
    ]
}

/// A watcher subscribed to `topic` at `qos`, and a client `label` connected with `w` (and `edit`).
async fn will_setup(
    ctx: &Ctx,
    topic: &str,
    qos: QoS,
    w: Will,
    edit: impl FnOnce(&mut Connect),
) -> Result<(Client, Client), Stop> {
    let mut watcher = ctx.connect("w").await?;
    subscribe(ctx, &mut watcher, topic, qos).await?;
    let (c, _) = ctx
        .connect_with("a", |c| {
            c.will = Some(w);
            edit(c);
        })
        .await?;
    Ok((watcher, c))
}

/// [`will_setup`] for a will on `topic` with `payload`, `qos` and `retain`, watched at `qos`.
async fn plain_will(
    ctx: &Ctx,
    topic: &str,
    payload: &'static [u8],
    qos: QoS,
    retain: bool,
) -> Result<(Client, Client), Stop> {
    will_setup(ctx, topic, qos, will(topic, payload, qos, retain), |_| {}).await
}

/// Waits for the will on `topic` (see [`expect_publish`]) and checks its payload.
async fn expect_will(
    c: &mut Client,
    within: Duration,
    topic: &str,
    payload: &[u8],
    expected: &str,
) -> Result<Publish, Stop> {
    let m = expect_publish(c, within, topic, expected).await?;
    check_will(&m, payload, expected)?;
    Ok(m)
}

fn check_will(m: &Publish, payload: &[u8], expected: &str) -> Outcome {
    if &m.payload[..] != payload {
        return Err(Stop::fail(
            expected,
            format!(
                "the will topic carried {:?}",
                String::from_utf8_lossy(&m.payload)
            ),
        ));
    }
    Ok(())
}

async fn will_on_abnormal_close(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let (mut watcher, c) = plain_will(&ctx, &topic, b"gone", QoS::AtMostOnce, false).await?;
    c.drop_connection().await;
    let expected = "the will (payload \"gone\") after the connection was lost";
    expect_will(&mut watcher, ctx.patience(), &topic, b"gone", expected).await?;
    let stmt = ctx.pick(v311!("MQTT-3.1.2-10"), v5!("MQTT-3.1.2-10"));
    expect_no_publish(&mut watcher, ctx.quiet(), &topic, "the will only once")
        .await
        .map_err(|s| match s {
            Stop::Fail {
                expected, observed, ..
            } => Stop::fail_at(stmt, expected, observed),
            other => other,
        })?;
    watcher.disconnect().await
}

async fn will_after_protocol_error(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let (mut watcher, mut c) = plain_will(&ctx, &topic, b"error", QoS::AtMostOnce, false).await?;
    // Packet type 0 is reserved: a malformed packet the server closes on.
    c.send_raw("packet of reserved type 0", &[0x00, 0x00])
        .await?;
    let e = c.watch_close(ctx.patience()).await?;
    if !e.closed {
        return Err(Stop::Inconclusive(format!(
            "the server did not close after a packet of type 0: {}",
            e.summary()
        )));
    }
    let expected = "the will after the server closed the connection for a malformed packet";
    expect_will(&mut watcher, ctx.patience(), &topic, b"error", expected).await?;
    watcher.disconnect().await
}

async fn will_none_without_flag(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("lost");
    let mut watcher = ctx.connect("w").await?;
    subscribe(&ctx, &mut watcher, &ctx.topic("#"), QoS::AtMostOnce).await?;
    let c = ctx.connect("a").await?;
    c.drop_connection().await;
    // Any message under the test's prefix before the marker fails the test.
    let expected = "no message when a client without will is lost";
    match watcher.next(ctx.quiet()).await? {
        None => {}
        Some(Incoming::Packet(p @ Packet::Publish(_))) => {
            return Err(Stop::fail(expected, describe(&p)))
        }
        Some(other) => {
            return Err(Stop::Inconclusive(format!(
                "the watching client: {}",
                crate::client::describe_incoming(&other)
            )))
        }
    }
    quiet_then_marker(&ctx, &mut watcher, Duration::ZERO, &topic, expected).await?;
    watcher.disconnect().await
}

async fn will_qos1(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let (mut watcher, c) = plain_will(&ctx, &topic, b"q1", QoS::AtLeastOnce, false).await?;
    c.drop_connection().await;
    let expected = "the QoS 1 will delivered at QoS 1";
    let m = expect_will(&mut watcher, ctx.patience(), &topic, b"q1", expected).await?;
    if m.qos != QoS::AtLeastOnce {
        return Err(Stop::fail(expected, describe(&Packet::Publish(m.clone()))));
    }
    watcher.disconnect().await
}

async fn will_retain_0(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    ctx.note_retained(&topic);
    let (mut watcher, c) = plain_will(&ctx, &topic, b"r0", QoS::AtMostOnce, false).await?;
    c.drop_connection().await;
    expect_publish(&mut watcher, ctx.patience(), &topic, "the will").await?;
    watcher.disconnect().await?;
    // A new subscriber must not get it as a retained message.
    let mut late = ctx.connect("l").await?;
    subscribe(&ctx, &mut late, &topic, QoS::AtMostOnce).await?;
    expect_no_publish(
        &mut late,
        ctx.quiet(),
        &topic,
        "no retained will for a later subscriber (Will Retain 0)",
    )
    .await?;
    late.disconnect().await
}

async fn will_retain_1(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    ctx.note_retained(&topic);
    let (mut watcher, c) = plain_will(&ctx, &topic, b"r1", QoS::AtMostOnce, true).await?;
    c.drop_connection().await;
    expect_publish(&mut watcher, ctx.patience(), &topic, "the will").await?;
    watcher.disconnect().await?;
    let mut late = ctx.connect("l").await?;
    subscribe(&ctx, &mut late, &topic, QoS::AtMostOnce).await?;
    let expected = "the will as a retained message (RETAIN 1) for a later subscriber";
    let m = expect_will(&mut late, ctx.patience(), &topic, b"r1", expected).await?;
    if !m.retain {
        return Err(Stop::fail(expected, describe(&Packet::Publish(m.clone()))));
    }
    late.disconnect().await
}

async fn will_on_disconnect_code(ctx: Ctx, code: ReasonCode) -> Outcome {
    let topic = ctx.topic("will");
    let (mut watcher, mut c) = plain_will(&ctx, &topic, b"bye", QoS::AtMostOnce, false).await?;
    c.send(Packet::Disconnect(Disconnect::new(code))).await?;
    c.drop_connection().await;
    let expected = format!("the will after DISCONNECT {}", rc(code));
    expect_will(&mut watcher, ctx.patience(), &topic, b"bye", &expected).await?;
    watcher.disconnect().await
}

async fn will_on_disconnect_0x04(ctx: Ctx) -> Outcome {
    will_on_disconnect_code(ctx, ReasonCode::DISCONNECT_WITH_WILL_MESSAGE).await
}

async fn will_on_disconnect_error(ctx: Ctx) -> Outcome {
    will_on_disconnect_code(ctx, ReasonCode::UNSPECIFIED_ERROR).await
}

/// Sets up a will on `topic` with `payload` and Will Delay Interval `delay` (s) for a client
/// whose session expires after `expiry` s, loses that client, and expects the will no sooner
/// than `due` (`early` is added to the observation of a will that came too soon).
#[allow(clippy::too_many_arguments)]
async fn delayed_will(
    ctx: &Ctx,
    payload: &'static [u8],
    delay: u32,
    expiry: u32,
    due: Duration,
    expected: &str,
    early: &str,
) -> Result<Client, Stop> {
    let topic = ctx.topic("will");
    let mut w = will(&topic, payload, QoS::AtMostOnce, false);
    w.properties.will_delay_interval = Some(delay);
    let (mut watcher, c) = will_setup(ctx, &topic, QoS::AtMostOnce, w, |c| {
        c.properties.session_expiry_interval = Some(expiry);
    })
    .await?;
    let t0 = Instant::now();
    c.drop_connection().await;
    expect_will(
        &mut watcher,
        Duration::from_secs(u64::from(delay.min(expiry))) + ctx.patience(),
        &topic,
        payload,
        expected,
    )
    .await?;
    let after = t0.elapsed();
    if after < due {
        return Err(Stop::fail(
            expected,
            format!("the will arrived after {} ms{early}", after.as_millis()),
        ));
    }
    Ok(watcher)
}

async fn will_delay(ctx: Ctx) -> Outcome {
    let expected = "the will 2 s (its Will Delay Interval) after the connection was lost";
    let ms = Duration::from_millis(1900);
    let watcher = delayed_will(&ctx, b"late", 2, 10, ms, expected, "").await?;
    watcher.disconnect().await?;
    drop_session(&ctx, "a").await
}

async fn will_delay_session_end(ctx: Ctx) -> Outcome {
    let expected = "the will when the session expires (1 s), before its Will Delay Interval (60 s)";
    let ms = Duration::from_millis(900);
    let early = ", before the session ended";
    let watcher = delayed_will(&ctx, b"expired", 60, 1, ms, expected, early).await?;
    watcher.disconnect().await
}

async fn will_delay_reconnect(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let mut w = will(&topic, b"cancelled", QoS::AtMostOnce, false);
    w.properties.will_delay_interval = Some(2);
    let (mut watcher, c) = will_setup(&ctx, &topic, QoS::AtMostOnce, w, |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(30);
    })
    .await?;
    c.drop_connection().await;
    let (again, _) = ctx
        .connect_with("a", |c| {
            c.clean_start = false;
            c.properties.session_expiry_interval = Some(30);
        })
        .await?;
    quiet_then_marker(
        &ctx,
        &mut watcher,
        Duration::from_secs(3),
        &topic,
        "no will: the client reconnected within the Will Delay Interval",
    )
    .await?;
    again.disconnect().await?;
    watcher.disconnect().await?;
    drop_session(&ctx, "a").await
}

async fn will_user_properties(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let sent: Vec<(mqtt_codec::ByteStr, mqtt_codec::ByteStr)> = vec![
        ("k".into(), "3".into()),
        ("k".into(), "1".into()),
        ("a".into(), "2".into()),
    ];
    let mut w = will(&topic, b"props", QoS::AtMostOnce, false);
    w.properties.user_properties = sent.clone();
    let (mut watcher, c) = will_setup(&ctx, &topic, QoS::AtMostOnce, w, |_| {}).await?;
    c.drop_connection().await;
    let expected = "the will with User Properties k=3, k=1, a=2 in that order";
    let m = expect_publish(&mut watcher, ctx.patience(), &topic, expected).await?;
    if m.properties.user_properties != sent {
        return Err(Stop::fail(
            expected,
            format!(
                "User Properties {}",
                m.properties
                    .user_properties
                    .iter()
                    .map(|(k, v)| format!("{}={}", &**k, &**v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    watcher.disconnect().await
}

// ---------------------------------------------------------------------------------------------
// Keep alive (3.1.2.10, 5.0 Server Keep Alive)
// ---------------------------------------------------------------------------------------------

fn keep_alive_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "keepalive.server-closes-silent-client",
            "The server closes a client silent for 1.5 times the keep alive",
            body!(keepalive_closes),
        )
        .v311(&[v311!("MQTT-3.1.2-24")])
        .v5(&[v5!("MQTT-3.1.2-22"), v5!("MQTT-3.2.2-22")])
        .timeout(Duration::from_secs(12)),
        TestCase::new(
            "keepalive.activity-keeps-connection",
            "A client that sends PINGREQ within its keep alive stays connected",
            body!(keepalive_activity),
        )
        .v311(&[v311!("MQTT-3.1.2-24"), v311!("MQTT-3.12.4-1")])
        .v5(&[v5!("MQTT-3.1.2-22"), v5!("MQTT-3.12.4-1")])
        .timeout(Duration::from_secs(12)),
        TestCase::new(
            "keepalive.timeout-publishes-will",
            "A keep alive timeout counts as a network failure: the will is published",
            body!(keepalive_will),
        )
        .v311(&[v311!("MQTT-3.1.2-24"), v311!("MQTT-3.1.2-8")])
        .v5(&[v5!("MQTT-3.1.2-22"), v5!("MQTT-3.1.2-8")])
        .requires(&[Cap::Will])
        .timeout(Duration::from_secs(16)),
    ]
}

/// The keep alive in force (seconds): 5.0 Server Keep Alive if given, else the client's.
fn keep_alive_in_force(ctx: &Ctx, ack: &ConnAck, requested: u16) -> Result<u16, Stop> {
    match ack.properties.server_keep_alive {
        Some(0) if ctx.v5() => Err(Stop::Skip(
            "the broker turned keep alive off (Server Keep Alive 0)".into(),
        )),
        Some(k) if ctx.v5() && k > 4 => Err(Stop::Skip(format!(
            "the broker imposes Server Keep Alive {k} s: too long for this test"
        ))),
        Some(k) if ctx.v5() => Ok(k),
        _ => Ok(requested),
    }
}

/// Slack for a real broker's timer granularity on top of 1.5 x keep alive.
const KEEP_ALIVE_MARGIN: Duration = Duration::from_millis(1000);

/// Waits for the keep alive close of a silent client: it must come within 1.5 times the keep
/// alive (plus a margin for timer granularity). The rule sets no lower bound, so an early close
/// passes; a 5.0 DISCONNECT before the close may carry any error code a server may send (0x8D
/// Keep Alive timeout is the fitting one, but no MUST names it).
async fn expect_keep_alive_close(c: &mut Client, k: u16, start: Instant) -> Outcome {
    let k_ms = u64::from(k) * 1000;
    let upper = Duration::from_millis(k_ms * 3 / 2) + KEEP_ALIVE_MARGIN;
    let expected = format!(
        "the close within {} ms of silence (keep alive {k} s)",
        upper.as_millis()
    );
    let e = c.watch_close(upper.saturating_sub(start.elapsed())).await?;
    if !e.closed {
        return Err(Stop::fail(expected, e.summary()));
    }
    if let Some(d) = &e.disconnect {
        if !server_error_code(d.reason_code) {
            return Err(Stop::fail(
                format!("{expected}, optionally after a DISCONNECT with an error code (0x8D fits)"),
                e.summary(),
            ));
        }
    }
    Ok(())
}

async fn keepalive_closes(ctx: Ctx) -> Outcome {
    let (mut c, ack) = ctx.connect_with("a", |c| c.keep_alive = 2).await?;
    let start = Instant::now();
    let k = keep_alive_in_force(&ctx, &ack, 2)?;
    expect_keep_alive_close(&mut c, k, start).await
}

async fn keepalive_activity(ctx: Ctx) -> Outcome {
    let (mut c, ack) = ctx.connect_with("a", |c| c.keep_alive = 2).await?;
    let k = keep_alive_in_force(&ctx, &ack, 2)?;
    let step = Duration::from_millis(u64::from(k) * 500);
    // About 2.5 keep alive periods of regular PINGREQs.
    for i in 0..5 {
        tokio::time::sleep(step).await;
        c.send(Packet::PingReq).await?;
        let expected = format!("PINGRESP #{} and an open connection", i + 1);
        let p = c.recv(ctx.patience(), &expected).await?;
        if p.packet_type() != PacketType::PingResp {
            return Err(Stop::fail(expected, describe(&p)));
        }
    }
    c.disconnect().await
}

async fn keepalive_will(ctx: Ctx) -> Outcome {
    let topic = ctx.topic("will");
    let mut watcher = ctx.connect("w").await?;
    subscribe(&ctx, &mut watcher, &topic, QoS::AtMostOnce).await?;
    let (mut c, ack) = ctx
        .connect_with("a", |c| {
            c.keep_alive = 2;
            c.will = Some(will(&topic, b"timeout", QoS::AtMostOnce, false));
        })
        .await?;
    let start = Instant::now();
    let k = keep_alive_in_force(&ctx, &ack, 2)?;
    // The timing is checked by keepalive.server-closes-silent-client; here a late close is
    // tolerated so that the will is judged on its own.
    let within = Duration::from_millis(u64::from(k) * 1500) + Duration::from_secs(6);
    let e = c
        .watch_close(within.saturating_sub(start.elapsed()))
        .await?;
    if !e.closed {
        return Err(Stop::fail(
            format!("the close of a client silent for 1.5 x {k} s"),
            e.summary(),
        ));
    }
    let stmt = ctx.pick(v311!("MQTT-3.1.2-8"), v5!("MQTT-3.1.2-8"));
    let expected = "the will after the keep alive timeout";
    let m = expect_publish(&mut watcher, ctx.patience(), &topic, expected)
        .await
        .map_err(|s| match s {
            Stop::Fail {
                expected, observed, ..
            } => Stop::fail_at(stmt, expected, observed),
            other => other,
        })?;
    check_will(&m, b"timeout", expected)?;
    watcher.disconnect().await
}
