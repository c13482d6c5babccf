//! The suite over real transports on loopback: the reference broker listens on TLS, WebSocket
//! and WebSocket over TLS (certificates made here, with a CA of their own), and the suite runs
//! against each through `TlsTarget` and `WsTarget`. Over WebSocket the chapter 6 tests run and
//! pass; over plain TLS they skip. A certificate the client does not trust is refused with a
//! message that says so.

mod tls_common;

use std::sync::Arc;

use mqtt_broker_model::serve::tls::{server_config, server_config_with_client_auth, TlsAcceptor};
use mqtt_broker_model::serve::ws::WsOptions;
use mqtt_broker_model::serve::{serve_many, ServeOptions, SharedBroker, UpgradeListener};
use mqtt_broker_model::Config;
use mqtt_conformance::runner::RunOptions;
use mqtt_conformance::session::{run_against, Progress};
use mqtt_conformance::{Target, TlsClientOptions, TlsTarget, WsTarget};
use mqtt_reports::Verdict;

async fn bind() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr").to_string();
    (l, a)
}

/// Runs the tests matching `filters` against `target`; returns (id, verdict) pairs.
async fn run(target: Arc<dyn Target>, filters: &[&str]) -> Vec<(String, Verdict)> {
    let opts = RunOptions {
        filters: filters.iter().map(|f| f.to_string()).collect(),
        jobs: 8,
        ..RunOptions::default()
    };
    let (results, _) = run_against(target, &opts, &Progress::default())
        .await
        .expect("the run starts");
    results
        .tests
        .into_iter()
        .map(|t| (t.id, t.verdict))
        .collect()
}

fn assert_clean(what: &str, results: &[(String, Verdict)]) {
    assert!(!results.is_empty(), "{what}: nothing ran");
    let bad: Vec<_> = results
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Fail | Verdict::Error | Verdict::Inconclusive))
        .collect();
    assert!(bad.is_empty(), "{what}: {bad:?}");
}

#[test]
fn suite_runs_over_tls_websocket_and_wss() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pki = tls_common::test_pki("transports");
        let ca_path = pki.ca_pem.clone();
        let acceptor = TlsAcceptor::from(
            server_config(pki.chain.clone(), pki.key.clone_key()).expect("server config"),
        );
        let (tls, tls_addr) = bind().await;
        let (ws, ws_addr) = bind().await;
        let (wss, wss_addr) = bind().await;
        let (mtls, mtls_addr) = bind().await;
        let mutual = TlsAcceptor::from(
            server_config_with_client_auth(
                pki.chain.clone(),
                pki.key.clone_key(),
                vec![pki.ca.clone()],
            )
            .expect("server config with client auth"),
        );
        let listeners = vec![
            UpgradeListener::tls(mtls, mutual),
            UpgradeListener::tls(tls, acceptor.clone()),
            UpgradeListener::ws(ws, WsOptions::default()),
            UpgradeListener::wss(wss, acceptor, WsOptions::default()),
        ];
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_many(
            listeners,
            SharedBroker::new(Config::default(), 1),
            ServeOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let trusted = TlsClientOptions {
            ca_file: Some(ca_path.clone()),
            insecure: false,
            ..Default::default()
        };

        // WebSocket: the chapter 6 tests run (and pass), with the connection tests.
        let target = WsTarget::new(format!("ws://{ws_addr}/mqtt"), ws_addr.clone(), None)
            .expect("ws target");
        let r = run(Arc::new(target), &["*transport.*", "*connect.*"]).await;
        assert_clean("ws://", &r);
        let transport: Vec<_> = r
            .iter()
            .filter(|(id, _)| id.contains("transport."))
            .collect();
        assert_eq!(transport.len(), 6, "{transport:?}");
        assert!(
            transport.iter().all(|(_, v)| *v == Verdict::Pass),
            "{transport:?}"
        );

        // WebSocket over TLS, certificate checked against the test CA: the whole suite.
        let target = WsTarget::new(
            format!(
                "wss://localhost:{}/mqtt",
                wss_addr.rsplit(':').next().unwrap_or("0")
            ),
            wss_addr.replace("127.0.0.1", "localhost"),
            Some(&trusted),
        )
        .expect("wss target");
        let r = run(Arc::new(target), &[]).await;
        assert_clean("wss://", &r);
        assert!(r.len() > 400, "{}", r.len());
        assert!(r
            .iter()
            .filter(|(id, _)| id.contains("transport."))
            .all(|(_, v)| *v == Verdict::Pass));

        // TLS: chapter 6 skips; the rest passes.
        let target = TlsTarget::new(tls_addr.clone(), &trusted).expect("tls target");
        let r = run(Arc::new(target), &["*transport.*", "*publish.qos1*"]).await;
        assert_clean("mqtts://", &r);
        assert!(r
            .iter()
            .filter(|(id, _)| id.contains("transport."))
            .all(|(_, v)| *v == Verdict::Skip));
        assert!(r.iter().any(|(_, v)| *v == Verdict::Pass));

        // A broker that requires client certificates: with ours the suite runs; without one
        // the connection fails.
        let with_cert = TlsClientOptions {
            client_cert: Some(pki.client_cert_pem.clone()),
            client_key: Some(pki.client_key_pem.clone()),
            ..trusted.clone()
        };
        let target = TlsTarget::new(mtls_addr.clone(), &with_cert).expect("mtls target");
        let r = run(Arc::new(target), &["*connect.*"]).await;
        assert_clean("mqtts:// with a client certificate", &r);
        let bare = TlsTarget::new(mtls_addr, &trusted).expect("target");
        let refused = async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = bare.connect().await?;
            // TLS 1.3: the server checks the (missing) client certificate after the client's
            // side of the handshake is done; the refusal shows on the first read.
            s.write_all(&[0xC0, 0]).await?;
            let mut buf = [0u8; 8];
            match s.read(&mut buf).await? {
                0 => Err(std::io::Error::other("closed")),
                _ => Ok(()),
            }
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(10), refused)
                .await
                .expect("an answer in time")
                .is_err(),
            "a broker requiring client certificates accepted a client without one"
        );

        // The built-in roots do not know the test CA: a clear refusal.
        let untrusting = TlsTarget::new(tls_addr, &TlsClientOptions::default()).expect("target");
        let e = match untrusting.connect().await {
            Ok(_) => panic!("an unknown issuer was accepted"),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert!(
            msg.contains("TLS handshake") && msg.contains("UnknownIssuer"),
            "{msg}"
        );

        let _ = stop.send(());
        let _ = server.await;
    });
}
