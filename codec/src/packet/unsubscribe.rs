//! UNSUBSCRIBE (section 3.10): topic filters to remove.

use bytes::{BufMut, BytesMut};

use super::subscribe::check_filter;
use super::{check_str, read_packet_id, Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::{in_topic, put_binary, Reader, Res};
use crate::ByteStr;

/// UNSUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    /// Packet identifier (never 0).
    pub packet_id: u16,
    /// At least one topic filter.
    pub filters: Vec<ByteStr>,
    /// Properties (5.0).
    pub properties: Props,
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        let v5 = ctx.version.is_v5();
        let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
        let properties = if v5 {
            property::decode(
                r,
                PropertyContext::Packet(PacketType::Unsubscribe),
                ctx.from,
            )?
        } else {
            Props::none()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let at = r.pos();
            let filter = r.topic_string()?; // 3.1.1 [MQTT-3.10.3-1]; 5.0 [MQTT-3.10.3-1]
            check_filter(&filter, v5).map_err(|k| (k, at))?;
            filters.push(filter);
        }
        if filters.is_empty() {
            // 3.1.1 [MQTT-3.10.3-2]; 5.0 [MQTT-3.10.3-2]
            return Err((
                DecodeErrorKind::NoTopicFilters {
                    packet: PacketType::Unsubscribe,
                },
                r.pos(),
            ));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Unsubscribe {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        let mut n = 2;
        if v.is_v5() {
            n += self.properties.encoded_len();
        }
        n + self.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.write(buf);
        }
        for f in &self.filters {
            put_binary(buf, f.as_bytes());
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if self.packet_id == 0 {
            return Err(DecodeErrorKind::PacketIdZero {
                packet: PacketType::Unsubscribe,
            });
        }
        if self.filters.is_empty() {
            return Err(DecodeErrorKind::NoTopicFilters {
                packet: PacketType::Unsubscribe,
            });
        }
        for f in &self.filters {
            check_str(f).map_err(in_topic)?;
            check_filter(f, v.is_v5())?;
        }
        if v.is_v5() {
            self.properties
                .validate(PropertyContext::Packet(PacketType::Unsubscribe))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else {
            Ok(())
        }
    }
}
