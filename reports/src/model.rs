//! The results model: what one run of the conformance suite found, as written to
//! `results.json`.
//!
//! # Stability
//!
//! The JSON shape is versioned by [`Results::schema_version`] (currently
//! [`SCHEMA_VERSION`] = 1) and documented by `reports/schema/results.schema.json`, which a test
//! keeps in sync with these types. Within one schema version fields are only ever *added*
//! (always optional, with a default), never renamed or removed; readers ignore fields they do not
//! know. A change that breaks this rule bumps the schema version.
//!
//! # Building a value
//!
//! ```
//! use mqtt_reports::{Results, Run, TestResult, TestLevel, Verdict, TraceEntry, Protocol};
//! let mut results = Results::new(Run::new("tcp://127.0.0.1:1883", vec![Protocol::V5_0]));
//! let mut test = TestResult::new(
//!     "v5.connect.clean-start.session-present",
//!     "CONNACK Session Present is 0 after Clean Start",
//!     Protocol::V5_0,
//!     "3.2",
//!     TestLevel::Must,
//!     Verdict::Fail,
//! );
//! test.statements.push("MQTT-3.2.2-2".into());
//! test.expected = Some("Session Present = 0".into());
//! test.observed = Some("Session Present = 1".into());
//! test.trace.push(TraceEntry::out(0.0, "CONNECT", serde_json::json!({"clean_start": true}), "10 0d"));
//! results.tests.push(test);
//! assert_eq!(results.exit_code(), 1);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use mqtt_spec::Protocol;

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The name of the tool, as recorded in [`Tool::name`].
pub const TOOL_NAME: &str = "mqtt-conform";

/// Everything one run found: the run itself and one entry per test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The schema version of this document; [`SCHEMA_VERSION`] for what this crate writes.
    pub schema_version: u32,
    /// The program that produced the results.
    pub tool: Tool,
    /// What was tested, when and how.
    pub run: Run,
    /// One entry per test and protocol version, in the order the suite lists them.
    #[serde(default)]
    pub tests: Vec<TestResult>,
}

/// The program that produced the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Program name, `mqtt-conform`.
    pub name: String,
    /// Program version (semver).
    pub version: String,
}

impl Tool {
    /// This tool, at the version of this build.
    pub fn current() -> Self {
        Tool {
            name: TOOL_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The run: target, broker, profile, protocol versions, time, capabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The target as given on the command line: `embedded`, `tcp://host:port`...
    pub target: String,
    /// The broker's name and version, when known (from the probe, the profile or `$SYS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<Broker>,
    /// The broker profile used (a path or a name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The protocol versions that were tested.
    pub protocols: Vec<Protocol>,
    /// When the run started, RFC 3339 (`2024-05-01T12:00:00Z`).
    pub started_at: String,
    /// How long the whole run took, in milliseconds.
    pub duration_ms: u64,
    /// Capabilities found by the probe or stated by the profile, per protocol version
    /// (`"3.1.1"`, `"5.0"`), then per capability name (`"retain_available": true`,
    /// `"maximum_qos": 1`, ...).
    #[serde(default)]
    pub capabilities: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl Run {
    /// A run of `target` over `protocols`, started now, other fields empty.
    pub fn new(target: impl Into<String>, protocols: Vec<Protocol>) -> Self {
        Run {
            target: target.into(),
            broker: None,
            profile: None,
            protocols,
            started_at: now_rfc3339(),
            duration_ms: 0,
            capabilities: BTreeMap::new(),
        }
    }
}

/// The current time as an RFC 3339 string in UTC with milliseconds, for [`Run::started_at`].
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The broker under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broker {
    /// Product name (`mosquitto`, `mqtt-conform reference broker`...).
    pub name: String,
    /// Product version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Whether a test checks a MUST (or MUST NOT) or a SHOULD (or SHOULD NOT) statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestLevel {
    /// A MUST or MUST NOT: not meeting it is a [`Verdict::Fail`].
    Must,
    /// A SHOULD or SHOULD NOT: not meeting it is a [`Verdict::Advisory`].
    Should,
}

impl TestLevel {
    /// `"must"` or `"should"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TestLevel::Must => "must",
            TestLevel::Should => "should",
        }
    }
}

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The broker did what the statements require.
    Pass,
    /// The broker broke a MUST statement.
    Fail,
    /// The broker did not do what a SHOULD statement recommends; never counted as a failure.
    Advisory,
    /// Not run: a capability is absent or the test does not apply (see `reason`).
    Skip,
    /// Ran, but the outcome could not be decided (see `reason`).
    Inconclusive,
    /// The suite itself failed (a bug or an environment problem), not the broker.
    Error,
}

impl Verdict {
    /// Every verdict, in display order.
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Advisory,
        Verdict::Skip,
        Verdict::Inconclusive,
        Verdict::Error,
    ];

    /// The lowercase name used in JSON: `pass`, `fail`, `advisory`, `skip`, `inconclusive`,
    /// `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Advisory => "advisory",
            Verdict::Skip => "skip",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
        }
    }

    /// A capitalised label for people: `Passed`, `Failed`, ...
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "Passed",
            Verdict::Fail => "Failed",
            Verdict::Advisory => "Advisory",
            Verdict::Skip => "Skipped",
            Verdict::Inconclusive => "Inconclusive",
            Verdict::Error => "Error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one test on one protocol version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Stable test id, e.g. `v5.connect.clean-start.session-present`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// The protocol version the test ran with.
    pub protocol: Protocol,
    /// The chapter of the standard the test belongs to: two dotted numbers, `3.1`, `4.7`.
    pub chapter: String,
    /// The statement ids the test checks (`MQTT-3.1.2-4`), in the catalogue of `protocol`.
    #[serde(default)]
    pub statements: Vec<String>,
    /// MUST or SHOULD.
    pub level: TestLevel,
    /// The outcome.
    pub verdict: Verdict,
    /// How long the test took, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// What the statements require the broker to do, for a failure or advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the broker did instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// Why the test was skipped, inconclusive or in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A known deviation from the broker profile that explains this failure; a failure with a
    /// deviation does not make the run fail (see [`Results::exit_code`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deviation: Option<String>,
    /// The packets sent and received, and events seen, in order; usually recorded for a
    /// failure, advisory, inconclusive or error only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<TraceEntry>,
}

impl TestResult {
    /// A result with no statements, no trace, no texts and zero duration.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        protocol: Protocol,
        chapter: impl Into<String>,
        level: TestLevel,
        verdict: Verdict,
    ) -> Self {
        TestResult {
            id: id.into(),
            title: title.into(),
            protocol,
            chapter: chapter.into(),
            statements: Vec::new(),
            level,
            verdict,
            duration_ms: 0,
            expected: None,
            observed: None,
            reason: None,
            deviation: None,
            trace: Vec::new(),
        }
    }

    /// A failure that the run does not count against the broker: a [`Verdict::Fail`] explained
    /// by a known deviation of the profile.
    pub fn is_known_deviation(&self) -> bool {
        self.verdict == Verdict::Fail && self.deviation.is_some()
    }

    /// A failure (without a known deviation) or an error: makes the run exit with code 1.
    pub fn is_blocking(&self) -> bool {
        match self.verdict {
            Verdict::Fail => self.deviation.is_none(),
            Verdict::Error => true,
            _ => false,
        }
    }
}

/// Who produced a trace entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent by the suite to the broker.
    Out,
    /// Received by the suite from the broker.
    In,
    /// Something that is not a packet: the connection closed, a deadline passed, a note.
    Event,
}

impl Direction {
    /// `out`, `in` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
            Direction::Event => "event",
        }
    }

    /// An arrow for people: `→` sent, `←` received, `•` event.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Out => "→",
            Direction::In => "←",
            Direction::Event => "•",
        }
    }
}

/// One packet sent or received, or one event, during a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// Sent, received or event.
    pub dir: Direction,
    /// Milliseconds since the test started (fractional).
    pub t_ms: f64,
    /// The packet type (`PUBLISH`), or the event name (`closed`, `timeout`).
    pub packet: String,
    /// The decoded fields of the packet, or details of the event; `null` when none.
    #[serde(default)]
    pub fields: serde_json::Value,
    /// The raw bytes in hexadecimal; empty for events.
    #[serde(default)]
    pub hex: String,
}

impl TraceEntry {
    /// A packet sent by the suite.
    pub fn out(
        t_ms: f64,
        packet: impl Into<String>,
        fields: serde_json::Value,
        hex: impl Into<String>,
    ) -> Self {
        TraceEntry {
            dir: Direction::Out,
            t_ms,
            packet: packet.into(),
            fields,
            hex: hex.into(),
        }
    }

    /// A packet received from the broker.
    pub fn incoming(
        t_ms: f64,
        packet: impl Into<String>,
        fields: serde_json::Value,
        hex: impl Into<String>,
    ) -> Self {
        TraceEntry {
            dir: Direction::In,
            t_ms,
            packet: packet.into(),
            fields,
            hex: hex.into(),
        }
    }

    /// An event (`closed`, `timeout`, ...), with optional details.
    pub fn event(t_ms: f64, name: impl Into<String>, fields: serde_json::Value) -> Self {
        TraceEntry {
            dir: Direction::Event,
            t_ms,
            packet: name.into(),
            fields,
            hex: String::new(),
        }
    }
}

/// Why a results file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not JSON, or not a results document.
    #[error("{} is not a valid results file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The file is a results document of a schema version this build does not read.
    #[error(
        "{} has results schema version {found}, this build reads version {}",
        path.display(),
        SCHEMA_VERSION
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
    },
}

impl Results {
    /// Results of this tool for `run`, with no tests yet.
    pub fn new(run: Run) -> Self {
        Results {
            schema_version: SCHEMA_VERSION,
            tool: Tool::current(),
            run,
            tests: Vec::new(),
        }
    }

    /// Reads a `results.json` file, checking its schema version first so that a file from a
    /// newer or older schema gives a clear error rather than a confusing field error.
    pub fn load(path: impl AsRef<Path>) -> Result<Results, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text).map_err(|e| e.with_path(path))
    }

    /// Parses a results document from JSON text (see [`Results::load`]); errors carry an
    /// empty path.
    pub fn from_json_str(text: &str) -> Result<Results, LoadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| LoadError::Parse {
                path: PathBuf::new(),
                source,
            })?;
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(LoadError::SchemaVersion {
                    path: PathBuf::new(),
                    found,
                })
            }
            // Missing or not a number: let serde name the problem.
            None => {}
        }
        serde_json::from_value(value).map_err(|source| LoadError::Parse {
            path: PathBuf::new(),
            source,
        })
    }

    /// Pretty JSON, with a final newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing these types cannot fail: string keys only, no non-string map keys.
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize results: {e}\"}}"));
        s.push('\n');
        s
    }

    /// Writes `results.json` style pretty JSON to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_json_pretty())
    }

    /// The process exit code for this run:
    ///
    /// - `1` if any test has [`Verdict::Fail`] without a known `deviation`, or
    ///   [`Verdict::Error`] (the suite could not do its job, so the run proves nothing);
    /// - `0` otherwise: passes, advisories (SHOULD not met), skips, inconclusive tests and
    ///   failures explained by a known deviation of the profile never fail a run.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.tests.iter().any(TestResult::is_blocking))
    }

    /// A label for this run in comparisons: broker name and version, else the target.
    pub fn label(&self) -> String {
        match &self.run.broker {
            Some(Broker {
                name,
                version: Some(v),
            }) => format!("{name} {v}"),
            Some(Broker {
                name,
                version: None,
            }) => name.clone(),
            None => self.run.target.clone(),
        }
    }
}

impl LoadError {
    fn with_path(self, p: &Path) -> LoadError {
        let path = p.to_path_buf();
        match self {
            LoadError::Read { source, .. } => LoadError::Read { path, source },
            LoadError::Parse { source, .. } => LoadError::Parse { path, source },
            LoadError::SchemaVersion { found, .. } => LoadError::SchemaVersion { path, found },
        }
    }
}

/// The chapter of a section number: its first two dotted components (`3.1.2.4` -> `3.1`).
pub fn chapter_of(section: &str) -> &str {
    let mut dots = section.match_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((second, _))) => section.get(..second).unwrap_or(section),
        _ => section,
    }
}

/// Sorts chapters numerically: `3.2` before `3.10`; anything not numeric after, by text.
pub(crate) fn chapter_key(chapter: &str) -> (Vec<u32>, String) {
    let nums = chapter
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(u32::MAX))
        .collect();
    (nums, chapter.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters() {
        assert_eq!(chapter_of("3.1.2.4"), "3.1");
        assert_eq!(chapter_of("3.1.2"), "3.1");
        assert_eq!(chapter_of("4.7"), "4.7");
        assert_eq!(chapter_of("4"), "4");
        assert!(chapter_key("3.2") < chapter_key("3.10"));
    }

    #[test]
    fn exit_code_rule() {
        let mut r = Results::new(Run::new("embedded", vec![Protocol::V5_0]));
        let t = |v| TestResult::new("a", "a", Protocol::V5_0, "3.1", TestLevel::Must, v);
        r.tests.push(t(Verdict::Pass));
        r.tests.push(t(Verdict::Advisory));
        r.tests.push(t(Verdict::Skip));
        r.tests.push(t(Verdict::Inconclusive));
        assert_eq!(r.exit_code(), 0);
        let mut dev = t(Verdict::Fail);
        dev.deviation = Some("known".into());
        r.tests.push(dev);
        assert_eq!(r.exit_code(), 0);
        r.tests.push(t(Verdict::Error));
        assert_eq!(r.exit_code(), 1);
        r.tests.pop();
        r.tests.push(t(Verdict::Fail));
        assert_eq!(r.exit_code(), 1);
    }
}
