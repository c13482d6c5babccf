//! The command line's error paths: a wrong flag or an unusable file is an exit-2 error that
//! names the problem, before anything starts; and the simulation batch (seeds, shards). (Other
//! happy paths are covered by the crates' own tests and by `cargo run --release`.)

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

#[test]
fn sim_batches_shards_and_errors() {
    // A sharded batch runs exactly its share: seeds 5..15 with s % 3 == 1 are 7, 10, 13.
    let out = mqtt_conform(&[
        "sim",
        "--scenario",
        "qos1",
        "--seeds",
        "10",
        "--first-seed",
        "5",
        "--shard",
        "2/3",
        "--jobs",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("sim: 3 runs, 0 violations"), "{stdout}");
    // An empty share is not an error: nothing to run.
    let out = mqtt_conform(&["sim", "--seeds", "1", "--first-seed", "0", "--shard", "2/2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("sim: 0 runs"), "{stdout}");
    assert_usage_error(&["sim", "--shard", "0/4"], "invalid --shard `0/4`");
    assert_usage_error(&["sim", "--scenario", "nope"], "unknown scenario `nope`");
    assert_usage_error(
        &["sim", "--seed", "1", "--schedule", "12:warp/c0/5"],
        "invalid fault `12:warp/c0/5`",
    );
}

/// A fake broker on loopback: accepts 5.0 CONNECTs (CONNACK 0x00) and refuses 3.1.1 ones with
/// CONNACK 0x02 (identifier rejected), then holds each connection open until the peer leaves.
fn refusing_311_broker() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                let mut got = Vec::new();
                // Fixed header, Remaining Length, name length (2), "MQTT", level.
                while got.len() < 9 {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let level = got[8];
                let answer: &[u8] = if level == 5 {
                    &[0x20, 3, 0, 0, 0]
                } else {
                    &[0x20, 2, 0, 2]
                };
                let _ = s.write_all(answer);
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[test]
fn a_refused_version_stops_the_run_with_the_brokers_answer() {
    // A broker that refuses the probe's 3.1.1 CONNECT with 0x02 speaks 3.1.1: skipping every
    // 3.1.1 test as "not supported" would report a clean run that tested nothing.
    let addr = refusing_311_broker();
    let out = std::env::temp_dir().join(format!("mqtt-conform-cli-{}", std::process::id()));
    let target = format!("tcp://{addr}");
    assert_usage_error(
        &["run", &target, "--out", out.to_str().unwrap_or(".")],
        "refused the probe's MQTT 3.1.1 connection: CONNACK 0x02",
    );
    assert_usage_error(
        &[
            "run",
            &target,
            "--protocol",
            "3.1.1",
            "--out",
            out.to_str().unwrap_or("."),
        ],
        "refused the probe's MQTT 3.1.1 connection",
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_deviation_whose_test_passes_is_reported_as_stale() {
    let dir = std::env::temp_dir().join(format!("mqtt-conform-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let profile = dir.join("profile.yaml");
    std::fs::write(
        &profile,
        "deviations:\n  - test: v5.ping.pingresp\n    reason: was broken once\n  - test: v311.ping.pingresp\n    reason: timing\n    intermittent: true\n",
    )
    .expect("write profile");
    let out = mqtt_conform(&[
        "run",
        "--filter",
        "*.ping.pingresp",
        "--profile",
        profile.to_str().unwrap_or_default(),
        "--out",
        dir.join("report").to_str().unwrap_or_default(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "note: v5.ping.pingresp passed although the profile lists it as a known deviation"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("note: v311.ping.pingresp"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
