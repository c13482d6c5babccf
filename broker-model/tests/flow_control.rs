//! Receive Maximum and Maximum Packet Size in both directions (3.3.4, 4.9, 3.1.2.11.4).

mod common;

use common::*;
use mqtt_broker_model::{Config, DropReason, Event};
use mqtt_codec::{Connect, Packet, PubRec, QoS, ReasonCode};

#[test]
fn server_respects_client_receive_maximum() {
    // [MQTT-3.3.4-9] [MQTT-4.9.0-2]; QoS 0 keeps flowing when nothing QoS>0 waits ahead.
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V5, "s");
    c.keep_alive = 0;
    c.properties.receive_maximum = Some(2);
    let (s, _) = h.connect(c);
    h.subscribe(s, "t", QoS::ExactlyOnce);
    let p = h.client(V5, "p", true);
    for i in 1..=5 {
        h.publish_acked(p, "t", &[i as u8], QoS::AtLeastOnce, false, i);
    }
    let got = h.publishes(s);
    assert_eq!(got.len(), 2);
    h.ack(s, &got[0]);
    let more = h.publishes(s);
    assert_eq!(more.len(), 1);
    assert_eq!(&more[0].payload[..], &[3]);
    // Other packets are not delayed ([MQTT-3.3.4-10]).
    h.send(s, Packet::PingReq);
    assert!(matches!(&h.recv(s)[..], [Packet::PingResp]));
}

#[test]
fn client_exceeding_receive_maximum() {
    // [MQTT-3.3.4-7]: DISCONNECT 0x93.
    let mut h = Harness::new(Config {
        receive_maximum: 2,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    for i in 1..=2 {
        h.publish(c, publish("t", b"x", QoS::ExactlyOnce, false, i));
    }
    assert_eq!(h.recv(c).len(), 2);
    h.publish(c, publish("t", b"x", QoS::ExactlyOnce, false, 3));
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::RECEIVE_MAXIMUM_EXCEEDED),
        "{got:?}"
    );
    assert!(h.violations(c)[0].1.contains(&"MQTT-3.3.4-7".to_string()));
}

#[test]
fn client_within_receive_maximum_after_pubrel() {
    let mut h = Harness::new(Config {
        receive_maximum: 1,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    for i in 1..=5 {
        h.publish_acked(c, "t", b"x", QoS::ExactlyOnce, false, i);
    }
    assert!(!h.is_closed(c));
}

#[test]
fn oversized_packet_from_client() {
    // [MQTT-3.2.2-15]: 0x95.
    let mut h = Harness::new(Config {
        maximum_packet_size: Some(100),
        sys_topics: false,
        ..Config::default()
    });
    let c = h.client(V5, "c", true);
    h.publish(c, publish("t", &[0u8; 200], QoS::AtMostOnce, false, 0));
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PACKET_TOO_LARGE),
        "{got:?}"
    );
    assert!(h.violations(c)[0].1.contains(&"MQTT-3.2.2-15".to_string()));
}

#[test]
fn oversized_for_client_is_dropped() {
    // [MQTT-3.1.2-24] [MQTT-3.1.2-25]
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V5, "s");
    c.keep_alive = 0;
    c.properties.maximum_packet_size = Some(64);
    let (s, _) = h.connect(c);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", &[1u8; 100], QoS::AtLeastOnce, false, 1);
    h.publish_acked(p, "t", b"small", QoS::AtLeastOnce, false, 2);
    let got = h.publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"small");
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::MessageDropped {
            reason: DropReason::TooLarge,
            ..
        }
    )));
    // Behaves as if sent: nothing left in flight for it.
    assert_eq!(h.broker.stats().inflight_messages, 1);
}

#[test]
fn partial_packets_any_split() {
    // Bytes may arrive one at a time.
    let mut h = Harness::default_broker();
    let s = h.client(V3, "s", true);
    h.subscribe(s, "t", QoS::AtMostOnce);
    let c = h.accept();
    let mut buf = bytes::BytesMut::new();
    Packet::Connect(Box::new(Connect::new(V3, "c")))
        .encode(V3, &mut buf)
        .unwrap();
    Packet::Publish(publish("t", b"abc", QoS::AtMostOnce, false, 0))
        .encode(V3, &mut buf)
        .unwrap();
    for b in buf.iter() {
        h.send_raw(c, &[*b]);
    }
    assert_eq!(h.publishes(s).len(), 1);
}

/// A persistent 5.0 connection of `id` with Receive Maximum `rm`.
fn persistent(h: &mut Harness, id: &str, rm: u16) -> mqtt_broker_model::ConnId {
    let mut c = Connect::new(V5, id);
    c.keep_alive = 0;
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(3600);
    c.properties.receive_maximum = Some(rm);
    let (conn, ack) = h.connect(c);
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    conn
}

#[test]
fn resends_after_reconnect_respect_the_new_receive_maximum() {
    // [MQTT-3.3.4-9] [MQTT-4.9.0-1] with [MQTT-4.4.0-1]: the quota starts again with the new
    // connection, and resent messages count against it.
    let mut h = Harness::default_broker();
    let s = persistent(&mut h, "s", 5);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    for i in 1..=5u16 {
        h.publish_acked(
            p,
            "t",
            format!("m{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
            i,
        );
    }
    assert_eq!(h.publishes(s).len(), 5); // none acknowledged
    h.drop_conn(s);
    let s = persistent(&mut h, "s", 2);
    let first = h.publishes(s);
    let payloads = |v: &[mqtt_codec::Publish]| -> Vec<String> {
        v.iter()
            .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
            .collect()
    };
    assert_eq!(payloads(&first), vec!["m1", "m2"]);
    assert!(first.iter().all(|p| p.dup));
    // Each acknowledgement lets one more resend go, in order.
    h.ack(s, &first[0]);
    let next = h.publishes(s);
    assert_eq!(payloads(&next), vec!["m3"]);
    h.ack(s, &first[1]);
    h.ack(s, &next[0]);
    let rest = h.publishes(s);
    assert_eq!(payloads(&rest), vec!["m4", "m5"]);
    assert!(rest.iter().all(|p| p.dup));
}

#[test]
fn a_resent_pubrel_takes_no_quota_of_the_new_connection() {
    // 4.9: only PUBLISH packets take the send quota, and it starts again at the new
    // connection's Receive Maximum ([MQTT-4.9.0-1] [MQTT-4.9.0-2]); a PUBREL resent after a
    // resumption ([MQTT-4.4.0-1]) uses none of it. One QoS 2 message awaiting PUBCOMP and two
    // unacknowledged QoS 1 messages, reconnecting with Receive Maximum 2: the PUBREL and
    // both PUBLISH resends go at once.
    let mut h = Harness::default_broker();
    let s = persistent(&mut h, "s", 10);
    h.subscribe(s, "t", QoS::ExactlyOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"q2", QoS::ExactlyOnce, false, 1);
    let q2 = h.publishes(s);
    assert_eq!(q2.len(), 1);
    // PUBREC only: the broker answers PUBREL, and no PUBCOMP follows.
    h.send(s, Packet::PubRec(PubRec::new(q2[0].packet_id)));
    assert!(
        matches!(&h.recv(s)[..], [Packet::PubRel(r)] if r.packet_id == q2[0].packet_id),
        "no PUBREL for the PUBREC"
    );
    h.publish_acked(p, "t", b"a", QoS::AtLeastOnce, false, 2);
    h.publish_acked(p, "t", b"b", QoS::AtLeastOnce, false, 3);
    assert_eq!(h.publishes(s).len(), 2); // not acknowledged
    h.drop_conn(s);
    let s = persistent(&mut h, "s", 2);
    let got = h.recv(s);
    let pubrels = got
        .iter()
        .filter(|p| matches!(p, Packet::PubRel(r) if r.packet_id == q2[0].packet_id))
        .count();
    let resent: Vec<&[u8]> = got
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(m) if m.dup => Some(&m.payload[..]),
            _ => None,
        })
        .collect();
    assert_eq!(pubrels, 1, "{got:?}");
    assert_eq!(resent, vec![&b"a"[..], &b"b"[..]], "{got:?}");
}
