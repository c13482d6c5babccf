//! The whole suite against the embedded reference broker: every test passes (no failure, no
//! inconclusive, no error, no skip: the reference broker has every optional feature), and
//! repeated runs give identical verdicts.

use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_blocking, Progress};
use mqtt_conformance::TargetSpec;
use mqtt_reports::Verdict;

fn verdicts() -> Vec<(String, Verdict, String)> {
    let (results, _) = run_blocking(
        &TargetSpec::Embedded,
        &RunOptions::default(),
        &Progress::default(),
    )
    .expect("the suite runs against the embedded broker");
    results
        .tests
        .into_iter()
        .map(|t| {
            let why = format!(
                "[{}] expected {}; observed {}; {}",
                t.statements.join(" "),
                t.expected.unwrap_or_default(),
                t.observed.unwrap_or_default(),
                t.reason.unwrap_or_default()
            );
            (t.id, t.verdict, why)
        })
        .collect()
}

#[test]
fn reference_broker_passes_everything_and_verdicts_repeat() {
    let first = verdicts();
    assert!(!first.is_empty());
    let bad: Vec<String> = first
        .iter()
        .filter(|(_, v, _)| *v != Verdict::Pass)
        .map(|(id, v, why)| format!("{id}: {v:?} {why}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} tests do not pass against the reference broker:\n{}",
        bad.len(),
        bad.join("\n")
    );
    for _ in 0..2 {
        let again: Vec<(String, Verdict)> =
            verdicts().into_iter().map(|(id, v, _)| (id, v)).collect();
        let first: Vec<(String, Verdict)> =
            first.iter().map(|(id, v, _)| (id.clone(), *v)).collect();
        assert_eq!(first, again, "verdicts differ between runs");
    }
}
