//! A fixed, hand-built results value and a small catalogue for the renderer tests.
#![allow(dead_code, clippy::too_many_arguments)]

use mqtt_reports::coverage::{Actor, Catalogue, Level, Observable, StatementInfo};
use mqtt_reports::{
    Broker, Protocol, Results, Run, TestLevel, TestResult, Tool, TraceEntry, Verdict,
};
use serde_json::json;

fn tool() -> Tool {
    Tool {
        name: "mqtt-conform".into(),
        version: "0.1.0".into(),
    }
}

fn t(
    id: &str,
    title: &str,
    p: Protocol,
    chapter: &str,
    statements: &[&str],
    level: TestLevel,
    verdict: Verdict,
    ms: u64,
) -> TestResult {
    let mut r = TestResult::new(id, title, p, chapter, level, verdict);
    r.statements = statements.iter().map(|s| s.to_string()).collect();
    r.duration_ms = ms;
    r
}

/// Run A: both protocols, every verdict, a failure with a trace, non-ASCII text and text that
/// needs escaping in XML, HTML and Markdown.
pub fn fixture() -> Results {
    let mut caps = std::collections::BTreeMap::new();
    caps.insert(
        "5.0".to_string(),
        [
            ("retain_available".to_string(), json!(true)),
            ("maximum_qos".to_string(), json!(1)),
        ]
        .into_iter()
        .collect(),
    );
    let run = Run {
        target: "tcp://127.0.0.1:1883".into(),
        broker: Some(Broker {
            name: "Brökr <test> & \"co\"".into(),
            version: Some("2.0.18".into()),
        }),
        profile: Some("profiles/brökr.yaml".into()),
        protocols: vec![Protocol::V3_1_1, Protocol::V5_0],
        started_at: "2024-05-01T12:00:00.000Z".into(),
        duration_ms: 12_345,
        capabilities: caps,
    };
    let v5 = Protocol::V5_0;
    let v3 = Protocol::V3_1_1;
    let mut tests = Vec::new();

    tests.push(t(
        "v5.connect.first-packet",
        "The first packet must be CONNECT",
        v5,
        "3.1",
        &["MQTT-3.1.0-1"],
        TestLevel::Must,
        Verdict::Pass,
        12,
    ));
    let mut fail = t(
        "v5.connect.clean-start.session-present",
        "Session Present is 0 after Clean Start <script>alert(\"x & y\")</script>",
        v5,
        "3.2",
        &["MQTT-3.2.2-2", "MQTT-3.1.2-4"],
        TestLevel::Must,
        Verdict::Fail,
        48,
    );
    fail.expected = Some("CONNACK with Session Present = 0".into());
    fail.observed =
        Some("CONNACK with Session Present = 1 & reason 'ok' ]]> | *bold* `tick`".into());
    fail.trace = vec![
        TraceEntry::out(
            0.0,
            "CONNECT",
            json!({"client_id": "conform-ü-1", "clean_start": true, "keep_alive": 30}),
            "101300044d5154540502001e00000663",
        ),
        TraceEntry::incoming(
            3.25,
            "CONNACK",
            json!({"session_present": true, "reason_code": "Success"}),
            "20 03 01 00 00",
        ),
        TraceEntry::event(5.5, "closed", json!({"by": "suite"})),
    ];
    tests.push(fail);

    let mut dev = t(
        "v5.publish.dup-qos0",
        "DUP is 0 on QoS 0 deliveries",
        v5,
        "3.3",
        &["MQTT-3.3.1-2"],
        TestLevel::Must,
        Verdict::Fail,
        20,
    );
    dev.expected = Some("DUP = 0".into());
    dev.observed = Some("DUP = 1".into());
    dev.deviation = Some("vendor issue #42: DUP copied from the publisher".into());
    tests.push(dev);

    let mut adv = t(
        "v5.connect.second-connect",
        "A second CONNECT closes the connection — größer als 日本語",
        v5,
        "3.1",
        &["MQTT-3.1.0-2"],
        TestLevel::Should,
        Verdict::Advisory,
        7,
    );
    adv.expected = Some("DISCONNECT with reason 0x82 before closing".into());
    adv.observed = Some("connection closed without DISCONNECT".into());
    tests.push(adv);

    let mut skip = t(
        "v5.subscribe.shared",
        "Shared subscriptions",
        v5,
        "4.8",
        &[],
        TestLevel::Must,
        Verdict::Skip,
        0,
    );
    skip.reason = Some("capability shared_subscription_available is false".into());
    tests.push(skip);

    let mut inc = t(
        "v5.topic.no-normalisation",
        "Topic names are not normalised",
        v5,
        "4.7",
        &["MQTT-4.7.3-4", "EXAMPLE-UNKNOWN-1"],
        TestLevel::Must,
        Verdict::Inconclusive,
        2000,
    );
    inc.reason = Some("no message within 2 s: cannot tell dropped from slow".into());
    inc.trace = vec![TraceEntry::event(
        2000.0,
        "timeout",
        serde_json::Value::Null,
    )];
    tests.push(inc);

    let mut err = t(
        "v311.connect.reserved-flag",
        "Reserved CONNECT flag set: connection closed",
        v3,
        "3.1",
        &["MQTT-3.1.2-3"],
        TestLevel::Must,
        Verdict::Error,
        1,
    );
    err.reason = Some("cannot open a connection: refused (os error 111)".into());
    tests.push(err);

    tests.push(t(
        "v311.connect.first-packet",
        "The first packet must be CONNECT",
        v3,
        "3.1",
        &["MQTT-3.1.0-1"],
        TestLevel::Must,
        Verdict::Pass,
        9,
    ));
    tests.push(t(
        "v311.connack.session-present",
        "Session Present is 0 with CleanSession 1",
        v3,
        "3.2",
        &["MQTT-3.2.2-1"],
        TestLevel::Must,
        Verdict::Pass,
        11,
    ));

    Results {
        schema_version: 1,
        tool: tool(),
        run,
        tests,
    }
}

/// Run B: another broker, for comparisons: some verdicts differ, one test missing, one extra.
pub fn fixture_b() -> Results {
    let mut r = fixture();
    r.run.broker = Some(Broker {
        name: "other-broker".into(),
        version: None,
    });
    r.run.profile = None;
    r.run.started_at = "2024-05-02T08:30:00.000Z".into();
    for test in &mut r.tests {
        match test.id.as_str() {
            "v5.connect.clean-start.session-present" => {
                test.verdict = Verdict::Pass;
                test.expected = None;
                test.observed = None;
                test.trace.clear();
            }
            "v311.connect.reserved-flag" => {
                test.verdict = Verdict::Pass;
                test.reason = None;
            }
            "v5.publish.dup-qos0" => test.deviation = None,
            _ => {}
        }
    }
    r.tests.retain(|t| t.id != "v5.subscribe.shared");
    r.tests.push(t(
        "v5.subscribe.suback",
        "SUBACK answers SUBSCRIBE",
        Protocol::V5_0,
        "3.8",
        &["MQTT-3.8.4-1"],
        TestLevel::Must,
        Verdict::Pass,
        5,
    ));
    r
}

fn s(
    id: &str,
    section: &str,
    level: Level,
    actor: Actor,
    obs: Observable,
    summary: &str,
) -> StatementInfo {
    StatementInfo {
        id: id.into(),
        section: section.into(),
        level,
        actor,
        observable: obs,
        summary: summary.into(),
        aliases: Vec::new(),
    }
}

/// A few statements of each version, some checked, some client-only, internal-only or with
/// no test, so that every branch of the coverage view shows.
pub struct SmallCatalogue;

impl Catalogue for SmallCatalogue {
    fn statements(&self, protocol: Protocol) -> Vec<StatementInfo> {
        use Actor::*;
        use Observable::*;
        match protocol {
            Protocol::V5_0 => vec![
                s(
                    "MQTT-3.1.0-1",
                    "3.1",
                    Level::Must,
                    Both,
                    Wire,
                    "The first packet on a connection is CONNECT.",
                ),
                s(
                    "MQTT-3.1.0-2",
                    "3.1",
                    Level::Must,
                    Server,
                    Wire,
                    "A second CONNECT is a protocol error & closes <it>.",
                ),
                s(
                    "MQTT-3.1.2-4",
                    "3.1.2.4",
                    Level::Must,
                    Both,
                    Behaviour,
                    "Clean Start 1 discards the old session.",
                ),
                s(
                    "MQTT-3.1.2-11",
                    "3.1.2.6",
                    Level::Must,
                    Client,
                    Wire,
                    "Will QoS is 0 when the Will Flag is 0.",
                ),
                s(
                    "MQTT-3.2.2-2",
                    "3.2.2.1.1",
                    Level::Must,
                    Server,
                    Wire,
                    "Session Present is 0 after Clean Start 1.",
                ),
                s(
                    "MQTT-3.3.1-2",
                    "3.3.1.1",
                    Level::Must,
                    Both,
                    Wire,
                    "DUP is 0 on QoS 0 messages.",
                ),
                s(
                    "MQTT-3.8.4-1",
                    "3.8.4",
                    Level::Must,
                    Server,
                    Wire,
                    "SUBACK answers every SUBSCRIBE.",
                ),
                s(
                    "MQTT-4.7.3-4",
                    "4.7.3",
                    Level::MustNot,
                    Server,
                    InternalOnly,
                    "Topic matching does no Unicode normalisation.",
                ),
            ],
            Protocol::V3_1_1 => vec![
                s(
                    "MQTT-3.1.0-1",
                    "3.1",
                    Level::Must,
                    Both,
                    Wire,
                    "The first packet on a connection is CONNECT.",
                ),
                s(
                    "MQTT-3.1.2-3",
                    "3.1.2.3",
                    Level::Must,
                    Server,
                    Wire,
                    "The reserved CONNECT flag is 0.",
                ),
                s(
                    "MQTT-3.2.2-1",
                    "3.2.2.2",
                    Level::Must,
                    Server,
                    Wire,
                    "Session Present is 0 with CleanSession 1.",
                ),
                s(
                    "MQTT-3.12.4-1",
                    "3.12.4",
                    Level::Must,
                    Server,
                    Wire,
                    "PINGRESP answers PINGREQ.",
                ),
                s(
                    "MQTT-3.14.4-1",
                    "3.14.4",
                    Level::Must,
                    Client,
                    Behaviour,
                    "A client closes the connection after DISCONNECT.",
                ),
            ],
        }
    }

    fn chapter_title(&self, _protocol: Protocol, chapter: &str) -> Option<String> {
        match chapter {
            "3.1" => Some("CONNECT – Connection Request".into()),
            "3.2" => Some("CONNACK – Acknowledgement".into()),
            "3.3" => Some("PUBLISH – Publish message".into()),
            "3.8" => Some("SUBSCRIBE".into()),
            "3.12" => Some("PINGREQ".into()),
            "3.14" => Some("DISCONNECT".into()),
            "4.7" => Some("Topic Names and Topic Filters".into()),
            "4.8" => Some("Subscriptions".into()),
            _ => None,
        }
    }
}
