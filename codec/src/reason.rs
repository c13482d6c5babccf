//! Reason codes (5.0, section 2.4) and the 3.1.1 return codes that share their byte.

use std::fmt;

use crate::types::{PacketType, ProtocolVersion, Side};

/// A one-byte reason code as it travels on the wire. Any byte can be held, so that forbidden
/// values can be built; the named constants are the ones the standards define.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ReasonCode(pub u8);

impl ReasonCode {
    /// 0x00 Success / Normal disconnection / Granted QoS 0.
    pub const SUCCESS: Self = Self(0x00);
    /// 0x00 Normal disconnection (DISCONNECT).
    pub const NORMAL_DISCONNECTION: Self = Self(0x00);
    /// 0x00 Granted QoS 0 (SUBACK).
    pub const GRANTED_QOS_0: Self = Self(0x00);
    /// 0x01 Granted QoS 1 (SUBACK).
    pub const GRANTED_QOS_1: Self = Self(0x01);
    /// 0x02 Granted QoS 2 (SUBACK).
    pub const GRANTED_QOS_2: Self = Self(0x02);
    /// 0x04 Disconnect with Will Message.
    pub const DISCONNECT_WITH_WILL_MESSAGE: Self = Self(0x04);
    /// 0x10 No matching subscribers.
    pub const NO_MATCHING_SUBSCRIBERS: Self = Self(0x10);
    /// 0x11 No subscription existed.
    pub const NO_SUBSCRIPTION_EXISTED: Self = Self(0x11);
    /// 0x18 Continue authentication.
    pub const CONTINUE_AUTHENTICATION: Self = Self(0x18);
    /// 0x19 Re-authenticate.
    pub const RE_AUTHENTICATE: Self = Self(0x19);
    /// 0x80 Unspecified error (also the 3.1.1 SUBACK failure code).
    pub const UNSPECIFIED_ERROR: Self = Self(0x80);
    /// 0x81 Malformed Packet.
    pub const MALFORMED_PACKET: Self = Self(0x81);
    /// 0x82 Protocol Error.
    pub const PROTOCOL_ERROR: Self = Self(0x82);
    /// 0x83 Implementation specific error.
    pub const IMPLEMENTATION_SPECIFIC_ERROR: Self = Self(0x83);
    /// 0x84 Unsupported Protocol Version.
    pub const UNSUPPORTED_PROTOCOL_VERSION: Self = Self(0x84);
    /// 0x85 Client Identifier not valid.
    pub const CLIENT_IDENTIFIER_NOT_VALID: Self = Self(0x85);
    /// 0x86 Bad User Name or Password.
    pub const BAD_USER_NAME_OR_PASSWORD: Self = Self(0x86);
    /// 0x87 Not authorized.
    pub const NOT_AUTHORIZED: Self = Self(0x87);
    /// 0x88 Server unavailable.
    pub const SERVER_UNAVAILABLE: Self = Self(0x88);
    /// 0x89 Server busy.
    pub const SERVER_BUSY: Self = Self(0x89);
    /// 0x8A Banned.
    pub const BANNED: Self = Self(0x8A);
    /// 0x8B Server shutting down.
    pub const SERVER_SHUTTING_DOWN: Self = Self(0x8B);
    /// 0x8C Bad authentication method.
    pub const BAD_AUTHENTICATION_METHOD: Self = Self(0x8C);
    /// 0x8D Keep Alive timeout.
    pub const KEEP_ALIVE_TIMEOUT: Self = Self(0x8D);
    /// 0x8E Session taken over.
    pub const SESSION_TAKEN_OVER: Self = Self(0x8E);
    /// 0x8F Topic Filter invalid.
    pub const TOPIC_FILTER_INVALID: Self = Self(0x8F);
    /// 0x90 Topic Name invalid.
    pub const TOPIC_NAME_INVALID: Self = Self(0x90);
    /// 0x91 Packet Identifier in use.
    pub const PACKET_IDENTIFIER_IN_USE: Self = Self(0x91);
    /// 0x92 Packet Identifier not found.
    pub const PACKET_IDENTIFIER_NOT_FOUND: Self = Self(0x92);
    /// 0x93 Receive Maximum exceeded.
    pub const RECEIVE_MAXIMUM_EXCEEDED: Self = Self(0x93);
    /// 0x94 Topic Alias invalid.
    pub const TOPIC_ALIAS_INVALID: Self = Self(0x94);
    /// 0x95 Packet too large.
    pub const PACKET_TOO_LARGE: Self = Self(0x95);
    /// 0x96 Message rate too high.
    pub const MESSAGE_RATE_TOO_HIGH: Self = Self(0x96);
    /// 0x97 Quota exceeded.
    pub const QUOTA_EXCEEDED: Self = Self(0x97);
    /// 0x98 Administrative action.
    pub const ADMINISTRATIVE_ACTION: Self = Self(0x98);
    /// 0x99 Payload format invalid.
    pub const PAYLOAD_FORMAT_INVALID: Self = Self(0x99);
    /// 0x9A Retain not supported.
    pub const RETAIN_NOT_SUPPORTED: Self = Self(0x9A);
    /// 0x9B QoS not supported.
    pub const QOS_NOT_SUPPORTED: Self = Self(0x9B);
    /// 0x9C Use another server.
    pub const USE_ANOTHER_SERVER: Self = Self(0x9C);
    /// 0x9D Server moved.
    pub const SERVER_MOVED: Self = Self(0x9D);
    /// 0x9E Shared Subscriptions not supported.
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: Self = Self(0x9E);
    /// 0x9F Connection rate exceeded.
    pub const CONNECTION_RATE_EXCEEDED: Self = Self(0x9F);
    /// 0xA0 Maximum connect time.
    pub const MAXIMUM_CONNECT_TIME: Self = Self(0xA0);
    /// 0xA1 Subscription Identifiers not supported.
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: Self = Self(0xA1);
    /// 0xA2 Wildcard Subscriptions not supported.
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: Self = Self(0xA2);

    /// 3.1.1 CONNACK return code 0x01: unacceptable protocol version.
    pub const V3_UNACCEPTABLE_PROTOCOL_VERSION: Self = Self(0x01);
    /// 3.1.1 CONNACK return code 0x02: identifier rejected.
    pub const V3_IDENTIFIER_REJECTED: Self = Self(0x02);
    /// 3.1.1 CONNACK return code 0x03: server unavailable.
    pub const V3_SERVER_UNAVAILABLE: Self = Self(0x03);
    /// 3.1.1 CONNACK return code 0x04: bad user name or password.
    pub const V3_BAD_USER_NAME_OR_PASSWORD: Self = Self(0x04);
    /// 3.1.1 CONNACK return code 0x05: not authorized.
    pub const V3_NOT_AUTHORIZED: Self = Self(0x05);
    /// 3.1.1 SUBACK return code 0x80: failure.
    pub const V3_SUBACK_FAILURE: Self = Self(0x80);

    /// The byte.
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// True for 0x80 and above (an error).
    pub const fn is_error(self) -> bool {
        self.0 >= 0x80
    }

    /// The 5.0 name of the code, without regard to the packet ("Success" for 0x00);
    /// `"unknown"` for bytes the standard does not define.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "Success",
            0x01 => "Granted QoS 1",
            0x02 => "Granted QoS 2",
            0x04 => "Disconnect with Will Message",
            0x10 => "No matching subscribers",
            0x11 => "No subscription existed",
            0x18 => "Continue authentication",
            0x19 => "Re-authenticate",
            0x80 => "Unspecified error",
            0x81 => "Malformed Packet",
            0x82 => "Protocol Error",
            0x83 => "Implementation specific error",
            0x84 => "Unsupported Protocol Version",
            0x85 => "Client Identifier not valid",
            0x86 => "Bad User Name or Password",
            0x87 => "Not authorized",
            0x88 => "Server unavailable",
            0x89 => "Server busy",
            0x8A => "Banned",
            0x8B => "Server shutting down",
            0x8C => "Bad authentication method",
            0x8D => "Keep Alive timeout",
            0x8E => "Session taken over",
            0x8F => "Topic Filter invalid",
            0x90 => "Topic Name invalid",
            0x91 => "Packet Identifier in use",
            0x92 => "Packet Identifier not found",
            0x93 => "Receive Maximum exceeded",
            0x94 => "Topic Alias invalid",
            0x95 => "Packet too large",
            0x96 => "Message rate too high",
            0x97 => "Quota exceeded",
            0x98 => "Administrative action",
            0x99 => "Payload format invalid",
            0x9A => "Retain not supported",
            0x9B => "QoS not supported",
            0x9C => "Use another server",
            0x9D => "Server moved",
            0x9E => "Shared Subscriptions not supported",
            0x9F => "Connection rate exceeded",
            0xA0 => "Maximum connect time",
            0xA1 => "Subscription Identifiers not supported",
            0xA2 => "Wildcard Subscriptions not supported",
            _ => "unknown",
        }
    }

    /// The name of the code as it reads on `packet` in `version` (e.g. 0x00 is "Normal
    /// disconnection" on DISCONNECT, "Granted QoS 0" on SUBACK; 3.1.1 CONNACK return codes).
    pub const fn name_for(self, packet: PacketType, version: ProtocolVersion) -> &'static str {
        if !version.is_v5() {
            return match (packet, self.0) {
                (PacketType::ConnAck, 0x00) => "Connection Accepted",
                (PacketType::ConnAck, 0x01) => "unacceptable protocol version",
                (PacketType::ConnAck, 0x02) => "identifier rejected",
                (PacketType::ConnAck, 0x03) => "server unavailable",
                (PacketType::ConnAck, 0x04) => "bad user name or password",
                (PacketType::ConnAck, 0x05) => "not authorized",
                (PacketType::SubAck, 0x00) => "Success - Maximum QoS 0",
                (PacketType::SubAck, 0x01) => "Success - Maximum QoS 1",
                (PacketType::SubAck, 0x02) => "Success - Maximum QoS 2",
                (PacketType::SubAck, 0x80) => "Failure",
                _ => "unknown",
            };
        }
        match (packet, self.0) {
            (PacketType::Disconnect, 0x00) => "Normal disconnection",
            (PacketType::SubAck, 0x00) => "Granted QoS 0",
            _ => self.name(),
        }
    }

    /// Is this code one of those `packet` may carry in 5.0 (section 2.4 and chapter 3)?
    /// For 3.1.1 only CONNACK (0-5) and SUBACK (0, 1, 2, 0x80) carry codes.
    pub const fn allowed_on(self, packet: PacketType, version: ProtocolVersion) -> bool {
        let c = self.0;
        if !version.is_v5() {
            return match packet {
                PacketType::ConnAck => c <= 5,
                PacketType::SubAck => matches!(c, 0 | 1 | 2 | 0x80),
                _ => c == 0,
            };
        }
        match packet {
            PacketType::ConnAck => matches!(
                c,
                0x00 | 0x80..=0x8A | 0x8C | 0x90 | 0x95 | 0x97 | 0x99..=0x9D | 0x9F
            ),
            PacketType::PubAck | PacketType::PubRec => {
                matches!(
                    c,
                    0x00 | 0x10 | 0x80 | 0x83 | 0x87 | 0x90 | 0x91 | 0x97 | 0x99
                )
            }
            PacketType::PubRel | PacketType::PubComp => matches!(c, 0x00 | 0x92),
            PacketType::SubAck => matches!(
                c,
                0x00 | 0x01 | 0x02 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91 | 0x97 | 0x9E | 0xA1 | 0xA2
            ),
            PacketType::UnsubAck => matches!(c, 0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91),
            PacketType::Disconnect => matches!(
                c,
                0x00 | 0x04 | 0x80..=0x83 | 0x87 | 0x89 | 0x8B..=0x90 | 0x93..=0xA2
            ),
            PacketType::Auth => matches!(c, 0x00 | 0x18 | 0x19),
            _ => false,
        }
    }

    /// May `side` send this code on `packet` (5.0)? Codes not allowed on the packet at all are
    /// reported by [`ReasonCode::allowed_on`]; this only narrows by sender: on DISCONNECT the
    /// server-only codes (3.14.2.1), on AUTH 0x00 from the server only and 0x19 from the client
    /// only (3.15.2.1).
    pub const fn allowed_from(self, packet: PacketType, side: Side) -> bool {
        match (packet, side) {
            (PacketType::Disconnect, Side::Client) => !matches!(
                self.0,
                0x87 | 0x89 | 0x8B | 0x8D | 0x8E | 0x8F | 0x9A..=0xA2
            ),
            (PacketType::Disconnect, Side::Server) => self.0 != 0x04,
            (PacketType::Auth, Side::Client) => self.0 != 0x00,
            (PacketType::Auth, Side::Server) => self.0 != 0x19,
            _ => true,
        }
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReasonCode(0x{:02X} {})", self.0, self.name())
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} {}", self.0, self.name())
    }
}

impl From<u8> for ReasonCode {
    fn from(v: u8) -> Self {
        ReasonCode(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_spec_examples() {
        let v5 = ProtocolVersion::V5;
        assert!(ReasonCode(0x92).allowed_on(PacketType::PubRel, v5));
        assert!(!ReasonCode(0x10).allowed_on(PacketType::PubRel, v5));
        assert!(ReasonCode(0x19).allowed_on(PacketType::Auth, v5));
        assert!(!ReasonCode(0x80).allowed_on(PacketType::Auth, v5));
        assert!(ReasonCode(0x8E).allowed_on(PacketType::Disconnect, v5));
        assert!(!ReasonCode(0x8E).allowed_from(PacketType::Disconnect, Side::Client));
        assert!(ReasonCode(0x8E).allowed_from(PacketType::Disconnect, Side::Server));
        assert!(!ReasonCode(0x04).allowed_from(PacketType::Disconnect, Side::Server));
        assert!(!ReasonCode(0x84).allowed_on(PacketType::Disconnect, v5));
        assert!(!ReasonCode(0x91).allowed_on(PacketType::Disconnect, v5));
        assert!(ReasonCode(0x05).allowed_on(PacketType::ConnAck, ProtocolVersion::V3_1_1));
        assert!(!ReasonCode(0x06).allowed_on(PacketType::ConnAck, ProtocolVersion::V3_1_1));
        assert!(!ReasonCode(0x03).allowed_on(PacketType::SubAck, ProtocolVersion::V3_1_1));
        assert_eq!(ReasonCode(0x8E).to_string(), "0x8E Session taken over");
    }
}
