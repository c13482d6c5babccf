//! SUBSCRIBE / UNSUBSCRIBE and matching (chapters 3.8-3.11, 4.7).

mod common;

use common::*;
use mqtt_broker_model::{AclAccess, Config};
use mqtt_codec::{Packet, QoS, ReasonCode, RetainHandling, Subscription, SubscriptionOptions};

#[test]
fn suback_codes_per_filter_in_order() {
    // [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.9.3-1]; 5.0 [MQTT-3.8.4-6] [MQTT-3.8.4-7]
    let mut h = Harness::new(Config {
        maximum_qos: 1,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    let ack = h.subscribe_with(
        c,
        vec![
            Subscription::new("a", QoS::ExactlyOnce),
            Subscription::new("b", QoS::AtMostOnce),
            Subscription::new("c/#", QoS::AtLeastOnce),
        ],
        None,
    );
    assert_eq!(ack.packet_id, 4242);
    assert_eq!(
        ack.reason_codes,
        vec![
            ReasonCode::GRANTED_QOS_1,
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GRANTED_QOS_1
        ]
    );
}

#[test]
fn wildcards_match() {
    // [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-3.3.2-3]
    let mut h = Harness::default_broker();
    let c = h.client(V3, "c", true);
    h.subscribe(c, "a/+/c", QoS::AtMostOnce);
    h.subscribe(c, "x/#", QoS::AtMostOnce);
    let p = h.client(V3, "p", true);
    for t in ["a/b/c", "a//c", "a/b/d", "x", "x/y/z", "a/b/c/d"] {
        h.publish_acked(p, t, b"", QoS::AtMostOnce, false, 0);
    }
    let topics: Vec<String> = h.publishes(c).iter().map(|p| p.topic.to_string()).collect();
    assert_eq!(topics, vec!["a/b/c", "a//c", "x", "x/y/z"]);
}

#[test]
fn dollar_topics_not_matched_by_leading_wildcards() {
    // [MQTT-4.7.2-1]
    let mut h = Harness::default_broker();
    let c = h.client(V3, "c", true);
    h.subscribe(c, "#", QoS::AtMostOnce);
    h.subscribe(c, "+/x", QoS::AtMostOnce);
    let d = h.client(V3, "d", true);
    h.subscribe(d, "$app/#", QoS::AtMostOnce);
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "$app/x", b"", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(c).is_empty());
    assert_eq!(h.publishes(d).len(), 1);
}

#[test]
fn overlapping_subscriptions_one_copy_max_qos_all_ids() {
    // 3.1.1 [MQTT-3.3.5-1]; 5.0 [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    h.subscribe_opts(c, "a/#", SubscriptionOptions::qos(QoS::AtMostOnce), Some(1));
    h.subscribe_opts(
        c,
        "a/+",
        SubscriptionOptions::qos(QoS::AtLeastOnce),
        Some(2),
    );
    h.subscribe_opts(c, "a/b", SubscriptionOptions::qos(QoS::AtMostOnce), None);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "a/b", b"x", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(c);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    let mut ids = got[0].properties.subscription_identifiers.clone();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2]);

    let c3 = h.client(V3, "c3", true);
    h.subscribe(c3, "a/#", QoS::AtMostOnce);
    h.subscribe(c3, "a/b", QoS::ExactlyOnce);
    h.publish_acked(p, "a/b", b"x", QoS::ExactlyOnce, false, 2);
    let got = h.publishes(c3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
}

#[test]
fn identical_filter_replaces() {
    // [MQTT-3.8.4-3]
    let mut h = Harness::default_broker();
    let c = h.client(V3, "c", true);
    h.subscribe(c, "t", QoS::ExactlyOnce);
    h.subscribe(c, "t", QoS::AtMostOnce);
    assert_eq!(h.broker.stats().subscriptions, 1);
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "t", b"x", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(c);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtMostOnce);
}

#[test]
fn no_local() {
    // [MQTT-3.8.3-3]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    let opts = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(c, "t", opts, None);
    h.publish_acked(c, "t", b"x", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(c).is_empty());
    let o = h.client(V5, "o", true);
    h.publish_acked(o, "t", b"x", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(c).len(), 1);
}

#[test]
fn retain_as_published() {
    // [MQTT-3.3.1-12] [MQTT-3.3.1-13]; 3.1.1 [MQTT-3.3.1-9]
    let mut h = Harness::default_broker();
    let rap = h.client(V5, "rap", true);
    let opts = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(rap, "t", opts, None);
    let plain = h.client(V5, "plain", true);
    h.subscribe(plain, "t", QoS::AtMostOnce);
    let v3 = h.client(V3, "v3", true);
    h.subscribe(v3, "t", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"x", QoS::AtMostOnce, true, 0);
    assert!(h.publishes(rap)[0].retain);
    assert!(!h.publishes(plain)[0].retain);
    assert!(!h.publishes(v3)[0].retain);
}

#[test]
fn unsubscribe_codes() {
    // [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.11.3-1]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    h.subscribe(c, "a", QoS::AtMostOnce);
    let ack = h.unsubscribe(c, &["a", "b"]);
    assert_eq!(ack.packet_id, 4343);
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
    );
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "a", b"x", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(c).is_empty(), "[MQTT-3.10.4-2]");
    let c3 = h.client(V3, "c3", true);
    let ack = h.unsubscribe(c3, &["zzz"]);
    assert!(ack.reason_codes.is_empty());
}

#[test]
fn unsubscribe_is_character_by_character() {
    // [MQTT-3.10.4-1]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    h.subscribe(c, "a/+", QoS::AtMostOnce);
    let ack = h.unsubscribe(c, &["a/b"]);
    assert_eq!(ack.reason_codes, vec![ReasonCode::NO_SUBSCRIPTION_EXISTED]);
    assert_eq!(h.broker.stats().subscriptions, 1);
}

#[test]
fn features_switched_off() {
    let mut h = Harness::new(Config {
        wildcard_subscriptions: false,
        shared_subscriptions: false,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    let ack = h.subscribe_with(
        c,
        vec![
            Subscription::new("a/#", QoS::AtMostOnce),
            Subscription::new("$share/g/a", QoS::AtMostOnce),
            Subscription::new("a", QoS::AtMostOnce),
        ],
        None,
    );
    assert_eq!(
        ack.reason_codes,
        vec![
            ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
            ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
            ReasonCode::GRANTED_QOS_0
        ]
    );
    // 3.1.1 [MQTT-3.8.3-2]: 0x80.
    let c3 = h.client(V3, "c3", true);
    let ack = h.subscribe(c3, "a/+", QoS::AtMostOnce);
    assert_eq!(ack.reason_codes, vec![ReasonCode::V3_SUBACK_FAILURE]);
}

#[test]
fn subscription_identifiers_switched_off() {
    let mut h = Harness::new(Config {
        subscription_identifiers: false,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    h.send(
        c,
        Packet::Subscribe(mqtt_codec::Subscribe {
            packet_id: 1,
            filters: vec![Subscription::new("a", QoS::AtMostOnce)],
            properties: mqtt_codec::Properties {
                subscription_identifiers: vec![5],
                ..Default::default()
            }
            .into(),
        }),
    );
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED),
        "{got:?}"
    );
}

#[test]
fn acl_on_subscribe() {
    let mut h = Harness::new(one_acl_rule("public/#", AclAccess::All, true));
    let c = h.client(V5, "c", true);
    let ack = h.subscribe_with(
        c,
        vec![
            Subscription::new("public/+", QoS::AtMostOnce),
            Subscription::new("#", QoS::AtMostOnce),
        ],
        None,
    );
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::GRANTED_QOS_0, ReasonCode::NOT_AUTHORIZED]
    );
    let c3 = h.client(V3, "c3", true);
    assert_eq!(
        h.subscribe(c3, "private", QoS::AtMostOnce).reason_codes,
        vec![ReasonCode::V3_SUBACK_FAILURE]
    );
}

#[test]
fn subscribe_reserved_bits_malformed() {
    // 3.1.1 [MQTT-3.8.3-4]: close.
    let mut h = Harness::default_broker();
    let c = h.client(V3, "c", true);
    h.send_raw(c, &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03]);
    assert!(h.is_closed(c));
    let v = h.violations(c);
    assert!(v[0].1.contains(&"MQTT-3.8.3-4".to_string()), "{v:?}");
}

#[test]
fn acl_is_checked_per_delivered_message() {
    // A rule keeping everyone from receiving `secret/#` also holds against a granted `#`:
    // neither retained nor new messages on those topics reach the subscriber.
    let mut h = Harness::new(one_acl_rule("secret/#", AclAccess::Subscribe, false));
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "secret/r", b"s", QoS::AtMostOnce, true, 0);
    h.publish_acked(p, "public/r", b"p", QoS::AtMostOnce, true, 0);
    let c = h.client(V5, "c", true);
    assert_eq!(
        h.subscribe(c, "secret/#", QoS::AtMostOnce).reason_codes,
        vec![ReasonCode::NOT_AUTHORIZED]
    );
    assert_eq!(
        h.subscribe(c, "#", QoS::AtMostOnce).reason_codes,
        vec![ReasonCode::GRANTED_QOS_0]
    );
    h.publish_acked(p, "secret/x", b"s", QoS::AtMostOnce, false, 0);
    h.publish_acked(p, "public/x", b"p", QoS::AtMostOnce, false, 0);
    let topics: Vec<String> = h.publishes(c).iter().map(|p| p.topic.to_string()).collect();
    assert_eq!(topics, vec!["public/r", "public/x"]);
}
