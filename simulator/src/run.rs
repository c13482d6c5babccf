//! Running one seed: build the turmoil simulation, apply the fault schedule, drive the
//! workload, check the invariants; shrinking a failing schedule; the failure report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqtt_broker_model::serve::SharedBroker;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};

use crate::check::{check, Facts, Violation};
use crate::faults::{schedule_strategy, Direction, Fault, FaultKind, Schedule};
use crate::history::{millis, EventKind, History};
use crate::scenario::{derive, Scenario, SplitMix};
use crate::world::{broker_host, client_host, Command, StreamWrapper, World, BROKER_HOST};

/// The simulation's fixed start of time (turmoil's epoch): 2020-09-13T12:26:40Z.
pub const EPOCH_SECS: u64 = 1_600_000_000;

/// The git commit this program was built from ("unknown" outside a git checkout).
pub const BUILD: &str = env!("MQTT_SIM_GIT_COMMIT");

/// How to run one seed.
#[derive(Clone)]
pub struct RunConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// A schedule to use instead of the seed's (replaying a shrunk schedule).
    pub schedule: Option<Schedule>,
    /// Wraps the broker's streams (tests: faulty brokers).
    pub wrap: Option<StreamWrapper>,
    /// Simulation tick.
    pub tick: Duration,
}

impl RunConfig {
    /// Seed `seed` of `scenario` with its own schedule.
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        RunConfig {
            scenario,
            seed,
            schedule: None,
            wrap: None,
            tick: Duration::from_millis(5),
        }
    }
}

/// What one run gave.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// Seed.
    pub seed: u64,
    /// The schedule applied.
    pub schedule: Schedule,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// The history.
    pub history: History,
    /// Hash of the history.
    pub digest: u64,
    /// Simulated milliseconds run.
    pub end_ms: u64,
}

impl RunOutcome {
    /// No violation.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The schedule the seed draws for a scenario, and the value tree it came from (for
/// shrinking).
pub fn schedule_tree(scenario: &Scenario, seed: u64) -> Box<dyn ValueTree<Value = Schedule>> {
    let mut bytes = [0u8; 32];
    let mut sm = SplitMix(derive(seed, 7));
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&sm.next_u64().to_le_bytes());
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    match schedule_strategy(scenario.faults).new_tree(&mut runner) {
        Ok(t) => Box::new(t),
        // Only filtered strategies fail here; this one has no filter.
        Err(_) => Box::new(proptest::strategy::Just(Schedule::default())),
    }
}

/// The schedule seed `seed` draws for `scenario`.
pub fn schedule_for(scenario: &Scenario, seed: u64) -> Schedule {
    schedule_tree(scenario, seed).current()
}

/// Pending end-of-fault actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Undo {
    Repair(u8),
    RepairOneway(u8, bool),
    Release(u8),
    Restart(u8, bool),
}

/// Runs one seed.
pub fn run(cfg: &RunConfig) -> RunOutcome {
    let sc = &cfg.scenario;
    let schedule = cfg
        .schedule
        .clone()
        .unwrap_or_else(|| schedule_for(sc, cfg.seed));
    let mut rng = SplitMix(derive(cfg.seed, 3));
    let base_latency = Duration::from_millis(rng.range(2, 25));
    let mut sim = turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .simulation_duration(Duration::from_secs(24 * 3600))
        .tick_duration(cfg.tick)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(base_latency)
        .rng_seed(derive(cfg.seed, 1))
        .build();

    let world = World::default();
    for c in &sc.clients {
        let online = !sc.offline_at_start.contains(&c.client_id.as_str());
        world.add_client(c.clone(), online);
    }
    let clock_world = world.clone();
    let config = mqtt_broker_model::Config {
        sys_topics: false,
        ..Default::default()
    };
    let shared = SharedBroker::with_clock(config, derive(cfg.seed, 2), move || clock_world.now());
    {
        let (w, s, wrap) = (world.clone(), shared.clone(), cfg.wrap.clone());
        sim.host(BROKER_HOST, move || {
            broker_host(w.clone(), s.clone(), wrap.clone())
        });
    }
    let names: Vec<String> = sc.clients.iter().map(|c| c.client_id.clone()).collect();
    for n in &names {
        let (w, id) = (world.clone(), n.clone());
        sim.host(n.as_str(), move || client_host(w.clone(), id.clone()));
    }

    let mut workload = (sc.workload)(&mut rng);
    workload.sort_by_key(|s| s.at);
    let mut workload = workload.into_iter().peekable();
    let faults = schedule.sorted();
    let mut faults = faults.into_iter().peekable();
    let mut undo: BTreeMap<(u64, u64), Undo> = BTreeMap::new();
    let mut undo_seq = 0u64;
    let heal_at = u64::from(sc.faults.window_ms.max(schedule.ends_at())) + 1;
    let mut healed = false;
    let mut retained_checker_started = false;
    let mut step: u64 = 0;
    let mut crashed: Vec<bool> = vec![false; names.len()];

    let client_name = |i: u8| names.get(usize::from(i)).cloned();

    let end_ms = loop {
        let now_d = sim.elapsed();
        world.set_driver_now(now_d);
        let now = millis(now_d);

        // Faults that are due.
        while let Some(f) = faults.next_if(|f| u64::from(f.at) <= now) {
            if healed {
                continue;
            }
            apply(
                &mut sim,
                &world,
                &shared,
                &f,
                &client_name,
                &mut crashed,
                |at, u| {
                    undo_seq += 1;
                    undo.insert((now + at, undo_seq), u);
                },
            );
        }
        // Faults that are over.
        let due: Vec<(u64, u64)> = undo.range(..(now + 1, 0)).map(|(k, _)| *k).collect();
        for k in due {
            if let Some(u) = undo.remove(&k) {
                revert(&mut sim, &world, u, &client_name, &mut crashed);
            }
        }
        if !healed && now >= heal_at {
            healed = true;
            for (k, u) in std::mem::take(&mut undo) {
                let _ = k;
                revert(&mut sim, &world, u, &client_name, &mut crashed);
            }
            sim.set_max_message_latency(base_latency);
            world.record(EventKind::Fault("all faults healed".into()));
        }
        // The workload.
        while let Some(s) = workload.next_if(|s| s.at <= now) {
            world.command(&s.client, s.command);
        }
        if !sc.retained_checks.is_empty()
            && healed
            && !retained_checker_started
            && workload.peek().is_none()
            && publishers_idle(&world)
        {
            retained_checker_started = true;
            for (checker, _) in &sc.retained_checks {
                world.command(checker, Command::GoOnline);
            }
        }
        if now >= sc.max_run_ms {
            break now;
        }
        if healed
            && now >= heal_at + sc.min_settle_ms
            && workload.peek().is_none()
            && step.is_multiple_of(10)
            && settled(&world, sc)
        {
            break now;
        }
        if let Err(e) = sim.step() {
            world.record(EventKind::Violation {
                statement: "simulation",
                protocol: None,
                detail: format!("the simulation failed: {e}"),
            });
            break now;
        }
        step += 1;
    };
    drop(sim);
    let history = std::mem::take(&mut world.lock().history);
    let violations = check(sc, &history, end_ms);
    RunOutcome {
        scenario: sc.name,
        seed: cfg.seed,
        schedule,
        digest: history.digest(),
        violations,
        history,
        end_ms,
    }
}

fn publishers_idle(world: &World) -> bool {
    world
        .lock()
        .clients
        .values()
        .all(|s| s.model.pending() == 0 && s.commands.is_empty())
}

fn settled(world: &World, sc: &Scenario) -> bool {
    let st = world.lock();
    let clients_done = st.clients.values().all(|s| {
        s.commands.is_empty() && s.model.pending() == 0 && (!s.online || s.model.is_connected())
    });
    clients_done && Facts::new(&st.history).complete(sc)
}

fn apply(
    sim: &mut turmoil::Sim<'_>,
    world: &World,
    shared: &SharedBroker,
    f: &Fault,
    name: &dyn Fn(u8) -> Option<String>,
    crashed: &mut [bool],
    mut later: impl FnMut(u64, Undo),
) {
    world.record(EventKind::Fault(f.to_string()));
    match f.kind {
        FaultKind::Partition { client, dir, ms } => {
            let Some(c) = name(client) else { return };
            match dir {
                Direction::Both => {
                    sim.partition(c.as_str(), BROKER_HOST);
                    later(u64::from(ms), Undo::Repair(client));
                }
                Direction::ToBroker => {
                    sim.partition_oneway(c.as_str(), BROKER_HOST);
                    later(u64::from(ms), Undo::RepairOneway(client, true));
                }
                Direction::FromBroker => {
                    sim.partition_oneway(BROKER_HOST, c.as_str());
                    later(u64::from(ms), Undo::RepairOneway(client, false));
                }
            }
        }
        FaultKind::Hold { client, ms } => {
            let Some(c) = name(client) else { return };
            sim.hold(c.as_str(), BROKER_HOST);
            later(u64::from(ms), Undo::Release(client));
        }
        FaultKind::Latency { max_ms } => {
            sim.set_max_message_latency(Duration::from_millis(u64::from(max_ms.max(1))));
        }
        FaultKind::RestartBroker => {
            world
                .restarts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            world.set_bouncing(true);
            sim.bounce(BROKER_HOST);
            world.set_bouncing(false);
            shared.restart();
        }
        FaultKind::CrashClient { client, ms, cut } => {
            let Some(c) = name(client) else { return };
            let Some(flag) = crashed.get_mut(usize::from(client)) else {
                return;
            };
            if *flag {
                return;
            }
            *flag = true;
            if cut {
                sim.partition(c.as_str(), BROKER_HOST);
            }
            sim.crash(c.as_str());
            later(u64::from(ms), Undo::Restart(client, cut));
        }
    }
}

fn revert(
    sim: &mut turmoil::Sim<'_>,
    world: &World,
    u: Undo,
    name: &dyn Fn(u8) -> Option<String>,
    crashed: &mut [bool],
) {
    let i = match u {
        Undo::Repair(i) | Undo::RepairOneway(i, _) | Undo::Release(i) | Undo::Restart(i, _) => i,
    };
    let Some(c) = name(i) else { return };
    match u {
        Undo::Repair(_) => sim.repair(c.as_str(), BROKER_HOST),
        Undo::RepairOneway(_, true) => sim.repair_oneway(c.as_str(), BROKER_HOST),
        Undo::RepairOneway(_, false) => sim.repair_oneway(BROKER_HOST, c.as_str()),
        Undo::Release(_) => sim.release(c.as_str(), BROKER_HOST),
        Undo::Restart(_, cut) => {
            if cut {
                sim.repair(c.as_str(), BROKER_HOST);
            }
            if let Some(flag) = crashed.get_mut(usize::from(i)) {
                if *flag {
                    *flag = false;
                    world.record(EventKind::Fault(format!("{c} restarts")));
                    sim.bounce(c.as_str());
                }
            }
        }
    }
}

/// Shrinks the schedule of a failing run: returns the smallest failing schedule found and
/// its outcome (at most `budget` extra runs).
pub fn shrink(cfg: &RunConfig, budget: usize) -> Option<RunOutcome> {
    if cfg.schedule.is_some() {
        return None;
    }
    let mut tree = schedule_tree(&cfg.scenario, cfg.seed);
    let mut best: Option<RunOutcome> = None;
    let mut runs = 0;
    if !tree.simplify() {
        return None;
    }
    loop {
        if runs >= budget {
            break;
        }
        runs += 1;
        let mut c = cfg.clone();
        c.schedule = Some(tree.current());
        let o = run(&c);
        let moved = if o.passed() {
            tree.complicate()
        } else {
            best = Some(o);
            tree.simplify()
        };
        if !moved {
            break;
        }
    }
    best
}

/// The command that replays a run.
pub fn replay_command(scenario: &str, seed: u64, schedule: Option<&Schedule>) -> String {
    match schedule {
        Some(s) => format!("mqtt-conform sim --scenario {scenario} --seed {seed} --schedule '{s}'"),
        None => format!("mqtt-conform sim --scenario {scenario} --seed {seed}"),
    }
}

/// A failure report: seed, build, schedule, violations, last events, replay command.
pub fn report(o: &RunOutcome, shrunk: Option<&RunOutcome>, last: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "FAILED scenario {} seed {} (build {BUILD})",
        o.scenario, o.seed
    );
    let _ = writeln!(s, "  fault schedule: {}", o.schedule);
    for v in &o.violations {
        let _ = writeln!(s, "  violated {v}");
    }
    let _ = writeln!(s, "  last events:");
    let n = o.history.events.len();
    for e in o.history.events.iter().skip(n.saturating_sub(last)) {
        let _ = writeln!(s, "    {e}");
    }
    if let Some(sh) = shrunk {
        let _ = writeln!(
            s,
            "  shrunk schedule ({} faults): {}",
            sh.schedule.0.len(),
            sh.schedule
        );
        for v in &sh.violations {
            let _ = writeln!(s, "    violated {v}");
        }
        let _ = writeln!(
            s,
            "  replay shrunk: {}",
            replay_command(o.scenario, o.seed, Some(&sh.schedule))
        );
    }
    let _ = writeln!(s, "  replay: {}", replay_command(o.scenario, o.seed, None));
    s
}

/// Seconds since the Unix epoch of the simulation's pinned epoch.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_SECS)
}
