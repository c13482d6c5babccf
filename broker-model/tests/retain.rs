//! Retained messages (3.3.1.3).

mod common;

use common::*;
use mqtt_broker_model::Config;
use mqtt_codec::{Packet, QoS, ReasonCode, RetainHandling, SubscriptionOptions};

#[test]
fn stored_replaced_and_deleted() {
    // 5.0 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7]; 3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-10]
    // [MQTT-3.3.1-11] [MQTT-3.3.1-6] [MQTT-3.3.1-8]
    let mut h = Harness::default_broker();
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "r", b"one", QoS::AtLeastOnce, true, 1);
    h.publish_acked(p, "r", b"two", QoS::AtLeastOnce, true, 2);
    assert_eq!(h.broker.stats().retained_messages, 1);
    let s = h.client(V3, "s", true);
    h.subscribe(s, "r", QoS::AtLeastOnce);
    let got = h.publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"two");
    assert!(got[0].retain);
    // Delete: forwarded to current subscribers, not stored.
    h.ack(s, &got[0]);
    h.publish_acked(p, "r", b"", QoS::AtMostOnce, true, 0);
    assert_eq!(h.publishes(s).len(), 1);
    assert_eq!(h.broker.stats().retained_messages, 0);
    let s2 = h.client(V3, "s2", true);
    h.subscribe(s2, "#", QoS::AtMostOnce);
    assert!(h.publishes(s2).is_empty());
}

#[test]
fn non_retained_publish_keeps_retained() {
    // 5.0 [MQTT-3.3.1-8]; 3.1.1 [MQTT-3.3.1-12]
    let mut h = Harness::default_broker();
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "r", b"kept", QoS::AtMostOnce, true, 0);
    h.publish_acked(p, "r", b"live", QoS::AtMostOnce, false, 0);
    let s = h.client(V5, "s", true);
    h.subscribe(s, "r", QoS::AtMostOnce);
    assert_eq!(&h.publishes(s)[0].payload[..], b"kept");
}

#[test]
fn retain_handling() {
    // [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4]
    let mut h = Harness::default_broker();
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "r", b"x", QoS::AtMostOnce, true, 0);
    let s = h.client(V5, "s", true);
    let opts = |rh| SubscriptionOptions {
        retain_handling: rh,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(s, "r", opts(RetainHandling::DoNotSend), None);
    assert!(h.publishes(s).is_empty());
    h.unsubscribe(s, &["r"]);
    h.subscribe_opts(s, "r", opts(RetainHandling::SendIfNewSubscription), None);
    assert_eq!(h.publishes(s).len(), 1);
    h.subscribe_opts(s, "r", opts(RetainHandling::SendIfNewSubscription), None);
    assert!(h.publishes(s).is_empty());
    h.subscribe_opts(s, "r", opts(RetainHandling::SendAtSubscribe), None);
    assert_eq!(h.publishes(s).len(), 1);
}

#[test]
fn retained_qos_is_min_of_stored_and_granted() {
    let mut h = Harness::default_broker();
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "r", b"x", QoS::ExactlyOnce, true, 1);
    let s = h.client(V3, "s", true);
    h.subscribe(s, "r", QoS::AtLeastOnce);
    assert_eq!(h.publishes(s)[0].qos, QoS::AtLeastOnce);
}

#[test]
fn retain_not_available() {
    let mut h = Harness::new(Config {
        retain_available: false,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    h.publish(c, publish("r", b"x", QoS::AtMostOnce, true, 0));
    assert!(
        matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::RETAIN_NOT_SUPPORTED)
    );
    let c3 = h.client(V3, "c3", true);
    h.publish_acked(c3, "r", b"x", QoS::AtMostOnce, true, 0);
    assert_eq!(h.broker.stats().retained_messages, 0);
}

#[test]
fn retained_message_expires() {
    let mut h = Harness::default_broker();
    let p = h.client(V5, "p", true);
    let mut m = publish("r", b"x", QoS::AtMostOnce, true, 0);
    m.properties.message_expiry_interval = Some(5);
    h.publish(p, m);
    h.advance_secs(2);
    let s = h.client(V5, "s", true);
    h.subscribe(s, "r", QoS::AtMostOnce);
    let got = h.publishes(s);
    assert_eq!(got[0].properties.message_expiry_interval, Some(3));
    h.advance_secs(5);
    let s2 = h.client(V5, "s2", true);
    h.subscribe(s2, "r", QoS::AtMostOnce);
    assert!(h.publishes(s2).is_empty());
}

#[test]
fn shared_subscriptions_get_no_retained() {
    let mut h = Harness::default_broker();
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "r", b"x", QoS::AtMostOnce, true, 0);
    let s = h.client(V5, "s", true);
    h.subscribe(s, "$share/g/r", QoS::AtMostOnce);
    assert!(h.publishes(s).is_empty());
}
