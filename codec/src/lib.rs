//! Strict MQTT 3.1.1 and 5.0 packet codec.
//!
//! One [`Packet`] enum covers both versions; the version is a parameter. Decoding checks every
//! wire-format rule of the standards and says, for a malformed input, which statement it
//! breaks, at which byte, and what the receiver answers. Payloads, binary data and strings are
//! zero-copy slices of the input.
//!
//! # API
//!
//! ```text
//! decode(buf: &mut BytesMut, version: ProtocolVersion, limits: &Limits, from: Option<Side>)
//!     -> Result<Option<Packet>, DecodeError>
//! decode_bytes(buf: &Bytes, version, limits, from) -> Result<Option<(Packet, usize)>, DecodeError>
//! peek_protocol_version(buf: &[u8]) -> Result<Option<ProtocolVersion>, DecodeError>
//! parse_fixed_header(buf: &[u8], version, limits, from) -> Result<Option<FixedHeader>, DecodeError>
//! Packet::encode(&self, version, &mut BytesMut) -> Result<(), EncodeError>
//! Packet::encoded_len(&self, version) -> Result<usize, EncodeError>
//! Packet::encode_unchecked(&self, version, &mut BytesMut)        // no validation
//! raw::RawPacket                                                  // arbitrary bytes
//! topic::{valid_topic_name, valid_topic_filter, topic_matches, parse_shared_subscription}
//! ```
//!
//! - Incomplete input is `Ok(None)`, never an error. The fixed header is checked (type, flags,
//!   sender, [`Limits::max_packet_size`]) as soon as it is complete, before the body arrives:
//!   a 256 MB claim fails without allocating.
//! - [`DecodeError`] is `Copy`: [`DecodeError::kind`], [`DecodeError::offset`],
//!   [`DecodeError::statements`] (ids such as `MQTT-3.6.1-1` in the catalogue of the version
//!   decoded), [`DecodeError::reason_code`] and [`DecodeError::response`] (3.1.1: close, or
//!   CONNACK 0x01; 5.0: the reason code to send).
//! - `from: Some(Side::Client)` / `Some(Side::Server)` adds the sender rules: packet types
//!   only one side sends, reason codes only one side uses, Subscription Identifier in a
//!   client's PUBLISH, Session Expiry Interval in a server's DISCONNECT.
//! - CONNECT is decoded by its own protocol name and level whatever `version` says.
//! - Encoding refuses what the standard forbids ([`EncodeError`]) and uses the short forms.
//!   To put forbidden bytes on the wire, use [`Packet::encode_unchecked`] and [`raw`].
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_codec::{decode, Limits, Packet, ProtocolVersion, Side};
//!
//! let mut buf = BytesMut::from(&[0xe0, 0x01, 0x8e][..]);
//! let p = decode(&mut buf, ProtocolVersion::V5, &Limits::default(), Some(Side::Server));
//! assert!(matches!(p, Ok(Some(Packet::Disconnect(_)))));
//!
//! let mut buf = BytesMut::from(&[0x61, 0x02, 0x00, 0x01][..]); // PUBREL with flags 0b0001
//! let err = decode(&mut buf, ProtocolVersion::V5, &Limits::default(), None).unwrap_err();
//! assert_eq!(err.offset, 0);
//! assert_eq!(err.statements()[1].as_str(), "MQTT-3.6.1-1");
//! assert_eq!(buf.len(), 4); // left as it was
//! ```
// One audited exception, `wire::utf8_handle` (see there).
#![deny(unsafe_code)]
#![warn(missing_docs)]

use bytes::{Buf, Bytes, BytesMut};

use packet::publish::SimpleLayout;

pub mod error;
#[cfg(feature = "json")]
pub mod json;
pub mod packet;
pub mod property;
pub mod raw;
pub mod reason;
pub mod statement;
pub mod topic;
pub mod types;
mod wire;

/// The `bytes` crate the codec's types use (re-exported so users need not depend on it).
pub use bytes;
/// A validated UTF-8 string sharing the input buffer (no copy).
pub use bytestring::ByteString as ByteStr;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, ErrorResponse};
pub use packet::{
    parse_fixed_header, Auth, ConnAck, Connect, Disconnect, FixedHeader, Packet, PubAck, PubComp,
    PubRec, PubRel, Publish, RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions,
    UnsubAck, Unsubscribe, Will,
};
pub use property::{Properties, PropertyContext, PropertyId, PropertyType, Props};
pub use reason::ReasonCode;
pub use statement::StatementId;
pub use topic::{parse_shared_subscription, topic_matches, valid_topic_filter, valid_topic_name};
pub use types::{
    Limits, PacketType, ProtocolVersion, QoS, Side, MAX_PACKET_SIZE, MAX_REMAINING_LENGTH,
};

/// Decodes one packet from the front of `buf`.
///
/// - `Ok(Some(packet))`: exactly that packet's bytes were removed from `buf`.
/// - `Ok(None)`: more bytes are needed; `buf` is untouched.
/// - `Err(e)`: the packet is malformed or forbidden; `buf` is left as it was.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    limits: &Limits,
    from: Option<Side>,
) -> Result<Option<Packet>, DecodeError> {
    if let Some(l) = SimpleLayout::find(buf, version.is_v5(), limits.max_packet_size) {
        // The common PUBLISH: one split, one topic handle, and the frame itself becomes the
        // payload.
        let mut frame = buf.split_to(l.len()).freeze();
        match wire::publish_topic(&frame, l.topic()) {
            Some(topic) => {
                frame.advance(l.payload_at());
                return Ok(Some(Packet::Publish(l.build(topic, frame))));
            }
            // U+0000, a wildcard or ill-formed UTF-8 in the topic: put the bytes back; the
            // general decoder reports the exact rule and offset.
            None => give_back(buf, frame),
        }
    }
    decode_general(buf, version, limits, from)
}

fn decode_general(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    limits: &Limits,
    from: Option<Side>,
) -> Result<Option<Packet>, DecodeError> {
    let Some(hdr) = parse_fixed_header(buf, version, limits, from)? else {
        return Ok(None);
    };
    let len = hdr.packet_len();
    if buf.len() < len {
        return Ok(None);
    }
    let frame = buf.split_to(len).freeze();
    match packet::decode_frame(packet::Frame::Owned(frame), &hdr, version, from) {
        Ok(p) => Ok(Some(p)),
        Err((e, frame)) => {
            give_back(buf, frame.unwrap_or_default());
            Err(e)
        }
    }
}

/// Puts a split-off `frame` back in front of `buf`: nothing else refers to `frame` now, so
/// this is normally a cheap re-join; otherwise a copy.
#[cold]
fn give_back(buf: &mut BytesMut, frame: Bytes) {
    let rest = std::mem::take(buf);
    *buf = match frame.try_into_mut() {
        Ok(mut head) => {
            head.unsplit(rest);
            head
        }
        Err(frame) => {
            let mut b = BytesMut::with_capacity(frame.len() + rest.len());
            b.extend_from_slice(&frame);
            b.extend_from_slice(&rest);
            b
        }
    };
}

/// Decodes one packet from the front of `buf` without consuming anything: the packet (whose
/// fields are slices of `buf`) and its length in bytes, or `Ok(None)` if incomplete.
pub fn decode_bytes(
    buf: &Bytes,
    version: ProtocolVersion,
    limits: &Limits,
    from: Option<Side>,
) -> Result<Option<(Packet, usize)>, DecodeError> {
    if let Some(l) = SimpleLayout::find(buf, version.is_v5(), limits.max_packet_size) {
        if let Some(topic) = wire::publish_topic(buf, l.topic()) {
            let payload = buf.slice(l.payload_at()..l.len());
            return Ok(Some((Packet::Publish(l.build(topic, payload)), l.len())));
        }
    }
    let Some(hdr) = parse_fixed_header(buf, version, limits, from)? else {
        return Ok(None);
    };
    let len = hdr.packet_len();
    if buf.len() < len {
        return Ok(None);
    }
    packet::decode_frame(packet::Frame::Borrowed(buf), &hdr, version, from)
        .map(|p| Some((p, len)))
        .map_err(|(e, _)| e)
}

/// The protocol version a CONNECT at the front of `buf` asks for, so that a server can pick the
/// version of a new connection. `Ok(None)` if more bytes are needed. Errors: the first packet
/// is not a CONNECT ([MQTT-3.1.0-1]), a bad protocol name, an unknown level (answer per
/// [`DecodeError::response`]).
pub fn peek_protocol_version(buf: &[u8]) -> Result<Option<ProtocolVersion>, DecodeError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    // The caller's version is unknown here: 3.1.1 rules for the error report.
    let v = ProtocolVersion::V3_1_1;
    if b0 >> 4 != PacketType::Connect as u8 {
        return Err(DecodeError::new(
            DecodeErrorKind::NotConnect {
                packet_type: b0 >> 4,
            },
            0,
            v,
            PacketType::from_u8(b0 >> 4),
            Some(Side::Client),
        ));
    }
    let Some(hdr) = parse_fixed_header(buf, v, &Limits::default(), Some(Side::Client))? else {
        return Ok(None);
    };
    // Name (2 + up to 6 bytes) and level: read what is there, bounded by the packet.
    let avail = buf.len().min(hdr.packet_len());
    let bytes = Bytes::copy_from_slice(buf.get(..avail).unwrap_or(&[]));
    let mut r = wire::Reader::new(&bytes, hdr.header_len, avail, false);
    match packet::connect::read_protocol(&mut r) {
        Ok(version) => Ok(Some(version)),
        Err((DecodeErrorKind::Truncated { .. }, _)) if avail < hdr.packet_len() => Ok(None),
        Err((kind, offset)) => Err(DecodeError::new(
            kind,
            offset,
            v,
            Some(PacketType::Connect),
            Some(Side::Client),
        )),
    }
}
