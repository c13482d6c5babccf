//! The layout shared by PUBACK, PUBREC, PUBREL and PUBCOMP: packet identifier, then in 5.0 an
//! optional reason code and optional properties (Remaining Length 2, 3 or more).

use bytes::{BufMut, BytesMut};

use super::{read_packet_id, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{Reader, Res};

pub(crate) fn decode(
    r: &mut Reader<'_>,
    packet: PacketType,
    ctx: Ctx,
) -> Res<(u16, ReasonCode, Props)> {
    let packet_id = read_packet_id(r, packet)?;
    if !ctx.version.is_v5() || r.is_empty() {
        // 3.1.1: Remaining Length is exactly 2 (trailing bytes are caught by the caller).
        // 5.0: Remaining Length 2 means Success and no properties.
        return Ok((packet_id, ReasonCode::SUCCESS, Props::none()));
    }
    let at = r.pos();
    let code = ReasonCode(r.u8()?);
    // [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
    if !code.allowed_on(packet, ctx.version) {
        return Err((DecodeErrorKind::ReasonCodeNotAllowed { packet, code }, at));
    }
    // Remaining Length 3: no Property Length, no properties.
    let props = if r.is_empty() {
        Props::none()
    } else {
        property::decode(r, PropertyContext::Packet(packet), ctx.from)?
    };
    Ok((packet_id, code, props))
}

pub(crate) fn body_len(v: ProtocolVersion, code: ReasonCode, props: &Props) -> usize {
    if !v.is_v5() || (code == ReasonCode::SUCCESS && props.is_empty()) {
        2
    } else if props.is_empty() {
        3
    } else {
        3 + props.encoded_len()
    }
}

pub(crate) fn write(
    v: ProtocolVersion,
    packet_id: u16,
    code: ReasonCode,
    props: &Props,
    buf: &mut BytesMut,
) {
    buf.put_u16(packet_id);
    if !v.is_v5() || (code == ReasonCode::SUCCESS && props.is_empty()) {
        return;
    }
    buf.put_u8(code.0);
    if !props.is_empty() {
        props.write(buf);
    }
}

pub(crate) fn validate(
    v: ProtocolVersion,
    packet: PacketType,
    packet_id: u16,
    code: ReasonCode,
    props: &Props,
) -> Result<(), DecodeErrorKind> {
    if packet_id == 0 {
        return Err(DecodeErrorKind::PacketIdZero { packet });
    }
    if !code.allowed_on(packet, v) {
        return Err(DecodeErrorKind::ReasonCodeNotAllowed { packet, code });
    }
    if !v.is_v5() {
        if !props.is_empty() {
            return Err(DecodeErrorKind::PropertiesInV3);
        }
        return Ok(());
    }
    props.validate(PropertyContext::Packet(packet))
}

/// Defines one acknowledgement packet struct over the shared layout.
macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident, $ptype:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// Packet identifier of the PUBLISH (or PUBREC/PUBREL) acknowledged; never 0.
            pub packet_id: u16,
            /// Reason code (5.0); always Success in 3.1.1, where the packet has none.
            pub reason_code: $crate::reason::ReasonCode,
            /// Properties (5.0).
            pub properties: $crate::property::Props,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            pub fn new(packet_id: u16) -> Self {
                $name {
                    packet_id,
                    reason_code: $crate::reason::ReasonCode::SUCCESS,
                    properties: $crate::property::Props::none(),
                }
            }

            /// An acknowledgement with a reason code.
            pub fn with_reason(packet_id: u16, reason_code: $crate::reason::ReasonCode) -> Self {
                $name {
                    packet_id,
                    reason_code,
                    properties: $crate::property::Props::none(),
                }
            }

            pub(crate) fn decode(
                r: &mut $crate::wire::Reader<'_>,
                ctx: $crate::packet::Ctx,
            ) -> $crate::wire::Res<Self> {
                let (packet_id, reason_code, properties) =
                    $crate::packet::ack::decode(r, $ptype, ctx)?;
                Ok($name {
                    packet_id,
                    reason_code,
                    properties,
                })
            }
        }

        impl $crate::packet::Body for $name {
            fn body_len(&self, v: $crate::types::ProtocolVersion) -> usize {
                $crate::packet::ack::body_len(v, self.reason_code, &self.properties)
            }

            fn write_body(&self, v: $crate::types::ProtocolVersion, buf: &mut bytes::BytesMut) {
                $crate::packet::ack::write(
                    v,
                    self.packet_id,
                    self.reason_code,
                    &self.properties,
                    buf,
                )
            }

            fn validate(
                &self,
                v: $crate::types::ProtocolVersion,
            ) -> Result<(), $crate::error::DecodeErrorKind> {
                $crate::packet::ack::validate(
                    v,
                    $ptype,
                    self.packet_id,
                    self.reason_code,
                    &self.properties,
                )
            }
        }
    };
}

pub(crate) use ack_packet;
