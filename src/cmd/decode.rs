//! `mqtt-conform decode`: decode hex bytes as MQTT packets and, for a malformed one, name the
//! statement it breaks, the byte where the problem is, and the answer the standard asks for.
//!
//! All HEX arguments are joined into one byte stream, which may hold several packets:
//! `decode e0 00`, `decode "e0 00"`, `decode e000` and `decode 0xe0:0x00` are the same input.
//! Separators allowed inside an argument: spaces, `:`, `,`, `-`, `_`; each byte may carry a
//! `0x` prefix.
//!
//! Exit codes: 0 every packet decoded; 1 a packet is malformed (the packets before it are
//! still printed); 2 usage error: bad hex, or the bytes end inside a packet.

use std::process::ExitCode;

use mqtt_codec::bytes::Bytes;
use mqtt_codec::{
    decode_bytes, parse_fixed_header, DecodeError, ErrorResponse, Limits, Packet, PacketType,
    ProtocolVersion, Side,
};
use serde_json::{json, Map, Value};

/// Arguments of `mqtt-conform decode`.
#[derive(Debug, Default, clap::Args)]
pub struct DecodeArgs {
    /// Protocol version of the connection: 3.1.1, 5.0 (or 3.1). A CONNECT is always decoded
    /// by its own protocol level.
    #[arg(long, value_name = "VERSION", default_value = "5.0", value_parser = parse_version)]
    pub protocol: Option<ProtocolVersion>,
    /// Who sent the bytes: client or server. Enables the sender rules (packet types, reason
    /// codes and properties only one side may send).
    #[arg(long, value_name = "SIDE", value_parser = parse_side)]
    pub from: Option<Side>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Hex bytes; all arguments are joined into one stream ("e0 00", e0 00, e000, 0xe0:0x00).
    #[arg(value_name = "HEX", required = true)]
    pub hex: Vec<String>,
}

fn parse_version(text: &str) -> Result<ProtocolVersion, String> {
    text.parse()
}

fn parse_side(text: &str) -> Result<Side, String> {
    match text.to_ascii_lowercase().as_str() {
        "client" => Ok(Side::Client),
        "server" => Ok(Side::Server),
        _ => Err("expected client or server".to_owned()),
    }
}

/// Joins the arguments into bytes.
fn parse_hex(args: &[String]) -> Result<Vec<u8>, String> {
    let mut digits = String::new();
    for arg in args {
        for token in arg.split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | '-' | '_')) {
            let t = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
                .unwrap_or(token);
            if let Some(bad) = t.chars().find(|c| !c.is_ascii_hexdigit()) {
                return Err(format!(
                    "bad hex: unexpected character `{bad}` in `{token}`"
                ));
            }
            digits.push_str(t);
        }
    }
    if digits.is_empty() {
        return Err("no bytes given".to_owned());
    }
    if digits.len() & 1 == 1 {
        return Err(format!(
            "bad hex: odd number of hex digits ({})",
            digits.len()
        ));
    }
    hex::decode(&digits).map_err(|e| format!("bad hex: {e}"))
}

/// How one step of the stream ended.
enum Step {
    Packet(Packet, usize),
    Malformed(DecodeError),
    Incomplete(String),
}

pub fn run(args: DecodeArgs) -> ExitCode {
    let version = args.protocol.unwrap_or(ProtocolVersion::V5);
    let bytes = match parse_hex(&args.hex) {
        Ok(b) => Bytes::from(b),
        Err(msg) => return super::usage_error(msg),
    };
    let limits = Limits::default();
    let mut steps = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = bytes.slice(at..);
        match decode_bytes(&rest, version, &limits, args.from) {
            Ok(Some((p, n))) => {
                steps.push((at, Step::Packet(p, n)));
                at += n;
            }
            Ok(None) => {
                steps.push((at, Step::Incomplete(incomplete(&rest, version, args.from))));
                break;
            }
            Err(e) => {
                steps.push((at, Step::Malformed(e)));
                break;
            }
        }
    }
    let code = match steps.last() {
        Some((_, Step::Malformed(_))) => ExitCode::from(1),
        Some((_, Step::Incomplete(_))) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    };
    if args.json {
        print_json(&steps, version, args.from);
    } else {
        print_text(&steps, version, &bytes);
    }
    code
}

/// "incomplete packet: need N more bytes" when the fixed header tells N.
fn incomplete(rest: &[u8], version: ProtocolVersion, from: Option<Side>) -> String {
    match parse_fixed_header(rest, version, &Limits::default(), from) {
        Ok(Some(h)) => format!(
            "incomplete packet: need {} more byte(s) ({} of {} present)",
            h.packet_len().saturating_sub(rest.len()),
            rest.len(),
            h.packet_len()
        ),
        _ => format!(
            "incomplete packet: the fixed header is not complete ({} byte(s) present)",
            rest.len()
        ),
    }
}

fn print_text(steps: &[(usize, Step)], version: ProtocolVersion, bytes: &Bytes) {
    for (i, (at, step)) in steps.iter().enumerate() {
        match step {
            Step::Packet(p, n) => {
                println!(
                    "#{} {} ({} bytes at offset {at}): {}",
                    i + 1,
                    p.packet_type(),
                    n,
                    hex::encode(bytes.get(*at..at + n).unwrap_or(&[]))
                );
                for (k, v) in mqtt_codec::json::fields(p, version) {
                    println!("  {k}: {}", text_value(&v));
                }
            }
            Step::Malformed(e) => {
                let pt = e.packet_type.map_or("packet".to_owned(), |t| t.to_string());
                println!(
                    "#{} invalid {pt} at offset {at} (byte {} of the packet, {} of the input)",
                    i + 1,
                    e.offset,
                    at + e.offset as usize
                );
                println!("  error: {e}");
                println!("  kind: {:?}", e.kind);
                let rc = e.reason_code();
                println!("  reason code: 0x{:02X} {}", rc.0, rc.name());
                println!("  answer: {}", answer(e));
                let ids: Vec<&str> = e.statements().iter().map(|s| s.as_str()).collect();
                let (v3, v5) = e.statements_by_version();
                println!(
                    "  statements (MQTT {}): {}",
                    e.version,
                    if ids.is_empty() {
                        "none (a rule of the text without an id)".to_owned()
                    } else {
                        ids.join(", ")
                    }
                );
                let other = if e.version.is_v5() { v3 } else { v5 };
                if !other.is_empty() {
                    let o: Vec<&str> = other.iter().map(|s| s.as_str()).collect();
                    let name = if e.version.is_v5() { "3.1.1" } else { "5.0" };
                    println!("  same rule in MQTT {name}: {}", o.join(", "));
                }
            }
            Step::Incomplete(msg) => eprintln!("error: {msg} at offset {at}"),
        }
    }
}

fn answer(e: &DecodeError) -> String {
    match e.response() {
        ErrorResponse::Close => "close the network connection".to_owned(),
        ErrorResponse::ConnAckReturnCode(c) => {
            format!("CONNACK return code 0x{c:02X} (unacceptable protocol version), then close")
        }
        ErrorResponse::ReasonCode(rc) => {
            let packet = if e.packet_type == Some(PacketType::Connect) {
                "CONNACK"
            } else {
                "DISCONNECT"
            };
            format!(
                "{packet} with reason code 0x{:02X} {}, then close",
                rc.0,
                rc.name()
            )
        }
    }
}

fn print_json(steps: &[(usize, Step)], version: ProtocolVersion, from: Option<Side>) {
    let mut packets = Vec::new();
    let mut error = Value::Null;
    let mut incomplete = Value::Null;
    for (at, step) in steps {
        match step {
            Step::Packet(p, n) => {
                let mut m = Map::new();
                m.insert("type".into(), json!(p.packet_type().name()));
                m.insert("offset".into(), json!(at));
                m.insert("length".into(), json!(n));
                for (k, v) in mqtt_codec::json::fields(p, version) {
                    m.insert(k, v);
                }
                packets.push(Value::Object(m));
            }
            Step::Malformed(e) => {
                let rc = e.reason_code();
                let (v3, v5) = e.statements_by_version();
                let list = |s: &[mqtt_codec::StatementId]| {
                    s.iter().map(|s| s.as_str()).collect::<Vec<_>>()
                };
                error = json!({
                    "message": e.to_string(),
                    "kind": format!("{:?}", e.kind),
                    "packet_type": e.packet_type.map(|t| t.name()),
                    "offset_in_packet": e.offset,
                    "offset": at + e.offset as usize,
                    "packet_offset": at,
                    "version": e.version.to_string(),
                    "reason_code": format!("0x{:02X}", rc.0),
                    "reason_name": rc.name(),
                    "answer": answer(e),
                    "statements": list(e.statements()),
                    "statements_3_1_1": list(v3),
                    "statements_5_0": list(v5),
                });
            }
            Step::Incomplete(msg) => incomplete = json!({ "offset": at, "message": msg }),
        }
    }
    let doc = json!({
        "protocol": version.to_string(),
        "from": from.map(|s| s.to_string()),
        "packets": packets,
        "error": error,
        "incomplete": incomplete,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
    );
}

fn text_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_arguments_join_into_one_stream() {
        let one = parse_hex(&["e0 00".to_owned()]).unwrap();
        let two = parse_hex(&["e0".to_owned(), "00".to_owned()]).unwrap();
        let colon = parse_hex(&["0xe0:0x00".to_owned()]).unwrap();
        assert_eq!(one, vec![0xe0, 0x00]);
        assert_eq!(one, two);
        assert_eq!(one, colon);
        assert!(parse_hex(&["e0 0".to_owned()]).unwrap_err().contains("odd"));
        assert!(parse_hex(&["zz".to_owned()])
            .unwrap_err()
            .contains("bad hex"));
        assert!(parse_hex(&[" ".to_owned()]).is_err());
    }

    #[test]
    fn incomplete_says_how_many_bytes_are_missing() {
        let msg = incomplete(&[0x30, 0x05, 0x00], ProtocolVersion::V3_1_1, None);
        assert!(msg.contains("need 4 more byte"), "{msg}");
        let msg = incomplete(&[0x30, 0x80], ProtocolVersion::V3_1_1, None);
        assert!(msg.contains("fixed header"), "{msg}");
    }
}
