//! The malformed-input table: one row per wire-format rule of MQTT 3.1.1 and 5.0, each with
//! the reason code the receiver answers with, the statement ids the bytes break, and the byte
//! offset the decoder must point at. Then the valid forms that must decode, the limit check on
//! a huge length claim, and `Ok(None)` for every strict prefix of a valid packet.
//!
//! Rows use the notation of [`common::pkt`]: hex bytes, `LL` for the Remaining Length,
//! `[ ... ]` for a property block with its length, `<text>` for a length-prefixed string,
//! `'text'` for raw ASCII.

mod common;

use std::collections::BTreeSet;

use common::{dec, dec_with, pkt, rich_packets, to_hex_lines, V3, V5};
use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, decode_bytes, parse_fixed_header, peek_protocol_version, DecodeErrorKind,
    ErrorResponse, Limits, Packet, ProtocolVersion, QoS, ReasonCode, RetainHandling, Side,
    StatementId,
};
use mqtt_spec::{v311, v5};

// Reason codes (5.0 classification, also used for 3.1.1 rows).
const MALFORMED: u8 = 0x81;
const PROTOCOL: u8 = 0x82;
const UNSUPPORTED: u8 = 0x84;
const ALIAS: u8 = 0x94;
const TOO_LARGE: u8 = 0x95;

/// One malformed input.
#[derive(Debug, Clone)]
struct Bad {
    v: ProtocolVersion,
    from: Option<Side>,
    bytes: Vec<u8>,
    code: u8,
    ids: Vec<StatementId>,
    offset: u32,
    limit: Option<u32>,
    what: &'static str,
}

impl Bad {
    fn from(mut self, side: Side) -> Self {
        self.from = Some(side);
        self
    }
    fn limit(mut self, max: u32) -> Self {
        self.limit = Some(max);
        self
    }
}

fn bad(
    v: ProtocolVersion,
    what: &'static str,
    notation: &str,
    code: u8,
    ids: &[StatementId],
    offset: u32,
) -> Bad {
    Bad {
        v,
        from: None,
        bytes: pkt(notation),
        code,
        ids: ids.to_vec(),
        offset,
        limit: None,
        what,
    }
}

fn b3(what: &'static str, n: &str, code: u8, ids: &[StatementId], offset: u32) -> Bad {
    bad(V3, what, n, code, ids, offset)
}

fn b5(what: &'static str, n: &str, code: u8, ids: &[StatementId], offset: u32) -> Bad {
    bad(V5, what, n, code, ids, offset)
}

fn sorted(ids: &[StatementId]) -> Vec<&'static str> {
    let mut v: Vec<_> = ids.iter().map(|s| s.as_str()).collect();
    v.sort_unstable();
    v
}

/// Checks one row; `Err` describes every difference.
fn check(row: &Bad) -> Result<(), String> {
    let limits = row
        .limit
        .map_or_else(Limits::default, Limits::with_max_packet_size);
    let hex = to_hex_lines(&row.bytes).replace('\n', " ");
    let e = match dec_with(&row.bytes, row.v, &limits, row.from) {
        Err(e) => e,
        other => {
            return Err(format!(
                "{} [{}] {:?} {hex}\n      expected an error, got {other:?}",
                row.what, row.v, row.from
            ))
        }
    };
    let mut diffs = Vec::new();
    if e.reason_code() != ReasonCode(row.code) {
        diffs.push(format!(
            "reason code: expected 0x{:02X}, got {}",
            row.code,
            e.reason_code()
        ));
    }
    if sorted(e.statements()) != sorted(&row.ids) {
        diffs.push(format!(
            "statements: expected {:?}, got {:?}",
            sorted(&row.ids),
            sorted(e.statements())
        ));
    }
    if e.offset != row.offset {
        diffs.push(format!("offset: expected {}, got {}", row.offset, e.offset));
    }
    if e.from != row.from {
        diffs.push(format!("from: expected {:?}, got {:?}", row.from, e.from));
    }
    // The answer follows the version of the packet (a CONNECT's own version).
    let expected_response = if e.version.is_v5() {
        ErrorResponse::ReasonCode(e.reason_code())
    } else if matches!(e.kind, DecodeErrorKind::UnsupportedProtocolLevel { .. }) {
        ErrorResponse::ConnAckReturnCode(0x01) // 3.1.1 [MQTT-3.1.2-2]
    } else {
        ErrorResponse::Close
    };
    if e.response() != expected_response {
        diffs.push(format!(
            "response: expected {expected_response:?}, got {:?}",
            e.response()
        ));
    }
    // The message names the statements.
    let text = e.to_string();
    for id in e.statements() {
        if !text.contains(id.as_str()) {
            diffs.push(format!("message {text:?} does not name {id}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} [{}] {:?} {}\n      got: {e} ({:?})\n      {}",
            row.what,
            row.v,
            row.from,
            hex,
            e.kind,
            diffs.join("\n      ")
        ))
    }
}

fn rows() -> Vec<Bad> {
    let mut r = v311_rows();
    r.extend(v5_rows());
    r
}

// Statement sets used by many rows.
fn flags3() -> Vec<StatementId> {
    vec![v311!("MQTT-2.2.2-1"), v311!("MQTT-2.2.2-2")]
}

fn with(mut a: Vec<StatementId>, more: &[StatementId]) -> Vec<StatementId> {
    a.extend_from_slice(more);
    a
}

#[rustfmt::skip]
fn v311_rows() -> Vec<Bad> {
    let f = flags3();
    let utf8 = [v311!("MQTT-1.5.3-1")];
    let null = [v311!("MQTT-1.5.3-2")];
    let null_topic = [v311!("MQTT-1.5.3-2"), v311!("MQTT-4.7.3-2")];
    let wild = [v311!("MQTT-3.3.2-2"), v311!("MQTT-4.7.1-1")];
    let filter = [v311!("MQTT-4.7.1-2"), v311!("MQTT-4.7.1-3")];
    let id0 = [v311!("MQTT-2.3.1-1")];
    vec![
        // ---- fixed header: reserved flags of every type [MQTT-2.2.2-1] [MQTT-2.2.2-2] ----
        b3("CONNECT flags 0001", "11 LL <MQTT> 04 02 00 3c <c>", MALFORMED, &f, 0),
        b3("CONNECT flags 1000", "18 LL <MQTT> 04 02 00 3c <c>", MALFORMED, &f, 0),
        b3("CONNACK flags 0001", "21 02 00 00", MALFORMED, &f, 0),
        b3("PUBACK flags 0010", "42 02 00 01", MALFORMED, &f, 0),
        b3("PUBREC flags 1000", "58 02 00 01", MALFORMED, &f, 0),
        b3("PUBREL flags 0000", "60 02 00 01", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.6.1-1")]), 0),
        b3("PUBREL flags 0011", "63 02 00 01", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.6.1-1")]), 0),
        b3("PUBCOMP flags 0001", "71 02 00 01", MALFORMED, &f, 0),
        b3("SUBSCRIBE flags 0000", "80 LL 00 01 <a> 00", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.8.1-1")]), 0),
        b3("SUBSCRIBE flags 1010", "8a LL 00 01 <a> 00", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.8.1-1")]), 0),
        b3("SUBACK flags 0100", "94 03 00 01 00", MALFORMED, &f, 0),
        b3("UNSUBSCRIBE flags 0000", "a0 LL 00 01 <a>", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.10.1-1")]), 0),
        b3("UNSUBSCRIBE flags 0110", "a6 LL 00 01 <a>", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.10.1-1")]), 0),
        b3("UNSUBACK flags 1000", "b8 02 00 01", MALFORMED, &f, 0),
        b3("PINGREQ flags 0001", "c1 00", MALFORMED, &f, 0),
        b3("PINGRESP flags 0100", "d4 00", MALFORMED, &f, 0),
        b3("DISCONNECT flags 0010", "e2 00", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.14.1-1")]), 0),
        b3("DISCONNECT flags 1111", "ef 00", MALFORMED, &with(f.clone(), &[v311!("MQTT-3.14.1-1")]), 0),
        b3("packet type 0", "00 00", MALFORMED, &[], 0),
        b3("packet type 15 (AUTH is 5.0 only)", "f0 00", MALFORMED, &[], 0),
        // ---- PUBLISH fixed header ----
        b3("PUBLISH QoS 3", "36 LL <a> 00 01", MALFORMED, &[v311!("MQTT-3.3.1-4")], 0),
        b3("PUBLISH QoS 3 with DUP and RETAIN", "3f LL <a> 00 01", MALFORMED, &[v311!("MQTT-3.3.1-4")], 0),
        b3("PUBLISH DUP with QoS 0", "38 LL <a>", MALFORMED, &[v311!("MQTT-3.3.1-2")], 0),
        b3("PUBLISH DUP with QoS 0 and RETAIN", "39 LL <a> 'x'", MALFORMED, &[v311!("MQTT-3.3.1-2")], 0),
        // ---- Remaining Length ----
        b3("remaining length with a fifth byte", "30 ff ff ff ff 01", MALFORMED, &[], 4),
        b3("PINGREQ remaining length with a fifth byte", "c0 80 80 80 80 00", MALFORMED, &[], 4),
        b3("packet larger than the limit", "30 LL <a> 'payload'", TOO_LARGE, &[], 0).limit(8),
        b3("packet larger than the limit, from the client", "30 LL <a> 'payload'", TOO_LARGE, &[], 0).limit(8).from(Side::Client),
        // ---- fields running past the Remaining Length ----
        b3("PUBLISH topic longer than the packet", "30 03 00 05 61", MALFORMED, &[], 5),
        b3("QoS 1 PUBLISH without its packet identifier", "32 LL <a>", MALFORMED, &[], 5),
        b3("PUBACK with one byte", "40 01 00", MALFORMED, &[], 3),
        b3("CONNACK with one byte", "20 01 00", MALFORMED, &[], 3),
        b3("CONNECT cut inside the protocol name", "10 03 00 04 4d", MALFORMED, &[], 5),
        b3("SUBSCRIBE without the options byte", "82 LL 00 01 <a>", MALFORMED, &[], 7),
        b3("SUBSCRIBE filter longer than the packet", "82 LL 00 01 00 09 61 00", MALFORMED, &[], 8),
        // ---- trailing bytes ----
        b3("PINGREQ with a body", "c0 01 00", MALFORMED, &[], 2),
        b3("PINGRESP with a body", "d0 01 00", MALFORMED, &[], 2),
        b3("DISCONNECT with a body", "e0 01 00", MALFORMED, &[], 2),
        b3("PUBACK with 3 bytes", "40 03 00 01 00", MALFORMED, &[], 4),
        b3("PUBREC with 3 bytes", "50 03 00 01 00", MALFORMED, &[], 4),
        b3("PUBREL with 3 bytes", "62 03 00 01 00", MALFORMED, &[], 4),
        b3("PUBCOMP with 3 bytes", "70 03 00 01 00", MALFORMED, &[], 4),
        b3("UNSUBACK with 3 bytes", "b0 03 00 01 00", MALFORMED, &[], 4),
        b3("CONNACK with 3 bytes", "20 03 00 00 00", MALFORMED, &[], 4),
        b3("CONNECT with a byte after the last field", "10 LL <MQTT> 04 02 00 3c <c> 00", MALFORMED, &[], 15),
        // ---- packet identifier 0 [MQTT-2.3.1-1] ----
        b3("QoS 1 PUBLISH with packet identifier 0", "32 LL <a> 00 00", PROTOCOL, &id0, 5),
        b3("QoS 2 PUBLISH with packet identifier 0", "34 LL <a> 00 00 'x'", PROTOCOL, &id0, 5),
        b3("SUBSCRIBE with packet identifier 0", "82 LL 00 00 <a> 00", PROTOCOL, &id0, 2),
        b3("UNSUBSCRIBE with packet identifier 0", "a2 LL 00 00 <a>", PROTOCOL, &id0, 2),
        b3("PUBACK with packet identifier 0", "40 02 00 00", PROTOCOL, &[], 2),
        b3("PUBREC with packet identifier 0", "50 02 00 00", PROTOCOL, &[], 2),
        b3("PUBREL with packet identifier 0", "62 02 00 00", PROTOCOL, &[], 2),
        b3("PUBCOMP with packet identifier 0", "70 02 00 00", PROTOCOL, &[], 2),
        b3("SUBACK with packet identifier 0", "90 03 00 00 00", PROTOCOL, &[], 2),
        b3("UNSUBACK with packet identifier 0", "b0 02 00 00", PROTOCOL, &[], 2),
        // ---- topic names ----
        b3("topic name with +", "30 LL <a/+>", PROTOCOL, &wild, 6),
        b3("topic name #", "30 LL <#>", PROTOCOL, &wild, 4),
        b3("topic name with + inside a level", "30 LL <a+b>", PROTOCOL, &wild, 5),
        b3("topic name ending in /#", "30 LL <sport/tennis/#>", PROTOCOL, &wild, 17),
        b3("topic name with U+0000", "30 LL 00 03 61 00 62", MALFORMED, &null_topic, 5),
        b3("topic name: overlong '/' (C0 AF)", "30 LL 00 02 c0 af", MALFORMED, &utf8, 4),
        b3("topic name: overlong U+0000 (C0 80)", "30 LL 00 02 c0 80", MALFORMED, &utf8, 4),
        b3("topic name: 3-byte overlong (E0 80 AF)", "30 LL 00 03 e0 80 af", MALFORMED, &utf8, 4),
        b3("topic name: 4-byte overlong (F0 80 80 AF)", "30 LL 00 04 f0 80 80 af", MALFORMED, &utf8, 4),
        b3("topic name: high surrogate U+D800", "30 LL 00 03 ed a0 80", MALFORMED, &utf8, 4),
        b3("topic name: low surrogate U+DFFF", "30 LL 00 03 ed bf bf", MALFORMED, &utf8, 4),
        b3("topic name: surrogate after valid text", "30 LL 00 05 61 62 ed b0 80", MALFORMED, &utf8, 6),
        b3("topic name: lone continuation byte", "30 LL 00 01 80", MALFORMED, &utf8, 4),
        b3("topic name: truncated sequence", "30 LL 00 02 e2 82", MALFORMED, &utf8, 4),
        b3("topic name: code point above U+10FFFF", "30 LL 00 04 f4 90 80 80", MALFORMED, &utf8, 4),
        b3("topic name: byte FF", "30 LL 00 01 ff", MALFORMED, &utf8, 4),
        b3("topic name: 5-byte form", "30 LL 00 05 f8 88 80 80 80", MALFORMED, &utf8, 4),
        b3("topic name: ill-formed before U+0000", "30 LL 00 03 c0 00 61", MALFORMED, &utf8, 4),
        b3("empty topic name", "30 02 00 00", PROTOCOL, &[v311!("MQTT-4.7.3-1")], 2),
        // ---- CONNECT ----
        b3("CONNECT reserved flag", "10 LL <MQTT> 04 03 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-3")], 9),
        b3("CONNECT reserved flag alone", "10 LL <MQTT> 04 01 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-3")], 9),
        b3("protocol name MQTX", "10 LL <MQTX> 04 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-1")], 2),
        b3("protocol name in lower case", "10 LL <mqtt> 04 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-1")], 2),
        b3("protocol name MQIsdp with level 4", "10 LL <MQIsdp> 04 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-1")], 2),
        b3("empty protocol name", "10 LL 00 00 04 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-1")], 2),
        b3("protocol level 6", "10 LL <MQTT> 06 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-2")], 8),
        b3("protocol level 0", "10 LL <MQTT> 00 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-2")], 8),
        b3("protocol level 3 with the name MQTT", "10 LL <MQTT> 03 02 00 3c <c>", UNSUPPORTED, &[v311!("MQTT-3.1.2-2")], 8),
        b3("will QoS 3", "10 LL <MQTT> 04 1e 00 3c <c> <t> 00 00", MALFORMED, &[v311!("MQTT-3.1.2-14")], 9),
        b3("will QoS 1 without the Will Flag", "10 LL <MQTT> 04 0a 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-11"), v311!("MQTT-3.1.2-13")], 9),
        b3("will QoS 2 without the Will Flag", "10 LL <MQTT> 04 12 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-11"), v311!("MQTT-3.1.2-13")], 9),
        b3("will retain without the Will Flag", "10 LL <MQTT> 04 22 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-11"), v311!("MQTT-3.1.2-15")], 9),
        b3("password flag without user name flag", "10 LL <MQTT> 04 42 00 3c <c> <pw>", PROTOCOL, &[v311!("MQTT-3.1.2-22")], 9),
        b3("will topic with a wildcard", "10 LL <MQTT> 04 06 00 3c <c> <a/#> 00 00", PROTOCOL, &[v311!("MQTT-4.7.1-1")], 15),
        b3("empty will topic", "10 LL <MQTT> 04 06 00 3c <c> 00 00 00 00", PROTOCOL, &[v311!("MQTT-4.7.3-1")], 15),
        b3("will topic with U+0000 (a topic name)", "10 LL <MQTT> 04 06 00 3c <c> 00 01 00 00 00", MALFORMED, &null_topic, 17),
        b3("client identifier: ill-formed UTF-8", "10 LL <MQTT> 04 02 00 3c 00 01 ff", MALFORMED, &utf8, 14),
        b3("client identifier with U+0000", "10 LL <MQTT> 04 02 00 3c 00 01 00", MALFORMED, &null, 14),
        b3("user name: ill-formed UTF-8", "10 LL <MQTT> 04 82 00 3c <c> 00 02 c3 28", MALFORMED, &utf8, 17),
        b3("user name flag without a user name", "10 LL <MQTT> 04 82 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-19")], 15),
        b3("password flag without a password", "10 LL <MQTT> 04 c2 00 3c <c> <bob>", MALFORMED, &[v311!("MQTT-3.1.2-21")], 20),
        b3("will flag without will topic and payload", "10 LL <MQTT> 04 06 00 3c <c>", MALFORMED, &[v311!("MQTT-3.1.2-9")], 15),
        b3("will flag without will payload", "10 LL <MQTT> 04 06 00 3c <c> <t>", MALFORMED, &[v311!("MQTT-3.1.2-9")], 18),
        b3("user name flag, user name cut short (a truncation, not a missing field)", "10 LL <MQTT> 04 82 00 3c <c> 00 05 62", MALFORMED, &[], 18),
        b3("user name present without its flag", "10 LL <MQTT> 04 02 00 3c <c> <bob>", MALFORMED, &[], 15),
        // ---- CONNACK ----
        b3("CONNACK reserved flag bit 1", "20 02 02 00", MALFORMED, &[], 2),
        b3("CONNACK reserved flag bit 7", "20 02 80 00", MALFORMED, &[], 2),
        b3("CONNACK return code 6", "20 02 00 06", PROTOCOL, &[], 3),
        b3("CONNACK return code 0x80", "20 02 00 80", PROTOCOL, &[], 3),
        b3("session present with a refusal", "20 02 01 05", PROTOCOL, &[v311!("MQTT-3.2.2-4")], 2),
        // ---- SUBSCRIBE ----
        b3("SUBSCRIBE without topic filters", "82 02 00 01", PROTOCOL, &[v311!("MQTT-3.8.3-3")], 4),
        b3("SUBSCRIBE options bit 2 (reserved in 3.1.1)", "82 LL 00 01 <a> 04", MALFORMED, &[v311!("MQTT-3.8.3-4")], 7),
        b3("SUBSCRIBE options bit 7", "82 LL 00 01 <a> 80", MALFORMED, &[v311!("MQTT-3.8.3-4")], 7),
        b3("SUBSCRIBE options FC", "82 LL 00 01 <a> fc", MALFORMED, &[v311!("MQTT-3.8.3-4")], 7),
        b3("SUBSCRIBE requested QoS 3 (malformed in 3.1.1)", "82 LL 00 01 <a> 03", MALFORMED, &[v311!("MQTT-3.8.3-4")], 7),
        b3("SUBSCRIBE second filter with reserved bits", "82 LL 00 01 <a> 00 <b> 40", MALFORMED, &[v311!("MQTT-3.8.3-4")], 11),
        b3("topic filter a/#/b", "82 LL 00 01 <a/#/b> 00", PROTOCOL, &filter, 4),
        b3("topic filter a#", "82 LL 00 01 <a#> 00", PROTOCOL, &filter, 4),
        b3("topic filter +a", "82 LL 00 01 <+a> 00", PROTOCOL, &filter, 4),
        b3("topic filter a/b+", "82 LL 00 01 <a/b+> 00", PROTOCOL, &filter, 4),
        b3("topic filter #/", "82 LL 00 01 <#/> 00", PROTOCOL, &filter, 4),
        b3("topic filter ##", "82 LL 00 01 <##> 00", PROTOCOL, &filter, 4),
        b3("empty topic filter in SUBSCRIBE", "82 LL 00 01 00 00 00", PROTOCOL, &[v311!("MQTT-4.7.3-1")], 4),
        b3("topic filter with U+0000", "82 LL 00 01 00 03 61 00 62 00", MALFORMED, &null_topic, 7),
        b3("topic filter: overlong UTF-8", "82 LL 00 01 00 02 c0 af 00", MALFORMED, &utf8, 6),
        // ---- UNSUBSCRIBE ----
        b3("UNSUBSCRIBE without topic filters", "a2 02 00 01", PROTOCOL, &[v311!("MQTT-3.10.3-2")], 4),
        b3("UNSUBSCRIBE filter a#b", "a2 LL 00 01 <a#b>", PROTOCOL, &filter, 4),
        b3("UNSUBSCRIBE filter with U+0000", "a2 LL 00 01 00 01 00", MALFORMED, &null_topic, 6),
        b3("UNSUBSCRIBE filter: byte FF", "a2 LL 00 01 00 01 ff", MALFORMED, &utf8, 6),
        b3("empty topic filter in UNSUBSCRIBE", "a2 LL 00 01 00 00", PROTOCOL, &[v311!("MQTT-4.7.3-1")], 4),
        // ---- SUBACK ----
        b3("SUBACK without return codes", "90 02 00 01", PROTOCOL, &[v311!("MQTT-3.8.4-5")], 4),
        b3("SUBACK return code 3", "90 03 00 01 03", PROTOCOL, &[v311!("MQTT-3.9.3-2")], 4),
        b3("SUBACK return code 0x81", "90 03 00 01 81", PROTOCOL, &[v311!("MQTT-3.9.3-2")], 4),
        b3("SUBACK second return code 0x40", "90 04 00 01 00 40", PROTOCOL, &[v311!("MQTT-3.9.3-2")], 5),
        // ---- packets only one side sends (with --from) ----
        b3("CONNECT sent by the server", "10 LL <MQTT> 04 02 00 3c <c>", PROTOCOL, &[], 0).from(Side::Server),
        b3("CONNACK sent by the client", "20 02 00 00", PROTOCOL, &[], 0).from(Side::Client),
        b3("SUBSCRIBE sent by the server", "82 LL 00 01 <a> 00", PROTOCOL, &[], 0).from(Side::Server),
        b3("SUBACK sent by the client", "90 03 00 01 00", PROTOCOL, &[], 0).from(Side::Client),
        b3("UNSUBSCRIBE sent by the server", "a2 LL 00 01 <a>", PROTOCOL, &[], 0).from(Side::Server),
        b3("UNSUBACK sent by the client", "b0 02 00 01", PROTOCOL, &[], 0).from(Side::Client),
        b3("PINGREQ sent by the server", "c0 00", PROTOCOL, &[], 0).from(Side::Server),
        b3("PINGRESP sent by the client", "d0 00", PROTOCOL, &[], 0).from(Side::Client),
        b3("DISCONNECT sent by the server (3.1.1)", "e0 00", PROTOCOL, &[], 0).from(Side::Server),
    ]
}

#[rustfmt::skip]
fn v5_rows() -> Vec<Bad> {
    let f = [v5!("MQTT-2.1.3-1")];
    let fw = |id: StatementId| vec![v5!("MQTT-2.1.3-1"), id];
    let vbi = [v5!("MQTT-1.5.5-1")];
    let utf8 = [v5!("MQTT-1.5.4-1")];
    let null = [v5!("MQTT-1.5.4-2")];
    let null_topic = [v5!("MQTT-1.5.4-2"), v5!("MQTT-4.7.3-2")];
    let wild = [v5!("MQTT-3.3.2-2"), v5!("MQTT-4.7.0-1")];
    let filter = [v5!("MQTT-4.7.1-1"), v5!("MQTT-4.7.1-2")];
    let shared = [v5!("MQTT-4.8.2-1"), v5!("MQTT-4.8.2-2")];
    let id0 = [v5!("MQTT-2.2.1-3")];
    // CONNECT prefix up to and including the flags byte: offsets 9 flags, 12 property
    // length, 13 first property.
    let connect = |flags: &str, rest: &str| format!("10 LL <MQTT> 05 {flags} 00 3c {rest}");
    vec![
        // ---- fixed header: reserved flags [MQTT-2.1.3-1] ----
        b5("CONNECT flags 0001", &connect_flags("11"), MALFORMED, &f, 0),
        b5("CONNACK flags 1000", "28 03 00 00 00", MALFORMED, &f, 0),
        b5("PUBACK flags 0001", "41 02 00 01", MALFORMED, &f, 0),
        b5("PUBREC flags 0010", "52 02 00 01", MALFORMED, &f, 0),
        b5("PUBREL flags 0000", "60 02 00 01", MALFORMED, &fw(v5!("MQTT-3.6.1-1")), 0),
        b5("PUBREL flags 1010", "6a 02 00 01", MALFORMED, &fw(v5!("MQTT-3.6.1-1")), 0),
        b5("PUBCOMP flags 0100", "74 02 00 01", MALFORMED, &f, 0),
        b5("SUBSCRIBE flags 0000", "80 LL 00 01 [] <a> 00", MALFORMED, &fw(v5!("MQTT-3.8.1-1")), 0),
        b5("SUBSCRIBE flags 0011", "83 LL 00 01 [] <a> 00", MALFORMED, &fw(v5!("MQTT-3.8.1-1")), 0),
        b5("SUBACK flags 0010", "92 LL 00 01 [] 00", MALFORMED, &f, 0),
        b5("UNSUBSCRIBE flags 0000", "a0 LL 00 01 [] <a>", MALFORMED, &fw(v5!("MQTT-3.10.1-1")), 0),
        b5("UNSUBACK flags 0100", "b4 LL 00 01 [] 00", MALFORMED, &f, 0),
        b5("PINGREQ flags 0010", "c2 00", MALFORMED, &f, 0),
        b5("PINGRESP flags 1000", "d8 00", MALFORMED, &f, 0),
        b5("DISCONNECT flags 1000", "e8 00", MALFORMED, &fw(v5!("MQTT-3.14.1-1")), 0),
        b5("AUTH flags 0001", "f1 00", MALFORMED, &fw(v5!("MQTT-3.15.1-1")), 0),
        b5("AUTH flags 1000", "f8 00", MALFORMED, &fw(v5!("MQTT-3.15.1-1")), 0),
        b5("packet type 0", "00 00", MALFORMED, &[], 0),
        // ---- PUBLISH fixed header ----
        b5("PUBLISH QoS 3", "36 LL <a> 00 01 []", MALFORMED, &[v5!("MQTT-3.3.1-4")], 0),
        b5("PUBLISH QoS 3 with DUP", "3e LL <a> 00 01 []", MALFORMED, &[v5!("MQTT-3.3.1-4")], 0),
        b5("PUBLISH DUP with QoS 0", "38 LL <a> []", MALFORMED, &[v5!("MQTT-3.3.1-2")], 0),
        // ---- Variable Byte Integers [MQTT-1.5.5-1] ----
        b5("remaining length with a fifth byte", "30 ff ff ff ff 01", MALFORMED, &vbi, 4),
        b5("remaining length 0 in two bytes", "c0 80 00", MALFORMED, &vbi, 1),
        b5("remaining length 127 in two bytes", "c0 ff 00", MALFORMED, &vbi, 1),
        b5("remaining length 0 in four bytes", "d0 80 80 80 00", MALFORMED, &vbi, 1),
        b5("PUBLISH remaining length 5 in two bytes", "30 85 00 00 01 61 00 7a", MALFORMED, &vbi, 1),
        b5("CONNECT remaining length in two bytes", "10 8e 00 00 04 'MQTT' 05 02 00 3c 00 00 01 63", MALFORMED, &vbi, 1),
        b5("property length 0 in two bytes", "e0 03 00 80 00", MALFORMED, &vbi, 3),
        b5("property length with a fifth byte", "e0 07 00 ff ff ff ff 01 00", MALFORMED, &vbi, 7),
        b5("subscription identifier 1 in two bytes", "82 LL 00 01 [0b 81 00] <a> 00", MALFORMED, &vbi, 6),
        b5("subscription identifier with a fifth byte", "82 LL 00 01 [0b ff ff ff ff 01] <a> 00", MALFORMED, &vbi, 10),
        b5("property identifier 0x23 in two bytes", "30 LL <a> [a3 00 00 01]", MALFORMED, &vbi, 6),
        // ---- Maximum Packet Size (limits) ----
        b5("packet larger than the limit", "30 LL <a> [] 'payload'", TOO_LARGE, &[], 0).limit(8),
        b5("client's packet larger than the server's maximum", "30 LL <a> [] 'payload'", TOO_LARGE, &[v5!("MQTT-3.2.2-15")], 0).limit(8).from(Side::Client),
        b5("server's packet larger than the client's maximum", "30 LL <a> [] 'payload'", TOO_LARGE, &[v5!("MQTT-3.1.2-24")], 0).limit(8).from(Side::Server),
        // ---- fields running past the Remaining Length ----
        b5("PUBLISH topic longer than the packet", "30 03 00 05 61", MALFORMED, &[], 5),
        b5("PUBLISH without its property length", "30 LL <a>", MALFORMED, &[], 5),
        b5("PUBACK with one byte", "40 01 00", MALFORMED, &[], 3),
        b5("CONNACK without its property length", "20 02 00 00", MALFORMED, &[], 4),
        b5("property length cut by the end of the packet", "e0 02 00 80", MALFORMED, &[], 4),
        // ---- trailing bytes ----
        b5("PINGREQ with a body", "c0 01 00", MALFORMED, &[], 2),
        b5("PINGRESP with a body", "d0 01 00", MALFORMED, &[], 2),
        b5("DISCONNECT with a byte after its properties", "e0 LL 00 [] 00", MALFORMED, &[], 4),
        b5("AUTH with a byte after its properties", "f0 LL 00 [] 00", MALFORMED, &[], 4),
        b5("CONNACK with a byte after its properties", "20 LL 00 00 [] 00", MALFORMED, &[], 5),
        b5("PUBACK with a byte after its properties", "40 LL 00 01 10 [] 00", MALFORMED, &[], 6),
        b5("CONNECT with a byte after the last field", &connect("02", "[] <c> 00"), MALFORMED, &[], 16),
        // ---- packet identifier 0 ----
        b5("QoS 1 PUBLISH with packet identifier 0", "32 LL <a> 00 00 []", PROTOCOL, &id0, 5),
        b5("QoS 1 PUBLISH with packet identifier 0, from the client", "32 LL <a> 00 00 []", PROTOCOL, &id0, 5).from(Side::Client),
        b5("QoS 2 PUBLISH with packet identifier 0, from the server", "34 LL <a> 00 00 []", PROTOCOL, &[v5!("MQTT-2.2.1-4")], 5).from(Side::Server),
        b5("SUBSCRIBE with packet identifier 0", "82 LL 00 00 [] <a> 00", PROTOCOL, &id0, 2),
        b5("UNSUBSCRIBE with packet identifier 0", "a2 LL 00 00 [] <a>", PROTOCOL, &id0, 2),
        b5("PUBACK with packet identifier 0", "40 02 00 00", PROTOCOL, &[], 2),
        b5("PUBREC with packet identifier 0", "50 02 00 00", PROTOCOL, &[], 2),
        b5("PUBREL with packet identifier 0", "62 02 00 00", PROTOCOL, &[], 2),
        b5("PUBCOMP with packet identifier 0", "70 02 00 00", PROTOCOL, &[], 2),
        b5("SUBACK with packet identifier 0", "90 LL 00 00 [] 00", PROTOCOL, &[], 2),
        b5("UNSUBACK with packet identifier 0", "b0 LL 00 00 [] 00", PROTOCOL, &[], 2),
        // ---- topic names ----
        b5("topic name with +", "30 LL <a/+> []", PROTOCOL, &wild, 6),
        b5("topic name #", "30 LL <#> []", PROTOCOL, &wild, 4),
        b5("topic name +", "30 LL <+> []", PROTOCOL, &wild, 4),
        b5("topic name with U+0000", "30 LL 00 03 61 00 62 []", MALFORMED, &null_topic, 5),
        b5("topic name: overlong '/' (C0 AF)", "30 LL 00 02 c0 af []", MALFORMED, &utf8, 4),
        b5("topic name: overlong U+0000 (C0 80)", "30 LL 00 02 c0 80 []", MALFORMED, &utf8, 4),
        b5("topic name: 3-byte overlong", "30 LL 00 03 e0 80 af []", MALFORMED, &utf8, 4),
        b5("topic name: high surrogate U+D800", "30 LL 00 03 ed a0 80 []", MALFORMED, &utf8, 4),
        b5("topic name: low surrogate U+DC00", "30 LL 00 03 ed b0 80 []", MALFORMED, &utf8, 4),
        b5("topic name: lone continuation byte", "30 LL 00 01 bf []", MALFORMED, &utf8, 4),
        b5("topic name: code point above U+10FFFF", "30 LL 00 04 f5 80 80 80 []", MALFORMED, &utf8, 4),
        b5("topic name: truncated sequence after text", "30 LL 00 03 61 f0 9f []", MALFORMED, &utf8, 5),
        b5("empty topic name without a topic alias", "30 LL 00 00 []", PROTOCOL, &[v5!("MQTT-4.7.3-1")], 2),
        b5("topic alias 0", "30 LL <a> [23 00 00]", ALIAS, &[v5!("MQTT-3.3.2-8")], 7),
        b5("empty topic name with topic alias 0", "30 LL 00 00 [23 00 00]", ALIAS, &[v5!("MQTT-3.3.2-8")], 6),
        // ---- properties: included twice (Protocol Error) ----
        b5("PUBLISH: topic alias twice", "30 LL <a> [23 00 01 23 00 01]", PROTOCOL, &[], 9),
        b5("PUBLISH: payload format indicator twice", "30 LL <a> [01 00 01 01]", PROTOCOL, &[], 8),
        b5("PUBLISH: message expiry interval twice", "30 LL <a> [02 00 00 00 01 02 00 00 00 02]", PROTOCOL, &[], 11),
        b5("PUBLISH: content type twice", "30 LL <a> [03 <x> 03 <y>]", PROTOCOL, &[], 10),
        b5("PUBLISH: response topic twice", "30 LL <a> [08 <r> 08 <r>]", PROTOCOL, &[], 10),
        b5("PUBLISH: correlation data twice", "30 LL <a> [09 00 01 01 09 00 01 02]", PROTOCOL, &[], 10),
        b5("CONNECT: session expiry interval twice", &connect("02", "[11 00 00 00 01 11 00 00 00 02] <c>"), PROTOCOL, &[], 18),
        b5("CONNECT: receive maximum twice", &connect("02", "[21 00 05 21 00 05] <c>"), PROTOCOL, &[], 16),
        b5("CONNECT: maximum packet size twice", &connect("02", "[27 00 00 01 00 27 00 00 01 00] <c>"), PROTOCOL, &[], 18),
        b5("CONNECT: topic alias maximum twice", &connect("02", "[22 00 01 22 00 01] <c>"), PROTOCOL, &[], 16),
        b5("CONNECT: request problem information twice", &connect("02", "[17 01 17 01] <c>"), PROTOCOL, &[], 15),
        b5("CONNECT: request response information twice", &connect("02", "[19 01 19 01] <c>"), PROTOCOL, &[], 15),
        b5("CONNECT: authentication method twice", &connect("02", "[15 <m> 15 <m>] <c>"), PROTOCOL, &[], 17),
        b5("CONNECT: authentication data twice", &connect("02", "[15 <m> 16 00 00 16 00 00] <c>"), PROTOCOL, &[], 20),
        b5("will properties: will delay interval twice", &connect("06", "[] <c> [18 00 00 00 01 18 00 00 00 01] <t> 00 00"), PROTOCOL, &[], 22),
        b5("will properties: payload format indicator twice", &connect("06", "[] <c> [01 01 01 01] <t> 00 00"), PROTOCOL, &[], 19),
        b5("CONNACK: session expiry interval twice", "20 LL 00 00 [11 00 00 00 01 11 00 00 00 01]", PROTOCOL, &[], 10),
        b5("CONNACK: receive maximum twice", "20 LL 00 00 [21 00 05 21 00 05]", PROTOCOL, &[], 8),
        b5("CONNACK: maximum QoS twice", "20 LL 00 00 [24 00 24 00]", PROTOCOL, &[], 7),
        b5("CONNACK: retain available twice", "20 LL 00 00 [25 01 25 01]", PROTOCOL, &[], 7),
        b5("CONNACK: maximum packet size twice", "20 LL 00 00 [27 00 00 01 00 27 00 00 01 00]", PROTOCOL, &[], 10),
        b5("CONNACK: assigned client identifier twice", "20 LL 00 00 [12 <x> 12 <x>]", PROTOCOL, &[], 9),
        b5("CONNACK: topic alias maximum twice", "20 LL 00 00 [22 00 05 22 00 05]", PROTOCOL, &[], 8),
        b5("CONNACK: reason string twice", "20 LL 00 00 [1f <x> 1f <x>]", PROTOCOL, &[], 9),
        b5("CONNACK: wildcard subscription available twice", "20 LL 00 00 [28 01 28 01]", PROTOCOL, &[], 7),
        b5("CONNACK: subscription identifiers available twice", "20 LL 00 00 [29 01 29 01]", PROTOCOL, &[], 7),
        b5("CONNACK: shared subscription available twice", "20 LL 00 00 [2a 01 2a 01]", PROTOCOL, &[], 7),
        b5("CONNACK: server keep alive twice", "20 LL 00 00 [13 00 05 13 00 05]", PROTOCOL, &[], 8),
        b5("CONNACK: response information twice", "20 LL 00 00 [1a <x> 1a <x>]", PROTOCOL, &[], 9),
        b5("CONNACK: server reference twice", "20 LL 00 00 [1c <x> 1c <x>]", PROTOCOL, &[], 9),
        b5("SUBSCRIBE: subscription identifier twice", "82 LL 00 01 [0b 01 0b 02] <a> 00", PROTOCOL, &[], 7),
        b5("PUBACK: reason string twice", "40 LL 00 01 00 [1f <x> 1f <y>]", PROTOCOL, &[], 10),
        b5("SUBACK: reason string twice", "90 LL 00 01 [1f <x> 1f <y>] 00", PROTOCOL, &[], 9),
        b5("DISCONNECT: session expiry interval twice", "e0 LL 00 [11 00 00 00 01 11 00 00 00 01]", PROTOCOL, &[], 9),
        b5("DISCONNECT: server reference twice", "e0 LL 00 [1c <x> 1c <x>]", PROTOCOL, &[], 8),
        b5("AUTH: authentication method twice", "f0 LL 18 [15 <m> 15 <m>]", PROTOCOL, &[], 8),
        b5("AUTH: authentication data twice", "f0 LL 18 [15 <m> 16 00 00 16 00 00]", PROTOCOL, &[], 11),
        // ---- properties the packet may not carry (Malformed Packet, 2.2.2.2) ----
        b5("CONNECT: topic alias", &connect("02", "[23 00 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: server keep alive", &connect("02", "[13 00 0a] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: maximum QoS", &connect("02", "[24 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: assigned client identifier", &connect("02", "[12 <x>] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: response information", &connect("02", "[1a <x>] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: server reference", &connect("02", "[1c <x>] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: reason string", &connect("02", "[1f <x>] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: will delay interval (outside the will)", &connect("02", "[18 00 00 00 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: wildcard subscription available", &connect("02", "[28 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: subscription identifier", &connect("02", "[0b 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: payload format indicator (outside the will)", &connect("02", "[01 01] <c>"), MALFORMED, &[], 13),
        b5("CONNECT: property after a valid one", &connect("02", "[11 00 00 00 01 23 00 01] <c>"), MALFORMED, &[], 18),
        b5("CONNACK: request problem information", "20 LL 00 00 [17 01]", MALFORMED, &[], 5),
        b5("CONNACK: payload format indicator", "20 LL 00 00 [01 01]", MALFORMED, &[], 5),
        b5("CONNACK: topic alias", "20 LL 00 00 [23 00 01]", MALFORMED, &[], 5),
        b5("CONNACK: subscription identifier", "20 LL 00 00 [0b 01]", MALFORMED, &[], 5),
        b5("CONNACK: will delay interval", "20 LL 00 00 [18 00 00 00 01]", MALFORMED, &[], 5),
        b5("PUBLISH: will delay interval", "30 LL <a> [18 00 00 00 01]", MALFORMED, &[], 6),
        b5("PUBLISH: session expiry interval", "30 LL <a> [11 00 00 00 01]", MALFORMED, &[], 6),
        b5("PUBLISH: reason string", "30 LL <a> [1f <x>]", MALFORMED, &[], 6),
        b5("PUBLISH: authentication method", "30 LL <a> [15 <m>]", MALFORMED, &[], 6),
        b5("PUBLISH: topic alias maximum", "30 LL <a> [22 00 05]", MALFORMED, &[], 6),
        b5("PUBLISH: receive maximum", "30 LL <a> [21 00 05]", MALFORMED, &[], 6),
        b5("PUBLISH: server reference", "30 LL <a> [1c <x>]", MALFORMED, &[], 6),
        b5("PUBACK: session expiry interval", "40 LL 00 01 00 [11 00 00 00 01]", MALFORMED, &[], 6),
        b5("PUBACK: topic alias", "40 LL 00 01 00 [23 00 01]", MALFORMED, &[], 6),
        b5("PUBREC: content type", "50 LL 00 01 00 [03 <x>]", MALFORMED, &[], 6),
        b5("PUBREL: subscription identifier", "62 LL 00 01 00 [0b 01]", MALFORMED, &[], 6),
        b5("PUBCOMP: maximum packet size", "70 LL 00 01 00 [27 00 00 01 00]", MALFORMED, &[], 6),
        b5("SUBSCRIBE: reason string", "82 LL 00 01 [1f <x>] <a> 00", MALFORMED, &[], 5),
        b5("SUBSCRIBE: topic alias", "82 LL 00 01 [23 00 01] <a> 00", MALFORMED, &[], 5),
        b5("SUBACK: subscription identifier", "90 LL 00 01 [0b 01] 00", MALFORMED, &[], 5),
        b5("SUBACK: session expiry interval", "90 LL 00 01 [11 00 00 00 01] 00", MALFORMED, &[], 5),
        b5("UNSUBSCRIBE: subscription identifier", "a2 LL 00 01 [0b 01] <a>", MALFORMED, &[], 5),
        b5("UNSUBSCRIBE: reason string", "a2 LL 00 01 [1f <x>] <a>", MALFORMED, &[], 5),
        b5("UNSUBACK: server reference", "b0 LL 00 01 [1c <x>] 00", MALFORMED, &[], 5),
        b5("DISCONNECT: receive maximum", "e0 LL 00 [21 00 05]", MALFORMED, &[], 4),
        b5("DISCONNECT: topic alias", "e0 LL 00 [23 00 01]", MALFORMED, &[], 4),
        b5("DISCONNECT: authentication method", "e0 LL 00 [15 <m>]", MALFORMED, &[], 4),
        b5("AUTH: session expiry interval", "f0 LL 18 [11 00 00 00 01]", MALFORMED, &[], 4),
        b5("AUTH: server reference", "f0 LL 18 [15 <m> 1c <x>]", MALFORMED, &[], 8),
        b5("will properties: topic alias", &connect("06", "[] <c> [23 00 01] <t> 00 00"), MALFORMED, &[], 17),
        b5("will properties: session expiry interval", &connect("06", "[] <c> [11 00 00 00 01] <t> 00 00"), MALFORMED, &[], 17),
        b5("will properties: subscription identifier", &connect("06", "[] <c> [0b 01] <t> 00 00"), MALFORMED, &[], 17),
        b5("will properties: reason string", &connect("06", "[] <c> [1f <x>] <t> 00 00"), MALFORMED, &[], 17),
        b5("will properties: receive maximum", &connect("06", "[] <c> [21 00 05] <t> 00 00"), MALFORMED, &[], 17),
        // ---- unknown property identifiers ----
        b5("property identifier 0x00", "30 LL <a> [00]", MALFORMED, &[], 6),
        b5("property identifier 0x04", "30 LL <a> [04 00]", MALFORMED, &[], 6),
        b5("property identifier 0x14", &connect("02", "[14 00] <c>"), MALFORMED, &[], 13),
        b5("property identifier 0x1B", "20 LL 00 00 [1b 00]", MALFORMED, &[], 5),
        b5("property identifier 0x20", "e0 LL 00 [20 00]", MALFORMED, &[], 4),
        b5("property identifier 0x2B", "30 LL <a> [2b 00]", MALFORMED, &[], 6),
        b5("property identifier 0x7F", "30 LL <a> [7f 00]", MALFORMED, &[], 6),
        b5("property identifier 128 (two bytes)", "30 LL <a> [80 01 00]", MALFORMED, &[], 6),
        b5("property identifier 268435455", "30 LL <a> [ff ff ff 7f 00]", MALFORMED, &[], 6),
        // ---- property values ----
        b5("CONNECT: receive maximum 0", &connect("02", "[21 00 00] <c>"), PROTOCOL, &[], 14),
        b5("CONNACK: receive maximum 0", "20 LL 00 00 [21 00 00]", PROTOCOL, &[], 6),
        b5("CONNECT: maximum packet size 0", &connect("02", "[27 00 00 00 00] <c>"), PROTOCOL, &[], 14),
        b5("CONNACK: maximum packet size 0", "20 LL 00 00 [27 00 00 00 00]", PROTOCOL, &[], 6),
        b5("SUBSCRIBE: subscription identifier 0", "82 LL 00 01 [0b 00] <a> 00", PROTOCOL, &[], 6),
        b5("PUBLISH: subscription identifier 0", "30 LL <a> [0b 00]", PROTOCOL, &[], 7),
        b5("CONNECT: request problem information 2", &connect("02", "[17 02] <c>"), PROTOCOL, &[], 14),
        b5("CONNECT: request response information FF", &connect("02", "[19 ff] <c>"), PROTOCOL, &[], 14),
        b5("CONNACK: maximum QoS 2", "20 LL 00 00 [24 02]", PROTOCOL, &[], 6),
        b5("CONNACK: retain available 2", "20 LL 00 00 [25 02]", PROTOCOL, &[], 6),
        b5("CONNACK: wildcard subscription available 2", "20 LL 00 00 [28 02]", PROTOCOL, &[], 6),
        b5("CONNACK: subscription identifiers available 2", "20 LL 00 00 [29 02]", PROTOCOL, &[], 6),
        b5("CONNACK: shared subscription available 2", "20 LL 00 00 [2a 02]", PROTOCOL, &[], 6),
        b5("PUBLISH: payload format indicator 2", "30 LL <a> [01 02]", PROTOCOL, &[], 7),
        b5("will properties: payload format indicator 2", &connect("06", "[] <c> [01 02] <t> 00 00"), PROTOCOL, &[], 18),
        b5("CONNECT: authentication data without method", &connect("02", "[16 00 01 78] <c>"), PROTOCOL, &[], 12),
        b5("CONNACK: authentication data without method", "20 LL 00 00 [16 00 00]", PROTOCOL, &[], 4),
        b5("AUTH 0x18 without authentication method", "f0 LL 18 []", PROTOCOL, &[], 3),
        b5("AUTH 0x19 with data but no method", "f0 LL 19 [16 00 00]", PROTOCOL, &[], 3),
        b5("response topic with #", "30 LL <a> [08 <a/#>]", PROTOCOL, &[v5!("MQTT-3.3.2-14")], 7),
        b5("will response topic +", &connect("06", "[] <c> [08 <+>] <t> 00 00"), PROTOCOL, &[v5!("MQTT-3.3.2-14")], 18),
        b5("empty response topic", "30 LL <a> [08 00 00]", PROTOCOL, &[v5!("MQTT-4.7.3-1")], 7),
        b5("empty will response topic", &connect("06", "[] <c> [08 00 00] <t> 00 00"), PROTOCOL, &[v5!("MQTT-4.7.3-1")], 18),
        b5("response topic with U+0000", "30 LL <a> [08 00 01 00]", MALFORMED, &null_topic, 9),
        b5("CONNACK: user property value with U+0000", "20 LL 00 00 [26 <k> 00 01 00]", MALFORMED, &null, 11),
        b5("PUBLISH: user property key with U+0000", "30 LL <a> [26 00 01 00 <v>]", MALFORMED, &null, 9),
        b5("PUBLISH: content type with U+0000", "30 LL <a> [03 00 01 00]", MALFORMED, &null, 9),
        b5("PUBACK: reason string ill-formed", "40 LL 00 01 10 [1f 00 01 ff]", MALFORMED, &utf8, 9),
        b5("CONNECT: user property key ill-formed", &connect("02", "[26 00 01 ff <v>] <c>"), MALFORMED, &utf8, 16),
        b5("AUTH: authentication method ill-formed", "f0 LL 18 [15 00 02 c0 af]", MALFORMED, &utf8, 7),
        b5("CONNACK: assigned client identifier with U+0000", "20 LL 00 00 [12 00 01 00]", MALFORMED, &null, 8),
        // ---- property length ----
        b5("PUBLISH property length past the packet", "30 06 00 01 61 05 23 00", MALFORMED, &[], 5),
        b5("PUBLISH property value past the property length", "30 07 00 01 61 02 23 00 01", MALFORMED, &[], 7),
        b5("PUBLISH property without its value", "30 LL <a> [23]", MALFORMED, &[], 7),
        b5("PUBACK string property past the property length", "40 LL 00 01 10 04 1f 00 05 61 62 63 64", MALFORMED, &[], 7),
        b5("PUBLISH binary property past the property length", "30 LL <a> 04 09 00 09 01 'payload'", MALFORMED, &[], 7),
        b5("DISCONNECT property length past the packet", "e0 02 00 05", MALFORMED, &[], 3),
        b5("CONNACK property length past the packet", "20 03 00 00 09", MALFORMED, &[], 4),
        b5("will property length past the packet", &connect("06", "[] <c> 7f"), MALFORMED, &[], 16),
        // ---- CONNECT ----
        b5("CONNECT reserved flag", &connect("03", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-3")], 9),
        b5("will QoS 3", &connect("1e", "[] <c> [] <t> 00 00"), MALFORMED, &[v5!("MQTT-3.1.2-12")], 9),
        b5("will QoS 2 without the Will Flag", &connect("12", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-11")], 9),
        b5("will QoS 1 without the Will Flag", &connect("0a", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-11")], 9),
        b5("will retain without the Will Flag", &connect("22", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-13")], 9),
        b5("protocol name MQTX", "10 LL <MQTX> 05 02 00 3c [] <c>", UNSUPPORTED, &[v5!("MQTT-3.1.2-1")], 2),
        b5("protocol name MQIsdp with level 5", "10 LL <MQIsdp> 05 02 00 3c [] <c>", UNSUPPORTED, &[v5!("MQTT-3.1.2-1")], 2),
        b5("protocol level 6", "10 LL <MQTT> 06 02 00 3c [] <c>", UNSUPPORTED, &[v5!("MQTT-3.1.2-2")], 8),
        b5("protocol level 0x85", "10 LL <MQTT> 85 02 00 3c [] <c>", UNSUPPORTED, &[v5!("MQTT-3.1.2-2")], 8),
        b5("will topic with a wildcard", &connect("06", "[] <c> [] <a/+> 00 00"), PROTOCOL, &[v5!("MQTT-4.7.0-1")], 17),
        b5("empty will topic", &connect("06", "[] <c> [] 00 00 00 00"), PROTOCOL, &[v5!("MQTT-4.7.3-1")], 17),
        b5("will topic with U+0000 (a topic name)", &connect("06", "[] <c> [] 00 03 61 00 62 00 00"), MALFORMED, &null_topic, 20),
        b5("will topic: overlong UTF-8", &connect("06", "[] <c> [] 00 02 c0 af 00 00"), MALFORMED, &utf8, 19),
        b5("client identifier: ill-formed UTF-8", &connect("02", "[] 00 01 ff"), MALFORMED, &utf8, 15),
        b5("client identifier with U+0000", &connect("02", "[] 00 01 00"), MALFORMED, &null, 15),
        b5("user name: ill-formed UTF-8", &connect("82", "[] <c> 00 02 c3 28"), MALFORMED, &utf8, 18),
        b5("user name flag without a user name", &connect("82", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-17")], 16),
        b5("password flag without a password", &connect("42", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-19")], 16),
        b5("will flag without will properties", &connect("06", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-9")], 16),
        b5("will flag without will payload", &connect("06", "[] <c> [] <t>"), MALFORMED, &[v5!("MQTT-3.1.2-9")], 20),
        // A CONNECT is judged by its own protocol level, whatever the caller expected.
        bad(V3, "5.0 CONNECT with the reserved flag, decoded on a 3.1.1 stream", &connect("03", "[] <c>"), MALFORMED, &[v5!("MQTT-3.1.2-3")], 9),
        bad(V3, "5.0 CONNECT with a topic alias, decoded on a 3.1.1 stream", &connect("02", "[23 00 01] <c>"), MALFORMED, &[], 13),
        // ---- CONNACK ----
        b5("CONNACK reserved flag bit 1", "20 LL 02 00 []", MALFORMED, &[v5!("MQTT-3.2.2-1")], 2),
        b5("CONNACK reserved flags FE", "20 LL fe 00 []", MALFORMED, &[v5!("MQTT-3.2.2-1")], 2),
        b5("CONNACK reason code 0x01", "20 LL 00 01 []", PROTOCOL, &[v5!("MQTT-3.2.2-8")], 3),
        b5("CONNACK reason code 0x04", "20 LL 00 04 []", PROTOCOL, &[v5!("MQTT-3.2.2-8")], 3),
        b5("CONNACK reason code 0x8B", "20 LL 00 8b []", PROTOCOL, &[v5!("MQTT-3.2.2-8")], 3),
        b5("CONNACK reason code 0x8E", "20 LL 00 8e []", PROTOCOL, &[v5!("MQTT-3.2.2-8")], 3),
        b5("session present with a refusal", "20 LL 01 80 []", PROTOCOL, &[v5!("MQTT-3.2.2-6")], 2),
        // ---- acknowledgement reason codes ----
        b5("PUBACK reason code 0x01", "40 LL 00 01 01", PROTOCOL, &[v5!("MQTT-3.4.2-1")], 4),
        b5("PUBACK reason code 0x92", "40 LL 00 01 92 []", PROTOCOL, &[v5!("MQTT-3.4.2-1")], 4),
        b5("PUBREC reason code 0x92", "50 LL 00 01 92", PROTOCOL, &[v5!("MQTT-3.5.2-1")], 4),
        b5("PUBREC reason code 0x04", "50 LL 00 01 04", PROTOCOL, &[v5!("MQTT-3.5.2-1")], 4),
        b5("PUBREL reason code 0x10", "62 LL 00 01 10", PROTOCOL, &[v5!("MQTT-3.6.2-1")], 4),
        b5("PUBREL reason code 0x80", "62 LL 00 01 80 []", PROTOCOL, &[v5!("MQTT-3.6.2-1")], 4),
        b5("PUBCOMP reason code 0x80", "70 LL 00 01 80", PROTOCOL, &[v5!("MQTT-3.7.2-1")], 4),
        b5("SUBACK without reason codes", "90 LL 00 01 []", PROTOCOL, &[v5!("MQTT-3.8.4-6")], 5),
        b5("SUBACK reason code 0x03", "90 LL 00 01 [] 03", PROTOCOL, &[v5!("MQTT-3.9.3-2")], 5),
        b5("SUBACK reason code 0x10", "90 LL 00 01 [] 10", PROTOCOL, &[v5!("MQTT-3.9.3-2")], 5),
        b5("SUBACK second reason code 0x81", "90 LL 00 01 [] 00 81", PROTOCOL, &[v5!("MQTT-3.9.3-2")], 6),
        b5("UNSUBACK without reason codes", "b0 LL 00 01 []", PROTOCOL, &[v5!("MQTT-3.11.3-2")], 5),
        b5("UNSUBACK reason code 0x01", "b0 LL 00 01 [] 01", PROTOCOL, &[v5!("MQTT-3.11.3-2")], 5),
        b5("UNSUBACK reason code 0x92", "b0 LL 00 01 [] 00 92", PROTOCOL, &[v5!("MQTT-3.11.3-2")], 6),
        // ---- DISCONNECT and AUTH reason codes, sender rules ----
        b5("DISCONNECT reason code 0x01", "e0 01 01", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2),
        b5("DISCONNECT reason code 0x84", "e0 01 84", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2),
        b5("DISCONNECT reason code 0x91", "e0 LL 91 []", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2),
        b5("DISCONNECT 0x8E (server only) from the client", "e0 01 8e", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2).from(Side::Client),
        b5("DISCONNECT 0x8B (server only) from the client", "e0 01 8b", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2).from(Side::Client),
        b5("DISCONNECT 0x9C (server only) from the client", "e0 LL 9c [1c <x>]", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2).from(Side::Client),
        b5("DISCONNECT 0x04 (client only) from the server", "e0 01 04", PROTOCOL, &[v5!("MQTT-3.14.2-1")], 2).from(Side::Server),
        b5("DISCONNECT with session expiry from the server", "e0 LL 00 [11 00 00 00 01]", PROTOCOL, &[v5!("MQTT-3.14.2-2")], 3).from(Side::Server),
        // Only the Remaining Length 0 form may leave out the property length (3.15.2.2.1).
        b5("AUTH with a reason code and no property length", "f0 01 18", MALFORMED, &[], 3),
        b5("AUTH 0x00 with no property length", "f0 01 00", MALFORMED, &[], 3),
        b5("AUTH reason code 0x01", "f0 LL 01 [15 <m>]", PROTOCOL, &[v5!("MQTT-3.15.2-1")], 2),
        b5("AUTH reason code 0x80", "f0 LL 80 [15 <m>]", PROTOCOL, &[v5!("MQTT-3.15.2-1")], 2),
        b5("AUTH 0x19 (client only) from the server", "f0 LL 19 [15 <m>]", PROTOCOL, &[v5!("MQTT-3.15.2-1")], 2).from(Side::Server),
        b5("AUTH 0x00 (server only) from the client", "f0 LL 00 [15 <m>]", PROTOCOL, &[v5!("MQTT-3.15.2-1")], 2).from(Side::Client),
        b5("AUTH short form (0x00, server only) from the client", "f0 00", PROTOCOL, &[v5!("MQTT-3.15.2-1")], 2).from(Side::Client),
        b5("PUBLISH with a subscription identifier from the client", "30 LL <a> [0b 01]", PROTOCOL, &[v5!("MQTT-3.3.4-6")], 5).from(Side::Client),
        // ---- SUBSCRIBE ----
        b5("SUBSCRIBE without topic filters", "82 LL 00 01 []", PROTOCOL, &[v5!("MQTT-3.8.3-2")], 5),
        b5("SUBSCRIBE options bit 6", "82 LL 00 01 [] <a> 40", MALFORMED, &[v5!("MQTT-3.8.3-5")], 8),
        b5("SUBSCRIBE options bit 7", "82 LL 00 01 [] <a> 80", MALFORMED, &[v5!("MQTT-3.8.3-5")], 8),
        b5("SUBSCRIBE options C0", "82 LL 00 01 [] <a> c0", MALFORMED, &[v5!("MQTT-3.8.3-5")], 8),
        b5("SUBSCRIBE second options with bit 7", "82 LL 00 01 [] <a> 00 <b> 80", MALFORMED, &[v5!("MQTT-3.8.3-5")], 12),
        b5("SUBSCRIBE maximum QoS 3", "82 LL 00 01 [] <a> 03", PROTOCOL, &[], 8),
        b5("SUBSCRIBE retain handling 3", "82 LL 00 01 [] <a> 30", PROTOCOL, &[], 8),
        b5("No Local on a shared subscription", "82 LL 00 01 [] <$share/g/a> 04", PROTOCOL, &[v5!("MQTT-3.8.3-4")], 17),
        b5("shared subscription without a filter", "82 LL 00 01 [] <$share/g> 00", PROTOCOL, &shared, 5),
        b5("shared subscription with an empty share name", "82 LL 00 01 [] <$share//a> 00", PROTOCOL, &shared, 5),
        b5("share name with +", "82 LL 00 01 [] <$share/g+/a> 00", PROTOCOL, &shared, 5),
        b5("share name #", "82 LL 00 01 [] <$share/#/a> 00", PROTOCOL, &shared, 5),
        b5("shared subscription with an empty filter", "82 LL 00 01 [] <$share/g/> 00", PROTOCOL, &shared, 5),
        b5("shared subscription $share/ alone", "82 LL 00 01 [] <$share/> 00", PROTOCOL, &shared, 5),
        b5("shared subscription with a bad filter", "82 LL 00 01 [] <$share/g/a#> 00", PROTOCOL, &shared, 5),
        b5("topic filter a/#/b", "82 LL 00 01 [] <a/#/b> 00", PROTOCOL, &filter, 5),
        b5("topic filter a#", "82 LL 00 01 [] <a#> 00", PROTOCOL, &filter, 5),
        b5("topic filter +a", "82 LL 00 01 [] <+a> 00", PROTOCOL, &filter, 5),
        b5("topic filter a/b+", "82 LL 00 01 [] <a/b+> 00", PROTOCOL, &filter, 5),
        b5("topic filter #/", "82 LL 00 01 [] <#/> 00", PROTOCOL, &filter, 5),
        b5("empty topic filter in SUBSCRIBE", "82 LL 00 01 [] 00 00 00", PROTOCOL, &[v5!("MQTT-4.7.3-1")], 5),
        b5("topic filter with U+0000", "82 LL 00 01 [] 00 03 61 00 62 00", MALFORMED, &null_topic, 8),
        b5("topic filter: surrogate", "82 LL 00 01 [] 00 03 ed a0 80 00", MALFORMED, &utf8, 7),
        // ---- UNSUBSCRIBE ----
        b5("UNSUBSCRIBE without topic filters", "a2 LL 00 01 []", PROTOCOL, &[v5!("MQTT-3.10.3-2")], 5),
        b5("UNSUBSCRIBE filter a/#/b", "a2 LL 00 01 [] <a/#/b>", PROTOCOL, &filter, 5),
        b5("UNSUBSCRIBE bad shared subscription", "a2 LL 00 01 [] <$share/g>", PROTOCOL, &shared, 5),
        b5("empty topic filter in UNSUBSCRIBE", "a2 LL 00 01 [] 00 00", PROTOCOL, &[v5!("MQTT-4.7.3-1")], 5),
        b5("UNSUBSCRIBE filter with U+0000", "a2 LL 00 01 [] 00 01 00", MALFORMED, &null_topic, 7),
        // ---- packets only one side sends ----
        b5("CONNECT sent by the server", &connect("02", "[] <c>"), PROTOCOL, &[], 0).from(Side::Server),
        b5("CONNACK sent by the client", "20 LL 00 00 []", PROTOCOL, &[], 0).from(Side::Client),
        b5("SUBSCRIBE sent by the server", "82 LL 00 01 [] <a> 00", PROTOCOL, &[], 0).from(Side::Server),
        b5("SUBACK sent by the client", "90 LL 00 01 [] 00", PROTOCOL, &[], 0).from(Side::Client),
        b5("UNSUBSCRIBE sent by the server", "a2 LL 00 01 [] <a>", PROTOCOL, &[], 0).from(Side::Server),
        b5("UNSUBACK sent by the client", "b0 LL 00 01 [] 00", PROTOCOL, &[], 0).from(Side::Client),
        b5("PINGREQ sent by the server", "c0 00", PROTOCOL, &[], 0).from(Side::Server),
        b5("PINGRESP sent by the client", "d0 00", PROTOCOL, &[], 0).from(Side::Client),
    ]
}

fn connect_flags(first: &str) -> String {
    format!("{first} LL <MQTT> 05 02 00 3c [] <c>")
}

#[test]
fn malformed_inputs_are_refused_with_reason_statement_and_offset() {
    let rows = rows();
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in &rows {
        checked += 1;
        if let Err(e) = check(row) {
            failures.push(e);
        }
    }
    assert!(checked > 300, "only {checked} rows");
    assert!(
        failures.is_empty(),
        "{} of {checked} rows failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_row_is_distinct_and_versions_are_covered() {
    let rows = rows();
    let mut seen = BTreeSet::new();
    for r in &rows {
        assert!(
            seen.insert((r.v, r.from, r.limit, r.bytes.clone())),
            "duplicate row: {}",
            r.what
        );
    }
    let v3 = rows.iter().filter(|r| r.v == V3).count();
    let v5 = rows.iter().filter(|r| r.v == V5).count();
    assert!(v3 >= 100 && v5 >= 200, "v3 {v3}, v5 {v5}");
}

/// Every wire-format statement a decoder can check from the bytes is named by some row.
#[test]
fn the_table_covers_the_wire_format_statements() {
    let rows = rows();
    let named = |v: ProtocolVersion| -> BTreeSet<&'static str> {
        rows.iter()
            .filter(|r| r.v == v)
            .flat_map(|r| r.ids.iter().map(|s| s.as_str()))
            .collect()
    };
    let v3_wire = [
        v311!("MQTT-1.5.3-1"),
        v311!("MQTT-1.5.3-2"),
        v311!("MQTT-2.2.2-1"),
        v311!("MQTT-2.2.2-2"),
        v311!("MQTT-2.3.1-1"),
        v311!("MQTT-3.1.2-1"),
        v311!("MQTT-3.1.2-2"),
        v311!("MQTT-3.1.2-3"),
        v311!("MQTT-3.1.2-9"),
        v311!("MQTT-3.1.2-11"),
        v311!("MQTT-3.1.2-13"),
        v311!("MQTT-3.1.2-14"),
        v311!("MQTT-3.1.2-15"),
        v311!("MQTT-3.1.2-19"),
        v311!("MQTT-3.1.2-21"),
        v311!("MQTT-3.1.2-22"),
        v311!("MQTT-3.2.2-4"),
        v311!("MQTT-3.3.1-2"),
        v311!("MQTT-3.3.1-4"),
        v311!("MQTT-3.3.2-2"),
        v311!("MQTT-3.6.1-1"),
        v311!("MQTT-3.8.1-1"),
        v311!("MQTT-3.8.3-3"),
        v311!("MQTT-3.8.3-4"),
        v311!("MQTT-3.8.4-5"),
        v311!("MQTT-3.9.3-2"),
        v311!("MQTT-3.10.1-1"),
        v311!("MQTT-3.10.3-2"),
        v311!("MQTT-3.14.1-1"),
        v311!("MQTT-4.7.1-1"),
        v311!("MQTT-4.7.1-2"),
        v311!("MQTT-4.7.1-3"),
        v311!("MQTT-4.7.3-1"),
        v311!("MQTT-4.7.3-2"),
    ];
    let v5_wire = [
        v5!("MQTT-1.5.4-1"),
        v5!("MQTT-1.5.4-2"),
        v5!("MQTT-1.5.5-1"),
        v5!("MQTT-2.1.3-1"),
        v5!("MQTT-2.2.1-3"),
        v5!("MQTT-2.2.1-4"),
        v5!("MQTT-3.1.2-1"),
        v5!("MQTT-3.1.2-2"),
        v5!("MQTT-3.1.2-3"),
        v5!("MQTT-3.1.2-9"),
        v5!("MQTT-3.1.2-11"),
        v5!("MQTT-3.1.2-12"),
        v5!("MQTT-3.1.2-13"),
        v5!("MQTT-3.1.2-17"),
        v5!("MQTT-3.1.2-19"),
        v5!("MQTT-3.1.2-24"),
        v5!("MQTT-3.2.2-1"),
        v5!("MQTT-3.2.2-6"),
        v5!("MQTT-3.2.2-8"),
        v5!("MQTT-3.2.2-15"),
        v5!("MQTT-3.3.1-2"),
        v5!("MQTT-3.3.1-4"),
        v5!("MQTT-3.3.2-2"),
        v5!("MQTT-3.3.2-8"),
        v5!("MQTT-3.3.2-14"),
        v5!("MQTT-3.3.4-6"),
        v5!("MQTT-3.4.2-1"),
        v5!("MQTT-3.5.2-1"),
        v5!("MQTT-3.6.1-1"),
        v5!("MQTT-3.6.2-1"),
        v5!("MQTT-3.7.2-1"),
        v5!("MQTT-3.8.1-1"),
        v5!("MQTT-3.8.3-2"),
        v5!("MQTT-3.8.3-4"),
        v5!("MQTT-3.8.3-5"),
        v5!("MQTT-3.8.4-6"),
        v5!("MQTT-3.9.3-2"),
        v5!("MQTT-3.10.1-1"),
        v5!("MQTT-3.10.3-2"),
        v5!("MQTT-3.11.3-2"),
        v5!("MQTT-3.14.1-1"),
        v5!("MQTT-3.14.2-1"),
        v5!("MQTT-3.14.2-2"),
        v5!("MQTT-3.15.1-1"),
        v5!("MQTT-3.15.2-1"),
        v5!("MQTT-4.7.0-1"),
        v5!("MQTT-4.7.1-1"),
        v5!("MQTT-4.7.1-2"),
        v5!("MQTT-4.7.3-1"),
        v5!("MQTT-4.7.3-2"),
        v5!("MQTT-4.8.2-1"),
        v5!("MQTT-4.8.2-2"),
    ];
    for (v, wire) in [(V3, &v3_wire[..]), (V5, &v5_wire[..])] {
        let named = named(v);
        let missing: Vec<_> = wire
            .iter()
            .filter(|s| !named.contains(s.as_str()))
            .collect();
        assert!(missing.is_empty(), "{v}: no row names {missing:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Valid forms that must decode.

struct Good {
    v: ProtocolVersion,
    from: Option<Side>,
    bytes: Vec<u8>,
    what: &'static str,
    check: fn(&Packet) -> bool,
}

fn good(
    v: ProtocolVersion,
    from: Option<Side>,
    what: &'static str,
    n: &str,
    check: fn(&Packet) -> bool,
) -> Good {
    Good {
        v,
        from,
        bytes: pkt(n),
        what,
        check,
    }
}

fn topic_is(p: &Packet, t: &str) -> bool {
    matches!(p, Packet::Publish(x) if x.topic == t)
}

#[rustfmt::skip]
fn good_rows() -> Vec<Good> {
    use Packet as P;
    vec![
        // ---- 3.1.1 ----
        good(V3, None, "PINGREQ", "c0 00", |p| *p == P::PingReq),
        good(V3, None, "non-minimal remaining length is allowed in 3.1.1", "c0 80 00", |p| *p == P::PingReq),
        good(V3, None, "PUBLISH with a two-byte remaining length 4", "30 84 00 00 01 61 7a", |p| matches!(p, P::Publish(x) if x.topic == "a" && &x.payload[..] == b"z")),
        // [MQTT-1.5.3-3]: U+FEFF is kept, not stripped.
        good(V3, None, "topic name U+FEFF is kept [MQTT-1.5.3-3]", "30 LL 00 03 ef bb bf", |p| topic_is(p, "\u{feff}")),
        good(V3, None, "topic name with the noncharacter U+FFFF", "30 LL 00 03 ef bf bf", |p| topic_is(p, "\u{ffff}")),
        good(V3, None, "topic name /", "30 LL </>", |p| topic_is(p, "/")),
        good(V3, None, "topic name with a space and 4-byte UTF-8", "30 LL 00 06 20 f0 9f 98 80 2f", |p| topic_is(p, " 😀/")),
        good(V3, None, "QoS 1 PUBLISH with an empty payload", "32 LL <a> 00 01", |p| matches!(p, P::Publish(x) if x.qos == QoS::AtLeastOnce && x.packet_id == 1 && x.payload.is_empty())),
        good(V3, None, "QoS 2 PUBLISH with DUP and RETAIN", "3d LL <a> ff ff 'x'", |p| matches!(p, P::Publish(x) if x.dup && x.retain && x.qos == QoS::ExactlyOnce && x.packet_id == 0xffff)),
        good(V3, None, "SUBSCRIBE $share/g/a is an ordinary filter in 3.1.1", "82 LL 00 01 <$share/g/a> 01", |p| matches!(p, P::Subscribe(x) if x.filters[0].filter == "$share/g/a")),
        good(V3, None, "SUBSCRIBE filters + # /+ a//b +/+/#", "82 LL 00 01 <+> 00 <#> 01 </+> 02 <a//b> 00 <+/+/#> 01", |p| matches!(p, P::Subscribe(x) if x.filters.len() == 5)),
        good(V3, None, "UNSUBSCRIBE two filters", "a2 LL 00 07 <a/+> <#>", |p| matches!(p, P::Unsubscribe(x) if x.packet_id == 7 && x.filters.len() == 2)),
        good(V3, Some(Side::Client), "CONNECT with an empty client identifier", "10 LL <MQTT> 04 02 00 00 00 00", |p| matches!(p, P::Connect(c) if c.client_id.is_empty() && c.keep_alive == 0)),
        good(V3, None, "CONNECT MQTT 3.1 (MQIsdp, level 3)", "10 LL <MQIsdp> 03 02 00 3c <c>", |p| matches!(p, P::Connect(c) if c.protocol == ProtocolVersion::V3_1)),
        good(V3, None, "CONNECT with will, user name and password", "10 LL <MQTT> 04 f6 00 3c <c> <t> <w> <u> <p>", |p| matches!(p, P::Connect(c) if c.will.as_ref().is_some_and(|w| w.qos == QoS::ExactlyOnce && w.retain) && c.password.is_some())),
        good(V3, None, "5.0 CONNECT on a 3.1.1 stream is decoded as 5.0", "10 LL <MQTT> 05 02 00 3c [11 00 00 00 0a] <c>", |p| matches!(p, P::Connect(c) if c.protocol == V5 && c.properties.session_expiry_interval == Some(10))),
        good(V3, None, "CONNACK session present", "20 02 01 00", |p| matches!(p, P::ConnAck(c) if c.session_present)),
        good(V3, None, "CONNACK return code 5", "20 02 00 05", |p| matches!(p, P::ConnAck(c) if c.reason_code == ReasonCode(5))),
        good(V3, None, "SUBACK with every return code", "90 LL 00 01 00 01 02 80", |p| matches!(p, P::SubAck(x) if x.reason_codes.len() == 4)),
        good(V3, None, "UNSUBACK", "b0 02 00 01", |p| matches!(p, P::UnsubAck(x) if x.packet_id == 1)),
        good(V3, Some(Side::Client), "DISCONNECT from the client", "e0 00", |p| matches!(p, P::Disconnect(_))),
        // ---- 5.0 ----
        good(V5, None, "DISCONNECT without a body", "e0 00", |p| matches!(p, P::Disconnect(d) if d.reason_code == ReasonCode::SUCCESS)),
        good(V5, Some(Side::Client), "DISCONNECT without a body from the client", "e0 00", |p| matches!(p, P::Disconnect(_))),
        good(V5, Some(Side::Server), "DISCONNECT without a body from the server", "e0 00", |p| matches!(p, P::Disconnect(_))),
        good(V5, None, "DISCONNECT with only a reason code", "e0 01 8e", |p| matches!(p, P::Disconnect(d) if d.reason_code == ReasonCode::SESSION_TAKEN_OVER)),
        good(V5, Some(Side::Server), "DISCONNECT 0x8E from the server", "e0 01 8e", |p| matches!(p, P::Disconnect(d) if d.reason_code == ReasonCode::SESSION_TAKEN_OVER)),
        good(V5, Some(Side::Client), "DISCONNECT 0x04 from the client", "e0 01 04", |p| matches!(p, P::Disconnect(d) if d.reason_code == ReasonCode::DISCONNECT_WITH_WILL_MESSAGE)),
        good(V5, None, "DISCONNECT 0x00 with an empty property block", "e0 LL 00 []", |p| matches!(p, P::Disconnect(d) if d.properties.is_empty())),
        good(V5, Some(Side::Client), "DISCONNECT with session expiry from the client", "e0 LL 00 [11 00 00 00 05]", |p| matches!(p, P::Disconnect(d) if d.properties.session_expiry_interval == Some(5))),
        good(V5, None, "AUTH without a body", "f0 00", |p| matches!(p, P::Auth(a) if a.reason_code == ReasonCode::SUCCESS)),
        good(V5, Some(Side::Server), "AUTH without a body from the server", "f0 00", |p| matches!(p, P::Auth(_))),
        good(V5, Some(Side::Client), "AUTH 0x18 from the client", "f0 LL 18 [15 <m> 16 00 02 01 02]", |p| matches!(p, P::Auth(a) if a.reason_code == ReasonCode::CONTINUE_AUTHENTICATION && a.properties.authentication_data.as_deref() == Some(&[1, 2][..]))),
        good(V5, Some(Side::Client), "AUTH 0x19 from the client", "f0 LL 19 [15 <m>]", |p| matches!(p, P::Auth(a) if a.reason_code == ReasonCode::RE_AUTHENTICATE)),
        good(V5, None, "PUBACK short form", "40 02 00 01", |p| matches!(p, P::PubAck(a) if a.reason_code == ReasonCode::SUCCESS)),
        good(V5, None, "PUBREC short form", "50 02 00 01", |p| matches!(p, P::PubRec(_))),
        good(V5, None, "PUBREL short form", "62 02 00 01", |p| matches!(p, P::PubRel(_))),
        good(V5, None, "PUBCOMP short form", "70 02 00 01", |p| matches!(p, P::PubComp(_))),
        good(V5, None, "PUBACK with only a reason code", "40 03 00 01 10", |p| matches!(p, P::PubAck(a) if a.reason_code == ReasonCode::NO_MATCHING_SUBSCRIBERS)),
        good(V5, None, "PUBREL with only a reason code", "62 03 00 01 92", |p| matches!(p, P::PubRel(a) if a.reason_code == ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)),
        good(V5, None, "PUBACK with a reason code and an empty property block", "40 LL 00 01 10 []", |p| matches!(p, P::PubAck(a) if a.reason_code == ReasonCode::NO_MATCHING_SUBSCRIBERS)),
        good(V5, None, "PUBCOMP 0x00 with an empty property block", "70 LL 00 01 00 []", |p| matches!(p, P::PubComp(a) if a.packet_id == 1)),
        good(V5, None, "PUBLISH empty topic with a topic alias", "30 LL 00 00 [23 00 01]", |p| matches!(p, P::Publish(x) if x.topic.is_empty() && x.properties.topic_alias == Some(1))),
        good(V5, Some(Side::Server), "PUBLISH with two subscription identifiers from the server", "30 LL <a> [0b 01 0b 02]", |p| matches!(p, P::Publish(x) if x.properties.subscription_identifiers == [1, 2])),
        good(V5, None, "PUBLISH with the same user property twice", "30 LL <a> [26 <k> <v> 26 <k> <v>]", |p| matches!(p, P::Publish(x) if x.properties.user_properties.len() == 2)),
        good(V5, None, "PUBLISH subscription identifier 268435455", "30 LL <a> [0b ff ff ff 7f]", |p| matches!(p, P::Publish(x) if x.properties.subscription_identifiers == [268_435_455])),
        // [MQTT-1.5.4-3]: U+FEFF is kept, not stripped.
        good(V5, None, "topic name U+FEFF is kept [MQTT-1.5.4-3]", "30 LL 00 03 ef bb bf []", |p| topic_is(p, "\u{feff}")),
        good(V5, None, "SUBSCRIBE shared subscription", "82 LL 00 01 [] <$share/g/a/+> 01", |p| matches!(p, P::Subscribe(x) if x.filters[0].filter == "$share/g/a/+")),
        good(V5, None, "SUBSCRIBE $sharex/a is an ordinary filter", "82 LL 00 01 [] <$sharex/a> 04", |p| matches!(p, P::Subscribe(x) if x.filters[0].options.no_local)),
        good(V5, None, "SUBSCRIBE with every option bit", "82 LL 00 01 [0b 07] <a> 2e", |p| matches!(p, P::Subscribe(x) if x.filters[0].options.retain_handling == RetainHandling::DoNotSend && x.filters[0].options.retain_as_published && x.filters[0].options.no_local && x.properties.subscription_identifiers == [7])),
        good(V5, Some(Side::Client), "CONNECT with a password and no user name (allowed in 5.0)", "10 LL <MQTT> 05 42 00 3c [] <c> <pw>", |p| matches!(p, P::Connect(c) if c.username.is_none() && c.password.as_deref() == Some(&b"pw"[..]))),
        good(V5, None, "CONNECT with topic alias maximum 0", "10 LL <MQTT> 05 02 00 3c [22 00 00] <c>", |p| matches!(p, P::Connect(c) if c.properties.topic_alias_maximum == Some(0))),
        good(V5, None, "3.1.1 CONNECT with a non-minimal length on a 5.0 stream", "10 8d 00 00 04 'MQTT' 04 02 00 3c 00 01 63", |p| matches!(p, P::Connect(c) if c.protocol == V3)),
        good(V5, None, "CONNECT with will properties", "10 LL <MQTT> 05 2e 00 3c [] <c> [18 00 00 00 05 01 01] <t> <w>", |p| matches!(p, P::Connect(c) if c.will.as_ref().is_some_and(|w| w.properties.will_delay_interval == Some(5) && w.qos == QoS::AtLeastOnce && w.retain))),
        good(V5, None, "CONNACK maximum QoS 0", "20 LL 00 00 [24 00]", |p| matches!(p, P::ConnAck(c) if c.properties.maximum_qos == Some(QoS::AtMostOnce))),
        good(V5, None, "UNSUBACK with two codes", "b0 LL 00 01 [] 00 11", |p| matches!(p, P::UnsubAck(x) if x.reason_codes.len() == 2)),
        good(V5, Some(Side::Server), "SUBACK with a failure code", "90 LL 00 01 [] 00 a2", |p| matches!(p, P::SubAck(x) if x.reason_codes[1] == ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED)),
    ]
}

#[test]
fn valid_forms_decode() {
    let mut failures = Vec::new();
    for g in good_rows() {
        let hex = to_hex_lines(&g.bytes).replace('\n', " ");
        match dec(&g.bytes, g.v, g.from) {
            Ok(Some(p)) => {
                if !(g.check)(&p) {
                    failures.push(format!("{} [{}] {hex}: unexpected {p:?}", g.what, g.v));
                    continue;
                }
                // Whatever decodes re-encodes (checked) and decodes to the same packet.
                match p.to_bytes(g.v) {
                    Ok(again) => {
                        let back = dec(&again, g.v, g.from);
                        if back != Ok(Some(p.clone())) {
                            failures.push(format!(
                                "{} [{}] {hex}: re-encoded as {again:02x?}, decoded as {back:?}",
                                g.what, g.v
                            ));
                        }
                    }
                    Err(e) => failures.push(format!(
                        "{} [{}] {hex}: the encoder refuses what the decoder accepted: {e}",
                        g.what, g.v
                    )),
                }
            }
            other => failures.push(format!("{} [{}] {hex}: {other:?}", g.what, g.v)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Limits and incomplete input.

#[test]
fn a_256_mb_claim_fails_from_the_fixed_header_with_a_limit() {
    // PUBLISH claiming 268,435,455 bytes: only the 5 header bytes are here.
    let head = [0x30, 0xff, 0xff, 0xff, 0x7f];
    let limits = Limits::with_max_packet_size(1 << 20);
    for v in [V3, V5] {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&head);
        let cap = buf.capacity();
        let e = decode(&mut buf, v, &limits, Some(Side::Client)).unwrap_err();
        assert_eq!(e.reason_code(), ReasonCode::PACKET_TOO_LARGE, "{v}");
        assert_eq!(e.offset, 0);
        assert!(
            matches!(e.kind, DecodeErrorKind::PacketTooLarge { size: 268_435_460, max } if max == 1 << 20),
            "{e:?}"
        );
        assert_eq!(
            (&buf[..], buf.capacity()),
            (&head[..], cap),
            "nothing buffered"
        );
        // decode_bytes and parse_fixed_header say the same.
        let b = Bytes::copy_from_slice(&head);
        assert_eq!(decode_bytes(&b, v, &limits, Some(Side::Client)), Err(e));
        assert_eq!(
            parse_fixed_header(&head, v, &limits, Some(Side::Client)),
            Err(e)
        );
    }
    // Without a limit the claim is merely incomplete: Ok(None), nothing reserved.
    for v in [V3, V5] {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&head);
        let cap = buf.capacity();
        assert_eq!(decode(&mut buf, v, &Limits::default(), None), Ok(None));
        assert_eq!((&buf[..], buf.capacity()), (&head[..], cap));
        let h = parse_fixed_header(&head, v, &Limits::default(), None)
            .unwrap()
            .unwrap();
        assert_eq!((h.remaining_length, h.header_len), (268_435_455, 5));
    }
    // The error comes as soon as the length is known, before any body byte.
    let e = decode(
        &mut BytesMut::from(&[0x30, 0x80, 0x80, 0x01][..]),
        V5,
        &Limits::with_max_packet_size(100),
        None,
    )
    .unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::PACKET_TOO_LARGE);
    // A packet exactly at the limit passes.
    let p = pkt("c0 00");
    assert_eq!(
        dec_with(&p, V5, &Limits::with_max_packet_size(2), None),
        Ok(Some(Packet::PingReq))
    );
    assert!(dec_with(&p, V5, &Limits::with_max_packet_size(1), None).is_err());
}

#[test]
fn every_strict_prefix_of_a_valid_packet_is_incomplete() {
    let mut count = 0;
    for v in [V3, V5] {
        let mut stream = Vec::new();
        for (name, p) in rich_packets(v) {
            let bytes = p.to_bytes(v).unwrap();
            stream.extend_from_slice(&bytes);
            let sender = p.packet_type().sender(v);
            for n in 0..bytes.len() {
                let prefix = &bytes[..n];
                for from in [None, sender] {
                    assert_eq!(dec(prefix, v, from), Ok(None), "{v} {name} prefix {n}");
                }
                let b = Bytes::copy_from_slice(prefix);
                assert_eq!(
                    decode_bytes(&b, v, &Limits::default(), None),
                    Ok(None),
                    "{v} {name} prefix {n}"
                );
                count += 1;
            }
            assert_eq!(dec(&bytes, v, None), Ok(Some(p)), "{v} {name} whole");
        }
        // Every prefix of the whole stream decodes the complete packets and nothing else.
        let packets = rich_packets(v);
        for cut in 0..=stream.len() {
            let mut buf = BytesMut::from(&stream[..cut]);
            let mut got = 0;
            while let Some(p) = decode(&mut buf, v, &Limits::default(), None).unwrap() {
                assert_eq!(p, packets[got].1);
                got += 1;
            }
            let whole: usize = packets[..got]
                .iter()
                .map(|(_, p)| p.encoded_len(v).unwrap())
                .sum();
            assert_eq!(buf.len(), cut - whole, "{v} cut {cut}");
        }
    }
    assert!(count > 1000);
}

#[test]
fn peek_protocol_version_reads_the_connect_header() {
    assert_eq!(
        peek_protocol_version(&pkt("10 LL <MQTT> 04 02 00 3c <c>")),
        Ok(Some(V3))
    );
    assert_eq!(
        peek_protocol_version(&pkt("10 LL <MQTT> 05 02 00 3c [] <c>")),
        Ok(Some(V5))
    );
    assert_eq!(
        peek_protocol_version(&pkt("10 LL <MQIsdp> 03 02 00 3c <c>")),
        Ok(Some(ProtocolVersion::V3_1))
    );
    let full = pkt("10 LL <MQTT> 05 02 00 3c [] <c>");
    for n in 0..9 {
        assert_eq!(peek_protocol_version(&full[..n]), Ok(None), "prefix {n}");
    }
    // The first packet must be CONNECT [MQTT-3.1.0-1].
    let e = peek_protocol_version(&pkt("30 LL <a> 'x'")).unwrap_err();
    assert_eq!(sorted(e.statements()), [v311!("MQTT-3.1.0-1").as_str()]);
    assert_eq!(e.reason_code(), ReasonCode::PROTOCOL_ERROR);
    let e = peek_protocol_version(&pkt("10 LL <MQTX> 04 02 00 3c <c>")).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::UNSUPPORTED_PROTOCOL_VERSION);
    assert_eq!(e.offset, 2);
    let e = peek_protocol_version(&pkt("10 LL <MQTT> 07 02 00 3c <c>")).unwrap_err();
    assert_eq!(e.response(), ErrorResponse::ConnAckReturnCode(0x01));
    assert_eq!(e.offset, 8);
}

#[test]
fn notation_helper_counts_lengths() {
    assert_eq!(
        pkt("30 LL <a> [23 00 01] 'xy'"),
        [0x30, 0x09, 0, 1, b'a', 3, 0x23, 0, 1, b'x', b'y']
    );
    let long = format!("30 LL <a> '{}'", "z".repeat(200));
    assert_eq!(&pkt(&long)[..3], &[0x30, 0xcb, 0x01]);
    assert_eq!(common::hex("0a 0B"), [0x0a, 0x0b]);
}
