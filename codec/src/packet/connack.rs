//! CONNACK (section 3.2): the server's answer to CONNECT.

use bytes::{BufMut, BytesMut};

use super::{Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{Reader, Res};

/// CONNACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// 5.0 Connect Reason Code, or the 3.1.1 Connect Return Code (0x00-0x05, see the
    /// `ReasonCode::V3_*` constants).
    pub reason_code: ReasonCode,
    /// Properties (5.0).
    pub properties: Props,
}

impl ConnAck {
    /// A CONNACK with this code, no session, no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        ConnAck {
            session_present: false,
            reason_code,
            properties: Props::none(),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        let flags_at = r.pos();
        let flags = r.u8()?;
        if flags & 0xFE != 0 {
            // 5.0 [MQTT-3.2.2-1]; 3.1.1 section 3.2.2.1 says the same without an id.
            return Err((DecodeErrorKind::ConnAckReservedFlags { flags }, flags_at));
        }
        let session_present = flags & 1 != 0;
        let code_at = r.pos();
        let reason_code = ReasonCode(r.u8()?);
        if !reason_code.allowed_on(PacketType::ConnAck, ctx.version) {
            // 5.0 [MQTT-3.2.2-8]; 3.1.1 codes 6-255 are reserved (3.2.2.3).
            return Err((
                DecodeErrorKind::ReasonCodeNotAllowed {
                    packet: PacketType::ConnAck,
                    code: reason_code,
                },
                code_at,
            ));
        }
        if session_present && reason_code != ReasonCode::SUCCESS {
            // 3.1.1 [MQTT-3.2.2-4]; 5.0 [MQTT-3.2.2-6]
            return Err((DecodeErrorKind::SessionPresentWithError, flags_at));
        }
        let properties = if ctx.version.is_v5() {
            property::decode(r, PropertyContext::Packet(PacketType::ConnAck), ctx.from)?
        } else {
            Props::none()
        };
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }
}

impl Body for ConnAck {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            2 + self.properties.encoded_len()
        } else {
            2
        }
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.session_present));
        buf.put_u8(self.reason_code.0);
        if v.is_v5() {
            self.properties.write(buf);
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if !self.reason_code.allowed_on(PacketType::ConnAck, v) {
            return Err(DecodeErrorKind::ReasonCodeNotAllowed {
                packet: PacketType::ConnAck,
                code: self.reason_code,
            });
        }
        if self.session_present && self.reason_code != ReasonCode::SUCCESS {
            return Err(DecodeErrorKind::SessionPresentWithError);
        }
        if v.is_v5() {
            self.properties
                .validate(PropertyContext::Packet(PacketType::ConnAck))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else {
            Ok(())
        }
    }
}
