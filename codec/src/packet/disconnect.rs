//! DISCONNECT (section 3.14). 3.1.1: empty, client to server only. 5.0: optional reason code
//! and properties (Remaining Length 0, 1 or more), both directions.

use bytes::{BufMut, BytesMut};

use super::{Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion, Side};
use crate::wire::{Reader, Res};

/// DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Reason code (5.0); Normal disconnection in 3.1.1.
    pub reason_code: ReasonCode,
    /// Properties (5.0).
    pub properties: Props,
}

impl Disconnect {
    /// A DISCONNECT with this reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Props::none(),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        if !ctx.version.is_v5() || r.is_empty() {
            // 3.1.1: nothing follows (trailing bytes are caught by the caller).
            return Ok(Disconnect::default());
        }
        let at = r.pos();
        let code = ReasonCode(r.u8()?);
        check_code(code, PacketType::Disconnect, ctx.from).map_err(|k| (k, at))?;
        let properties = if r.is_empty() {
            Props::none()
        } else {
            property::decode(r, PropertyContext::Packet(PacketType::Disconnect), ctx.from)?
        };
        Ok(Disconnect {
            reason_code: code,
            properties,
        })
    }
}

/// The reason code must be defined for the packet and, when the sender is known, be one that
/// side may send. [MQTT-3.14.2-1] [MQTT-3.15.2-1]
pub(crate) fn check_code(
    code: ReasonCode,
    packet: PacketType,
    from: Option<Side>,
) -> Result<(), DecodeErrorKind> {
    if !code.allowed_on(packet, ProtocolVersion::V5) {
        return Err(DecodeErrorKind::ReasonCodeNotAllowed { packet, code });
    }
    if let Some(side) = from {
        if !code.allowed_from(packet, side) {
            return Err(DecodeErrorKind::ReasonCodeWrongSender { packet, code, side });
        }
    }
    Ok(())
}

impl Body for Disconnect {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        if !v.is_v5() {
            0
        } else if self.properties.is_empty() {
            usize::from(self.reason_code != ReasonCode::SUCCESS)
        } else {
            1 + self.properties.encoded_len()
        }
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        if !v.is_v5() {
            return;
        }
        if self.properties.is_empty() {
            if self.reason_code != ReasonCode::SUCCESS {
                buf.put_u8(self.reason_code.0);
            }
            return;
        }
        buf.put_u8(self.reason_code.0);
        self.properties.write(buf);
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if !v.is_v5() {
            if self.reason_code != ReasonCode::SUCCESS {
                return Err(DecodeErrorKind::ReasonCodeNotAllowed {
                    packet: PacketType::Disconnect,
                    code: self.reason_code,
                });
            }
            if !self.properties.is_empty() {
                return Err(DecodeErrorKind::PropertiesInV3);
            }
            return Ok(());
        }
        check_code(self.reason_code, PacketType::Disconnect, None)?;
        self.properties
            .validate(PropertyContext::Packet(PacketType::Disconnect))
    }
}
