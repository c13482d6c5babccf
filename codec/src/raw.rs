//! Building packets the standard forbids, for the conformance suite.
//!
//! Nothing here validates anything. [`RawPacket`] is a byte builder: any first byte (reserved
//! types, wrong flags, QoS 3), any Remaining Length (true, lying, non-minimal, five bytes), any
//! body (invalid UTF-8, U+0000, packet identifier 0, duplicated or misplaced properties via
//! [`RawProperty`]). [`RawPacket::from_packet`] starts from a typed packet, written without
//! validation, so that one detail can be changed.
//!
//! ```
//! use mqtt_codec::raw::{RawPacket, RawProperty};
//! use mqtt_codec::{Packet, ProtocolVersion, Publish, PropertyId, QoS};
//!
//! // PUBLISH with QoS 3 on the wire.
//! let p = Packet::Publish(Publish::new("a/b", "hi"));
//! let bytes = RawPacket::from_packet(&p, ProtocolVersion::V5).flags(0b0110).to_bytes();
//! assert_eq!(bytes[0], 0x36);
//!
//! // A PUBLISH whose property block carries Topic Alias twice.
//! let bytes = RawPacket::new(3, 0)
//!     .string("a")
//!     .properties(&[RawProperty::two(PropertyId::TOPIC_ALIAS, 1), RawProperty::two(PropertyId::TOPIC_ALIAS, 1)])
//!     .to_bytes();
//! assert_eq!(&bytes[..], &[0x30, 0x0a, 0, 1, b'a', 6, 0x23, 0, 1, 0x23, 0, 1]);
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::packet::Packet;
use crate::property::{Properties, PropertyId};
use crate::types::ProtocolVersion;
use crate::wire::put_vbi;

/// How the Remaining Length is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RemainingLength {
    /// The true length of the body, shortest form.
    #[default]
    Actual,
    /// This value, shortest form (may lie about the body).
    Value(u32),
    /// These exact bytes (non-minimal forms, five bytes, anything).
    Bytes(Vec<u8>),
}

/// A packet as arbitrary bytes: first byte, Remaining Length, body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPacket {
    /// The first byte (type << 4 | flags).
    pub first_byte: u8,
    /// How the Remaining Length is written.
    pub remaining_length: RemainingLength,
    /// The variable header and payload.
    pub body: BytesMut,
}

impl RawPacket {
    /// A packet of type `packet_type` (0-15, any value) with `flags` (low 4 bits).
    pub fn new(packet_type: u8, flags: u8) -> Self {
        RawPacket {
            first_byte: (packet_type << 4) | (flags & 0x0F),
            ..Default::default()
        }
    }

    /// Starts from a typed packet written without validation in `version`.
    pub fn from_packet(packet: &Packet, version: ProtocolVersion) -> Self {
        let mut body = BytesMut::new();
        packet.write_body_unchecked(version, &mut body);
        RawPacket {
            first_byte: packet.first_byte(),
            remaining_length: RemainingLength::Actual,
            body,
        }
    }

    /// Starts from a typed packet, replacing its property block (5.0) with `props`, written
    /// as given: duplicates, misplaced or unknown identifiers, any values.
    /// Packets without a property block in `version`, or without properties in their short
    /// form, are written in the long form so that the block exists.
    pub fn from_packet_with_properties(
        packet: &Packet,
        version: ProtocolVersion,
        props: &[RawProperty],
    ) -> Self {
        // Encode with a marker property set to find the block, then splice. Simpler: rebuild
        // the known layouts here.
        let mut raw = RawPacket {
            first_byte: packet.first_byte(),
            ..Default::default()
        };
        let block = encode_properties(props);
        match packet {
            Packet::Publish(p) => {
                raw = raw.string_bytes(p.topic.as_bytes());
                if p.qos != crate::QoS::AtMostOnce {
                    raw = raw.u16(p.packet_id);
                }
                raw = raw.bytes(&block).bytes(&p.payload);
            }
            Packet::PubAck(a) => raw = raw.u16(a.packet_id).u8(a.reason_code.0).bytes(&block),
            Packet::PubRec(a) => raw = raw.u16(a.packet_id).u8(a.reason_code.0).bytes(&block),
            Packet::PubRel(a) => raw = raw.u16(a.packet_id).u8(a.reason_code.0).bytes(&block),
            Packet::PubComp(a) => raw = raw.u16(a.packet_id).u8(a.reason_code.0).bytes(&block),
            Packet::Disconnect(d) => raw = raw.u8(d.reason_code.0).bytes(&block),
            Packet::Auth(a) => raw = raw.u8(a.reason_code.0).bytes(&block),
            Packet::ConnAck(c) => {
                raw = raw
                    .u8(u8::from(c.session_present))
                    .u8(c.reason_code.0)
                    .bytes(&block)
            }
            Packet::Subscribe(s) => {
                raw = raw.u16(s.packet_id).bytes(&block);
                for f in &s.filters {
                    raw = raw
                        .string_bytes(f.filter.as_bytes())
                        .u8(f.options.to_byte());
                }
            }
            Packet::SubAck(s) => {
                raw = raw.u16(s.packet_id).bytes(&block);
                for c in &s.reason_codes {
                    raw = raw.u8(c.0);
                }
            }
            Packet::Unsubscribe(s) => {
                raw = raw.u16(s.packet_id).bytes(&block);
                for f in &s.filters {
                    raw = raw.string_bytes(f.as_bytes());
                }
            }
            Packet::UnsubAck(s) => {
                raw = raw.u16(s.packet_id).bytes(&block);
                for c in &s.reason_codes {
                    raw = raw.u8(c.0);
                }
            }
            Packet::Connect(c) => {
                // Write the CONNECT with an empty property block, then splice the raw one in
                // after name, level, flags and keep alive.
                let mut tmp = c.clone();
                tmp.properties = Default::default();
                let mut body = BytesMut::new();
                Packet::Connect(tmp).write_body_unchecked(version, &mut body);
                let name_len = c.protocol.protocol_name().len();
                let head = 2 + name_len + 4;
                let head_bytes = body.get(..head).unwrap_or(&[]).to_vec();
                // Skip the one-byte empty property length written by the 5.0 layout.
                let skip = if c.protocol.is_v5() { head + 1 } else { head };
                let tail = body.get(skip..).unwrap_or(&[]).to_vec();
                raw = raw.bytes(&head_bytes).bytes(&block).bytes(&tail);
            }
            Packet::PingReq | Packet::PingResp => raw = raw.bytes(&block),
        }
        raw
    }

    /// Replaces the flags (low 4 bits of the first byte).
    pub fn flags(mut self, flags: u8) -> Self {
        self.first_byte = (self.first_byte & 0xF0) | (flags & 0x0F);
        self
    }

    /// Sets how the Remaining Length is written.
    pub fn remaining_length(mut self, rl: RemainingLength) -> Self {
        self.remaining_length = rl;
        self
    }

    /// Appends one byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.body.put_u8(v);
        self
    }

    /// Appends a Two Byte Integer.
    pub fn u16(mut self, v: u16) -> Self {
        self.body.put_u16(v);
        self
    }

    /// Appends a Four Byte Integer.
    pub fn u32(mut self, v: u32) -> Self {
        self.body.put_u32(v);
        self
    }

    /// Appends a Variable Byte Integer in its shortest form.
    pub fn vbi(mut self, v: u32) -> Self {
        put_vbi(&mut self.body, v);
        self
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.body.put_slice(b);
        self
    }

    /// Appends a length-prefixed string.
    pub fn string(self, s: &str) -> Self {
        self.string_bytes(s.as_bytes())
    }

    /// Appends a length-prefixed byte string (need not be UTF-8; length truncated to 16 bits).
    pub fn string_bytes(mut self, b: &[u8]) -> Self {
        self.body.put_u16(b.len() as u16);
        self.body.put_slice(b);
        self
    }

    /// Appends a Property Length and these properties, as given.
    pub fn properties(self, props: &[RawProperty]) -> Self {
        let block = encode_properties(props);
        self.bytes(&block)
    }

    /// Appends the packet's bytes to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(self.first_byte);
        match &self.remaining_length {
            RemainingLength::Actual => put_vbi(buf, self.body.len() as u32),
            RemainingLength::Value(v) => put_vbi(buf, *v),
            RemainingLength::Bytes(b) => buf.put_slice(b),
        }
        buf.put_slice(&self.body);
    }

    /// The packet's bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.body.len() + 8);
        self.encode(&mut buf);
        buf.freeze()
    }
}

/// A property value as raw as the wire allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// One byte.
    Byte(u8),
    /// Two Byte Integer.
    Two(u16),
    /// Four Byte Integer.
    Four(u32),
    /// Variable Byte Integer (shortest form).
    Vbi(u32),
    /// Length-prefixed bytes (a UTF-8 string, valid or not, or Binary Data).
    Bytes(Vec<u8>),
    /// Two length-prefixed byte strings (a String Pair).
    Pair(Vec<u8>, Vec<u8>),
    /// Exactly these bytes after the identifier, no length prefix.
    Raw(Vec<u8>),
}

/// One property: an identifier (any value, written as a Variable Byte Integer) and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawProperty {
    /// The identifier.
    pub id: u32,
    /// The value.
    pub value: RawValue,
}

impl RawProperty {
    /// A Byte property.
    pub fn byte(id: PropertyId, v: u8) -> Self {
        RawProperty {
            id: u32::from(id.0),
            value: RawValue::Byte(v),
        }
    }

    /// A Two Byte Integer property.
    pub fn two(id: PropertyId, v: u16) -> Self {
        RawProperty {
            id: u32::from(id.0),
            value: RawValue::Two(v),
        }
    }

    /// A Four Byte Integer property.
    pub fn four(id: PropertyId, v: u32) -> Self {
        RawProperty {
            id: u32::from(id.0),
            value: RawValue::Four(v),
        }
    }

    /// A Variable Byte Integer property.
    pub fn vbi(id: PropertyId, v: u32) -> Self {
        RawProperty {
            id: u32::from(id.0),
            value: RawValue::Vbi(v),
        }
    }

    /// A string or binary property.
    pub fn bytes(id: PropertyId, v: impl Into<Vec<u8>>) -> Self {
        RawProperty {
            id: u32::from(id.0),
            value: RawValue::Bytes(v.into()),
        }
    }

    /// A User Property.
    pub fn user(k: impl Into<Vec<u8>>, v: impl Into<Vec<u8>>) -> Self {
        RawProperty {
            id: u32::from(PropertyId::USER_PROPERTY.0),
            value: RawValue::Pair(k.into(), v.into()),
        }
    }

    fn write(&self, buf: &mut BytesMut) {
        put_vbi(buf, self.id);
        match &self.value {
            RawValue::Byte(v) => buf.put_u8(*v),
            RawValue::Two(v) => buf.put_u16(*v),
            RawValue::Four(v) => buf.put_u32(*v),
            RawValue::Vbi(v) => put_vbi(buf, *v),
            RawValue::Bytes(b) => {
                buf.put_u16(b.len() as u16);
                buf.put_slice(b);
            }
            RawValue::Pair(k, v) => {
                buf.put_u16(k.len() as u16);
                buf.put_slice(k);
                buf.put_u16(v.len() as u16);
                buf.put_slice(v);
            }
            RawValue::Raw(b) => buf.put_slice(b),
        }
    }
}

/// The raw list for a typed property set, in wire order: a starting point for edits.
pub fn properties_to_raw(p: &Properties) -> Vec<RawProperty> {
    use crate::property::Value;
    let mut out = Vec::new();
    p.for_each(|id, v| {
        let value = match v {
            Value::Byte(b) => RawValue::Byte(b),
            Value::Two(x) => RawValue::Two(x),
            Value::Four(x) => RawValue::Four(x),
            Value::Vbi(x) => RawValue::Vbi(x),
            Value::Str(s) => RawValue::Bytes(s.as_bytes().to_vec()),
            Value::Bin(b) => RawValue::Bytes(b.to_vec()),
            Value::Pair(k, v) => RawValue::Pair(k.as_bytes().to_vec(), v.as_bytes().to_vec()),
        };
        out.push(RawProperty {
            id: u32::from(id.0),
            value,
        });
    });
    out
}

/// A Property Length (true, shortest form) followed by the properties.
pub fn encode_properties(props: &[RawProperty]) -> Vec<u8> {
    let mut inner = BytesMut::new();
    for p in props {
        p.write(&mut inner);
    }
    let mut out = BytesMut::with_capacity(inner.len() + 4);
    put_vbi(&mut out, inner.len() as u32);
    out.put_slice(&inner);
    out.to_vec()
}
