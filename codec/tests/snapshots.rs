//! Byte layouts pinned as insta snapshots: one valid "rich" packet of every type for each
//! version (every property the packet may carry), encoded by the checked encoder. Each one
//! must also decode back to itself and re-encode byte for byte.
//!
//! To accept a deliberate layout change: `INSTA_UPDATE=always cargo test -p mqtt-codec --test
//! snapshots`, then review the diff of `tests/snapshots/*.snap`.

mod common;

use common::{dec, rich_packets, to_hex_lines, V3, V5};
use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{decode_bytes, Limits, Packet, ProtocolVersion};

fn check_version(v: ProtocolVersion, tag: &str) {
    let packets = rich_packets(v);
    assert!(packets.len() >= if v.is_v5() { 15 } else { 14 });
    for (name, p) in packets {
        let bytes = p
            .to_bytes(v)
            .unwrap_or_else(|e| panic!("{tag} {name}: the checked encoder refused it: {e}"));
        assert_eq!(p.encoded_len(v).unwrap(), bytes.len(), "{tag} {name}");

        // decode(encode(p)) == p, through both entry points.
        let back = dec(&bytes, v, None);
        assert_eq!(back, Ok(Some(p.clone())), "{tag} {name}");
        let shared: Bytes = bytes.clone();
        let (p2, used) = decode_bytes(&shared, v, &Limits::default(), None)
            .unwrap()
            .unwrap();
        assert_eq!((&p2, used), (&p, bytes.len()), "{tag} {name}");
        // Decoding as the side that may send it gives the same packet.
        if let Some(side) = p.packet_type().sender(v) {
            assert_eq!(
                dec(&bytes, v, Some(side)),
                Ok(Some(p.clone())),
                "{tag} {name}"
            );
        }

        // Re-encoding is byte-identical.
        let mut again = BytesMut::new();
        p2.encode(v, &mut again).unwrap();
        assert_eq!(&again[..], &bytes[..], "{tag} {name}");

        insta::assert_snapshot!(format!("{tag}__{name}"), to_hex_lines(&bytes));
    }
}

#[test]
fn v311_rich_packets() {
    check_version(V3, "v311");
}

#[test]
fn v5_rich_packets() {
    check_version(V5, "v5");
}

#[test]
fn every_packet_type_is_pinned() {
    for (v, expected) in [(V3, 14), (V5, 15)] {
        let mut types: Vec<u8> = rich_packets(v)
            .iter()
            .map(|(_, p)| p.packet_type() as u8)
            .collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), expected, "{v}: {types:?}");
    }
}

#[test]
fn payloads_are_slices_of_the_input() {
    let (_, p) = rich_packets(V5)
        .into_iter()
        .find(|(n, _)| *n == "publish")
        .unwrap();
    let bytes = p.to_bytes(V5).unwrap();
    let (got, _) = decode_bytes(&bytes, V5, &Limits::default(), None)
        .unwrap()
        .unwrap();
    let Packet::Publish(got) = got else {
        panic!("not a PUBLISH: {got:?}")
    };
    let range = bytes.as_ptr_range();
    assert!(range.contains(&got.payload.as_ptr()), "payload was copied");
    assert!(range.contains(&got.topic.as_ptr()), "topic was copied");
}
