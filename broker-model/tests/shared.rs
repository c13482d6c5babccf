//! Shared subscriptions (4.8.2).

mod common;

use common::*;
use mqtt_codec::{QoS, ReasonCode, Subscription};

#[test]
fn each_message_to_one_member() {
    let mut h = Harness::default_broker();
    let a = h.client(V5, "a", true);
    let b = h.client(V5, "b", true);
    h.subscribe(a, "$share/g/t/#", QoS::AtLeastOnce);
    h.subscribe(b, "$share/g/t/#", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    for i in 1..=20 {
        h.publish_acked(p, "t/x", &[i as u8], QoS::AtMostOnce, false, 0);
    }
    let ga = h.publishes(a).len();
    let gb = h.publishes(b).len();
    assert_eq!(ga + gb, 20);
    assert!(ga > 0 && gb > 0, "seeded choice spreads: {ga}/{gb}");
}

#[test]
fn same_seed_same_choice() {
    let run = |seed| {
        let mut h = Harness::with_seed(
            mqtt_broker_model::Config {
                sys_topics: false,
                ..Default::default()
            },
            seed,
        );
        let a = h.client(V5, "a", true);
        let b = h.client(V5, "b", true);
        h.subscribe(a, "$share/g/t", QoS::AtMostOnce);
        h.subscribe(b, "$share/g/t", QoS::AtMostOnce);
        let p = h.client(V5, "p", true);
        for _ in 0..16 {
            h.publish_acked(p, "t", b"x", QoS::AtMostOnce, false, 0);
        }
        (h.publishes(a).len(), h.publishes(b).len())
    };
    assert_eq!(run(5), run(5));
}

#[test]
fn shared_and_plain_both_deliver() {
    let mut h = Harness::default_broker();
    let a = h.client(V5, "a", true);
    h.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    let b = h.client(V5, "b", true);
    h.subscribe(b, "t", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"x", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(a).len(), 1);
    assert_eq!(h.publishes(b).len(), 1);
}

#[test]
fn queued_messages_move_when_member_goes_away() {
    // Messages not yet sent to a member that disconnects go to another member.
    let mut h = Harness::default_broker();
    let mut c = mqtt_codec::Connect::new(V5, "a");
    c.keep_alive = 0;
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(100);
    c.properties.receive_maximum = Some(1);
    let (a, _) = h.connect(c);
    h.subscribe(a, "$share/g/t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    // Only a is a member: it gets one in flight and queues the rest.
    for i in 1..=3 {
        h.publish_acked(p, "t", &[i], QoS::AtLeastOnce, false, u16::from(i));
    }
    assert_eq!(h.publishes(a).len(), 1);
    let b = h.client(V5, "b", true);
    h.subscribe(b, "$share/g/t", QoS::AtLeastOnce);
    h.drop_conn(a);
    let moved: Vec<u8> = h.publishes(b).iter().map(|p| p.payload[0]).collect();
    assert_eq!(moved, vec![2, 3]);
}

#[test]
fn invalid_share_names_and_no_local() {
    // [MQTT-4.8.2-1] [MQTT-4.8.2-2] (codec rejects the packet); [MQTT-3.8.3-4]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    let ack = h.subscribe_with(
        c,
        vec![Subscription::new("$share/g/t", QoS::AtMostOnce)],
        None,
    );
    assert_eq!(ack.reason_codes, vec![ReasonCode::GRANTED_QOS_0]);
    // In 3.1.1 `$share/...` is an ordinary filter.
    let c3 = h.client(V3, "c3", true);
    let ack = h.subscribe(c3, "$share/g/t", QoS::AtMostOnce);
    assert_eq!(ack.reason_codes, vec![ReasonCode::GRANTED_QOS_0]);
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "$share/g/t", b"x", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(c3).len(), 1);
}

#[test]
fn retain_as_published_holds_for_shared_subscriptions() {
    // [MQTT-3.3.1-12] [MQTT-3.3.1-13]: the option applies to shared subscriptions too.
    let mut h = Harness::default_broker();
    let rap = mqtt_codec::SubscriptionOptions {
        retain_as_published: true,
        ..mqtt_codec::SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    let a = h.client(V5, "a", true);
    h.subscribe_opts(a, "$share/g/t", rap, None);
    let b = h.client(V5, "b", true);
    h.subscribe(b, "$share/h/t", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"r", QoS::AtMostOnce, true, 0);
    let got_a = h.publishes(a);
    let got_b = h.publishes(b);
    assert_eq!(got_a.len(), 1);
    assert!(
        got_a[0].retain,
        "Retain As Published 1: RETAIN as published"
    );
    assert_eq!(got_b.len(), 1);
    assert!(!got_b[0].retain, "Retain As Published 0: RETAIN 0");
}
