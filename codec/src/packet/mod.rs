//! The control packets: one struct per type, one [`Packet`] enum, and the fixed header.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::types::{Limits, PacketType, ProtocolVersion, QoS, Side, MAX_REMAINING_LENGTH};
use crate::wire::{put_vbi, vbi_len, Reader, Res};

mod ack;
pub mod auth;
pub mod connack;
pub mod connect;
pub mod disconnect;
pub mod pingreq;
pub mod pingresp;
pub mod puback;
pub mod pubcomp;
pub mod publish;
pub mod pubrec;
pub mod pubrel;
pub mod suback;
pub mod subscribe;
pub mod unsuback;
pub mod unsubscribe;

pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use puback::PubAck;
pub use pubcomp::PubComp;
pub use publish::Publish;
pub use pubrec::PubRec;
pub use pubrel::PubRel;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

/// One MQTT control packet of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (boxed: the largest packet).
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (5.0 only).
    Auth(Auth),
}

/// The decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// Bits 3-0 of the first byte.
    pub flags: u8,
    /// The Remaining Length.
    pub remaining_length: u32,
    /// Bytes taken by the fixed header (2 to 5).
    pub header_len: usize,
    /// The Remaining Length was not in its shortest form.
    pub non_minimal_length: bool,
}

impl FixedHeader {
    /// Size of the whole packet.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

/// Decoding parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub(crate) version: ProtocolVersion,
    pub(crate) from: Option<Side>,
}

/// Reads and checks the fixed header at the start of `buf`. `Ok(None)` if more bytes are
/// needed to read it. Flags, packet type, sender and size limit are checked here, before any
/// byte of the body is needed.
#[inline]
pub fn parse_fixed_header(
    buf: &[u8],
    version: ProtocolVersion,
    limits: &Limits,
    from: Option<Side>,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let err = |kind, offset, pt| DecodeError::new(kind, offset, version, pt, from);
    let type_nibble = b0 >> 4;
    let flags = b0 & 0x0F;
    let packet_type = match PacketType::from_u8(type_nibble) {
        // AUTH does not exist in 3.1.1: type 15 is reserved there.
        Some(PacketType::Auth) if !version.is_v5() => None,
        other => other,
    };
    let Some(packet_type) = packet_type else {
        return Err(err(
            DecodeErrorKind::ReservedPacketType {
                packet_type: type_nibble,
            },
            0,
            None,
        ));
    };
    let pt = Some(packet_type);
    match packet_type.fixed_flags() {
        // [MQTT-2.1.3-1] (3.1.1: [MQTT-2.2.2-1] [MQTT-2.2.2-2]), and per type
        // [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1] [MQTT-3.14.1-1] [MQTT-3.15.1-1].
        Some(expected) if flags != expected => {
            return Err(err(
                DecodeErrorKind::InvalidFixedHeaderFlags {
                    packet: packet_type,
                    flags,
                    expected,
                },
                0,
                pt,
            ));
        }
        Some(_) => {}
        None => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(err(DecodeErrorKind::PublishQos3, 0, pt)); // [MQTT-3.3.1-4]
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(err(DecodeErrorKind::DupWithQos0, 0, pt)); // [MQTT-3.3.1-2]
            }
        }
    }
    if let (Some(side), Some(only)) = (from, packet_type.sender(version)) {
        if side != only {
            return Err(err(
                DecodeErrorKind::WrongSender {
                    packet: packet_type,
                    side,
                },
                0,
                pt,
            ));
        }
    }
    let mut remaining: u32 = 0;
    let mut header_len = 0;
    let mut non_minimal = false;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            non_minimal = i > 0 && b == 0;
            header_len = 2 + i;
            break;
        }
    }
    if header_len == 0 {
        // The fourth length byte still has its continuation bit set.
        return Err(err(DecodeErrorKind::RemainingLengthTooLong, 4, pt));
    }
    // [MQTT-1.5.5-1]: 5.0 requires the shortest form. 3.1.1 has no such rule. CONNECT is
    // judged by its own protocol level, later.
    if non_minimal && version.is_v5() && packet_type != PacketType::Connect {
        return Err(err(DecodeErrorKind::NonMinimalVarInt, 1, pt));
    }
    let size = header_len as u64 + u64::from(remaining);
    if size > u64::from(limits.max_packet_size) {
        return Err(err(
            DecodeErrorKind::PacketTooLarge {
                size: u32::try_from(size).unwrap_or(u32::MAX),
                max: limits.max_packet_size,
            },
            0,
            pt,
        ));
    }
    Ok(Some(FixedHeader {
        packet_type,
        flags,
        remaining_length: remaining,
        header_len,
        non_minimal_length: non_minimal,
    }))
}

/// The bytes of one packet: owned (split off the caller's buffer) or borrowed.
pub(crate) enum Frame<'a> {
    /// Exactly the packet's bytes, owned: a PUBLISH payload reuses this handle.
    Owned(Bytes),
    /// A buffer starting with the packet (possibly longer).
    Borrowed(&'a Bytes),
}

/// Decodes the complete packet at the start of `frame` whose header is `hdr`. On error an
/// owned frame is handed back.
pub(crate) fn decode_frame(
    frame: Frame<'_>,
    hdr: &FixedHeader,
    version: ProtocolVersion,
    from: Option<Side>,
) -> Result<Packet, (DecodeError, Option<Bytes>)> {
    let ctx = Ctx { version, from };
    let pt = hdr.packet_type;
    let end = hdr.packet_len();
    let decoded = {
        let buf: &Bytes = match &frame {
            Frame::Owned(b) => b,
            Frame::Borrowed(b) => b,
        };
        let mut r = Reader::new(buf, hdr.header_len, end, version.is_v5());
        if pt == PacketType::Connect {
            connect::decode(&mut r, hdr, ctx).map(|c| (Packet::Connect(Box::new(c)), 0))
        } else {
            decode_other(&mut r, hdr, ctx)
                .map_err(|(kind, offset)| DecodeError::new(kind, offset, version, Some(pt), from))
        }
    };
    match decoded {
        Ok((Packet::Publish(mut p), payload_at)) => {
            // The payload is the rest of the packet: reuse the owned handle (no extra
            // reference count), or slice the borrowed buffer.
            p.payload = match frame {
                Frame::Owned(mut f) => {
                    f.advance(payload_at.min(f.len()));
                    f
                }
                Frame::Borrowed(b) => b.slice(payload_at.min(end)..end),
            };
            Ok(Packet::Publish(p))
        }
        Ok((p, _)) => Ok(p),
        Err(e) => Err((
            e,
            match frame {
                Frame::Owned(f) => Some(f),
                Frame::Borrowed(_) => None,
            },
        )),
    }
}

/// Every packet but CONNECT; for PUBLISH also the offset of the payload.
fn decode_other(r: &mut Reader<'_>, hdr: &FixedHeader, ctx: Ctx) -> Res<(Packet, usize)> {
    let p = match hdr.packet_type {
        PacketType::Connect => unreachable_connect(),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(r, ctx)?),
        PacketType::Publish => {
            let p = Publish::decode(r, hdr.flags, ctx)?;
            // The payload runs to the end of the packet.
            return Ok((Packet::Publish(p), r.pos()));
        }
        PacketType::PubAck => Packet::PubAck(PubAck::decode(r, ctx)?),
        PacketType::PubRec => Packet::PubRec(PubRec::decode(r, ctx)?),
        PacketType::PubRel => Packet::PubRel(PubRel::decode(r, ctx)?),
        PacketType::PubComp => Packet::PubComp(PubComp::decode(r, ctx)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(r, ctx)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(r, ctx)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(r, ctx)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(r, ctx)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(r, ctx)?),
        PacketType::Auth => Packet::Auth(Auth::decode(r, ctx)?),
    };
    r.finish()?;
    Ok((p, 0))
}

// CONNECT is dispatched before the closure above; this arm cannot be reached.
fn unreachable_connect() -> Packet {
    Packet::PingReq
}

/// Body writer shared by the checked and the lenient encoder.
pub(crate) trait Body {
    /// Bytes of the variable header and payload.
    fn body_len(&self, version: ProtocolVersion) -> usize;
    /// Writes the variable header and payload.
    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut);
    /// Checks every rule a sender must follow.
    fn validate(&self, version: ProtocolVersion) -> Result<(), DecodeErrorKind>;
}

impl Packet {
    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    fn body(&self) -> Option<&dyn Body> {
        Some(match self {
            Packet::Connect(p) => &**p,
            Packet::ConnAck(p) => p,
            Packet::Publish(p) => p,
            Packet::PubAck(p) => p,
            Packet::PubRec(p) => p,
            Packet::PubRel(p) => p,
            Packet::PubComp(p) => p,
            Packet::Subscribe(p) => p,
            Packet::SubAck(p) => p,
            Packet::Unsubscribe(p) => p,
            Packet::UnsubAck(p) => p,
            Packet::PingReq | Packet::PingResp => return None,
            Packet::Disconnect(p) => p,
            Packet::Auth(p) => p,
        })
    }

    /// The version the body is written in: a CONNECT always uses its own protocol version.
    fn effective_version(&self, version: ProtocolVersion) -> ProtocolVersion {
        match self {
            Packet::Connect(c) => c.protocol,
            _ => version,
        }
    }

    /// The first byte of the fixed header.
    pub(crate) fn first_byte(&self) -> u8 {
        let t = (self.packet_type() as u8) << 4;
        match self {
            Packet::Publish(p) => t | p.flags(),
            _ => t | self.packet_type().fixed_flags().unwrap_or(0),
        }
    }

    pub(crate) fn body_len_unchecked(&self, version: ProtocolVersion) -> usize {
        let v = self.effective_version(version);
        self.body().map_or(0, |b| b.body_len(v))
    }

    pub(crate) fn write_body_unchecked(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        let v = self.effective_version(version);
        if let Some(b) = self.body() {
            b.write_body(v, buf);
        }
    }

    /// Checks that the packet can be sent in `version` without breaking the standard.
    pub fn validate(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        self.validate_body(version)?;
        self.checked_body_len(version)?;
        Ok(())
    }

    /// The body's length, refused when the Remaining Length cannot express it.
    fn checked_body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let n = self.body_len_unchecked(version);
        if n > MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError {
                kind: DecodeErrorKind::RemainingLengthTooLarge,
                packet: self.packet_type(),
                version: self.effective_version(version),
            });
        }
        Ok(n)
    }

    /// Validation without the length check (the caller sizes the packet once).
    fn validate_body(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        let v = self.effective_version(version);
        let packet = self.packet_type();
        let fail = |kind| EncodeError {
            kind,
            packet,
            version: v,
        };
        if packet == PacketType::Auth && !v.is_v5() {
            return Err(fail(DecodeErrorKind::NotInVersion { packet }));
        }
        match self.body() {
            Some(b) => b.validate(v).map_err(fail),
            None => Ok(()),
        }
    }

    /// Size of the encoded packet, fixed header included, after validation.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.validate(version)?;
        let body = self.body_len_unchecked(version);
        Ok(1 + vbi_len(body as u32) + body)
    }

    /// Appends the packet to `buf`, refusing anything the standard forbids (the buffer is left
    /// untouched on error). Uses the short forms where the standard allows them. A CONNECT is
    /// written in its own `protocol` version whatever `version` says.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Packet::Publish(p) => {
                return p.encode_checked(version, buf).map_err(|kind| EncodeError {
                    kind,
                    packet: PacketType::Publish,
                    version,
                })
            }
            Packet::Connect(c) => {
                return c.encode_checked(buf).map_err(|kind| EncodeError {
                    kind,
                    packet: PacketType::Connect,
                    version: c.protocol,
                })
            }
            _ => {}
        }
        self.validate_body(version)?;
        let body = self.checked_body_len(version)?;
        buf.reserve(5 + body);
        buf.put_u8(self.first_byte());
        put_vbi(buf, body as u32);
        self.write_body_unchecked(version, buf);
        Ok(())
    }

    /// Appends the packet without any validation: packet identifier 0, DUP on QoS 0, topic
    /// wildcards, misplaced properties, overlong strings (length truncated to 16 bits)...
    /// For the conformance suite; see also [`crate::raw`].
    pub fn encode_unchecked(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        let body = self.body_len_unchecked(version);
        buf.reserve(5 + body);
        buf.put_u8(self.first_byte());
        put_vbi(buf, body as u32);
        self.write_body_unchecked(version, buf);
    }

    /// Encodes into a new buffer (checked).
    pub fn to_bytes(&self, version: ProtocolVersion) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(version, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// Reads a packet identifier that must not be 0.
pub(crate) fn read_packet_id(r: &mut Reader<'_>, packet: PacketType) -> Res<u16> {
    let at = r.pos();
    let id = r.u16()?;
    if id == 0 {
        // 3.1.1 [MQTT-2.3.1-1]; 5.0 [MQTT-2.2.1-3] / [MQTT-2.2.1-4]; acknowledgements echo
        // a non-zero identifier.
        return Err((DecodeErrorKind::PacketIdZero { packet }, at));
    }
    Ok(id)
}

/// Checks a string a sender is about to write: fits the length prefix, no U+0000.
pub(crate) fn check_str(s: &str) -> Result<(), DecodeErrorKind> {
    if s.len() > usize::from(u16::MAX) {
        Err(DecodeErrorKind::StringTooLong)
    } else if crate::wire::has_nul(s.as_bytes()) {
        Err(DecodeErrorKind::NullCharacter)
    } else {
        Ok(())
    }
}

/// Checks binary data a sender is about to write.
pub(crate) fn check_bin(b: &[u8]) -> Result<(), DecodeErrorKind> {
    if b.len() > usize::from(u16::MAX) {
        Err(DecodeErrorKind::BinaryTooLong)
    } else {
        Ok(())
    }
}

/// The QoS in bits 2-1 of PUBLISH flags or of a will (never 3 here: checked before).
pub(crate) fn qos_bits(bits: u8) -> QoS {
    QoS::from_u8(bits & 0b11).unwrap_or(QoS::AtMostOnce)
}

#[cfg(test)]
mod tests;
