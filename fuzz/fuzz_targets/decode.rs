//! Decodes arbitrary bytes as a stream of MQTT packets with every protocol version and every
//! sender setting, then re-encodes whatever decodes (checked encoder) and decodes it again:
//! the packet must come back equal. Any panic, or a packet the encoder refuses or changes, is
//! a bug in the codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, decode_bytes, parse_fixed_header, peek_protocol_version, Limits, ProtocolVersion, Side,
};

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];
const SENDERS: [Option<Side>; 3] = [None, Some(Side::Client), Some(Side::Server)];

fuzz_target!(|data: &[u8]| {
    let _ = peek_protocol_version(data);
    for v in VERSIONS {
        for from in SENDERS {
            for limits in [Limits::default(), Limits::with_max_packet_size(256)] {
                let _ = parse_fixed_header(data, v, &limits, from);
                stream(data, v, &limits, from);
            }
        }
    }
});

/// Decodes packets from the front of `data` until it runs out or fails.
fn stream(data: &[u8], v: ProtocolVersion, limits: &Limits, from: Option<Side>) {
    let mut buf = BytesMut::from(data);
    let mut shared = Bytes::copy_from_slice(data);
    loop {
        let before = buf.len();
        let by_bytes = decode_bytes(&shared, v, limits, from);
        match decode(&mut buf, v, limits, from) {
            Ok(Some(p)) => {
                let used = before - buf.len();
                assert!(used > 0);
                // The zero-copy entry point agrees.
                match by_bytes {
                    Ok(Some((q, n))) => {
                        assert_eq!(q, p);
                        assert_eq!(n, used);
                    }
                    other => panic!("decode gave {p:?}, decode_bytes {other:?}"),
                }
                let _ = shared.split_to(used);
                // Whatever decodes re-encodes, and decodes back to the same packet.
                let bytes = match p.to_bytes(v) {
                    Ok(b) => b,
                    Err(e) => panic!("the encoder refuses a decoded packet: {e}: {p:?}"),
                };
                assert_eq!(p.encoded_len(v).ok(), Some(bytes.len()));
                let mut again = BytesMut::from(&bytes[..]);
                let back = decode(&mut again, v, &Limits::default(), from);
                assert_eq!(back, Ok(Some(p)), "re-encoded as {:02x?}", &bytes[..]);
                assert!(again.is_empty());
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                assert_eq!(by_bytes, Ok(None));
                return;
            }
            Err(e) => {
                assert_eq!(buf.len(), before, "an error consumed bytes");
                assert_eq!(by_bytes.map(|_| ()), Err(e));
                // The error renders and names only catalogued statements.
                let _ = e.to_string();
                let _ = (e.statements(), e.response(), e.reason_code());
                return;
            }
        }
    }
}
