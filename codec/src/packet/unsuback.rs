//! UNSUBACK (section 3.11): 3.1.1 carries only the packet identifier; 5.0 adds one reason
//! code per topic filter.

use bytes::{BufMut, BytesMut};

use super::suback::{read_codes, validate_codes};
use super::{read_packet_id, Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{Reader, Res};

/// UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// 5.0: one code per topic filter, in order. Empty in 3.1.1.
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (5.0).
    pub properties: Props,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        let packet_id = read_packet_id(r, PacketType::UnsubAck)?;
        if !ctx.version.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                reason_codes: Vec::new(),
                properties: Props::none(),
            });
        }
        let properties =
            property::decode(r, PropertyContext::Packet(PacketType::UnsubAck), ctx.from)?;
        let reason_codes = read_codes(r, PacketType::UnsubAck, ctx)?;
        Ok(UnsubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }
}

impl Body for UnsubAck {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            2 + self.properties.encoded_len() + self.reason_codes.len()
        } else {
            2
        }
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.write(buf);
            for c in &self.reason_codes {
                buf.put_u8(c.0);
            }
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if self.packet_id == 0 {
            return Err(DecodeErrorKind::PacketIdZero {
                packet: PacketType::UnsubAck,
            });
        }
        if v.is_v5() {
            validate_codes(&self.reason_codes, PacketType::UnsubAck, v)?;
            self.properties
                .validate(PropertyContext::Packet(PacketType::UnsubAck))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else if !self.reason_codes.is_empty() {
            Err(DecodeErrorKind::ReasonCodeNotAllowed {
                packet: PacketType::UnsubAck,
                code: self.reason_codes.first().copied().unwrap_or_default(),
            })
        } else {
            Ok(())
        }
    }
}
