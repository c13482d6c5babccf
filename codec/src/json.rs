//! Packets as JSON (feature `json`): the decoded fields of a packet in wire order, for the
//! `decode` command, packet traces and reports.

use serde_json::{json, Map, Value};

use crate::{Packet, PacketType, Properties, ProtocolVersion, QoS, ReasonCode};

/// A packet as one JSON object: `type` and its fields.
pub fn to_json(p: &Packet, version: ProtocolVersion) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(p.packet_type().name()));
    for (k, v) in fields(p, version) {
        m.insert(k, v);
    }
    Value::Object(m)
}

/// Binary data as `{hex, utf8}` (utf8 only when printable).
pub fn bin(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => {
            json!({ "hex": hex::encode(b), "utf8": s })
        }
        _ => json!({ "hex": hex::encode(b) }),
    }
}

fn qos(q: QoS) -> Value {
    json!(q.as_u8())
}

fn code(rc: ReasonCode, packet: PacketType, version: ProtocolVersion) -> Value {
    json!(format!("0x{:02X} {}", rc.0, rc.name_for(packet, version)))
}

/// The fields of a packet, in wire order, as (name, JSON value) pairs.
pub fn fields(p: &Packet, version: ProtocolVersion) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Value| out.push((k.to_owned(), v));
    let pt = p.packet_type();
    match p {
        Packet::Connect(c) => {
            put("protocol", json!(c.protocol.to_string()));
            put("clean_start", json!(c.clean_start));
            put("keep_alive", json!(c.keep_alive));
            put("client_id", json!(&*c.client_id));
            props(&mut put, "properties", &c.properties);
            if let Some(w) = &c.will {
                put("will_topic", json!(&*w.topic));
                put("will_qos", qos(w.qos));
                put("will_retain", json!(w.retain));
                put("will_payload", bin(&w.payload));
                props(&mut put, "will_properties", &w.properties);
            }
            if let Some(u) = &c.username {
                put("username", json!(&**u));
            }
            if let Some(pw) = &c.password {
                put("password", bin(pw));
            }
        }
        Packet::ConnAck(c) => {
            put("session_present", json!(c.session_present));
            put("reason_code", code(c.reason_code, pt, version));
            props(&mut put, "properties", &c.properties);
        }
        Packet::Publish(m) => {
            put("dup", json!(m.dup));
            put("qos", qos(m.qos));
            put("retain", json!(m.retain));
            put("topic", json!(&*m.topic));
            if m.qos != QoS::AtMostOnce {
                put("packet_id", json!(m.packet_id));
            }
            props(&mut put, "properties", &m.properties);
            put("payload", bin(&m.payload));
        }
        Packet::PubAck(a) => ack(
            &mut put,
            a.packet_id,
            a.reason_code,
            &a.properties,
            pt,
            version,
        ),
        Packet::PubRec(a) => ack(
            &mut put,
            a.packet_id,
            a.reason_code,
            &a.properties,
            pt,
            version,
        ),
        Packet::PubRel(a) => ack(
            &mut put,
            a.packet_id,
            a.reason_code,
            &a.properties,
            pt,
            version,
        ),
        Packet::PubComp(a) => ack(
            &mut put,
            a.packet_id,
            a.reason_code,
            &a.properties,
            pt,
            version,
        ),
        Packet::Subscribe(s) => {
            put("packet_id", json!(s.packet_id));
            props(&mut put, "properties", &s.properties);
            let subs: Vec<Value> = s
                .filters
                .iter()
                .map(|f| {
                    json!({
                        "filter": &*f.filter,
                        "qos": f.options.qos.as_u8(),
                        "no_local": f.options.no_local,
                        "retain_as_published": f.options.retain_as_published,
                        "retain_handling": f.options.retain_handling as u8,
                    })
                })
                .collect();
            put("subscriptions", Value::Array(subs));
        }
        Packet::SubAck(s) => {
            put("packet_id", json!(s.packet_id));
            props(&mut put, "properties", &s.properties);
            let codes = s
                .reason_codes
                .iter()
                .map(|c| code(*c, pt, version))
                .collect();
            put("reason_codes", Value::Array(codes));
        }
        Packet::Unsubscribe(u) => {
            put("packet_id", json!(u.packet_id));
            props(&mut put, "properties", &u.properties);
            let f: Vec<&str> = u.filters.iter().map(|f| &**f).collect();
            put("filters", json!(f));
        }
        Packet::UnsubAck(u) => {
            put("packet_id", json!(u.packet_id));
            props(&mut put, "properties", &u.properties);
            if version.is_v5() {
                let codes = u
                    .reason_codes
                    .iter()
                    .map(|c| code(*c, pt, version))
                    .collect();
                put("reason_codes", Value::Array(codes));
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if version.is_v5() {
                put("reason_code", code(d.reason_code, pt, version));
            }
            props(&mut put, "properties", &d.properties);
        }
        Packet::Auth(a) => {
            put("reason_code", code(a.reason_code, pt, version));
            props(&mut put, "properties", &a.properties);
        }
    }
    out
}

fn ack(
    put: &mut impl FnMut(&str, Value),
    packet_id: u16,
    rc: ReasonCode,
    p: &Properties,
    pt: PacketType,
    version: ProtocolVersion,
) {
    put("packet_id", json!(packet_id));
    if version.is_v5() {
        put("reason_code", code(rc, pt, version));
    }
    props(put, "properties", p);
}

/// The non-empty properties as an object keyed by the property's name in the standard, in the
/// codec's own property walk (so a new property needs no change here). Flags are booleans;
/// the repeatable User Property and Subscription Identifier are arrays.
fn props(put: &mut impl FnMut(&str, Value), key: &str, p: &Properties) {
    use crate::property::Value as V;
    use crate::PropertyId as P;
    if p.is_empty() {
        return;
    }
    let mut m = Map::new();
    p.for_each(|id, v| {
        let flag = matches!(
            id,
            P::REQUEST_PROBLEM_INFORMATION
                | P::REQUEST_RESPONSE_INFORMATION
                | P::RETAIN_AVAILABLE
                | P::WILDCARD_SUBSCRIPTION_AVAILABLE
                | P::SUBSCRIPTION_IDENTIFIER_AVAILABLE
                | P::SHARED_SUBSCRIPTION_AVAILABLE
        );
        let value = match v {
            V::Byte(b) if flag => json!(b != 0),
            V::Byte(b) => json!(b),
            V::Two(x) => json!(x),
            V::Four(x) | V::Vbi(x) => json!(x),
            V::Str(s) => json!(&**s),
            V::Bin(b) => bin(b),
            V::Pair(k, v) => json!([&**k, &**v]),
        };
        let name = id.name().unwrap_or("unknown").to_owned();
        if matches!(id, P::USER_PROPERTY | P::SUBSCRIPTION_IDENTIFIER) {
            match m.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(list) => list.push(value),
                other => *other = value,
            }
        } else {
            m.insert(name, value);
        }
    });
    put(key, Value::Object(m));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_name_the_parts() {
        let mut p = crate::Publish::new("a/b", "hi");
        p.properties.topic_alias = Some(2);
        let f = fields(&Packet::Publish(p), ProtocolVersion::V5);
        let keys: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["dup", "qos", "retain", "topic", "properties", "payload"]
        );
        assert_eq!(f[4].1, json!({ "Topic Alias": 2 }));
        assert_eq!(f[5].1, json!({ "hex": "6869", "utf8": "hi" }));
    }
}
