//! Invariants over a recorded history. Each violation names the statement it breaks, in the
//! version of the standard of the client it concerns: a 3.1.1 subscriber's lost message breaks
//! a 3.1.1 statement, a 5.0 one's a 5.0 statement. Where the versions differ the rule differs
//! too: a 3.1.1 session lasts until a Clean Session 1 connection (no expiry), and a 3.1.1 will
//! has no delay.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;
use mqtt_codec::ProtocolVersion;
use mqtt_spec::{Protocol, StatementId};

use crate::history::{EventKind, History, Millis, NicConn};
use crate::scenario::Scenario;

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The statement id, or a section when the standard gives no id.
    pub statement: &'static str,
    /// The version of the standard `statement` belongs to (`None`: not a statement, e.g. the
    /// simulation itself failed).
    pub protocol: Option<Protocol>,
    /// What was observed.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Some(p) => write!(f, "[{}] (MQTT {p}) {}", self.statement, self.detail),
            None => write!(f, "[{}] {}", self.statement, self.detail),
        }
    }
}

/// Tolerance for timers: simulation tick, scheduling and in-host delays.
const SLACK_MS: u64 = 150;
/// Time a message needs to reach a connected subscriber once published.
const DELIVERY_MS: u64 = 1500;

/// A violation of the 3.1.1 statement `v311` or the 5.0 statement `v5`, by the version of the
/// client concerned.
fn v(
    version: ProtocolVersion,
    v311: StatementId,
    v5: StatementId,
    detail: impl Into<String>,
) -> Violation {
    if version.is_v5() {
        in_version(Protocol::V5_0, v5, detail)
    } else {
        in_version(Protocol::V3_1_1, v311, detail)
    }
}

/// A violation of `statement` of MQTT `protocol`, for rules of one version only.
fn in_version(protocol: Protocol, statement: StatementId, detail: impl Into<String>) -> Violation {
    Violation {
        statement: statement.as_str(),
        protocol: Some(protocol),
        detail: detail.into(),
    }
}

/// The protocol version of a scenario's client (5.0 if unknown).
fn version_of(s: &Scenario, client: &str) -> ProtocolVersion {
    s.clients
        .iter()
        .find(|c| c.client_id == client)
        .map_or(ProtocolVersion::V5, |c| c.protocol)
}

/// The protocol version of a connection seen at the broker (5.0 before its CONNECT).
fn version_of_conn(c: &NicConn) -> ProtocolVersion {
    c.protocol.unwrap_or(ProtocolVersion::V5)
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs every invariant that applies to `scenario` over `history`, which ended at `end`.
pub fn check(scenario: &Scenario, history: &History, end: Millis) -> Vec<Violation> {
    let mut out: Vec<Violation> = history
        .inline_violations()
        .filter_map(|e| match &e.kind {
            EventKind::Violation {
                statement,
                protocol,
                detail,
            } => Some(Violation {
                statement,
                protocol: *protocol,
                detail: format!("at {}ms: {detail}", e.at),
            }),
            _ => None,
        })
        .collect();
    let facts = Facts::new(history);
    deliveries(scenario, history, &facts, &mut out);
    retained(scenario, &facts, &mut out);
    keep_alive(history, end, &mut out);
    wills(scenario, history, &facts, end, &mut out);
    session_present(history, &mut out);
    sessions(history, &mut out);
    out
}

/// Indexes of the history the invariants share.
pub(crate) struct Facts {
    /// Publisher's application handed the message over: payload -> (time, topic, client).
    published: BTreeMap<Bytes, (Millis, String, String)>,
    /// The broker took the message (PUBACK/PUBREC below 0x80): payload -> time, in order.
    accepted: Vec<(Millis, Bytes)>,
    /// First SUBACK per client.
    subscribed: BTreeMap<String, Millis>,
    /// Deliveries per client, in order: (time, topic, payload, retain).
    delivered: BTreeMap<String, Vec<(Millis, String, Bytes, bool)>>,
}

impl Facts {
    pub(crate) fn new(h: &History) -> Self {
        let mut f = Facts {
            published: BTreeMap::new(),
            accepted: Vec::new(),
            subscribed: BTreeMap::new(),
            delivered: BTreeMap::new(),
        };
        let mut seen_accept: BTreeSet<Bytes> = BTreeSet::new();
        for e in &h.events {
            match &e.kind {
                EventKind::Published {
                    client,
                    topic,
                    payload,
                } => {
                    f.published
                        .insert(payload.clone(), (e.at, topic.clone(), client.clone()));
                }
                EventKind::Accepted { payload, code, .. }
                    if *code < 0x80 && seen_accept.insert(payload.clone()) =>
                {
                    f.accepted.push((e.at, payload.clone()));
                }
                EventKind::Subscribed { client } => {
                    f.subscribed.entry(client.clone()).or_insert(e.at);
                }
                EventKind::Delivered {
                    client,
                    topic,
                    payload,
                    retain,
                    ..
                } => f.delivered.entry(client.clone()).or_default().push((
                    e.at,
                    topic.clone(),
                    payload.clone(),
                    *retain,
                )),
                _ => {}
            }
        }
        f
    }

    /// Accepted messages on topics under `prefix` that `client` must get: handed over by the
    /// publisher after the client's subscription was acknowledged (so the broker had it).
    fn expected_for(&self, client: &str, prefix: &str) -> Vec<&Bytes> {
        let Some(&since) = self.subscribed.get(client) else {
            return Vec::new();
        };
        self.accepted
            .iter()
            .filter_map(|(_, p)| {
                let (t, topic, _) = self.published.get(p)?;
                (*t > since && topic.starts_with(prefix)).then_some(p)
            })
            .collect()
    }

    fn got(&self, client: &str) -> &[(Millis, String, Bytes, bool)] {
        self.delivered.get(client).map_or(&[], |v| v.as_slice())
    }

    /// True when every expected delivery has happened (used to end a run early).
    pub(crate) fn complete(&self, scenario: &Scenario) -> bool {
        for (c, prefix) in &scenario.persistent_subs {
            let got: BTreeSet<&Bytes> = self.got(c).iter().map(|d| &d.2).collect();
            if !self.subscribed.contains_key(*c)
                || self
                    .expected_for(c, prefix)
                    .iter()
                    .any(|p| !got.contains(p))
            {
                return false;
            }
        }
        if let Some((members, prefix)) = &scenario.shared_group {
            let got: BTreeSet<&Bytes> = members
                .iter()
                .flat_map(|m| self.got(m).iter().map(|d| &d.2))
                .collect();
            for (_, p) in &self.accepted {
                if self
                    .published
                    .get(p)
                    .is_some_and(|(_, t, _)| t.starts_with(prefix))
                    && !got.contains(p)
                {
                    return false;
                }
            }
        }
        for (checker, _) in &scenario.retained_checks {
            if !self.got(checker).iter().any(|d| d.3) {
                return false;
            }
        }
        true
    }
}

/// Sequence number of a workload payload `who:n`.
fn seq_of(p: &Bytes) -> Option<(String, u64)> {
    let s = std::str::from_utf8(p).ok()?;
    let (who, n) = s.rsplit_once(':')?;
    Some((who.to_string(), n.parse().ok()?))
}

fn deliveries(s: &Scenario, h: &History, f: &Facts, out: &mut Vec<Violation>) {
    for (c, prefix) in &s.persistent_subs {
        let version = version_of(s, c);
        let got = f.got(c);
        let have: BTreeSet<&Bytes> = got.iter().map(|d| &d.2).collect();
        for p in f.expected_for(c, prefix) {
            if !have.contains(p) {
                // 3.1.1 and 5.0 [MQTT-4.5.0-1]: the message belongs to the session; the
                // session outlives the connection (5.0 [MQTT-3.1.2-23] while it has not
                // expired, 3.1.1 [MQTT-3.1.2-5] until a clean session); [MQTT-4.4.0-1]
                // in-flight ones are re-sent.
                out.push(v(
                    version,
                    mqtt_spec::v311!("MQTT-4.5.0-1"),
                    mqtt_spec::v5!("MQTT-4.5.0-1"),
                    format!(
                        "{c} (persistent session) never received {:?} accepted by the broker",
                        text(p)
                    ),
                ));
            }
        }
        // Per-publisher order of first occurrences (3.1.1 and 5.0 [MQTT-4.6.0-6]: the same
        // topic and QoS in the scenarios), over the messages published
        // after the subscription was acknowledged. An earlier one may reach the subscriber
        // only as the publisher's retransmission after a lost PUBACK, which the broker takes
        // as a new message, legitimately after later ones (qos1 seed 43535).
        let since = f.subscribed.get(*c).copied();
        let mut first: BTreeSet<&Bytes> = BTreeSet::new();
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        for (at, _, p, retain) in got {
            if *retain || !first.insert(p) {
                continue;
            }
            let published_at = f.published.get(p).map(|(t, _, _)| *t);
            if let (Some(since), Some(t)) = (since, published_at) {
                if t <= since {
                    continue;
                }
            }
            if let Some((who, n)) = seq_of(p) {
                let prev = last.insert(who.clone(), n);
                if let Some(prev) = prev.filter(|&prev| prev > n) {
                    out.push(v(
                        version,
                        mqtt_spec::v311!("MQTT-4.6.0-6"),
                        mqtt_spec::v5!("MQTT-4.6.0-6"),
                        format!(
                            "{c} received {who}:{n} at {at}ms after {who}:{prev}: out of publication order"
                        ),
                    ));
                }
            }
        }
        if s.exactly_once {
            let mut count: BTreeMap<&Bytes, usize> = BTreeMap::new();
            for d in got {
                *count.entry(&d.2).or_default() += 1;
            }
            for (p, n) in count {
                if n > 1 {
                    // QoS 2 never gives an application a message twice: 5.0 [MQTT-4.3.3-10],
                    // 3.1.1 [MQTT-4.3.3-2] (no duplicate to onward recipients).
                    out.push(v(
                        version,
                        mqtt_spec::v311!("MQTT-4.3.3-2"),
                        mqtt_spec::v5!("MQTT-4.3.3-10"),
                        format!("{c} received the QoS 2 message {:?} {n} times", text(p)),
                    ));
                }
            }
        }
    }
    if let Some((members, prefix)) = &s.shared_group {
        let mut by_member: BTreeMap<&Bytes, BTreeSet<&str>> = BTreeMap::new();
        for m in members {
            for d in f.got(m) {
                by_member.entry(&d.2).or_default().insert(m);
            }
        }
        let since = members
            .iter()
            .filter_map(|m| f.subscribed.get(*m))
            .min()
            .copied();
        for (_, p) in &f.accepted {
            let Some((t, topic, _)) = f.published.get(p) else {
                continue;
            };
            if !topic.starts_with(prefix) || since.is_none_or(|s| *t <= s) {
                continue;
            }
            // Shared subscriptions exist in 5.0 only.
            match by_member.get(p) {
                None => out.push(in_version(
                    Protocol::V5_0,
                    mqtt_spec::v5!("MQTT-4.5.0-1"),
                    format!(
                        "no member of the shared subscription received {:?}",
                        text(p)
                    ),
                )),
                // A publisher's retransmission is a new message at QoS 1 ([MQTT-4.3.2-5]
                // on the broker's side), so only a single PUBLISH must reach a single member.
                Some(ms) if ms.len() > 1 && h.publish_rx.get(p).copied() == Some(1) => {
                    out.push(Violation {
                        // Section 4.8.2 gives no statement id for "one member only".
                        statement: "5.0 section 4.8.2",
                        protocol: Some(Protocol::V5_0),
                        detail: format!(
                            "{:?} went to several members of one shared subscription: {}",
                            text(p),
                            ms.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    })
                }
                _ => {}
            }
        }
    }
}

fn retained(s: &Scenario, f: &Facts, out: &mut Vec<Violation>) {
    for (checker, topic) in &s.retained_checks {
        let version = version_of(s, checker);
        let last = f
            .accepted
            .iter()
            .rev()
            .find(|(_, p)| f.published.get(p).is_some_and(|(_, t, _)| t == topic))
            .map(|(_, p)| p);
        let Some(last) = last else {
            continue;
        };
        let got = f.got(checker).iter().find(|d| d.3 && d.1 == *topic);
        match got {
            // A new subscription gets the retained message: 5.0 [MQTT-3.3.1-9] (Retain
            // Handling 0), 3.1.1 [MQTT-3.3.1-6].
            None => out.push(v(
                version,
                mqtt_spec::v311!("MQTT-3.3.1-6"),
                mqtt_spec::v5!("MQTT-3.3.1-9"),
                format!("{checker} subscribed at the end and got no retained message on {topic}"),
            )),
            // The last one: 5.0 [MQTT-3.3.1-5] (each retained PUBLISH replaces the stored
            // one), 3.1.1 [MQTT-3.3.1-6] ("the last retained message").
            Some(d) if d.2 != *last => out.push(v(
                version,
                mqtt_spec::v311!("MQTT-3.3.1-6"),
                mqtt_spec::v5!("MQTT-3.3.1-5"),
                format!(
                    "retained value on {topic} sent to {checker} is {:?}, the last one accepted was {:?}",
                    text(&d.2),
                    text(last)
                ),
            )),
            _ => {}
        }
    }
}

fn connacked(h: &History) -> impl Iterator<Item = (&u64, &NicConn)> {
    h.nic.iter().filter(|(_, c)| c.connack.is_some())
}

fn keep_alive(h: &History, end: Millis, out: &mut Vec<Violation>) {
    for (id, c) in connacked(h) {
        if c.keep_alive == 0 {
            continue;
        }
        let limit = c.last_rx + u64::from(c.keep_alive) * 1500 + SLACK_MS;
        let closed = c.closed_at.unwrap_or(end);
        if closed > limit {
            // 5.0 [MQTT-3.1.2-22], 3.1.1 [MQTT-3.1.2-24]: closed within 1.5 times the keep alive.
            out.push(v(
                version_of_conn(c),
                mqtt_spec::v311!("MQTT-3.1.2-24"),
                mqtt_spec::v5!("MQTT-3.1.2-22"),
                format!(
                    "connection #{id} of {} (keep alive {} s): nothing received after {}ms, still open at {}ms",
                    c.client_id.as_deref().unwrap_or("?"),
                    c.keep_alive,
                    c.last_rx,
                    if c.closed_at.is_some() { closed } else { end },
                ),
            ));
        }
    }
}

fn wills(s: &Scenario, h: &History, f: &Facts, end: Millis, out: &mut Vec<Violation>) {
    // Who received each will payload, when.
    let mut got: BTreeMap<&Bytes, Vec<(Millis, &str)>> = BTreeMap::new();
    for (client, ds) in &f.delivered {
        for (at, topic, p, _) in ds {
            if topic.starts_with("will/") {
                got.entry(p).or_default().push((*at, client.as_str()));
            }
        }
    }
    // Persistent subscribers of the wills.
    let watcher_since = s
        .clients
        .iter()
        .filter(|c| !c.always_clean && c.subscriptions.iter().any(|(f, _)| f.starts_with("will/")))
        .filter_map(|c| f.subscribed.get(&c.client_id))
        .min()
        .copied();
    for (id, c) in connacked(h) {
        let Some((payload, delay)) = &c.will else {
            continue;
        };
        let cid = c.client_id.as_deref().unwrap_or("?");
        let version = version_of_conn(c);
        let received = got.get(payload).map(|v| v.as_slice()).unwrap_or(&[]);
        if c.normal_disconnect {
            if let Some((at, who)) = received.first() {
                // 3.1.1 and 5.0 [MQTT-3.14.4-3]: a (5.0: normal) DISCONNECT discards the will.
                out.push(v(
                    version,
                    mqtt_spec::v311!("MQTT-3.14.4-3"),
                    mqtt_spec::v5!("MQTT-3.14.4-3"),
                    format!(
                        "will of connection #{id} ({cid}) reached {who} at {at}ms although the broker received a normal DISCONNECT"
                    ),
                ));
            }
            continue;
        }
        // 5.0: the will waits for the delay or the session end, whichever comes first. 3.1.1
        // has neither: the will goes once the connection is closed.
        let wait = if c.is_v311() {
            0
        } else {
            u64::from((*delay).min(c.session_expiry)) * 1000
        };
        // Another connection with Clean Start whose CONNECT the broker handles after this
        // one's ends the session, and the will goes then ([MQTT-3.1.2-4]; 3.1.4: a takeover
        // with Clean Start ends the old session): one accepted later (its CONNECT arrived
        // after it was accepted), or one accepted earlier whose CONNECT was answered later
        // (seed 681546194 of will-delay: #4 accepted before #5, #5 answered first, then #4
        // took over with Clean Start and #5's will went at once).
        // "Answered later" goes by the rank of the CONNACKs, not their time: two can share a
        // millisecond (seed 5000017610 of will-delay: #5 and #6 answered in the same ms, #5
        // first; #6 took over and resumed, and its own will, after a restart, was due).
        let my_rank = c.connack_rank;
        let answered_after_mine =
            |n: &NicConn| n.connack_rank.zip(my_rank).is_some_and(|(r, m)| r > m);
        let clean_restart = h
            .nic
            .iter()
            .filter(|(i, n)| *i != id && n.client_id.as_deref() == Some(cid) && n.clean_start)
            .filter_map(|(i, n)| {
                if i > id {
                    Some(n.accepted_at)
                } else if answered_after_mine(n) {
                    n.connack.map(|(t, _)| t)
                } else {
                    None
                }
            })
            .min();
        let earliest = clean_restart.map_or(c.last_rx + wait, |t| t.min(c.last_rx + wait));
        if let Some((at, who)) = received.iter().find(|(at, _)| *at + SLACK_MS < earliest) {
            // 5.0 [MQTT-3.1.3-9]: not before the delay. 3.1.1 [MQTT-3.1.2-8]: published when
            // the connection is closed, so not while the client still sends on it.
            let detail = if c.is_v311() {
                format!(
                    "will of connection #{id} ({cid}) reached {who} at {at}ms, before the connection ended (the client sent data at {}ms)",
                    c.last_rx
                )
            } else {
                format!(
                    "will of connection #{id} ({cid}) reached {who} at {at}ms, before its delay of {wait}ms from {}ms",
                    c.last_rx
                )
            };
            out.push(v(
                version,
                mqtt_spec::v311!("MQTT-3.1.2-8"),
                mqtt_spec::v5!("MQTT-3.1.3-9"),
                detail,
            ));
        }
        let Some(closed) = c.closed_at else {
            continue; // still open at the end: no will due
        };
        // Resumed by another connection of the same client before the delay ran out? One
        // accepted later, or one accepted earlier whose CONNECT was answered after this one's
        // (seed 681013005 of will-delay: #9 answered first, then #8 took it over and resumed
        // the session, so #9's will is rightly never sent).
        let later = h
            .nic
            .range(id + 1..)
            .filter(|(_, n)| n.client_id.as_deref() == Some(cid))
            .filter_map(|(_, n)| n.connack)
            .find(|(_, present)| *present)
            .map(|(t, _)| t);
        let answered_later = h
            .nic
            .range(..*id)
            .filter(|(_, n)| n.client_id.as_deref() == Some(cid) && answered_after_mine(n))
            .filter_map(|(_, n)| n.connack)
            .filter(|(_, present)| *present)
            .map(|(t, _)| t)
            .min();
        let resumed_at = match (later, answered_later) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Only a 5.0 will waits (3.1.1 has no delay: wait is 0).
        if wait > 0 && resumed_at.is_some_and(|t| t + SLACK_MS < earliest) {
            if let Some((at, who)) = received.first() {
                out.push(in_version(
                    Protocol::V5_0,
                    mqtt_spec::v5!("MQTT-3.1.3-9"),
                    format!(
                        "will of connection #{id} ({cid}) reached {who} at {at}ms although the session was resumed at {}ms, within the will delay",
                        resumed_at.unwrap_or_default()
                    ),
                ));
            }
            continue;
        }
        if wait > 0 && resumed_at.is_some_and(|t| t <= closed + wait + SLACK_MS) {
            continue; // a race the invariant cannot decide
        }
        let due = closed + wait + SLACK_MS;
        let watched = watcher_since.is_some_and(|t| t < c.last_rx);
        if watched && due + DELIVERY_MS < end && received.is_empty() {
            // 3.1.1 and 5.0 [MQTT-3.1.2-8]: published after an abnormal close (5.0: once the
            // delay or the session is over).
            out.push(v(
                version,
                mqtt_spec::v311!("MQTT-3.1.2-8"),
                mqtt_spec::v5!("MQTT-3.1.2-8"),
                format!(
                    "connection #{id} ({cid}) was lost at {closed}ms without DISCONNECT; its will never arrived"
                ),
            ));
        }
    }
}

fn sessions(h: &History, out: &mut Vec<Violation>) {
    let mut prev: BTreeMap<&str, (&u64, &NicConn)> = BTreeMap::new();
    // In the order the broker answered the CONNECTs: two connections of one client may be
    // accepted in one order and have their CONNECT processed in the other (seed 5726 of
    // will-delay: the later connection's CONNECT arrived first and found no session).
    let mut order: Vec<(&u64, &NicConn)> = connacked(h).collect();
    order.sort_by_key(|(id, c)| (c.connack_rank, **id));
    for (id, c) in order {
        let Some(cid) = c.client_id.as_deref() else {
            continue;
        };
        if let (Some((pid, p)), Some((t, present))) = (prev.get(cid), c.connack) {
            // The session's lifetime is the previous connection's to set; a client that
            // changed versions between the two is outside both standards' rules.
            let same_version = p.protocol == c.protocol;
            if same_version && c.is_v311() {
                v311_session(cid, (**pid, p), (*id, c), t, present, out);
            } else if same_version && !c.clean_start && p.session_expiry > 0 {
                let e = u64::from(p.session_expiry) * 1000;
                if let Some(closed) = p.closed_at {
                    if present && t > closed + e + SLACK_MS {
                        // [MQTT-4.1.0-2]
                        out.push(in_version(
                            Protocol::V5_0,
                            mqtt_spec::v5!("MQTT-4.1.0-2"),
                            format!(
                                "{cid}: session resumed at {t}ms (connection #{id}) though connection #{pid} closed at {closed}ms with a session expiry of {e}ms"
                            ),
                        ));
                    }
                }
                if !present && t + SLACK_MS < p.last_rx + e {
                    // [MQTT-3.1.2-23]
                    out.push(in_version(
                        Protocol::V5_0,
                        mqtt_spec::v5!("MQTT-3.1.2-23"),
                        format!(
                            "{cid}: no session at {t}ms (connection #{id}) though connection #{pid} was alive at {}ms with a session expiry of {e}ms",
                            p.last_rx
                        ),
                    ));
                }
            }
        }
        prev.insert(cid, (id, c));
    }
}

/// The 3.1.1 session rules between two connections of one client, `p` answered before `c`
/// (at `t`, with Session Present `present`). 3.1.1 has no session expiry: Clean Session 0
/// keeps the session after the connection until a Clean Session 1 connection, and Clean
/// Session 1 makes one that ends with its connection.
fn v311_session(
    cid: &str,
    (pid, p): (u64, &NicConn),
    (id, c): (u64, &NicConn),
    t: Millis,
    present: bool,
    out: &mut Vec<Violation>,
) {
    if c.clean_start {
        return; // answered by session_present
    }
    if !p.clean_start && !present {
        // 3.1.1 [MQTT-3.1.2-4]: the session is stored after the disconnection and resumed
        // by the next Clean Session 0 connection.
        out.push(in_version(
            Protocol::V3_1_1,
            mqtt_spec::v311!("MQTT-3.1.2-4"),
            format!(
                "{cid}: no session at {t}ms (connection #{id}, Clean Session 0) though connection #{pid} had one with Clean Session 0, which has no expiry"
            ),
        ));
    }
    if p.clean_start && present {
        // 3.1.1 [MQTT-3.1.2-6]: a Clean Session 1 session lasts as long as its connection
        // and is not reused.
        out.push(in_version(
            Protocol::V3_1_1,
            mqtt_spec::v311!("MQTT-3.1.2-6"),
            format!(
                "{cid}: session present at {t}ms (connection #{id}) though the session before it was made by connection #{pid} with Clean Session 1"
            ),
        ));
    }
}

/// A CONNACK that accepts a clean session says there was none: 3.1.1 [MQTT-3.2.2-1], 5.0
/// [MQTT-3.2.2-2].
fn session_present(h: &History, out: &mut Vec<Violation>) {
    for (id, c) in connacked(h) {
        if c.clean_start && c.connack.is_some_and(|(_, present)| present) {
            out.push(v(
                version_of_conn(c),
                mqtt_spec::v311!("MQTT-3.2.2-1"),
                mqtt_spec::v5!("MQTT-3.2.2-2"),
                format!(
                    "connection #{id} of {} asked for a clean session and got Session Present 1",
                    c.client_id.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
}
