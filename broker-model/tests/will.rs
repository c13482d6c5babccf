//! Will messages (3.1.2.5, 3.1.3.2).

mod common;

use common::*;
use mqtt_broker_model::Event;
use mqtt_codec::{Connect, Disconnect, Packet, QoS, ReasonCode};

fn with_will(
    h: &mut Harness,
    v: mqtt_codec::ProtocolVersion,
    id: &str,
    delay: Option<u32>,
    expiry: u32,
) -> mqtt_broker_model::ConnId {
    let mut c = Connect::new(v, id);
    c.keep_alive = 0;
    let mut w = will("will/t", b"gone", QoS::AtLeastOnce, false);
    if v.is_v5() {
        w.properties.will_delay_interval = delay;
        w.properties.user_properties = vec![("k".into(), "1".into()), ("a".into(), "2".into())];
        c.properties.session_expiry_interval = Some(expiry);
        c.clean_start = false;
    }
    c.will = Some(w);
    h.connect(c).0
}

#[test]
fn published_on_abnormal_close() {
    // 5.0 [MQTT-3.1.2-8] [MQTT-3.1.2-14] [MQTT-3.1.3-10]; 3.1.1 [MQTT-3.1.2-8] [MQTT-3.1.2-16]
    for v in [V3, V5] {
        let mut h = Harness::default_broker();
        let s = h.client(v, "s", true);
        h.subscribe(s, "will/#", QoS::AtLeastOnce);
        let c = with_will(&mut h, v, "c", None, 0);
        h.drop_conn(c);
        let got = h.publishes(s);
        assert_eq!(got.len(), 1, "{v}");
        assert_eq!(&got[0].payload[..], b"gone");
        assert!(!got[0].retain);
        if v.is_v5() {
            assert_eq!(got[0].properties.user_properties[0].0, "k");
        }
    }
}

#[test]
fn discarded_on_normal_disconnect() {
    // 5.0 [MQTT-3.1.2-10] [MQTT-3.14.4-3]; 3.1.1 [MQTT-3.1.2-10] [MQTT-3.14.4-3]
    for v in [V3, V5] {
        let mut h = Harness::default_broker();
        let s = h.client(v, "s", true);
        h.subscribe(s, "will/#", QoS::AtLeastOnce);
        let c = with_will(&mut h, v, "c", None, 0);
        h.disconnect(c);
        assert!(h.publishes(s).is_empty(), "{v}");
    }
}

#[test]
fn sent_for_disconnect_with_will_message() {
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let c = with_will(&mut h, V5, "c", None, 0);
    h.send(
        c,
        Packet::Disconnect(Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE)),
    );
    assert_eq!(h.publishes(s).len(), 1);
}

#[test]
fn sent_for_disconnect_with_error_code() {
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let c = with_will(&mut h, V5, "c", None, 0);
    h.send(
        c,
        Packet::Disconnect(Disconnect::new(ReasonCode::UNSPECIFIED_ERROR)),
    );
    assert_eq!(h.publishes(s).len(), 1);
}

#[test]
fn retained_will() {
    // 5.0 [MQTT-3.1.2-15]; 3.1.1 [MQTT-3.1.2-17]
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V3, "c");
    c.will = Some(will("will/r", b"bye", QoS::AtMostOnce, true));
    let (conn, _) = h.connect(c);
    h.drop_conn(conn);
    let s = h.client(V3, "s", true);
    h.subscribe(s, "will/r", QoS::AtMostOnce);
    let got = h.publishes(s);
    assert!(got[0].retain);
    assert_eq!(&got[0].payload[..], b"bye");
}

#[test]
fn will_delay_and_cancellation() {
    // [MQTT-3.1.3-9]
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let c = with_will(&mut h, V5, "c", Some(10), 100);
    h.drop_conn(c);
    h.advance_secs(5);
    assert!(h.publishes(s).is_empty());
    // Reconnect before the delay: no will.
    let mut again = Connect::new(V5, "c");
    again.clean_start = false;
    again.keep_alive = 0;
    again.properties.session_expiry_interval = Some(100);
    let mut w = will("will/t", b"gone", QoS::AtLeastOnce, false);
    w.properties.will_delay_interval = Some(10);
    again.will = Some(w);
    let (c2, ack) = h.connect(again);
    assert!(ack.session_present);
    h.advance_secs(20);
    assert!(h.publishes(s).is_empty());
    // Lost again: published after the delay.
    h.drop_conn(c2);
    h.advance_secs(9);
    assert!(h.publishes(s).is_empty());
    h.advance_secs(2);
    assert_eq!(h.publishes(s).len(), 1);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::WillPublished { client_id, .. } if client_id == "c")));
}

#[test]
fn will_published_when_session_ends_first() {
    // [MQTT-3.1.2-8]: delay 60, session expiry 5: published at 5.
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let c = with_will(&mut h, V5, "c", Some(60), 5);
    h.drop_conn(c);
    h.advance_secs(4);
    assert!(h.publishes(s).is_empty());
    h.advance_secs(2);
    assert_eq!(h.publishes(s).len(), 1);
}

#[test]
fn will_on_protocol_error_and_keep_alive_timeout() {
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let c = with_will(&mut h, V5, "c", None, 0);
    h.send_raw(c, &[0xC0, 0x01, 0x00]); // malformed PINGREQ
    assert!(h.is_closed(c));
    assert_eq!(h.publishes(s).len(), 1);
}

#[test]
fn takeover_publishes_will_without_delay() {
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", true);
    h.subscribe(s, "will/#", QoS::AtLeastOnce);
    let _c = with_will(&mut h, V5, "c", None, 100);
    let _c2 = h.client(V5, "c", false);
    assert_eq!(h.publishes(s).len(), 1);
}
