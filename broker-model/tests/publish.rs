//! PUBLISH and its acknowledgements (chapters 3.3-3.7, 4.3-4.6).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use mqtt_broker_model::{Config, DropReason, Event};
use mqtt_codec::{ByteStr, Packet, PubAck, PubComp, PubRec, PubRel, QoS, ReasonCode};

#[test]
fn qos0_forwarded() {
    // [MQTT-4.3.1-1]: QoS 0, DUP 0.
    let mut h = Harness::default_broker();
    let sub = h.client(V3, "sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let publ = h.client(V3, "pub", true);
    h.publish_acked(publ, "t", b"hello", QoS::AtMostOnce, false, 0);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"hello");
    assert_eq!(got[0].qos, QoS::AtMostOnce);
    assert!(!got[0].dup);
}

#[test]
fn qos1_flow_both_directions() {
    // 5.0 [MQTT-4.3.2-4] [MQTT-2.2.1-5] [MQTT-4.3.2-2] [MQTT-4.3.2-3]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = h.client(V5, "pub", true);
    h.publish_acked(publ, "t", b"m", QoS::AtLeastOnce, false, 7);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert_ne!(got[0].packet_id, 0);
    assert!(!got[0].dup);
    assert_eq!(h.broker.stats().inflight_messages, 1);
    h.ack(sub, &got[0]);
    assert_eq!(h.broker.stats().inflight_messages, 0);
}

#[test]
fn qos2_flow_both_directions() {
    // 5.0 [MQTT-4.3.3-8] [MQTT-4.3.3-11] [MQTT-4.3.3-4] [MQTT-4.3.3-5]; 3.1.1 [MQTT-4.3.3-2]
    for v in [V3, V5] {
        let mut h = Harness::default_broker();
        let sub = h.client(v, "sub", true);
        h.subscribe(sub, "t", QoS::ExactlyOnce);
        let publ = h.client(v, "pub", true);
        h.publish_acked(publ, "t", b"m", QoS::ExactlyOnce, false, 9);
        let got = h.publishes(sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::ExactlyOnce);
        h.ack(sub, &got[0]);
        assert_eq!(h.broker.stats().inflight_messages, 0);
    }
}

#[test]
fn qos2_duplicate_publish_not_delivered_twice() {
    // 5.0 [MQTT-4.3.3-10], method B; after PUBCOMP the id is new again [MQTT-4.3.3-12].
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let publ = h.client(V5, "pub", true);
    let p = publish("t", b"m", QoS::ExactlyOnce, false, 5);
    h.publish(publ, p.clone());
    let mut dup = p.clone();
    dup.dup = true;
    h.publish(publ, dup);
    let acks = h.recv(publ);
    assert_eq!(
        acks.iter()
            .filter(|a| matches!(a, Packet::PubRec(r) if r.packet_id == 5))
            .count(),
        2
    );
    assert_eq!(h.publishes(sub).len(), 1);
    h.send(publ, Packet::PubRel(PubRel::new(5)));
    assert!(
        matches!(&h.recv(publ)[..], [Packet::PubComp(c)] if c.packet_id == 5 && c.reason_code == ReasonCode::SUCCESS)
    );
    h.publish(publ, p);
    assert_eq!(h.publishes(sub).len(), 1, "a new message after PUBCOMP");
}

#[test]
fn pubrel_for_unknown_id_answers_0x92() {
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    h.send(c, Packet::PubRel(PubRel::new(77)));
    assert!(
        matches!(&h.recv(c)[..], [Packet::PubComp(p)] if p.reason_code == ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)
    );
}

#[test]
fn qos_downgraded_to_granted() {
    // 5.0 [MQTT-3.8.4-8]; 3.1.1 [MQTT-3.8.4-6]
    let mut h = Harness::default_broker();
    let sub = h.client(V3, "sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = h.client(V3, "pub", true);
    h.publish_acked(publ, "t", b"m", QoS::ExactlyOnce, false, 3);
    let got = h.publishes(sub);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    // Published QoS 0 stays 0.
    h.publish_acked(publ, "t", b"m", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(sub)[0].qos, QoS::AtMostOnce);
}

#[test]
fn dup_not_propagated() {
    // [MQTT-3.3.1-3]
    let mut h = Harness::default_broker();
    let sub = h.client(V3, "sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = h.client(V3, "pub", true);
    let mut p = publish("t", b"m", QoS::AtLeastOnce, false, 1);
    p.dup = true;
    h.publish(publ, p);
    assert!(!h.publishes(sub)[0].dup);
}

#[test]
fn in_order_delivery_per_topic() {
    // 5.0 [MQTT-4.6.0-6]; 3.1.1 [MQTT-4.6.0-5] [MQTT-4.6.0-6]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "t/#", QoS::ExactlyOnce);
    let publ = h.client(V5, "pub", true);
    for i in 1..=20u16 {
        let q = match i % 3 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        h.publish_acked(publ, "t/x", &i.to_be_bytes(), q, false, i);
    }
    let got = h.publishes(sub);
    let order: Vec<u16> = got
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[0], p.payload[1]]))
        .collect();
    assert_eq!(order, (1..=20).collect::<Vec<_>>());
}

#[test]
fn properties_forwarded_unaltered() {
    // [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18]
    // [MQTT-3.3.2-20]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let publ = h.client(V5, "pub", true);
    let mut p = publish("t", b"text", QoS::AtMostOnce, false, 0);
    p.properties.payload_format_indicator = Some(1);
    p.properties.content_type = Some("text/plain".into());
    p.properties.response_topic = Some("reply/here".into());
    p.properties.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
    p.properties.user_properties = vec![
        ("b".into(), "2".into()),
        ("a".into(), "1".into()),
        ("b".into(), "3".into()),
    ];
    h.publish(publ, p.clone());
    let got = h.publishes(sub);
    let q = &got[0].properties;
    assert_eq!(q.payload_format_indicator, Some(1));
    assert_eq!(q.content_type.as_deref(), Some("text/plain"));
    assert_eq!(q.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(q.correlation_data.as_deref(), Some(&b"\x01\x02"[..]));
    assert_eq!(q.user_properties, p.properties.user_properties);
}

#[test]
fn message_expiry_reduced_and_expired_dropped() {
    // [MQTT-3.3.2-5] [MQTT-3.3.2-6]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", false);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.disconnect(sub);
    let publ = h.client(V5, "pub", true);
    let mut p = publish("t", b"a", QoS::AtLeastOnce, false, 1);
    p.properties.message_expiry_interval = Some(10);
    h.publish(publ, p.clone());
    let mut p2 = p.clone();
    p2.packet_id = 2;
    p2.payload = Bytes::from_static(b"b");
    p2.properties.message_expiry_interval = Some(100);
    h.publish(publ, p2);
    h.advance_secs(30);
    let sub = h.client(V5, "sub", false);
    let got = h.publishes(sub);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(&got[0].payload[..], b"b");
    assert_eq!(got[0].properties.message_expiry_interval, Some(70));
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::MessageDropped {
            reason: DropReason::Expired,
            ..
        }
    )));
}

#[test]
fn an_expiry_interval_of_zero_lives_only_for_the_instant_it_arrives() {
    // [MQTT-3.3.2-5] [MQTT-3.3.2-6] with a lifetime of 0 s: subscribers connected when it
    // arrives get it (interval 0); it is not kept for an offline session nor sent from the
    // retained store to a later subscriber. (It used to be dropped for everyone.)
    let mut h = Harness::default_broker();
    let online = h.client(V5, "online", true);
    h.subscribe(online, "t", QoS::AtLeastOnce);
    let offline = h.client(V5, "offline", false);
    h.subscribe(offline, "t", QoS::AtLeastOnce);
    h.disconnect(offline);
    let publ = h.client(V5, "pub", true);
    let mut p = publish("t", b"now", QoS::AtLeastOnce, true, 1);
    p.properties.message_expiry_interval = Some(0);
    h.publish(publ, p);
    let got = h.publishes(online);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].properties.message_expiry_interval, Some(0));
    h.advance(Duration::from_millis(1));
    let offline = h.client(V5, "offline", false);
    assert_eq!(h.publishes(offline), vec![], "queued past its lifetime");
    let late = h.client(V5, "late", true);
    h.subscribe(late, "t", QoS::AtLeastOnce);
    assert_eq!(h.publishes(late), vec![], "retained past its lifetime");
}

#[test]
fn expiry_is_reached_only_when_the_interval_has_passed() {
    // [MQTT-3.3.2-5]: at exactly 10 s a 10 s message is still deliverable (0 s left); a
    // millisecond later it is gone.
    for (waited, delivered) in [(10_000u64, true), (10_001, false)] {
        let mut h = Harness::default_broker();
        let sub = h.client(V5, "sub", false);
        h.subscribe(sub, "t", QoS::AtLeastOnce);
        h.disconnect(sub);
        let publ = h.client(V5, "pub", true);
        let mut p = publish("t", b"a", QoS::AtLeastOnce, false, 1);
        p.properties.message_expiry_interval = Some(10);
        h.publish(publ, p);
        h.advance(Duration::from_millis(waited));
        let sub = h.client(V5, "sub", false);
        let got = h.publishes(sub);
        if delivered {
            assert_eq!(got.len(), 1, "after {waited} ms: {got:?}");
            assert_eq!(got[0].properties.message_expiry_interval, Some(0));
        } else {
            assert_eq!(got, vec![], "after {waited} ms");
        }
    }
}

#[test]
fn payload_format_invalid() {
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    let mut p = publish("t", &[0xff, 0xfe], QoS::AtLeastOnce, false, 1);
    p.properties.payload_format_indicator = Some(1);
    h.publish(c, p);
    assert!(
        matches!(&h.recv(c)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::PAYLOAD_FORMAT_INVALID)
    );
}

#[test]
fn qos_above_maximum_is_disconnected() {
    let mut h = Harness::new(Config {
        maximum_qos: 1,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    h.publish(c, publish("t", b"x", QoS::ExactlyOnce, false, 1));
    assert!(
        matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::QOS_NOT_SUPPORTED)
    );
    assert!(h.is_closed(c));
}

#[test]
fn wildcard_in_topic_name_is_rejected() {
    // [MQTT-3.3.2-2] (from the codec), 5.0 DISCONNECT 0x82
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    let mut p = publish("a/+", b"x", QoS::AtMostOnce, false, 0);
    p.topic = ByteStr::from_static("a/+");
    h.send_unchecked(c, Packet::Publish(p));
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR),
        "{got:?}"
    );
    let v = h.violations(c);
    assert!(v[0].1.contains(&"MQTT-3.3.2-2".to_string()), "{v:?}");
}

#[test]
fn packet_ids_unique_in_flight() {
    // 5.0 [MQTT-2.2.1-4]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let publ = h.client(V5, "pub", true);
    for i in 1..=5 {
        h.publish_acked(publ, "t", b"x", QoS::AtLeastOnce, false, i);
    }
    let got = h.publishes(sub);
    let mut ids: Vec<u16> = got.iter().map(|p| p.packet_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(!ids.contains(&0));
}

#[test]
fn pubrec_error_ends_the_flow() {
    // [MQTT-4.4.0-2]
    let mut h = Harness::default_broker();
    let sub = h.client(V5, "sub", false);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let publ = h.client(V5, "pub", true);
    h.publish_acked(publ, "t", b"x", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(sub);
    h.send(
        sub,
        Packet::PubRec(PubRec::with_reason(
            got[0].packet_id,
            ReasonCode::UNSPECIFIED_ERROR,
        )),
    );
    assert!(h.recv(sub).is_empty(), "no PUBREL after an error PUBREC");
    assert_eq!(h.broker.stats().inflight_messages, 0);
}

#[test]
fn puback_and_pubcomp_free_slots() {
    let mut h = Harness::default_broker();
    let sub = h.client(V3, "sub", true);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let publ = h.client(V3, "pub", true);
    h.publish_acked(publ, "t", b"x", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(sub);
    h.send(sub, Packet::PubRec(PubRec::new(got[0].packet_id)));
    assert!(matches!(&h.recv(sub)[..], [Packet::PubRel(r)] if r.packet_id == got[0].packet_id));
    h.send(sub, Packet::PubComp(PubComp::new(got[0].packet_id)));
    assert_eq!(h.broker.stats().inflight_messages, 0);
    h.send(sub, Packet::PubAck(PubAck::new(1000)));
    assert!(!h.is_closed(sub));
}

#[test]
fn acl_on_publish() {
    let mut h = Harness::new(one_acl_rule(
        "secret/#",
        mqtt_broker_model::AclAccess::Publish,
        false,
    ));
    let sub = h.client(V5, "sub", true);
    h.subscribe(sub, "#", QoS::AtMostOnce);
    let c5 = h.client(V5, "c5", true);
    h.publish(c5, publish("secret/x", b"x", QoS::AtLeastOnce, false, 1));
    assert!(
        matches!(&h.recv(c5)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
    // 3.1.1 [MQTT-3.3.5-2]: positive acknowledgement, message discarded.
    let c3 = h.client(V3, "c3", true);
    h.publish(c3, publish("secret/x", b"x", QoS::AtLeastOnce, false, 1));
    assert!(matches!(&h.recv(c3)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::SUCCESS));
    assert!(h.publishes(sub).is_empty());
}

#[test]
fn a_resent_publish_carries_the_expiry_left() {
    // [MQTT-3.3.2-6]: the interval received minus the time the message waited in the server,
    // also when it is sent again after a reconnect.
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    let mut m = publish("t", b"x", QoS::AtLeastOnce, false, 1);
    m.properties.message_expiry_interval = Some(100);
    h.publish(p, m);
    let first = h.publishes(s);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].properties.message_expiry_interval, Some(100));
    h.drop_conn(s);
    h.advance_secs(60);
    let s = h.client(V5, "s", false);
    let again = h.publishes(s);
    assert_eq!(again.len(), 1);
    assert!(again[0].dup);
    assert_eq!(again[0].properties.message_expiry_interval, Some(40));
}
