//! AUTH (section 3.15, 5.0 only): enhanced authentication exchange.

use bytes::{BufMut, BytesMut};

use super::disconnect::check_code;
use super::{Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{Reader, Res};

/// AUTH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// 0x00 Success, 0x18 Continue authentication or 0x19 Re-authenticate.
    pub reason_code: ReasonCode,
    /// Properties: Authentication Method (required unless the short Success form),
    /// Authentication Data, Reason String, User Properties.
    pub properties: Props,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        if r.is_empty() {
            // Remaining Length 0: Success, no properties (3.15.2.1). Success is the server's
            // code only [MQTT-3.15.2-1]: the short form is checked against the sender too.
            check_code(ReasonCode::SUCCESS, PacketType::Auth, ctx.from)
                .map_err(|k| (k, r.pos()))?;
            return Ok(Auth::default());
        }
        let at = r.pos();
        let code = ReasonCode(r.u8()?);
        check_code(code, PacketType::Auth, ctx.from).map_err(|k| (k, at))?;
        // Only the Remaining Length 0 form may omit the Property Length.
        let props_at = r.pos();
        let properties = property::decode(r, PropertyContext::Packet(PacketType::Auth), ctx.from)?;
        if code != ReasonCode::SUCCESS && properties.authentication_method.is_none() {
            // 3.15.2.2.2: omitting the Authentication Method is a Protocol Error.
            return Err((DecodeErrorKind::AuthMethodMissing, props_at));
        }
        Ok(Auth {
            reason_code: code,
            properties,
        })
    }
}

impl Body for Auth {
    fn body_len(&self, _v: ProtocolVersion) -> usize {
        if self.reason_code == ReasonCode::SUCCESS && self.properties.is_empty() {
            0
        } else {
            1 + self.properties.encoded_len()
        }
    }

    fn write_body(&self, _v: ProtocolVersion, buf: &mut BytesMut) {
        if self.reason_code == ReasonCode::SUCCESS && self.properties.is_empty() {
            return;
        }
        buf.put_u8(self.reason_code.0);
        self.properties.write(buf);
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if !v.is_v5() {
            return Err(DecodeErrorKind::NotInVersion {
                packet: PacketType::Auth,
            });
        }
        check_code(self.reason_code, PacketType::Auth, None)?;
        if self.reason_code != ReasonCode::SUCCESS
            && self.properties.authentication_method.is_none()
        {
            return Err(DecodeErrorKind::AuthMethodMissing);
        }
        self.properties
            .validate(PropertyContext::Packet(PacketType::Auth))
    }
}
