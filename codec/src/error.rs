//! Decode and encode errors: what is wrong, where, which statement it breaks, and what the
//! receiver answers.

use std::fmt;

use crate::property::PropertyId;
use crate::reason::ReasonCode;
use crate::statement::{ids, s3, s5, StatementId};
use crate::types::{PacketType, ProtocolVersion, Side};

/// The precise reason a packet is refused. Shared by decoding (a malformed input) and encoding
/// (a value the standard forbids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    // ---- fixed header ----
    /// Packet type 0, or 15 (AUTH) in 3.1.1.
    #[error("packet type {packet_type} is reserved")]
    ReservedPacketType {
        /// The high nibble of the first byte.
        packet_type: u8,
    },
    /// Fixed-header flags other than the ones the type requires.
    #[error("reserved flags {flags:#06b} on {packet} must be {expected:#06b}")]
    InvalidFixedHeaderFlags {
        /// The packet type.
        packet: PacketType,
        /// The flags received.
        flags: u8,
        /// The flags required.
        expected: u8,
    },
    /// Both QoS bits set in PUBLISH.
    #[error("QoS 3 in the PUBLISH fixed header")]
    PublishQos3,
    /// DUP set on a QoS 0 PUBLISH.
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// The Remaining Length uses a fifth byte.
    #[error("remaining length longer than 4 bytes")]
    RemainingLengthTooLong,
    /// A Variable Byte Integer inside the packet uses a fifth byte.
    #[error("variable byte integer longer than 4 bytes")]
    VarIntTooLong,
    /// A Variable Byte Integer (Remaining Length included) not in its shortest form (5.0).
    #[error("variable byte integer not encoded in the minimum number of bytes")]
    NonMinimalVarInt,
    /// The whole packet is larger than the receiver accepts.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Size claimed by the fixed header (fixed header included).
        size: u32,
        /// The limit.
        max: u32,
    },
    /// A packet that only the other side may send.
    #[error("{packet} cannot be sent by the {side}")]
    WrongSender {
        /// The packet type.
        packet: PacketType,
        /// Who sent it.
        side: Side,
    },

    /// The first packet of a connection is not CONNECT.
    #[error("first packet is not CONNECT (packet type {packet_type})")]
    NotConnect {
        /// The high nibble of the first byte.
        packet_type: u8,
    },

    // ---- structure ----
    /// The body ends before a field is complete (Remaining Length too short).
    #[error("packet body ends {needed} byte(s) before the end of a field")]
    Truncated {
        /// Bytes missing.
        needed: u32,
    },
    /// Bytes left over after the last field.
    #[error("{count} unexpected byte(s) after the end of the packet")]
    TrailingBytes {
        /// How many.
        count: u32,
    },
    /// Ill-formed UTF-8 (overlong forms, surrogates, truncated sequences...).
    #[error("ill-formed UTF-8 in a string")]
    InvalidUtf8,
    /// U+0000 in a UTF-8 string that is not a topic (client identifier, user name, a string
    /// property other than the Response Topic...).
    #[error("U+0000 (null character) in a UTF-8 string")]
    NullCharacter,
    /// U+0000 in a Topic Name or Topic Filter (PUBLISH topic, Will Topic, Response Topic,
    /// SUBSCRIBE / UNSUBSCRIBE filters): the string rule and the topic rule both apply.
    #[error("U+0000 (null character) in a topic name or topic filter")]
    NullCharacterInTopic,
    /// A string does not fit its two-byte length prefix (encoding only).
    #[error("string longer than 65535 bytes")]
    StringTooLong,
    /// Binary data does not fit its two-byte length prefix (encoding only).
    #[error("binary data longer than 65535 bytes")]
    BinaryTooLong,
    /// The body exceeds what a Remaining Length can express (encoding only).
    #[error("packet body longer than 268435455 bytes")]
    RemainingLengthTooLarge,

    // ---- CONNECT / CONNACK ----
    /// Protocol name not "MQTT" (or "MQIsdp" with level 3).
    #[error("protocol name is not \"MQTT\" (or \"MQIsdp\" for level 3)")]
    InvalidProtocolName,
    /// A protocol level the codec does not know.
    #[error("unsupported protocol level {level}")]
    UnsupportedProtocolLevel {
        /// The level byte.
        level: u8,
    },
    /// CONNECT flags bit 0 set.
    #[error("reserved bit 0 of the CONNECT flags is set")]
    ConnectReservedFlag,
    /// Will QoS 3.
    #[error("will QoS 3")]
    WillQos3,
    /// Will QoS non-zero without the Will Flag.
    #[error("will QoS set without the Will Flag")]
    WillQosWithoutWill,
    /// Will Retain without the Will Flag.
    #[error("will retain set without the Will Flag")]
    WillRetainWithoutWill,
    /// User Name Flag set, but the payload ends where the User Name should start.
    #[error("user name flag set but the user name is missing")]
    MissingUserName,
    /// Password Flag set, but the payload ends where the Password should start.
    #[error("password flag set but the password is missing")]
    MissingPassword,
    /// Will Flag set, but the payload ends where a will field (5.0: Will Properties) or the
    /// Will Topic or the Will Payload should start.
    #[error("will flag set but a will field is missing")]
    MissingWill,
    /// Password Flag without User Name Flag (3.1.1 only).
    #[error("password flag set without the user name flag")]
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags bits 7-1 not zero.
    #[error("reserved bits of the CONNACK flags are set ({flags:#010b})")]
    ConnAckReservedFlags {
        /// The flags byte.
        flags: u8,
    },
    /// Session Present 1 with an error code.
    #[error("session present set on a CONNACK that refuses the connection")]
    SessionPresentWithError,

    // ---- identifiers and topics ----
    /// Packet identifier 0 where one is required.
    #[error("packet identifier 0 on {packet}")]
    PacketIdZero {
        /// The packet type.
        packet: PacketType,
    },
    /// A packet identifier on a QoS 0 PUBLISH (encoding only).
    #[error("packet identifier on a QoS 0 PUBLISH")]
    PacketIdOnQos0,
    /// Zero-length topic name (5.0: without a Topic Alias).
    #[error("empty topic name")]
    EmptyTopicName,
    /// `+` or `#` in a topic name.
    #[error("wildcard character in a topic name")]
    TopicNameWildcard,
    /// A topic filter breaking the wildcard placement rules.
    #[error("invalid topic filter")]
    InvalidTopicFilter,
    /// A zero-length topic filter in SUBSCRIBE or UNSUBSCRIBE.
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// `$share/` filter without a valid share name or filter (5.0).
    #[error("invalid shared subscription topic filter")]
    InvalidSharedSubscription,
    /// No Local set on a shared subscription (5.0).
    #[error("No Local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("{packet} without any topic filter")]
    NoTopicFilters {
        /// The packet type.
        packet: PacketType,
    },
    /// SUBACK or UNSUBACK (5.0) without any reason code.
    #[error("{packet} without any reason code")]
    NoReasonCodes {
        /// The packet type.
        packet: PacketType,
    },
    /// Subscription options with reserved bits set.
    #[error("reserved bits set in subscription options {options:#010b}")]
    SubscriptionOptionsReserved {
        /// The options byte.
        options: u8,
    },
    /// Requested QoS 3 in SUBSCRIBE.
    #[error("requested QoS 3 in SUBSCRIBE")]
    SubscriptionQos3,
    /// Retain Handling 3 (5.0).
    #[error("retain handling 3 in SUBSCRIBE")]
    RetainHandling3,

    // ---- reason codes ----
    /// A reason (or return) code not defined for this packet.
    #[error("reason code {code} is not allowed on {packet}")]
    ReasonCodeNotAllowed {
        /// The packet type.
        packet: PacketType,
        /// The code.
        code: ReasonCode,
    },
    /// A reason code only the other side may send.
    #[error("reason code {code} on {packet} cannot be sent by the {side}")]
    ReasonCodeWrongSender {
        /// The packet type.
        packet: PacketType,
        /// The code.
        code: ReasonCode,
        /// Who sent it.
        side: Side,
    },

    // ---- properties (5.0) ----
    /// A property identifier the standard does not define.
    #[error("unknown property identifier {id:#04x}")]
    UnknownProperty {
        /// The identifier (a Variable Byte Integer).
        id: u32,
    },
    /// A property the packet may not carry.
    #[error("property {id} is not allowed on {packet}")]
    PropertyNotAllowed {
        /// The property.
        id: PropertyId,
        /// The packet type.
        packet: PacketType,
    },
    /// A property the Will Properties may not carry.
    #[error("property {id} is not allowed in the will properties")]
    PropertyNotAllowedInWill {
        /// The property.
        id: PropertyId,
    },
    /// A property included twice where the standard allows one.
    #[error("property {id} included more than once")]
    DuplicateProperty {
        /// The property.
        id: PropertyId,
    },
    /// A property value the standard forbids (0 where it must not be, a Byte other than 0/1).
    #[error("invalid value {value} for property {id}")]
    InvalidPropertyValue {
        /// The property.
        id: PropertyId,
        /// The value received.
        value: u32,
    },
    /// The property length disagrees with the properties it covers.
    #[error("property length does not match the properties")]
    PropertyLengthMismatch,
    /// Topic Alias 0.
    #[error("topic alias 0")]
    TopicAliasZero,
    /// Subscription Identifier in a PUBLISH sent by a client.
    #[error("subscription identifier in a PUBLISH sent by a client")]
    SubscriptionIdentifierFromClient,
    /// Session Expiry Interval in a DISCONNECT sent by the server.
    #[error("session expiry interval in a DISCONNECT sent by the server")]
    SessionExpiryFromServer,
    /// Authentication Data without Authentication Method.
    #[error("authentication data without an authentication method")]
    AuthDataWithoutMethod,
    /// AUTH without Authentication Method.
    #[error("AUTH without an authentication method")]
    AuthMethodMissing,
    /// Wildcard in a Response Topic.
    #[error("wildcard character in the response topic")]
    ResponseTopicWildcard,
    /// A zero-length Response Topic (it is a Topic Name).
    #[error("empty response topic")]
    EmptyResponseTopic,
    /// Properties on a 3.1.1 packet (encoding only).
    #[error("properties cannot be encoded in MQTT 3.1.1")]
    PropertiesInV3,
    /// A packet or field that does not exist in this version (encoding only).
    #[error("{packet} does not exist in MQTT 3.1.1")]
    NotInVersion {
        /// The packet type.
        packet: PacketType,
    },
}

/// What the receiver of a bad packet does, per the standard of the version decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorResponse {
    /// 3.1.1: close the network connection without answering.
    Close,
    /// 3.1.1: answer CONNACK with this return code, then close.
    ConnAckReturnCode(u8),
    /// 5.0: answer CONNACK (for a CONNECT) or DISCONNECT with this reason code, then close.
    ReasonCode(ReasonCode),
}

/// A malformed or forbidden packet: what is wrong, where, in which version, and who sent it.
///
/// Small and `Copy`: the statement ids and the answer are derived from the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the packet (0 = the fixed header's first byte) where it was found.
    pub offset: u32,
    /// The version the packet was decoded as (a CONNECT's own version when known).
    pub version: ProtocolVersion,
    /// The packet type, once known.
    pub packet_type: Option<PacketType>,
    /// The sender, when the caller said.
    pub from: Option<Side>,
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    pub(crate) fn new(
        kind: DecodeErrorKind,
        offset: usize,
        version: ProtocolVersion,
        packet_type: Option<PacketType>,
        from: Option<Side>,
    ) -> Self {
        DecodeError {
            kind,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            version,
            packet_type,
            from,
        }
    }

    /// The 5.0 reason code that classifies this error (0x81 Malformed Packet, 0x82 Protocol
    /// Error, or a more specific one). Meaningful for 3.1.1 too, as a classification.
    pub fn reason_code(&self) -> ReasonCode {
        reason_code(self.kind, self.version)
    }

    /// What the receiver answers, per the version decoded.
    pub fn response(&self) -> ErrorResponse {
        if self.version.is_v5() {
            ErrorResponse::ReasonCode(self.reason_code())
        } else if let DecodeErrorKind::UnsupportedProtocolLevel { .. } = self.kind {
            // [MQTT-3.1.2-2] (3.1.1): CONNACK 0x01 unacceptable protocol level, then close.
            ErrorResponse::ConnAckReturnCode(0x01)
        } else {
            ErrorResponse::Close
        }
    }

    /// The statements the packet breaks, in the catalogue of the version decoded. Empty when
    /// the rule has no statement id (many 5.0 "It is a Protocol Error" sentences have none).
    pub fn statements(&self) -> &'static [StatementId] {
        statements(self.kind, self.version, self.packet_type, self.from)
    }

    /// The statements for the same fault in the other catalogue too: (3.1.1 ids, 5.0 ids).
    pub fn statements_by_version(&self) -> (&'static [StatementId], &'static [StatementId]) {
        (
            statements(
                self.kind,
                ProtocolVersion::V3_1_1,
                self.packet_type,
                self.from,
            ),
            statements(self.kind, ProtocolVersion::V5, self.packet_type, self.from),
        )
    }

    /// Is this a Malformed Packet (as opposed to a Protocol Error or a limit)?
    pub fn is_malformed(&self) -> bool {
        self.reason_code() == ReasonCode::MALFORMED_PACKET
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.reason_code() {
            ReasonCode::MALFORMED_PACKET => "malformed packet",
            ReasonCode::PROTOCOL_ERROR => "protocol error",
            ReasonCode::PACKET_TOO_LARGE => "packet too large",
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION => "unsupported protocol",
            _ => "invalid packet",
        };
        write!(f, "{class} at byte {}: {}", self.offset, self.kind)?;
        for s in self.statements() {
            write!(f, " [{s}]")?;
        }
        match self.response() {
            ErrorResponse::Close => write!(f, "; close the connection (MQTT {})", self.version),
            ErrorResponse::ConnAckReturnCode(c) => write!(
                f,
                "; answer CONNACK 0x{c:02X} (unacceptable protocol version) and close"
            ),
            ErrorResponse::ReasonCode(rc) => write!(f, "; answer with {rc}"),
        }
    }
}

/// A packet the checked encoder refuses to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("cannot encode {packet} for MQTT {version}: {kind}{}", StatementList(statements(*kind, *version, Some(*packet), None)))]
pub struct EncodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// The packet type.
    pub packet: PacketType,
    /// The version asked for.
    pub version: ProtocolVersion,
}

impl EncodeError {
    /// The statements the packet would break (catalogue of `version`).
    pub fn statements(&self) -> &'static [StatementId] {
        statements(self.kind, self.version, Some(self.packet), None)
    }
}

struct StatementList(&'static [StatementId]);

impl fmt::Display for StatementList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in self.0 {
            write!(f, " [{s}]")?;
        }
        Ok(())
    }
}

fn reason_code(kind: DecodeErrorKind, version: ProtocolVersion) -> ReasonCode {
    use DecodeErrorKind as K;
    match kind {
        // 3.1.1 calls a requested QoS 3 malformed [MQTT-3.8.3-4]; 5.0 (3.8.3.1) a Protocol
        // Error.
        K::SubscriptionQos3 if !version.is_v5() => ReasonCode::MALFORMED_PACKET,
        K::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
        K::UnsupportedProtocolLevel { .. } | K::InvalidProtocolName => {
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION
        }
        K::TopicAliasZero => ReasonCode::TOPIC_ALIAS_INVALID,
        // "Cannot be parsed": the byte layout itself is wrong.
        K::ReservedPacketType { .. }
        | K::InvalidFixedHeaderFlags { .. }
        | K::PublishQos3
        | K::DupWithQos0
        | K::RemainingLengthTooLong
        | K::VarIntTooLong
        | K::NonMinimalVarInt
        | K::Truncated { .. }
        | K::TrailingBytes { .. }
        | K::InvalidUtf8
        | K::NullCharacter
        | K::NullCharacterInTopic
        | K::StringTooLong
        | K::BinaryTooLong
        | K::RemainingLengthTooLarge
        | K::ConnectReservedFlag
        | K::WillQos3
        | K::WillQosWithoutWill
        | K::WillRetainWithoutWill
        | K::MissingUserName
        | K::MissingPassword
        | K::MissingWill
        | K::ConnAckReservedFlags { .. }
        | K::SubscriptionOptionsReserved { .. }
        | K::UnknownProperty { .. }
        | K::PropertyNotAllowed { .. }
        | K::PropertyNotAllowedInWill { .. }
        | K::PropertyLengthMismatch
        | K::PropertiesInV3
        | K::NotInVersion { .. } => ReasonCode::MALFORMED_PACKET,
        // Parsed, but the content is not allowed.
        K::WrongSender { .. }
        | K::NotConnect { .. }
        | K::PasswordWithoutUsername
        | K::SessionPresentWithError
        | K::PacketIdZero { .. }
        | K::PacketIdOnQos0
        | K::EmptyTopicName
        | K::TopicNameWildcard
        | K::InvalidTopicFilter
        | K::EmptyTopicFilter
        | K::InvalidSharedSubscription
        | K::NoLocalOnSharedSubscription
        | K::NoTopicFilters { .. }
        | K::NoReasonCodes { .. }
        | K::SubscriptionQos3
        | K::RetainHandling3
        | K::ReasonCodeNotAllowed { .. }
        | K::ReasonCodeWrongSender { .. }
        | K::DuplicateProperty { .. }
        | K::InvalidPropertyValue { .. }
        | K::SubscriptionIdentifierFromClient
        | K::SessionExpiryFromServer
        | K::AuthDataWithoutMethod
        | K::AuthMethodMissing
        | K::ResponseTopicWildcard
        | K::EmptyResponseTopic => ReasonCode::PROTOCOL_ERROR,
    }
}

/// The statement ids for a fault, in the catalogue of `version`.
pub(crate) fn statements(
    kind: DecodeErrorKind,
    version: ProtocolVersion,
    packet: Option<PacketType>,
    from: Option<Side>,
) -> &'static [StatementId] {
    use DecodeErrorKind as K;
    if version.is_v5() {
        match kind {
            K::InvalidFixedHeaderFlags { packet, .. } => match packet {
                PacketType::PubRel => ids![s5!("MQTT-2.1.3-1"), s5!("MQTT-3.6.1-1")],
                PacketType::Subscribe => ids![s5!("MQTT-2.1.3-1"), s5!("MQTT-3.8.1-1")],
                PacketType::Unsubscribe => ids![s5!("MQTT-2.1.3-1"), s5!("MQTT-3.10.1-1")],
                PacketType::Disconnect => ids![s5!("MQTT-2.1.3-1"), s5!("MQTT-3.14.1-1")],
                PacketType::Auth => ids![s5!("MQTT-2.1.3-1"), s5!("MQTT-3.15.1-1")],
                _ => ids![s5!("MQTT-2.1.3-1")],
            },
            K::PublishQos3 => ids![s5!("MQTT-3.3.1-4")],
            K::DupWithQos0 => ids![s5!("MQTT-3.3.1-2")],
            K::RemainingLengthTooLong | K::VarIntTooLong | K::NonMinimalVarInt => {
                ids![s5!("MQTT-1.5.5-1")]
            }
            K::PacketTooLarge { .. } => match from {
                Some(Side::Client) => ids![s5!("MQTT-3.2.2-15")],
                Some(Side::Server) => ids![s5!("MQTT-3.1.2-24")],
                None => &[],
            },
            K::NotConnect { .. } => ids![s5!("MQTT-3.1.0-1")],
            K::InvalidUtf8 => ids![s5!("MQTT-1.5.4-1")],
            // The topic rule only for the strings that are topics, whatever the packet.
            K::NullCharacter => ids![s5!("MQTT-1.5.4-2")],
            K::NullCharacterInTopic => ids![s5!("MQTT-1.5.4-2"), s5!("MQTT-4.7.3-2")],
            K::StringTooLong => ids![s5!("MQTT-4.7.3-3")],
            K::InvalidProtocolName => ids![s5!("MQTT-3.1.2-1")],
            K::UnsupportedProtocolLevel { .. } => ids![s5!("MQTT-3.1.2-2")],
            K::ConnectReservedFlag => ids![s5!("MQTT-3.1.2-3")],
            K::WillQos3 => ids![s5!("MQTT-3.1.2-12")],
            K::WillQosWithoutWill => ids![s5!("MQTT-3.1.2-11")],
            K::WillRetainWithoutWill => ids![s5!("MQTT-3.1.2-13")],
            K::MissingUserName => ids![s5!("MQTT-3.1.2-17")],
            K::MissingPassword => ids![s5!("MQTT-3.1.2-19")],
            K::MissingWill => ids![s5!("MQTT-3.1.2-9")],
            K::ConnAckReservedFlags { .. } => ids![s5!("MQTT-3.2.2-1")],
            K::SessionPresentWithError => ids![s5!("MQTT-3.2.2-6")],
            K::PacketIdZero {
                packet: PacketType::Publish,
            } => match from {
                Some(Side::Server) => ids![s5!("MQTT-2.2.1-4")],
                _ => ids![s5!("MQTT-2.2.1-3")],
            },
            K::PacketIdZero {
                packet: PacketType::Subscribe | PacketType::Unsubscribe,
            } => ids![s5!("MQTT-2.2.1-3")],
            K::PacketIdOnQos0 => ids![s5!("MQTT-2.2.1-2")],
            K::EmptyTopicName | K::EmptyTopicFilter | K::EmptyResponseTopic => {
                ids![s5!("MQTT-4.7.3-1")]
            }
            // [MQTT-3.3.2-2] is about the PUBLISH topic; the Will Topic has the topic rule only.
            K::TopicNameWildcard if packet == Some(PacketType::Connect) => {
                ids![s5!("MQTT-4.7.0-1")]
            }
            K::TopicNameWildcard => ids![s5!("MQTT-3.3.2-2"), s5!("MQTT-4.7.0-1")],
            K::InvalidTopicFilter => ids![s5!("MQTT-4.7.1-1"), s5!("MQTT-4.7.1-2")],
            K::InvalidSharedSubscription => ids![s5!("MQTT-4.8.2-1"), s5!("MQTT-4.8.2-2")],
            K::NoLocalOnSharedSubscription => ids![s5!("MQTT-3.8.3-4")],
            K::NoTopicFilters {
                packet: PacketType::Subscribe,
            } => ids![s5!("MQTT-3.8.3-2")],
            K::NoTopicFilters { .. } => ids![s5!("MQTT-3.10.3-2")],
            K::NoReasonCodes {
                packet: PacketType::SubAck,
            } => ids![s5!("MQTT-3.8.4-6")],
            K::NoReasonCodes { .. } => ids![s5!("MQTT-3.11.3-2")],
            K::SubscriptionOptionsReserved { .. } => ids![s5!("MQTT-3.8.3-5")],
            K::ReasonCodeNotAllowed { packet, .. } | K::ReasonCodeWrongSender { packet, .. } => {
                match packet {
                    PacketType::ConnAck => ids![s5!("MQTT-3.2.2-8")],
                    PacketType::PubAck => ids![s5!("MQTT-3.4.2-1")],
                    PacketType::PubRec => ids![s5!("MQTT-3.5.2-1")],
                    PacketType::PubRel => ids![s5!("MQTT-3.6.2-1")],
                    PacketType::PubComp => ids![s5!("MQTT-3.7.2-1")],
                    PacketType::SubAck => ids![s5!("MQTT-3.9.3-2")],
                    PacketType::UnsubAck => ids![s5!("MQTT-3.11.3-2")],
                    PacketType::Disconnect => ids![s5!("MQTT-3.14.2-1")],
                    PacketType::Auth => ids![s5!("MQTT-3.15.2-1")],
                    _ => &[],
                }
            }
            K::TopicAliasZero => ids![s5!("MQTT-3.3.2-8")],
            K::SubscriptionIdentifierFromClient => ids![s5!("MQTT-3.3.4-6")],
            K::SessionExpiryFromServer => ids![s5!("MQTT-3.14.2-2")],
            K::ResponseTopicWildcard => ids![s5!("MQTT-3.3.2-14")],
            // Rules stated in the text without an id (e.g. duplicate properties, Receive
            // Maximum 0, Retain Handling 3, Subscription Identifier 0, unknown properties).
            _ => &[],
        }
    } else {
        match kind {
            K::InvalidFixedHeaderFlags { packet, .. } => match packet {
                PacketType::PubRel => ids![
                    s3!("MQTT-2.2.2-1"),
                    s3!("MQTT-2.2.2-2"),
                    s3!("MQTT-3.6.1-1")
                ],
                PacketType::Subscribe => ids![
                    s3!("MQTT-2.2.2-1"),
                    s3!("MQTT-2.2.2-2"),
                    s3!("MQTT-3.8.1-1")
                ],
                PacketType::Unsubscribe => {
                    ids![
                        s3!("MQTT-2.2.2-1"),
                        s3!("MQTT-2.2.2-2"),
                        s3!("MQTT-3.10.1-1")
                    ]
                }
                PacketType::Disconnect => ids![
                    s3!("MQTT-2.2.2-1"),
                    s3!("MQTT-2.2.2-2"),
                    s3!("MQTT-3.14.1-1")
                ],
                _ => ids![s3!("MQTT-2.2.2-1"), s3!("MQTT-2.2.2-2")],
            },
            K::PublishQos3 => ids![s3!("MQTT-3.3.1-4")],
            K::DupWithQos0 => ids![s3!("MQTT-3.3.1-2")],
            K::NotConnect { .. } => ids![s3!("MQTT-3.1.0-1")],
            K::InvalidUtf8 => ids![s3!("MQTT-1.5.3-1")],
            K::NullCharacter => ids![s3!("MQTT-1.5.3-2")],
            K::NullCharacterInTopic => ids![s3!("MQTT-1.5.3-2"), s3!("MQTT-4.7.3-2")],
            K::StringTooLong => ids![s3!("MQTT-4.7.3-3")],
            K::InvalidProtocolName => ids![s3!("MQTT-3.1.2-1")],
            K::UnsupportedProtocolLevel { .. } => ids![s3!("MQTT-3.1.2-2")],
            K::ConnectReservedFlag => ids![s3!("MQTT-3.1.2-3")],
            K::WillQos3 => ids![s3!("MQTT-3.1.2-14")],
            K::WillQosWithoutWill => ids![s3!("MQTT-3.1.2-11"), s3!("MQTT-3.1.2-13")],
            K::WillRetainWithoutWill => ids![s3!("MQTT-3.1.2-11"), s3!("MQTT-3.1.2-15")],
            K::MissingUserName => ids![s3!("MQTT-3.1.2-19")],
            K::MissingPassword => ids![s3!("MQTT-3.1.2-21")],
            K::MissingWill => ids![s3!("MQTT-3.1.2-9")],
            K::PasswordWithoutUsername => ids![s3!("MQTT-3.1.2-22")],
            K::SessionPresentWithError => ids![s3!("MQTT-3.2.2-4")],
            K::PacketIdZero {
                packet: PacketType::Publish | PacketType::Subscribe | PacketType::Unsubscribe,
            } => ids![s3!("MQTT-2.3.1-1")],
            K::PacketIdOnQos0 => ids![s3!("MQTT-2.3.1-5")],
            K::EmptyTopicName | K::EmptyTopicFilter => ids![s3!("MQTT-4.7.3-1")],
            K::TopicNameWildcard if packet == Some(PacketType::Connect) => {
                ids![s3!("MQTT-4.7.1-1")]
            }
            K::TopicNameWildcard => ids![s3!("MQTT-3.3.2-2"), s3!("MQTT-4.7.1-1")],
            K::InvalidTopicFilter => ids![s3!("MQTT-4.7.1-2"), s3!("MQTT-4.7.1-3")],
            K::NoTopicFilters {
                packet: PacketType::Subscribe,
            } => ids![s3!("MQTT-3.8.3-3")],
            K::NoTopicFilters { .. } => ids![s3!("MQTT-3.10.3-2")],
            K::NoReasonCodes { .. } => ids![s3!("MQTT-3.8.4-5")],
            K::SubscriptionOptionsReserved { .. } | K::SubscriptionQos3 => {
                ids![s3!("MQTT-3.8.3-4")]
            }
            K::ReasonCodeNotAllowed {
                packet: PacketType::SubAck,
                ..
            } => ids![s3!("MQTT-3.9.3-2")],
            _ => &[],
        }
    }
}
