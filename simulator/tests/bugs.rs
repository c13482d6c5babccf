//! Proof that the simulator catches bugs: faulty brokers, each the reference broker behind a
//! stream wrapper that breaks one guarantee, for 5.0 clients or for 3.1.1 clients only. Each
//! must be caught within a bounded number of seeds on the statement of the right version, its
//! failing seed must replay identically, and its schedule must shrink to a few faults.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mqtt_codec::{Packet, PubAck, Publish, QoS, ReasonCode};
use mqtt_simulator::run::{run, shrink, RunConfig};
use mqtt_simulator::scenario::by_name;
use mqtt_simulator::stream::{PacketStream, Rewrite};
use mqtt_simulator::world::{BoxStream, StreamWrapper};
use mqtt_spec::Protocol;

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

/// Makes sessions of 3.1.1 clients end with their connection: the broker is told every
/// CONNECT asked for a clean session.
#[derive(Default)]
struct ForceCleanSession;

impl Rewrite for ForceCleanSession {
    fn up(&mut self, mut packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &mut packet {
            c.clean_start = true;
        }
        out.push(packet);
    }
}

/// Keeps the sessions of clean connections: the broker is told no CONNECT asked for a clean
/// session.
#[derive(Default)]
struct IgnoreCleanSession;

impl Rewrite for IgnoreCleanSession {
    fn up(&mut self, mut packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &mut packet {
            c.clean_start = false;
        }
        out.push(packet);
    }
}

/// Answers clean connections with Session Present 1.
#[derive(Default)]
struct PresentOnClean {
    clean: bool,
}

impl Rewrite for PresentOnClean {
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &packet {
            self.clean = c.clean_start;
        }
        out.push(packet);
    }
    fn down(&mut self, mut packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        if let Packet::ConnAck(a) = &mut packet {
            if self.clean && a.reason_code == ReasonCode::SUCCESS {
                a.session_present = true;
            }
        }
        out.push(packet);
    }
}

/// Forgets wills: the broker gets CONNECT without one.
#[derive(Default)]
struct DropWill;

impl Rewrite for DropWill {
    fn up(&mut self, mut packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &mut packet {
            c.will = None;
        }
        out.push(packet);
    }
}

/// Publishes the will as soon as the connection is accepted (while it is alive): the will
/// reaches the broker as a QoS 0 PUBLISH from the client.
#[derive(Default)]
struct EarlyWill {
    will: Option<(Bytes, Bytes)>,
}

impl Rewrite for EarlyWill {
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &packet {
            self.will = c
                .will
                .as_ref()
                .map(|w| (Bytes::from(w.topic.to_string()), w.payload.clone()));
        }
        out.push(packet);
    }
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, reply: &mut Vec<Packet>) {
        if let Packet::ConnAck(_) = &packet {
            if let Some((topic, payload)) = self.will.take() {
                let topic = String::from_utf8_lossy(&topic).into_owned();
                reply.push(Packet::Publish(Publish::new(topic, payload)));
            }
        }
        out.push(packet);
    }
}

/// Re-delivers without DUP.
#[derive(Default)]
struct ClearDup;

impl Rewrite for ClearDup {
    fn down(&mut self, mut packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        if let Packet::Publish(p) = &mut packet {
            p.dup = false;
        }
        out.push(packet);
    }
}

/// Never sends retained messages to new subscriptions.
#[derive(Default)]
struct DropRetained;

impl Rewrite for DropRetained {
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        if !matches!(&packet, Packet::Publish(p) if p.retain) {
            out.push(packet);
        }
    }
}

/// Reorders deliveries: a first delivery is held back and sent after the next packet, so
/// two PUBLISH packets in a row go out swapped.
#[derive(Default)]
struct Swap {
    held: Option<Packet>,
}

impl Rewrite for Swap {
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, _reply: &mut Vec<Packet>) {
        let first_delivery = matches!(&packet, Packet::Publish(p) if !p.dup && !p.retain && p.qos != QoS::AtMostOnce);
        match self.held.take() {
            Some(h) => {
                out.push(packet);
                out.push(h);
            }
            None if first_delivery => self.held = Some(packet),
            None => out.push(packet),
        }
    }
}

/// Applies `R` only to the connections of one protocol version (known from their CONNECT).
struct Only<R> {
    v5: bool,
    on: bool,
    inner: R,
}

impl<R: Rewrite> Rewrite for Only<R> {
    fn up(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        if let Packet::Connect(c) = &packet {
            self.on = c.protocol.is_v5() == self.v5;
        }
        if self.on {
            self.inner.up(packet, out);
        } else {
            out.push(packet);
        }
    }
    fn down(&mut self, packet: Packet, out: &mut Vec<Packet>, reply: &mut Vec<Packet>) {
        if self.on {
            self.inner.down(packet, out, reply);
        } else {
            out.push(packet);
        }
    }
}

fn wrapper<R: Rewrite + Unpin>(make: impl Fn(u64) -> R + Send + Sync + 'static) -> StreamWrapper {
    Arc::new(move |restarts, s: BoxStream| -> BoxStream {
        Box::new(PacketStream::new(s, make(restarts)))
    })
}

/// A wrapper applying `make`'s rewrite to the connections of `protocol` only.
fn only<R: Rewrite + Unpin>(
    protocol: Protocol,
    make: impl Fn(u64) -> R + Send + Sync + 'static,
) -> StreamWrapper {
    wrapper(move |restarts| Only {
        v5: protocol == Protocol::V5_0,
        on: false,
        inner: make(restarts),
    })
}

/// Runs seeds until one fails; checks the statement (of `protocol`), the replay and the
/// shrinking.
fn caught(
    scenario: &str,
    wrap: StreamWrapper,
    (protocol, statement): (Protocol, &str),
    max_seeds: u64,
    max_faults: usize,
) {
    let sc = by_name(scenario).expect("scenario exists");
    for seed in 0..max_seeds {
        let mut cfg = RunConfig::new(sc.clone(), seed);
        cfg.wrap = Some(wrap.clone());
        let first = run(&cfg);
        if first.passed() {
            continue;
        }
        assert!(
            first
                .violations
                .iter()
                .any(|v| v.statement == statement && v.protocol == Some(protocol)),
            "seed {seed} of {scenario} failed, but not on {statement} of {protocol}: {:?}",
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
        assert!(
            small
                .violations
                .iter()
                .any(|v| v.statement == statement && v.protocol == Some(protocol)),
            "the shrunk schedule fails on something else: {:?}",
            small.violations
        );
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
                .iter()
                .find(|v| v.statement == statement)
                .map(|v| v.to_string())
                .unwrap_or_default()
        );
        return;
    }
    panic!("{scenario}: the faulty broker passed {max_seeds} seeds");
}

const V5: Protocol = Protocol::V5_0;
const V311: Protocol = Protocol::V3_1_1;

fn forget_inflight(protocol: Protocol) -> StreamWrapper {
    let seen: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    only(protocol, move |restarts| ForgetInflight {
        restarts,
        seen: seen.clone(),
        active: false,
    })
}

#[test]
fn forgetting_inflight_messages_on_restart_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-4.5.0-1").as_str());
    caught("qos1", forget_inflight(V5), statement, 60, 3);
}

#[test]
fn forgetting_inflight_messages_of_v311_subscribers_is_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-4.5.0-1").as_str());
    caught("mixed-qos1", forget_inflight(V311), statement, 200, 3);
}

#[test]
fn delivering_qos2_twice_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-4.3.3-10").as_str());
    caught("qos2", wrapper(|_| Qos2Twice::default()), statement, 40, 2);
}

#[test]
fn delivering_qos2_twice_to_v311_subscribers_is_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-4.3.3-2").as_str());
    let wrap = only(V311, |_| Qos2Twice::default());
    caught("mixed-qos2", wrap, statement, 40, 2);
}

#[test]
fn out_of_order_deliveries_are_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-4.6.0-6").as_str());
    caught(
        "mixed-qos1",
        only(V5, |_| Swap::default()),
        statement,
        10,
        1,
    );
    let statement = (V311, mqtt_spec::v311!("MQTT-4.6.0-6").as_str());
    caught(
        "mixed-qos1",
        only(V311, |_| Swap::default()),
        statement,
        10,
        1,
    );
}

#[test]
fn redelivery_without_dup_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-3.3.1-1").as_str());
    caught("mixed-qos1", only(V5, |_| ClearDup), statement, 60, 3);
    let statement = (V311, mqtt_spec::v311!("MQTT-3.3.1-1").as_str());
    caught("mixed-qos1", only(V311, |_| ClearDup), statement, 60, 3);
}

#[test]
fn not_sending_retained_messages_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-3.3.1-9").as_str());
    caught("retained", only(V5, |_| DropRetained), statement, 10, 1);
    let statement = (V311, mqtt_spec::v311!("MQTT-3.3.1-6").as_str());
    caught("retained", only(V311, |_| DropRetained), statement, 10, 1);
}

#[test]
fn will_after_normal_disconnect_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-3.14.4-3").as_str());
    caught("will", only(V5, |_| WillAfterDisconnect), statement, 10, 1);
    let statement = (V311, mqtt_spec::v311!("MQTT-3.14.4-3").as_str());
    caught(
        "will",
        only(V311, |_| WillAfterDisconnect),
        statement,
        10,
        1,
    );
}

#[test]
fn lost_v311_wills_are_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-3.1.2-8").as_str());
    caught("will", only(V311, |_| DropWill), statement, 40, 2);
}

#[test]
fn v311_wills_published_while_connected_are_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-3.1.2-8").as_str());
    caught(
        "will",
        only(V311, |_| EarlyWill::default()),
        statement,
        10,
        1,
    );
}

#[test]
fn ignoring_keep_alive_is_caught() {
    let statement = (V5, mqtt_spec::v5!("MQTT-3.1.2-22").as_str());
    caught("keepalive", only(V5, |_| IgnoreKeepAlive), statement, 40, 2);
    let statement = (V311, mqtt_spec::v311!("MQTT-3.1.2-24").as_str());
    caught(
        "keepalive",
        only(V311, |_| IgnoreKeepAlive),
        statement,
        40,
        2,
    );
}

#[test]
fn discarding_a_v311_persistent_session_is_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-3.1.2-4").as_str());
    caught(
        "v311-session",
        only(V311, |_| ForceCleanSession),
        statement,
        10,
        1,
    );
}

#[test]
fn resuming_a_v311_clean_session_is_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-3.1.2-6").as_str());
    caught(
        "v311-session",
        only(V311, |_| IgnoreCleanSession),
        statement,
        10,
        1,
    );
}

#[test]
fn session_present_on_a_clean_session_is_caught() {
    let statement = (V311, mqtt_spec::v311!("MQTT-3.2.2-1").as_str());
    let wrap = only(V311, |_| PresentOnClean::default());
    caught("v311-session", wrap, statement, 10, 1);
    let statement = (V5, mqtt_spec::v5!("MQTT-3.2.2-2").as_str());
    caught(
        "retained",
        only(V5, |_| PresentOnClean::default()),
        statement,
        10,
        1,
    );
}
