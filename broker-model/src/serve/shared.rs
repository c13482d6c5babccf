//! [`SharedBroker`]: the broker core, its time base and the table that routes its outputs to
//! connections, behind one lock, shareable between `serve` calls and able to outlive them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};

use crate::{Broker, Config, ConnId, Event, Output, Stats};

/// What a connection's tasks are told about their connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Read and write.
    Open,
    /// Stop reading; write what is queued (within the close grace), then close.
    Closing,
    /// Stop everything now and drop the stream.
    Abort,
}

/// The channels from the router to one connection's tasks.
pub(crate) struct ConnEnds {
    pub(crate) conn: ConnId,
    pub(crate) writes: mpsc::Receiver<Bytes>,
    pub(crate) state: watch::Receiver<ConnState>,
    pub(crate) queued: Arc<AtomicUsize>,
}

/// The router's side of one connection.
struct ConnHandle {
    writes: mpsc::Sender<Bytes>,
    state: watch::Sender<ConnState>,
    /// Bytes accepted into `writes` and not yet written to the stream.
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
    /// The core reported the connection as connected (CONNECT accepted).
    connected: bool,
    /// Which `serve` call owns the connection.
    owner: u64,
}

impl ConnHandle {
    /// Queues `bytes` for writing; `false` when the queue is full (a slow reader).
    fn push(&self, bytes: Bytes) -> bool {
        let len = bytes.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        // One packet alone is always accepted, however large (the core bounds packet sizes).
        let over = before > 0 && before.saturating_add(len) > self.max_bytes;
        let result = if over {
            Err(mpsc::error::TrySendError::Full(bytes))
        } else {
            self.writes.try_send(bytes)
        };
        match result {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                false
            }
            // The writer is gone; its task reports the loss itself.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                true
            }
        }
    }

    fn finish(self, state: ConnState) {
        self.state.send_replace(state);
        // Dropping `writes` lets the writer see the end of its queue.
    }
}

type Clock = Box<dyn Fn() -> Duration + Send>;
type EventHook = Box<dyn FnMut(&Event) + Send>;

struct Inner {
    broker: Broker,
    clock: Clock,
    /// The last `now` given to the core (the clock is clamped so time never goes back).
    now: Duration,
    conns: BTreeMap<ConnId, ConnHandle>,
    /// The last `poll_timeout` the timers were told about.
    deadline: Option<Duration>,
    timers: BTreeMap<u64, Arc<Notify>>,
    next_owner: u64,
    hook: Option<EventHook>,
}

/// The broker core shared between the tasks of one or more [`serve`](super::serve) calls.
///
/// Cloning gives another handle to the same broker. The broker, its time base and its durable
/// state outlive any `serve` call: a simulator keeps a `SharedBroker` outside a host, drops the
/// host's `serve` future when the host crashes, calls [`SharedBroker::restart`] and serves again.
#[derive(Clone)]
pub struct SharedBroker {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for SharedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("SharedBroker")
            .field("now", &inner.now)
            .field("connections", &inner.conns.len())
            .finish_non_exhaustive()
    }
}

impl SharedBroker {
    /// A new broker whose time is the `tokio::time::Instant` elapsed since this call, so tokio's
    /// paused time and turmoil's simulated time both drive it.
    ///
    /// Create it inside the runtime that serves it. A broker that must outlive runtimes (a
    /// turmoil host that bounces gets a new runtime, whose clock starts from the real time of
    /// its creation) should use [`SharedBroker::with_clock`] with the simulation's clock, e.g.
    /// `|| turmoil::sim_elapsed().unwrap_or_default()`, so its time stays deterministic.
    pub fn new(config: Config, seed: u64) -> SharedBroker {
        let epoch = tokio::time::Instant::now();
        SharedBroker::with_clock(config, seed, move || {
            tokio::time::Instant::now().saturating_duration_since(epoch)
        })
    }

    /// A new broker with its own time source: `clock()` returns the time since the broker's
    /// epoch (for example `turmoil::sim_elapsed`, which survives a host restart). The values are
    /// clamped so that the core never sees time go back.
    pub fn with_clock(
        config: Config,
        seed: u64,
        clock: impl Fn() -> Duration + Send + 'static,
    ) -> SharedBroker {
        let now = clock();
        SharedBroker {
            inner: Arc::new(Mutex::new(Inner {
                broker: Broker::new(config, seed),
                clock: Box::new(clock),
                now,
                conns: BTreeMap::new(),
                deadline: None,
                timers: BTreeMap::new(),
                next_owner: 0,
                hook: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug elsewhere; the state is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The broker's current time (what the next core call receives as `now`).
    pub fn now(&self) -> Duration {
        self.lock().tick()
    }

    /// Runs `f` on the core, then routes whatever outputs it produced.
    pub fn with_broker<R>(&self, f: impl FnOnce(&mut Broker, Duration) -> R) -> R {
        let mut inner = self.lock();
        let now = inner.tick();
        let r = f(&mut inner.broker, now);
        inner.route();
        r
    }

    /// Calls `hook` for every event of the core (under the broker's lock: keep it short and do
    /// not call back into this `SharedBroker`). Replaces any previous hook.
    pub fn set_event_hook(&self, hook: impl FnMut(&Event) + Send + 'static) {
        self.lock().hook = Some(Box::new(hook));
    }

    /// Restarts the core as a persistent broker would after a crash (`Broker::restart`) and
    /// forgets every connection: their tasks, if still running, stop at once.
    pub fn restart(&self) {
        let mut inner = self.lock();
        let now = inner.tick();
        for (conn, handle) in std::mem::take(&mut inner.conns) {
            tracing::debug!(%conn, "connection dropped by restart");
            handle.finish(ConnState::Abort);
        }
        inner.broker.restart(now);
        inner.route();
    }

    /// The core's counters (`Broker::stats`).
    pub fn stats(&self) -> Stats {
        self.lock().broker.stats()
    }

    /// Number of connections currently routed (open network connections).
    pub fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    // ---- used by the shell's tasks ----

    pub(crate) fn register_serve(&self, timer: Arc<Notify>) -> u64 {
        let mut inner = self.lock();
        inner.next_owner = inner.next_owner.wrapping_add(1);
        let owner = inner.next_owner;
        inner.timers.insert(owner, timer);
        owner
    }

    pub(crate) fn unregister_serve(&self, owner: u64) {
        let mut inner = self.lock();
        inner.timers.remove(&owner);
        let mine: Vec<ConnId> = inner
            .conns
            .iter()
            .filter(|(_, h)| h.owner == owner)
            .map(|(c, _)| *c)
            .collect();
        for conn in mine {
            if let Some(handle) = inner.conns.remove(&conn) {
                handle.finish(ConnState::Abort);
            }
        }
    }

    /// A new network connection: tells the core and returns the ends for its tasks.
    pub(crate) fn accept(
        &self,
        owner: u64,
        peer: &str,
        max_packets: usize,
        max_bytes: usize,
    ) -> ConnEnds {
        let mut inner = self.lock();
        let now = inner.tick();
        let conn = inner.broker.accept(now, peer);
        let (writes_tx, writes) = mpsc::channel(max_packets.max(1));
        let (state_tx, state) = watch::channel(ConnState::Open);
        let queued = Arc::new(AtomicUsize::new(0));
        let old = inner.conns.insert(
            conn,
            ConnHandle {
                writes: writes_tx,
                state: state_tx,
                queued: queued.clone(),
                max_bytes,
                connected: false,
                owner,
            },
        );
        if let Some(old) = old {
            // The core reused a live id: a core bug; never route to a stale connection.
            tracing::error!(%conn, "the broker core reused a connection id");
            old.finish(ConnState::Abort);
        }
        inner.route();
        ConnEnds {
            conn,
            writes,
            state,
            queued,
        }
    }

    /// Bytes arrived on `conn`.
    pub(crate) fn input(&self, conn: ConnId, bytes: &[u8]) {
        let mut inner = self.lock();
        if !inner.conns.contains_key(&conn) {
            return; // already closed by the shell or the core
        }
        let now = inner.tick();
        inner.broker.handle_bytes(now, conn, bytes);
        inner.route();
    }

    /// The peer went away or the stream failed.
    pub(crate) fn lost(&self, conn: ConnId) {
        let mut inner = self.lock();
        inner.close(conn, ConnState::Closing, "connection lost");
        inner.route();
    }

    /// The connect timeout of `conn` expired: close it unless the core has accepted its CONNECT.
    pub(crate) fn connect_deadline(&self, conn: ConnId) -> bool {
        let mut inner = self.lock();
        let silent = inner.conns.get(&conn).is_some_and(|h| !h.connected);
        if silent {
            inner.close(
                conn,
                ConnState::Closing,
                "no CONNECT before the connect timeout",
            );
            inner.route();
        }
        silent
    }

    /// Closes every connection of the `serve` call `owner` (server shutdown): each one is closed
    /// after what is already queued for it, and then the core hears that it went away. All of
    /// them leave the routing table first, so none of them receives the others' wills.
    pub(crate) fn close_all(&self, owner: u64) {
        let mut inner = self.lock();
        let mine: Vec<ConnId> = inner
            .conns
            .iter()
            .filter(|(_, h)| h.owner == owner)
            .map(|(c, _)| *c)
            .collect();
        // 5.0 clients first learn why: DISCONNECT 0x8B (Server shutting down), written before
        // the close like everything already queued.
        let now = inner.tick();
        for conn in &mine {
            inner.broker.send_server_disconnect(
                now,
                *conn,
                mqtt_codec::ReasonCode::SERVER_SHUTTING_DOWN,
            );
        }
        inner.route();
        for conn in &mine {
            if let Some(handle) = inner.conns.remove(conn) {
                tracing::info!(%conn, "closing connection: server shutdown");
                handle.finish(ConnState::Closing);
            }
        }
        let now = inner.tick();
        for conn in mine {
            inner.broker.handle_closed(now, conn);
        }
        inner.route();
    }

    /// The core's next deadline and the current time (`None`: sleep until notified).
    pub(crate) fn next_wakeup(&self) -> Option<(Duration, Duration)> {
        let mut inner = self.lock();
        let now = inner.tick();
        let deadline = inner.broker.poll_timeout();
        inner.deadline = deadline;
        deadline.map(|d| (d, now))
    }

    /// The timer fired. Returns the `now` given to the core.
    pub(crate) fn timeout(&self) -> Duration {
        let mut inner = self.lock();
        let now = inner.tick();
        inner.broker.handle_timeout(now);
        inner.route();
        now
    }
}

impl Inner {
    /// Reads the clock, never going back.
    fn tick(&mut self) -> Duration {
        let t = (self.clock)();
        if t > self.now {
            self.now = t;
        }
        self.now
    }

    /// The shell closes `conn` (it stops routing to it) and tells the core it went away.
    fn close(&mut self, conn: ConnId, state: ConnState, why: &str) {
        if let Some(handle) = self.conns.remove(&conn) {
            tracing::info!(%conn, reason = why, "closing connection");
            handle.finish(state);
            let now = self.tick();
            self.broker.handle_closed(now, conn);
        }
    }

    /// Drains the core's outputs into the connections' queues, then wakes the timers if the
    /// core's next deadline changed.
    fn route(&mut self) {
        while let Some(out) = self.broker.poll_output() {
            match out {
                Output::Send { conn, bytes } => {
                    let full = match self.conns.get(&conn) {
                        Some(handle) => !handle.push(bytes),
                        None => {
                            tracing::trace!(%conn, "output for a closed connection dropped");
                            false
                        }
                    };
                    if full {
                        // A slow reader: its queue is full. The shell drops the connection at
                        // once (like a network failure) instead of buffering without bound.
                        tracing::warn!(%conn, "write queue full (slow reader): dropping the connection");
                        self.close(conn, ConnState::Abort, "write queue full");
                    }
                }
                Output::Close { conn, reason } => {
                    if let Some(handle) = self.conns.remove(&conn) {
                        tracing::debug!(%conn, ?reason, "broker closes connection");
                        handle.finish(ConnState::Closing);
                    }
                }
                Output::Event(event) => {
                    if let Some(conn) = super::log_event(&event) {
                        if let Some(handle) = self.conns.get_mut(&conn) {
                            handle.connected = true;
                        }
                    }
                    if let Some(hook) = self.hook.as_mut() {
                        hook(&event);
                    }
                }
            }
        }
        let deadline = self.broker.poll_timeout();
        if deadline != self.deadline {
            self.deadline = deadline;
            for timer in self.timers.values() {
                timer.notify_one();
            }
        }
    }
}
