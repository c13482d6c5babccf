//! Every test of the suite can fail: for each one, some mutation of what the reference broker
//! sends (a dropped, duplicated or altered packet, a suppressed close) turns its verdict to
//! fail. A test no mutation can fail checks nothing and must be rewritten.

use std::collections::BTreeMap;
use std::sync::Arc;

use mqtt_broker_model::Config;
use mqtt_conformance::embedded::{configurations, EmbeddedTarget};
use mqtt_conformance::mutate::{MutatingTarget, Mutation};
use mqtt_conformance::probe::probe;
use mqtt_conformance::runner::{plan, run_planned, RunOptions};
use mqtt_conformance::session::embedded_runtime;
use mqtt_conformance::{suite, Target};
use mqtt_reports::Verdict;

#[test]
fn every_test_is_failed_by_some_mutation() {
    let rt = embedded_runtime().expect("runtime");
    rt.block_on(async {
        let all = plan(&suite::all(), &RunOptions::default()).expect("plan");
        let total = all.len();
        let mut alive = all.clone();
        let mut killers: BTreeMap<String, (String, Mutation)> = BTreeMap::new();
        let mut broken_by_config: BTreeMap<String, &'static str> = BTreeMap::new();
        // Each configuration of the reference broker in turn: the tests that pass there (not
        // skip) are mutated there.
        for ec in configurations() {
            let opts = RunOptions {
                jobs: 32,
                profile: ec.profile.clone(),
                ..RunOptions::default()
            };
            let caps = {
                let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
                let t: Arc<dyn Target> = Arc::new(t);
                let c = probe(t, &opts.profile).await.expect("probe").capabilities;
                h.stop().await;
                c
            };
            // Which of the remaining tests pass unmutated in this configuration.
            let baseline = {
                let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
                let r = run_planned(
                    Arc::new(t),
                    caps.clone(),
                    alive.clone(),
                    &opts,
                    Arc::new(|_| {}),
                )
                .await;
                h.stop().await;
                r
            };
            let passing: Vec<String> = baseline
                .iter()
                .filter(|r| r.verdict == Verdict::Pass)
                .map(|r| r.id.clone())
                .collect();
            let mut here: Vec<_> = alive
                .iter()
                .filter(|p| passing.contains(&p.result_id()))
                .cloned()
                .collect();
            for m in Mutation::catalogue() {
                if here.is_empty() {
                    break;
                }
                let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
                let target: Arc<dyn Target> = Arc::new(MutatingTarget::new(Arc::new(t), m));
                let results =
                    run_planned(target, caps.clone(), here.clone(), &opts, Arc::new(|_| {})).await;
                h.stop().await;
                // A SHOULD-level test that is not met says so with an advisory verdict.
                let failed: Vec<String> = results
                    .iter()
                    .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Advisory))
                    .map(|r| r.id.clone())
                    .collect();
                for id in &failed {
                    killers.insert(id.clone(), (ec.name.to_string(), m));
                }
                here.retain(|p| !failed.contains(&p.result_id()));
                alive.retain(|p| !failed.contains(&p.result_id()));
            }
        }
        // Rules a proxy cannot break (what the broker keeps, forgets or expires) are broken by
        // configuring the reference broker to ignore them.
        for ec in configurations() {
            if alive.is_empty() {
                break;
            }
            let opts = RunOptions {
                jobs: 32,
                profile: ec.profile.clone(),
                ..RunOptions::default()
            };
            let caps = {
                let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
                let t: Arc<dyn Target> = Arc::new(t);
                let c = probe(t, &opts.profile).await.expect("probe").capabilities;
                h.stop().await;
                c
            };
            for (name, broken) in broken_configs(&ec.config) {
                if alive.is_empty() {
                    break;
                }
                let (t, h) = EmbeddedTarget::start(broken, 1, true);
                let results = run_planned(
                    Arc::new(t),
                    caps.clone(),
                    alive.clone(),
                    &opts,
                    Arc::new(|_| {}),
                )
                .await;
                h.stop().await;
                let failed: Vec<String> = results
                    .iter()
                    .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Advisory))
                    .map(|r| r.id.clone())
                    .collect();
                for id in &failed {
                    killers.insert(
                        id.clone(),
                        (format!("{}: {name}", ec.name), Mutation::SuppressClose),
                    );
                    broken_by_config.insert(id.clone(), name);
                }
                alive.retain(|p| !failed.contains(&p.result_id()));
            }
        }
        eprintln!("killed by a broken configuration: {broken_by_config:?}");
        let mut by_mutation: BTreeMap<String, usize> = BTreeMap::new();
        for (id, (_, m)) in &killers {
            if !broken_by_config.contains_key(id) {
                *by_mutation.entry(format!("{m:?}")).or_default() += 1;
            }
        }
        eprintln!(
            "{} of {total} tests failed by a mutation: {by_mutation:?}",
            killers.len()
        );
        let survivors: Vec<String> = alive.iter().map(|p| p.result_id()).collect();
        assert!(
            survivors.is_empty(),
            "{} tests pass under every mutation (they cannot fail):\n{}",
            survivors.len(),
            survivors.join("\n")
        );
    });
}

/// The reference broker configured to break one rule each.
fn broken_configs(base: &Config) -> Vec<(&'static str, Config)> {
    vec![
        (
            "messages never expire",
            Config {
                message_expiry: false,
                ..base.clone()
            },
        ),
        (
            "will delay ignored",
            Config {
                will_delay: false,
                ..base.clone()
            },
        ),
        (
            "user properties dropped",
            Config {
                user_properties: false,
                ..base.clone()
            },
        ),
    ]
}
