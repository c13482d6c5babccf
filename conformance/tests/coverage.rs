//! Every statement an outside client can observe on the server side has at least one test.

use mqtt_conformance::coverage::uncovered;
use mqtt_conformance::suite;
use mqtt_spec::Protocol;

#[test]
fn every_observable_server_statement_has_a_test() {
    let cases = suite::all();
    let mut missing = Vec::new();
    for p in Protocol::ALL {
        for (s, gap) in uncovered(&cases, p) {
            if gap.is_missing_test() {
                missing.push(format!("{p} {} ({}): {}", s.id, s.section, s.summary));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} statements have no test:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn test_ids_are_unique_and_well_formed() {
    let cases = suite::all();
    // A test id may be declared twice when its 3.1.1 and 5.0 forms differ in level (a MUST in
    // one version, a SHOULD in the other); each result id (`v311.<id>`, `v5.<id>`) is unique.
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        for (v, list) in [("v311", c.v311), ("v5", c.v5)] {
            if !list.is_empty() {
                let rid = format!("{v}.{}", c.id);
                assert!(seen.insert(rid.clone()), "duplicate result id {rid}");
            }
        }
        assert!(
            c.id.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-._".contains(ch)),
            "test id {} must be lowercase, dotted",
            c.id
        );
        assert!(
            !c.v311.is_empty() || !c.v5.is_empty(),
            "test {} names no statement",
            c.id
        );
        for s in c.v311 {
            assert!(
                s.statement(Protocol::V3_1_1).is_some(),
                "{}: {} is not a 3.1.1 statement",
                c.id,
                s
            );
        }
        for s in c.v5 {
            assert!(
                s.statement(Protocol::V5_0).is_some(),
                "{}: {} is not a 5.0 statement",
                c.id,
                s
            );
        }
    }
}
