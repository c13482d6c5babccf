//! The capability probe: connects with each protocol version and reads what the broker
//! supports (CONNACK properties in 5.0, and a few experiments).

use std::sync::Arc;
use std::time::Duration;

use mqtt_codec::{Packet, ProtocolVersion, QoS, Subscribe, Subscription};
use serde::Serialize;

use crate::caps::Capabilities;
use crate::case::{Ctx, Stop};
use crate::client::{describe_incoming, Incoming};
use crate::profile::Profile;
use crate::target::Target;

/// Why the probe could not talk to the broker at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No connection could be opened.
    #[error("cannot reach {target}: {message}")]
    Unreachable {
        /// The target.
        target: String,
        /// Why.
        message: String,
    },
    /// The broker answered neither a 3.1.1 nor a 5.0 CONNECT.
    #[error("{target} does not answer MQTT: 3.1.1: {v311}; 5.0: {v5}")]
    NotMqtt {
        /// The target.
        target: String,
        /// What happened with 3.1.1.
        v311: String,
        /// What happened with 5.0.
        v5: String,
    },
}

/// What the probe found, with notes on how.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The capabilities.
    pub capabilities: Capabilities,
    /// How each was found.
    pub notes: Vec<String>,
}

const PATIENCE: Duration = Duration::from_secs(5);

async fn try_connect(
    ctx: &Ctx,
    label: &str,
    edit: impl FnOnce(&mut mqtt_codec::Connect),
) -> Result<Result<(crate::client::Client, mqtt_codec::ConnAck), String>, ProbeError> {
    let mut c = ctx.open(label).await.map_err(|e| match e {
        Stop::Error(m) | Stop::Inconclusive(m) | Stop::Skip(m) => ProbeError::Unreachable {
            target: ctx.target_name(),
            message: m,
        },
        Stop::Fail { observed, .. } => ProbeError::Unreachable {
            target: ctx.target_name(),
            message: observed,
        },
    })?;
    let mut p = ctx.connect_packet(label);
    edit(&mut p);
    if c.send(Packet::Connect(Box::new(p))).await.is_err() {
        return Ok(Err("could not send CONNECT".into()));
    }
    Ok(match c.next(PATIENCE).await {
        Ok(Some(Incoming::Packet(Packet::ConnAck(a)))) if a.reason_code.0 == 0 => Ok((c, a)),
        Ok(Some(i)) => Err(describe_incoming(&i)),
        Ok(None) => Err(format!("no CONNACK within {} s", PATIENCE.as_secs())),
        Err(_) => Err("error reading the answer".into()),
    })
}

/// Probes `target`.
pub async fn probe(target: Arc<dyn Target>, profile: &Profile) -> Result<ProbeReport, ProbeError> {
    let profile = Arc::new(profile.clone());
    let tag = format!("probe{}", std::process::id());
    let v5 = Ctx::standalone(target.clone(), ProtocolVersion::V5, profile.clone(), &tag);
    let v311 = Ctx::standalone(
        target.clone(),
        ProtocolVersion::V3_1_1,
        profile.clone(),
        &tag,
    );
    let mut caps = Capabilities::default();
    let mut notes = Vec::new();

    // Both versions at once: a target that does not answer costs one timeout, not two.
    let (r5, r311) = tokio::join!(
        try_connect(&v5, "p5", |c| {
            c.properties.request_response_information = Some(true);
        }),
        try_connect(&v311, "p4", |_| {})
    );
    let (r5, r311) = (r5?, r311?);
    caps.v5 = r5.is_ok();
    caps.v311 = r311.is_ok();
    if let (Err(a), Err(b)) = (&r311, &r5) {
        return Err(ProbeError::NotMqtt {
            target: target.describe(),
            v311: a.clone(),
            v5: b.clone(),
        });
    }
    match r5 {
        Ok((c, ack)) => {
            let p = &ack.properties;
            caps.maximum_qos = p.maximum_qos.map(|q| q.as_u8()).unwrap_or(2);
            caps.retain = p.retain_available.unwrap_or(true);
            caps.wildcards = p.wildcard_subscription_available.unwrap_or(true);
            caps.shared_subscriptions = p.shared_subscription_available.unwrap_or(true);
            caps.subscription_ids = p.subscription_identifier_available.unwrap_or(true);
            caps.topic_alias_maximum = p.topic_alias_maximum.unwrap_or(0);
            caps.receive_maximum = p.receive_maximum.unwrap_or(65535);
            caps.maximum_packet_size = p.maximum_packet_size;
            caps.server_keep_alive = p.server_keep_alive;
            caps.response_information = p.response_information.is_some();
            notes.push("5.0: capabilities from the CONNACK properties".into());
            let _ = c.disconnect().await;
        }
        Err(why) => notes.push(format!("5.0 not supported: {why}")),
    }
    match r311 {
        Ok((c, _)) => {
            let _ = c.disconnect().await;
        }
        Err(why) => notes.push(format!("3.1.1 not supported: {why}")),
    }
    let ctx = if caps.v5 { &v5 } else { &v311 };

    // Zero-length client identifier with a clean session.
    caps.empty_client_id = match try_connect(ctx, "pe", |c| c.client_id = "".into()).await? {
        Ok((c, _)) => {
            let _ = c.disconnect().await;
            true
        }
        Err(_) => false,
    };

    // Longest client identifier accepted (23 is what every broker must accept).
    let mut longest = None;
    for len in [23usize, 64, 256, 1024] {
        let id: String = format!("{tag}x")
            .chars()
            .chain(std::iter::repeat('x'))
            .take(len)
            .collect();
        match try_connect(ctx, "pl", |c| c.client_id = id.as_str().into()).await? {
            Ok((c, _)) => {
                longest = Some(len as u32);
                let _ = c.disconnect().await;
            }
            Err(_) => break,
        }
    }
    caps.maximum_client_id_length = longest;

    // Persistent sessions: a session kept after a normal disconnect.
    let persist = |c: &mut mqtt_codec::Connect| {
        c.clean_start = false;
        if c.protocol.is_v5() {
            c.properties.session_expiry_interval = Some(30);
        }
    };
    caps.persistent_sessions = false;
    if let Ok((c, _)) = try_connect(ctx, "ps", persist).await? {
        let _ = c.disconnect().await;
        if let Ok((c, ack)) = try_connect(ctx, "ps", persist).await? {
            caps.persistent_sessions = ack.session_present;
            let _ = c.disconnect().await;
        }
        // Remove the session again.
        if let Ok((c, _)) = try_connect(ctx, "ps", |c| c.clean_start = true).await? {
            let _ = c.disconnect().await;
        }
    }

    // $SYS topics: anything published under $SYS/ within a short wait.
    caps.sys_topics = false;
    if let Ok((mut c, _)) = try_connect(ctx, "sy", |_| {}).await? {
        let s = Subscribe {
            packet_id: 1,
            filters: vec![Subscription::new("$SYS/#", QoS::AtMostOnce)],
            ..Default::default()
        };
        if c.send(Packet::Subscribe(s)).await.is_ok() {
            let wait = Duration::from_secs(if target.virtual_time() { 30 } else { 2 });
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match c.next(left).await {
                    Ok(Some(Incoming::Packet(Packet::Publish(m)))) => {
                        caps.sys_topics = m.topic.starts_with("$SYS/");
                        break;
                    }
                    Ok(Some(Incoming::Packet(_))) => continue,
                    _ => break,
                }
            }
        }
        let _ = c.disconnect().await;
    }
    caps.will = true;
    notes.push("will support assumed (no CONNACK property announces it)".into());
    Ok(ProbeReport {
        capabilities: profile.apply(&caps),
        notes,
    })
}
