//! SUBACK (section 3.9): one reason (return) code per topic filter of the SUBSCRIBE.

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{Reader, Res};

/// SUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// One code per topic filter, in order (3.1.1: 0x00-0x02 or 0x80).
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (5.0).
    pub properties: Props,
}

/// Reads a non-empty list of codes allowed on `packet` up to the end of the packet.
pub(crate) fn read_codes(r: &mut Reader<'_>, packet: PacketType, ctx: Ctx) -> Res<Vec<ReasonCode>> {
    let mut codes = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let at = r.pos();
        let code = ReasonCode(r.u8()?);
        // 3.1.1 [MQTT-3.9.3-2]; 5.0 [MQTT-3.9.3-2] [MQTT-3.11.3-2]
        if !code.allowed_on(packet, ctx.version) {
            return Err((DecodeErrorKind::ReasonCodeNotAllowed { packet, code }, at));
        }
        codes.push(code);
    }
    if codes.is_empty() {
        return Err((DecodeErrorKind::NoReasonCodes { packet }, r.pos()));
    }
    Ok(codes)
}

pub(crate) fn validate_codes(
    codes: &[ReasonCode],
    packet: PacketType,
    v: ProtocolVersion,
) -> Result<(), DecodeErrorKind> {
    if codes.is_empty() {
        return Err(DecodeErrorKind::NoReasonCodes { packet });
    }
    match codes.iter().find(|c| !c.allowed_on(packet, v)) {
        Some(&code) => Err(DecodeErrorKind::ReasonCodeNotAllowed { packet, code }),
        None => Ok(()),
    }
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        let packet_id = read_packet_id(r, PacketType::SubAck)?;
        let properties = if ctx.version.is_v5() {
            property::decode(r, PropertyContext::Packet(PacketType::SubAck), ctx.from)?
        } else {
            Props::none()
        };
        let reason_codes = read_codes(r, PacketType::SubAck, ctx)?;
        Ok(SubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }
}

impl Body for SubAck {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        let props = if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        2 + props + self.reason_codes.len()
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.write(buf);
        }
        for c in &self.reason_codes {
            buf.put_u8(c.0);
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if self.packet_id == 0 {
            return Err(DecodeErrorKind::PacketIdZero {
                packet: PacketType::SubAck,
            });
        }
        validate_codes(&self.reason_codes, PacketType::SubAck, v)?;
        if v.is_v5() {
            self.properties
                .validate(PropertyContext::Packet(PacketType::SubAck))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else {
            Ok(())
        }
    }
}
