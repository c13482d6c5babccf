//! Enhanced authentication with AUTH and SCRAM-SHA-256 (4.12), re-authentication (4.12.1).

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use mqtt_broker_model::scram::{ScramClient, METHOD};
use mqtt_broker_model::{CloseReason, Config, ConnId};
use mqtt_codec::{Auth, Connect, Packet, ReasonCode};

fn config() -> Config {
    let mut users = BTreeMap::new();
    users.insert("alice".to_string(), "wonderland".to_string());
    Config {
        users,
        scram_iterations: 64,
        sys_topics: false,
        ..Config::default()
    }
}

fn auth(rc: ReasonCode, data: Vec<u8>) -> Packet {
    let mut a = Auth {
        reason_code: rc,
        ..Default::default()
    };
    a.properties.authentication_method = Some(METHOD.into());
    a.properties.authentication_data = Some(Bytes::from(data));
    Packet::Auth(a)
}

/// Runs the CONNECT exchange; returns the connection and the CONNACK.
fn scram_connect(h: &mut Harness, password: &str) -> (ConnId, Vec<Packet>, ScramClient) {
    let mut client = ScramClient::new("alice", password, "clientnonce");
    let mut c = Connect::new(V5, "sc");
    c.keep_alive = 0;
    c.properties.authentication_method = Some(METHOD.into());
    c.properties.authentication_data = Some(Bytes::from(client.client_first()));
    let conn = h.accept();
    h.send(conn, Packet::Connect(Box::new(c)));
    let got = h.recv(conn);
    let first = match &got[..] {
        // [MQTT-4.12.0-2] [MQTT-4.12.0-5]
        [Packet::Auth(a)] => {
            assert_eq!(a.reason_code, ReasonCode::CONTINUE_AUTHENTICATION);
            assert_eq!(a.properties.authentication_method.as_deref(), Some(METHOD));
            a.properties.authentication_data.clone().unwrap()
        }
        other => panic!("expected AUTH, got {other:?}"),
    };
    let fin = client.client_final(&first).unwrap();
    h.send(conn, auth(ReasonCode::CONTINUE_AUTHENTICATION, fin));
    let got = h.recv(conn);
    (conn, got, client)
}

#[test]
fn scram_success() {
    let mut h = Harness::new(config());
    let (conn, got, client) = scram_connect(&mut h, "wonderland");
    match &got[..] {
        [Packet::ConnAck(a)] => {
            assert_eq!(a.reason_code, ReasonCode::SUCCESS);
            assert_eq!(a.properties.authentication_method.as_deref(), Some(METHOD));
            assert!(client.verify_server(a.properties.authentication_data.as_deref().unwrap()));
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.is_closed(conn));
}

#[test]
fn scram_wrong_password() {
    // [MQTT-4.12.0-4]
    let mut h = Harness::new(config());
    let (conn, got, _) = scram_connect(&mut h, "nope");
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
    assert!(h.is_closed(conn));
}

#[test]
fn unknown_method() {
    // [MQTT-4.12.0-1]: 0x8C.
    let mut h = Harness::new(config());
    let mut c = Connect::new(V5, "x");
    c.properties.authentication_method = Some("GS2-KRB5".into());
    let (conn, ack) = h.connect(c);
    assert_eq!(ack.reason_code, ReasonCode::BAD_AUTHENTICATION_METHOD);
    assert!(h.is_closed(conn));
}

#[test]
fn only_auth_before_connack() {
    // [MQTT-3.1.2-30]
    let mut h = Harness::new(config());
    let client = ScramClient::new("alice", "wonderland", "n");
    let mut c = Connect::new(V5, "sc");
    c.properties.authentication_method = Some(METHOD.into());
    c.properties.authentication_data = Some(Bytes::from(client.client_first()));
    let conn = h.accept();
    h.send(conn, Packet::Connect(Box::new(c)));
    h.recv(conn);
    h.send(conn, Packet::PingReq);
    assert!(h.is_closed(conn));
    assert!(h.violations(conn)[0]
        .1
        .contains(&"MQTT-3.1.2-30".to_string()));
}

#[test]
fn auth_without_method_in_connect() {
    // [MQTT-4.12.0-7]
    let mut h = Harness::new(config());
    let c = h.client(V5, "c", true);
    h.send(
        c,
        auth(ReasonCode::RE_AUTHENTICATE, b"n,,n=alice,r=x".to_vec()),
    );
    assert!(
        matches!(&h.recv(c)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn reauthentication() {
    // [MQTT-4.12.1-1] [MQTT-4.12.1-2]
    let mut h = Harness::new(config());
    let (conn, _, _) = scram_connect(&mut h, "wonderland");
    let mut again = ScramClient::new("alice", "wonderland", "second");
    h.send(
        conn,
        auth(ReasonCode::RE_AUTHENTICATE, again.client_first()),
    );
    let first = match &h.recv(conn)[..] {
        [Packet::Auth(a)] => a.properties.authentication_data.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    h.send(
        conn,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            again.client_final(&first).unwrap(),
        ),
    );
    match &h.recv(conn)[..] {
        [Packet::Auth(a)] => {
            assert_eq!(a.reason_code, ReasonCode::SUCCESS);
            assert!(again.verify_server(a.properties.authentication_data.as_deref().unwrap()));
        }
        other => panic!("{other:?}"),
    }
    // A failed re-authentication: DISCONNECT and close.
    let mut bad = ScramClient::new("alice", "wrong", "third");
    h.send(conn, auth(ReasonCode::RE_AUTHENTICATE, bad.client_first()));
    let first = match &h.recv(conn)[..] {
        [Packet::Auth(a)] => a.properties.authentication_data.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    h.send(
        conn,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            bad.client_final(&first).unwrap(),
        ),
    );
    assert!(
        matches!(&h.recv(conn)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
    assert_eq!(
        h.closed.get(&conn),
        Some(&CloseReason::AuthenticationFailed)
    );
}

#[test]
fn enhanced_auth_switched_off() {
    let mut h = Harness::new(Config {
        enhanced_auth: false,
        ..config()
    });
    let mut c = Connect::new(V5, "x");
    c.properties.authentication_method = Some(METHOD.into());
    assert_eq!(
        h.connect(c).1.reason_code,
        ReasonCode::BAD_AUTHENTICATION_METHOD
    );
}
