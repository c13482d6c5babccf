//! `$SYS` topics, published on a timer.

mod common;

use common::*;
use mqtt_broker_model::Config;
use mqtt_codec::QoS;

#[test]
fn published_periodically_and_not_matched_by_hash() {
    // [MQTT-4.7.2-1]
    let mut h = Harness::new(Config {
        sys_interval_secs: 5,
        ..Config::default()
    });
    let all = h.client(V3, "all", true);
    h.subscribe(all, "#", QoS::AtMostOnce);
    let sys = h.client(V3, "sys", true);
    // The first tick is due at once; its values are retained.
    assert_eq!(h.broker.poll_timeout(), Some(h.now));
    h.advance_secs(0);
    h.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    let first = h.publishes(sys);
    assert!(first.iter().any(|p| p.topic == "$SYS/broker/version"));
    h.advance_secs(5);
    let got = h.publishes(sys);
    let clients = got
        .iter()
        .find(|p| p.topic == "$SYS/broker/clients/connected")
        .expect("clients");
    assert_eq!(&clients.payload[..], b"2");
    let uptime = got
        .iter()
        .find(|p| p.topic == "$SYS/broker/uptime")
        .unwrap();
    assert_eq!(&uptime.payload[..], b"5 seconds");
    assert!(h.publishes(all).is_empty());
}

#[test]
fn switched_off() {
    let mut h = Harness::default_broker();
    let sys = h.client(V3, "sys", true);
    h.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    h.advance_secs(100);
    assert!(h.publishes(sys).is_empty());
    assert_eq!(h.broker.poll_timeout(), None);
}
