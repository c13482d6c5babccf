//! CONNECT / CONNACK (chapter 3.1, 3.2).

mod common;

use common::*;
use mqtt_broker_model::{CloseReason, Config, Event, ServerReference};
use mqtt_codec::{Connect, Packet, ProtocolVersion, PubAck, QoS, ReasonCode};

#[test]
fn v311_connect_accepted_clean_session() {
    // 3.1.1 [MQTT-3.1.4-4] [MQTT-3.2.2-1]
    let mut h = Harness::default_broker();
    let (_, ack) = h.connect(Connect::new(V3, "a"));
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    assert!(!ack.session_present);
}

#[test]
fn exact_connack_bytes_v311_and_v5() {
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.send(c, Packet::Connect(Box::new(Connect::new(V3, "a"))));
    assert_eq!(&h.recv_raw(c)[..], &[0x20, 0x02, 0x00, 0x00]);
    let c = h.accept();
    h.send(c, Packet::Connect(Box::new(Connect::new(V5, "b"))));
    // Default config: Topic Alias Maximum 64 advertised.
    assert_eq!(
        &h.recv_raw(c)[..],
        &[0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x40]
    );
}

#[test]
fn first_packet_must_be_connect() {
    // [MQTT-3.1.0-1]
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.send_raw(c, &[0xC0, 0x00]); // PINGREQ
    assert!(h.is_closed(c));
    assert!(h.recv(c).is_empty());
    let v = h.violations(c);
    assert!(v[0].1.contains(&"MQTT-3.1.0-1".to_string()), "{v:?}");
}

#[test]
fn second_connect_is_a_protocol_error() {
    // [MQTT-3.1.0-2] both versions; 5.0 DISCONNECT 0x82 first.
    let mut h = Harness::default_broker();
    let c = h.client(V5, "a", true);
    h.send(c, Packet::Connect(Box::new(Connect::new(V5, "a"))));
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
    assert_eq!(h.closed.get(&c), Some(&CloseReason::ProtocolError));
    assert!(h.violations(c)[0].1.contains(&"MQTT-3.1.0-2".to_string()));

    let c = h.client(V3, "b", true);
    h.send(c, Packet::Connect(Box::new(Connect::new(V3, "b"))));
    assert!(h.recv(c).is_empty());
    assert!(h.is_closed(c));
}

#[test]
fn unsupported_protocol_level() {
    // 3.1.1 [MQTT-3.1.2-2]: CONNACK 0x01 then close.
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.send_raw(
        c,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 2, 2, 0, 60, 0, 1, b'a',
        ],
    );
    assert_eq!(&h.recv_raw(c)[..], &[0x20, 0x02, 0x00, 0x01]);
    assert!(h.is_closed(c));
    // A level above 5: the 5.0 form with 0x84 ([MQTT-3.1.2-2] 5.0).
    let c = h.accept();
    h.send_raw(
        c,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 6, 2, 0, 60, 0, 1, b'a',
        ],
    );
    let raw = h.recv_raw(c);
    assert_eq!(raw[3], 0x84, "{raw:?}");
    assert!(h.is_closed(c));
}

#[test]
fn disabled_versions_are_refused() {
    let mut h = Harness::new(Config {
        allow_v5: false,
        sys_topics: false,
        ..Config::default()
    });
    let (c, ack) = h.connect(Connect::new(V5, "a"));
    assert_eq!(ack.reason_code, ReasonCode::UNSUPPORTED_PROTOCOL_VERSION);
    assert!(h.is_closed(c));
    let mut h = Harness::new(Config {
        allow_v3_1_1: false,
        sys_topics: false,
        ..Config::default()
    });
    let (c, ack) = h.connect(Connect::new(V3, "a"));
    assert_eq!(
        ack.reason_code,
        ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION
    );
    assert!(h.is_closed(c));
}

#[test]
fn reserved_connect_flag_closes_without_connack_v311() {
    // 3.1.1 [MQTT-3.1.2-3] [MQTT-3.1.4-1]
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.send_raw(
        c,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 3, 0, 60, 0, 1, b'a',
        ],
    );
    assert!(h.recv(c).is_empty());
    assert!(h.is_closed(c));
    assert!(h.violations(c)[0].1.contains(&"MQTT-3.1.2-3".to_string()));
}

#[test]
fn malformed_v5_connect_gets_connack_with_code() {
    // 5.0 [MQTT-3.1.2-3]: reserved flag; CONNACK 0x81 then close.
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.send_raw(
        c,
        &[
            0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 3, 0, 60, 0, 0, 1, b'a',
        ],
    );
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.reason_code == ReasonCode::MALFORMED_PACKET),
        "{got:?}"
    );
    assert!(h.is_closed(c));
}

#[test]
fn zero_length_client_id() {
    // 3.1.1 [MQTT-3.1.3-6] accepted with clean session; [MQTT-3.1.3-8] refused 0x02 without.
    let mut h = Harness::default_broker();
    let (_, ack) = h.connect(Connect::new(V3, ""));
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    let mut c = Connect::new(V3, "");
    c.clean_start = false;
    let (conn, ack) = h.connect(c);
    assert_eq!(ack.reason_code, ReasonCode::V3_IDENTIFIER_REJECTED);
    assert!(!ack.session_present);
    assert!(h.is_closed(conn));
    // 5.0 [MQTT-3.1.3-7] [MQTT-3.2.2-16]: Assigned Client Identifier, unique.
    let (c1, a1) = h.connect(Connect::new(V5, ""));
    let (_, a2) = h.connect(Connect::new(V5, ""));
    let id1 = a1
        .properties
        .assigned_client_identifier
        .clone()
        .expect("assigned id");
    let id2 = a2
        .properties
        .assigned_client_identifier
        .clone()
        .expect("assigned id");
    assert_ne!(id1, id2);
    assert_eq!(h.broker.client_id(c1), Some(&*id1));
}

#[test]
fn zero_length_client_id_refused_when_not_assigning() {
    // 5.0 [MQTT-3.1.3-8]: 0x85.
    let mut h = Harness::new(Config {
        assign_client_ids: false,
        sys_topics: false,
        ..Config::default()
    });
    let (_, ack) = h.connect(Connect::new(V5, ""));
    assert_eq!(ack.reason_code, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
    let (_, ack) = h.connect(Connect::new(V3, ""));
    assert_eq!(ack.reason_code, ReasonCode::V3_IDENTIFIER_REJECTED);
}

#[test]
fn session_present_and_clean_start() {
    // 3.1.1 [MQTT-3.2.2-2] [MQTT-3.2.2-3] [MQTT-3.1.2-4] [MQTT-3.1.2-6]
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V3, "s");
    c.clean_start = false;
    let (conn, ack) = h.connect(c.clone());
    assert!(!ack.session_present);
    h.disconnect(conn);
    let (conn, ack) = h.connect(c.clone());
    assert!(ack.session_present);
    h.disconnect(conn);
    let mut clean = c.clone();
    clean.clean_start = true;
    let (conn, ack) = h.connect(clean);
    assert!(!ack.session_present);
    h.disconnect(conn);
    // The clean session ended with its connection.
    let (_, ack) = h.connect(c);
    assert!(!ack.session_present);
}

#[test]
fn v5_session_expiry_zero_ends_session_at_disconnect() {
    // 5.0 [MQTT-3.1.2-23] [MQTT-4.1.0-2]
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V5, "s");
    c.clean_start = false;
    let (conn, _) = h.connect(c.clone());
    h.disconnect(conn);
    let (conn, ack) = h.connect(c.clone());
    assert!(!ack.session_present);
    h.disconnect(conn);
    c.properties.session_expiry_interval = Some(10);
    let (conn, _) = h.connect(c.clone());
    h.disconnect(conn);
    h.advance_secs(9);
    let (conn, ack) = h.connect(c.clone());
    assert!(ack.session_present, "within the expiry interval");
    h.disconnect(conn);
    h.advance_secs(11);
    let (_, ack) = h.connect(c);
    assert!(!ack.session_present, "expired");
}

#[test]
fn session_expiry_changed_at_disconnect() {
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V5, "s");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(10);
    let (conn, _) = h.connect(c.clone());
    let mut d = mqtt_codec::Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
    d.properties.session_expiry_interval = Some(100);
    h.send(conn, Packet::Disconnect(d));
    h.advance_secs(50);
    let (conn, ack) = h.connect(c.clone());
    assert!(ack.session_present);
    // Changing 0 to non-zero is a protocol error.
    c.properties.session_expiry_interval = None;
    let mut cs = c.clone();
    cs.clean_start = true;
    h.disconnect(conn);
    let (conn, _) = h.connect(cs);
    let mut d = mqtt_codec::Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
    d.properties.session_expiry_interval = Some(100);
    h.send(conn, Packet::Disconnect(d));
    let got = h.recv(conn);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR),
        "{got:?}"
    );
}

#[test]
fn max_session_expiry_is_advertised() {
    let mut h = Harness::new(Config {
        max_session_expiry_interval: Some(60),
        sys_topics: false,
        ..Config::default()
    });
    let mut c = Connect::new(V5, "s");
    c.properties.session_expiry_interval = Some(3600);
    let (_, ack) = h.connect(c);
    assert_eq!(ack.properties.session_expiry_interval, Some(60));
}

#[test]
fn takeover_v5_sends_disconnect_0x8e() {
    // 5.0 [MQTT-3.1.4-3]; 3.1.1 [MQTT-3.1.4-2]
    let mut h = Harness::default_broker();
    let old = h.client(V5, "dup", false);
    let new = h.client(V5, "dup", false);
    let got = h.recv(old);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::SESSION_TAKEN_OVER),
        "{got:?}"
    );
    assert_eq!(h.closed.get(&old), Some(&CloseReason::SessionTakenOver));
    assert!(!h.is_closed(new));

    let old = h.client(V3, "dup3", true);
    let _new = h.client(V3, "dup3", true);
    assert!(h.recv(old).is_empty());
    assert!(h.is_closed(old));
}

#[test]
fn credentials() {
    let mut users = std::collections::BTreeMap::new();
    users.insert("u".to_string(), "p".to_string());
    let mut h = Harness::new(Config {
        users,
        allow_anonymous: false,
        sys_topics: false,
        ..Config::default()
    });
    let mut good = Connect::new(V3, "a");
    good.username = Some("u".into());
    good.password = Some(bytes::Bytes::from_static(b"p"));
    assert_eq!(h.connect(good.clone()).1.reason_code, ReasonCode::SUCCESS);
    let mut bad = good.clone();
    bad.password = Some(bytes::Bytes::from_static(b"x"));
    assert_eq!(
        h.connect(bad.clone()).1.reason_code,
        ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD
    );
    assert_eq!(
        h.connect(Connect::new(V3, "b")).1.reason_code,
        ReasonCode::V3_NOT_AUTHORIZED
    );
    bad.protocol = V5;
    assert_eq!(
        h.connect(bad).1.reason_code,
        ReasonCode::BAD_USER_NAME_OR_PASSWORD
    );
    assert_eq!(
        h.connect(Connect::new(V5, "c")).1.reason_code,
        ReasonCode::NOT_AUTHORIZED
    );
}

#[test]
fn connack_advertises_switched_off_features() {
    let mut h = Harness::new(Config {
        retain_available: false,
        wildcard_subscriptions: false,
        subscription_identifiers: false,
        shared_subscriptions: false,
        maximum_qos: 1,
        receive_maximum: 10,
        maximum_packet_size: Some(1000),
        topic_alias_maximum: 0,
        server_keep_alive: Some(30),
        response_information: Some("resp/".into()),
        sys_topics: false,
        ..Config::default()
    });
    let mut c = Connect::new(V5, "a");
    c.properties.request_response_information = Some(true);
    let (_, ack) = h.connect(c);
    let p = &ack.properties;
    assert_eq!(p.retain_available, Some(false));
    assert_eq!(p.wildcard_subscription_available, Some(false));
    assert_eq!(p.subscription_identifier_available, Some(false));
    assert_eq!(p.shared_subscription_available, Some(false));
    assert_eq!(p.maximum_qos, Some(QoS::AtLeastOnce)); // [MQTT-3.2.2-9]
    assert_eq!(p.receive_maximum, Some(10));
    assert_eq!(p.maximum_packet_size, Some(1000));
    assert_eq!(p.topic_alias_maximum, None);
    assert_eq!(p.server_keep_alive, Some(30)); // [MQTT-3.2.2-21]
    assert_eq!(p.response_information.as_deref(), Some("resp/"));
    // [MQTT-3.1.2-28]: not sent unless asked for.
    let (_, ack) = h.connect(Connect::new(V5, "b"));
    assert_eq!(ack.properties.response_information, None);
}

#[test]
fn will_qos_and_retain_beyond_capabilities() {
    // 5.0 [MQTT-3.2.2-12] [MQTT-3.2.2-13]
    let mut h = Harness::new(Config {
        retain_available: false,
        maximum_qos: 1,
        sys_topics: false,
        ..Config::default()
    });
    let mut c = Connect::new(V5, "a");
    c.will = Some(will("w", b"x", QoS::ExactlyOnce, false));
    assert_eq!(
        h.connect(c.clone()).1.reason_code,
        ReasonCode::QOS_NOT_SUPPORTED
    );
    c.will = Some(will("w", b"x", QoS::AtMostOnce, true));
    assert_eq!(h.connect(c).1.reason_code, ReasonCode::RETAIN_NOT_SUPPORTED);
}

#[test]
fn server_reference_redirects() {
    let mut h = Harness::new(Config {
        server_reference: Some(ServerReference {
            reference: "other:1883".into(),
            permanent: true,
        }),
        sys_topics: false,
        ..Config::default()
    });
    let (c, ack) = h.connect(Connect::new(V5, "a"));
    assert_eq!(ack.reason_code, ReasonCode::SERVER_MOVED);
    assert_eq!(
        ack.properties.server_reference.as_deref(),
        Some("other:1883")
    );
    assert!(h.is_closed(c));
    let (_, ack) = h.connect(Connect::new(V3, "a"));
    assert_eq!(ack.reason_code, ReasonCode::V3_SERVER_UNAVAILABLE);
}

#[test]
fn nothing_processed_after_refused_connect() {
    // 3.1.1 [MQTT-3.1.4-5]; 5.0 [MQTT-3.1.4-6]
    let mut h = Harness::new(Config {
        allow_anonymous: false,
        sys_topics: false,
        ..Config::default()
    });
    let c = h.accept();
    let mut buf = bytes::BytesMut::new();
    Packet::Connect(Box::new(Connect::new(V3, "a")))
        .encode(ProtocolVersion::V3_1_1, &mut buf)
        .unwrap();
    Packet::PingReq
        .encode(ProtocolVersion::V3_1_1, &mut buf)
        .unwrap();
    h.send_raw(c, &buf);
    assert_eq!(&h.recv_raw(c)[..], &[0x20, 0x02, 0x00, 0x05]);
    assert!(h.is_closed(c));
}

#[test]
fn connect_timeout_closes_silent_connections() {
    let mut h = Harness::default_broker();
    let c = h.accept();
    h.advance_secs(29);
    assert!(!h.is_closed(c));
    h.advance_secs(2);
    assert_eq!(h.closed.get(&c), Some(&CloseReason::ConnectTimeout));
}

#[test]
fn connected_event_names_client() {
    let mut h = Harness::default_broker();
    let c = h.client(V5, "ev", true);
    assert!(h.events.iter().any(
        |e| matches!(e, Event::Connected { conn, client_id, .. } if *conn == c && client_id == "ev")
    ));
    // Unknown PUBACK is ignored, the connection stays.
    h.send(c, Packet::PubAck(PubAck::new(9)));
    assert!(!h.is_closed(c));
}

#[test]
fn takeover_session_present_follows_the_old_session_expiry() {
    // 5.0 [MQTT-3.1.4-3] then [MQTT-3.1.4-4]: the old connection is closed first, then Clean
    // Start is processed. A session with expiry 0 ends with that close (3.1.2.11.2), so the new
    // connection starts afresh (Session Present 0); one with expiry > 0 is resumed
    // ([MQTT-3.1.2-23], [MQTT-3.2.2-3]: Session Present 1).
    for (old_expiry, present) in [(None, false), (Some(0), false), (Some(30), true)] {
        let mut h = Harness::default_broker();
        let mut c = Connect::new(V5, "live");
        c.clean_start = true;
        c.properties.session_expiry_interval = old_expiry;
        let (old, ack) = h.connect(c);
        assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
        let mut c = Connect::new(V5, "live");
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(30);
        let (_new, ack) = h.connect(c);
        assert_eq!(
            ack.session_present, present,
            "old Session Expiry Interval {old_expiry:?}"
        );
        assert!(h.is_closed(old));
    }
}
