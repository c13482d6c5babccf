//! The reference broker under faults: regression seeds and a small batch of fresh seeds for
//! every scenario pass, runs are deterministic, and a failure report has everything needed to
//! replay it.

use mqtt_simulator::run::{report, run, RunConfig};
use mqtt_simulator::scenario::{all, by_name};
use mqtt_simulator::Schedule;

/// Seeds that once failed (a simulator or broker bug since fixed), per scenario.
const REGRESSIONS: &[(&str, u64)] = &[
    ("qos2", 15),
    ("qos2", 44),
    ("qos2", 68),
    ("shared", 44),
    ("qos2", 0),
    // A later connection's CONNECT processed first found no session: the session check must
    // follow the order of CONNACKs, not of accepts.
    ("will-delay", 5726),
    // A message published before the subscription arrived only as a retransmission, after
    // later ones: not an ordering violation.
    ("qos1", 43535),
    // A connection accepted earlier but answered later took over with Clean Start: the will
    // of the connection it took over goes at once (the will check followed accept order).
    ("will-delay", 681546194),
    // A subscriber's connection taken over still wrote, in its close grace, a first delivery
    // queued before the takeover, after the new connection's DUP re-delivery of the same
    // message: the original attempt written late, not a re-delivery without DUP.
    ("qos1", 686364237),
    // Two connections of one client answered in the same millisecond: the will checks must
    // order CONNACKs by rank, not time (the later one resumed; after a restart its own will
    // was due, and the earlier one's CONNACK at the same time was taken for a later resume).
    ("will-delay", 5000017610),
    // The same race with a resumption: the connection answered later took over and resumed
    // the session, so the will of the one it took over is rightly never sent.
    ("will-delay", 681013005),
];

fn assert_passes(scenario: &str, seed: u64) {
    let sc = by_name(scenario).expect("scenario exists");
    let o = run(&RunConfig::new(sc, seed));
    assert!(o.passed(), "{}", report(&o, None, 40));
}

#[test]
fn regression_seeds_pass() {
    for (scenario, seed) in REGRESSIONS {
        assert_passes(scenario, *seed);
    }
}

#[test]
fn a_batch_of_seeds_passes_in_every_scenario() {
    // A fixed window of seeds (the same every run): the test result depends only on the code, so
    // CI cannot fail on a seed drawn by chance. Exploring new schedules is a separate, explicit
    // job: `mqtt-conform sim --seeds N --first-seed S`, or MQTT_SIM_FRESH_SECONDS=T here to
    // spend T more seconds on seeds drawn from the clock. A failure names its seed and the
    // command that replays it. MQTT_SIM_FIRST_SEED / MQTT_SIM_SEEDS move or widen the window.
    let env = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
    let fixed = env("MQTT_SIM_FIRST_SEED").unwrap_or(1000);
    let n = env("MQTT_SIM_SEEDS").unwrap_or(400);
    for sc in all() {
        for seed in fixed..fixed + n {
            let o = run(&RunConfig::new(sc.clone(), seed));
            assert!(o.passed(), "{}", report(&o, None, 40));
        }
    }
    let budget = std::time::Duration::from_secs(env("MQTT_SIM_FRESH_SECONDS").unwrap_or(0));
    if budget.is_zero() {
        return;
    }
    let fresh = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 1_000_000 * 1000 + 1_000_000)
        .unwrap_or(1_000_000);
    let start = std::time::Instant::now();
    let mut seed = fresh;
    let mut ran = 0u64;
    while start.elapsed() < budget {
        for sc in all() {
            let o = run(&RunConfig::new(sc.clone(), seed));
            assert!(o.passed(), "{}", report(&o, None, 40));
            ran += 1;
        }
        seed += 1;
    }
    eprintln!(
        "fresh seeds {fresh}..{seed} ({ran} runs in {:.1} s) passed",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn runs_are_deterministic() {
    for sc in all() {
        for seed in [3u64, 4] {
            let cfg = RunConfig::new(sc.clone(), seed);
            let a = run(&cfg);
            let b = run(&cfg);
            assert_eq!(
                a.digest, b.digest,
                "{} seed {seed} differs between runs",
                sc.name
            );
            assert_eq!(a.history.events, b.history.events);
        }
    }
}

#[test]
fn versions_mix_and_v311_sessions_follow_clean_session() {
    use mqtt_codec::ProtocolVersion;
    use mqtt_simulator::history::{EventKind, NicConn};

    let o = run(&RunConfig::new(
        by_name("mixed-qos1").expect("mixed-qos1"),
        1,
    ));
    assert!(o.passed(), "{}", report(&o, None, 40));
    let versions: std::collections::BTreeSet<ProtocolVersion> =
        o.history.nic.values().filter_map(|c| c.protocol).collect();
    assert_eq!(
        versions,
        [ProtocolVersion::V3_1_1, ProtocolVersion::V5].into()
    );
    // Messages cross versions both ways.
    let got = |to: &str, from: &str| {
        o.history.events.iter().any(|e| {
            matches!(&e.kind, EventKind::Delivered { client, payload, .. }
                if client == to && payload.starts_with(from.as_bytes()))
        })
    };
    assert!(got("c2", "c4:"), "the 3.1.1 subscriber got no 5.0 message");
    assert!(got("c3", "c1:"), "the 5.0 subscriber got no 3.1.1 message");

    // 3.1.1 sessions: c1 purges with Clean Session 1, then keeps one Clean Session 0 session
    // through its absences; c3's Clean Session 1 sessions are never resumed.
    let o = run(&RunConfig::new(
        by_name("v311-session").expect("v311-session"),
        1,
    ));
    assert!(o.passed(), "{}", report(&o, None, 40));
    let of = |id: &str| -> Vec<&NicConn> {
        o.history
            .nic
            .values()
            .filter(|c| c.client_id.as_deref() == Some(id) && c.connack.is_some())
            .collect()
    };
    let c1 = of("c1");
    assert!(c1.len() >= 3, "{c1:?}");
    assert!(c1.iter().all(|c| c.is_v311()));
    assert!(c1[0].clean_start);
    assert!(!c1[1].clean_start && c1[1].connack.is_some_and(|(_, present)| !present));
    assert!(c1[2..]
        .iter()
        .all(|c| !c.clean_start && c.connack.is_some_and(|(_, present)| present)));
    let c3 = of("c3");
    assert!(c3.len() >= 2, "{c3:?}");
    assert!(c3
        .iter()
        .all(|c| c.clean_start && c.connack.is_some_and(|(_, present)| !present)));
}

#[test]
fn seeds_draw_different_schedules_and_histories() {
    let sc = by_name("qos1").expect("qos1");
    let a = run(&RunConfig::new(sc.clone(), 1));
    let b = run(&RunConfig::new(sc.clone(), 2));
    let c = run(&RunConfig::new(sc, 5));
    assert!(a.digest != b.digest || b.digest != c.digest);
}

#[test]
fn a_given_schedule_replaces_the_seeds() {
    let sc = by_name("qos1").expect("qos1");
    let schedule: Schedule = "300:restart,500:partition-both/c1/400".parse().unwrap();
    let mut cfg = RunConfig::new(sc, 9);
    cfg.schedule = Some(schedule.clone());
    let o = run(&cfg);
    assert_eq!(o.schedule, schedule);
    assert!(o.passed(), "{}", report(&o, None, 40));
    let faults: Vec<String> = o
        .history
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            mqtt_simulator::history::EventKind::Fault(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert!(faults.iter().any(|f| f == "300:restart"), "{faults:?}");
    // The restart is seen by the clients: every one reconnects and resumes its session.
    let resumed = o
        .history
        .nic
        .values()
        .filter(|c| c.connack.is_some_and(|(_, present)| present))
        .count();
    assert!(resumed >= 3, "{resumed} sessions resumed");
}

#[test]
fn failure_report_names_seed_schedule_statement_and_replay() {
    let sc = by_name("qos1").expect("qos1");
    let mut o = run(&RunConfig::new(sc, 7));
    o.violations.push(mqtt_simulator::Violation {
        statement: "MQTT-4.5.0-1",
        protocol: Some(mqtt_spec::Protocol::V3_1_1),
        detail: "example".into(),
    });
    let text = report(&o, None, 5);
    assert!(text.contains("seed 7"), "{text}");
    assert!(
        text.contains(&format!("fault schedule: {}", o.schedule)),
        "{text}"
    );
    assert!(
        text.contains("[MQTT-4.5.0-1] (MQTT 3.1.1) example"),
        "{text}"
    );
    assert!(
        text.contains("mqtt-conform sim --scenario qos1 --seed 7"),
        "{text}"
    );
    assert!(text.contains(mqtt_simulator::BUILD), "{text}");
}
