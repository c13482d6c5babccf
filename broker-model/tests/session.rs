//! Session state, redelivery and restart (4.1, 4.4).

mod common;

use common::*;
use mqtt_broker_model::Config;
use mqtt_codec::{Connect, Packet, PubRec, QoS, ReasonCode};

#[test]
fn queued_while_offline_delivered_on_reconnect() {
    // 5.0 [MQTT-4.5.0-1]; 3.1.1 [MQTT-3.1.2-5] [MQTT-4.1.0-1]
    for v in [V3, V5] {
        let mut h = Harness::default_broker();
        let s = h.client(v, "s", false);
        h.subscribe(s, "t", QoS::ExactlyOnce);
        h.disconnect(s);
        let p = h.client(v, "p", true);
        h.publish_acked(p, "t", b"0", QoS::AtMostOnce, false, 0);
        h.publish_acked(p, "t", b"1", QoS::AtLeastOnce, false, 1);
        h.publish_acked(p, "t", b"2", QoS::ExactlyOnce, false, 2);
        let s = h.client(v, "s", false);
        let got = h.publishes(s);
        let payloads: Vec<&[u8]> = got.iter().map(|p| &p.payload[..]).collect();
        assert_eq!(
            payloads,
            vec![&b"1"[..], &b"2"[..]],
            "{v}: QoS 0 not queued offline"
        );
    }
}

#[test]
fn unacknowledged_resent_with_dup() {
    // [MQTT-4.4.0-1] [MQTT-3.3.1-1]; PUBREL resent for PUBREC'd messages.
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", false);
    h.subscribe(s, "t", QoS::ExactlyOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"a", QoS::AtLeastOnce, false, 1);
    h.publish_acked(p, "t", b"b", QoS::ExactlyOnce, false, 2);
    let got = h.publishes(s);
    assert_eq!(got.len(), 2);
    // PUBREC the second, then drop the connection.
    h.send(s, Packet::PubRec(PubRec::new(got[1].packet_id)));
    h.recv(s);
    h.drop_conn(s);
    let s = h.client(V5, "s", false);
    let again = h.recv(s);
    match &again[..] {
        [Packet::Publish(a), Packet::PubRel(r)] => {
            assert!(a.dup);
            assert_eq!(a.packet_id, got[0].packet_id);
            assert_eq!(&a.payload[..], b"a");
            assert_eq!(r.packet_id, got[1].packet_id);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn restart_keeps_durable_state() {
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "r", b"kept", QoS::AtMostOnce, true, 0);
    h.restart();
    assert!(h.is_closed(s) && h.is_closed(p));
    assert_eq!(h.broker.stats().connections, 0);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "t", b"after", QoS::AtLeastOnce, false, 1);
    let s = h.client(V5, "s", false);
    let got = h.publishes(s);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"after");
    assert_eq!(h.broker.stats().retained_messages, 1);
}

#[test]
fn a_will_published_at_restart_is_not_sent_on_a_connection_being_dropped() {
    // A restart drops every connection at once. The will of a client that goes with it is
    // published, but the subscriber's connection goes too: the message waits in the
    // subscriber's session for its next connection (a first delivery, no DUP) instead of
    // being written to a connection that no longer exists. (Closing connections one by one,
    // the will went out on the subscriber's dying connection when the will's owner was
    // accepted first.)
    let mut h = Harness::default_broker();
    let mut c = Connect::new(V5, "a");
    c.keep_alive = 0;
    c.will = Some(will("w", b"gone", QoS::AtLeastOnce, false));
    let (_a, ack) = h.connect(c);
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    let s = h.client(V5, "s", false);
    h.subscribe(s, "w", QoS::AtLeastOnce);
    h.restart();
    assert!(h.is_closed(s));
    assert!(
        h.recv_raw(s).is_empty(),
        "something was sent to a connection the restart dropped"
    );
    let s = h.client(V5, "s", false);
    let got = h.publishes(s);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(&got[0].payload[..], b"gone");
    assert!(!got[0].dup, "never sent before, so no DUP: {:?}", got[0]);
}

#[test]
fn restart_without_persistence_forgets() {
    let mut h = Harness::new(Config {
        persistence: false,
        sys_topics: false,
        ..Config::default()
    });
    let s = h.client(V5, "s", false);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    h.publish_acked(p, "r", b"x", QoS::AtMostOnce, true, 0);
    h.restart();
    let stats = h.broker.stats();
    assert_eq!((stats.sessions, stats.retained_messages), (0, 0));
}

#[test]
fn queue_bound_drops_qos0_first() {
    let mut h = Harness::new(Config {
        max_queued_messages: 3,
        receive_maximum: 65535,
        sys_topics: false,
        ..Config::default()
    });
    let mut c = mqtt_codec::Connect::new(V5, "s");
    c.keep_alive = 0;
    c.properties.receive_maximum = Some(1);
    let (s, _) = h.connect(c);
    h.subscribe(s, "t", QoS::AtLeastOnce);
    let p = h.client(V5, "p", true);
    // One in flight (receive maximum 1), then queued: q1, q0 (behind q1), then full: q1b
    // replaces q0, q1c is dropped.
    h.publish_acked(p, "t", b"inflight", QoS::AtLeastOnce, false, 1);
    h.publish_acked(p, "t", b"q1", QoS::AtLeastOnce, false, 2);
    h.publish_acked(p, "t", b"q0", QoS::AtMostOnce, false, 0);
    h.publish_acked(p, "t", b"q1b", QoS::AtLeastOnce, false, 3);
    h.publish_acked(p, "t", b"q1c", QoS::AtLeastOnce, false, 4);
    let stats = h.broker.stats();
    assert_eq!(stats.queued_messages + stats.inflight_messages, 3);
    assert_eq!(stats.messages_dropped, 2);
    let first = h.publishes(s);
    assert_eq!(first.len(), 1);
    h.ack(s, &first[0]);
    let next = h.publishes(s);
    assert_eq!(&next[0].payload[..], b"q1");
    h.ack(s, &next[0]);
    let next = h.publishes(s);
    assert_eq!(&next[0].payload[..], b"q1b");
}

#[test]
fn a_5_0_session_resumed_by_3_1_1_loses_the_5_0_options() {
    // 3.1.1 has no No Local, and RETAIN is 0 on established subscriptions (3.1.1
    // [MQTT-3.3.1-9]); a session made by a 5.0 connection and resumed by a 3.1.1 one follows
    // 3.1.1 ([MQTT-4.5.0-1]: every matching subscription gets the message).
    let mut h = Harness::default_broker();
    let s = h.client(V5, "s", false);
    let opts = mqtt_codec::SubscriptionOptions {
        no_local: true,
        retain_as_published: true,
        ..mqtt_codec::SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(s, "t", opts, None);
    h.drop_conn(s);
    let s = h.client(V3, "s", false);
    h.publish_acked(s, "t", b"own", QoS::AtMostOnce, false, 0);
    let p = h.client(V3, "p", true);
    h.publish_acked(p, "t", b"kept", QoS::AtMostOnce, true, 0);
    let got = h.publishes(s);
    let payloads: Vec<&[u8]> = got.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(payloads, vec![&b"own"[..], &b"kept"[..]]);
    assert!(got.iter().all(|p| !p.retain));
}

/// Every packet sent to `conn` by `b` since the last call, and whether it was closed.
fn drain_of(
    b: &mut mqtt_broker_model::Broker,
    conn: mqtt_broker_model::ConnId,
) -> (Vec<Packet>, bool) {
    use mqtt_broker_model::Output;
    let mut bytes = bytes::BytesMut::new();
    let mut closed = false;
    while let Some(o) = b.poll_output() {
        match o {
            Output::Send { conn: c, bytes: b } if c == conn => bytes.extend_from_slice(&b),
            Output::Close { conn: c, .. } if c == conn => closed = true,
            _ => {}
        }
    }
    let mut out = Vec::new();
    while let Ok(Some(p)) = mqtt_codec::decode(&mut bytes, V5, &Default::default(), None) {
        out.push(p);
    }
    (out, closed)
}

#[test]
fn timers_due_before_an_input_run_first_even_when_the_caller_is_late() {
    // Driven without any handle_timeout, as a shell whose timer task runs late would: the
    // session expired at 10 s ([MQTT-3.2.2-3]: no Session Present), and a connection silent
    // past 1.5 x keep alive is closed before its late PINGREQ is answered ([MQTT-3.1.2-22]).
    use mqtt_broker_model::{Broker, Instant};
    use mqtt_codec::Connect;
    let mut b = Broker::new(Config::default(), 1);
    let t = |s: u64| Instant::from_secs(s);
    let connect = |clean: bool, keep_alive: u16| {
        let mut c = Connect::new(V5, "x");
        c.clean_start = clean;
        c.keep_alive = keep_alive;
        c.properties.session_expiry_interval = Some(10);
        Packet::Connect(Box::new(c)).to_bytes(V5).unwrap()
    };
    let a = b.accept(t(0), "a");
    b.handle_bytes(t(0), a, &connect(true, 0));
    let (got, _) = drain_of(&mut b, a);
    assert!(matches!(&got[..], [Packet::ConnAck(_)]), "{got:?}");
    b.handle_closed(t(0), a);
    let c = b.accept(t(20), "c");
    b.handle_bytes(t(20), c, &connect(false, 10));
    let (got, _) = drain_of(&mut b, c);
    match &got[..] {
        [Packet::ConnAck(ack)] => assert!(!ack.session_present, "expired session resumed"),
        other => panic!("{other:?}"),
    }
    // Keep alive 10 s: silent until 16 s (> 15 s), then a PINGREQ.
    b.handle_bytes(t(36), c, &[0xC0, 0]);
    let (got, closed) = drain_of(&mut b, c);
    assert!(
        closed,
        "the connection is closed at the keep-alive deadline"
    );
    assert!(
        !got.iter().any(|p| matches!(p, Packet::PingResp)),
        "a late PINGREQ was answered: {got:?}"
    );
}

#[test]
fn nothing_follows_the_servers_disconnect() {
    // [MQTT-3.14.4-1]: after the DISCONNECT of send_server_disconnect nothing more is sent
    // (a message routed meanwhile stays queued in the session), and nothing more is read.
    use mqtt_broker_model::{Broker, Instant};
    use mqtt_codec::{Connect, Subscribe, Subscription};
    let mut b = Broker::new(Config::default(), 1);
    let t = Instant::from_secs(1);
    let mut c = Connect::new(V5, "s");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(60);
    let s = b.accept(t, "s");
    b.handle_bytes(t, s, &Packet::Connect(Box::new(c)).to_bytes(V5).unwrap());
    let sub = Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![Subscription::new("t", QoS::AtLeastOnce)],
        properties: Default::default(),
    });
    b.handle_bytes(t, s, &sub.to_bytes(V5).unwrap());
    let _ = drain_of(&mut b, s);
    assert!(b.send_server_disconnect(t, s, mqtt_codec::ReasonCode::SERVER_SHUTTING_DOWN));
    let (got, _) = drain_of(&mut b, s);
    assert!(matches!(&got[..], [Packet::Disconnect(_)]), "{got:?}");
    let p = b.accept(t, "p");
    b.handle_bytes(
        t,
        p,
        &Packet::Connect(Box::new(Connect::new(V5, "p")))
            .to_bytes(V5)
            .unwrap(),
    );
    let publish = mqtt_codec::Publish {
        qos: QoS::AtLeastOnce,
        packet_id: 9,
        ..mqtt_codec::Publish::new("t", &b"m"[..])
    };
    b.handle_bytes(t, p, &Packet::Publish(publish).to_bytes(V5).unwrap());
    b.handle_bytes(t, s, &[0xC0, 0]); // PINGREQ after the DISCONNECT
    let (got, _) = drain_of(&mut b, s);
    assert!(got.is_empty(), "sent after DISCONNECT: {got:?}");
    // The message waits in the session for the next connection.
    b.handle_closed(t, s);
    let s2 = b.accept(t, "s2");
    let mut c = Connect::new(V5, "s");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(60);
    b.handle_bytes(t, s2, &Packet::Connect(Box::new(c)).to_bytes(V5).unwrap());
    let (got, _) = drain_of(&mut b, s2);
    assert!(
        got.iter()
            .any(|p| matches!(p, Packet::Publish(m) if &m.payload[..] == b"m")),
        "{got:?}"
    );
}
