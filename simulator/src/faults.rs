//! Fault schedules: what goes wrong, when. A schedule is drawn from the seed through a
//! proptest strategy, so a failing schedule shrinks to the faults that matter.
//!
//! turmoil's TCP never loses single bytes: a partition drops whole segments, so a connection
//! that lost one stalls for good (a half-open connection that only keep alive or a new
//! connection ends); a hold delays segments and releases them in order.

use std::fmt;
use std::str::FromStr;

use proptest::prelude::*;

/// Which way a partition cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Both ways.
    Both,
    /// Client to broker only.
    ToBroker,
    /// Broker to client only.
    FromBroker,
}

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Cut the link between client `client` and the broker for `ms`.
    Partition {
        /// Client index.
        client: u8,
        /// Which way.
        dir: Direction,
        /// Duration.
        ms: u32,
    },
    /// Hold the link (segments wait) for `ms`, then release.
    Hold {
        /// Client index.
        client: u8,
        /// Duration.
        ms: u32,
    },
    /// Set the maximum latency (jitter) of every link.
    Latency {
        /// Maximum latency in milliseconds.
        max_ms: u32,
    },
    /// Crash the broker and restart it with its persistent state.
    RestartBroker,
    /// Crash client `client` (its state is kept, like a process restarted with persistent
    /// storage) and restart it after `ms`. With `cut`, its links are cut first so the broker
    /// sees no end of stream.
    CrashClient {
        /// Client index.
        client: u8,
        /// Down time.
        ms: u32,
        /// Partition before crashing.
        cut: bool,
    },
}

/// A fault at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fault {
    /// Milliseconds after the start.
    pub at: u32,
    /// What.
    pub kind: FaultKind,
}

/// A whole schedule (any order; applied by time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Schedule(pub Vec<Fault>);

impl Schedule {
    /// The faults sorted by time (stable).
    pub fn sorted(&self) -> Vec<Fault> {
        let mut v = self.0.clone();
        v.sort_by_key(|f| f.at);
        v
    }

    /// When the last fault is over.
    pub fn ends_at(&self) -> u32 {
        self.0
            .iter()
            .map(|f| {
                f.at.saturating_add(match f.kind {
                    FaultKind::Partition { ms, .. }
                    | FaultKind::Hold { ms, .. }
                    | FaultKind::CrashClient { ms, .. } => ms,
                    _ => 0,
                })
            })
            .max()
            .unwrap_or(0)
    }
}

/// What faults a scenario allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSpace {
    /// Clients that faults may hit (indices 0..clients).
    pub clients: u8,
    /// Faults start within this many milliseconds.
    pub window_ms: u32,
    /// At most this many faults.
    pub max_faults: usize,
    /// Longest partition, hold or crash.
    pub max_duration_ms: u32,
    /// Broker restarts allowed.
    pub broker_restarts: bool,
}

fn fault_kind(space: FaultSpace) -> BoxedStrategy<FaultKind> {
    let c = 0..space.clients.max(1);
    let d = 50..space.max_duration_ms.max(51);
    let dir = prop_oneof![
        Just(Direction::Both),
        Just(Direction::ToBroker),
        Just(Direction::FromBroker)
    ];
    let mut options: Vec<(u32, BoxedStrategy<FaultKind>)> = vec![
        (
            4,
            (c.clone(), dir, d.clone())
                .prop_map(|(client, dir, ms)| FaultKind::Partition { client, dir, ms })
                .boxed(),
        ),
        (
            2,
            (c.clone(), d.clone())
                .prop_map(|(client, ms)| FaultKind::Hold { client, ms })
                .boxed(),
        ),
        (
            1,
            (1u32..60)
                .prop_map(|max_ms| FaultKind::Latency { max_ms })
                .boxed(),
        ),
        (
            2,
            (c, d, any::<bool>())
                .prop_map(|(client, ms, cut)| FaultKind::CrashClient { client, ms, cut })
                .boxed(),
        ),
    ];
    if space.broker_restarts {
        options.push((2, Just(FaultKind::RestartBroker).boxed()));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

/// The strategy of schedules for a fault space. Shrinking removes faults, then shortens and
/// simplifies the rest.
pub fn schedule_strategy(space: FaultSpace) -> BoxedStrategy<Schedule> {
    let fault =
        (0..space.window_ms.max(1), fault_kind(space)).prop_map(|(at, kind)| Fault { at, kind });
    proptest::collection::vec(fault, 0..=space.max_faults)
        .prop_map(Schedule)
        .boxed()
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Both => "both",
            Direction::ToBroker => "up",
            Direction::FromBroker => "down",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.at)?;
        match self.kind {
            FaultKind::Partition { client, dir, ms } => write!(f, "partition-{dir}/c{client}/{ms}"),
            FaultKind::Hold { client, ms } => write!(f, "hold/c{client}/{ms}"),
            FaultKind::Latency { max_ms } => write!(f, "latency/{max_ms}"),
            FaultKind::RestartBroker => write!(f, "restart"),
            FaultKind::CrashClient { client, ms, cut } => {
                write!(f, "crash{}/c{client}/{ms}", if cut { "-cut" } else { "" })
            }
        }
    }
}

impl fmt::Display for Schedule {
    /// The compact form `--schedule` accepts: `AT:KIND,AT:KIND,...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, x) in self.sorted().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

/// Error parsing a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault `{0}` (expected e.g. 120:partition-both/c1/300, 50:hold/c0/200, 10:latency/30, 400:restart, 90:crash-cut/c2/250)")]
pub struct ScheduleParseError(pub String);

impl FromStr for Schedule {
    type Err = ScheduleParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(Schedule::default());
        }
        s.split(',')
            .map(parse_fault)
            .collect::<Result<_, _>>()
            .map(Schedule)
    }
}

fn parse_fault(s: &str) -> Result<Fault, ScheduleParseError> {
    let err = || ScheduleParseError(s.to_string());
    let (at, rest) = s.trim().split_once(':').ok_or_else(err)?;
    let at: u32 = at.parse().map_err(|_| err())?;
    let parts: Vec<&str> = rest.split('/').collect();
    let client = |p: Option<&&str>| -> Result<u8, ScheduleParseError> {
        p.and_then(|c| c.strip_prefix('c'))
            .and_then(|c| c.parse().ok())
            .ok_or_else(err)
    };
    let num = |p: Option<&&str>| -> Result<u32, ScheduleParseError> {
        p.and_then(|n| n.parse().ok()).ok_or_else(err)
    };
    let kind = match parts.first().copied() {
        Some("restart") => FaultKind::RestartBroker,
        Some("latency") => FaultKind::Latency {
            max_ms: num(parts.get(1))?,
        },
        Some("hold") => FaultKind::Hold {
            client: client(parts.get(1))?,
            ms: num(parts.get(2))?,
        },
        Some(p) if p.starts_with("partition-") => FaultKind::Partition {
            client: client(parts.get(1))?,
            dir: match p.trim_start_matches("partition-") {
                "both" => Direction::Both,
                "up" => Direction::ToBroker,
                "down" => Direction::FromBroker,
                _ => return Err(err()),
            },
            ms: num(parts.get(2))?,
        },
        Some(p @ ("crash" | "crash-cut")) => FaultKind::CrashClient {
            client: client(parts.get(1))?,
            ms: num(parts.get(2))?,
            cut: p == "crash-cut",
        },
        _ => return Err(err()),
    };
    Ok(Fault { at, kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    proptest! {
        #[test]
        fn display_parses_back(s in schedule_strategy(FaultSpace {
            clients: 3, window_ms: 2000, max_faults: 6, max_duration_ms: 900, broker_restarts: true,
        })) {
            let text = s.to_string();
            let back: Schedule = text.parse().unwrap();
            prop_assert_eq!(back.sorted(), s.sorted());
        }
    }

    #[test]
    fn bad_faults_are_refused() {
        assert!("12:explode".parse::<Schedule>().is_err());
        assert!("x:restart".parse::<Schedule>().is_err());
        assert!("1:partition-sideways/c1/2".parse::<Schedule>().is_err());
        assert_eq!("none".parse::<Schedule>(), Ok(Schedule::default()));
    }

    #[test]
    fn strategy_respects_the_space() {
        let space = FaultSpace {
            clients: 2,
            window_ms: 100,
            max_faults: 3,
            max_duration_ms: 200,
            broker_restarts: false,
        };
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let s = schedule_strategy(space)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            assert!(s.0.len() <= 3);
            for f in &s.0 {
                assert!(f.at < 100);
                assert!(f.kind != FaultKind::RestartBroker);
            }
        }
    }
}
