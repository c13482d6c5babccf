//! Broker benchmark: the reference broker (`serve` over loopback TCP, on a multi-thread tokio
//! runtime as `mqtt-conform broker` runs it) beside mosquitto (a separate process) in the same
//! run, driven by the same client over 127.0.0.1.
//!
//! Cases (MQTT 5.0, a 32-byte topic, 64-byte payloads), time per message:
//! - `fanout_qos0/<broker>`: one publisher writes 2,000 QoS 0 PUBLISH back to back; timed until
//!   the subscriber (QoS 0 subscription) has read all of them.
//! - `roundtrip_qos1/<broker>`: one publisher sends 1,000 QoS 1 PUBLISH keeping at most the
//!   broker's Receive Maximum (capped at 64) unacknowledged; the subscriber (QoS 1) acknowledges
//!   each delivery; timed until the publisher has every PUBACK and the subscriber every
//!   message.
//! - `connect/<broker>`: TCP connect, CONNECT, CONNACK, DISCONNECT, one connection at a time
//!   (time per connection).
//!
//! The client is written on this project's codec and is the same for both brokers, so the
//! ratio compares the brokers. With no mosquitto installed only the reference broker is
//! measured (a note is printed).
//!
//! ```text
//! cargo bench -p mqtt-broker-model --bench broker -- --warm-up-time 1 --measurement-time 5
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_broker_model::serve::{serve, SharedBroker};
use mqtt_broker_model::Config;
use mqtt_codec::{
    decode, Connect, Disconnect, Limits, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    Side, Subscribe, Subscription,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const V5: ProtocolVersion = ProtocolVersion::V5;
/// A 32-byte topic.
const TOPIC: &str = "bench/building-7/floor-3/temp-01";
const QOS0_MESSAGES: u64 = 2_000;
const QOS1_MESSAGES: u64 = 1_000;
/// The publisher's window of unacknowledged QoS 1 messages (or the broker's Receive Maximum
/// if smaller).
const WINDOW: usize = 64;
/// Longest a single case may wait for the broker before the benchmark gives up.
const STALL: Duration = Duration::from_secs(20);

/// The reference broker on its own runtime; dropped with it.
struct Ours {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn start_ours() -> Ours {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    runtime.spawn(serve(
        listener,
        SharedBroker::new(Config::default(), 1),
        std::future::pending(),
    ));
    Ours {
        addr,
        _runtime: runtime,
    }
}

/// mosquitto on a free loopback port, killed when dropped.
struct Mosquitto {
    addr: SocketAddr,
    child: Child,
    _dir: PathBuf,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_mosquitto() -> Option<Mosquitto> {
    let bin = [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("mqtt-bench-mosquitto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let conf = dir.join("mosquitto.conf");
    // No limits on queued or in-flight messages: the client's Receive Maximum governs, as it
    // does for the reference broker. TCP_NODELAY as the reference broker sets it (mosquitto's
    // default leaves Nagle on, and the end of each burst would wait for a delayed ACK).
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\nlog_type none\nset_tcp_nodelay true\n"
        ),
    )
    .ok()?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let m = Mosquitto {
        addr,
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            eprintln!("mosquitto did not listen on {addr}: measuring the reference broker only");
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(m)
}

/// One MQTT 5.0 connection of the benchmark client.
struct Client {
    rx: OwnedReadHalf,
    tx: OwnedWriteHalf,
    inbox: BytesMut,
    out: BytesMut,
    /// The broker's Receive Maximum from CONNACK.
    receive_maximum: u16,
}

impl Client {
    async fn connect(addr: SocketAddr, id: &str) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the broker");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (rx, tx) = stream.into_split();
        let mut c = Client {
            rx,
            tx,
            inbox: BytesMut::with_capacity(64 * 1024),
            out: BytesMut::with_capacity(64 * 1024),
            receive_maximum: u16::MAX,
        };
        let mut connect = Connect::new(V5, id);
        connect.properties.receive_maximum = Some(u16::MAX);
        c.queue(Packet::Connect(Box::new(connect)));
        c.flush().await;
        match c.next().await {
            Packet::ConnAck(a) if a.reason_code == ReasonCode::SUCCESS => {
                c.receive_maximum = a.properties.receive_maximum.unwrap_or(u16::MAX);
            }
            other => panic!("expected a successful CONNACK, got {other:?}"),
        }
        c
    }

    fn queue(&mut self, p: Packet) {
        p.encode(V5, &mut self.out).expect("a valid packet");
    }

    async fn flush(&mut self) {
        if !self.out.is_empty() {
            self.tx.write_all(&self.out).await.expect("write");
            self.out.clear();
        }
    }

    /// The next packet from the broker.
    async fn next(&mut self) -> Packet {
        loop {
            match decode(&mut self.inbox, V5, &Limits::default(), Some(Side::Server)) {
                Ok(Some(p)) => return p,
                Ok(None) => {}
                Err(e) => panic!("the broker sent a malformed packet: {e}"),
            }
            let n = tokio::time::timeout(STALL, self.rx.read_buf(&mut self.inbox))
                .await
                .expect("the broker stalled")
                .expect("read");
            assert!(n > 0, "the broker closed the connection");
        }
    }

    async fn subscribe(&mut self, qos: QoS) {
        self.queue(Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![Subscription::new(TOPIC, qos)],
            ..Default::default()
        }));
        self.flush().await;
        match self.next().await {
            Packet::SubAck(_) => {}
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    async fn disconnect(mut self) {
        self.queue(Packet::Disconnect(Disconnect::new(
            ReasonCode::NORMAL_DISCONNECTION,
        )));
        self.flush().await;
        let _ = self.tx.shutdown().await;
    }
}

fn publish(qos: QoS, packet_id: u16, payload: &Bytes) -> Packet {
    let mut p = Publish::new(TOPIC, payload.clone());
    p.qos = qos;
    p.packet_id = packet_id;
    Packet::Publish(p)
}

/// A publisher and a subscriber on `addr`, ready for a round of `case`.
struct Pair {
    publisher: Client,
    subscriber: Client,
}

async fn pair(addr: SocketAddr, qos: QoS, tag: &str) -> Pair {
    let mut subscriber = Client::connect(addr, &format!("bench-sub-{tag}")).await;
    subscriber.subscribe(qos).await;
    let publisher = Client::connect(addr, &format!("bench-pub-{tag}")).await;
    Pair {
        publisher,
        subscriber,
    }
}

/// `n` QoS 0 messages written back to back; returns when the subscriber has read them all.
async fn fanout_qos0(p: &mut Pair, n: u64, payload: &Bytes) {
    let publisher = &mut p.publisher;
    let subscriber = &mut p.subscriber;
    let send = async {
        for _ in 0..n {
            publisher.queue(publish(QoS::AtMostOnce, 0, payload));
            if publisher.out.len() >= 32 * 1024 {
                publisher.flush().await;
            }
        }
        publisher.flush().await;
    };
    let receive = async {
        let mut got = 0;
        while got < n {
            if let Packet::Publish(_) = subscriber.next().await {
                got += 1;
            }
        }
    };
    tokio::join!(send, receive);
}

/// `n` QoS 1 messages within the window; returns when every PUBACK and every delivery is in.
async fn roundtrip_qos1(p: &mut Pair, n: u64, payload: &Bytes) {
    let window = usize::from(p.publisher.receive_maximum).clamp(1, WINDOW) as u64;
    let publisher = &mut p.publisher;
    let subscriber = &mut p.subscriber;
    let send = async {
        let (mut sent, mut acked) = (0u64, 0u64);
        while acked < n {
            while sent < n && sent - acked < window {
                // Packet ids 1..=window, reused once acknowledged (acks come back in order).
                let id = (sent % window) as u16 + 1;
                publisher.queue(publish(QoS::AtLeastOnce, id, payload));
                sent += 1;
            }
            publisher.flush().await;
            if let Packet::PubAck(_) = publisher.next().await {
                acked += 1;
            }
        }
    };
    let receive = async {
        let mut got = 0;
        while got < n {
            if let Packet::Publish(m) = subscriber.next().await {
                got += 1;
                subscriber.queue(Packet::PubAck(PubAck::new(m.packet_id)));
                if subscriber.inbox.is_empty() {
                    subscriber.flush().await;
                }
            }
        }
        subscriber.flush().await;
    };
    tokio::join!(send, receive);
}

/// One timed round of a publish case.
type RoundFn =
    for<'a> fn(&'a mut Pair, u64, &'a Bytes) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;

async fn connect_once(addr: SocketAddr) {
    Client::connect(addr, "bench-connect")
        .await
        .disconnect()
        .await;
}

fn brokers(c: &mut Criterion) {
    let ours = start_ours();
    let mosquitto = start_mosquitto();
    if mosquitto.is_none() {
        eprintln!("mosquitto not found: measuring the reference broker only");
    }
    let mut targets: Vec<(&str, SocketAddr)> = vec![("ours", ours.addr)];
    if let Some(m) = &mosquitto {
        targets.push(("mosquitto", m.addr));
    }
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let payload = Bytes::from(vec![0x5a; 64]);

    let groups: [(&str, QoS, u64, RoundFn); 2] = [
        ("fanout_qos0", QoS::AtMostOnce, QOS0_MESSAGES, |p, n, m| {
            Box::pin(fanout_qos0(p, n, m))
        }),
        (
            "roundtrip_qos1",
            QoS::AtLeastOnce,
            QOS1_MESSAGES,
            |p, n, m| Box::pin(roundtrip_qos1(p, n, m)),
        ),
    ];
    for (group, qos, n, round) in groups {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(n));
        for (name, addr) in &targets {
            let mut p = client.block_on(pair(*addr, qos, group));
            g.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        client.block_on(round(&mut p, n, &payload));
                    }
                    start.elapsed()
                })
            });
            client.block_on(async {
                p.publisher.disconnect().await;
                p.subscriber.disconnect().await;
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("connect");
    g.throughput(Throughput::Elements(1));
    for (name, addr) in &targets {
        g.bench_function(*name, |b| b.iter(|| client.block_on(connect_once(*addr))));
    }
    g.finish();
}

criterion_group!(benches, brokers);
criterion_main!(benches);
