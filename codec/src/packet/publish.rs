//! PUBLISH (section 3.3): an application message.

use bytes::{BufMut, Bytes, BytesMut};

use super::{qos_bits, read_packet_id, Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::types::{PacketType, ProtocolVersion, QoS, MAX_REMAINING_LENGTH};
use crate::wire::{
    find_topic_forbidden, put_vbi, to_bytestr, to_bytestr_no_null, vbi_len, Reader, Res,
};
use crate::ByteStr;

/// PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP flag (never with QoS 0).
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name (5.0: may be empty when a Topic Alias is given).
    pub topic: ByteStr,
    /// Packet identifier: non-zero for QoS 1 and 2, 0 (absent) for QoS 0.
    pub packet_id: u16,
    /// The application message, a slice of the input.
    pub payload: Bytes,
    /// Properties (5.0).
    pub properties: Props,
}

impl Publish {
    /// A QoS 0 message without properties.
    pub fn new(topic: impl Into<ByteStr>, payload: impl Into<Bytes>) -> Self {
        Publish {
            topic: topic.into(),
            payload: payload.into(),
            ..Default::default()
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.as_u8() << 1) | u8::from(self.retain)
    }

    pub(crate) fn decode(r: &mut Reader<'_>, flags: u8, ctx: Ctx) -> Res<Self> {
        let qos = qos_bits(flags >> 1);
        let topic_at = r.pos();
        let len = usize::from(r.u16()?);
        let raw = r.bytes(len)?;
        // One pass for the topic rules, then UTF-8 validation.
        if let Some(i) = find_topic_forbidden(&raw) {
            let kind = if raw.get(i) == Some(&0) {
                DecodeErrorKind::NullCharacterInTopic // [MQTT-4.7.3-2]
            } else {
                DecodeErrorKind::TopicNameWildcard // [MQTT-3.3.2-2]
            };
            // A zero byte inside an ill-formed sequence is reported as ill-formed UTF-8.
            to_bytestr(raw.slice(..i), topic_at + 2)?;
            return Err((kind, topic_at + 2 + i));
        }
        let topic = to_bytestr_no_null(raw, topic_at + 2)?; // [MQTT-3.3.2-1]
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            read_packet_id(r, PacketType::Publish)?
        };
        let properties = if ctx.version.is_v5() {
            property::decode(r, PropertyContext::Packet(PacketType::Publish), ctx.from)?
        } else {
            Props::none()
        };
        // 3.1.1 [MQTT-4.7.3-1]; 5.0: an empty topic needs a Topic Alias (3.3.2.1).
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err((DecodeErrorKind::EmptyTopicName, topic_at));
        }
        // The payload (the rest of the packet) is attached by the caller, which may own the
        // packet's bytes and reuse them.
        let payload = Bytes::new();
        Ok(Publish {
            dup: flags & 0b1000 != 0,
            qos,
            retain: flags & 1 != 0,
            topic,
            packet_id,
            payload,
            properties,
        })
    }
}

/// Where the parts of a PUBLISH lie when it is of the common kind. Found on the borrowed
/// bytes, before any handle is made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimpleLayout {
    /// First byte of the fixed header.
    first: u8,
    /// The whole packet's size.
    len: usize,
    topic_start: usize,
    topic_end: usize,
    packet_id: u16,
    payload_at: usize,
}

impl SimpleLayout {
    /// A complete PUBLISH at the front of `buf` of the common kind: flags valid, Remaining
    /// Length in its shortest form in one or two bytes and within `max_size`, a non-empty
    /// topic, a non-zero packet identifier if QoS > 0, no properties (5.0: a single zero
    /// Property Length byte). `None` for anything else, including every error and incomplete
    /// input: the general decoder then decides and reports exactly. The topic's bytes are
    /// left to the caller ([`crate::wire::publish_topic`]: U+0000, wildcards, UTF-8), which
    /// checks them once, on the handle it makes.
    #[inline(always)]
    pub(crate) fn find(buf: &[u8], v5: bool, max_size: u32) -> Option<Self> {
        let (&first, rest) = buf.split_first()?;
        // The flag nibbles (DUP, QoS, RETAIN) of this path, one bit each: not QoS 3
        // [MQTT-3.3.1-4] (0b_11_ = 6, 7, 14, 15), not DUP with QoS 0 [MQTT-3.3.1-2] (8, 9);
        // those are left to the general path.
        const PLAIN: u16 = !(1 << 6 | 1 << 7 | 1 << 14 | 1 << 15 | 1 << 8 | 1 << 9);
        if first >> 4 != PacketType::Publish as u8 || PLAIN >> (first & 0x0F) & 1 == 0 {
            return None;
        }
        let qos = (first >> 1) & 0b11;
        // Remaining Length in one or two bytes, shortest form (up to 16383: longer packets
        // take the general path, where the fixed costs do not matter beside the payload).
        let (remaining, header_len) = match *rest {
            [a, ..] if a < 0x80 => (usize::from(a), 2),
            [a, b, ..] if b < 0x80 && b != 0 => (usize::from(a & 0x7F) | usize::from(b) << 7, 3),
            _ => return None,
        };
        let len = header_len + remaining;
        if len > max_size as usize {
            return None;
        }
        let [t0, t1, body @ ..] = buf.get(header_len..len)? else {
            return None;
        };
        let topic_start = header_len + 2;
        let (topic, body) = body.split_at_checked(usize::from(u16::from_be_bytes([*t0, *t1])))?;
        // Empty topics (5.0 Topic Alias) take the general path.
        if topic.is_empty() {
            return None;
        }
        let (packet_id, body) = match body {
            _ if qos == 0 => (0, body),
            [a, b, body @ ..] if (*a, *b) != (0, 0) => (u16::from_be_bytes([*a, *b]), body),
            _ => return None,
        };
        let body = match body {
            _ if !v5 => body,
            [0, body @ ..] => body,
            _ => return None,
        };
        Some(SimpleLayout {
            first,
            len,
            topic_start,
            topic_end: topic_start + topic.len(),
            packet_id,
            payload_at: len - body.len(),
        })
    }

    /// The packet's size.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The topic's bytes within the packet.
    #[inline]
    pub(crate) fn topic(&self) -> std::ops::Range<usize> {
        self.topic_start..self.topic_end
    }

    /// Where the payload starts within the packet.
    #[inline]
    pub(crate) fn payload_at(&self) -> usize {
        self.payload_at
    }

    /// The packet, from its validated topic and its payload.
    #[inline]
    pub(crate) fn build(&self, topic: ByteStr, payload: Bytes) -> Publish {
        Publish {
            dup: self.first & 0b1000 != 0,
            qos: qos_bits(self.first >> 1),
            retain: self.first & 1 != 0,
            topic,
            packet_id: self.packet_id,
            payload,
            properties: Props::none(),
        }
    }
}

impl Body for Publish {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        let mut n = 2 + self.topic.len() + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            n += 2;
        }
        if v.is_v5() {
            n += self.properties.encoded_len();
        }
        n
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.topic.len() as u16);
        buf.put_slice(self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id);
        }
        if v.is_v5() {
            self.properties.write(buf);
        }
        buf.put_slice(&self.payload);
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        self.validate_fields(v)?;
        match self.properties.get() {
            None => {}
            Some(p) if v.is_v5() => p.validate(PropertyContext::Packet(PacketType::Publish))?,
            Some(p) if !p.is_empty() => return Err(DecodeErrorKind::PropertiesInV3),
            Some(_) => {}
        }
        Ok(())
    }
}

impl Publish {
    /// The checks of [`Body::validate`] but the properties'.
    #[inline]
    fn validate_fields(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        let t = self.topic.as_bytes();
        if t.len() > usize::from(u16::MAX) {
            return Err(DecodeErrorKind::StringTooLong);
        }
        // One pass for U+0000 and the wildcards [MQTT-3.3.2-2]; a U+0000 anywhere is
        // reported before a wildcard.
        if let Some(i) = find_topic_forbidden(t) {
            let null = t.get(i..).is_some_and(|rest| rest.contains(&0));
            return Err(if null {
                DecodeErrorKind::NullCharacterInTopic
            } else {
                DecodeErrorKind::TopicNameWildcard
            });
        }
        if t.is_empty() && !(v.is_v5() && self.properties.topic_alias.is_some()) {
            return Err(DecodeErrorKind::EmptyTopicName);
        }
        match self.qos {
            QoS::AtMostOnce if self.dup => return Err(DecodeErrorKind::DupWithQos0),
            QoS::AtMostOnce if self.packet_id != 0 => return Err(DecodeErrorKind::PacketIdOnQos0),
            QoS::AtMostOnce => {}
            _ if self.packet_id == 0 => {
                return Err(DecodeErrorKind::PacketIdZero {
                    packet: PacketType::Publish,
                })
            }
            _ => {}
        }
        Ok(())
    }

    /// The checked encoder for PUBLISH: validates once, sizes once (the properties in the
    /// same pass as their checks), then writes with fixed-size copies around the topic and
    /// the payload.
    pub(crate) fn encode_checked(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), DecodeErrorKind> {
        self.validate_fields(v)?;
        // The properties are checked and sized in one pass.
        let props_len = match self.properties.get() {
            None => 0,
            Some(p) if v.is_v5() => {
                p.checked_body_len(PropertyContext::Packet(PacketType::Publish))?
            }
            Some(p) if !p.is_empty() => return Err(DecodeErrorKind::PropertiesInV3),
            Some(_) => 0,
        };
        let mut body = 2 + self.topic.len() + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            body += 2;
        }
        if v.is_v5() {
            body += vbi_len(props_len as u32) + props_len;
        }
        if body > MAX_REMAINING_LENGTH as usize {
            return Err(DecodeErrorKind::RemainingLengthTooLarge);
        }
        buf.reserve(5 + body);
        // First byte, Remaining Length, topic length: fixed-size copies for the usual sizes.
        let first = 0x30 | self.flags();
        let [hi, lo] = (self.topic.len() as u16).to_be_bytes();
        if body < 0x80 {
            buf.put_slice(&[first, body as u8, hi, lo]);
        } else if body < 0x4000 {
            buf.put_slice(&[first, 0x80 | (body & 0x7F) as u8, (body >> 7) as u8, hi, lo]);
        } else {
            buf.put_u8(first);
            put_vbi(buf, body as u32);
            buf.put_slice(&[hi, lo]);
        }
        buf.put_slice(self.topic.as_bytes());
        let [id_hi, id_lo] = self.packet_id.to_be_bytes();
        let with_id = self.qos != QoS::AtMostOnce;
        match (with_id, v.is_v5(), self.properties.get()) {
            // No property set: a single zero Property Length.
            (true, true, None) => buf.put_slice(&[id_hi, id_lo, 0]),
            (true, false, _) => buf.put_slice(&[id_hi, id_lo]),
            (false, false, _) => {}
            (_, true, props) => {
                if with_id {
                    buf.put_slice(&[id_hi, id_lo]);
                }
                match props {
                    None => buf.put_u8(0),
                    Some(p) => p.write_with_len(props_len, buf),
                }
            }
        }
        buf.put_slice(&self.payload);
        Ok(())
    }
}
