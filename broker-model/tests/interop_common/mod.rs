//! The reference broker on a free loopback port, for the interoperability tests.

use std::net::SocketAddr;

use mqtt_broker_model::serve::{serve, SharedBroker};
use mqtt_broker_model::Config;
use tokio::sync::oneshot;

/// A broker serving 127.0.0.1 on a free port, stopped when dropped.
pub struct Broker {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts the default reference broker with `seed`.
pub async fn start_broker(seed: u64) -> Broker {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        SharedBroker::new(Config::default(), seed),
        async {
            let _ = stopped.await;
        },
    ));
    Broker { addr, _stop: stop }
}
