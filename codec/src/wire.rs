//! Bounded reading and plain writing of the MQTT data types (section 1.5 of both standards).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeErrorKind;
use crate::ByteStr;

/// A failure inside a packet: the kind and the absolute offset in the packet.
pub(crate) type Fail = (DecodeErrorKind, usize);

pub(crate) type Res<T> = Result<T, Fail>;

/// A reader over one complete packet, bounded by `end`. Every read checks the bound, so a
/// lying length field becomes an error, never a panic or an over-read.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
    /// 5.0 requires minimal Variable Byte Integers [MQTT-1.5.5-1].
    strict_vbi: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes, pos: usize, end: usize, strict_vbi: bool) -> Self {
        let end = end.min(buf.len());
        Reader {
            buf,
            pos: pos.min(end),
            end,
            strict_vbi,
        }
    }

    /// A reader at the same place with another Variable Byte Integer rule.
    pub(crate) fn new_like(other: &Reader<'a>, strict_vbi: bool) -> Self {
        Reader {
            buf: other.buf,
            pos: other.pos,
            end: other.end,
            strict_vbi,
        }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    #[inline]
    fn need(&self, n: usize) -> Res<()> {
        if self.remaining() < n {
            let missing = n - self.remaining();
            Err((
                DecodeErrorKind::Truncated {
                    needed: u32::try_from(missing).unwrap_or(u32::MAX),
                },
                self.end,
            ))
        } else {
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn slice(&mut self, n: usize) -> Res<&'a [u8]> {
        self.need(n)?;
        let s = self.buf.get(self.pos..self.pos + n).unwrap_or(&[]);
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Res<u8> {
        self.need(1)?;
        let b = self.buf.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Res<u16> {
        match *self.slice(2)? {
            [a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Ok(0),
        }
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Res<u32> {
        match *self.slice(4)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Ok(0),
        }
    }

    /// A Variable Byte Integer (1.5.5 in 5.0).
    pub(crate) fn vbi(&mut self) -> Res<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        for i in 0..4 {
            let b = self.u8()?;
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                // A last byte of 0 after the first means a shorter form existed.
                if self.strict_vbi && i > 0 && b == 0 {
                    return Err((DecodeErrorKind::NonMinimalVarInt, start)); // [MQTT-1.5.5-1]
                }
                return Ok(value);
            }
        }
        Err((DecodeErrorKind::VarIntTooLong, start + 4))
    }

    /// `n` bytes as a zero-copy slice of the packet.
    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Res<Bytes> {
        self.need(n)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Binary Data: a two-byte length and that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self) -> Res<Bytes> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// A UTF-8 Encoded String: well-formed, no U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]
    /// (3.1.1: [MQTT-1.5.3-1] [MQTT-1.5.3-2]).
    pub(crate) fn string(&mut self) -> Res<ByteStr> {
        let n = usize::from(self.u16()?);
        let start = self.pos;
        let raw = self.bytes(n)?;
        to_bytestr(raw, start)
    }

    /// A UTF-8 Encoded String that is a Topic Name or Topic Filter: a U+0000 in it breaks the
    /// topic rule too [MQTT-4.7.3-2].
    pub(crate) fn topic_string(&mut self) -> Res<ByteStr> {
        self.string().map_err(|(kind, at)| (in_topic(kind), at))
    }

    /// A reader over the next `n` bytes (e.g. a property block); this reader skips them.
    pub(crate) fn sub(&mut self, n: usize) -> Res<Reader<'a>> {
        self.need(n)?;
        let r = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + n,
            strict_vbi: self.strict_vbi,
        };
        self.pos += n;
        Ok(r)
    }

    /// Fails on bytes left over.
    pub(crate) fn finish(&self) -> Res<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err((
                DecodeErrorKind::TrailingBytes {
                    count: u32::try_from(self.remaining()).unwrap_or(u32::MAX),
                },
                self.pos,
            ))
        }
    }
}

/// Validates `raw` as an MQTT UTF-8 string starting at packet offset `start`: well-formed
/// UTF-8, no U+0000.
pub(crate) fn to_bytestr(raw: Bytes, start: usize) -> Res<ByteStr> {
    if let Some(i) = raw.iter().position(|&b| b == 0) {
        // In well-formed UTF-8 a zero byte can only be U+0000; report an earlier ill-formed
        // sequence first.
        if let Err(e) = std::str::from_utf8(raw.get(..i).unwrap_or(&[])) {
            return Err((DecodeErrorKind::InvalidUtf8, start + e.valid_up_to()));
        }
        return Err((DecodeErrorKind::NullCharacter, start + i));
    }
    to_bytestr_no_null(raw, start)
}

/// The kind for a fault found in a string that is a topic: U+0000 becomes
/// [`DecodeErrorKind::NullCharacterInTopic`]; other kinds are unchanged.
#[inline]
pub(crate) fn in_topic(kind: DecodeErrorKind) -> DecodeErrorKind {
    match kind {
        DecodeErrorKind::NullCharacter => DecodeErrorKind::NullCharacterInTopic,
        other => other,
    }
}

/// UTF-8 validation only, for callers that already scanned for zero bytes.
#[inline]
pub(crate) fn to_bytestr_no_null(raw: Bytes, start: usize) -> Res<ByteStr> {
    utf8_handle(raw).map_err(|e| (DecodeErrorKind::InvalidUtf8, start + e.valid_up_to()))
}

/// A string handle on `raw` if it is well-formed UTF-8.
#[inline]
pub(crate) fn utf8_handle(raw: Bytes) -> Result<ByteStr, std::str::Utf8Error> {
    if raw.is_ascii() {
        Ok(ascii_handle(raw))
    } else {
        ByteStr::try_from(raw)
    }
}

/// The string handle on `raw`, which the caller has just seen to be ASCII.
///
/// The one `unsafe` block of the codec, kept because a measurement demands it (DESIGN.md
/// allows that): the `bytestring` crate can only make a handle by running the standard
/// library's UTF-8 validator, which cost about as much as all the rest of decoding a small
/// PUBLISH, while almost every string on the wire is ASCII and its check is a few vector
/// compares. A run of bytes below 0x80 is well-formed UTF-8 (each is a one-byte code point).
/// Callers: [`utf8_handle`] (after `is_ascii`) and [`publish_topic`] (after
/// [`topic_plain`]), each right after its check of the same bytes; the debug assertion
/// repeats the check in every test build.
#[inline(always)]
#[allow(unsafe_code)]
fn ascii_handle(raw: Bytes) -> ByteStr {
    debug_assert!(raw.is_ascii());
    // SAFETY: every caller saw each byte of `raw` below 0x80 just before (see above), so
    // `raw` is valid UTF-8, which is all `from_bytes_unchecked` requires.
    unsafe { ByteStr::from_bytes_unchecked(raw) }
}

/// The Topic Name at `range` of a PUBLISH `frame` as a string handle, when it is one the
/// fast path takes: non-empty, no U+0000, no wildcard, well-formed UTF-8. `None` for anything
/// else (the general decoder then reports exactly what is wrong).
#[inline(always)]
pub(crate) fn publish_topic(frame: &Bytes, range: std::ops::Range<usize>) -> Option<ByteStr> {
    let s = frame.get(range.clone())?;
    if s.is_empty() {
        return None;
    }
    if topic_plain(s) {
        // `topic_plain` saw every byte of `s` in 0x01..=0x7F, and the handle holds exactly
        // those bytes.
        return Some(ascii_handle(frame.slice(range)));
    }
    if has_topic_forbidden(s) {
        return None;
    }
    ByteStr::try_from(frame.slice(range)).ok()
}

/// Is every byte of `s` ASCII other than 0x00, `+` and `#`? One signed compare (a byte at or
/// below zero as `i8` is 0x00 or 0x80 and above) and two equalities per byte, which the
/// compiler turns into a few vector instructions per 16 bytes; topics of 16 to 32 bytes (the
/// usual ones) are read as two overlapping 16-byte arrays, with no loop.
#[inline(always)]
fn topic_plain(s: &[u8]) -> bool {
    let odd = |acc: u8, &b: &u8| {
        acc | u8::from((b as i8) < 1) | u8::from(b == b'+') | u8::from(b == b'#')
    };
    match (s.first_chunk::<16>(), s.last_chunk::<16>()) {
        (Some(a), Some(b)) if s.len() <= 32 => (a.iter().fold(0, odd) | b.iter().fold(0, odd)) == 0,
        _ => s.iter().fold(0, odd) == 0,
    }
}

/// Does `s` hold 0x00, `+` or `#`? Topics of 16 to 32 bytes (the usual ones) are read as two
/// overlapping 16-byte arrays, which the compiler checks with a few vector compares and no
/// loop; other lengths in one branch-free pass.
#[inline(always)]
pub(crate) fn has_topic_forbidden(s: &[u8]) -> bool {
    // Three equalities rather than a pattern (which becomes a bit test per byte), so that
    // the bytes are compared as vectors.
    let one = |acc: u8, &b: &u8| acc | u8::from(b == 0) | u8::from(b == b'+') | u8::from(b == b'#');
    match (s.first_chunk::<16>(), s.last_chunk::<16>()) {
        (Some(a), Some(b)) if s.len() <= 32 => (a.iter().fold(0, one) | b.iter().fold(0, one)) != 0,
        _ => s.iter().fold(0, one) != 0,
    }
}

/// Index of the first byte of `s` that is 0x00, `+` or `#`.
#[inline]
pub(crate) fn find_topic_forbidden(s: &[u8]) -> Option<usize> {
    if !has_topic_forbidden(s) {
        return None;
    }
    s.iter().position(|&b| matches!(b, 0 | b'+' | b'#'))
}

/// Does `s` contain a zero byte? For the strings a sender checks before writing them: up to
/// 32 bytes with two to four (overlapping) word reads, longer ones in one branch-free pass that the
/// compiler turns into vector compares.
#[inline]
pub(crate) fn has_nul(s: &[u8]) -> bool {
    // A word has a zero byte iff this is non-zero (the classic bit trick; exact for "any").
    let zero64 = |w: u64| w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080 != 0;
    let zero32 = |w: u32| w.wrapping_sub(0x0101_0101) & !w & 0x8080_8080 != 0;
    let word = |w: Option<&[u8; 8]>| w.is_some_and(|w| zero64(u64::from_le_bytes(*w)));
    match (s.first_chunk::<16>(), s.last_chunk::<16>()) {
        // 16 to 32 bytes: the first and the last 16 (overlapping), as words.
        (Some(a), Some(b)) if s.len() <= 32 => {
            let (a0, a1) = a.split_at(8);
            let (b0, b1) = b.split_at(8);
            word(a0.first_chunk())
                | word(a1.first_chunk())
                | word(b0.first_chunk())
                | word(b1.first_chunk())
        }
        (Some(_), _) => s.iter().fold(false, |acc, &b| acc | (b == 0)),
        _ => match (s.first_chunk::<8>(), s.last_chunk::<8>()) {
            (Some(a), Some(b)) => word(Some(a)) | word(Some(b)),
            _ => match (s.first_chunk::<4>(), s.last_chunk::<4>()) {
                (Some(a), Some(b)) => {
                    zero32(u32::from_le_bytes(*a)) | zero32(u32::from_le_bytes(*b))
                }
                _ => s.contains(&0),
            },
        },
    }
}

/// Bytes a Variable Byte Integer takes.
#[inline]
pub(crate) const fn vbi_len(v: u32) -> usize {
    if v < 0x80 {
        1
    } else if v < 0x4000 {
        2
    } else if v < 0x20_0000 {
        3
    } else {
        4
    }
}

/// Writes a Variable Byte Integer (values above 268435455 are truncated to 28 bits).
#[inline]
pub(crate) fn put_vbi(buf: &mut BytesMut, mut v: u32) {
    v &= 0x0FFF_FFFF;
    loop {
        let mut b = (v & 0x7F) as u8;
        v >>= 7;
        if v > 0 {
            b |= 0x80;
        }
        buf.put_u8(b);
        if v == 0 {
            break;
        }
    }
}

/// Writes a two-byte length and the bytes (the length is truncated to 16 bits: callers that
/// must not produce malformed output check the length first).
#[inline]
pub(crate) fn put_binary(buf: &mut BytesMut, b: &[u8]) {
    buf.put_u16(b.len() as u16);
    buf.put_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vbi_of(bytes: &[u8], strict: bool) -> Res<u32> {
        let b = Bytes::copy_from_slice(bytes);
        Reader::new(&b, 0, b.len(), strict).vbi()
    }

    #[test]
    fn vbi_round_trip_and_limits() {
        for v in [
            0u32,
            1,
            127,
            128,
            16383,
            16384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            let mut buf = BytesMut::new();
            put_vbi(&mut buf, v);
            assert_eq!(buf.len(), vbi_len(v));
            assert_eq!(vbi_of(&buf, true), Ok(v));
        }
        assert_eq!(
            vbi_of(&[0x80, 0x00], true).unwrap_err().0,
            DecodeErrorKind::NonMinimalVarInt
        );
        assert_eq!(vbi_of(&[0x80, 0x00], false), Ok(0));
        assert_eq!(
            vbi_of(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01], true).unwrap_err().0,
            DecodeErrorKind::VarIntTooLong
        );
        assert!(matches!(
            vbi_of(&[0xFF], true).unwrap_err().0,
            DecodeErrorKind::Truncated { needed: 1 }
        ));
    }

    #[test]
    fn zero_bytes_are_found_at_every_length_and_place() {
        for len in 0..70 {
            let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(!has_nul(&plain), "{len}");
            // Bytes whose neighbours could fool a word trick: 0x01, 0x80, 0xFF.
            let tricky: Vec<u8> = (0..len).map(|i| [1u8, 0x80, 0xFF][i % 3]).collect();
            assert!(!has_nul(&tricky), "{len}");
            for i in 0..len {
                for base in [&plain, &tricky] {
                    let mut t = base.clone();
                    t[i] = 0;
                    assert!(has_nul(&t), "zero at {i} of {len}");
                }
            }
        }
    }

    #[test]
    fn forbidden_topic_bytes_are_found() {
        let plain = b"sensors/room1/temperature/and/more";
        assert_eq!(find_topic_forbidden(plain), None);
        for i in 0..plain.len() {
            for b in [0u8, b'+', b'#'] {
                let mut t = plain.to_vec();
                t[i] = b;
                assert_eq!(find_topic_forbidden(&t), Some(i), "{b} at {i}");
            }
        }
        assert_eq!(find_topic_forbidden("é/ü".as_bytes()), None);
    }

    #[test]
    fn strings_are_checked() {
        let ok = Bytes::from_static(b"\x00\x03a/b");
        assert_eq!(Reader::new(&ok, 0, ok.len(), true).string().unwrap(), "a/b");
        let null = Bytes::from_static(b"\x00\x03a\x00b");
        assert_eq!(
            Reader::new(&null, 0, null.len(), true)
                .string()
                .unwrap_err(),
            (DecodeErrorKind::NullCharacter, 3)
        );
        // U+D800 encoded as ED A0 80 (a surrogate) and an overlong "/" (C0 AF).
        for bad in [&b"\x00\x03\xED\xA0\x80"[..], &b"\x00\x02\xC0\xAF"[..]] {
            let b = Bytes::copy_from_slice(bad);
            assert_eq!(
                Reader::new(&b, 0, b.len(), true).string().unwrap_err(),
                (DecodeErrorKind::InvalidUtf8, 2)
            );
        }
        let short = Bytes::from_static(b"\x00\x05ab");
        assert!(matches!(
            Reader::new(&short, 0, short.len(), true)
                .string()
                .unwrap_err()
                .0,
            DecodeErrorKind::Truncated { needed: 3 }
        ));
    }
}
