//! Scenarios: which clients, what they do, which faults may hit them, and what must hold.
//!
//! Clients speak MQTT 5.0 unless made 3.1.1 ([`ClientConfig::v311`]); several scenarios mix
//! the two so that messages, retained values and wills cross between versions under faults.
//! Shared subscriptions and will delays exist in 5.0 only: those clients stay 5.0.

use bytes::Bytes;
use mqtt_codec::QoS;

use crate::client::{ClientConfig, OutMessage};
use crate::faults::FaultSpace;
use crate::world::Command;

/// A timed command of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When (ms).
    pub at: u64,
    /// Which client.
    pub client: String,
    /// What.
    pub command: Command,
}

/// One scenario. See [`all`].
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name given to `--scenario`.
    pub name: &'static str,
    /// One line.
    pub description: &'static str,
    /// The clients (fault index = position).
    pub clients: Vec<ClientConfig>,
    /// Clients that start offline.
    pub offline_at_start: Vec<&'static str>,
    /// The faults that may happen.
    pub faults: FaultSpace,
    /// Persistent subscribers that must receive every accepted message whose topic starts
    /// with the prefix (at least once).
    pub persistent_subs: Vec<(&'static str, &'static str)>,
    /// Members of one shared subscription and its topic prefix: each message to one of them.
    pub shared_group: Option<(Vec<&'static str>, &'static str)>,
    /// QoS 2 end to end: nothing delivered twice to an application.
    pub exactly_once: bool,
    /// Checkers that connect at the end and must each get the last retained value of a topic.
    pub retained_checks: Vec<(&'static str, &'static str)>,
    /// Milliseconds to wait after the faults are over before the run may end.
    pub min_settle_ms: u64,
    /// Longest run (ms).
    pub max_run_ms: u64,
    /// The workload, from the scenario's random stream.
    pub workload: fn(&mut SplitMix) -> Vec<Step>,
}

/// A tiny deterministic random stream (SplitMix64) for workloads.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `lo..hi` (`lo` if empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }
}

/// Derives an independent 64-bit value from a seed and a purpose.
pub fn derive(seed: u64, purpose: u64) -> u64 {
    SplitMix(seed ^ purpose.wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
}

fn client(id: &str) -> ClientConfig {
    ClientConfig::new(id)
}

fn subscriber(id: &str, filter: &str, qos: QoS) -> ClientConfig {
    let mut c = ClientConfig::new(id);
    c.subscriptions = vec![(filter.to_string(), qos)];
    c
}

#[allow(clippy::too_many_arguments)]
fn publishes(
    rng: &mut SplitMix,
    who: &str,
    topic: &str,
    qos: QoS,
    retain: bool,
    n: u64,
    from: u64,
    every: u64,
) -> Vec<Step> {
    let mut at = from;
    (1..=n)
        .map(|i| {
            at += rng.range(every / 2, every + every / 2);
            Step {
                at,
                client: who.to_string(),
                command: Command::Publish(OutMessage {
                    topic: topic.to_string(),
                    payload: Bytes::from(format!("{who}:{i}")),
                    qos,
                    retain,
                }),
            }
        })
        .collect()
}

/// Offline/online toggles of `who` within `window` ms: normal DISCONNECTs and reconnections.
fn toggles(rng: &mut SplitMix, who: &str, window: u64, max_off: u64) -> Vec<Step> {
    let mut v = Vec::new();
    let mut at = rng.range(200, 600);
    while at < window {
        v.push(Step {
            at,
            client: who.to_string(),
            command: Command::GoOffline,
        });
        at += rng.range(50, max_off);
        v.push(Step {
            at,
            client: who.to_string(),
            command: Command::GoOnline,
        });
        at += rng.range(300, 1200);
    }
    v
}

fn space(clients: u8, window_ms: u32, max_faults: usize, max_duration_ms: u32) -> FaultSpace {
    FaultSpace {
        clients,
        window_ms,
        max_faults,
        max_duration_ms,
        broker_restarts: true,
    }
}

fn base(name: &'static str, description: &'static str) -> Scenario {
    Scenario {
        name,
        description,
        clients: Vec::new(),
        offline_at_start: Vec::new(),
        faults: space(3, 1500, 4, 1200),
        persistent_subs: Vec::new(),
        shared_group: None,
        exactly_once: false,
        retained_checks: Vec::new(),
        min_settle_ms: 0,
        max_run_ms: 9000,
        workload: |_| Vec::new(),
    }
}

/// Every scenario, in a fixed order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            clients: vec![
                client("c1"),
                subscriber("c2", "sim/#", QoS::AtLeastOnce),
                subscriber("c3", "sim/#", QoS::AtLeastOnce),
            ],
            persistent_subs: vec![("c2", "sim/"), ("c3", "sim/")],
            workload: |r| publishes(r, "c1", "sim/c1", QoS::AtLeastOnce, false, 10, 100, 120),
            ..base(
                "qos1",
                "QoS 1, persistent sessions: nothing lost, per-publisher order, DUP on redelivery",
            )
        },
        Scenario {
            clients: vec![
                client("c1"),
                subscriber("c2", "sim/#", QoS::ExactlyOnce),
                subscriber("c3", "sim/#", QoS::ExactlyOnce),
            ],
            persistent_subs: vec![("c2", "sim/"), ("c3", "sim/")],
            exactly_once: true,
            workload: |r| publishes(r, "c1", "sim/c1", QoS::ExactlyOnce, false, 10, 100, 120),
            ..base(
                "qos2",
                "QoS 2, persistent sessions: nothing lost, nothing delivered twice, order",
            )
        },
        Scenario {
            clients: vec![
                ClientConfig {
                    max_inflight: 1,
                    ..client("c1").v311()
                },
                ClientConfig {
                    always_clean: true,
                    session_expiry: 0,
                    ..subscriber("c2", "ret/#", QoS::AtLeastOnce)
                },
                subscriber("c3", "ret/#", QoS::AtLeastOnce),
                ClientConfig {
                    always_clean: true,
                    ..subscriber("c4", "ret/#", QoS::AtLeastOnce).v311()
                },
            ],
            offline_at_start: vec!["c2", "c4"],
            persistent_subs: vec![("c3", "ret/")],
            retained_checks: vec![("c2", "ret/c1"), ("c4", "ret/c1")],
            workload: |r| publishes(r, "c1", "ret/c1", QoS::AtLeastOnce, true, 8, 100, 150),
            ..base(
                "retained",
                "retained messages: late 5.0 and 3.1.1 subscribers get a 3.1.1 publisher's last value",
            )
        },
        Scenario {
            clients: vec![
                ClientConfig {
                    will: Some(("will/c1".into(), QoS::AtLeastOnce, 0)),
                    ..client("c1")
                },
                subscriber("c2", "will/#", QoS::AtLeastOnce),
                ClientConfig {
                    will: Some(("will/c3".into(), QoS::AtLeastOnce, 0)),
                    always_clean: true,
                    ..client("c3").v311()
                },
                ClientConfig {
                    will: Some(("will/c4".into(), QoS::AtLeastOnce, 0)),
                    ..client("c4").v311()
                },
            ],
            faults: space(4, 1500, 4, 1200),
            min_settle_ms: 2500,
            workload: |r| {
                let mut v = toggles(r, "c1", 2000, 600);
                v.extend(toggles(r, "c3", 2000, 600));
                v.extend(toggles(r, "c4", 2000, 600));
                v
            },
            ..base(
                "will",
                "wills (5.0 and 3.1.1): published on abnormal loss, never after a normal DISCONNECT",
            )
        },
        Scenario {
            clients: vec![
                ClientConfig {
                    will: Some(("will/c1".into(), QoS::AtLeastOnce, 1)),
                    session_expiry: 2,
                    ..client("c1")
                },
                subscriber("c2", "will/#", QoS::AtLeastOnce),
                ClientConfig {
                    will: Some(("will/c3".into(), QoS::AtLeastOnce, 3)),
                    session_expiry: 1,
                    ..client("c3")
                },
            ],
            min_settle_ms: 5000,
            max_run_ms: 12000,
            workload: |r| {
                let mut v = toggles(r, "c1", 2000, 1500);
                v.extend(toggles(r, "c3", 2000, 1500));
                v
            },
            ..base(
                "will-delay",
                "will delay: not before the delay or session end, cancelled by resuming",
            )
        },
        Scenario {
            clients: vec![
                ClientConfig {
                    session_expiry: 1,
                    ..subscriber("c1", "se/#", QoS::AtLeastOnce)
                },
                client("c2"),
                ClientConfig {
                    session_expiry: 2,
                    ..subscriber("c3", "se/#", QoS::AtLeastOnce)
                },
            ],
            min_settle_ms: 1000,
            workload: |r| {
                let mut v = toggles(r, "c1", 2500, 2500);
                v.extend(toggles(r, "c3", 2500, 3000));
                v.extend(publishes(
                    r,
                    "c2",
                    "se/x",
                    QoS::AtLeastOnce,
                    false,
                    8,
                    100,
                    300,
                ));
                v
            },
            ..base(
                "session-expiry",
                "session expiry: kept before the interval, discarded after it",
            )
        },
        Scenario {
            clients: vec![client("c1"), client("c2").v311(), client("c3")],
            faults: space(3, 1500, 5, 3000),
            min_settle_ms: 2500,
            workload: |r| publishes(r, "c3", "ka/c3", QoS::AtMostOnce, false, 4, 100, 500),
            ..base(
                "keepalive",
                "keep alive (5.0 and 3.1.1): half-open connections closed within 1.5 times the keep alive",
            )
        },
        Scenario {
            clients: vec![
                client("c1"),
                subscriber("c2", "$share/g/sh/#", QoS::AtLeastOnce),
                subscriber("c3", "$share/g/sh/#", QoS::AtLeastOnce),
                subscriber("c4", "$share/g/sh/#", QoS::AtLeastOnce),
            ],
            faults: space(4, 1500, 4, 1200),
            shared_group: Some((vec!["c2", "c3", "c4"], "sh/")),
            workload: |r| publishes(r, "c1", "sh/x", QoS::AtLeastOnce, false, 12, 100, 100),
            ..base(
                "shared",
                "shared subscriptions: each message to one member, none lost when one dies",
            )
        },
        Scenario {
            clients: mixed_clients(QoS::AtLeastOnce),
            faults: space(4, 1500, 4, 1200),
            persistent_subs: vec![("c2", "sim/"), ("c3", "sim/")],
            workload: |r| mixed_workload(r, QoS::AtLeastOnce),
            ..base(
                "mixed-qos1",
                "QoS 1 across versions: 3.1.1 and 5.0 publishers, 3.1.1 and 5.0 persistent subscribers",
            )
        },
        Scenario {
            clients: mixed_clients(QoS::ExactlyOnce),
            faults: space(4, 1500, 4, 1200),
            persistent_subs: vec![("c2", "sim/"), ("c3", "sim/")],
            exactly_once: true,
            workload: |r| mixed_workload(r, QoS::ExactlyOnce),
            ..base(
                "mixed-qos2",
                "QoS 2 across versions: nothing lost or delivered twice between 3.1.1 and 5.0 clients",
            )
        },
        Scenario {
            clients: vec![
                ClientConfig {
                    purge_first: true,
                    ..subscriber("c1", "se/#", QoS::AtLeastOnce).v311()
                },
                client("c2"),
                ClientConfig {
                    always_clean: true,
                    ..subscriber("c3", "se/#", QoS::AtLeastOnce).v311()
                },
            ],
            persistent_subs: vec![("c1", "se/")],
            min_settle_ms: 1000,
            workload: |r| {
                let mut v = toggles(r, "c1", 2500, 3000);
                v.extend(toggles(r, "c3", 2500, 1500));
                v.extend(publishes(
                    r,
                    "c2",
                    "se/x",
                    QoS::AtLeastOnce,
                    false,
                    8,
                    100,
                    300,
                ));
                v
            },
            ..base(
                "v311-session",
                "3.1.1 sessions: Clean Session 0 kept without expiry, Clean Session 1 never resumed",
            )
        },
    ]
}

/// Two publishers and two persistent subscribers, one of each per version: c1 (3.1.1) and c4
/// (5.0) publish, c2 (3.1.1) and c3 (5.0) subscribe at `qos`.
fn mixed_clients(qos: QoS) -> Vec<ClientConfig> {
    vec![
        client("c1").v311(),
        subscriber("c2", "sim/#", qos).v311(),
        subscriber("c3", "sim/#", qos),
        client("c4"),
    ]
}

fn mixed_workload(rng: &mut SplitMix, qos: QoS) -> Vec<Step> {
    let mut v = publishes(rng, "c1", "sim/c1", qos, false, 6, 100, 150);
    v.extend(publishes(rng, "c4", "sim/c4", qos, false, 6, 100, 150));
    v
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// The names of all scenarios.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name).collect()
}
