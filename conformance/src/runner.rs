//! Runs the suite: expands tests per protocol version, filters, skips what the broker lacks,
//! runs the rest in parallel with deadlines, and fills in the results model.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use mqtt_codec::{Packet, ProtocolVersion, Publish};
use mqtt_reports::{chapter_of, Protocol, Results, Run, TestLevel, TestResult, Verdict};
use tokio::sync::Semaphore;

use crate::caps::Capabilities;
use crate::case::{version_tag, Ctx, CtxInner, Stop, TestCase};
use crate::profile::Profile;
use crate::target::Target;

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Protocol versions to test.
    pub protocols: Vec<ProtocolVersion>,
    /// Glob patterns over result ids (`v5.connect.*`); empty: all tests.
    pub filters: Vec<String>,
    /// Tests run at the same time.
    pub jobs: usize,
    /// Upper bound on each test's duration (overrides longer declared timeouts).
    pub timeout: Option<Duration>,
    /// The profile.
    pub profile: Profile,
    /// The profile's file name, for the report.
    pub profile_name: Option<String>,
    /// A label that makes client ids and topics unique to this run.
    pub run_tag: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            protocols: vec![ProtocolVersion::V3_1_1, ProtocolVersion::V5],
            filters: Vec::new(),
            jobs: 8,
            timeout: None,
            profile: Profile::default(),
            profile_name: None,
            run_tag: "r".into(),
        }
    }
}

/// A test instance: one test at one protocol version.
#[derive(Clone)]
pub struct Planned {
    /// The test.
    pub case: TestCase,
    /// The version.
    pub version: ProtocolVersion,
}

impl Planned {
    /// `v5.<id>` / `v311.<id>`.
    pub fn result_id(&self) -> String {
        self.case.result_id(self.version)
    }
}

/// Error in the run options.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A filter is not a valid glob.
    #[error("invalid --filter pattern `{pattern}`: {message}")]
    BadFilter {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// The filters select nothing.
    #[error("no test matches --filter {0}")]
    NothingSelected(String),
}

fn globs(filters: &[String]) -> Result<Option<GlobSet>, PlanError> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for f in filters {
        for part in f.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            // A pattern without a wildcard selects that id and everything under it.
            let pat = if part.contains(['*', '?', '[']) {
                part.to_string()
            } else {
                format!("{part}*")
            };
            let g = Glob::new(&pat).map_err(|e| PlanError::BadFilter {
                pattern: part.to_string(),
                message: e.to_string(),
            })?;
            b.add(g);
        }
    }
    b.build().map(Some).map_err(|e| PlanError::BadFilter {
        pattern: filters.join(","),
        message: e.to_string(),
    })
}

/// The test instances `opts` selects from `cases`, in catalogue order, 3.1.1 before 5.0.
pub fn plan(cases: &[TestCase], opts: &RunOptions) -> Result<Vec<Planned>, PlanError> {
    let set = globs(&opts.filters)?;
    let mut out = Vec::new();
    for &version in &opts.protocols {
        for case in cases {
            if case.statements(version).is_empty() {
                continue;
            }
            let p = Planned {
                case: case.clone(),
                version,
            };
            if let Some(set) = &set {
                let id = p.result_id();
                if !set.is_match(&id) && !set.is_match(case.id) {
                    continue;
                }
            }
            out.push(p);
        }
    }
    if out.is_empty() && !opts.filters.is_empty() {
        return Err(PlanError::NothingSelected(opts.filters.join(",")));
    }
    Ok(out)
}

fn to_protocol(v: ProtocolVersion) -> Protocol {
    if v.is_v5() {
        Protocol::V5_0
    } else {
        Protocol::V3_1_1
    }
}

/// Runs `planned` against `target`, calling `progress` after each test. Results come back in
/// plan order whatever order the tests finished in.
pub async fn run_planned(
    target: Arc<dyn Target>,
    caps: Capabilities,
    planned: Vec<Planned>,
    opts: &RunOptions,
    progress: Arc<dyn Fn(&TestResult) + Send + Sync>,
) -> Vec<TestResult> {
    let caps = Arc::new(caps);
    let profile = Arc::new(opts.profile.clone());
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut handles = Vec::with_capacity(planned.len());
    for (index, p) in planned.into_iter().enumerate() {
        let target = target.clone();
        let caps = caps.clone();
        let profile = profile.clone();
        let sem = sem.clone();
        let progress = progress.clone();
        let run_tag = opts.run_tag.clone();
        let cap = opts.timeout;
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let r = run_one(target, caps, profile, &p, index, &run_tag, cap).await;
            progress(&r);
            r
        }));
    }
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => {
                // A panic in a test body is a bug of the suite: report it as an error.
                let mut r = TestResult::new(
                    "suite.panic",
                    "a test panicked",
                    Protocol::V5_0,
                    "0",
                    TestLevel::Must,
                    Verdict::Error,
                );
                r.reason = Some(e.to_string());
                results.push(r);
            }
        }
    }
    results
}

async fn run_one(
    target: Arc<dyn Target>,
    caps: Arc<Capabilities>,
    profile: Arc<Profile>,
    p: &Planned,
    index: usize,
    run_tag: &str,
    cap: Option<Duration>,
) -> TestResult {
    let case = &p.case;
    let statements = case.statements(p.version);
    let section = statements
        .first()
        .and_then(|s| s.statement(to_protocol(p.version)))
        .map(|s| s.section.clone())
        .unwrap_or_else(|| "0".into());
    let level = if case.should {
        TestLevel::Should
    } else {
        TestLevel::Must
    };
    let mut r = TestResult::new(
        p.result_id(),
        case.title,
        to_protocol(p.version),
        chapter_of(&section),
        level,
        Verdict::Pass,
    );
    r.statements = statements.iter().map(|s| s.as_str().to_string()).collect();

    let caps = Arc::new(caps.for_version(p.version));
    let supported = if p.version.is_v5() {
        caps.v5
    } else {
        caps.v311
    };
    if !supported {
        r.verdict = Verdict::Skip;
        r.reason = Some(format!("the broker does not speak MQTT {}", p.version));
        return r;
    }
    if let Some(missing) = case.requires.iter().find(|c| !caps.has(**c)) {
        r.verdict = Verdict::Skip;
        r.reason = Some(format!("the broker lacks {}", missing.name()));
        return r;
    }

    let ctx = Ctx(Arc::new(CtxInner {
        version: p.version,
        target: target.clone(),
        topic_prefix: format!(
            "mqtt-conform/{run_tag}/{}/{}",
            version_tag(p.version),
            index
        ),
        client_prefix: format!("mc{run_tag}{}", index),
        start: tokio::time::Instant::now(),
        trace: Mutex::new(Vec::new()),
        caps,
        profile: profile.clone(),
        retained: Mutex::new(Vec::new()),
        clients: Mutex::new(0),
    }));
    let limit = match cap {
        Some(c) => c.min(case.timeout),
        None => case.timeout,
    };
    let started = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(limit, (case.run)(ctx.clone())).await;
    r.duration_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(())) => r.verdict = Verdict::Pass,
        Ok(Err(Stop::Fail {
            statement,
            expected,
            observed,
        })) => {
            r.verdict = if case.should {
                Verdict::Advisory
            } else {
                Verdict::Fail
            };
            if let Some(s) = statement {
                // The failing statement first.
                let s = s.as_str().to_string();
                r.statements.retain(|x| *x != s);
                r.statements.insert(0, s);
            }
            r.expected = Some(expected);
            r.observed = Some(observed);
        }
        Ok(Err(Stop::Skip(why))) => {
            r.verdict = Verdict::Skip;
            r.reason = Some(why);
        }
        Ok(Err(Stop::Inconclusive(why))) => {
            r.verdict = Verdict::Inconclusive;
            r.reason = Some(why);
        }
        Ok(Err(Stop::Error(why))) => {
            r.verdict = Verdict::Error;
            r.reason = Some(why);
        }
        Err(_) => {
            r.verdict = Verdict::Error;
            r.reason = Some(format!(
                "the test did not finish within its timeout of {} ms",
                limit.as_millis()
            ));
        }
    }
    cleanup_retained(&ctx, p.version).await;
    if matches!(
        r.verdict,
        Verdict::Fail | Verdict::Advisory | Verdict::Error
    ) {
        if let Ok(t) = ctx.0.trace.lock() {
            r.trace = t.clone();
        }
    }
    if r.verdict == Verdict::Fail {
        let failing = r.statements.first().map(String::as_str);
        if let Some(d) = profile.deviation_for(&r.id, failing) {
            r.deviation = Some(d.reason.clone());
        }
    }
    r
}

/// Removes the retained messages a test made (an empty retained PUBLISH on each topic).
async fn cleanup_retained(ctx: &Ctx, version: ProtocolVersion) {
    let topics = match ctx.0.retained.lock() {
        Ok(t) => t.clone(),
        Err(_) => return,
    };
    if topics.is_empty() {
        return;
    }
    let fut = async {
        let mut c = ctx.open("cleanup").await?;
        c.set_version(version);
        let p = ctx.connect_packet("cleanup");
        c.handshake(p).await?;
        for t in topics {
            let mut m = Publish::new(t.as_str(), bytes::Bytes::new());
            m.retain = true;
            c.send(Packet::Publish(m)).await?;
        }
        c.disconnect().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), fut).await;
}

/// Builds the results of a run.
pub fn results(
    target: &str,
    opts: &RunOptions,
    caps: &Capabilities,
    tests: Vec<TestResult>,
    started_at: String,
    duration: Duration,
) -> Results {
    let protocols = opts.protocols.iter().map(|v| to_protocol(*v)).collect();
    let mut run = Run::new(target, protocols);
    run.started_at = started_at;
    run.duration_ms = duration.as_millis() as u64;
    run.profile = opts.profile_name.clone();
    if let Some(name) = &opts.profile.name {
        run.broker = Some(mqtt_reports::Broker {
            name: name.clone(),
            version: opts.profile.version.clone(),
        });
    }
    for v in &opts.protocols {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(caps.for_version(*v)) {
            run.capabilities
                .insert(to_protocol(*v).to_string(), map.into_iter().collect());
        }
    }
    let mut r = Results::new(run);
    r.tests = tests;
    r
}
