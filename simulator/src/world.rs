//! The state shared by the hosts of one simulation (kept outside the hosts, so it survives
//! crashes and bounces), the broker host's listener with its network recorder, and the client
//! hosts' task.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use mqtt_broker_model::serve::Listener;
use mqtt_codec::{decode, Limits, Packet, ProtocolVersion, QoS, ReasonCode, Side};
use mqtt_spec::Protocol;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;

use crate::client::{connack_accepts, AppEvent, ClientConfig, ClientModel, OutMessage};
use crate::history::{millis, EventKind, History, Millis, NicConn};
use crate::stream::{PacketStream, Rewrite};

/// The boxed byte stream type the broker serves.
pub type BoxStream = Box<dyn mqtt_conformance::target::Stream>;

/// Wraps the broker's side of each accepted connection (tests use it to build faulty brokers).
/// Arguments: the number of broker restarts so far, and the stream.
pub type StreamWrapper = Arc<dyn Fn(u64, BoxStream) -> BoxStream + Send + Sync>;

/// The broker's port on its host.
pub const BROKER_PORT: u16 = 1883;
/// The broker's WebSocket port in the conformance simulation.
pub const BROKER_WS_PORT: u16 = 8080;
/// The broker's host name.
pub const BROKER_HOST: &str = "broker";

/// A command for a client, given by the scenario between simulation steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Publish this message.
    Publish(OutMessage),
    /// Send DISCONNECT (normal), close, and stay offline.
    GoOffline,
    /// Connect (again).
    GoOnline,
}

/// One client's slot in the shared state.
#[derive(Debug)]
pub struct ClientSlot {
    /// The client's session state (persistent across its crashes).
    pub model: ClientModel,
    /// Commands not yet taken by its task.
    pub commands: VecDeque<Command>,
    /// Whether it should be connected.
    pub online: bool,
    /// Wakes its task.
    pub notify: Arc<Notify>,
}

/// Everything the hosts share.
#[derive(Debug, Default)]
pub struct WorldState {
    /// The history.
    pub history: History,
    /// Clients by id (= host name).
    pub clients: BTreeMap<String, ClientSlot>,
    /// Connections accepted by the broker host so far.
    pub next_conn: u64,
}

/// A handle on the shared state and the simulation clock.
#[derive(Debug, Clone, Default)]
pub struct World {
    state: Arc<Mutex<WorldState>>,
    /// Simulated time as last set by the driver (used outside host context).
    driver_now: Arc<AtomicU64>,
    /// Broker restarts so far.
    pub(crate) restarts: Arc<AtomicU64>,
    /// The broker host's open sockets, by connection (see [`HeldStream`]).
    sockets: Arc<Mutex<BTreeMap<u64, SocketSlot>>>,
    /// Set while the broker host is being bounced.
    bouncing: Arc<std::sync::atomic::AtomicBool>,
}

type SocketSlot = Arc<Mutex<Option<turmoil::net::TcpStream>>>;

impl World {
    /// Locks the shared state.
    pub fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulated time: the host's view inside a host's runtime, the driver's outside
    /// (turmoil's host clock reads tokio's clock, which is real time outside a runtime, for
    /// example while a crashed host's sockets are dropped).
    pub fn now(&self) -> Duration {
        let driver = Duration::from_nanos(self.driver_now.load(Ordering::Relaxed));
        if tokio::runtime::Handle::try_current().is_err() {
            return driver;
        }
        turmoil::sim_elapsed().unwrap_or(driver)
    }

    /// Milliseconds of simulated time.
    pub fn now_ms(&self) -> Millis {
        millis(self.now())
    }

    /// Marks the start and the end of a bounce of the broker host.
    pub(crate) fn set_bouncing(&self, on: bool) {
        self.bouncing.store(on, Ordering::Relaxed);
    }

    /// Drops, in connection order, the sockets a bounce left behind (called by the new broker
    /// software, inside the host). A bounce drops the old runtime's tasks in an order that
    /// depends on process-wide task ids; closing sockets then would make the order of their
    /// FIN segments (and of turmoil's latency draws) differ between runs of one seed.
    fn drop_orphans(&self) {
        let orphans = std::mem::take(&mut *self.sockets.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, slot) in orphans {
            let s = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(s);
        }
    }

    pub(crate) fn set_driver_now(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.driver_now.store(n, Ordering::Relaxed);
    }

    /// Records an event now.
    pub fn record(&self, kind: EventKind) {
        let at = self.now_ms();
        self.lock().history.push(at, kind);
    }

    /// Adds a client.
    pub fn add_client(&self, config: ClientConfig, online: bool) {
        let id = config.client_id.clone();
        self.lock().clients.insert(
            id,
            ClientSlot {
                model: ClientModel::new(config),
                commands: VecDeque::new(),
                online,
                notify: Arc::new(Notify::new()),
            },
        );
    }

    /// Gives a command to a client and wakes it.
    pub fn command(&self, client: &str, cmd: Command) {
        let at = self.now_ms();
        let mut st = self.lock();
        if let Command::Publish(m) = &cmd {
            st.history.push(
                at,
                EventKind::Published {
                    client: client.to_string(),
                    topic: m.topic.clone(),
                    payload: m.payload.clone(),
                },
            );
        }
        if let Some(slot) = st.clients.get_mut(client) {
            match cmd {
                Command::GoOnline => slot.online = true,
                Command::GoOffline => {
                    slot.online = false;
                    slot.commands.push_back(cmd);
                }
                Command::Publish(_) => slot.commands.push_back(cmd),
            }
            slot.notify.notify_one();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The broker host

/// The broker host's listener: turmoil's TCP, each connection recorded at the interface and
/// optionally wrapped.
pub struct SimListener {
    pub(crate) inner: turmoil::net::TcpListener,
    pub(crate) world: World,
    pub(crate) wrap: Option<StreamWrapper>,
}

impl Listener for SimListener {
    type Stream = BoxStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (stream, peer) = self.inner.accept().await?;
        let now = self.world.now_ms();
        let id = {
            let mut st = self.world.lock();
            st.next_conn += 1;
            let id = st.next_conn;
            st.history.nic.insert(
                id,
                NicConn {
                    accepted_at: now,
                    last_rx: now,
                    ..NicConn::default()
                },
            );
            id
        };
        let slot: SocketSlot = Arc::new(Mutex::new(Some(stream)));
        self.world
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, slot.clone());
        let held = HeldStream {
            slot,
            world: self.world.clone(),
            id,
        };
        let recorded: BoxStream = Box::new(PacketStream::new(
            held,
            Recorder {
                world: self.world.clone(),
                conn: id,
            },
        ));
        let s = match &self.wrap {
            Some(w) => w(self.world.restarts.load(Ordering::Relaxed), recorded),
            None => recorded,
        };
        Ok((s, format!("{peer}#{id}")))
    }
}

/// A broker-side socket kept in the world's registry, so that a bounce does not close it from
/// inside the dropped runtime (see [`World::drop_orphans`]).
struct HeldStream {
    slot: SocketSlot,
    world: World,
    id: u64,
}

impl HeldStream {
    fn with<R>(
        &self,
        f: impl FnOnce(Pin<&mut turmoil::net::TcpStream>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let mut g = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(s) => f(Pin::new(s)),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncRead for HeldStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_read(cx, buf))
    }
}

impl AsyncWrite for HeldStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|s| s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_shutdown(cx))
    }
}

impl Drop for HeldStream {
    fn drop(&mut self) {
        if self.world.bouncing.load(Ordering::Relaxed) {
            return; // the new broker software closes it
        }
        self.world
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        let s = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(s);
    }
}

/// Records what crosses the broker's interface on one connection; checks DUP on redelivery.
/// The packets are decoded in the version the connection's CONNECT named ([`PacketStream`]
/// peeks it), so 3.1.1 and 5.0 connections are both seen as they are.
struct Recorder {
    world: World,
    conn: u64,
}

impl Rewrite for Recorder {
    fn bytes_up(&mut self, _n: usize) {
        let now = self.world.now_ms();
        if let Some(c) = self.world.lock().history.nic.get_mut(&self.conn) {
            c.last_rx = now;
        }
    }

    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        let mut st = self.world.lock();
        let hist = &mut st.history;
        let cid = hist.nic.get(&self.conn).and_then(|c| c.client_id.clone());
        match &packet {
            Packet::Connect(c) => {
                if let Some(nc) = hist.nic.get_mut(&self.conn) {
                    // A 3.1.1 CONNECT has no properties: no expiry, no will delay (the codec
                    // gives none).
                    let v5 = c.protocol.is_v5();
                    nc.protocol = Some(c.protocol);
                    nc.client_id = Some(c.client_id.to_string());
                    nc.clean_start = c.clean_start;
                    nc.keep_alive = c.keep_alive;
                    nc.session_expiry = if v5 {
                        c.properties.session_expiry_interval.unwrap_or(0)
                    } else {
                        0
                    };
                    nc.will = c.will.as_ref().map(|w| {
                        let delay = if v5 {
                            w.properties.will_delay_interval.unwrap_or(0)
                        } else {
                            0
                        };
                        (w.payload.clone(), delay)
                    });
                }
            }
            // A 3.1.1 DISCONNECT has no reason code: the codec gives it 0x00.
            Packet::Disconnect(d) if d.reason_code == ReasonCode::NORMAL_DISCONNECTION => {
                if let Some(nc) = hist.nic.get_mut(&self.conn) {
                    nc.normal_disconnect = true;
                }
            }
            Packet::Publish(p) => {
                *hist.publish_rx.entry(p.payload.clone()).or_default() += 1;
            }
            Packet::PubAck(a) => {
                if let Some(cid) = &cid {
                    if let Some(m) = hist.unacked.get_mut(cid) {
                        m.remove(&a.packet_id);
                    }
                }
            }
            Packet::PubRec(a) => {
                if let Some(cid) = &cid {
                    if let Some(m) = hist.unacked.get_mut(cid) {
                        m.remove(&a.packet_id);
                    }
                }
            }
            _ => {}
        }
        drop(st);
        out.push(packet);
    }

    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        let now = self.world.now_ms();
        let mut st = self.world.lock();
        let hist = &mut st.history;
        let cid = hist.nic.get(&self.conn).and_then(|c| c.client_id.clone());
        let protocol = hist
            .nic
            .get(&self.conn)
            .and_then(|c| c.protocol)
            .unwrap_or(ProtocolVersion::V5);
        match &packet {
            Packet::ConnAck(c) if connack_accepts(protocol, c.reason_code) => {
                if let Some(nc) = hist.nic.get_mut(&self.conn) {
                    nc.connack = Some((now, c.session_present));
                    nc.connack_rank = Some(hist.connacks);
                    hist.connacks += 1;
                }
                if !c.session_present {
                    if let Some(cid) = &cid {
                        hist.unacked.remove(cid);
                    }
                }
            }
            Packet::Publish(p) if p.qos != QoS::AtMostOnce => {
                if let Some(cid) = cid {
                    let m = hist.unacked.entry(cid.clone()).or_default();
                    let earlier = m
                        .get(&p.packet_id)
                        .filter(|(payload, _)| *payload == p.payload);
                    match earlier {
                        // A connection that was taken over still writes what the broker queued
                        // for it before the takeover (its close grace), so its first copy can
                        // reach the wire after the new connection's DUP re-delivery. That copy
                        // is the original attempt written late, not a re-delivery: keep the
                        // newer record.
                        Some((_, on)) if *on > self.conn => {}
                        _ => {
                            let again = earlier.is_some();
                            m.insert(p.packet_id, (p.payload.clone(), self.conn));
                            if again && !p.dup {
                                // 3.1.1 and 5.0 [MQTT-3.3.1-1]: a re-delivery carries DUP.
                                let (protocol, statement) = if protocol.is_v5() {
                                    (Protocol::V5_0, mqtt_spec::v5!("MQTT-3.3.1-1"))
                                } else {
                                    (Protocol::V3_1_1, mqtt_spec::v311!("MQTT-3.3.1-1"))
                                };
                                hist.push(
                                    now,
                                    EventKind::Violation {
                                        statement: statement.as_str(),
                                        protocol: Some(protocol),
                                        detail: format!(
                                            "broker re-sent packet id {} ({:?}) to {cid} without DUP",
                                            p.packet_id,
                                            String::from_utf8_lossy(&p.payload)
                                        ),
                                    },
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        drop(st);
        out.push(packet);
    }

    fn closed(&mut self) {
        // Dropped outside any host (the end of the simulation): still open.
        if !turmoil::in_simulation() {
            return;
        }
        let now = self.world.now_ms();
        if let Some(c) = self.world.lock().history.nic.get_mut(&self.conn) {
            if c.closed_at.is_none() {
                c.closed_at = Some(now);
            }
        }
    }
}

/// The broker host's software: listen and serve `shared` until the host is bounced.
pub(crate) async fn broker_host(
    world: World,
    shared: mqtt_broker_model::serve::SharedBroker,
    wrap: Option<StreamWrapper>,
) -> turmoil::Result {
    world.drop_orphans();
    let inner = turmoil::net::TcpListener::bind(("0.0.0.0", BROKER_PORT)).await?;
    let listener = SimListener { inner, world, wrap };
    let options = mqtt_broker_model::serve::ServeOptions {
        close_grace: Duration::from_millis(200),
        ..Default::default()
    };
    mqtt_broker_model::serve::serve_with(listener, shared, options, std::future::pending()).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Client hosts

/// The client host's software: connect, run the session, reconnect after a loss.
pub(crate) async fn client_host(world: World, id: String) -> turmoil::Result {
    let notify = {
        let mut st = world.lock();
        let Some(slot) = st.clients.get_mut(&id) else {
            return Ok(());
        };
        // A (re)started process: whatever connection there was is gone.
        slot.model.connection_lost();
        slot.notify.clone()
    };
    let mut backoff = Duration::from_millis(50);
    loop {
        // Wait until asked to be online.
        loop {
            let online = world.lock().clients.get(&id).is_some_and(|s| s.online);
            if online {
                break;
            }
            notify.notified().await;
        }
        let connect = tokio::time::timeout(
            Duration::from_millis(500),
            turmoil::net::TcpStream::connect((BROKER_HOST, BROKER_PORT)),
        )
        .await;
        let stream = match connect {
            Ok(Ok(s)) => s,
            _ => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(400));
                continue;
            }
        };
        let ended_well = run_connection(&world, &id, &notify, stream).await;
        if ended_well {
            backoff = Duration::from_millis(50);
        } else {
            tokio::time::sleep(backoff).await;
        }
    }
}

/// One connection: returns true if it ended on our own DISCONNECT.
async fn run_connection(
    world: &World,
    id: &str,
    notify: &Notify,
    mut stream: turmoil::net::TcpStream,
) -> bool {
    let (connect, generation, keep_alive, version) = {
        let mut st = world.lock();
        let Some(slot) = st.clients.get_mut(id) else {
            return true;
        };
        let p = slot.model.connect_packet();
        (
            p,
            slot.model.generation,
            Duration::from_secs(u64::from(slot.model.config.keep_alive)),
            // Every packet of the connection, both ways, in the client's version.
            slot.model.config.protocol,
        )
    };
    let mut wbuf = BytesMut::new();
    connect.encode_unchecked(version, &mut wbuf);
    if stream.write_all(&wbuf).await.is_err() {
        lost(world, id, generation);
        return false;
    }
    let mut last_tx = tokio::time::Instant::now();
    let mut ping_sent: Option<tokio::time::Instant> = None;
    let started = tokio::time::Instant::now();
    let mut connected = false;
    let mut rbuf = BytesMut::with_capacity(4096);
    let mut tmp = [0u8; 4096];
    let mut out: Vec<Packet> = Vec::new();
    let mut app: Vec<AppEvent> = Vec::new();
    loop {
        out.clear();
        app.clear();
        // Next timer: CONNACK wait, ping, or giving up on a silent broker.
        let ka = if keep_alive.is_zero() {
            Duration::from_secs(3600)
        } else {
            keep_alive
        };
        let deadline = if !connected {
            started + ka.max(Duration::from_millis(500))
        } else if let Some(p) = ping_sent {
            p + ka
        } else {
            last_tx + ka
        };
        let mut goodbye = false;
        tokio::select! {
            biased;
            _ = notify.notified() => {
                let mut st = world.lock();
                let Some(slot) = st.clients.get_mut(id) else { return true };
                while let Some(cmd) = slot.commands.pop_front() {
                    match cmd {
                        Command::Publish(m) => slot.model.publish(m),
                        Command::GoOffline => goodbye = true,
                        Command::GoOnline => {}
                    }
                }
                if !slot.online {
                    goodbye = true;
                }
                if goodbye {
                    out.push(slot.model.disconnect_packet());
                } else {
                    slot.model.fill_window(&mut out);
                }
            }
            r = stream.read(&mut tmp) => {
                let n = match r {
                    Ok(0) | Err(_) => {
                        lost(world, id, generation);
                        return false;
                    }
                    Ok(n) => n,
                };
                rbuf.extend_from_slice(tmp.get(..n).unwrap_or_default());
                let mut st = world.lock();
                let Some(slot) = st.clients.get_mut(id) else { return true };
                loop {
                    match decode(&mut rbuf, version, &Limits::default(), Some(Side::Server)) {
                        Ok(Some(p)) => {
                            if matches!(p, Packet::PingResp) {
                                ping_sent = None;
                            }
                            slot.model.handle(p, &mut out, &mut app);
                        }
                        Ok(None) => break,
                        Err(_) => {
                            drop(st);
                            lost(world, id, generation);
                            return false;
                        }
                    }
                }
                connected = slot.model.is_connected();
                if slot.model.take_leave() {
                    // A purging connection was accepted: leave it and connect again.
                    goodbye = true;
                    out.push(slot.model.disconnect_packet());
                }
                drop(st);
                record_app(world, id, generation, &app);
                if app.iter().any(|e| matches!(e, AppEvent::Connected { accepted: false, .. })) {
                    lost(world, id, generation);
                    return false;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                if !connected || ping_sent.is_some() {
                    // No CONNACK, or no PINGRESP within the keep alive: give up on it.
                    lost(world, id, generation);
                    return false;
                }
                out.push(Packet::PingReq);
                ping_sent = Some(tokio::time::Instant::now());
            }
        }
        if !out.is_empty() {
            wbuf.clear();
            for p in &out {
                p.encode_unchecked(version, &mut wbuf);
            }
            if stream.write_all(&wbuf).await.is_err() {
                lost(world, id, generation);
                return false;
            }
            last_tx = tokio::time::Instant::now();
        }
        if goodbye {
            world.record(EventKind::Disconnected {
                client: id.to_string(),
                generation,
            });
            if let Some(slot) = world.lock().clients.get_mut(id) {
                slot.model.connection_lost();
            }
            let _ = stream.shutdown().await;
            return true;
        }
    }
}

fn lost(world: &World, id: &str, generation: u32) {
    world.record(EventKind::Lost {
        client: id.to_string(),
        generation,
    });
    if let Some(slot) = world.lock().clients.get_mut(id) {
        slot.model.connection_lost();
    }
}

fn record_app(world: &World, id: &str, generation: u32, app: &[AppEvent]) {
    if app.is_empty() {
        return;
    }
    let at = world.now_ms();
    let mut st = world.lock();
    for e in app {
        let kind = match e {
            AppEvent::Connected {
                code,
                session_present,
                ..
            } => EventKind::Connected {
                client: id.to_string(),
                generation,
                session_present: *session_present,
                code: code.0,
            },
            AppEvent::Message {
                topic,
                payload,
                qos,
                dup,
                retain,
                packet_id,
            } => EventKind::Delivered {
                client: id.to_string(),
                generation,
                topic: topic.clone(),
                payload: payload.clone(),
                qos: *qos as u8,
                dup: *dup,
                retain: *retain,
                packet_id: *packet_id,
            },
            AppEvent::Accepted { payload, code } => EventKind::Accepted {
                client: id.to_string(),
                payload: payload.clone(),
                code: code.0,
            },
            AppEvent::Subscribed => EventKind::Subscribed {
                client: id.to_string(),
            },
            AppEvent::Completed { .. } | AppEvent::ServerDisconnect { .. } => continue,
        };
        st.history.push(at, kind);
    }
}
