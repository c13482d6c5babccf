//! The embedded target: the reference broker in-process, over in-memory pipes.
//!
//! Run inside a tokio runtime with paused time (`start_paused`), every wait of the suite and
//! every timer of the broker is virtual: keep alive, expiry and will delay cost nothing.
//!
//! Connections are plain byte pipes; [`Target::connect_websocket`] opens one to a second
//! listener of the same broker that speaks WebSocket over the pipe, so that the tests of
//! chapter 6 run against the reference broker too.

use std::io;

use mqtt_broker_model::serve::ws::{self, WsOptions};
use mqtt_broker_model::serve::{
    memory_pair, serve_many, AnyListener, MemoryConnector, ServeOptions, SharedBroker,
    UpgradeListener,
};
use mqtt_broker_model::Config;
use tokio::sync::oneshot;

use crate::target::{BoxFuture, BoxStream, Target, WsConnect};

/// The reference broker as a target.
pub struct EmbeddedTarget {
    connector: MemoryConnector,
    ws_connector: MemoryConnector,
    shared: SharedBroker,
    virtual_time: bool,
}

/// Stops the embedded broker when dropped.
pub struct EmbeddedHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmbeddedHandle {
    /// Stops the broker and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for EmbeddedHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl EmbeddedTarget {
    /// Starts a reference broker with `config` and `seed` in the current runtime.
    /// `virtual_time` says whether that runtime's clock is paused.
    pub fn start(
        config: Config,
        seed: u64,
        virtual_time: bool,
    ) -> (EmbeddedTarget, EmbeddedHandle) {
        Self::start_with_ws(config, seed, virtual_time, WsOptions::default())
    }

    /// Like [`EmbeddedTarget::start`], with `ws` for the WebSocket listener (the tests of the
    /// suite use deliberately broken settings to show that the chapter 6 tests can fail).
    pub fn start_with_ws(
        config: Config,
        seed: u64,
        virtual_time: bool,
        ws: WsOptions,
    ) -> (EmbeddedTarget, EmbeddedHandle) {
        let (listener, connector) = memory_pair();
        let (ws_listener, ws_connector) = memory_pair();
        let listeners = vec![
            AnyListener::Direct(listener),
            AnyListener::Upgrade(UpgradeListener::ws(ws_listener, ws)),
        ];
        let shared = SharedBroker::new(config, seed);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_many(
            listeners,
            shared.clone(),
            ServeOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        (
            EmbeddedTarget {
                connector,
                ws_connector,
                shared,
                virtual_time,
            },
            EmbeddedHandle {
                stop: Some(stop),
                task: Some(task),
            },
        )
    }

    /// The broker behind the target (for tests that inspect or restart it).
    pub fn broker(&self) -> &SharedBroker {
        &self.shared
    }
}

impl Target for EmbeddedTarget {
    fn describe(&self) -> String {
        "embedded".into()
    }

    fn connect(&self) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let s = self.connector.connect().await?;
            Ok(Box::new(s) as BoxStream)
        })
    }

    fn virtual_time(&self) -> bool {
        self.virtual_time
    }

    fn connect_websocket(&self) -> Option<BoxFuture<'_, io::Result<WsConnect>>> {
        Some(Box::pin(async move {
            let pipe = self.ws_connector.connect().await?;
            Ok(ws::connect(pipe, "ws://embedded/mqtt").await?.into())
        }))
    }
}

/// One configuration of the embedded reference broker, with the profile the suite needs for it.
pub struct EmbeddedConfig {
    /// Short name (`full`, `restricted`).
    pub name: &'static str,
    /// The broker configuration.
    pub config: Config,
    /// Credentials and capabilities the suite uses with it.
    pub profile: crate::Profile,
}

impl EmbeddedConfig {
    /// `opts` for a run against this configuration: its credentials, unauthorized topic and
    /// (unless the user's profile states its own) capabilities; the user's profile keeps its
    /// deviations.
    pub fn run_options(&self, opts: &crate::RunOptions) -> crate::RunOptions {
        let mut o = opts.clone();
        o.profile.username = self.profile.username.clone();
        o.profile.password = self.profile.password.clone();
        o.profile.unauthorized_topic = self.profile.unauthorized_topic.clone();
        if o.profile.capabilities.is_none() {
            o.profile.capabilities = self.profile.capabilities.clone();
        }
        o
    }
}

/// The 3.1.1 capabilities the restricted configuration lacks (see [`configurations`]).
fn restricted_v311() -> serde_yaml::Value {
    let mut m = serde_yaml::Mapping::new();
    m.insert("v311_retain".into(), false.into());
    m.insert("v311_maximum_qos".into(), 1u8.into());
    m.insert("v311_wildcards".into(), false.into());
    serde_yaml::Value::Mapping(m)
}

/// The configurations the embedded target runs: the full-featured broker; a restricted one
/// (authentication required, optional features off) so that the tests of what a broker must do
/// when it lacks a feature run too; and one with small limits (Receive Maximum, Maximum Packet
/// Size, Server Keep Alive) so that the limit tests run.
pub fn configurations() -> Vec<EmbeddedConfig> {
    let full = EmbeddedConfig {
        name: "full",
        config: Config::default(),
        profile: crate::Profile::default(),
    };
    let mut c = Config {
        allow_anonymous: false,
        retain_available: false,
        wildcard_subscriptions: false,
        subscription_identifiers: false,
        shared_subscriptions: false,
        maximum_qos: 1,
        topic_alias_maximum: 0,
        response_information: Some("mqtt-conform/response".into()),
        report_no_subscribers: true,
        ..Config::default()
    };
    c.users.insert("conform".into(), "conform-secret".into());
    c.acl = Some(mqtt_broker_model::Acl {
        default_allow: true,
        rules: vec![mqtt_broker_model::AclRule {
            username: None,
            client_id: None,
            topic: "mqtt-conform/denied/#".into(),
            access: mqtt_broker_model::AclAccess::Publish,
            allow: false,
        }],
    });
    let restricted = EmbeddedConfig {
        name: "restricted",
        config: c,
        profile: crate::Profile {
            username: Some("conform".into()),
            password: Some("conform-secret".into()),
            unauthorized_topic: Some("mqtt-conform/denied/x".into()),
            // A 3.1.1 client cannot be told that retained messages, QoS 2 and wildcards are
            // off: this configuration lacks features every 3.1.1 broker has, and says so, as
            // the profile of such a broker would (its 3.1.1 tests of them skip).
            capabilities: Some(restricted_v311()),
            ..crate::Profile::default()
        },
    };
    let limits = EmbeddedConfig {
        name: "limits",
        config: Config {
            receive_maximum: 5,
            maximum_packet_size: Some(4096),
            server_keep_alive: Some(120),
            topic_alias_maximum: 4,
            ..Config::default()
        },
        profile: crate::Profile::default(),
    };
    vec![full, restricted, limits]
}
