//! CONNECT (section 3.1): the first packet of a connection, decoded by its own protocol level.

use bytes::{BufMut, Bytes, BytesMut};

use super::{check_bin, check_str, qos_bits, Body, Ctx, FixedHeader};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::property::{self, PropertyContext, Props};
use crate::topic;
use crate::types::{PacketType, ProtocolVersion, QoS, MAX_REMAINING_LENGTH};
use crate::wire::{find_topic_forbidden, put_binary, put_vbi, vbi_len, Reader, Res};
use crate::ByteStr;

/// CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The version named by the protocol name and level. Decoding uses it whatever version
    /// the caller passed; encoding writes it whatever version the caller passes.
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive, seconds.
    pub keep_alive: u16,
    /// Client Identifier (may be empty).
    pub client_id: ByteStr,
    /// The will message, when the Will Flag is set.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<ByteStr>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// Properties (5.0).
    pub properties: Props,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Will {
    /// Will Topic (a topic name).
    pub topic: ByteStr,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (5.0).
    pub properties: Props,
}

impl Connect {
    /// A CONNECT with clean start, no will, no credentials, no properties.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteStr>) -> Self {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: Props::none(),
        }
    }

    fn flags(&self) -> u8 {
        let mut f = u8::from(self.clean_start) << 1;
        if let Some(w) = &self.will {
            f |= 0b100 | (w.qos.as_u8() << 3) | (u8::from(w.retain) << 5);
        }
        if self.password.is_some() {
            f |= 0x40;
        }
        if self.username.is_some() {
            f |= 0x80;
        }
        f
    }
}

/// Reads the protocol name and level at the reader; returns the version, or the error kind
/// and offset. Shared with [`crate::peek_protocol_version`].
pub(crate) fn read_protocol(r: &mut Reader<'_>) -> Res<ProtocolVersion> {
    let name_at = r.pos();
    let name_len = usize::from(r.u16()?);
    let name = r.slice(name_len)?;
    let level_at = r.pos();
    let level = r.u8()?;
    // 3.1.1 / 5.0 [MQTT-3.1.2-1]: the name is "MQTT"; 3.1 used "MQIsdp" with level 3.
    match (name, level) {
        (b"MQTT", 4) => Ok(ProtocolVersion::V3_1_1),
        (b"MQTT", 5) => Ok(ProtocolVersion::V5),
        (b"MQIsdp", 3) => Ok(ProtocolVersion::V3_1),
        (b"MQTT", level) => Err((
            DecodeErrorKind::UnsupportedProtocolLevel { level },
            level_at,
        )),
        _ => Err((DecodeErrorKind::InvalidProtocolName, name_at)),
    }
}

pub(crate) fn decode(
    r: &mut Reader<'_>,
    hdr: &FixedHeader,
    ctx: Ctx,
) -> Result<Connect, DecodeError> {
    let mut version = ctx.version;
    let res = (|| -> Res<Connect> {
        let protocol = read_protocol(r)?;
        version = protocol;
        let v5 = protocol.is_v5();
        // [MQTT-1.5.5-1]: the shortest Remaining Length, judged by the CONNECT's own version.
        if v5 && hdr.non_minimal_length {
            return Err((DecodeErrorKind::NonMinimalVarInt, 1));
        }
        // The reader was built for the caller's version; the body follows the CONNECT's.
        let mut r = Reader::new_like(r, v5);
        let r = &mut r;
        let flags_at = r.pos();
        let flags = r.u8()?;
        if flags & 1 != 0 {
            return Err((DecodeErrorKind::ConnectReservedFlag, flags_at)); // [MQTT-3.1.2-3]
        }
        let will_flag = flags & 0b100 != 0;
        let will_qos = (flags >> 3) & 0b11;
        let will_retain = flags & 0b10_0000 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if !will_flag && will_qos != 0 {
            // 3.1.1 [MQTT-3.1.2-11] [MQTT-3.1.2-13]; 5.0 [MQTT-3.1.2-11]
            return Err((DecodeErrorKind::WillQosWithoutWill, flags_at));
        }
        if will_qos == 3 {
            // 3.1.1 [MQTT-3.1.2-14]; 5.0 [MQTT-3.1.2-12]
            return Err((DecodeErrorKind::WillQos3, flags_at));
        }
        if !will_flag && will_retain {
            // 3.1.1 [MQTT-3.1.2-15]; 5.0 [MQTT-3.1.2-13]
            return Err((DecodeErrorKind::WillRetainWithoutWill, flags_at));
        }
        if !v5 && password_flag && !username_flag {
            return Err((DecodeErrorKind::PasswordWithoutUsername, flags_at)); // [MQTT-3.1.2-22]
        }
        let keep_alive = r.u16()?;
        let properties = if v5 {
            property::decode(r, PropertyContext::Packet(PacketType::Connect), ctx.from)?
        } else {
            Props::none()
        };
        // Payload order: client id, will properties, will topic, will payload, user name,
        // password (3.1.1 [MQTT-3.1.3-1]; 5.0 [MQTT-3.1.3-1]).
        let client_id = r.string()?; // [MQTT-3.1.3-3] [MQTT-3.1.3-4]

        // A field its flag announces, but no byte is left for it: the flag's rule is broken
        // (a field that starts and is cut short stays a plain truncation).
        let present = |r: &Reader<'_>, missing: DecodeErrorKind| -> Res<()> {
            if r.is_empty() {
                Err((missing, r.pos()))
            } else {
                Ok(())
            }
        };
        let will = if will_flag {
            // [MQTT-3.1.2-9] (both versions): every will field is present.
            let wprops = if v5 {
                present(r, DecodeErrorKind::MissingWill)?;
                property::decode(r, PropertyContext::Will, ctx.from)?
            } else {
                Props::none()
            };
            present(r, DecodeErrorKind::MissingWill)?;
            let topic_at = r.pos();
            // 3.1.1 [MQTT-3.1.3-10]; 5.0 [MQTT-3.1.3-11]. A topic name: [MQTT-4.7.3-2].
            let topic = r.topic_string()?;
            if topic.is_empty() {
                return Err((DecodeErrorKind::EmptyTopicName, topic_at)); // [MQTT-4.7.3-1]
            }
            if !topic::valid_topic_name(&topic) {
                // 3.1.1 [MQTT-4.7.1-1]; 5.0 [MQTT-4.7.0-1]
                return Err((DecodeErrorKind::TopicNameWildcard, topic_at));
            }
            present(r, DecodeErrorKind::MissingWill)?;
            let payload = r.binary()?;
            Some(Will {
                topic,
                payload,
                qos: qos_bits(will_qos),
                retain: will_retain,
                properties: wprops,
            })
        } else {
            None
        };
        // 3.1.1 [MQTT-3.1.2-18]..[MQTT-3.1.2-21]; 5.0 [MQTT-3.1.2-16]..[MQTT-3.1.2-19]
        let username = if username_flag {
            // 3.1.1 [MQTT-3.1.2-19]; 5.0 [MQTT-3.1.2-17]
            present(r, DecodeErrorKind::MissingUserName)?;
            Some(r.string()?) // 3.1.1 [MQTT-3.1.3-11]; 5.0 [MQTT-3.1.3-12]
        } else {
            None
        };
        let password = if password_flag {
            // 3.1.1 [MQTT-3.1.2-21]; 5.0 [MQTT-3.1.2-19]
            present(r, DecodeErrorKind::MissingPassword)?;
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            protocol,
            clean_start: flags & 0b10 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    })();
    res.map_err(|(kind, offset)| {
        DecodeError::new(kind, offset, version, Some(PacketType::Connect), ctx.from)
    })
}

impl Body for Connect {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        let v5 = v.is_v5();
        let mut n = 2 + v.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            n += self.properties.encoded_len();
        }
        n += 2 + self.client_id.len();
        if let Some(w) = &self.will {
            if v5 {
                n += w.properties.encoded_len();
            }
            n += 2 + w.topic.len() + 2 + w.payload.len();
        }
        if let Some(u) = &self.username {
            n += 2 + u.len();
        }
        if let Some(p) = &self.password {
            n += 2 + p.len();
        }
        n
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        let v5 = v.is_v5();
        let name = v.protocol_name();
        buf.put_u16(name.len() as u16);
        buf.put_slice(name.as_bytes());
        buf.put_u8(v.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if v5 {
            self.properties.write(buf);
        }
        crate::wire::put_binary(buf, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if v5 {
                w.properties.write(buf);
            }
            crate::wire::put_binary(buf, w.topic.as_bytes());
            crate::wire::put_binary(buf, &w.payload);
        }
        if let Some(u) = &self.username {
            crate::wire::put_binary(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            crate::wire::put_binary(buf, p);
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        check_str(&self.client_id)?;
        if let Some(w) = &self.will {
            check_str(&w.topic).map_err(crate::wire::in_topic)?;
            if w.topic.is_empty() {
                return Err(DecodeErrorKind::EmptyTopicName);
            }
            if !topic::valid_topic_name(&w.topic) {
                return Err(DecodeErrorKind::TopicNameWildcard);
            }
            check_bin(&w.payload)?;
            if v.is_v5() {
                w.properties.validate(PropertyContext::Will)?;
            } else if !w.properties.is_empty() {
                return Err(DecodeErrorKind::PropertiesInV3);
            }
        }
        if let Some(u) = &self.username {
            check_str(u)?;
        }
        if let Some(p) = &self.password {
            check_bin(p)?;
            if !v.is_v5() && self.username.is_none() {
                return Err(DecodeErrorKind::PasswordWithoutUsername); // [MQTT-3.1.2-22]
            }
        }
        if v.is_v5() {
            self.properties
                .validate(PropertyContext::Packet(PacketType::Connect))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else {
            Ok(())
        }
    }
}

impl Connect {
    /// The checked encoder for CONNECT: the checks of [`Body::validate`] in the same order
    /// (so the same error), each string scanned once and each length computed once while
    /// checking, then the fixed part of the packet written with fixed-size copies and the
    /// properties field by field. Written in the CONNECT's own protocol version.
    pub(crate) fn encode_checked(&self, buf: &mut BytesMut) -> Result<(), DecodeErrorKind> {
        let v = self.protocol;
        let v5 = v.is_v5();
        check_str(&self.client_id)?;
        let mut body = 2 + v.protocol_name().len() + 4 + 2 + self.client_id.len();
        let mut will_props = 0;
        if let Some(w) = &self.will {
            check_will_topic(&w.topic)?;
            check_bin(&w.payload)?;
            if v5 {
                will_props = w.properties.checked_body_len(PropertyContext::Will)?;
                body += vbi_len(will_props as u32) + will_props;
            } else if !w.properties.is_empty() {
                return Err(DecodeErrorKind::PropertiesInV3);
            }
            body += 4 + w.topic.len() + w.payload.len();
        }
        if let Some(u) = &self.username {
            check_str(u)?;
            body += 2 + u.len();
        }
        if let Some(p) = &self.password {
            check_bin(p)?;
            if !v5 && self.username.is_none() {
                return Err(DecodeErrorKind::PasswordWithoutUsername); // [MQTT-3.1.2-22]
            }
            body += 2 + p.len();
        }
        let mut props = 0;
        if v5 {
            props = self
                .properties
                .checked_body_len(PropertyContext::Packet(PacketType::Connect))?;
            body += vbi_len(props as u32) + props;
        } else if !self.properties.is_empty() {
            return Err(DecodeErrorKind::PropertiesInV3);
        }
        if body > MAX_REMAINING_LENGTH as usize {
            return Err(DecodeErrorKind::RemainingLengthTooLarge);
        }
        buf.reserve(5 + body);
        buf.put_u8((PacketType::Connect as u8) << 4);
        put_vbi(buf, body as u32);
        // Protocol name and level, flags, Keep Alive: fixed-size copies.
        let [ka_hi, ka_lo] = self.keep_alive.to_be_bytes();
        let flags = self.flags();
        match v {
            ProtocolVersion::V3_1 => buf.put_slice(&[
                0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, flags, ka_hi, ka_lo,
            ]),
            _ => buf.put_slice(&[0, 4, b'M', b'Q', b'T', b'T', v.level(), flags, ka_hi, ka_lo]),
        }
        if v5 {
            put_vbi(buf, props as u32);
            self.properties.write_connect_fields(buf);
        }
        put_binary(buf, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if v5 {
                w.properties.write_with_len(will_props, buf);
            }
            put_binary(buf, w.topic.as_bytes());
            put_binary(buf, &w.payload);
        }
        if let Some(u) = &self.username {
            put_binary(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_binary(buf, p);
        }
        Ok(())
    }
}

/// The Will Topic rules of [`Body::validate`] in one pass: fits the length prefix, no U+0000
/// (reported before a wildcard, as the decoder does), not empty, no wildcard.
fn check_will_topic(t: &str) -> Result<(), DecodeErrorKind> {
    let b = t.as_bytes();
    if b.len() > usize::from(u16::MAX) {
        return Err(DecodeErrorKind::StringTooLong);
    }
    if let Some(i) = find_topic_forbidden(b) {
        return Err(if b.get(i..).is_some_and(|rest| rest.contains(&0)) {
            DecodeErrorKind::NullCharacterInTopic
        } else {
            DecodeErrorKind::TopicNameWildcard
        });
    }
    if b.is_empty() {
        return Err(DecodeErrorKind::EmptyTopicName);
    }
    Ok(())
}
