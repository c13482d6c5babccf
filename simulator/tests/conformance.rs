//! The conformance suite, simulated: the same tests run on a turmoil host against the
//! reference broker on another, across links with latency and jitter, and give the same
//! verdicts as on the embedded target (where the reference broker passes everything).

use std::collections::BTreeMap;
use std::time::Duration;

use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_embedded, Progress};
use mqtt_reports::Verdict;
use mqtt_simulator::target::{run_suite_all_configs, LinkConfig};

#[test]
fn the_suite_gives_the_embedded_verdicts_over_a_simulated_network() {
    let link = LinkConfig {
        min_latency: Duration::from_millis(2),
        max_latency: Duration::from_millis(30),
        seed: 7,
    };
    let opts = RunOptions::default();
    let sim = run_suite_all_configs(&opts, link).expect("the suite runs in the simulation");
    let (emb, _) = run_embedded(&opts, &Progress::default()).expect("the suite runs embedded");
    let embedded: BTreeMap<&str, Verdict> = emb
        .tests
        .iter()
        .map(|t| (t.id.as_str(), t.verdict))
        .collect();
    assert!(!sim.tests.is_empty());
    assert_eq!(sim.tests.len(), emb.tests.len());
    let mut differ = Vec::new();
    let mut passed = 0;
    for t in &sim.tests {
        if t.verdict == Verdict::Pass {
            passed += 1;
        }
        let e = embedded.get(t.id.as_str()).copied();
        if e != Some(t.verdict) {
            differ.push(format!(
                "{}: simulated {:?}, embedded {e:?} [{}] expected {}; observed {}; {}",
                t.id,
                t.verdict,
                t.statements.join(" "),
                t.expected.clone().unwrap_or_default(),
                t.observed.clone().unwrap_or_default(),
                t.reason.clone().unwrap_or_default()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} tests differ between the simulated and the embedded target:\n{}",
        differ.len(),
        sim.tests.len(),
        differ.join("\n")
    );
    let not_passing: Vec<&str> = sim
        .tests
        .iter()
        .filter(|t| t.verdict != Verdict::Pass)
        .map(|t| t.id.as_str())
        .collect();
    eprintln!(
        "{passed} of {} tests pass over the simulated network; not passing (same as embedded): {not_passing:?}",
        sim.tests.len()
    );
}
