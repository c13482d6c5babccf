//! Codec benchmark: our strict codec beside rumqttc's `mqttbytes` (v4 = 3.1.1, v5) in the same
//! run, with a copy of the same bytes as the physical limit.
//!
//! Each case is measured three ways, per packet:
//! - `decode/<case>/ours`, `.../rumqttc`: a `BytesMut` holding exactly one packet (prepared
//!   outside the timed loop) becomes an owned packet; both sides check the size limit (1 MiB).
//!   Each such buffer is a fresh `Vec`-backed allocation, so the first split of it (done by
//!   both codecs) allocates the shared reference count of the `bytes` crate: that allocation
//!   is in both figures;
//! - `decode/<case>/ours_stream`, `.../rumqttc_stream`: the same packet 256 times back to back
//!   in one `BytesMut`, as a read loop has it, decoded one after the other (time per packet;
//!   the allocation above happens once per buffer);
//! - `decode/<case>/memcpy`: the same bytes copied into a ready buffer;
//!
//! In every decode variant the decoded packets are dropped outside the timed region, for both
//! codecs.
//! - `encode/<case>/ours`, `.../rumqttc`: a prepared packet appended to a cleared, reused
//!   `BytesMut` (ours is the checked encoder: it validates first);
//! - `encode/<case>/memcpy`: the same bytes appended to the cleared buffer.
//!
//! ```text
//! cargo bench -p mqtt-codec --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    decode, decode_bytes, ByteStr, Connect, Limits, Packet, Properties, ProtocolVersion, Publish,
    QoS,
};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

const MAX: u32 = 1 << 20;
/// A 32-byte topic.
const TOPIC: &str = "sensors/building-7/floor-3/temp1";

struct Case {
    name: &'static str,
    version: ProtocolVersion,
    ours: Packet,
    theirs: Theirs,
}

#[allow(clippy::large_enum_variant)] // boxing would add an allocation to rumqttc's timed work
enum Theirs {
    V4(r4::Packet),
    V5(r5::Packet),
}

/// A packet decoded by rumqttc, returned so that it is dropped outside the timed loop, like
/// ours.
#[allow(dead_code, clippy::large_enum_variant)]
enum TheirPacket {
    V4(r4::Packet),
    V5(r5::Packet),
}

impl Theirs {
    fn read(&self, buf: &mut BytesMut) -> TheirPacket {
        match self {
            Theirs::V4(_) => {
                TheirPacket::V4(r4::Packet::read(buf, MAX as usize).expect("rumqttc v4 decodes"))
            }
            Theirs::V5(_) => {
                TheirPacket::V5(r5::Packet::read(buf, Some(MAX)).expect("rumqttc v5 decodes"))
            }
        }
    }

    fn write(&self, buf: &mut BytesMut) {
        match self {
            Theirs::V4(p) => {
                black_box(p.write(buf, MAX as usize).expect("rumqttc v4 encodes"));
            }
            Theirs::V5(p) => {
                black_box(p.write(buf, Some(MAX)).expect("rumqttc v5 encodes"));
            }
        }
    }
}

fn publish(version: ProtocolVersion, payload_len: usize) -> (Packet, Theirs) {
    assert_eq!(TOPIC.len(), 32);
    let payload = Bytes::from(vec![0x5a; payload_len]);
    let ours = Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        packet_id: 42,
        ..Publish::new(TOPIC, payload.clone())
    });
    let theirs = if version.is_v5() {
        Theirs::V5(r5::Packet::Publish(r5::Publish {
            dup: false,
            qos: rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            retain: false,
            topic: Bytes::from_static(TOPIC.as_bytes()),
            pkid: 42,
            payload,
            properties: None,
        }))
    } else {
        Theirs::V4(r4::Packet::Publish(r4::Publish {
            dup: false,
            qos: rumqttc::mqttbytes::QoS::AtLeastOnce,
            retain: false,
            topic: TOPIC.to_string(),
            pkid: 42,
            payload,
        }))
    };
    (ours, theirs)
}

/// A 5.0 CONNECT with several properties, one user property and a login.
fn connect_v5() -> (Packet, Theirs) {
    let ours = Packet::Connect(Box::new(Connect {
        keep_alive: 30,
        clean_start: true,
        username: Some(ByteStr::from("sensor-user")),
        password: Some(Bytes::from_static(b"correct horse battery")),
        properties: Properties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(64),
            maximum_packet_size: Some(MAX),
            topic_alias_maximum: Some(16),
            request_problem_information: Some(true),
            user_properties: vec![(ByteStr::from("site"), ByteStr::from("north-3"))],
            ..Default::default()
        }
        .into(),
        ..Connect::new(ProtocolVersion::V5, "client-0123456789")
    }));
    let mut props = r5::ConnectProperties::new();
    props.session_expiry_interval = Some(3600);
    props.receive_maximum = Some(64);
    props.max_packet_size = Some(MAX);
    props.topic_alias_max = Some(16);
    props.request_problem_info = Some(1);
    props.user_properties = vec![("site".into(), "north-3".into())];
    let theirs = Theirs::V5(r5::Packet::Connect(
        r5::Connect {
            keep_alive: 30,
            client_id: "client-0123456789".into(),
            clean_start: true,
            properties: Some(props),
        },
        None,
        Some(r5::Login::new("sensor-user", "correct horse battery")),
    ));
    (ours, theirs)
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (name, version, len) in [
        (
            "publish_qos1_topic32_payload64_v311",
            ProtocolVersion::V3_1_1,
            64,
        ),
        ("publish_qos1_topic32_payload64_v5", ProtocolVersion::V5, 64),
        ("publish_qos1_payload1k_v311", ProtocolVersion::V3_1_1, 1024),
        ("publish_qos1_payload1k_v5", ProtocolVersion::V5, 1024),
    ] {
        let (ours, theirs) = publish(version, len);
        out.push(Case {
            name,
            version,
            ours,
            theirs,
        });
    }
    let (ours, theirs) = connect_v5();
    out.push(Case {
        name: "connect_v5_props_user_login",
        version: ProtocolVersion::V5,
        ours,
        theirs,
    });
    out
}

/// Both codecs must agree on the bytes, or the comparison means nothing.
fn check_equivalence(c: &Case) -> Bytes {
    let ours = c.ours.to_bytes(c.version).expect("ours encodes");
    let mut theirs = BytesMut::new();
    c.theirs.write(&mut theirs);
    assert_eq!(ours.len(), theirs.len(), "{}: encoded sizes differ", c.name);
    // Each decodes the other's bytes.
    let mut buf = BytesMut::from(&theirs[..]);
    let back = decode(&mut buf, c.version, &Limits::default(), None)
        .expect("ours decodes rumqttc's bytes")
        .expect("complete");
    assert_eq!(back, c.ours, "{}", c.name);
    let theirs_back = c.theirs.read(&mut BytesMut::from(&ours[..]));
    match (&theirs_back, &c.theirs) {
        (TheirPacket::V4(a), Theirs::V4(b)) => assert_eq!(a, b, "{}", c.name),
        (TheirPacket::V5(a), Theirs::V5(b)) => assert_eq!(a, b, "{}", c.name),
        _ => panic!("{}: versions differ", c.name),
    }
    ours
}

/// Packets per buffer in the `*_stream` variants.
const STREAM: usize = 256;

/// Times `decode_one` over buffers of up to [`STREAM`] copies of `bytes`, per packet; the
/// buffers are filled and the packets dropped outside the timed region.
fn stream_iters<T>(
    iters: u64,
    bytes: &[u8],
    mut decode_one: impl FnMut(&mut BytesMut) -> T,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut out = Vec::with_capacity(STREAM);
    let mut left = iters;
    while left > 0 {
        let k = left.min(STREAM as u64) as usize;
        let mut buf = BytesMut::with_capacity(bytes.len() * k);
        for _ in 0..k {
            buf.extend_from_slice(bytes);
        }
        let start = Instant::now();
        for _ in 0..k {
            out.push(decode_one(black_box(&mut buf)));
        }
        total += start.elapsed();
        assert!(buf.is_empty());
        black_box(&out);
        out.clear();
        left -= k as u64;
    }
    total
}

/// Like [`stream_iters`], over one shared `Bytes` read with the zero-copy entry point: each
/// step decodes the packet at the front and advances past it (the packets keep slices of the
/// stream, as rumqttc's keep slices of its `BytesMut`).
fn stream_iters_bytes<T>(
    iters: u64,
    bytes: &[u8],
    mut decode_one: impl FnMut(&Bytes) -> (T, usize),
) -> Duration {
    use mqtt_codec::bytes::Buf;
    let mut total = Duration::ZERO;
    let mut out = Vec::with_capacity(STREAM);
    let mut left = iters;
    while left > 0 {
        let k = left.min(STREAM as u64) as usize;
        let mut fill = BytesMut::with_capacity(bytes.len() * k);
        for _ in 0..k {
            fill.extend_from_slice(bytes);
        }
        let mut buf = fill.freeze();
        let start = Instant::now();
        for _ in 0..k {
            let (p, n) = decode_one(black_box(&buf));
            buf.advance(n);
            out.push(p);
        }
        total += start.elapsed();
        assert!(buf.is_empty());
        black_box(&out);
        out.clear();
        left -= k as u64;
    }
    total
}

fn bench(cr: &mut Criterion) {
    let limits = Limits::with_max_packet_size(MAX);
    for c in cases() {
        let bytes = check_equivalence(&c);
        let v = c.version;

        let mut g = cr.benchmark_group(format!("decode/{}", c.name));
        g.bench_function("ours", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&bytes[..]),
                |buf| black_box(decode(buf, v, &limits, None).unwrap().unwrap()),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&bytes[..]),
                |buf| black_box(c.theirs.read(buf)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("ours_stream", |b| {
            b.iter_custom(|iters| {
                stream_iters(iters, &bytes, |buf| {
                    decode(buf, v, &limits, None).unwrap().unwrap()
                })
            })
        });
        g.bench_function("rumqttc_stream", |b| {
            b.iter_custom(|iters| stream_iters(iters, &bytes, |buf| c.theirs.read(buf)))
        });
        // The same stream through the zero-copy entry point: the way to read a stream of
        // packets from one shared buffer with this codec.
        g.bench_function("ours_bytes_stream", |b| {
            b.iter_custom(|iters| {
                stream_iters_bytes(iters, &bytes, |buf| {
                    decode_bytes(buf, v, &limits, None).unwrap().unwrap()
                })
            })
        });
        // Zero-copy entry point (no rumqttc equivalent): fields are slices of a shared Bytes.
        g.bench_function("ours_decode_bytes", |b| {
            b.iter_batched_ref(
                || bytes.clone(),
                |shared| black_box(decode_bytes(shared, v, &limits, None).unwrap()),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("memcpy", |b| {
            b.iter_batched_ref(
                || vec![0u8; bytes.len()],
                |dst| {
                    dst.copy_from_slice(black_box(&bytes[..]));
                    black_box(dst);
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();

        let mut g = cr.benchmark_group(format!("encode/{}", c.name));
        let mut out = BytesMut::with_capacity(4096);
        g.bench_function("ours", |b| {
            b.iter(|| {
                out.clear();
                black_box(&c.ours).encode(v, &mut out).unwrap();
                black_box(&out);
            })
        });
        g.bench_function("rumqttc", |b| {
            b.iter(|| {
                out.clear();
                black_box(&c.theirs).write(&mut out);
                black_box(&out);
            })
        });
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(&bytes[..]));
                black_box(&out);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
