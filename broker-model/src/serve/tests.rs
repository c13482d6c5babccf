//! Tests of the shell itself over in-memory pipes (and one over loopback TCP): the bytes reach
//! the core and come back, closes and timeouts close streams, a slow reader is dropped with
//! bounded memory, shutdown and restart close everything. Every wait has a deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::*;
use crate::{CloseReason, Config, Event};

const DEADLINE: Duration = Duration::from_secs(10);

/// 3.1.1 CONNECT, clean session, keep alive 60 s, client id `id` (one or two ASCII bytes).
fn connect_packet(id: &str) -> Vec<u8> {
    let id = id.as_bytes();
    let mut p = vec![
        0x10,
        (12 + id.len()) as u8,
        0,
        4,
        b'M',
        b'Q',
        b'T',
        b'T',
        4,
        2,
        0,
        60,
    ];
    p.extend_from_slice(&[0, id.len() as u8]);
    p.extend_from_slice(id);
    p
}

const CONNACK_OK: [u8; 4] = [0x20, 2, 0, 0];
const PINGREQ: [u8; 2] = [0xC0, 0];
const PINGRESP: [u8; 2] = [0xD0, 0];

async fn expect_bytes<S: AsyncRead + Unpin>(s: &mut S, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(DEADLINE, s.read_exact(&mut got))
        .await
        .expect("no answer before the deadline")
        .expect("stream failed");
    assert_eq!(got, want);
}

/// Reads until end of stream (or an error); returns how many bytes came before it.
async fn read_to_close<S: AsyncRead + Unpin>(s: &mut S) -> usize {
    tokio::time::timeout(DEADLINE, async {
        let mut total = 0;
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n,
            }
        }
    })
    .await
    .expect("the stream was not closed before the deadline")
}

async fn connected<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, id: &str) {
    s.write_all(&connect_packet(id)).await.unwrap();
    expect_bytes(s, &CONNACK_OK).await;
}

async fn ping<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    s.write_all(&PINGREQ).await.unwrap();
    expect_bytes(s, &PINGRESP).await;
}

/// A serve call on its own task, its shutdown trigger and its join handle.
struct Running {
    shared: SharedBroker,
    connector: MemoryConnector,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn start(config: Config, options: ServeOptions, pipe_capacity: usize) -> Running {
    let (listener, connector) = memory_pair_with_capacity(pipe_capacity);
    let shared = SharedBroker::new(config, 1);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, shared.clone(), options, async {
        let _ = stopped.await;
    }));
    Running {
        shared,
        connector,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("serve did not return after shutdown")
            .expect("serve panicked");
    }
}

fn no_core_connect_timeout() -> Config {
    Config {
        connect_timeout_secs: 0,
        ..Config::default()
    }
}

#[tokio::test]
async fn bytes_go_through_and_disconnect_closes() {
    let r = start(Config::default(), ServeOptions::default(), 4096);
    let mut c = r.connector.connect().await.unwrap();
    // Split CONNECT in two writes: the core reassembles.
    let p = connect_packet("a");
    let (head, tail) = p.split_at(5);
    c.write_all(head).await.unwrap();
    c.flush().await.unwrap();
    c.write_all(tail).await.unwrap();
    expect_bytes(&mut c, &CONNACK_OK).await;
    ping(&mut c).await;
    // DISCONNECT: the core answers Close, the shell closes the stream.
    c.write_all(&[0xE0, 0]).await.unwrap();
    assert_eq!(read_to_close(&mut c).await, 0);
    r.shutdown().await;
}

#[tokio::test]
async fn protocol_violation_closes_the_stream() {
    let r = start(Config::default(), ServeOptions::default(), 4096);
    let mut c = r.connector.connect().await.unwrap();
    // A first packet that is not CONNECT [MQTT-3.1.0-1].
    c.write_all(&PINGREQ).await.unwrap();
    assert_eq!(read_to_close(&mut c).await, 0);
    r.shutdown().await;
}

#[tokio::test]
async fn shell_connect_timeout_closes_a_silent_connection_only() {
    let options = ServeOptions {
        connect_timeout: Some(Duration::from_millis(100)),
        ..ServeOptions::default()
    };
    let r = start(no_core_connect_timeout(), options, 4096);
    let mut talker = r.connector.connect().await.unwrap();
    connected(&mut talker, "t").await;
    let mut silent = r.connector.connect().await.unwrap();
    assert_eq!(read_to_close(&mut silent).await, 0);
    // The silent connection was opened after the talker, so the talker's own deadline has
    // passed too: it is still served because its CONNECT was accepted.
    ping(&mut talker).await;
    assert_eq!(r.shared.connection_count(), 1);
    r.shutdown().await;
}

#[tokio::test]
async fn core_connect_timeout_runs_on_the_shell_timer() {
    let config = Config {
        connect_timeout_secs: 1,
        ..Config::default()
    };
    let r = start(config, ServeOptions::default(), 4096);
    let closes = Arc::new(Mutex::new(Vec::new()));
    let seen = closes.clone();
    r.shared.set_event_hook(move |e| {
        if let Event::Disconnected { reason, .. } = e {
            seen.lock().unwrap().push(*reason);
        }
    });
    let mut silent = r.connector.connect().await.unwrap();
    assert_eq!(read_to_close(&mut silent).await, 0);
    assert_eq!(
        closes.lock().unwrap().as_slice(),
        &[CloseReason::ConnectTimeout]
    );
    r.shutdown().await;
}

/// 3.1.1 SUBSCRIBE, packet id 1, one filter, QoS 0.
fn subscribe_packet(filter: &str) -> Vec<u8> {
    let f = filter.as_bytes();
    let mut p = vec![0x82, (5 + f.len()) as u8, 0, 1, 0, f.len() as u8];
    p.extend_from_slice(f);
    p.push(0);
    p
}

/// 3.1.1 PUBLISH at QoS 0 to a one-byte topic, with a payload of `len` bytes (len < 16000).
fn publish_packet(topic: u8, len: usize) -> Vec<u8> {
    let remaining = 3 + len;
    let mut p = vec![
        0x30,
        (remaining % 128) as u8 | 0x80,
        (remaining / 128) as u8,
    ];
    p.extend_from_slice(&[0, 1, topic]);
    p.resize(p.len() + len, b'x');
    p
}

#[tokio::test]
async fn slow_reader_is_dropped_with_bounded_memory() {
    const PIPE: usize = 1024;
    let options = ServeOptions {
        max_write_queue: 8,
        max_write_bytes: 4096,
        ..ServeOptions::default()
    };
    let r = start(no_core_connect_timeout(), options.clone(), PIPE);
    let mut slow = r.connector.connect().await.unwrap();
    connected(&mut slow, "s").await;
    slow.write_all(&subscribe_packet("t")).await.unwrap();
    expect_bytes(&mut slow, &[0x90, 3, 0, 1, 0]).await;

    let mut publisher = r.connector.connect().await.unwrap();
    connected(&mut publisher, "p").await;
    // 200 messages of about 1 KB: 200 KB in all, far more than the pipe and the queue hold.
    let one = publish_packet(b't', 1000);
    for _ in 0..200 {
        publisher.write_all(&one).await.unwrap();
    }
    // The publisher is still served; the slow reader has been dropped.
    ping(&mut publisher).await;
    let delivered = read_to_close(&mut slow).await;
    let bound = PIPE + options.max_write_bytes + one.len();
    assert!(
        delivered <= bound,
        "{delivered} bytes reached the slow reader, more than the bound {bound}"
    );
    assert!(delivered > 0, "the reader got nothing at all");
    assert_eq!(r.shared.connection_count(), 1);
    r.shutdown().await;
}

#[tokio::test]
async fn a_burst_reaches_a_reading_subscriber_whole_and_in_order() {
    // 5,000 small QoS 0 messages written in one go: far more packets than a connection's queue
    // ever held before the writer gathered them (1,024). A subscriber that keeps reading gets
    // every one, byte-exact and in order, with the default limits, and stays connected.
    const N: u32 = 5_000;
    let r = start(
        no_core_connect_timeout(),
        ServeOptions::default(),
        64 * 1024,
    );
    let mut sub = r.connector.connect().await.unwrap();
    connected(&mut sub, "s").await;
    sub.write_all(&subscribe_packet("t")).await.unwrap();
    expect_bytes(&mut sub, &[0x90, 3, 0, 1, 0]).await;
    let mut publisher = r.connector.connect().await.unwrap();
    connected(&mut publisher, "p").await;
    let message = |i: u32| {
        let mut p = vec![0x30, 7, 0, 1, b't'];
        p.extend_from_slice(&i.to_be_bytes());
        p
    };
    let burst: Vec<u8> = (0..N).flat_map(message).collect();
    let expected = burst.clone();
    let write = async move {
        publisher.write_all(&burst).await.unwrap();
        publisher
    };
    let read = async {
        let mut got = vec![0u8; expected.len()];
        tokio::time::timeout(DEADLINE, sub.read_exact(&mut got))
            .await
            .expect("the burst did not arrive before the deadline")
            .expect("the subscriber's stream failed");
        got
    };
    let (mut publisher, got) = tokio::join!(write, read);
    assert!(got == expected, "the burst arrived altered or out of order");
    ping(&mut sub).await;
    ping(&mut publisher).await;
    assert_eq!(r.shared.connection_count(), 2);
    r.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection() {
    let r = start(no_core_connect_timeout(), ServeOptions::default(), 4096);
    // b has a will on w/b and is closed before a at shutdown (lower connection id): its will
    // must not reach a, which is being closed at the same time.
    let mut b = r.connector.connect().await.unwrap();
    let connect_with_will = [
        0x10, 22, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x06, 0, 60, 0, 1, b'b', 0, 3, b'w', b'/', b'b',
        0, 2, b'h', b'i',
    ];
    b.write_all(&connect_with_will).await.unwrap();
    expect_bytes(&mut b, &CONNACK_OK).await;
    let mut a = r.connector.connect().await.unwrap();
    connected(&mut a, "a").await;
    a.write_all(&subscribe_packet("w/#")).await.unwrap();
    expect_bytes(&mut a, &[0x90, 3, 0, 1, 0]).await;
    let mut silent = r.connector.connect().await.unwrap();
    // Whether or not the silent one is accepted yet, shutdown must close it.
    ping(&mut a).await;
    let shared = r.shared.clone();
    r.shutdown().await;
    assert_eq!(read_to_close(&mut a).await, 0);
    assert_eq!(read_to_close(&mut b).await, 0);
    assert_eq!(read_to_close(&mut silent).await, 0);
    assert_eq!(shared.connection_count(), 0);
}

#[tokio::test]
async fn shutdown_tells_v5_clients_why() {
    // A 5.0 client gets DISCONNECT 0x8B (Server shutting down) before the close; a 3.1.1
    // client, which has no server DISCONNECT, just sees the close.
    let r = start(no_core_connect_timeout(), ServeOptions::default(), 4096);
    let mut v5 = r.connector.connect().await.unwrap();
    let connect_v5 = [
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 0, 0, 0, 1, b'v',
    ];
    v5.write_all(&connect_v5).await.unwrap();
    let mut v3 = r.connector.connect().await.unwrap();
    connected(&mut v3, "c3").await;
    // Read the CONNACK (its properties depend on the configuration) up to its end.
    let mut head = [0u8; 2];
    tokio::time::timeout(DEADLINE, v5.read_exact(&mut head))
        .await
        .expect("CONNACK in time")
        .unwrap();
    assert_eq!(head[0], 0x20, "CONNACK first");
    let mut rest = vec![0u8; usize::from(head[1])];
    v5.read_exact(&mut rest).await.unwrap();
    ping(&mut v3).await;
    r.shutdown().await;
    let mut tail = Vec::new();
    tokio::time::timeout(DEADLINE, v5.read_to_end(&mut tail))
        .await
        .expect("close in time")
        .unwrap();
    assert_eq!(tail, [0xE0, 0x01, 0x8B], "DISCONNECT 0x8B then the close");
    assert_eq!(read_to_close(&mut v3).await, 0);
}

#[tokio::test]
async fn restart_drops_connections_and_serving_goes_on() {
    let r = start(no_core_connect_timeout(), ServeOptions::default(), 4096);
    let mut a = r.connector.connect().await.unwrap();
    connected(&mut a, "a").await;
    r.shared.restart();
    assert_eq!(read_to_close(&mut a).await, 0);
    let mut b = r.connector.connect().await.unwrap();
    connected(&mut b, "b").await;
    ping(&mut b).await;
    r.shutdown().await;
}

#[tokio::test]
async fn dropped_serve_then_restart_and_serve_again() {
    let (listener, connector) = memory_pair();
    let shared = SharedBroker::new(no_core_connect_timeout(), 3);
    let task = tokio::spawn(serve(listener, shared.clone(), std::future::pending()));
    let mut a = connector.connect().await.unwrap();
    connected(&mut a, "a").await;
    // A crash of the host: the serve future is dropped.
    task.abort();
    let _ = task.await;
    assert_eq!(read_to_close(&mut a).await, 0);
    shared.restart();
    let (listener, connector) = memory_pair();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, shared.clone(), async {
        let _ = stopped.await;
    }));
    let mut b = connector.connect().await.unwrap();
    connected(&mut b, "a").await;
    ping(&mut b).await;
    let _ = stop.send(());
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn tcp_listener_serves_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_config(listener, Config::default(), 5, async {
        let _ = stopped.await;
    }));
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    connected(&mut c, "tcp").await;
    ping(&mut c).await;
    let _ = stop.send(());
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(read_to_close(&mut c).await, 0);
}

#[tokio::test]
async fn two_listeners_share_one_broker() {
    let (l1, c1) = memory_pair();
    let (l2, c2) = memory_pair();
    let shared = SharedBroker::new(no_core_connect_timeout(), 9);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_many(
        vec![l1, l2],
        shared.clone(),
        ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut sub = c1.connect().await.unwrap();
    connected(&mut sub, "s").await;
    sub.write_all(&subscribe_packet("t")).await.unwrap();
    expect_bytes(&mut sub, &[0x90, 3, 0, 1, 0]).await;
    let mut publisher = c2.connect().await.unwrap();
    connected(&mut publisher, "p").await;
    // PUBLISH QoS 0, topic "t", payload "hi".
    let publish = [0x30, 5, 0, 1, b't', b'h', b'i'];
    publisher.write_all(&publish).await.unwrap();
    expect_bytes(&mut sub, &publish).await;
    assert_eq!(shared.connection_count(), 2);
    let _ = stop.send(());
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(read_to_close(&mut sub).await, 0);
    assert_eq!(read_to_close(&mut publisher).await, 0);
}

#[test]
fn custom_clock_never_goes_back() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let millis = Arc::new(AtomicU64::new(5_000));
    let source = millis.clone();
    let shared = SharedBroker::with_clock(Config::default(), 2, move || {
        Duration::from_millis(source.load(Ordering::SeqCst))
    });
    assert_eq!(shared.now(), Duration::from_secs(5));
    millis.store(3_000, Ordering::SeqCst);
    assert_eq!(shared.now(), Duration::from_secs(5));
    millis.store(7_500, Ordering::SeqCst);
    assert_eq!(shared.now(), Duration::from_millis(7_500));
    // The core sees the same time through with_broker.
    let seen = shared.with_broker(|_, now| now);
    assert_eq!(seen, Duration::from_millis(7_500));
}

// ----- Transports: WebSocket and TLS (chapter 6) -----

/// Serves `listener` (already upgraded) with a default broker until the returned sender fires.
fn serve_upgraded(listener: UpgradeListener) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        SharedBroker::new(Config::default(), 1),
        async {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}

/// A WebSocket reference broker over in-memory pipes with `options`, and a client
/// connection to it.
async fn ws_pair(
    options: ws::WsOptions,
) -> (
    io::Result<ws::WsConnection<tokio::io::DuplexStream>>,
    oneshot::Sender<()>,
) {
    let (listener, connector) = memory_pair();
    let (stop, _task) = serve_upgraded(UpgradeListener::ws(listener, options));
    let pipe = connector.connect().await.unwrap();
    let c = tokio::time::timeout(DEADLINE, ws::connect(pipe, "ws://embedded/mqtt"))
        .await
        .expect("handshake within the deadline");
    (c, stop)
}

use std::io;

#[tokio::test]
async fn websocket_selects_mqtt_and_reassembles_packets_across_frames() {
    let (c, _stop) = ws_pair(ws::WsOptions::default()).await;
    let c = c.expect("handshake");
    // [MQTT-6.0.0-4]
    assert_eq!(c.subprotocol.as_deref(), Some("mqtt"));
    let mut s = c.stream;
    let control = s.control();
    // [MQTT-6.0.0-2]: CONNECT one byte per frame, then SUBSCRIBE + PUBLISH in one frame.
    control.next_in_chunks(1);
    s.write_all(&connect_packet("w")).await.unwrap();
    s.flush().await.unwrap();
    expect_bytes(&mut s, &CONNACK_OK).await;
    let mut both = subscribe_packet("t");
    both.extend_from_slice(&[0x30, 4, 0, 1, b't', b'!']);
    s.write_all(&both).await.unwrap();
    s.flush().await.unwrap();
    expect_bytes(&mut s, &[0x90, 3, 0, 1, 0]).await;
    expect_bytes(&mut s, &[0x30, 4, 0, 1, b't', b'!']).await;
    ping(&mut s).await;
}

#[tokio::test]
async fn websocket_text_frame_closes_the_connection() {
    let (c, _stop) = ws_pair(ws::WsOptions::default()).await;
    let mut s = c.expect("handshake").stream;
    connected(&mut s, "x").await;
    // [MQTT-6.0.0-1]: a PINGREQ-shaped text frame (valid UTF-8: a QoS 0 PUBLISH) closes.
    s.control().next_as_text();
    s.write_all(&[0x30, 4, 0, 1, b't', b'!']).await.unwrap();
    s.flush().await.unwrap();
    assert_eq!(read_to_close(&mut s).await, 0);
}

#[tokio::test]
async fn websocket_broken_options_break_their_rules() {
    // Text taken as binary: the PUBLISH in a text frame is accepted and the line stays up.
    let (c, _stop) = ws_pair(ws::WsOptions {
        on_text: ws::OnText::AcceptAsBinary,
        ..Default::default()
    })
    .await;
    let mut s = c.expect("handshake").stream;
    connected(&mut s, "y").await;
    s.write_all(&subscribe_packet("t")).await.unwrap();
    expect_bytes(&mut s, &[0x90, 3, 0, 1, 0]).await;
    s.control().next_as_text();
    s.write_all(&[0x30, 4, 0, 1, b't', b'!']).await.unwrap();
    expect_bytes(&mut s, &[0x30, 4, 0, 1, b't', b'!']).await;
    ping(&mut s).await;
    // No subprotocol returned: the client's handshake fails, naming the subprotocol.
    let (c, _stop) = ws_pair(ws::WsOptions {
        subprotocol: None,
        ..Default::default()
    })
    .await;
    let e = c.expect_err("no subprotocol");
    assert!(
        e.get_ref()
            .and_then(|e| e.downcast_ref::<ws::SubprotocolMismatch>())
            .is_some(),
        "{e}"
    );
    // One packet per frame: a CONNECT cut in two frames closes the connection.
    let (c, _stop) = ws_pair(ws::WsOptions {
        framing: ws::Framing::OnePacketPerFrame,
        ..Default::default()
    })
    .await;
    let mut s = c.expect("handshake").stream;
    s.control().next_in_chunks(3);
    s.write_all(&connect_packet("z")).await.unwrap();
    s.flush().await.unwrap();
    assert_eq!(read_to_close(&mut s).await, 0);
}

#[tokio::test]
async fn websocket_handshake_without_mqtt_is_refused() {
    let (listener, connector) = memory_pair();
    let (_stop, _task) = serve_upgraded(UpgradeListener::ws(listener, ws::WsOptions::default()));
    let pipe = connector.connect().await.unwrap();
    let r = tokio::time::timeout(
        DEADLINE,
        tokio_tungstenite::client_async("ws://embedded/mqtt", pipe),
    )
    .await
    .expect("answer within the deadline");
    let e = r.expect_err("refused");
    assert!(e.to_string().contains("400"), "{e}");
}

/// A self-signed certificate for `localhost` / 127.0.0.1, as (chain, key, root store).
fn test_certificate() -> (
    Vec<rustls_pki_types::CertificateDer<'static>>,
    rustls_pki_types::PrivateKeyDer<'static>,
    tokio_rustls::rustls::RootCertStore,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    let cert = ck.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("root");
    (vec![cert], key, roots)
}

fn tls_client(roots: tokio_rustls::rustls::RootCertStore) -> tls::TlsConnector {
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn tls_and_wss_listeners_serve_loopback() {
    let (chain, key, roots) = test_certificate();
    let acceptor = tls::TlsAcceptor::from(tls::server_config(chain, key).unwrap());
    let connector = tls_client(roots);
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (_stop, _task) = serve_upgraded(UpgradeListener::tls(tcp, acceptor.clone()));
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = connector
        .connect(name.clone(), sock)
        .await
        .expect("TLS handshake");
    connected(&mut s, "t").await;
    ping(&mut s).await;

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (_stop2, _task2) = serve_upgraded(UpgradeListener::wss(
        tcp,
        acceptor,
        ws::WsOptions::default(),
    ));
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector.connect(name, sock).await.expect("TLS handshake");
    let c = ws::connect(tls, &format!("wss://localhost:{}/mqtt", addr.port()))
        .await
        .expect("WebSocket handshake");
    assert_eq!(c.subprotocol.as_deref(), Some("mqtt"));
    let mut s = c.stream;
    connected(&mut s, "u").await;
    ping(&mut s).await;
}

#[tokio::test]
async fn tls_handshake_failure_does_not_stop_the_listener() {
    let (chain, key, roots) = test_certificate();
    let acceptor = tls::TlsAcceptor::from(tls::server_config(chain, key).unwrap());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (_stop, _task) = serve_upgraded(UpgradeListener::tls(tcp, acceptor));
    // Plain MQTT bytes on a TLS port: that handshake fails and is dropped...
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(&connect_packet("p")).await.unwrap();
    read_to_close(&mut plain).await; // panics if the server keeps it open
                                     // ... and a silent connection holds nothing up: the next client gets through.
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = tls_client(roots)
        .connect(name, sock)
        .await
        .expect("TLS handshake");
    connected(&mut s, "q").await;
}

#[tokio::test]
async fn websocket_text_frame_gets_close_code_1003() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::Message;
    let (listener, connector) = memory_pair();
    let (_stop, _task) = serve_upgraded(UpgradeListener::ws(listener, ws::WsOptions::default()));
    let pipe = connector.connect().await.unwrap();
    let mut req = "ws://embedded/mqtt".into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let (mut c, _) = tokio_tungstenite::client_async(req, pipe).await.unwrap();
    c.send(Message::binary(connect_packet("c"))).await.unwrap();
    let m = tokio::time::timeout(DEADLINE, c.next()).await.unwrap();
    assert_eq!(m.unwrap().unwrap(), Message::binary(CONNACK_OK.to_vec()));
    c.send(Message::text("0\u{4}\u{0}\u{1}t!")).await.unwrap();
    let m = tokio::time::timeout(DEADLINE, c.next()).await.unwrap();
    match m {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Unsupported),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn silent_handshakes_are_bounded() {
    let (listener, connector) = memory_pair();
    let (_stop, _task) = serve_upgraded(UpgradeListener::ws(listener, ws::WsOptions::default()));
    let mut silent = Vec::new();
    for _ in 0..MAX_PENDING_HANDSHAKES {
        silent.push(connector.connect().await.unwrap());
    }
    // Let the listener take them all in.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more is closed at once, long before the handshake timeout.
    let mut extra = connector.connect().await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut buf))
        .await
        .expect("the connection over the bound is closed at once");
    assert_eq!(n.unwrap(), 0);
    // A silent connection that is within the bound is still open.
    let first = silent.first_mut().unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), first.read(&mut buf))
            .await
            .is_err()
    );
}
