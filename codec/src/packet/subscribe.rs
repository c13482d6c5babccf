//! SUBSCRIBE (section 3.8): topic filters with their subscription options.

use bytes::{BufMut, BytesMut};

use super::{check_str, read_packet_id, Body, Ctx};
use crate::error::DecodeErrorKind;
use crate::property::{self, PropertyContext, Props};
use crate::topic;
use crate::types::{PacketType, ProtocolVersion, QoS};
use crate::wire::{in_topic, put_binary, Reader, Res};
use crate::ByteStr;

/// Retain Handling (5.0 subscription option, bits 5-4). The value 3 is forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendIfNewSubscription = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// Subscription options (3.1.1: only the requested QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local (5.0).
    pub no_local: bool,
    /// Retain As Published (5.0).
    pub retain_as_published: bool,
    /// Retain Handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this QoS and the defaults otherwise.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Default::default()
        }
    }

    /// The options byte.
    pub fn to_byte(&self) -> u8 {
        self.qos.as_u8()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }
}

/// One topic filter and its options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Topic Filter (5.0: possibly `$share/{name}/{filter}`).
    pub filter: ByteStr,
    /// Options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription with this QoS and default options.
    pub fn new(filter: impl Into<ByteStr>, qos: QoS) -> Self {
        Subscription {
            filter: filter.into(),
            options: SubscriptionOptions::qos(qos),
        }
    }
}

/// SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    /// Packet identifier (never 0).
    pub packet_id: u16,
    /// At least one subscription.
    pub filters: Vec<Subscription>,
    /// Properties (5.0).
    pub properties: Props,
}

/// Checks a topic filter of SUBSCRIBE/UNSUBSCRIBE: wildcard placement, and in 5.0 the shared
/// subscription syntax.
pub(crate) fn check_filter(filter: &str, v5: bool) -> Result<bool, DecodeErrorKind> {
    if filter.is_empty() {
        return Err(DecodeErrorKind::EmptyTopicFilter); // [MQTT-4.7.3-1]
    }
    if v5 {
        match topic::parse_shared_subscription(filter) {
            Some(Ok(_)) => return Ok(true),
            // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
            Some(Err(())) => return Err(DecodeErrorKind::InvalidSharedSubscription),
            None => {}
        }
    }
    // 3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3]; 5.0 [MQTT-4.7.1-1] [MQTT-4.7.1-2]
    if topic::valid_topic_filter(filter) {
        Ok(false)
    } else {
        Err(DecodeErrorKind::InvalidTopicFilter)
    }
}

impl Subscribe {
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: Ctx) -> Res<Self> {
        let v5 = ctx.version.is_v5();
        let packet_id = read_packet_id(r, PacketType::Subscribe)?;
        let properties = if v5 {
            property::decode(r, PropertyContext::Packet(PacketType::Subscribe), ctx.from)?
        } else {
            Props::none()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let at = r.pos();
            let filter = r.topic_string()?; // 3.1.1 [MQTT-3.8.3-1]; 5.0 [MQTT-3.8.3-1]
            let shared = check_filter(&filter, v5).map_err(|k| (k, at))?;
            let opt_at = r.pos();
            let b = r.u8()?;
            let reserved = if v5 { 0b1100_0000 } else { 0b1111_1100 };
            if b & reserved != 0 {
                // 3.1.1 [MQTT-3.8.3-4]; 5.0 [MQTT-3.8.3-5]
                return Err((
                    DecodeErrorKind::SubscriptionOptionsReserved { options: b },
                    opt_at,
                ));
            }
            let Some(qos) = QoS::from_u8(b & 0b11) else {
                // 3.1.1 [MQTT-3.8.3-4]; 5.0 3.8.3.1 (Protocol Error)
                return Err((DecodeErrorKind::SubscriptionQos3, opt_at));
            };
            let retain_handling = match (b >> 4) & 0b11 {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNewSubscription,
                2 => RetainHandling::DoNotSend,
                _ => return Err((DecodeErrorKind::RetainHandling3, opt_at)),
            };
            let no_local = b & 0b100 != 0;
            if shared && no_local {
                return Err((DecodeErrorKind::NoLocalOnSharedSubscription, opt_at));
                // [MQTT-3.8.3-4]
            }
            filters.push(Subscription {
                filter,
                options: SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published: b & 0b1000 != 0,
                    retain_handling,
                },
            });
        }
        if filters.is_empty() {
            // 3.1.1 [MQTT-3.8.3-3]; 5.0 [MQTT-3.8.3-2]
            return Err((
                DecodeErrorKind::NoTopicFilters {
                    packet: PacketType::Subscribe,
                },
                r.pos(),
            ));
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Subscribe {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        let mut n = 2;
        if v.is_v5() {
            n += self.properties.encoded_len();
        }
        n + self
            .filters
            .iter()
            .map(|s| 3 + s.filter.len())
            .sum::<usize>()
    }

    fn write_body(&self, v: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.write(buf);
        }
        for s in &self.filters {
            put_binary(buf, s.filter.as_bytes());
            let b = s.options.to_byte();
            buf.put_u8(if v.is_v5() { b } else { b & 0b11 });
        }
    }

    fn validate(&self, v: ProtocolVersion) -> Result<(), DecodeErrorKind> {
        if self.packet_id == 0 {
            return Err(DecodeErrorKind::PacketIdZero {
                packet: PacketType::Subscribe,
            });
        }
        if self.filters.is_empty() {
            return Err(DecodeErrorKind::NoTopicFilters {
                packet: PacketType::Subscribe,
            });
        }
        for s in &self.filters {
            check_str(&s.filter).map_err(in_topic)?;
            let shared = check_filter(&s.filter, v.is_v5())?;
            if shared && s.options.no_local {
                return Err(DecodeErrorKind::NoLocalOnSharedSubscription);
            }
            if !v.is_v5() && s.options != SubscriptionOptions::qos(s.options.qos) {
                // 3.1.1 has only the QoS bits; the others are reserved.
                return Err(DecodeErrorKind::SubscriptionOptionsReserved {
                    options: s.options.to_byte(),
                });
            }
        }
        if v.is_v5() {
            self.properties
                .validate(PropertyContext::Packet(PacketType::Subscribe))
        } else if !self.properties.is_empty() {
            Err(DecodeErrorKind::PropertiesInV3)
        } else {
            Ok(())
        }
    }
}
