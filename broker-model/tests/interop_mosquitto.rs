//! Interoperability with Eclipse Mosquitto's command-line clients (`mosquitto_pub`,
//! `mosquitto_sub`, Debian package mosquitto-clients) against `serve` over loopback TCP, for
//! both protocol versions and across them.
//!
//! When the tools are missing the tests say so loudly and pass, unless the `CI` environment
//! variable is set: then they fail (`.ci/run` installs the tools).
//!
//! Every wait has a deadline. A subscriber is known to be subscribed when it prints the
//! retained message published before it started; live messages are published only then.

mod interop_common;
use interop_common::start_broker;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(15);

/// Whether the mosquitto clients can run here; panics in CI when they cannot.
fn tools_present() -> bool {
    let found = ["mosquitto_pub", "mosquitto_sub"].iter().all(|tool| {
        Command::new(tool)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        let msg = "mosquitto_pub/mosquitto_sub not found: install mosquitto-clients to run the \
                   Mosquitto interoperability tests";
        assert!(std::env::var_os("CI").is_none(), "{msg} (required in CI)");
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED: {msg}");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    }
    found
}

/// `-V` values of the mosquitto clients.
const V311: &str = "mqttv311";
const V5: &str = "mqttv5";

/// Kills the child on drop, so a failed test leaves no process behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `mosquitto_pub` to completion (it exits after the QoS flow finished) within the
/// deadline, and checks it succeeded.
async fn publish(addr: SocketAddr, version: &str, args: &[&str]) {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "-V",
        version,
    ])
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("mosquitto_pub did not start");
    let pid = child.id();
    let waited = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let out = match waited {
        Ok(joined) => joined.unwrap().unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("mosquitto_pub {args:?} did not finish before the deadline");
        }
    };
    assert!(
        out.status.success(),
        "mosquitto_pub {version} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `mosquitto_sub` and the lines it prints.
struct Subscriber {
    _child: Reaped,
    lines: mpsc::UnboundedReceiver<String>,
}

fn subscribe(addr: SocketAddr, version: &str, args: &[&str]) -> Subscriber {
    let mut child = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-V",
            version,
        ])
        // Its own timeout too, so it never outlives a failed test by long.
        .args(["-W", "20", "-v"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mosquitto_sub did not start");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    Subscriber {
        _child: Reaped(child),
        lines,
    }
}

impl Subscriber {
    async fn line(&mut self) -> String {
        tokio::time::timeout(DEADLINE, self.lines.recv())
            .await
            .expect("mosquitto_sub printed nothing before the deadline")
            .expect("mosquitto_sub exited")
    }
}

/// Retained, QoS 0/1/2, `publisher` and `subscriber` speaking the given versions.
async fn pub_sub(pub_version: &str, sub_version: &str) {
    let broker = start_broker(13).await;
    let root = format!("mq/{pub_version}-{sub_version}");
    let retained = format!("{root}/retained");
    publish(
        broker.addr,
        pub_version,
        &["-t", &retained, "-r", "-q", "1", "-m", "kept"],
    )
    .await;

    let filter = format!("{root}/#");
    let mut sub = subscribe(
        broker.addr,
        sub_version,
        &["-t", &filter, "-q", "2", "-i", "sub"],
    );
    // The retained message proves the subscription is in place.
    assert_eq!(sub.line().await, format!("{retained} kept"));

    for qos in ["0", "1", "2"] {
        let topic = format!("{root}/q{qos}");
        publish(
            broker.addr,
            pub_version,
            &["-t", &topic, "-q", qos, "-m", &format!("at qos {qos}")],
        )
        .await;
        assert_eq!(sub.line().await, format!("{topic} at qos {qos}"));
    }
}

#[tokio::test]
async fn mosquitto_v311() {
    if tools_present() {
        pub_sub(V311, V311).await;
    }
}

#[tokio::test]
async fn mosquitto_v5() {
    if tools_present() {
        pub_sub(V5, V5).await;
    }
}

#[tokio::test]
async fn mosquitto_v5_to_v311_and_back() {
    if tools_present() {
        pub_sub(V5, V311).await;
        pub_sub(V311, V5).await;
    }
}

#[tokio::test]
async fn mosquitto_retained_deleted_by_empty_payload() {
    if !tools_present() {
        return;
    }
    let broker = start_broker(13).await;
    publish(
        broker.addr,
        V5,
        &["-t", "del/a", "-r", "-q", "1", "-m", "x"],
    )
    .await;
    // `-n`: an empty payload; with `-r` it deletes the retained message.
    publish(broker.addr, V311, &["-t", "del/a", "-r", "-q", "1", "-n"]).await;
    publish(
        broker.addr,
        V311,
        &["-t", "del/b", "-r", "-q", "1", "-m", "still"],
    )
    .await;
    let mut sub = subscribe(broker.addr, V5, &["-t", "del/#", "-q", "1"]);
    // Only del/b is retained now.
    assert_eq!(sub.line().await, "del/b still");
    publish(broker.addr, V5, &["-t", "del/marker", "-q", "1", "-m", "m"]).await;
    assert_eq!(sub.line().await, "del/marker m");
}

/// A will is published when its client vanishes without DISCONNECT (killed here).
async fn will_on_kill(version: &str) {
    let broker = start_broker(13).await;
    publish(
        broker.addr,
        version,
        &["-t", "w/ready", "-r", "-q", "1", "-m", "r"],
    )
    .await;
    let mut observer = subscribe(broker.addr, version, &["-t", "w/#", "-q", "1"]);
    assert_eq!(observer.line().await, "w/ready r");
    let mut victim = subscribe(
        broker.addr,
        version,
        &[
            "-t",
            "w/ready",
            "-i",
            "victim",
            "--will-topic",
            "w/victim",
            "--will-payload",
            "bye",
            "--will-qos",
            "1",
        ],
    );
    // Connected and subscribed once it prints the retained message.
    assert_eq!(victim.line().await, "w/ready r");
    drop(victim); // SIGKILL: the socket closes without DISCONNECT
    assert_eq!(observer.line().await, "w/victim bye");
}

#[tokio::test]
async fn mosquitto_will_v311() {
    if tools_present() {
        will_on_kill(V311).await;
    }
}

#[tokio::test]
async fn mosquitto_will_v5() {
    if tools_present() {
        will_on_kill(V5).await;
    }
}

/// A persistent session (`-c`) keeps its subscription and gets the QoS 1 message published
/// while it was away.
async fn session_resumption(version: &str) {
    let broker = start_broker(13).await;
    let setup = subscribe(
        broker.addr,
        version,
        &["-c", "-i", "persist", "-t", "s/t", "-q", "1", "-E"],
    );
    // `-E`: it exits (with DISCONNECT) once SUBACK arrived; wait for that exit.
    let Subscriber { _child, mut lines } = setup;
    let ended = tokio::time::timeout(DEADLINE, lines.recv()).await;
    assert!(
        matches!(ended, Ok(None)),
        "mosquitto_sub -E printed or did not exit: {ended:?}"
    );
    publish(
        broker.addr,
        version,
        &["-t", "s/t", "-q", "1", "-m", "while away"],
    )
    .await;
    let mut back = subscribe(
        broker.addr,
        version,
        &["-c", "-i", "persist", "-t", "s/t", "-q", "1", "-C", "1"],
    );
    assert_eq!(back.line().await, "s/t while away");
}

#[tokio::test]
async fn mosquitto_session_resumption_v311() {
    if tools_present() {
        session_resumption(V311).await;
    }
}

#[tokio::test]
async fn mosquitto_session_resumption_v5() {
    if tools_present() {
        session_resumption(V5).await;
    }
}
