//! Every test of the suite can fail. For each test that passes against the reference broker,
//! some mutation of what the broker sends (a dropped, duplicated or altered packet, a suppressed
//! close, an injected retained message) or some configuration of the reference broker that
//! breaks one rule (messages never expire, will delay ignored, user properties dropped; over
//! WebSocket: text frames taken as data, no subprotocol returned, one packet per frame assumed)
//! turns its verdict to fail. A test nothing can fail checks nothing and must be rewritten.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mqtt_broker_model::serve::ws::{Framing, OnText, WsOptions};
use mqtt_broker_model::Config;
use mqtt_conformance::caps::Capabilities;
use mqtt_conformance::embedded::{configurations, EmbeddedTarget};
use mqtt_conformance::mutate::{MutatingTarget, Mutation};
use mqtt_conformance::probe::probe;
use mqtt_conformance::runner::{plan, run_planned, Planned, RunOptions};
use mqtt_conformance::session::embedded_runtime;
use mqtt_conformance::{suite, Target};
use mqtt_reports::Verdict;

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

/// The reference broker's WebSocket listener configured to break one rule of chapter 6 each.
fn broken_websockets() -> Vec<(&'static str, WsOptions)> {
    vec![
        (
            "WebSocket text frames taken as data",
            WsOptions {
                on_text: OnText::AcceptAsBinary,
                ..WsOptions::default()
            },
        ),
        (
            "WebSocket subprotocol not returned",
            WsOptions {
                subprotocol: None,
                ..WsOptions::default()
            },
        ),
        (
            "WebSocket frames assumed to hold one whole packet",
            WsOptions {
                framing: Framing::OnePacketPerFrame,
                ..WsOptions::default()
            },
        ),
    ]
}

/// Runs `tests` against `target` and returns the ids that failed (or, for SHOULD tests, were
/// advisory: a SHOULD not met is reported that way).
async fn failing(
    target: Arc<dyn Target>,
    caps: &Capabilities,
    tests: &[Planned],
    opts: &RunOptions,
) -> BTreeSet<String> {
    run_planned(target, caps.clone(), tests.to_vec(), opts, Arc::new(|_| {}))
        .await
        .into_iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Advisory))
        .map(|r| r.id)
        .collect()
}

#[test]
fn every_test_is_failed_by_some_mutation() {
    let rt = embedded_runtime().expect("runtime");
    rt.block_on(async {
        let all = plan(&suite::all(), &RunOptions::default()).expect("plan");
        let total = all.len();
        let mut alive = all.clone();
        let mut never_passed: BTreeSet<String> = all.iter().map(|p| p.result_id()).collect();
        // id -> (configuration, what made it fail)
        let mut killers: BTreeMap<String, (String, String)> = BTreeMap::new();
        for ec in configurations() {
            let opts = RunOptions {
                jobs: 32,
                profile: ec.profile.clone(),
                ..RunOptions::default()
            };
            let start = |config: Config| EmbeddedTarget::start(config, 1, true);
            let caps = {
                let (t, h) = start(ec.config.clone());
                let t: Arc<dyn Target> = Arc::new(t);
                let c = probe(t, &opts.profile).await.expect("probe").capabilities;
                h.stop().await;
                c
            };
            // The remaining tests that pass, unmutated, in this configuration.
            let baseline: BTreeSet<String> = {
                let (t, h) = start(ec.config.clone());
                let r = run_planned(
                    Arc::new(t),
                    caps.clone(),
                    alive.clone(),
                    &opts,
                    Arc::new(|_| {}),
                )
                .await;
                h.stop().await;
                r.into_iter()
                    .filter(|r| r.verdict == Verdict::Pass)
                    .map(|r| r.id)
                    .collect()
            };
            for id in &baseline {
                never_passed.remove(id);
            }
            let mut here: Vec<Planned> = alive
                .iter()
                .filter(|p| baseline.contains(&p.result_id()))
                .cloned()
                .collect();
            let mut kill = |failed: BTreeSet<String>, how: String, here: &mut Vec<Planned>| {
                for id in &failed {
                    killers.insert(id.clone(), (ec.name.to_string(), how.clone()));
                }
                here.retain(|p| !failed.contains(&p.result_id()));
            };
            for m in Mutation::catalogue() {
                if here.is_empty() {
                    break;
                }
                let (t, h) = start(ec.config.clone());
                let target: Arc<dyn Target> = Arc::new(MutatingTarget::new(Arc::new(t), m));
                let failed = failing(target, &caps, &here, &opts).await;
                h.stop().await;
                kill(failed, format!("{m:?}"), &mut here);
            }
            for (name, broken) in broken_configs(&ec.config) {
                if here.is_empty() {
                    break;
                }
                let (t, h) = start(broken);
                let failed = failing(Arc::new(t), &caps, &here, &opts).await;
                h.stop().await;
                kill(failed, format!("broker configured: {name}"), &mut here);
            }
            for (name, ws) in broken_websockets() {
                if here.is_empty() {
                    break;
                }
                let (t, h) = EmbeddedTarget::start_with_ws(ec.config.clone(), 1, true, ws);
                let failed = failing(Arc::new(t), &caps, &here, &opts).await;
                h.stop().await;
                kill(failed, format!("broker configured: {name}"), &mut here);
            }
            alive.retain(|p| !killers.contains_key(&p.result_id()));
        }
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, how) in killers.values() {
            *by_kind.entry(how.as_str()).or_default() += 1;
        }
        eprintln!(
            "{} of {total} tests made to fail: {by_kind:?}",
            killers.len()
        );
        let never: Vec<&String> = never_passed.iter().collect();
        let survivors: Vec<String> = alive
            .iter()
            .map(|p| p.result_id())
            .filter(|id| !never_passed.contains(id))
            .collect();
        assert!(
            never.is_empty() && survivors.is_empty(),
            "tests that pass in no configuration of the reference broker ({}): {never:?}\n\
             tests that pass under every mutation and broken configuration ({}):\n{}",
            never.len(),
            survivors.len(),
            survivors.join("\n")
        );
    });
}

/// Every fixed-header flags test fails against a broker that ignores reserved flag bits: the
/// reference broker behind a proxy that rewrites the flags of the suite's packets to the
/// required values before the broker reads them (a PUBREL with flags 0000 becomes a valid
/// PUBREL, a DISCONNECT with flags 0001 a normal DISCONNECT, and so on). This is the rule
/// itself broken, not just some packet changed: a flags test that passes here does not check
/// its rule.
#[test]
fn a_broker_that_ignores_reserved_flags_fails_every_flags_test() {
    let rt = embedded_runtime().expect("runtime");
    rt.block_on(async {
        let filters: Vec<String> = vec![
            "*.malformed.flags.*".into(),
            "*.disconnect.reserved-flags".into(),
            "*.publish.pubrel.reserved-flags-close".into(),
        ];
        let all = plan(
            &suite::all(),
            &RunOptions {
                filters: filters.clone(),
                ..RunOptions::default()
            },
        )
        .expect("plan");
        assert!(all.len() >= 10, "only {} flags tests", all.len());
        // Each test must pass unmutated in some configuration (the SCRAM one needs the
        // restricted configuration's user) and fail there behind the lenient proxy.
        let mut passed: BTreeSet<String> = BTreeSet::new();
        let mut survivors: BTreeSet<String> = BTreeSet::new();
        for ec in configurations() {
            let opts = RunOptions {
                jobs: 16,
                profile: ec.profile.clone(),
                filters: filters.clone(),
                ..RunOptions::default()
            };
            let caps = {
                let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
                let c = probe(Arc::new(t), &opts.profile)
                    .await
                    .expect("probe")
                    .capabilities;
                h.stop().await;
                c
            };
            let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
            let here: Vec<Planned> = {
                let results = run_planned(
                    Arc::new(t),
                    caps.clone(),
                    all.clone(),
                    &opts,
                    Arc::new(|_| {}),
                )
                .await;
                let ok: BTreeSet<String> = results
                    .into_iter()
                    .filter(|r| r.verdict == Verdict::Pass)
                    .map(|r| r.id)
                    .collect();
                all.iter()
                    .filter(|p| ok.contains(&p.result_id()))
                    .cloned()
                    .collect()
            };
            h.stop().await;
            let (t, h) = EmbeddedTarget::start(ec.config.clone(), 1, true);
            let target: Arc<dyn Target> =
                Arc::new(MutatingTarget::new(Arc::new(t), Mutation::NormalizeFlags));
            let failed = failing(target, &caps, &here, &opts).await;
            h.stop().await;
            for p in &here {
                let id = p.result_id();
                if !failed.contains(&id) {
                    survivors.insert(format!("{id} ({})", ec.name));
                }
                passed.insert(id);
            }
        }
        let never: Vec<String> = all
            .iter()
            .map(|p| p.result_id())
            .filter(|id| !passed.contains(id))
            .collect();
        assert!(never.is_empty(), "flags tests that never pass: {never:?}");
        assert!(
            survivors.is_empty(),
            "flags tests that pass against a broker ignoring reserved flags: {survivors:?}"
        );
    });
}
