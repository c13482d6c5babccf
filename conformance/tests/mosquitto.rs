//! The full suite against mosquitto over loopback TCP, then over TLS (a second listener of the
//! same mosquitto, with a certificate from our test CA): no errors of the suite itself, and on
//! each transport the failing tests are exactly those of `expectations/mosquitto-2.0.yaml`.

mod tls_common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_blocking, Progress};
use mqtt_conformance::{Profile, TargetSpec, TlsClientOptions};
use mqtt_reports::Verdict;

struct Broker(Child);
impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn mosquitto() -> Option<PathBuf> {
    for p in [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ] {
        if std::path::Path::new(p).exists() {
            return Some(p.into());
        }
    }
    None
}

/// mosquitto with a plain listener on `port` and a TLS listener on `tls_port`.
fn start(port: u16, tls_port: u16, pki: &tls_common::TestPki) -> Broker {
    let dir = std::env::temp_dir().join(format!("mqtt-conform-mosq-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nsys_interval 1\nmax_keepalive 65535\n\
             listener {port} 127.0.0.1\n\
             listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            pki.ca_pem.display(),
            pki.cert_pem.display(),
            pki.key_pem.display()
        ),
    )
    .expect("write config");
    let bin = mosquitto().expect("mosquitto");
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let broker = Broker(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in [port, tls_port] {
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {p}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    broker
}

/// The expectation file (a broker profile): the result ids of its deviations, and those marked
/// `intermittent` (the deviation depends on timing inside the broker: the test may pass).
fn expected_failures() -> (Profile, BTreeSet<String>, BTreeSet<String>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expectations/mosquitto-2.0.yaml");
    let profile = Profile::load(&path).expect("the expectation file is a valid profile");
    let all = profile.deviations.iter().map(|d| d.test.clone()).collect();
    let intermittent = profile
        .deviations
        .iter()
        .filter(|d| d.intermittent)
        .map(|d| d.test.clone())
        .collect();
    for d in &profile.deviations {
        assert!(
            d.statement.is_some() && !d.reason.trim().is_empty(),
            "{}: every expected failure names its statement and why",
            d.test
        );
    }
    (profile, all, intermittent)
}

#[test]
fn mosquitto_failures_match_expectations() {
    if mosquitto().is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("mosquitto is not installed but CI is set: .ci/run must install it");
        }
        eprintln!(
            "\n\n*** mosquitto is not installed: SKIPPING the mosquitto conformance test ***\n\n"
        );
        return;
    }
    let (port, tls_port) = (free_port(), free_port());
    let pki = tls_common::test_pki("mosquitto");
    let _broker = start(port, tls_port, &pki);
    let (profile, expected, intermittent) = expected_failures();
    let tcp = TargetSpec::Tcp {
        addr: format!("127.0.0.1:{port}"),
    };
    let tls = TargetSpec::Tls {
        addr: format!("127.0.0.1:{tls_port}"),
        tls: TlsClientOptions {
            ca_file: Some(pki.ca_pem.clone()),
            insecure: false,
            ..Default::default()
        },
    };
    for (n, spec) in [tcp, tls].iter().enumerate() {
        let opts = RunOptions {
            run_tag: format!("m{}x{n}", std::process::id()),
            profile: profile.clone(),
            ..RunOptions::default()
        };
        check(spec, &opts, &expected, &intermittent);
    }
}

/// Runs the suite against `spec` and compares the failures with the expectation file.
fn check(
    spec: &TargetSpec,
    opts: &RunOptions,
    expected: &BTreeSet<String>,
    intermittent: &BTreeSet<String>,
) {
    let (results, _probe) = run_blocking(spec, opts, &Progress::default()).expect("suite runs");
    for t in &results.tests {
        eprintln!(
            "{:<60} {:?} {}",
            t.id,
            t.verdict,
            t.observed.clone().or(t.reason.clone()).unwrap_or_default()
        );
    }
    assert!(
        results
            .tests
            .iter()
            .filter(|t| t.verdict == Verdict::Pass)
            .count()
            * 2
            > results.tests.len(),
        "{spec}: fewer than half of the tests passed against mosquitto: the suite or the setup is broken"
    );
    let errors: Vec<_> = results
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Error)
        .map(|t| format!("{}: {}", t.id, t.reason.clone().unwrap_or_default()))
        .collect();
    assert!(
        errors.is_empty(),
        "{spec}: errors of the suite itself:\n{}",
        errors.join("\n")
    );
    let failing: BTreeSet<String> = results
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Fail)
        .map(|t| t.id.clone())
        .collect();
    // Each failure is explained by its deviation: the right test failing on the statement
    // the expectation names (a failure on another statement is a new one).
    let unexplained: Vec<String> = results
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Fail && expected.contains(&t.id) && t.deviation.is_none())
        .map(|t| format!("{} failed on [{}]", t.id, t.statements.join(" ")))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{spec}: failures on another statement than their expectation names:\n{}",
        unexplained.join("\n")
    );
    let unexpected: Vec<_> = failing.difference(expected).collect();
    let fixed: Vec<_> = expected
        .difference(&failing)
        .filter(|id| !intermittent.contains(*id))
        .collect();
    let detail: Vec<String> = results
        .tests
        .iter()
        .filter(|t| unexpected.contains(&&t.id))
        .map(|t| {
            format!(
                "{} [{}]: expected {}; observed {}",
                t.id,
                t.statements.join(" "),
                t.expected.clone().unwrap_or_default(),
                t.observed.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{spec}: failures differ from expectations/mosquitto-2.0.yaml\nunexpected failures:\n{}\nexpected but passing: {:?}",
        detail.join("\n"),
        fixed
    );
}
