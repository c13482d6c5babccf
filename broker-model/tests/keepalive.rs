//! Keep alive (3.1.2.10) with virtual time.

mod common;

use common::*;
use mqtt_broker_model::{CloseReason, Config};
use mqtt_codec::{Connect, Packet, ReasonCode};

fn connect_ka(
    h: &mut Harness,
    v: mqtt_codec::ProtocolVersion,
    ka: u16,
) -> mqtt_broker_model::ConnId {
    let mut c = Connect::new(v, "k");
    c.keep_alive = ka;
    h.connect(c).0
}

#[test]
fn one_and_a_half_times() {
    // 5.0 [MQTT-3.1.2-22]; 3.1.1 [MQTT-3.1.2-24]
    for v in [V3, V5] {
        let mut h = Harness::default_broker();
        let c = connect_ka(&mut h, v, 10);
        h.advance(std::time::Duration::from_millis(14_999));
        assert!(!h.is_closed(c), "{v}");
        h.advance(std::time::Duration::from_millis(1));
        assert_eq!(h.closed.get(&c), Some(&CloseReason::KeepAliveTimeout));
        if v.is_v5() {
            assert!(
                matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::KEEP_ALIVE_TIMEOUT)
            );
        } else {
            assert!(h.recv(c).is_empty());
        }
    }
}

#[test]
fn any_packet_resets_the_timer() {
    // [MQTT-3.12.4-1] PINGRESP too.
    let mut h = Harness::default_broker();
    let c = connect_ka(&mut h, V3, 10);
    for _ in 0..5 {
        h.advance_secs(14);
        h.send(c, Packet::PingReq);
        assert!(matches!(&h.recv(c)[..], [Packet::PingResp]));
    }
    assert!(!h.is_closed(c));
    assert_eq!(h.broker.poll_timeout(), Some(h.now + secs(15)));
}

#[test]
fn zero_disables() {
    let mut h = Harness::default_broker();
    let c = connect_ka(&mut h, V5, 0);
    h.advance_secs(100_000);
    assert!(!h.is_closed(c));
}

#[test]
fn server_keep_alive_overrides() {
    // 5.0 [MQTT-3.2.2-21] [MQTT-3.2.2-22]
    let mut h = Harness::new(Config {
        server_keep_alive: Some(4),
        sys_topics: false,
        ..Config::default()
    });
    let c = connect_ka(&mut h, V5, 0);
    h.advance_secs(6);
    assert!(h.is_closed(c));
}
