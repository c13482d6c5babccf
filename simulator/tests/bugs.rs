//! Proof that the simulator catches bugs: four faulty brokers, each the reference broker
//! behind a stream wrapper that breaks one guarantee. Each must be caught within a bounded
//! number of seeds, its failing seed must replay identically, and its schedule must shrink to
//! a few faults.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mqtt_codec::{Packet, PubAck, QoS, ReasonCode};
use mqtt_simulator::run::{run, shrink, RunConfig};
use mqtt_simulator::scenario::by_name;
use mqtt_simulator::stream::{PacketStream, Rewrite};
use mqtt_simulator::world::{BoxStream, StreamWrapper};

/// Forgets the messages in flight at a restart: on each client's first connection after a
/// broker restart, redelivered PUBLISH packets are dropped and acknowledged on the client's
/// behalf, so the broker discards them.
#[derive(Default)]
struct ForgetInflight {
    restarts: u64,
    seen: Arc<Mutex<BTreeMap<String, u64>>>,
    active: bool,
}

impl Rewrite for ForgetInflight {
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &packet {
            let mut seen = self.seen.lock().unwrap();
            let last = seen.insert(c.client_id.to_string(), self.restarts);
            self.active = last.is_some_and(|l| l < self.restarts);
        }
        out.push(packet);
    }
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, reply: &mut Vec<Packet>) {
        match &packet {
            Packet::Publish(p) if self.active && p.dup && p.qos == QoS::AtLeastOnce => {
                reply.push(Packet::PubAck(PubAck::new(p.packet_id)));
            }
            _ => out.push(packet),
        }
    }
}

/// Delivers QoS 2 messages twice on resumed sessions: after releasing a message (PUBREL) the
/// broker sends its PUBLISH again as a new message.
#[derive(Default)]
struct Qos2Twice {
    resumed: bool,
    sent: BTreeMap<u16, Packet>,
}

impl Rewrite for Qos2Twice {
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        match &packet {
            Packet::ConnAck(c) => self.resumed = c.session_present,
            Packet::Publish(p) if self.resumed && p.qos == QoS::ExactlyOnce => {
                let mut again = p.clone();
                again.dup = false;
                self.sent.insert(p.packet_id, Packet::Publish(again));
            }
            Packet::PubRel(r) => {
                if let Some(again) = self.sent.remove(&r.packet_id) {
                    out.push(packet);
                    out.push(again);
                    return;
                }
            }
            _ => {}
        }
        out.push(packet);
    }
}

/// Publishes the will after a normal DISCONNECT: the DISCONNECT never reaches the broker,
/// which then sees the connection end without one.
#[derive(Default)]
struct WillAfterDisconnect;

impl Rewrite for WillAfterDisconnect {
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        match &packet {
            Packet::Disconnect(d) if d.reason_code == ReasonCode::NORMAL_DISCONNECTION => {}
            _ => out.push(packet),
        }
    }
}

/// Ignores keep alive: the broker is told the client asked for none.
#[derive(Default)]
struct IgnoreKeepAlive;

impl Rewrite for IgnoreKeepAlive {
    fn up(&mut self, mut packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &mut packet {
            c.keep_alive = 0;
        }
        out.push(packet);
    }
}

fn wrapper<R: Rewrite + Unpin>(make: impl Fn(u64) -> R + Send + Sync + 'static) -> StreamWrapper {
    Arc::new(move |restarts, s: BoxStream| -> BoxStream {
        Box::new(PacketStream::new(s, make(restarts)))
    })
}

/// Runs seeds until one fails; checks the statement, the replay and the shrinking.
fn caught(scenario: &str, wrap: StreamWrapper, statement: &str, max_seeds: u64, max_faults: usize) {
    let sc = by_name(scenario).expect("scenario exists");
    for seed in 0..max_seeds {
        let mut cfg = RunConfig::new(sc.clone(), seed);
        cfg.wrap = Some(wrap.clone());
        let first = run(&cfg);
        if first.passed() {
            continue;
        }
        assert!(
            first.violations.iter().any(|v| v.statement == statement),
            "seed {seed} of {scenario} failed, but not on {statement}: {:?}",
            first.violations
        );
        let again = run(&cfg);
        assert_eq!(
            first.digest, again.digest,
            "seed {seed} does not replay identically"
        );
        assert_eq!(first.violations, again.violations);
        let shrunk = shrink(&cfg, 48);
        let small = shrunk.as_ref().map_or(&first, |s| s);
        assert!(!small.passed());
        assert!(
            small.schedule.0.len() <= max_faults,
            "schedule of seed {seed} shrank only to {} faults: {}",
            small.schedule.0.len(),
            small.schedule
        );
        // A replay of the shrunk schedule fails the same way.
        let mut replay = cfg.clone();
        replay.schedule = Some(small.schedule.clone());
        let r = run(&replay);
        assert_eq!(
            r.digest, small.digest,
            "the shrunk schedule does not replay identically"
        );
        eprintln!(
            "{scenario}: caught at seed {seed}, shrunk to `{}`: {}",
            small.schedule,
            small
                .violations
                .first()
                .map(|v| v.to_string())
                .unwrap_or_default()
        );
        return;
    }
    panic!("{scenario}: the faulty broker passed {max_seeds} seeds");
}

#[test]
fn forgetting_inflight_messages_on_restart_is_caught() {
    let seen: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let wrap = wrapper(move |restarts| ForgetInflight {
        restarts,
        seen: seen.clone(),
        active: false,
    });
    caught("qos1", wrap, "MQTT-4.5.0-1", 60, 3);
}

#[test]
fn delivering_qos2_twice_is_caught() {
    caught(
        "qos2",
        wrapper(|_| Qos2Twice::default()),
        "MQTT-4.3.3-10",
        40,
        2,
    );
}

#[test]
fn will_after_normal_disconnect_is_caught() {
    caught(
        "will",
        wrapper(|_| WillAfterDisconnect),
        "MQTT-3.14.4-3",
        10,
        1,
    );
}

#[test]
fn ignoring_keep_alive_is_caught() {
    caught(
        "keepalive",
        wrapper(|_| IgnoreKeepAlive),
        "MQTT-3.1.2-22",
        40,
        2,
    );
}
