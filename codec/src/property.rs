//! 5.0 properties (section 2.2.2): identifiers, which packet may carry which, and the typed
//! [`Properties`] set that packets hold.

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeErrorKind;
use crate::topic;
use crate::types::{PacketType, QoS, Side};
use crate::wire::{has_nul, put_vbi, vbi_len, Reader, Res};
use crate::ByteStr;

/// A property identifier as it travels on the wire (a Variable Byte Integer; every defined
/// identifier fits one byte).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PropertyId(pub u8);

/// The data type of a property value (2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyType {
    /// One byte.
    Byte,
    /// Two Byte Integer.
    TwoByteInteger,
    /// Four Byte Integer.
    FourByteInteger,
    /// Variable Byte Integer.
    VariableByteInteger,
    /// UTF-8 Encoded String.
    Utf8String,
    /// Binary Data.
    BinaryData,
    /// UTF-8 String Pair.
    Utf8StringPair,
}

/// Where a property block sits: in a packet's variable header, or in CONNECT's will properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// The variable header of this packet type.
    Packet(PacketType),
    /// The Will Properties of CONNECT.
    Will,
}

impl PropertyContext {
    const fn bit(self) -> u16 {
        1 << self.index()
    }

    /// 0 for the will, the packet type's value otherwise.
    const fn index(self) -> usize {
        match self {
            PropertyContext::Packet(p) => p as usize,
            PropertyContext::Will => 0,
        }
    }
}

/// For each context index (see [`PropertyContext::index`]), the identifiers allowed there as
/// bits (bit `id`), derived from [`PropertyId::allowed_in`]'s table.
static ALLOWED_IDS: [u64; 16] = {
    let mut out = [0u64; 16];
    let mut c = 0;
    while c < 16 {
        let mut i = 0;
        while i < PropertyId::ALL.len() {
            let id = PropertyId::ALL[i];
            if id.mask() & (1 << c) != 0 {
                out[c] |= 1 << id.0;
            }
            i += 1;
        }
        c += 1;
    }
    out
};

const fn bit(p: PacketType) -> u16 {
    1 << (p as u16)
}
const WILL: u16 = 1;
const CONNECT: u16 = bit(PacketType::Connect);
const CONNACK: u16 = bit(PacketType::ConnAck);
const PUBLISH: u16 = bit(PacketType::Publish);
const PUBACK: u16 = bit(PacketType::PubAck);
const PUBREC: u16 = bit(PacketType::PubRec);
const PUBREL: u16 = bit(PacketType::PubRel);
const PUBCOMP: u16 = bit(PacketType::PubComp);
const SUBSCRIBE: u16 = bit(PacketType::Subscribe);
const SUBACK: u16 = bit(PacketType::SubAck);
const UNSUBSCRIBE: u16 = bit(PacketType::Unsubscribe);
const UNSUBACK: u16 = bit(PacketType::UnsubAck);
const DISCONNECT: u16 = bit(PacketType::Disconnect);
const AUTH: u16 = bit(PacketType::Auth);

impl PropertyId {
    /// 0x01 Payload Format Indicator.
    pub const PAYLOAD_FORMAT_INDICATOR: Self = Self(0x01);
    /// 0x02 Message Expiry Interval.
    pub const MESSAGE_EXPIRY_INTERVAL: Self = Self(0x02);
    /// 0x03 Content Type.
    pub const CONTENT_TYPE: Self = Self(0x03);
    /// 0x08 Response Topic.
    pub const RESPONSE_TOPIC: Self = Self(0x08);
    /// 0x09 Correlation Data.
    pub const CORRELATION_DATA: Self = Self(0x09);
    /// 0x0B Subscription Identifier.
    pub const SUBSCRIPTION_IDENTIFIER: Self = Self(0x0B);
    /// 0x11 Session Expiry Interval.
    pub const SESSION_EXPIRY_INTERVAL: Self = Self(0x11);
    /// 0x12 Assigned Client Identifier.
    pub const ASSIGNED_CLIENT_IDENTIFIER: Self = Self(0x12);
    /// 0x13 Server Keep Alive.
    pub const SERVER_KEEP_ALIVE: Self = Self(0x13);
    /// 0x15 Authentication Method.
    pub const AUTHENTICATION_METHOD: Self = Self(0x15);
    /// 0x16 Authentication Data.
    pub const AUTHENTICATION_DATA: Self = Self(0x16);
    /// 0x17 Request Problem Information.
    pub const REQUEST_PROBLEM_INFORMATION: Self = Self(0x17);
    /// 0x18 Will Delay Interval.
    pub const WILL_DELAY_INTERVAL: Self = Self(0x18);
    /// 0x19 Request Response Information.
    pub const REQUEST_RESPONSE_INFORMATION: Self = Self(0x19);
    /// 0x1A Response Information.
    pub const RESPONSE_INFORMATION: Self = Self(0x1A);
    /// 0x1C Server Reference.
    pub const SERVER_REFERENCE: Self = Self(0x1C);
    /// 0x1F Reason String.
    pub const REASON_STRING: Self = Self(0x1F);
    /// 0x21 Receive Maximum.
    pub const RECEIVE_MAXIMUM: Self = Self(0x21);
    /// 0x22 Topic Alias Maximum.
    pub const TOPIC_ALIAS_MAXIMUM: Self = Self(0x22);
    /// 0x23 Topic Alias.
    pub const TOPIC_ALIAS: Self = Self(0x23);
    /// 0x24 Maximum QoS.
    pub const MAXIMUM_QOS: Self = Self(0x24);
    /// 0x25 Retain Available.
    pub const RETAIN_AVAILABLE: Self = Self(0x25);
    /// 0x26 User Property.
    pub const USER_PROPERTY: Self = Self(0x26);
    /// 0x27 Maximum Packet Size.
    pub const MAXIMUM_PACKET_SIZE: Self = Self(0x27);
    /// 0x28 Wildcard Subscription Available.
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: Self = Self(0x28);
    /// 0x29 Subscription Identifier Available.
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: Self = Self(0x29);
    /// 0x2A Shared Subscription Available.
    pub const SHARED_SUBSCRIPTION_AVAILABLE: Self = Self(0x2A);

    /// Every identifier the standard defines, ascending.
    pub const ALL: [PropertyId; 27] = [
        Self(0x01),
        Self(0x02),
        Self(0x03),
        Self(0x08),
        Self(0x09),
        Self(0x0B),
        Self(0x11),
        Self(0x12),
        Self(0x13),
        Self(0x15),
        Self(0x16),
        Self(0x17),
        Self(0x18),
        Self(0x19),
        Self(0x1A),
        Self(0x1C),
        Self(0x1F),
        Self(0x21),
        Self(0x22),
        Self(0x23),
        Self(0x24),
        Self(0x25),
        Self(0x26),
        Self(0x27),
        Self(0x28),
        Self(0x29),
        Self(0x2A),
    ];

    /// The name in the standard, or `None` for an undefined identifier.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x01 => "Payload Format Indicator",
            0x02 => "Message Expiry Interval",
            0x03 => "Content Type",
            0x08 => "Response Topic",
            0x09 => "Correlation Data",
            0x0B => "Subscription Identifier",
            0x11 => "Session Expiry Interval",
            0x12 => "Assigned Client Identifier",
            0x13 => "Server Keep Alive",
            0x15 => "Authentication Method",
            0x16 => "Authentication Data",
            0x17 => "Request Problem Information",
            0x18 => "Will Delay Interval",
            0x19 => "Request Response Information",
            0x1A => "Response Information",
            0x1C => "Server Reference",
            0x1F => "Reason String",
            0x21 => "Receive Maximum",
            0x22 => "Topic Alias Maximum",
            0x23 => "Topic Alias",
            0x24 => "Maximum QoS",
            0x25 => "Retain Available",
            0x26 => "User Property",
            0x27 => "Maximum Packet Size",
            0x28 => "Wildcard Subscription Available",
            0x29 => "Subscription Identifier Available",
            0x2A => "Shared Subscription Available",
            _ => return None,
        })
    }

    /// The value's data type, or `None` for an undefined identifier.
    pub const fn value_type(self) -> Option<PropertyType> {
        use PropertyType as T;
        Some(match self.0 {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => T::Byte,
            0x02 | 0x11 | 0x18 | 0x27 => T::FourByteInteger,
            0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => T::Utf8String,
            0x09 | 0x16 => T::BinaryData,
            0x0B => T::VariableByteInteger,
            0x13 | 0x21 | 0x22 | 0x23 => T::TwoByteInteger,
            0x26 => T::Utf8StringPair,
            _ => return None,
        })
    }

    const fn mask(self) -> u16 {
        match self.0 {
            0x01 | 0x02 | 0x03 | 0x08 | 0x09 => PUBLISH | WILL,
            0x0B => PUBLISH | SUBSCRIBE,
            0x11 => CONNECT | CONNACK | DISCONNECT,
            0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => CONNACK,
            0x15 | 0x16 => CONNECT | CONNACK | AUTH,
            0x17 | 0x19 => CONNECT,
            0x18 => WILL,
            0x1C => CONNACK | DISCONNECT,
            0x1F => {
                CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH
            }
            0x21 | 0x22 | 0x27 => CONNECT | CONNACK,
            0x23 => PUBLISH,
            0x26 => {
                CONNECT
                    | CONNACK
                    | PUBLISH
                    | WILL
                    | PUBACK
                    | PUBREC
                    | PUBREL
                    | PUBCOMP
                    | SUBSCRIBE
                    | SUBACK
                    | UNSUBSCRIBE
                    | UNSUBACK
                    | DISCONNECT
                    | AUTH
            }
            _ => 0,
        }
    }

    /// May this property appear in `ctx` (Table 2-4)?
    pub const fn allowed_in(self, ctx: PropertyContext) -> bool {
        self.mask() & ctx.bit() != 0
    }

    /// May this property appear more than once in `ctx`? User Property always; Subscription
    /// Identifier only in PUBLISH.
    pub const fn repeatable_in(self, ctx: PropertyContext) -> bool {
        match self.0 {
            0x26 => true,
            0x0B => matches!(ctx, PropertyContext::Packet(PacketType::Publish)),
            _ => false,
        }
    }
}

impl fmt::Debug for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PropertyId(0x{:02X} {})",
            self.0,
            self.name().unwrap_or("unknown")
        )
    }
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} {}", self.0, self.name().unwrap_or("unknown"))
    }
}

/// The 5.0 properties of one packet (or of a will), typed. Absent properties are `None`;
/// User Properties keep their order; Subscription Identifiers (repeatable in PUBLISH) too.
///
/// The checked encoder refuses properties that the packet may not carry; to put a misplaced,
/// duplicated or out-of-range property on the wire use [`crate::raw`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// 0x01 Payload Format Indicator (0 unspecified bytes, 1 UTF-8).
    pub payload_format_indicator: Option<u8>,
    /// 0x02 Message Expiry Interval, seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03 Content Type.
    pub content_type: Option<ByteStr>,
    /// 0x08 Response Topic.
    pub response_topic: Option<ByteStr>,
    /// 0x09 Correlation Data.
    pub correlation_data: Option<Bytes>,
    /// 0x0B Subscription Identifier(s): several only in a PUBLISH from the server.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11 Session Expiry Interval, seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12 Assigned Client Identifier.
    pub assigned_client_identifier: Option<ByteStr>,
    /// 0x13 Server Keep Alive, seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method.
    pub authentication_method: Option<ByteStr>,
    /// 0x16 Authentication Data.
    pub authentication_data: Option<Bytes>,
    /// 0x17 Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// 0x18 Will Delay Interval, seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19 Request Response Information.
    pub request_response_information: Option<bool>,
    /// 0x1A Response Information.
    pub response_information: Option<ByteStr>,
    /// 0x1C Server Reference.
    pub server_reference: Option<ByteStr>,
    /// 0x1F Reason String.
    pub reason_string: Option<ByteStr>,
    /// 0x21 Receive Maximum (never 0).
    pub receive_maximum: Option<u16>,
    /// 0x22 Topic Alias Maximum.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (never 0).
    pub topic_alias: Option<u16>,
    /// 0x24 Maximum QoS (0 or 1 on the wire).
    pub maximum_qos: Option<QoS>,
    /// 0x25 Retain Available.
    pub retain_available: Option<bool>,
    /// 0x26 User Properties, in order.
    pub user_properties: Vec<(ByteStr, ByteStr)>,
    /// 0x27 Maximum Packet Size (never 0).
    pub maximum_packet_size: Option<u32>,
    /// 0x28 Wildcard Subscription Available.
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29 Subscription Identifier Available.
    pub subscription_identifier_available: Option<bool>,
    /// 0x2A Shared Subscription Available.
    pub shared_subscription_available: Option<bool>,
}

static EMPTY: Properties = Properties::EMPTY;

impl Properties {
    /// No property at all.
    pub const EMPTY: Properties = Properties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        subscription_identifiers: Vec::new(),
        session_expiry_interval: None,
        assigned_client_identifier: None,
        server_keep_alive: None,
        authentication_method: None,
        authentication_data: None,
        request_problem_information: None,
        will_delay_interval: None,
        request_response_information: None,
        response_information: None,
        server_reference: None,
        reason_string: None,
        receive_maximum: None,
        topic_alias_maximum: None,
        topic_alias: None,
        maximum_qos: None,
        retain_available: None,
        user_properties: Vec::new(),
        maximum_packet_size: None,
        wildcard_subscription_available: None,
        subscription_identifier_available: None,
        shared_subscription_available: None,
    };

    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        self == &EMPTY
    }

    /// The identifiers present, ascending (repeated ones once).
    pub fn ids(&self) -> Vec<PropertyId> {
        let mut out = Vec::new();
        self.for_each(|id, _| {
            if out.last() != Some(&id) {
                out.push(id);
            }
        });
        out
    }

    /// Visits every property in wire order (ascending identifier; User Properties in order).
    pub(crate) fn for_each(&self, mut f: impl FnMut(PropertyId, Value<'_>)) {
        use PropertyId as P;
        let b = |v: bool| u8::from(v);
        if let Some(v) = self.payload_format_indicator {
            f(P::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v));
        }
        if let Some(v) = self.message_expiry_interval {
            f(P::MESSAGE_EXPIRY_INTERVAL, Value::Four(v));
        }
        if let Some(v) = &self.content_type {
            f(P::CONTENT_TYPE, Value::Str(v));
        }
        if let Some(v) = &self.response_topic {
            f(P::RESPONSE_TOPIC, Value::Str(v));
        }
        if let Some(v) = &self.correlation_data {
            f(P::CORRELATION_DATA, Value::Bin(v));
        }
        for v in &self.subscription_identifiers {
            f(P::SUBSCRIPTION_IDENTIFIER, Value::Vbi(*v));
        }
        if let Some(v) = self.session_expiry_interval {
            f(P::SESSION_EXPIRY_INTERVAL, Value::Four(v));
        }
        if let Some(v) = &self.assigned_client_identifier {
            f(P::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(v));
        }
        if let Some(v) = self.server_keep_alive {
            f(P::SERVER_KEEP_ALIVE, Value::Two(v));
        }
        if let Some(v) = &self.authentication_method {
            f(P::AUTHENTICATION_METHOD, Value::Str(v));
        }
        if let Some(v) = &self.authentication_data {
            f(P::AUTHENTICATION_DATA, Value::Bin(v));
        }
        if let Some(v) = self.request_problem_information {
            f(P::REQUEST_PROBLEM_INFORMATION, Value::Byte(b(v)));
        }
        if let Some(v) = self.will_delay_interval {
            f(P::WILL_DELAY_INTERVAL, Value::Four(v));
        }
        if let Some(v) = self.request_response_information {
            f(P::REQUEST_RESPONSE_INFORMATION, Value::Byte(b(v)));
        }
        if let Some(v) = &self.response_information {
            f(P::RESPONSE_INFORMATION, Value::Str(v));
        }
        if let Some(v) = &self.server_reference {
            f(P::SERVER_REFERENCE, Value::Str(v));
        }
        if let Some(v) = &self.reason_string {
            f(P::REASON_STRING, Value::Str(v));
        }
        if let Some(v) = self.receive_maximum {
            f(P::RECEIVE_MAXIMUM, Value::Two(v));
        }
        if let Some(v) = self.topic_alias_maximum {
            f(P::TOPIC_ALIAS_MAXIMUM, Value::Two(v));
        }
        if let Some(v) = self.topic_alias {
            f(P::TOPIC_ALIAS, Value::Two(v));
        }
        if let Some(v) = self.maximum_qos {
            f(P::MAXIMUM_QOS, Value::Byte(v.as_u8()));
        }
        if let Some(v) = self.retain_available {
            f(P::RETAIN_AVAILABLE, Value::Byte(b(v)));
        }
        for (k, v) in &self.user_properties {
            f(P::USER_PROPERTY, Value::Pair(k, v));
        }
        if let Some(v) = self.maximum_packet_size {
            f(P::MAXIMUM_PACKET_SIZE, Value::Four(v));
        }
        if let Some(v) = self.wildcard_subscription_available {
            f(P::WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Byte(b(v)));
        }
        if let Some(v) = self.subscription_identifier_available {
            f(P::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Byte(b(v)));
        }
        if let Some(v) = self.shared_subscription_available {
            f(P::SHARED_SUBSCRIPTION_AVAILABLE, Value::Byte(b(v)));
        }
    }

    /// Length of the properties without the Property Length field (each: a one-byte
    /// identifier and the value). Written out field by field: the encoder calls it twice per
    /// packet, and the generic walk ([`Self::walk_len`], kept as the reference) costs more.
    pub(crate) fn body_len(&self) -> usize {
        let byte = |o: &Option<u8>| if o.is_some() { 2 } else { 0 };
        let flag = |o: &Option<bool>| if o.is_some() { 2 } else { 0 };
        let two = |o: &Option<u16>| if o.is_some() { 3 } else { 0 };
        let four = |o: &Option<u32>| if o.is_some() { 5 } else { 0 };
        let s = |o: &Option<ByteStr>| o.as_ref().map_or(0, |v| 3 + v.len());
        let bin = |o: &Option<Bytes>| o.as_ref().map_or(0, |v| 3 + v.len());
        let mut n = byte(&self.payload_format_indicator)
            + four(&self.message_expiry_interval)
            + s(&self.content_type)
            + s(&self.response_topic)
            + bin(&self.correlation_data)
            + four(&self.session_expiry_interval)
            + s(&self.assigned_client_identifier)
            + two(&self.server_keep_alive)
            + s(&self.authentication_method)
            + bin(&self.authentication_data)
            + flag(&self.request_problem_information)
            + four(&self.will_delay_interval)
            + flag(&self.request_response_information)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + two(&self.receive_maximum)
            + two(&self.topic_alias_maximum)
            + two(&self.topic_alias)
            + if self.maximum_qos.is_some() { 2 } else { 0 }
            + flag(&self.retain_available)
            + four(&self.maximum_packet_size)
            + flag(&self.wildcard_subscription_available)
            + flag(&self.subscription_identifier_available)
            + flag(&self.shared_subscription_available);
        for v in &self.subscription_identifiers {
            n += 1 + vbi_len(*v);
        }
        for (k, v) in &self.user_properties {
            n += 5 + k.len() + v.len();
        }
        n
    }

    /// [`Self::body_len`] by the generic walk.
    #[cfg(test)]
    pub(crate) fn walk_len(&self) -> usize {
        let mut n = 0;
        self.for_each(|_, v| n += 1 + v.len());
        n
    }

    /// Length with the Property Length field.
    pub(crate) fn encoded_len(&self) -> usize {
        let n = self.body_len();
        vbi_len(n as u32) + n
    }

    /// Writes the Property Length and the properties.
    pub(crate) fn write(&self, buf: &mut BytesMut) {
        self.write_with_len(self.body_len(), buf);
    }

    /// Writes the Property Length `len` (which must be [`Self::body_len`]) and the properties.
    pub(crate) fn write_with_len(&self, len: usize, buf: &mut BytesMut) {
        put_vbi(buf, len as u32);
        self.write_fields(buf);
    }

    /// Writes the properties (without the Property Length) in wire order, field by field:
    /// the same bytes as the generic walk ([`Self::write_walk`], kept as the reference) at a
    /// fraction of its cost.
    fn write_fields(&self, buf: &mut BytesMut) {
        use PropertyId as P;
        let byte = |buf: &mut BytesMut, id: PropertyId, v: Option<u8>| {
            if let Some(v) = v {
                buf.put_slice(&[id.0, v]);
            }
        };
        let two = |buf: &mut BytesMut, id: PropertyId, v: Option<u16>| {
            if let Some(v) = v {
                let [a, b] = v.to_be_bytes();
                buf.put_slice(&[id.0, a, b]);
            }
        };
        let four = |buf: &mut BytesMut, id: PropertyId, v: Option<u32>| {
            if let Some(v) = v {
                let [a, b, c, d] = v.to_be_bytes();
                buf.put_slice(&[id.0, a, b, c, d]);
            }
        };
        let bin = |buf: &mut BytesMut, id: PropertyId, v: Option<&[u8]>| {
            if let Some(v) = v {
                put_prefixed(buf, id, v);
            }
        };
        fn s(o: &Option<ByteStr>) -> Option<&[u8]> {
            o.as_deref().map(str::as_bytes)
        }
        let flag = |o: Option<bool>| o.map(u8::from);
        byte(
            buf,
            P::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format_indicator,
        );
        four(
            buf,
            P::MESSAGE_EXPIRY_INTERVAL,
            self.message_expiry_interval,
        );
        bin(buf, P::CONTENT_TYPE, s(&self.content_type));
        bin(buf, P::RESPONSE_TOPIC, s(&self.response_topic));
        bin(buf, P::CORRELATION_DATA, self.correlation_data.as_deref());
        for v in &self.subscription_identifiers {
            buf.put_u8(P::SUBSCRIPTION_IDENTIFIER.0);
            put_vbi(buf, *v);
        }
        four(
            buf,
            P::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        bin(
            buf,
            P::ASSIGNED_CLIENT_IDENTIFIER,
            s(&self.assigned_client_identifier),
        );
        two(buf, P::SERVER_KEEP_ALIVE, self.server_keep_alive);
        bin(
            buf,
            P::AUTHENTICATION_METHOD,
            s(&self.authentication_method),
        );
        bin(
            buf,
            P::AUTHENTICATION_DATA,
            self.authentication_data.as_deref(),
        );
        byte(
            buf,
            P::REQUEST_PROBLEM_INFORMATION,
            flag(self.request_problem_information),
        );
        four(buf, P::WILL_DELAY_INTERVAL, self.will_delay_interval);
        byte(
            buf,
            P::REQUEST_RESPONSE_INFORMATION,
            flag(self.request_response_information),
        );
        bin(buf, P::RESPONSE_INFORMATION, s(&self.response_information));
        bin(buf, P::SERVER_REFERENCE, s(&self.server_reference));
        bin(buf, P::REASON_STRING, s(&self.reason_string));
        two(buf, P::RECEIVE_MAXIMUM, self.receive_maximum);
        two(buf, P::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        two(buf, P::TOPIC_ALIAS, self.topic_alias);
        byte(buf, P::MAXIMUM_QOS, self.maximum_qos.map(QoS::as_u8));
        byte(buf, P::RETAIN_AVAILABLE, flag(self.retain_available));
        for (k, v) in &self.user_properties {
            bin(buf, P::USER_PROPERTY, Some(k.as_bytes()));
            let [a, b] = (v.len() as u16).to_be_bytes();
            buf.put_slice(&[a, b]);
            buf.put_slice(v.as_bytes());
        }
        four(buf, P::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        byte(
            buf,
            P::WILDCARD_SUBSCRIPTION_AVAILABLE,
            flag(self.wildcard_subscription_available),
        );
        byte(
            buf,
            P::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            flag(self.subscription_identifier_available),
        );
        byte(
            buf,
            P::SHARED_SUBSCRIPTION_AVAILABLE,
            flag(self.shared_subscription_available),
        );
    }

    /// [`Self::write_fields`] for a set that passed validation for CONNECT: only the nine
    /// properties a CONNECT may carry can be present then, and only they are looked at.
    pub(crate) fn write_connect_fields(&self, buf: &mut BytesMut) {
        use PropertyId as P;
        let flag = |o: Option<bool>| o.map(u8::from);
        if let Some(v) = self.session_expiry_interval {
            let [a, b, c, d] = v.to_be_bytes();
            buf.put_slice(&[P::SESSION_EXPIRY_INTERVAL.0, a, b, c, d]);
        }
        if let Some(v) = &self.authentication_method {
            put_prefixed(buf, P::AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            put_prefixed(buf, P::AUTHENTICATION_DATA, v);
        }
        if let Some(v) = flag(self.request_problem_information) {
            buf.put_slice(&[P::REQUEST_PROBLEM_INFORMATION.0, v]);
        }
        if let Some(v) = flag(self.request_response_information) {
            buf.put_slice(&[P::REQUEST_RESPONSE_INFORMATION.0, v]);
        }
        if let Some(v) = self.receive_maximum {
            let [a, b] = v.to_be_bytes();
            buf.put_slice(&[P::RECEIVE_MAXIMUM.0, a, b]);
        }
        if let Some(v) = self.topic_alias_maximum {
            let [a, b] = v.to_be_bytes();
            buf.put_slice(&[P::TOPIC_ALIAS_MAXIMUM.0, a, b]);
        }
        for (k, v) in &self.user_properties {
            put_prefixed(buf, P::USER_PROPERTY, k.as_bytes());
            crate::wire::put_binary(buf, v.as_bytes());
        }
        if let Some(v) = self.maximum_packet_size {
            let [a, b, c, d] = v.to_be_bytes();
            buf.put_slice(&[P::MAXIMUM_PACKET_SIZE.0, a, b, c, d]);
        }
    }

    /// [`Self::write_fields`] by the generic walk.
    #[cfg(test)]
    pub(crate) fn write_walk(&self, buf: &mut BytesMut) {
        self.for_each(|id, v| {
            buf.put_u8(id.0);
            v.write(buf);
        });
    }

    /// Validates for `ctx` ([`Self::validate`]) and returns [`Self::body_len`]: when the set is
    /// clearly valid, both in one pass over the fields.
    pub(crate) fn checked_body_len(&self, ctx: PropertyContext) -> Result<usize, DecodeErrorKind> {
        match self.quick_len(ctx) {
            Some(n) => Ok(n),
            None => {
                self.validate_walk(ctx)?;
                Ok(self.body_len())
            }
        }
    }

    /// [`Self::body_len`] when [`Self::clearly_valid`] holds, computed in the same single pass;
    /// `None` otherwise.
    fn quick_len(&self, ctx: PropertyContext) -> Option<usize> {
        let mut q = Quick {
            allowed: ALLOWED_IDS.get(ctx.index()).copied().unwrap_or(0),
            ok: true,
            n: 0,
        };
        use PropertyId as P;
        q.fixed(
            P::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format_indicator.map(|b| b <= 1),
            2,
        );
        q.fixed(
            P::MESSAGE_EXPIRY_INTERVAL,
            self.message_expiry_interval.map(|_| true),
            5,
        );
        q.string(P::CONTENT_TYPE, &self.content_type);
        if let Some(t) = &self.response_topic {
            q.ok &= topic::valid_topic_name(t);
        }
        q.string(P::RESPONSE_TOPIC, &self.response_topic);
        q.binary(P::CORRELATION_DATA, &self.correlation_data);
        if !self.subscription_identifiers.is_empty() {
            q.fixed(P::SUBSCRIPTION_IDENTIFIER, Some(true), 0);
            q.ok &= self.subscription_identifiers.len() == 1
                || P::SUBSCRIPTION_IDENTIFIER.repeatable_in(ctx);
            for &v in &self.subscription_identifiers {
                q.ok &= v != 0 && v <= crate::types::MAX_REMAINING_LENGTH;
                q.n += 1 + vbi_len(v);
            }
        }
        q.fixed(
            P::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval.map(|_| true),
            5,
        );
        q.string(
            P::ASSIGNED_CLIENT_IDENTIFIER,
            &self.assigned_client_identifier,
        );
        q.fixed(
            P::SERVER_KEEP_ALIVE,
            self.server_keep_alive.map(|_| true),
            3,
        );
        q.string(P::AUTHENTICATION_METHOD, &self.authentication_method);
        q.binary(P::AUTHENTICATION_DATA, &self.authentication_data);
        q.ok &= !(self.authentication_data.is_some() && self.authentication_method.is_none());
        q.fixed(
            P::REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information.map(|_| true),
            2,
        );
        q.fixed(
            P::WILL_DELAY_INTERVAL,
            self.will_delay_interval.map(|_| true),
            5,
        );
        q.fixed(
            P::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information.map(|_| true),
            2,
        );
        q.string(P::RESPONSE_INFORMATION, &self.response_information);
        q.string(P::SERVER_REFERENCE, &self.server_reference);
        q.string(P::REASON_STRING, &self.reason_string);
        q.fixed(P::RECEIVE_MAXIMUM, self.receive_maximum.map(|v| v != 0), 3);
        q.fixed(
            P::TOPIC_ALIAS_MAXIMUM,
            self.topic_alias_maximum.map(|_| true),
            3,
        );
        q.fixed(P::TOPIC_ALIAS, self.topic_alias.map(|v| v != 0), 3);
        q.fixed(
            P::MAXIMUM_QOS,
            self.maximum_qos.map(|v| v != QoS::ExactlyOnce),
            2,
        );
        q.fixed(P::RETAIN_AVAILABLE, self.retain_available.map(|_| true), 2);
        if !self.user_properties.is_empty() {
            q.fixed(P::USER_PROPERTY, Some(true), 0);
            for (k, v) in &self.user_properties {
                q.ok &= str_ok(k) && str_ok(v);
                q.n += 5 + k.len() + v.len();
            }
        }
        q.fixed(
            P::MAXIMUM_PACKET_SIZE,
            self.maximum_packet_size.map(|v| v != 0),
            5,
        );
        q.fixed(
            P::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available.map(|_| true),
            2,
        );
        q.fixed(
            P::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available.map(|_| true),
            2,
        );
        q.fixed(
            P::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available.map(|_| true),
            2,
        );
        q.ok.then_some(q.n)
    }

    /// True when [`Self::validate`] passes for sure, decided field by field without the
    /// generic walk; false means "walk and find the exact error" (it may still pass).
    fn clearly_valid(&self, ctx: PropertyContext) -> bool {
        self.quick_len(ctx).is_some()
    }

    /// Checks the rules a sender must follow in `ctx`: placement, repetition, values.
    pub(crate) fn validate(&self, ctx: PropertyContext) -> Result<(), DecodeErrorKind> {
        if self.clearly_valid(ctx) {
            return Ok(());
        }
        self.validate_walk(ctx)
    }

    /// [`Self::validate`] by the generic walk, which names the first error in wire order.
    pub(crate) fn validate_walk(&self, ctx: PropertyContext) -> Result<(), DecodeErrorKind> {
        let mut err = None;
        let mut last: Option<PropertyId> = None;
        self.for_each(|id, v| {
            if err.is_some() {
                return;
            }
            if !id.allowed_in(ctx) {
                err = Some(match ctx {
                    PropertyContext::Packet(packet) => {
                        DecodeErrorKind::PropertyNotAllowed { id, packet }
                    }
                    PropertyContext::Will => DecodeErrorKind::PropertyNotAllowedInWill { id },
                });
            } else if last == Some(id) && !id.repeatable_in(ctx) {
                err = Some(DecodeErrorKind::DuplicateProperty { id });
            } else if let Err(e) = check_value(id, &v) {
                err = Some(e);
            } else if let Err(e) = v.check_lengths() {
                err = Some(e);
            }
            last = Some(id);
        });
        if let Some(e) = err {
            return Err(e);
        }
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(DecodeErrorKind::AuthDataWithoutMethod);
        }
        Ok(())
    }
}

/// The state of [`Properties::quick_len`]: identifiers allowed in the context, "clearly
/// valid so far", and the length so far.
struct Quick {
    allowed: u64,
    ok: bool,
    n: usize,
}

impl Quick {
    /// A property that is present when `valid` is `Some` (its value rule's verdict), taking
    /// `size` bytes.
    #[inline(always)]
    fn fixed(&mut self, id: PropertyId, valid: Option<bool>, size: usize) {
        if let Some(valid) = valid {
            self.ok &= valid && self.allowed & (1u64 << id.0) != 0;
            self.n += size;
        }
    }

    #[inline(always)]
    fn string(&mut self, id: PropertyId, v: &Option<ByteStr>) {
        if let Some(v) = v {
            self.fixed(id, Some(str_ok(v)), 3 + v.len());
        }
    }

    #[inline(always)]
    fn binary(&mut self, id: PropertyId, v: &Option<Bytes>) {
        if let Some(v) = v {
            self.fixed(id, Some(v.len() <= usize::from(u16::MAX)), 3 + v.len());
        }
    }
}

/// Writes an identifier, a two-byte length and the bytes.
#[inline]
fn put_prefixed(buf: &mut BytesMut, id: PropertyId, v: &[u8]) {
    let [a, b] = (v.len() as u16).to_be_bytes();
    buf.put_slice(&[id.0, a, b]);
    buf.put_slice(v);
}

/// A string a sender may write: fits its length prefix, no U+0000.
#[inline]
fn str_ok(s: &ByteStr) -> bool {
    s.len() <= usize::from(u16::MAX) && !has_nul(s.as_bytes())
}

/// A borrowed property value (internal to encoding).
pub(crate) enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Vbi(u32),
    Str(&'a ByteStr),
    Bin(&'a Bytes),
    Pair(&'a ByteStr, &'a ByteStr),
}

impl Value<'_> {
    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Value::Byte(_) => 1,
            Value::Two(_) => 2,
            Value::Four(_) => 4,
            Value::Vbi(v) => vbi_len(*v),
            Value::Str(s) => 2 + s.len(),
            Value::Bin(b) => 2 + b.len(),
            Value::Pair(k, v) => 4 + k.len() + v.len(),
        }
    }

    #[cfg(test)]
    fn write(&self, buf: &mut BytesMut) {
        match self {
            Value::Byte(v) => buf.put_u8(*v),
            Value::Two(v) => buf.put_u16(*v),
            Value::Four(v) => buf.put_u32(*v),
            Value::Vbi(v) => put_vbi(buf, *v),
            Value::Str(s) => crate::wire::put_binary(buf, s.as_bytes()),
            Value::Bin(b) => crate::wire::put_binary(buf, b),
            Value::Pair(k, v) => {
                crate::wire::put_binary(buf, k.as_bytes());
                crate::wire::put_binary(buf, v.as_bytes());
            }
        }
    }

    fn check_lengths(&self) -> Result<(), DecodeErrorKind> {
        let str_ok = |s: &ByteStr| {
            if s.len() > usize::from(u16::MAX) {
                Err(DecodeErrorKind::StringTooLong)
            } else if s.as_bytes().contains(&0) {
                Err(DecodeErrorKind::NullCharacter)
            } else {
                Ok(())
            }
        };
        match self {
            Value::Str(s) => str_ok(s),
            Value::Pair(k, v) => str_ok(k).and_then(|_| str_ok(v)),
            Value::Bin(b) if b.len() > usize::from(u16::MAX) => Err(DecodeErrorKind::BinaryTooLong),
            Value::Vbi(v) if *v > crate::types::MAX_REMAINING_LENGTH => {
                Err(DecodeErrorKind::InvalidPropertyValue {
                    id: PropertyId::SUBSCRIPTION_IDENTIFIER,
                    value: *v,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Value rules of chapter 3 for one property.
fn check_value(id: PropertyId, v: &Value<'_>) -> Result<(), DecodeErrorKind> {
    let invalid = |value: u32| Err(DecodeErrorKind::InvalidPropertyValue { id, value });
    match (id.0, v) {
        // Byte properties that are flags: only 0 or 1 (3.3.2.3.2, 3.1.2.11.7/8, 3.2.2.3.4/5/11-13).
        (0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A, Value::Byte(b)) if *b > 1 => {
            invalid(u32::from(*b))
        }
        // Subscription Identifier 0 (3.3.2.3.8, 3.8.2.1.2).
        (0x0B, Value::Vbi(0)) => invalid(0),
        // Receive Maximum 0 (3.1.2.11.3, 3.2.2.3.3).
        (0x21, Value::Two(0)) => invalid(0),
        // Maximum Packet Size 0 (3.1.2.11.4, 3.2.2.3.6).
        (0x27, Value::Four(0)) => invalid(0),
        // [MQTT-3.3.2-8]
        (0x23, Value::Two(0)) => Err(DecodeErrorKind::TopicAliasZero),
        (0x08, Value::Str(s)) => check_response_topic(s),
        _ => Ok(()),
    }
}

/// The Response Topic is a Topic Name: not empty [MQTT-4.7.3-1], no U+0000 [MQTT-4.7.3-2],
/// no wildcard [MQTT-3.3.2-14]. Its length is checked with the other strings.
fn check_response_topic(s: &str) -> Result<(), DecodeErrorKind> {
    let b = s.as_bytes();
    if b.is_empty() {
        Err(DecodeErrorKind::EmptyResponseTopic)
    } else if b.contains(&0) {
        Err(DecodeErrorKind::NullCharacterInTopic)
    } else if b.iter().any(|&c| matches!(c, b'+' | b'#')) {
        Err(DecodeErrorKind::ResponseTopicWildcard)
    } else {
        Ok(())
    }
}

/// The properties of a packet, boxed only when some are present: an empty set costs one
/// pointer and no allocation. Reads and writes go through `Deref`/`DerefMut` to
/// [`Properties`] (`packet.properties.topic_alias`); writing allocates on demand.
#[derive(Clone, Default)]
pub struct Props(Option<Box<Properties>>);

impl Props {
    /// No properties.
    pub const fn none() -> Self {
        Props(None)
    }

    /// Wraps a set (no allocation when it is empty).
    pub fn new(p: Properties) -> Self {
        if p.is_empty() {
            Props(None)
        } else {
            Props(Some(Box::new(p)))
        }
    }

    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            None => true,
            Some(p) => p.is_empty(),
        }
    }

    /// The set when one is allocated (it may still be empty).
    #[inline]
    pub(crate) fn get(&self) -> Option<&Properties> {
        self.0.as_deref()
    }

    /// Length with the Property Length field (1 when no set is allocated).
    #[inline]
    pub(crate) fn encoded_len(&self) -> usize {
        match &self.0 {
            None => 1,
            Some(p) => p.encoded_len(),
        }
    }

    /// Writes the Property Length and the properties (a single 0 when no set is allocated).
    #[inline]
    pub(crate) fn write(&self, buf: &mut BytesMut) {
        match &self.0 {
            None => buf.put_u8(0),
            Some(p) => p.write(buf),
        }
    }

    /// Validates for `ctx` and returns the length of the properties without the Property
    /// Length field (0 when no set is allocated): see [`Properties::checked_body_len`].
    #[inline]
    pub(crate) fn checked_body_len(&self, ctx: PropertyContext) -> Result<usize, DecodeErrorKind> {
        match &self.0 {
            None => Ok(0),
            Some(p) => p.checked_body_len(ctx),
        }
    }

    /// Writes the Property Length `len` (from [`Self::checked_body_len`]) and the properties.
    #[inline]
    pub(crate) fn write_with_len(&self, len: usize, buf: &mut BytesMut) {
        match &self.0 {
            None => buf.put_u8(0),
            Some(p) => p.write_with_len(len, buf),
        }
    }

    /// The set, by value.
    pub fn into_inner(self) -> Properties {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl Deref for Props {
    type Target = Properties;

    fn deref(&self) -> &Properties {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for Props {
    fn deref_mut(&mut self) -> &mut Properties {
        self.0.get_or_insert_with(Default::default)
    }
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Props {}

impl fmt::Debug for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("Props(none)")
        } else {
            fmt::Debug::fmt(&**self, f)
        }
    }
}

impl From<Properties> for Props {
    fn from(p: Properties) -> Self {
        Props::new(p)
    }
}

/// Reads a Property Length and the properties it covers, enforcing placement (Table 2-4),
/// repetition and values. `from` enables the sender-specific rules.
pub(crate) fn decode(r: &mut Reader<'_>, ctx: PropertyContext, from: Option<Side>) -> Res<Props> {
    let len_pos = r.pos();
    let len = r.vbi()? as usize;
    if len == 0 {
        return Ok(Props(None));
    }
    let mut pr = r
        .sub(len)
        .map_err(|_| (DecodeErrorKind::PropertyLengthMismatch, len_pos))?;
    let mut p = Properties::default();
    let mut seen: u64 = 0;
    while !pr.is_empty() {
        let id_pos = pr.pos();
        let raw_id = pr.vbi().map_err(|e| mismatch(e, id_pos))?;
        let id = match u8::try_from(raw_id) {
            Ok(b) if PropertyId(b).value_type().is_some() => PropertyId(b),
            _ => return Err((DecodeErrorKind::UnknownProperty { id: raw_id }, id_pos)),
        };
        // 2.2.2.2: an identifier not valid for the packet type is a Malformed Packet.
        if !id.allowed_in(ctx) {
            let kind = match ctx {
                PropertyContext::Packet(packet) => {
                    DecodeErrorKind::PropertyNotAllowed { id, packet }
                }
                PropertyContext::Will => DecodeErrorKind::PropertyNotAllowedInWill { id },
            };
            return Err((kind, id_pos));
        }
        let flag = 1u64 << id.0;
        if seen & flag != 0 && !id.repeatable_in(ctx) {
            return Err((DecodeErrorKind::DuplicateProperty { id }, id_pos));
        }
        seen |= flag;
        let val_pos = pr.pos();
        read_value(&mut pr, id, &mut p).map_err(|e| mismatch(e, val_pos))?;
    }
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err((DecodeErrorKind::AuthDataWithoutMethod, len_pos));
    }
    // [MQTT-3.3.4-6]: a client never sends a Subscription Identifier in PUBLISH.
    if ctx == PropertyContext::Packet(PacketType::Publish)
        && from == Some(Side::Client)
        && !p.subscription_identifiers.is_empty()
    {
        return Err((DecodeErrorKind::SubscriptionIdentifierFromClient, len_pos));
    }
    // [MQTT-3.14.2-2]: the server never sends a Session Expiry Interval in DISCONNECT.
    if ctx == PropertyContext::Packet(PacketType::Disconnect)
        && from == Some(Side::Server)
        && p.session_expiry_interval.is_some()
    {
        return Err((DecodeErrorKind::SessionExpiryFromServer, len_pos));
    }
    Ok(Props(Some(Box::new(p))))
}

/// A value running past the Property Length is a length mismatch, not a short packet.
fn mismatch(e: (DecodeErrorKind, usize), at: usize) -> (DecodeErrorKind, usize) {
    match e.0 {
        DecodeErrorKind::Truncated { .. } => (DecodeErrorKind::PropertyLengthMismatch, at),
        _ => e,
    }
}

fn read_value(r: &mut Reader<'_>, id: PropertyId, p: &mut Properties) -> Res<()> {
    let at = r.pos();
    let flag = |r: &mut Reader<'_>| -> Res<bool> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err((
                DecodeErrorKind::InvalidPropertyValue {
                    id,
                    value: u32::from(v),
                },
                at,
            )),
        }
    };
    let nonzero16 = |v: u16| -> Res<u16> {
        if v == 0 {
            Err((DecodeErrorKind::InvalidPropertyValue { id, value: 0 }, at))
        } else {
            Ok(v)
        }
    };
    match id.0 {
        0x01 => p.payload_format_indicator = Some(u8::from(flag(r)?)),
        0x02 => p.message_expiry_interval = Some(r.u32()?),
        0x03 => p.content_type = Some(r.string()?),
        0x08 => {
            // A U+0000 is reported where it is; empty or wildcard at the property.
            let s = r.topic_string()?;
            check_response_topic(&s).map_err(|k| (k, at))?;
            p.response_topic = Some(s);
        }
        0x09 => p.correlation_data = Some(r.binary()?),
        0x0B => {
            let v = r.vbi()?;
            if v == 0 {
                return Err((DecodeErrorKind::InvalidPropertyValue { id, value: 0 }, at));
            }
            p.subscription_identifiers.push(v);
        }
        0x11 => p.session_expiry_interval = Some(r.u32()?),
        0x12 => p.assigned_client_identifier = Some(r.string()?),
        0x13 => p.server_keep_alive = Some(r.u16()?),
        0x15 => p.authentication_method = Some(r.string()?),
        0x16 => p.authentication_data = Some(r.binary()?),
        0x17 => p.request_problem_information = Some(flag(r)?),
        0x18 => p.will_delay_interval = Some(r.u32()?),
        0x19 => p.request_response_information = Some(flag(r)?),
        0x1A => p.response_information = Some(r.string()?),
        0x1C => p.server_reference = Some(r.string()?),
        0x1F => p.reason_string = Some(r.string()?),
        0x21 => p.receive_maximum = Some(nonzero16(r.u16()?)?),
        0x22 => p.topic_alias_maximum = Some(r.u16()?),
        0x23 => {
            let v = r.u16()?;
            if v == 0 {
                return Err((DecodeErrorKind::TopicAliasZero, at)); // [MQTT-3.3.2-8]
            }
            p.topic_alias = Some(v);
        }
        0x24 => {
            p.maximum_qos = Some(if flag(r)? {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            })
        }
        0x25 => p.retain_available = Some(flag(r)?),
        0x26 => {
            // [MQTT-1.5.7-1]
            let k = r.string()?;
            let v = r.string()?;
            p.user_properties.push((k, v));
        }
        0x27 => {
            let v = r.u32()?;
            if v == 0 {
                return Err((DecodeErrorKind::InvalidPropertyValue { id, value: 0 }, at));
            }
            p.maximum_packet_size = Some(v);
        }
        0x28 => p.wildcard_subscription_available = Some(flag(r)?),
        0x29 => p.subscription_identifier_available = Some(flag(r)?),
        0x2A => p.shared_subscription_available = Some(flag(r)?),
        _ => {
            return Err((
                DecodeErrorKind::UnknownProperty {
                    id: u32::from(id.0),
                },
                at,
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_table_examples() {
        let publish = PropertyContext::Packet(PacketType::Publish);
        assert!(PropertyId::TOPIC_ALIAS.allowed_in(publish));
        assert!(!PropertyId::TOPIC_ALIAS.allowed_in(PropertyContext::Will));
        assert!(PropertyId::WILL_DELAY_INTERVAL.allowed_in(PropertyContext::Will));
        assert!(!PropertyId::WILL_DELAY_INTERVAL.allowed_in(publish));
        assert!(!PropertyId::USER_PROPERTY.allowed_in(PropertyContext::Packet(PacketType::PingReq)));
        assert!(PropertyId::SUBSCRIPTION_IDENTIFIER.repeatable_in(publish));
        assert!(!PropertyId::SUBSCRIPTION_IDENTIFIER
            .repeatable_in(PropertyContext::Packet(PacketType::Subscribe)));
        for id in PropertyId::ALL {
            assert!(
                id.name().is_some() && id.value_type().is_some() && id.mask() != 0,
                "{id:?}"
            );
        }
    }

    /// Property sets around every value rule: one field at a time at a good and a bad value,
    /// and a few mixes.
    fn edge_sets() -> Vec<Properties> {
        let e = Properties::default;
        let s = |v: &str| Some(ByteStr::from(v));
        let long = ByteStr::from("x".repeat(70_000));
        let mut out = vec![e()];
        for f in [
            |p: &mut Properties, bad: bool| {
                p.payload_format_indicator = Some(if bad { 2 } else { 1 })
            },
            |p: &mut Properties, _| p.message_expiry_interval = Some(9),
            |p: &mut Properties, bad| {
                p.content_type = if bad {
                    Some("a\0".into())
                } else {
                    Some("t".into())
                }
            },
            |p: &mut Properties, bad| {
                p.response_topic = if bad {
                    Some("a/+".into())
                } else {
                    Some("a/b".into())
                }
            },
            |p: &mut Properties, bad| p.response_topic = Some(if bad { "" } else { "/" }.into()),
            |p: &mut Properties, bad| {
                p.response_topic = Some(if bad { "a\0" } else { "a b" }.into())
            },
            |p: &mut Properties, bad| {
                p.correlation_data = Some(Bytes::from(vec![1; if bad { 70_000 } else { 3 }]))
            },
            |p: &mut Properties, bad| {
                p.subscription_identifiers = if bad { vec![0] } else { vec![5] }
            },
            |p: &mut Properties, bad| {
                p.subscription_identifiers = if bad { vec![1, 2] } else { vec![268_435_455] }
            },
            |p: &mut Properties, bad| {
                p.subscription_identifiers = if bad { vec![268_435_456] } else { vec![1] }
            },
            |p: &mut Properties, _| p.session_expiry_interval = Some(1),
            |p: &mut Properties, _| p.assigned_client_identifier = Some("id".into()),
            |p: &mut Properties, _| p.server_keep_alive = Some(5),
            |p: &mut Properties, _| p.authentication_method = Some("m".into()),
            |p: &mut Properties, _| p.authentication_data = Some(Bytes::from_static(b"d")),
            |p: &mut Properties, bad| p.request_problem_information = Some(bad),
            |p: &mut Properties, _| p.will_delay_interval = Some(3),
            |p: &mut Properties, bad| p.request_response_information = Some(bad),
            |p: &mut Properties, _| p.response_information = Some("r".into()),
            |p: &mut Properties, _| p.server_reference = Some("s".into()),
            |p: &mut Properties, bad| {
                p.reason_string = if bad {
                    Some("\0".into())
                } else {
                    Some("ok".into())
                }
            },
            |p: &mut Properties, bad| p.receive_maximum = Some(if bad { 0 } else { 1 }),
            |p: &mut Properties, _| p.topic_alias_maximum = Some(0),
            |p: &mut Properties, bad| p.topic_alias = Some(if bad { 0 } else { 1 }),
            |p: &mut Properties, bad| {
                p.maximum_qos = Some(if bad {
                    QoS::ExactlyOnce
                } else {
                    QoS::AtLeastOnce
                })
            },
            |p: &mut Properties, bad| p.retain_available = Some(bad),
            |p: &mut Properties, bad| {
                p.user_properties.push(if bad {
                    ("k".into(), "\0".into())
                } else {
                    ("k".into(), "v".into())
                })
            },
            |p: &mut Properties, bad| p.maximum_packet_size = Some(if bad { 0 } else { 9 }),
            |p: &mut Properties, bad| p.wildcard_subscription_available = Some(bad),
            |p: &mut Properties, bad| p.subscription_identifier_available = Some(bad),
            |p: &mut Properties, bad| p.shared_subscription_available = Some(bad),
        ] {
            for bad in [false, true] {
                let mut p = e();
                f(&mut p, bad);
                out.push(p.clone());
                // Mixed with a string too long and with a couple of others.
                let mut q = p.clone();
                q.reason_string = Some(long.clone());
                out.push(q);
                let mut q = p;
                q.user_properties.push(("a".into(), "b".into()));
                q.content_type = s("c");
                q.authentication_method = s("m");
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn quick_checks_agree_with_the_walk() {
        let mut contexts = vec![PropertyContext::Will];
        for t in 1..=15u8 {
            contexts.extend(PacketType::from_u8(t).map(PropertyContext::Packet));
        }
        let (mut clear, mut refused, mut connect_sets) = (0, 0, 0);
        for p in edge_sets() {
            assert_eq!(p.body_len(), p.walk_len(), "{p:?}");
            // The field-by-field writer writes what the walk writes.
            let (mut fields, mut walk_bytes) = (BytesMut::new(), BytesMut::new());
            p.write_fields(&mut fields);
            p.write_walk(&mut walk_bytes);
            assert_eq!(fields, walk_bytes, "{p:?}");
            // (An out-of-range Subscription Identifier is cut to 28 bits by both writers; the
            // checked encoders refuse it before writing.)
            if p.subscription_identifiers
                .iter()
                .all(|&v| v <= crate::types::MAX_REMAINING_LENGTH)
            {
                assert_eq!(fields.len(), p.body_len(), "{p:?}");
            }
            for &ctx in &contexts {
                let walk = p.validate_walk(ctx);
                if p.clearly_valid(ctx) {
                    clear += 1;
                    assert_eq!(walk, Ok(()), "{ctx:?} {p:?}");
                    assert_eq!(p.quick_len(ctx), Some(p.body_len()), "{ctx:?} {p:?}");
                }
                if walk.is_ok() && ctx == PropertyContext::Packet(PacketType::Connect) {
                    let mut connect = BytesMut::new();
                    p.write_connect_fields(&mut connect);
                    assert_eq!(connect, fields, "{p:?}");
                    connect_sets += 1;
                }
                if walk.is_err() {
                    refused += 1;
                }
                assert_eq!(p.validate(ctx), walk);
                // Validation and sizing in one call: the same verdict, the same length.
                assert_eq!(
                    p.checked_body_len(ctx),
                    walk.map(|()| p.body_len()),
                    "{ctx:?} {p:?}"
                );
            }
        }
        assert!(clear > 100 && refused > 100, "{clear} {refused}");
        assert!(connect_sets > 10, "{connect_sets}");
    }

    #[test]
    fn props_deref_allocates_on_write_only() {
        let mut p = Props::none();
        assert!(p.is_empty());
        assert_eq!(p.topic_alias, None);
        assert!(p.0.is_none());
        p.topic_alias = Some(3);
        assert!(p.0.is_some());
        assert_eq!(p.topic_alias, Some(3));
        assert_ne!(p, Props::none());
    }
}
