//! What a conformance test is: [`TestCase`] (its declaration), [`Ctx`] (what its body gets) and
//! [`Stop`] (how a body ends when it does not pass).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqtt_broker_model::serve::ws::WsControl;
use mqtt_codec::{Connect, ProtocolVersion};
use mqtt_reports::TraceEntry;
use mqtt_spec::StatementId;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::caps::{Cap, Capabilities};
use crate::client::Client;
use crate::profile::Profile;
use crate::target::{BoxFuture, Target};

/// How a test body ends when it does not simply pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The broker broke a rule. `statement: None` means the test's first statement for the
    /// protocol version being run.
    Fail {
        /// The statement broken, if not the test's first.
        statement: Option<StatementId>,
        /// What the standard requires, in one line.
        expected: String,
        /// What the broker did, in one line.
        observed: String,
    },
    /// Not applicable to this broker (a capability is absent or the profile excludes it).
    Skip(String),
    /// The test could not decide (e.g. the broker refused a precondition).
    Inconclusive(String),
    /// The suite itself failed (a bug in the test or the harness, or an IO error).
    Error(String),
}

impl Stop {
    /// A failure of the test's main statement.
    pub fn fail(expected: impl Into<String>, observed: impl Into<String>) -> Stop {
        Stop::Fail {
            statement: None,
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    /// A failure of a named statement.
    pub fn fail_at(
        statement: StatementId,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Stop {
        Stop::Fail {
            statement: Some(statement),
            expected: expected.into(),
            observed: observed.into(),
        }
    }
}

/// The result of a test body: `Ok(())` is a pass.
pub type Outcome = Result<(), Stop>;

/// A test body.
pub type TestFn = fn(Ctx) -> BoxFuture<'static, Outcome>;

/// Wraps an `async fn(Ctx) -> Outcome` as a [`TestFn`].
#[macro_export]
macro_rules! body {
    ($f:path) => {
        (|ctx| ::std::boxed::Box::pin($f(ctx))) as $crate::case::TestFn
    };
}

/// The declaration of one conformance test.
#[derive(Clone)]
pub struct TestCase {
    /// Stable id without the version prefix (`connect.first-packet-connect`); the results use
    /// `v311.<id>` and `v5.<id>`.
    pub id: &'static str,
    /// One line: what is checked.
    pub title: &'static str,
    /// Statements checked in 3.1.1 (empty: the test does not apply to 3.1.1).
    pub v311: &'static [StatementId],
    /// Statements checked in 5.0 (empty: the test does not apply to 5.0).
    pub v5: &'static [StatementId],
    /// A SHOULD-level check: not meeting it is advisory, never a failure.
    pub should: bool,
    /// Capabilities the broker must have for the test to apply.
    pub requires: &'static [Cap],
    /// Upper bound on the test's duration (virtual on embedded targets).
    pub timeout: Duration,
    /// The body.
    pub run: TestFn,
}

impl TestCase {
    /// A MUST-level test with a 10 s timeout and no requirements.
    pub fn new(id: &'static str, title: &'static str, run: TestFn) -> Self {
        TestCase {
            id,
            title,
            v311: &[],
            v5: &[],
            should: false,
            requires: &[],
            timeout: Duration::from_secs(10),
            run,
        }
    }
    /// The 3.1.1 statements checked.
    pub fn v311(mut self, ids: &'static [StatementId]) -> Self {
        self.v311 = ids;
        self
    }
    /// The 5.0 statements checked.
    pub fn v5(mut self, ids: &'static [StatementId]) -> Self {
        self.v5 = ids;
        self
    }
    /// Required capabilities.
    pub fn requires(mut self, caps: &'static [Cap]) -> Self {
        self.requires = caps;
        self
    }
    /// Marks the test as SHOULD-level (advisory).
    pub fn should(mut self) -> Self {
        self.should = true;
        self
    }
    /// Sets the timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// The statements checked in `version` (3.1 counts as 3.1.1).
    pub fn statements(&self, version: ProtocolVersion) -> &'static [StatementId] {
        if version.is_v5() {
            self.v5
        } else {
            self.v311
        }
    }
    /// The id in the results: `v311.<id>` or `v5.<id>`.
    pub fn result_id(&self, version: ProtocolVersion) -> String {
        format!("{}.{}", version_tag(version), self.id)
    }
}

/// `v311` or `v5`.
pub fn version_tag(version: ProtocolVersion) -> &'static str {
    if version.is_v5() {
        "v5"
    } else {
        "v311"
    }
}

pub(crate) struct CtxInner {
    pub version: ProtocolVersion,
    pub target: Arc<dyn Target>,
    pub topic_prefix: String,
    pub client_prefix: String,
    pub start: tokio::time::Instant,
    pub trace: Mutex<Vec<TraceEntry>>,
    pub caps: Arc<Capabilities>,
    pub profile: Arc<Profile>,
    pub retained: Mutex<Vec<String>>,
    pub clients: Mutex<u32>,
}

/// What a test body gets: the protocol version, fresh connections, unique names, the trace.
#[derive(Clone)]
pub struct Ctx(pub(crate) Arc<CtxInner>);

impl Ctx {
    /// The protocol version under test.
    pub fn version(&self) -> ProtocolVersion {
        self.0.version
    }
    /// True for 5.0.
    pub fn v5(&self) -> bool {
        self.0.version.is_v5()
    }
    /// Picks the 3.1.1 or the 5.0 value.
    pub fn pick<T>(&self, v311: T, v5: T) -> T {
        if self.v5() {
            v5
        } else {
            v311
        }
    }
    /// A topic unique to this test run: `<prefix>/<suffix>`.
    pub fn topic(&self, suffix: &str) -> String {
        format!("{}/{}", self.0.topic_prefix, suffix)
    }
    /// The test's topic prefix (no trailing slash).
    pub fn topic_prefix(&self) -> &str {
        &self.0.topic_prefix
    }
    /// A client identifier unique to this test run (at most 23 characters, [0-9a-zA-Z]).
    pub fn client_id(&self, label: &str) -> String {
        let mut id = format!("{}{}", self.0.client_prefix, label);
        id.retain(|c| c.is_ascii_alphanumeric());
        id.truncate(23);
        id
    }
    /// Capabilities of the broker.
    pub fn caps(&self) -> &Capabilities {
        &self.0.caps
    }
    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.0.profile
    }
    /// True when time is virtual (waiting is free).
    pub fn virtual_time(&self) -> bool {
        self.0.target.virtual_time()
    }
    /// Milliseconds since the test started.
    pub fn elapsed_ms(&self) -> f64 {
        self.0.start.elapsed().as_secs_f64() * 1000.0
    }
    /// Adds an entry to the trace.
    pub fn record(&self, entry: TraceEntry) {
        if let Ok(mut t) = self.0.trace.lock() {
            t.push(entry);
        }
    }
    /// Notes that the test made a retained message on `topic`: the runner clears it after.
    pub fn note_retained(&self, topic: &str) {
        if let Ok(mut r) = self.0.retained.lock() {
            if !r.iter().any(|t| t == topic) {
                r.push(topic.to_string());
            }
        }
    }
    /// Opens a new connection (no packet sent yet). `label` names the client in the trace and
    /// in its client identifier.
    pub async fn open(&self, label: &str) -> Result<Client, Stop> {
        if let Ok(mut n) = self.0.clients.lock() {
            *n += 1;
        }
        let stream = self.0.target.connect().await.map_err(|e| {
            Stop::Error(format!(
                "cannot connect to {}: {e}",
                self.0.target.describe()
            ))
        })?;
        Ok(Client::new(self.clone(), label, stream))
    }
    /// Opens a WebSocket connection (targets reached over WebSocket only): the client, the
    /// subprotocol the server's handshake selected, and the handle framing the next write.
    /// `Err(Stop::Skip)` for other targets; the inner `Err` is a failed handshake (one whose
    /// response lacks `mqtt` holds [`mqtt_broker_model::serve::ws::SubprotocolMismatch`]).
    pub async fn try_open_websocket(
        &self,
        label: &str,
    ) -> Result<std::io::Result<(Client, Option<String>, WsControl)>, Stop> {
        let Some(open) = self.0.target.connect_websocket() else {
            return Err(Stop::Skip(
                "the target is not reached over WebSocket (chapter 6 tests need ws:// or wss://)"
                    .into(),
            ));
        };
        if let Ok(mut n) = self.0.clients.lock() {
            *n += 1;
        }
        let c = match open.await {
            Ok(c) => c,
            Err(e) => {
                self.record(TraceEntry::event(
                    self.elapsed_ms(),
                    "websocket-handshake-failed",
                    json!({ "client": label, "detail": e.to_string() }),
                ));
                return Ok(Err(e));
            }
        };
        self.record(TraceEntry::event(
            self.elapsed_ms(),
            "websocket-handshake",
            json!({ "client": label, "subprotocol": c.subprotocol }),
        ));
        let client = Client::new(self.clone(), label, c.stream);
        Ok(Ok((client, c.subprotocol, c.control)))
    }

    /// Like [`Ctx::try_open_websocket`]; a failed handshake makes the test inconclusive (the
    /// precondition failed, not the statement under test).
    pub async fn open_websocket(&self, label: &str) -> Result<(Client, WsControl), Stop> {
        match self.try_open_websocket(label).await? {
            Ok((c, _, control)) => Ok((c, control)),
            Err(e) => Err(Stop::Inconclusive(format!(
                "WebSocket handshake failed: {e}"
            ))),
        }
    }

    /// A CONNECT for client `label` with this run's defaults: unique client id, clean
    /// session/start, keep alive 0 (off), credentials from the profile.
    pub fn connect_packet(&self, label: &str) -> Connect {
        let mut c = Connect::new(self.0.version, self.client_id(label));
        c.clean_start = true;
        c.keep_alive = 0;
        if let Some(user) = &self.0.profile.username {
            c.username = Some(user.as_str().into());
            c.password = self
                .0
                .profile
                .password
                .as_ref()
                .map(|p| p.clone().into_bytes().into());
        }
        c
    }
    /// Opens a connection and completes a CONNECT/CONNACK exchange with [`Ctx::connect_packet`]
    /// as modified by `edit`. A refused connection is an inconclusive test (the precondition
    /// failed), not a failure of the statement under test.
    pub async fn connect_with(
        &self,
        label: &str,
        edit: impl FnOnce(&mut Connect),
    ) -> Result<(Client, mqtt_codec::ConnAck), Stop> {
        let mut c = self.open(label).await?;
        let mut p = self.connect_packet(label);
        edit(&mut p);
        let ack = c.handshake(p).await?;
        Ok((c, ack))
    }
    /// [`Ctx::connect_with`] with the defaults.
    pub async fn connect(&self, label: &str) -> Result<Client, Stop> {
        Ok(self.connect_with(label, |_| {}).await?.0)
    }
    /// How long to wait for something that should happen promptly.
    pub fn patience(&self) -> Duration {
        Duration::from_secs(3)
    }
    /// How long silence must last to count as "nothing was sent".
    pub fn quiet(&self) -> Duration {
        Duration::from_millis(if self.virtual_time() { 2000 } else { 500 })
    }
    /// Skips unless the broker has `cap`.
    pub fn require(&self, cap: Cap) -> Result<(), Stop> {
        if self.caps().has(cap) {
            Ok(())
        } else {
            Err(Stop::Skip(format!("broker lacks {}", cap.name())))
        }
    }
}

impl Ctx {
    /// A context outside any test (the probe, cleanup): `tag` makes its names unique.
    pub fn standalone(
        target: Arc<dyn Target>,
        version: ProtocolVersion,
        profile: Arc<Profile>,
        tag: &str,
    ) -> Ctx {
        Ctx(Arc::new(CtxInner {
            version,
            target,
            topic_prefix: format!("mqtt-conform/{tag}"),
            client_prefix: format!("mc{tag}"),
            start: tokio::time::Instant::now(),
            trace: Mutex::new(Vec::new()),
            caps: Arc::new(Capabilities::default()),
            profile,
            retained: Mutex::new(Vec::new()),
            clients: Mutex::new(0),
        }))
    }

    /// The trace recorded so far.
    pub fn trace(&self) -> Vec<TraceEntry> {
        self.0.trace.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Ctx {
    /// The target's description.
    pub fn target_name(&self) -> String {
        self.0.target.describe()
    }
}

impl Ctx {
    /// Sends `bytes` on a fresh connection opened without the test client, reads until the
    /// close or `within`, and records both directions in the trace. Returns the bytes received
    /// and whether the connection closed. For answers the test client cannot decode in the
    /// test's version (a 3.1.1 CONNACK to a 5.0-shaped CONNECT).
    pub async fn raw_exchange(
        &self,
        label: &str,
        what: &str,
        bytes: &[u8],
        within: Duration,
    ) -> Result<(Vec<u8>, bool), Stop> {
        let mut s = self.0.target.connect().await.map_err(|e| {
            Stop::Error(format!(
                "cannot connect to {}: {e}",
                self.0.target.describe()
            ))
        })?;
        self.record(TraceEntry::out(
            self.elapsed_ms(),
            what.to_string(),
            json!({ "client": label }),
            hex::encode(bytes),
        ));
        let _ = s.write_all(bytes).await;
        let _ = s.flush().await;
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let closed = loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => break false,
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => got.extend_from_slice(buf.get(..n).unwrap_or(&[])),
            }
        };
        self.record(TraceEntry::incoming(
            self.elapsed_ms(),
            "bytes".to_string(),
            json!({ "client": label, "closed": closed }),
            hex::encode(&got),
        ));
        Ok((got, closed))
    }
}
