//! The command line's error paths: a wrong flag or an unusable file is an exit-2 error that
//! names the problem, before anything starts. (The happy paths are covered by the crates'
//! own tests and by `cargo run --release`.)

use std::process::{Command, Output};

fn mqtt_conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-conform"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let out = mqtt_conform(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn tls_options_need_a_tls_target() {
    assert_usage_error(
        &["run", "tcp://127.0.0.1:1", "--ca", "ca.pem"],
        "apply to mqtts:// and wss:// targets",
    );
    assert_usage_error(
        &["probe", "ws://127.0.0.1:1/mqtt", "--insecure"],
        "apply to mqtts:// and wss:// targets",
    );
}

#[test]
fn unreadable_ca_file_is_named() {
    assert_usage_error(
        &["run", "mqtts://127.0.0.1:1", "--ca", "/nonexistent/ca.pem"],
        "/nonexistent/ca.pem",
    );
}

#[test]
fn unknown_target_scheme_is_refused() {
    assert_usage_error(&["run", "quic://127.0.0.1:1"], "unsupported target");
    assert_usage_error(&["run", "ws://127.0.0.1"], "needs a host and a port");
}

#[test]
fn broker_listener_errors() {
    assert_usage_error(
        &["broker", "--listen", "mqtts://127.0.0.1:0"],
        "needs a certificate",
    );
    assert_usage_error(
        &["broker", "--listen", "udp://127.0.0.1:0"],
        "unknown scheme",
    );
    assert_usage_error(
        &[
            "broker",
            "--listen",
            "wss://127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/chain.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        "/nonexistent/chain.pem",
    );
}

#[test]
fn a_client_certificate_needs_its_key() {
    let out = mqtt_conform(&["run", "mqtts://127.0.0.1:1", "--cert", "c.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
    assert_usage_error(
        &[
            "run",
            "tcp://127.0.0.1:1",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
        ],
        "apply to mqtts:// and wss:// targets",
    );
}
