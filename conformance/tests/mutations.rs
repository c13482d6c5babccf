//! Every test of the suite can fail: for each one, some mutation of what the reference broker
//! sends (a dropped, duplicated or altered packet, a suppressed close) turns its verdict to
//! fail. A test no mutation can fail checks nothing and must be rewritten.

use std::collections::BTreeMap;
use std::sync::Arc;

use mqtt_broker_model::Config;
use mqtt_conformance::embedded::EmbeddedTarget;
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
        let opts = RunOptions {
            jobs: 32,
            ..RunOptions::default()
        };
        let mut alive = plan(&suite::all(), &opts).expect("plan");
        let total = alive.len();
        let caps = {
            let (t, h) = EmbeddedTarget::start(Config::default(), 1, true);
            let t: Arc<dyn Target> = Arc::new(t);
            let c = probe(t, &opts.profile).await.expect("probe").capabilities;
            h.stop().await;
            c
        };
        let mut killers: BTreeMap<String, Mutation> = BTreeMap::new();
        for m in Mutation::catalogue() {
            if alive.is_empty() {
                break;
            }
            let (t, h) = EmbeddedTarget::start(Config::default(), 1, true);
            let target: Arc<dyn Target> = Arc::new(MutatingTarget::new(Arc::new(t), m));
            let results =
                run_planned(target, caps.clone(), alive.clone(), &opts, Arc::new(|_| {})).await;
            h.stop().await;
            let failed: Vec<String> = results
                .iter()
                .filter(|r| r.verdict == Verdict::Fail)
                .map(|r| r.id.clone())
                .collect();
            for id in &failed {
                killers.insert(id.clone(), m);
            }
            alive.retain(|p| !failed.contains(&p.result_id()));
        }
        let mut by_mutation: BTreeMap<String, usize> = BTreeMap::new();
        for m in killers.values() {
            *by_mutation.entry(format!("{m:?}")).or_default() += 1;
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
