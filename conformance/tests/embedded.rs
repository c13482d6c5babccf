//! The whole suite against the embedded reference broker, in each of its configurations: no
//! test fails, is inconclusive or errs in any configuration; every test passes in at least one;
//! and repeated runs give identical verdicts.

use std::collections::BTreeMap;
use std::sync::Arc;

use mqtt_conformance::embedded::{configurations, EmbeddedTarget};
use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{embedded_runtime, run_against, Progress};
use mqtt_reports::Verdict;

type Verdicts = BTreeMap<String, (Verdict, String)>;

fn run_config(index: usize) -> Verdicts {
    let ec = configurations()
        .into_iter()
        .nth(index)
        .expect("configuration");
    let rt = embedded_runtime().expect("runtime");
    let opts = RunOptions {
        profile: ec.profile.clone(),
        ..RunOptions::default()
    };
    let (results, _) = rt.block_on(async {
        let (target, handle) = EmbeddedTarget::start(ec.config, 1, true);
        let r = run_against(Arc::new(target), &opts, &Progress::default()).await;
        handle.stop().await;
        r.expect("the suite runs against the embedded broker")
    });
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
            (t.id, (t.verdict, why))
        })
        .collect()
}

#[test]
fn reference_broker_passes_everything_and_verdicts_repeat() {
    let n = configurations().len();
    let runs: Vec<Verdicts> = (0..n).map(run_config).collect();
    let mut bad = Vec::new();
    let mut passed_somewhere: BTreeMap<&String, bool> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let name = configurations()[i].name;
        for (id, (v, why)) in run {
            match v {
                Verdict::Pass => {
                    passed_somewhere.insert(id, true);
                }
                Verdict::Skip => {
                    passed_somewhere.entry(id).or_insert(false);
                }
                other => bad.push(format!("{name}: {id}: {other:?} {why}")),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} verdicts against the reference broker are not pass/skip:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let never: Vec<&&String> = passed_somewhere
        .iter()
        .filter(|(_, p)| !**p)
        .map(|(id, _)| id)
        .collect();
    assert!(
        never.is_empty(),
        "tests that pass in no configuration of the reference broker: {never:?}"
    );
    // Repeatability: the same verdicts four more times, configuration by configuration.
    for (i, first) in runs
        .iter()
        .enumerate()
        .flat_map(|x| std::iter::repeat_n(x, 4))
    {
        let again = run_config(i);
        let a: Vec<(&String, Verdict)> = first.iter().map(|(k, (v, _))| (k, *v)).collect();
        let b: Vec<(&String, Verdict)> = again.iter().map(|(k, (v, _))| (k, *v)).collect();
        assert_eq!(a, b, "verdicts differ between runs");
    }
}

/// A 5.0 CONNACK saying "no retained messages" says nothing about 3.1.1, where every broker
/// keeps them ([MQTT-3.3.1-5] 3.1.1): against a broker configured without retain (that drops
/// retained messages from 3.1.1 clients) the 5.0 retain tests skip, the 3.1.1 ones run and
/// fail, unless the profile states that the broker lacks them for 3.1.1 too.
#[test]
fn a_feature_missing_in_5_0_is_not_assumed_missing_in_3_1_1() {
    let rt = embedded_runtime().expect("runtime");
    let config = mqtt_broker_model::Config {
        retain_available: false,
        ..mqtt_broker_model::Config::default()
    };
    let run = |profile: mqtt_conformance::Profile| {
        let opts = RunOptions {
            profile,
            filters: vec!["*.retain.stored-and-sent-on-subscribe".into()],
            ..RunOptions::default()
        };
        let (results, _) = rt.block_on(async {
            let (target, handle) = EmbeddedTarget::start(config.clone(), 1, true);
            let r = run_against(Arc::new(target), &opts, &Progress::default()).await;
            handle.stop().await;
            r.expect("the suite runs")
        });
        results
            .tests
            .into_iter()
            .map(|t| (t.id, t.verdict))
            .collect::<BTreeMap<String, Verdict>>()
    };
    let plain = run(mqtt_conformance::Profile::default());
    assert_eq!(
        plain.get("v5.retain.stored-and-sent-on-subscribe"),
        Some(&Verdict::Skip),
        "{plain:?}"
    );
    assert_eq!(
        plain.get("v311.retain.stored-and-sent-on-subscribe"),
        Some(&Verdict::Fail),
        "{plain:?}"
    );
    let stated = run(
        mqtt_conformance::Profile::parse("capabilities:\n  v311_retain: false\n").expect("profile"),
    );
    assert_eq!(
        stated.get("v311.retain.stored-and-sent-on-subscribe"),
        Some(&Verdict::Skip),
        "{stated:?}"
    );
}
