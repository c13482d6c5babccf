//! Topic aliases in both directions (3.3.2.3.4).

mod common;

use common::*;
use mqtt_broker_model::Config;
use mqtt_codec::{ByteStr, Connect, Packet, QoS, ReasonCode};

#[test]
fn client_to_server_aliases() {
    // [MQTT-3.3.2-12]
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "long/topic/name", QoS::AtMostOnce);
    let c = h.client(V5, "c", true);
    let mut p = publish("long/topic/name", b"1", QoS::AtMostOnce, false, 0);
    p.properties.topic_alias = Some(3);
    h.publish(c, p);
    let mut p = publish("", b"2", QoS::AtMostOnce, false, 0);
    p.topic = ByteStr::from_static("");
    p.properties.topic_alias = Some(3);
    h.publish(c, p);
    let got = h.publishes(s);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|p| p.topic == "long/topic/name"));
}

#[test]
fn alias_above_maximum() {
    let mut h = Harness::new(Config {
        topic_alias_maximum: 2,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    let mut p = publish("t", b"1", QoS::AtMostOnce, false, 0);
    p.properties.topic_alias = Some(3);
    h.publish(c, p);
    assert!(
        matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::TOPIC_ALIAS_INVALID)
    );
}

#[test]
fn unknown_alias_is_protocol_error() {
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", true);
    let mut p = publish("", b"1", QoS::AtMostOnce, false, 0);
    p.topic = ByteStr::from_static("");
    p.properties.topic_alias = Some(1);
    h.publish(c, p);
    assert!(
        matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn aliases_do_not_outlive_the_connection() {
    // [MQTT-3.3.2-7]
    let mut h = Harness::default_broker();
    let c = h.client(V5, "c", false);
    let mut p = publish("t", b"1", QoS::AtMostOnce, false, 0);
    p.properties.topic_alias = Some(1);
    h.publish(c, p);
    h.disconnect(c);
    let c = h.client(V5, "c", false);
    let mut p = publish("", b"1", QoS::AtMostOnce, false, 0);
    p.topic = ByteStr::from_static("");
    p.properties.topic_alias = Some(1);
    h.publish(c, p);
    assert!(h.is_closed(c));
}

#[test]
fn server_to_client_aliases_when_configured() {
    // [MQTT-3.3.2-11] [MQTT-3.1.2-26] [MQTT-3.1.2-27]
    let mut h = Harness::new(Config {
        server_topic_aliases: true,
        sys_topics: false,
        ..Config::default()
    });
    let mut c = Connect::new(V5, "s");
    c.keep_alive = 0;
    c.properties.topic_alias_maximum = Some(1);
    let (s, _) = h.connect(c);
    h.subscribe(s, "#", QoS::AtMostOnce);
    let none = h.client(V5, "none", true); // Topic Alias Maximum absent: no aliases
    h.subscribe(none, "#", QoS::AtMostOnce);
    let p = h.client(V5, "p", true);
    for t in ["a", "a", "b", "a"] {
        h.publish_acked(p, t, b"x", QoS::AtMostOnce, false, 0);
    }
    let got = h.publishes(s);
    let seen: Vec<(String, Option<u16>)> = got
        .iter()
        .map(|p| (p.topic.to_string(), p.properties.topic_alias))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("a".into(), Some(1)),
            ("".into(), Some(1)),
            ("b".into(), None),
            ("".into(), Some(1)),
        ]
    );
    assert!(h
        .publishes(none)
        .iter()
        .all(|p| p.properties.topic_alias.is_none()));
}
