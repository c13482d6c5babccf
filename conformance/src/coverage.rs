//! Statement coverage: which tests check each statement, and why the others have none.

use std::collections::BTreeMap;

use mqtt_codec::ProtocolVersion;
use mqtt_spec::{catalogue, Actor, Observable, Protocol, Statement};

use crate::case::TestCase;

/// Why a statement has no test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// The rule binds the client only: a suite playing the client cannot test a server on it.
    ClientOnly,
    /// No outside client can observe it (storage, implementation choices).
    InternalOnly,
    /// Observable in principle, but not by this suite: the reason.
    NotObservable(&'static str),
    /// Testable, but no test checks it yet.
    NoTest,
}

impl Gap {
    /// One line for listings.
    pub fn reason(&self) -> String {
        match self {
            Gap::ClientOnly => "client-only: the rule binds the client".into(),
            Gap::InternalOnly => "internal-only: not observable from outside the broker".into(),
            Gap::NotObservable(why) => format!("not observable: {why}"),
            Gap::NoTest => "no test yet".into(),
        }
    }

    /// True when the statement should have a test.
    pub fn is_missing_test(&self) -> bool {
        matches!(self, Gap::NoTest)
    }
}

/// Server-side statements the suite cannot observe from outside the broker, with why. (The
/// WebSocket statements of chapter 6 are checked by `suite::transport` over ws:// targets and
/// the embedded broker's WebSocket listener; 6.0.0-3 binds the client.)
/// Each entry is reviewed against the standard's text.
pub const NOT_OBSERVABLE: &[(Protocol, &str, &str)] = &[
    (
        Protocol::V3_1_1,
        "MQTT-7.0.0-2",
        "interoperability without outside extensions is a property of the whole implementation, not a behaviour a test can provoke",
    ),
    (
        Protocol::V3_1_1,
        "MQTT-7.1.1-1",
        "a property of the transport: every test runs over an ordered, lossless stream (TCP)",
    ),
];

fn to_protocol(v: ProtocolVersion) -> Protocol {
    if v.is_v5() {
        Protocol::V5_0
    } else {
        Protocol::V3_1_1
    }
}

fn to_version(p: Protocol) -> ProtocolVersion {
    match p {
        Protocol::V5_0 => ProtocolVersion::V5,
        _ => ProtocolVersion::V3_1_1,
    }
}

/// For each statement id of `protocol`, the result ids of the tests that check it.
pub fn tests_by_statement(cases: &[TestCase], protocol: Protocol) -> BTreeMap<String, Vec<String>> {
    let version = to_version(protocol);
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in cases {
        for s in c.statements(version) {
            map.entry(s.as_str().to_string())
                .or_default()
                .push(c.result_id(version));
        }
    }
    map
}

/// Why `s` has no test (given that it has none).
pub fn gap(s: &Statement) -> Gap {
    if let Some((_, _, why)) = NOT_OBSERVABLE
        .iter()
        .find(|(p, id, _)| *p == s.protocol && *id == s.id)
    {
        return Gap::NotObservable(why);
    }
    if s.actor == Actor::Client {
        return Gap::ClientOnly;
    }
    if s.observable == Observable::InternalOnly {
        return Gap::InternalOnly;
    }
    Gap::NoTest
}

/// The statements of `protocol` no test checks, each with its gap.
pub fn uncovered(cases: &[TestCase], protocol: Protocol) -> Vec<(&'static Statement, Gap)> {
    let covered = tests_by_statement(cases, protocol);
    catalogue(protocol)
        .iter()
        .filter(|s| !covered.contains_key(&s.id))
        .map(|s| (s, gap(s)))
        .collect()
}

/// The version of a protocol (helper for callers holding a codec version).
pub fn protocol_of(v: ProtocolVersion) -> Protocol {
    to_protocol(v)
}
