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
    /// The broker neither accepted a CONNECT of a version the run needs nor said it does not
    /// support that version (0x01 in 3.1.1, 0x84 in 5.0, or a close): it refused the probe's
    /// connection (credentials, client id, keep alive 0, a quota...) or did not answer.
    /// Running on would skip every test of that version for a wrong reason.
    #[error("{target} refused the probe's MQTT {version} connection: {why}; the {version} tests cannot run (check the profile's credentials and the broker's connection policy, or choose --protocol)")]
    VersionRefused {
        /// The target.
        target: String,
        /// "3.1.1" or "5.0".
        version: &'static str,
        /// What it answered.
        why: String,
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
    /// Versions whose probe CONNECT was neither accepted nor declared unsupported, with
    /// what the broker answered ("3.1.1" or "5.0"): see [`ProbeError::VersionRefused`].
    pub refused: Vec<(&'static str, String)>,
}

impl ProbeReport {
    /// Checks that every version in `wanted` can run: not refused, and when a single version
    /// was asked for, supported. A version the broker declares unsupported while the run
    /// asks for both is skipped (its tests say why).
    pub fn check_versions(
        &self,
        target: &str,
        wanted: &[ProtocolVersion],
    ) -> Result<(), ProbeError> {
        for v in wanted {
            let label = version_label(*v);
            if let Some((_, why)) = self.refused.iter().find(|(l, _)| *l == label) {
                return Err(ProbeError::VersionRefused {
                    target: target.to_string(),
                    version: label,
                    why: why.clone(),
                });
            }
            let supported = match v {
                ProtocolVersion::V5 => self.capabilities.v5,
                _ => self.capabilities.v311,
            };
            if wanted.len() == 1 && !supported {
                let why = self
                    .notes
                    .iter()
                    .find(|n| n.starts_with(label))
                    .cloned()
                    .unwrap_or_else(|| format!("{label} not supported"));
                return Err(ProbeError::VersionRefused {
                    target: target.to_string(),
                    version: label,
                    why,
                });
            }
        }
        Ok(())
    }
}

fn version_label(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V5 => "5.0",
        _ => "3.1.1",
    }
}

/// How the broker answered the probe's CONNECT of one version.
enum Answer {
    Accepted(crate::client::Client, mqtt_codec::ConnAck),
    /// 0x01 (3.1.1) or 0x84 (5.0), a close, or bytes not of that version: not supported.
    Unsupported(String),
    /// Another refusal, or nothing at all: undecided.
    Refused(String),
}

/// The probe CONNECT of `ctx`'s version, classified.
async fn version_answer(
    ctx: &Ctx,
    label: &str,
    edit: impl FnOnce(&mut mqtt_codec::Connect),
) -> Result<Answer, ProbeError> {
    let mut c = open(ctx, label).await?;
    let mut p = ctx.connect_packet(label);
    edit(&mut p);
    if c.send(Packet::Connect(Box::new(p))).await.is_err() {
        return Ok(Answer::Unsupported(
            "the connection closed before the CONNECT".into(),
        ));
    }
    let unsupported_code = if ctx.v5() { 0x84 } else { 0x01 };
    Ok(match c.next(PATIENCE).await {
        Ok(Some(Incoming::Packet(Packet::ConnAck(a)))) if a.reason_code.0 == 0 => {
            Answer::Accepted(c, a)
        }
        Ok(Some(Incoming::Packet(Packet::ConnAck(a)))) if a.reason_code.0 == unsupported_code => {
            Answer::Unsupported(format!("CONNACK 0x{:02X}", a.reason_code.0))
        }
        Ok(Some(Incoming::Packet(Packet::ConnAck(a)))) => Answer::Refused(format!(
            "CONNACK 0x{:02X} ({})",
            a.reason_code.0, a.reason_code
        )),
        Ok(Some(i @ (Incoming::Closed | Incoming::Malformed(_)))) => {
            Answer::Unsupported(describe_incoming(&i))
        }
        Ok(Some(i)) => Answer::Refused(format!("{} instead of a CONNACK", describe_incoming(&i))),
        Ok(None) => Answer::Refused(format!("no CONNACK within {} s", PATIENCE.as_secs())),
        Err(_) => Answer::Refused("error reading the answer".into()),
    })
}

async fn open(ctx: &Ctx, label: &str) -> Result<crate::client::Client, ProbeError> {
    ctx.open(label).await.map_err(|e| match e {
        Stop::Error(m) | Stop::Inconclusive(m) | Stop::Skip(m) => ProbeError::Unreachable {
            target: ctx.target_name(),
            message: m,
        },
        Stop::Fail { observed, .. } => ProbeError::Unreachable {
            target: ctx.target_name(),
            message: observed,
        },
    })
}

const PATIENCE: Duration = Duration::from_secs(5);

async fn try_connect(
    ctx: &Ctx,
    label: &str,
    edit: impl FnOnce(&mut mqtt_codec::Connect),
) -> Result<Result<(crate::client::Client, mqtt_codec::ConnAck), String>, ProbeError> {
    let mut c = open(ctx, label).await?;
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
    // Unique per run, so that two runs against one broker (containers often share a pid)
    // never share the probe's client ids.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tag = format!(
        "probe{:x}",
        (nanos ^ std::process::id().rotate_left(20)) & 0xffffff
    );
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
        version_answer(&v5, "p5", |c| {
            c.properties.request_response_information = Some(true);
        }),
        version_answer(&v311, "p4", |_| {})
    );
    let (r5, r311) = (r5?, r311?);
    caps.v5 = matches!(r5, Answer::Accepted(..));
    caps.v311 = matches!(r311, Answer::Accepted(..));
    let mut refused = Vec::new();
    let why = |a: &Answer| match a {
        Answer::Accepted(..) => String::new(),
        Answer::Unsupported(w) | Answer::Refused(w) => w.clone(),
    };
    if !caps.v5 && !caps.v311 {
        for (version, a) in [("5.0", &r5), ("3.1.1", &r311)] {
            if let Answer::Refused(w) = a {
                return Err(ProbeError::VersionRefused {
                    target: target.describe(),
                    version,
                    why: w.clone(),
                });
            }
        }
        return Err(ProbeError::NotMqtt {
            target: target.describe(),
            v311: why(&r311),
            v5: why(&r5),
        });
    }
    match r5 {
        Answer::Accepted(c, ack) => {
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
        Answer::Unsupported(why) => notes.push(format!("5.0 not supported: {why}")),
        Answer::Refused(why) => {
            notes.push(format!("5.0 connection refused: {why}"));
            refused.push(("5.0", why));
        }
    }
    match r311 {
        Answer::Accepted(c, _) => {
            let _ = c.disconnect().await;
        }
        Answer::Unsupported(why) => notes.push(format!("3.1.1 not supported: {why}")),
        Answer::Refused(why) => {
            notes.push(format!("3.1.1 connection refused: {why}"));
            refused.push(("3.1.1", why));
        }
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
    // Only a reconnection the broker accepts without a session says "no persistent sessions";
    // a refused or throttled reconnection says nothing (the session tests then decide, and go
    // inconclusive if they find no session).
    caps.persistent_sessions = true;
    if let Ok((c, _)) = try_connect(ctx, "ps", persist).await? {
        let _ = c.disconnect().await;
        if !target.virtual_time() {
            // Brokers that limit CONNECTs per client id per second refuse an immediate one.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        match try_connect(ctx, "ps", persist).await? {
            Ok((c, ack)) => {
                caps.persistent_sessions = ack.session_present;
                let _ = c.disconnect().await;
            }
            Err(why) => notes.push(format!(
                "persistent sessions assumed: the reconnection was refused ({why})"
            )),
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
        refused,
    })
}
