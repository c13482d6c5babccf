//! Chapters 3.8-3.11 (SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK), 4.7 (topic names, filters and
//! wildcards, `$` topics), overlapping subscriptions, 5.0 subscription options and subscription
//! identifiers, 4.8 shared subscriptions, and retained messages (3.3.1.3).
//!
//! Most tests use one client that subscribes and then publishes on its own subscription (a
//! client receives its own messages unless it asks for No Local), with QoS 1 publications so
//! that the PUBACK marks the moment the broker has taken the message.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{
    Packet, PacketType, Properties, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
};
use mqtt_spec::{v311, v5};

use super::util::{cases, end_session, wire_len, Row, Table};
use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::{describe, Client, Incoming};
use crate::target::BoxFuture;

/// The tests of this module.
pub fn tests() -> Vec<TestCase> {
    let mut v = Vec::new();
    v.extend(subscribe_tests());
    v.extend(unsubscribe_tests());
    v.extend(cases::<Topics>());
    v.extend(retained_tests());
    v.extend(option_tests());
    v.extend(subscription_id_tests());
    v.extend(shared_tests());
    v
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn qos(n: u8) -> QoS {
    QoS::from_u8(n.min(2)).unwrap_or(QoS::AtMostOnce)
}

/// The highest QoS the broker accepts, capped at `want`.
fn capped(ctx: &Ctx, want: u8) -> u8 {
    want.min(ctx.caps().maximum_qos)
}

fn codes(a: &SubAck) -> String {
    a.reason_codes
        .iter()
        .map(|c| format!("0x{:02X}", c.0))
        .collect::<Vec<_>>()
        .join(",")
}

fn ucodes(a: &UnsubAck) -> String {
    a.reason_codes
        .iter()
        .map(|c| format!("0x{:02X}", c.0))
        .collect::<Vec<_>>()
        .join(",")
}

fn sub(filter: &str, q: u8) -> Subscription {
    Subscription::new(filter, qos(q))
}

fn sub_opts(filter: &str, q: u8, no_local: bool, rap: bool, rh: RetainHandling) -> Subscription {
    Subscription {
        filter: filter.into(),
        options: SubscriptionOptions {
            qos: qos(q),
            no_local,
            retain_as_published: rap,
            retain_handling: rh,
        },
    }
}

fn subscribe_packet(pid: u16, filters: Vec<Subscription>, props: Properties) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: pid,
        filters,
        properties: props.into(),
    })
}

/// Sends SUBSCRIBE and returns the first SUBACK (whatever its packet id). A missing SUBACK
/// fails the test's main statement with `expected`.
async fn subscribe_raw(
    c: &mut Client,
    ctx: &Ctx,
    pid: u16,
    filters: Vec<Subscription>,
    props: Properties,
    expected: &str,
) -> Result<SubAck, Stop> {
    c.send(subscribe_packet(pid, filters, props)).await?;
    c.expect(ctx.patience(), expected, |p| match p {
        Packet::SubAck(a) => Some(a.clone()),
        _ => None,
    })
    .await
}

/// Subscribes as a precondition: every filter must be granted (else the test is
/// inconclusive). Returns the granted QoS per filter.
async fn subscribe_ok(
    c: &mut Client,
    ctx: &Ctx,
    pid: u16,
    filters: Vec<Subscription>,
    props: Properties,
) -> Result<Vec<u8>, Stop> {
    let n = filters.len();
    let what: Vec<String> = filters.iter().map(|f| f.filter.to_string()).collect();
    c.send(subscribe_packet(pid, filters, props)).await?;
    let ack = match c
        .expect(ctx.patience(), "SUBACK", |p| match p {
            Packet::SubAck(a) => Some(a.clone()),
            _ => None,
        })
        .await
    {
        Ok(a) => a,
        Err(Stop::Fail { observed, .. }) => {
            return Err(Stop::Inconclusive(format!(
                "no SUBACK for the subscription to {what:?} the test needs: {observed}"
            )))
        }
        Err(e) => return Err(e),
    };
    if ack.reason_codes.len() != n || ack.reason_codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "the broker refused the subscription to {what:?} the test needs: SUBACK codes [{}]",
            codes(&ack)
        )));
    }
    Ok(ack.reason_codes.iter().map(|c| c.0).collect())
}

/// Subscribes to one filter as a precondition; returns the granted QoS.
async fn subscribe1(c: &mut Client, ctx: &Ctx, pid: u16, filter: &str, q: u8) -> Result<u8, Stop> {
    let g = subscribe_ok(c, ctx, pid, vec![sub(filter, q)], Properties::default()).await?;
    Ok(g.first().copied().unwrap_or(0))
}

/// Sends UNSUBSCRIBE and returns the first UNSUBACK.
async fn unsubscribe(
    c: &mut Client,
    ctx: &Ctx,
    pid: u16,
    filters: &[&str],
    expected: &str,
) -> Result<UnsubAck, Stop> {
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: pid,
        filters: filters.iter().map(|f| (*f).into()).collect(),
        properties: Default::default(),
    }))
    .await?;
    c.expect(ctx.patience(), expected, |p| match p {
        Packet::UnsubAck(a) => Some(a.clone()),
        _ => None,
    })
    .await
}

fn message(topic: &str, payload: &[u8], q: u8, retain: bool) -> Publish {
    let mut m = Publish::new(topic, Bytes::copy_from_slice(payload));
    m.qos = qos(q);
    m.retain = retain;
    m
}

/// Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP); QoS 0 is followed
/// by PINGREQ/PINGRESP so that the broker has processed the PUBLISH when this returns. A
/// broken flow makes the test inconclusive: publishing is a precondition here.
async fn publish(c: &mut Client, ctx: &Ctx, mut m: Publish, pid: u16) -> Result<(), Stop> {
    let topic = m.topic.to_string();
    m.packet_id = if m.qos == QoS::AtMostOnce { 0 } else { pid };
    let q = m.qos;
    c.send(Packet::Publish(m)).await?;
    let inconclusive = |e: Stop| match e {
        Stop::Fail { observed, .. } => Stop::Inconclusive(format!(
            "publishing on {topic} (a precondition) failed: {observed}"
        )),
        e => e,
    };
    match q {
        QoS::AtMostOnce => {
            c.send(Packet::PingReq).await?;
            c.expect(ctx.patience(), "PINGRESP", |p| {
                matches!(p, Packet::PingResp).then_some(())
            })
            .await
            .map_err(inconclusive)?;
        }
        QoS::AtLeastOnce => {
            let rc = c
                .expect(ctx.patience(), "PUBACK", |p| match p {
                    Packet::PubAck(a) if a.packet_id == pid => Some(a.reason_code),
                    _ => None,
                })
                .await
                .map_err(inconclusive)?;
            if rc.0 >= 0x80 {
                return Err(Stop::Inconclusive(format!(
                    "the broker refused the PUBLISH on {topic}: PUBACK 0x{:02X}",
                    rc.0
                )));
            }
        }
        QoS::ExactlyOnce => {
            let rc = c
                .expect(ctx.patience(), "PUBREC", |p| match p {
                    Packet::PubRec(a) if a.packet_id == pid => Some(a.reason_code),
                    _ => None,
                })
                .await
                .map_err(inconclusive)?;
            if rc.0 >= 0x80 {
                return Err(Stop::Inconclusive(format!(
                    "the broker refused the PUBLISH on {topic}: PUBREC 0x{:02X}",
                    rc.0
                )));
            }
            c.send(Packet::PubRel(PubRel::new(pid))).await?;
            c.expect(ctx.patience(), "PUBCOMP", |p| match p {
                Packet::PubComp(a) if a.packet_id == pid => Some(()),
                _ => None,
            })
            .await
            .map_err(inconclusive)?;
        }
    }
    Ok(())
}

/// Acknowledges a PUBLISH the broker sent (QoS 2: PUBREC, then PUBCOMP for its PUBREL).
async fn ack(c: &mut Client, ctx: &Ctx, m: &Publish) -> Result<(), Stop> {
    match m.qos {
        QoS::AtMostOnce => Ok(()),
        QoS::AtLeastOnce => c.send(Packet::PubAck(PubAck::new(m.packet_id))).await,
        QoS::ExactlyOnce => {
            let id = m.packet_id;
            c.send(Packet::PubRec(PubRec::new(id))).await?;
            match c
                .expect(ctx.patience(), "PUBREL", |p| match p {
                    Packet::PubRel(r) if r.packet_id == id => Some(()),
                    _ => None,
                })
                .await
            {
                Ok(()) => c.send(Packet::PubComp(PubComp::new(id))).await,
                Err(Stop::Fail { observed, .. }) => Err(Stop::Inconclusive(format!(
                    "no PUBREL for the QoS 2 delivery {id}: {observed}"
                ))),
                Err(e) => Err(e),
            }
        }
    }
}

/// Waits up to `within` for a PUBLISH satisfying `pred` and acknowledges it. `Ok(Err(obs))`
/// when none came (`obs` says what came instead).
async fn wait_pub(
    c: &mut Client,
    ctx: &Ctx,
    within: Duration,
    mut pred: impl FnMut(&Publish) -> bool,
) -> Result<Result<Publish, String>, Stop> {
    match c
        .expect(within, "", |p| match p {
            Packet::Publish(m) if pred(m) => Some(m.clone()),
            _ => None,
        })
        .await
    {
        Ok(m) => {
            ack(c, ctx, &m).await?;
            Ok(Ok(m))
        }
        Err(Stop::Fail { observed, .. }) => Ok(Err(observed)),
        Err(e) => Err(e),
    }
}

/// Waits for a PUBLISH on `topic`; its absence fails the test's main statement.
async fn expect_pub(
    c: &mut Client,
    ctx: &Ctx,
    topic: &str,
    expected: &str,
) -> Result<Publish, Stop> {
    wait_pub(c, ctx, ctx.patience(), |m| &*m.topic == topic)
        .await?
        .map_err(|obs| Stop::fail(expected, obs))
}

/// Reads everything the broker sends until it has been quiet for `ctx.quiet()`, acknowledging
/// PUBLISH packets; returns the PUBLISH packets.
async fn collect(c: &mut Client, ctx: &Ctx) -> Result<Vec<Publish>, Stop> {
    Ok(collect_all(c, ctx).await?.0)
}

/// [`collect`], also returning the other packets that arrived. The first packet gets the
/// whole `patience()` (a broker may take longer than the quiet gap to deliver at all, e.g.
/// across cluster nodes); after it, a `quiet()` gap ends the collection.
async fn collect_all(c: &mut Client, ctx: &Ctx) -> Result<(Vec<Publish>, Vec<Packet>), Stop> {
    let mut out = Vec::new();
    let mut other = Vec::new();
    let mut wait = ctx.patience();
    loop {
        let next = c.next(wait).await?;
        wait = ctx.quiet();
        match next {
            None => return Ok((out, other)),
            Some(Incoming::Packet(Packet::Publish(m))) => {
                ack(c, ctx, &m).await?;
                out.push(m);
            }
            Some(Incoming::Packet(p)) => other.push(p),
            Some(Incoming::Closed) => {
                return Err(Stop::fail(
                    "the connection stays open while messages are delivered",
                    "the broker closed the connection",
                ))
            }
            Some(Incoming::Malformed(e)) => {
                return Err(Stop::fail(
                    "well-formed packets from the broker",
                    format!("malformed bytes: {e}"),
                ))
            }
        }
    }
}

/// `collect` keeping only messages on `topic`.
async fn collect_on(c: &mut Client, ctx: &Ctx, topic: &str) -> Result<Vec<Publish>, Stop> {
    Ok(collect(c, ctx)
        .await?
        .into_iter()
        .filter(|m| &*m.topic == topic)
        .collect())
}

fn list(ms: &[Publish]) -> String {
    if ms.is_empty() {
        "nothing".into()
    } else {
        ms.iter()
            .map(|m| {
                let ids = &m.properties.subscription_identifiers;
                let mut s = describe(&Packet::Publish(m.clone()));
                if !ids.is_empty() {
                    s.push_str(&format!(" subscription ids {ids:?}"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Expects the broker to close the connection (5.0: a DISCONNECT before the close must carry
/// one of `codes`). Anything else fails the test's main statement.
async fn expect_refusal_close(c: &mut Client, ctx: &Ctx, v5_codes: &[ReasonCode]) -> Outcome {
    let seen = c.expect_close(ctx.patience()).await?;
    if let Some(rc) = seen.disconnect {
        if !v5_codes.contains(&rc) {
            return Err(Stop::fail(
                format!(
                    "the connection closed, after a DISCONNECT with one of [{}] if any",
                    v5_codes
                        .iter()
                        .map(|c| format!("0x{:02X}", c.0))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("DISCONNECT 0x{:02X}", rc.0),
            ));
        }
    }
    if let Some(ok) = seen
        .before
        .iter()
        .find(|p| p.starts_with("SUBACK") || p.starts_with("UNSUBACK"))
    {
        return Err(Stop::fail(
            "the connection closed without acknowledging the invalid packet",
            format!("the broker sent {ok} before closing"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3.8 SUBSCRIBE / 3.9 SUBACK
// ---------------------------------------------------------------------------------------------

fn subscribe_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "subscribe.suback.same-packet-id",
            "Every SUBSCRIBE is answered by a SUBACK carrying its packet identifier",
            body!(suback_packet_id),
        )
        .v311(&[
            v311!("MQTT-3.8.4-1"),
            v311!("MQTT-3.8.4-2"),
            v311!("MQTT-2.3.1-7"),
        ])
        .v5(&[
            v5!("MQTT-3.8.4-1"),
            v5!("MQTT-3.8.4-2"),
            v5!("MQTT-2.2.1-6"),
        ]),
        TestCase::new(
            "subscribe.suback.one-code-per-filter-in-order",
            "A SUBACK holds one return code per filter, in the order of the filters, each the granted QoS (at most the requested) or a failure",
            body!(suback_codes_in_order),
        )
        .v311(&[v311!("MQTT-3.8.4-5"), v311!("MQTT-3.9.3-1")])
        .v5(&[v5!("MQTT-3.8.4-6"), v5!("MQTT-3.9.3-1"), v5!("MQTT-3.8.4-7")]),
        TestCase::new(
            "subscribe.suback.codes-from-table",
            "SUBACK return codes are only values the standard defines",
            body!(suback_valid_codes),
        )
        .v311(&[v311!("MQTT-3.9.3-2")])
        .v5(&[v5!("MQTT-3.9.3-2"), v5!("MQTT-3.8.4-7")]),
        TestCase::new(
            "subscribe.several-filters-each-take-effect",
            "A SUBSCRIBE with several filters works like one SUBSCRIBE per filter",
            body!(several_filters),
        )
        .v311(&[v311!("MQTT-3.8.4-4")])
        .v5(&[v5!("MQTT-3.8.4-5")]),
        TestCase::new(
            "subscribe.delivery-qos-is-minimum",
            "Messages arrive at the lower of the published QoS and the granted QoS",
            body!(delivery_min_qos),
        )
        .v311(&[v311!("MQTT-3.8.4-6")])
        .v5(&[v5!("MQTT-3.8.4-8")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "subscribe.replace.same-filter",
            "Subscribing again to the same filter replaces the subscription: one copy, at the new QoS",
            body!(replace_same_filter),
        )
        .v311(&[v311!("MQTT-3.8.4-3")])
        .v5(&[v5!("MQTT-3.8.4-3")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "subscribe.replace.resends-retained",
            "Subscribing again to the same filter sends the matching retained message again",
            body!(replace_resends_retained),
        )
        .v311(&[v311!("MQTT-3.8.4-3")])
        .v5(&[v5!("MQTT-3.8.4-4")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "subscribe.replace.no-message-lost",
            "Replacing a subscription while messages flow loses none of them",
            body!(replace_no_loss),
        )
        .v311(&[v311!("MQTT-3.8.4-3")])
        .v5(&[v5!("MQTT-3.8.4-4")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "subscribe.qos2-request-accepted",
            "A SUBSCRIBE asking for QoS 2 is granted (at most the server's Maximum QoS), not refused",
            body!(qos2_request_accepted),
        )
        .v5(&[v5!("MQTT-3.2.2-10")]),
        TestCase::new(
            "suback.properties-within-maximum-packet-size",
            "The SUBACK never exceeds the client's Maximum Packet Size (Reason String and User Properties are left out)",
            body!(suback_max_packet_size),
        )
        .v5(&[v5!("MQTT-3.9.2-1"), v5!("MQTT-3.9.2-2")]),
    ]
}

async fn suback_packet_id(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("t");
    // Two SUBSCRIBEs back to back, with identifiers that differ in both bytes.
    c.send(subscribe_packet(
        0x7A3C,
        vec![sub(&t, 0)],
        Properties::default(),
    ))
    .await?;
    c.send(subscribe_packet(
        0x01FE,
        vec![sub(&format!("{t}2"), 0)],
        Properties::default(),
    ))
    .await?;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let a = c
            .expect(
                ctx.patience(),
                "a SUBACK for each of two SUBSCRIBEs",
                |p| match p {
                    Packet::SubAck(a) => Some(a.packet_id),
                    _ => None,
                },
            )
            .await?;
        ids.push(a);
    }
    ids.sort_unstable();
    if ids != [0x01FE, 0x7A3C] {
        return Err(fail_at(
            &ctx,
            v311!("MQTT-3.8.4-2"),
            v5!("MQTT-3.8.4-2"),
            "SUBACKs with packet identifiers 0x7A3C and 0x01FE",
            format!(
                "SUBACKs with packet identifiers {}",
                ids.iter()
                    .map(|i| format!("0x{i:04X}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// Fails a named statement: `v311_id` in a 3.1.1 run, `v5_id` in a 5.0 run.
fn fail_at(
    ctx: &Ctx,
    v311_id: mqtt_spec::StatementId,
    v5_id: mqtt_spec::StatementId,
    expected: impl Into<String>,
    observed: impl Into<String>,
) -> Stop {
    Stop::fail_at(ctx.pick(v311_id, v5_id), expected, observed)
}

async fn suback_codes_in_order(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    // Requested QoS 2, 0, 1 (capped at the broker's maximum): a reordered list of granted
    // values would exceed the request at some position.
    let req = [capped(&ctx, 2), 0, capped(&ctx, 1)];
    let filters: Vec<Subscription> = req
        .iter()
        .enumerate()
        .map(|(i, q)| sub(&ctx.topic(&format!("f{i}")), *q))
        .collect();
    let a = subscribe_raw(
        &mut c,
        &ctx,
        11,
        filters,
        Properties::default(),
        "a SUBACK with three return codes",
    )
    .await?;
    if a.reason_codes.len() != 3 {
        return Err(Stop::fail(
            "3 return codes, one per filter",
            format!("{} codes [{}]", a.reason_codes.len(), codes(&a)),
        ));
    }
    for (i, (rc, q)) in a.reason_codes.iter().zip(req).enumerate() {
        if rc.0 < 0x80 && rc.0 > q {
            return Err(fail_at(
                &ctx,
                v311!("MQTT-3.9.3-1"),
                v5!("MQTT-3.9.3-1"),
                format!("codes in filter order, each at most the requested QoS {req:?}"),
                format!(
                    "code 0x{:02X} at position {i} where QoS {q} was requested: [{}]",
                    rc.0,
                    codes(&a)
                ),
            ));
        }
        if ctx.v5() && rc.0 >= 3 && rc.0 < 0x80 {
            return Err(Stop::fail_at(
                v5!("MQTT-3.8.4-7"),
                "each code a granted QoS 0x00-0x02 or a failure code >= 0x80",
                format!("[{}]", codes(&a)),
            ));
        }
    }
    Ok(())
}

fn valid_suback_code(ctx: &Ctx, rc: ReasonCode) -> bool {
    if ctx.v5() {
        // Table 3-8 (Subscribe Reason Codes).
        matches!(
            rc.0,
            0x00 | 0x01 | 0x02 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91 | 0x97 | 0x9E | 0xA1 | 0xA2
        )
    } else {
        matches!(rc.0, 0x00 | 0x01 | 0x02 | 0x80)
    }
}

async fn suback_valid_codes(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let mut filters = vec![
        sub(&ctx.topic("a"), 0),
        sub(&ctx.topic("b"), 1),
        sub(&ctx.topic("c"), 2),
    ];
    if ctx.caps().wildcards {
        filters.push(sub(&ctx.topic("+/d"), 2));
        filters.push(sub(&ctx.topic("#"), 1));
    }
    let n = filters.len();
    let a = subscribe_raw(&mut c, &ctx, 5, filters, Properties::default(), "a SUBACK").await?;
    if let Some(bad) = a
        .reason_codes
        .iter()
        .find(|rc| !valid_suback_code(&ctx, **rc))
    {
        return Err(Stop::fail(
            ctx.pick(
                "return codes 0x00, 0x01, 0x02 or 0x80 only",
                "reason codes from the Subscribe Reason Code table only",
            ),
            format!("code 0x{:02X} in [{}]", bad.0, codes(&a)),
        ));
    }
    if a.reason_codes.len() != n {
        return Err(Stop::fail(
            format!("{n} codes"),
            format!("{} codes [{}]", a.reason_codes.len(), codes(&a)),
        ));
    }
    Ok(())
}

async fn several_filters(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let topics: Vec<String> = (0..3).map(|i| ctx.topic(&format!("m{i}"))).collect();
    let a = subscribe_raw(
        &mut c,
        &ctx,
        3,
        topics.iter().map(|t| sub(t, 0)).collect(),
        Properties::default(),
        "one SUBACK for three filters",
    )
    .await?;
    if a.reason_codes.len() != 3 || a.reason_codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "the three subscriptions were not all granted: [{}]",
            codes(&a)
        )));
    }
    for (i, t) in topics.iter().enumerate() {
        publish(
            &mut c,
            &ctx,
            message(t, b"x", 1.min(ctx.caps().maximum_qos), false),
            20 + i as u16,
        )
        .await?;
    }
    let got = collect(&mut c, &ctx).await?;
    for t in &topics {
        if !got.iter().any(|m| &*m.topic == t) {
            return Err(Stop::fail(
                format!("a message on each of the three subscribed topics, including {t}"),
                list(&got),
            ));
        }
    }
    Ok(())
}

async fn delivery_min_qos(ctx: Ctx) -> Outcome {
    let maxq = ctx.caps().maximum_qos;
    // (requested subscription QoS, published QoS)
    let mut cases = vec![(0u8, 1u8), (1, 0), (1, 1)];
    if maxq >= 2 {
        cases.extend([(1, 2), (2, 1), (0, 2), (2, 0)]);
    }
    let mut c = ctx.connect("a").await?;
    let mut granted = Vec::new();
    for (i, (sq, _)) in cases.iter().enumerate() {
        let g = subscribe1(
            &mut c,
            &ctx,
            100 + i as u16,
            &ctx.topic(&format!("q{i}")),
            *sq,
        )
        .await?;
        granted.push(g);
    }
    for (i, (_, pq)) in cases.iter().enumerate() {
        publish(
            &mut c,
            &ctx,
            message(&ctx.topic(&format!("q{i}")), b"m", *pq, false),
            200 + i as u16,
        )
        .await?;
    }
    let got = collect(&mut c, &ctx).await?;
    for (i, ((sq, pq), g)) in cases.iter().zip(&granted).enumerate() {
        let t = ctx.topic(&format!("q{i}"));
        let want = (*pq).min(*g);
        let on: Vec<&Publish> = got.iter().filter(|m| *m.topic == *t).collect();
        if on.is_empty() {
            return Err(Stop::fail(
                format!("the QoS {pq} message on {t} delivered at QoS {want}"),
                "it was not delivered",
            ));
        }
        if let Some(m) = on.iter().find(|m| m.qos.as_u8() != want) {
            return Err(Stop::fail(
                format!("QoS {want} = min(published {pq}, granted {g}) for subscription QoS {sq}"),
                format!("delivered at QoS {}", m.qos.as_u8()),
            ));
        }
    }
    Ok(())
}

async fn replace_same_filter(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("r");
    subscribe1(&mut c, &ctx, 1, &t, 0).await?;
    let g = subscribe1(&mut c, &ctx, 2, &t, 1).await?;
    if g != 1 {
        return Err(Stop::Inconclusive(format!("QoS 1 requested, {g} granted")));
    }
    publish(&mut c, &ctx, message(&t, b"once", 1, false), 3).await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if got.len() != 1 || got.iter().any(|m| m.qos != QoS::AtLeastOnce) {
        return Err(Stop::fail(
            "one copy at QoS 1 (the second subscription replaced the first)",
            list(&got),
        ));
    }
    Ok(())
}

async fn replace_resends_retained(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("kept");
    ctx.note_retained(&t);
    let q = capped(&ctx, 1);
    publish(&mut c, &ctx, message(&t, b"state", q, true), 1).await?;
    subscribe1(&mut c, &ctx, 2, &t, 0).await?;
    match wait_pub(&mut c, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(_) => {}
        Err(obs) => {
            return Err(Stop::Inconclusive(format!(
                "the first subscription got no retained message: {obs}"
            )))
        }
    }
    subscribe1(&mut c, &ctx, 3, &t, 0).await?;
    match wait_pub(&mut c, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(m) if &m.payload[..] == b"state" && m.retain => Ok(()),
        Ok(m) => Err(Stop::fail(
            "the retained message again (payload \"state\", RETAIN 1)",
            list(&[m]),
        )),
        Err(obs) => Err(Stop::fail(
            "the retained message sent again after subscribing again to the same filter",
            obs,
        )),
    }
}

async fn replace_no_loss(ctx: Ctx) -> Outcome {
    let mut s = ctx.connect("s").await?;
    let mut p = ctx.connect("p").await?;
    let t = ctx.topic("flow");
    subscribe1(&mut s, &ctx, 1, &t, 1).await?;
    // Publish 20 messages without waiting; resubscribe in the middle.
    for i in 1..=10u16 {
        let mut m = message(&t, format!("{i}").as_bytes(), 1, false);
        m.packet_id = i;
        p.send(Packet::Publish(m)).await?;
    }
    s.send(subscribe_packet(2, vec![sub(&t, 1)], Properties::default()))
        .await?;
    for i in 11..=20u16 {
        let mut m = message(&t, format!("{i}").as_bytes(), 1, false);
        m.packet_id = i;
        p.send(Packet::Publish(m)).await?;
    }
    for i in 1..=20u16 {
        p.expect(ctx.patience(), "PUBACK", |x| match x {
            Packet::PubAck(a) if a.packet_id == i => Some(()),
            _ => None,
        })
        .await
        .map_err(|e| match e {
            Stop::Fail { observed, .. } => {
                Stop::Inconclusive(format!("publisher got no PUBACK {i}: {observed}"))
            }
            e => e,
        })?;
    }
    let got = collect_on(&mut s, &ctx, &t).await?;
    let seen: BTreeSet<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).to_string())
        .collect();
    let missing: Vec<u16> = (1..=20u16)
        .filter(|i| !seen.contains(&i.to_string()))
        .collect();
    if !missing.is_empty() {
        return Err(Stop::fail(
            "all 20 messages delivered while the subscription was replaced",
            format!("messages {missing:?} never arrived"),
        ));
    }
    Ok(())
}

async fn qos2_request_accepted(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let a = subscribe_raw(
        &mut c,
        &ctx,
        9,
        vec![sub(&ctx.topic("q2"), 2)],
        Properties::default(),
        "a SUBACK",
    )
    .await?;
    let maxq = ctx.caps().maximum_qos;
    match a.reason_codes.as_slice() {
        [rc] if rc.0 <= maxq => Ok(()),
        _ => Err(Stop::fail(
            format!("a granted QoS of at most {maxq} for a QoS 2 request"),
            format!("SUBACK [{}]", codes(&a)),
        )),
    }
}

async fn suback_max_packet_size(ctx: Ctx) -> Outcome {
    // Filters a broker may well refuse (reason strings are likelier on failures), and plain ones.
    let mut filters = vec![sub(&ctx.topic("a"), 0), sub(&ctx.topic("b"), 2)];
    if !ctx.caps().wildcards {
        filters.push(sub(&ctx.topic("+"), 0));
    }
    let packet = subscribe_packet(4, filters, long_answer());
    let rules = (v5!("MQTT-3.9.2-1"), v5!("MQTT-3.9.2-2"));
    ack_within_maximum_packet_size(&ctx, 24, packet, "a SUBACK", rules).await
}

/// User properties asking for a long answer.
fn long_answer() -> Properties {
    let mut props = Properties::default();
    props
        .user_properties
        .push(("mqtt-conform".into(), "ask for a long answer".into()));
    props
}

/// Connects with Maximum Packet Size `max` (and Request Problem Information 1), sends
/// `packet` and expects its acknowledgement (`ack`: "a SUBACK" / "an UNSUBACK") to fit:
/// an oversized one fails `rules.0` when it carries a Reason String, `rules.1` otherwise.
async fn ack_within_maximum_packet_size(
    ctx: &Ctx,
    max: u32,
    packet: Packet,
    ack: &str,
    rules: (mqtt_spec::StatementId, mqtt_spec::StatementId),
) -> Outcome {
    let (mut c, _) = ctx
        .connect_with("a", |p| {
            p.properties.maximum_packet_size = Some(max);
            p.properties.request_problem_information = Some(true);
        })
        .await?;
    let ty = match &packet {
        Packet::Subscribe(_) => PacketType::SubAck,
        _ => PacketType::UnsubAck,
    };
    c.send(packet).await?;
    let p = c
        .expect(ctx.patience(), ack, |p| {
            (p.packet_type() == ty).then(|| p.clone())
        })
        .await
        .map_err(|e| match e {
            Stop::Fail { observed, .. } => Stop::fail(
                format!("{ack}, without the properties that would exceed the Maximum Packet Size"),
                observed,
            ),
            e => e,
        })?;
    let size = wire_len(&p, ctx.version());
    if size > max as usize {
        let reason_string = match &p {
            Packet::SubAck(a) => a.properties.reason_string.is_some(),
            Packet::UnsubAck(a) => a.properties.reason_string.is_some(),
            _ => return Err(Stop::Error(format!("not {ack}"))),
        };
        let st = if reason_string { rules.0 } else { rules.1 };
        return Err(Stop::fail_at(
            st,
            format!("{ack} of at most {max} bytes (the client's Maximum Packet Size)"),
            format!("{ack} of {size} bytes: {}", describe(&p)),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3.10 UNSUBSCRIBE / 3.11 UNSUBACK
// ---------------------------------------------------------------------------------------------

fn unsubscribe_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "unsubscribe.unsuback.same-packet-id",
            "Every UNSUBSCRIBE is answered by an UNSUBACK carrying its packet identifier",
            body!(unsuback_packet_id),
        )
        .v311(&[v311!("MQTT-3.10.4-4"), v311!("MQTT-2.3.1-7")])
        .v5(&[
            v5!("MQTT-3.10.4-4"),
            v5!("MQTT-3.10.4-5"),
            v5!("MQTT-3.11.3-2"),
            v5!("MQTT-2.2.1-6"),
        ]),
        TestCase::new(
            "unsubscribe.unsuback.when-nothing-matched",
            "UNSUBACK is sent, with the packet identifier, even when no subscription matched",
            body!(unsuback_no_match),
        )
        .v311(&[v311!("MQTT-3.10.4-5")])
        .v5(&[v5!("MQTT-3.10.4-5"), v5!("MQTT-3.11.3-2")]),
        TestCase::new(
            "unsubscribe.unsuback.no-subscription-existed",
            "The UNSUBACK code for a filter with no subscription is 0x11 (No subscription existed)",
            body!(unsuback_0x11),
        )
        .v5(&[v5!("MQTT-3.11.3-2")])
        .should(),
        TestCase::new(
            "unsubscribe.stops-delivery",
            "After UNSUBACK no new message is delivered on the removed subscription",
            body!(unsubscribe_stops_delivery),
        )
        .v311(&[v311!("MQTT-3.10.4-2")])
        .v5(&[v5!("MQTT-3.10.4-2")]),
        TestCase::new(
            "unsubscribe.filters-compared-literally",
            "UNSUBSCRIBE removes only a subscription whose filter is identical, wildcards included",
            body!(unsubscribe_literal),
        )
        .v311(&[v311!("MQTT-3.10.4-1")])
        .v5(&[v5!("MQTT-3.10.4-1")])
        .requires(&[Cap::Wildcards]),
        TestCase::new(
            "unsubscribe.several-filters",
            "An UNSUBSCRIBE with several filters removes each of them and is answered by one UNSUBACK with codes in order",
            body!(unsubscribe_several),
        )
        .v311(&[v311!("MQTT-3.10.4-6")])
        .v5(&[v5!("MQTT-3.10.4-6"), v5!("MQTT-3.11.3-1"), v5!("MQTT-3.11.3-2")]),
        TestCase::new(
            "unsubscribe.inflight-qos2-completes",
            "A QoS 2 delivery under way when its subscription is removed is still completed",
            body!(unsubscribe_inflight_qos2),
        )
        .v311(&[v311!("MQTT-3.10.4-3")])
        .v5(&[v5!("MQTT-3.10.4-3")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "unsuback.properties-within-maximum-packet-size",
            "The UNSUBACK never exceeds the client's Maximum Packet Size (Reason String and User Properties are left out)",
            body!(unsuback_max_packet_size),
        )
        .v5(&[v5!("MQTT-3.11.2-1"), v5!("MQTT-3.11.2-2")]),
    ]
}

fn valid_unsuback_code(rc: ReasonCode) -> bool {
    // Table 3-9 (Unsubscribe Reason Codes).
    matches!(rc.0, 0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91)
}

/// 5.0: the UNSUBACK has `n` codes, all from the table; fails `stmt` otherwise.
fn check_unsuback_codes(
    ctx: &Ctx,
    a: &UnsubAck,
    n: usize,
    stmt: mqtt_spec::StatementId,
) -> Outcome {
    if !ctx.v5() {
        return Ok(());
    }
    if a.reason_codes.len() != n || a.reason_codes.iter().any(|c| !valid_unsuback_code(*c)) {
        return Err(Stop::fail_at(
            stmt,
            format!("{n} reason codes from the Unsubscribe Reason Code table"),
            format!("UNSUBACK codes [{}]", ucodes(a)),
        ));
    }
    Ok(())
}

async fn unsuback_packet_id(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("u");
    subscribe1(&mut c, &ctx, 1, &t, 0).await?;
    let a = unsubscribe(&mut c, &ctx, 0xA55A, &[&t], "an UNSUBACK").await?;
    if a.packet_id != 0xA55A {
        return Err(fail_at(
            &ctx,
            v311!("MQTT-3.10.4-4"),
            v5!("MQTT-3.10.4-5"),
            "UNSUBACK with packet identifier 0xA55A",
            format!("UNSUBACK with packet identifier 0x{:04X}", a.packet_id),
        ));
    }
    check_unsuback_codes(&ctx, &a, 1, v5!("MQTT-3.11.3-2"))
}

async fn unsuback_no_match(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let a = unsubscribe(
        &mut c,
        &ctx,
        0x3C3C,
        &[&ctx.topic("never")],
        "an UNSUBACK although nothing was subscribed",
    )
    .await?;
    if a.packet_id != 0x3C3C {
        return Err(Stop::fail(
            "UNSUBACK with packet identifier 0x3C3C",
            format!("UNSUBACK with packet identifier 0x{:04X}", a.packet_id),
        ));
    }
    check_unsuback_codes(&ctx, &a, 1, v5!("MQTT-3.11.3-2"))
}

async fn unsuback_0x11(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let a = unsubscribe(&mut c, &ctx, 7, &[&ctx.topic("never")], "an UNSUBACK").await?;
    if a.reason_codes.as_slice() != [ReasonCode::NO_SUBSCRIPTION_EXISTED] {
        return Err(Stop::fail(
            "UNSUBACK [0x11] (No subscription existed)",
            format!("UNSUBACK [{}]", ucodes(&a)),
        ));
    }
    Ok(())
}

async fn unsubscribe_stops_delivery(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("stop");
    subscribe1(&mut c, &ctx, 1, &t, 0).await?;
    publish(
        &mut c,
        &ctx,
        message(&t, b"before", capped(&ctx, 1), false),
        2,
    )
    .await?;
    if let Err(obs) = wait_pub(&mut c, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        return Err(Stop::Inconclusive(format!(
            "the subscription delivered nothing before UNSUBSCRIBE: {obs}"
        )));
    }
    unsubscribe(&mut c, &ctx, 3, &[&t], "an UNSUBACK")
        .await
        .map_err(|e| match e {
            Stop::Fail { observed, .. } => Stop::Inconclusive(format!("no UNSUBACK: {observed}")),
            e => e,
        })?;
    publish(
        &mut c,
        &ctx,
        message(&t, b"after", capped(&ctx, 1), false),
        4,
    )
    .await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "nothing delivered on the removed subscription",
            list(&got),
        ));
    }
    Ok(())
}

async fn unsubscribe_literal(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let wild = ctx.topic("l/+");
    let t = ctx.topic("l/x");
    subscribe1(&mut c, &ctx, 1, &wild, 0).await?;
    // A filter the wildcard covers, but not the same string: removes nothing.
    unsubscribe(&mut c, &ctx, 2, &[&t], "an UNSUBACK").await?;
    publish(
        &mut c,
        &ctx,
        message(&t, b"still", capped(&ctx, 1), false),
        3,
    )
    .await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if got.is_empty() {
        return Err(Stop::fail(
            format!("the subscription to {wild} kept after UNSUBSCRIBE {t}: the message delivered"),
            "nothing delivered",
        ));
    }
    // The identical string removes it.
    unsubscribe(&mut c, &ctx, 4, &[&wild], "an UNSUBACK").await?;
    publish(
        &mut c,
        &ctx,
        message(&t, b"gone", capped(&ctx, 1), false),
        5,
    )
    .await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            format!("the subscription removed by UNSUBSCRIBE {wild}: nothing delivered"),
            list(&got),
        ));
    }
    Ok(())
}

async fn unsubscribe_several(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let [a, b, x, d] = ["a", "b", "x", "d"].map(|s| ctx.topic(s));
    subscribe_ok(
        &mut c,
        &ctx,
        1,
        vec![sub(&a, 0), sub(&b, 0), sub(&d, 0)],
        Properties::default(),
    )
    .await?;
    let ack = unsubscribe(&mut c, &ctx, 2, &[&a, &x, &d], "one UNSUBACK").await?;
    if ack.packet_id != 2 {
        return Err(Stop::fail(
            "an UNSUBACK with packet identifier 2",
            format!("UNSUBACK id {}", ack.packet_id),
        ));
    }
    if ctx.v5() {
        check_unsuback_codes(&ctx, &ack, 3, v5!("MQTT-3.11.3-2"))?;
        // a and d existed, x did not: a 0x11 anywhere but the middle is out of order.
        let c0 = ack.reason_codes.first().map(|c| c.0);
        let c2 = ack.reason_codes.get(2).map(|c| c.0);
        if c0 == Some(0x11) || c2 == Some(0x11) {
            return Err(Stop::fail_at(
                v5!("MQTT-3.11.3-1"),
                "codes in filter order: [0x00, 0x11, 0x00] (existing, missing, existing)",
                format!("UNSUBACK [{}]", ucodes(&ack)),
            ));
        }
    }
    for (i, t) in [&a, &b, &d].iter().enumerate() {
        publish(
            &mut c,
            &ctx,
            message(t, b"m", capped(&ctx, 1), false),
            10 + i as u16,
        )
        .await?;
    }
    let (got, other) = collect_all(&mut c, &ctx).await?;
    let on = |t: &str| got.iter().filter(|m| *m.topic == *t).count();
    if on(&a) > 0 || on(&d) > 0 {
        return Err(Stop::fail(
            format!("nothing on {a} or {d} (both unsubscribed in one UNSUBSCRIBE)"),
            list(&got),
        ));
    }
    if on(&b) == 0 {
        return Err(Stop::fail(
            format!("the message on {b}, which stayed subscribed"),
            list(&got),
        ));
    }
    if let Some(p) = other
        .iter()
        .find(|p| p.packet_type() == PacketType::UnsubAck)
    {
        return Err(Stop::fail(
            "a single UNSUBACK for the UNSUBSCRIBE",
            format!("another {}", describe(p)),
        ));
    }
    Ok(())
}

async fn unsubscribe_inflight_qos2(ctx: Ctx) -> Outcome {
    let mut s = ctx.connect("s").await?;
    let mut p = ctx.connect("p").await?;
    let t = ctx.topic("inflight");
    let g = subscribe1(&mut s, &ctx, 1, &t, 2).await?;
    if g != 2 {
        return Err(Stop::Inconclusive(format!("QoS 2 requested, {g} granted")));
    }
    publish(&mut p, &ctx, message(&t, b"q2", 2, false), 1).await?;
    // Receive the PUBLISH but do not answer yet.
    let m = s
        .expect(ctx.patience(), "the QoS 2 PUBLISH", |x| match x {
            Packet::Publish(m) if *m.topic == *t => Some(m.clone()),
            _ => None,
        })
        .await
        .map_err(|e| match e {
            Stop::Fail { observed, .. } => Stop::Inconclusive(format!("no delivery: {observed}")),
            e => e,
        })?;
    if m.qos != QoS::ExactlyOnce {
        return Err(Stop::Inconclusive(format!("delivered at QoS {}", m.qos)));
    }
    unsubscribe(&mut s, &ctx, 2, &[&t], "an UNSUBACK")
        .await
        .map_err(|e| match e {
            Stop::Fail { observed, .. } => Stop::Inconclusive(format!("no UNSUBACK: {observed}")),
            e => e,
        })?;
    let id = m.packet_id;
    s.send(Packet::PubRec(PubRec::new(id))).await?;
    s.expect(
        ctx.patience(),
        &format!("PUBREL {id}: the QoS 2 delivery continues after UNSUBSCRIBE"),
        |x| match x {
            Packet::PubRel(r) if r.packet_id == id => Some(()),
            _ => None,
        },
    )
    .await?;
    s.send(Packet::PubComp(PubComp::new(id))).await?;
    Ok(())
}

async fn unsuback_max_packet_size(ctx: Ctx) -> Outcome {
    // Filters never subscribed: a broker may explain 0x11 with a Reason String.
    let filters = [ctx.topic("n1"), ctx.topic("n2")];
    let packet = Packet::Unsubscribe(Unsubscribe {
        packet_id: 6,
        filters: filters.iter().map(|f| f.as_str().into()).collect(),
        properties: long_answer().into(),
    });
    let rules = (v5!("MQTT-3.11.2-1"), v5!("MQTT-3.11.2-2"));
    ack_within_maximum_packet_size(&ctx, 16, packet, "an UNSUBACK", rules).await
}

// ---------------------------------------------------------------------------------------------
// 4.7 topics
// ---------------------------------------------------------------------------------------------

fn topic_rows() -> Vec<Row<Match>> {
    vec![
        Row::new(
            "topics.wildcard.plus-one-level",
            "'+' matches exactly one level, an empty one included, and nothing more",
            Match {
                filters: &["{p}/+/c"],
                yes: &["{p}/b/c", "{p}//c"],
                no: &["{p}/b/d/c", "{p}/c", "{p}/b/c/d", "{p}/b/cc"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-3"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-2"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.wildcard.plus-last-level",
            "'+' as the last level matches one more level, empty or not",
            Match {
                filters: &["{p}/a/+"],
                yes: &["{p}/a/b", "{p}/a/"],
                no: &["{p}/a", "{p}/a/b/c", "{p}/ab"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-3"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-2"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.wildcard.plus-first-level",
            "'+' as the first level matches any first level, an empty one included",
            Match {
                filters: &["+/{rest}/x"],
                yes: &["{p}/x", "other/{rest}/x", "/{rest}/x"],
                no: &["{p}/x/y", "a/b/{rest}/x"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-3"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-2"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.wildcard.plus-twice",
            "Several '+' levels each match exactly one level",
            Match {
                filters: &["{p}/+/+"],
                yes: &["{p}/a/b", "{p}/a/"],
                no: &["{p}/a", "{p}/a/b/c"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-3"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-2"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.wildcard.hash-matches-parent-and-children",
            "'a/#' matches 'a' itself and every topic below it, and nothing beside it",
            Match {
                filters: &["{p}/a/#"],
                yes: &["{p}/a", "{p}/a/b", "{p}/a/b/c", "{p}/a/"],
                no: &["{p}/ab", "{p}/b/a", "{p}"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-2"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-1"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.wildcard.plus-then-hash",
            "'+/#' needs the '+' level to exist and then matches everything below",
            Match {
                filters: &["{p}/+/#"],
                yes: &["{p}/a", "{p}/a/b/c", "{p}/"],
                no: &["{p}"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.1-2"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.1-1"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")])
        .requires(&[Cap::Wildcards]),
        Row::own("topics.dollar.not-matched-by-leading-wildcard", "Filters starting with '#' or '+' never deliver topics starting with '$'", body!(dollar_topics))
        .v311(&[v311!("MQTT-4.7.2-1")])
        .v5(&[v5!("MQTT-4.7.2-1")])
        .requires(&[Cap::Wildcards]),
        Row::new(
            "topics.case-sensitive",
            "Topic matching is case sensitive",
            Match {
                filters: &["{p}/Case/Topic"],
                yes: &["{p}/Case/Topic"],
                no: &["{p}/case/topic", "{p}/CASE/TOPIC"],
                wrong: (v311!("MQTT-4.7.3-4"), v5!("MQTT-4.7.3-4")),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-4"), v311!("MQTT-4.5.0-1")])
        .v5(&[v5!("MQTT-4.7.3-4"), v5!("MQTT-4.5.0-1")]),
        Row::new(
            "topics.no-unicode-normalization",
            "Topics are compared as sent: canonically equivalent but different strings do not match",
            Match {
                filters: &["{p}/caf\u{e9}", "{p}/\u{2126}"],
                yes: &["{p}/caf\u{e9}", "{p}/\u{2126}"],
                no: &["{p}/cafe\u{301}", "{p}/\u{3a9}"],
                wrong: (v311!("MQTT-4.7.3-4"), v5!("MQTT-4.7.3-4")),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-4"), v311!("MQTT-4.5.0-1")])
        .v5(&[v5!("MQTT-4.7.3-4"), v5!("MQTT-4.5.0-1")]),
        Row::new(
            "topics.spaces-are-significant",
            "Spaces are ordinary characters of a topic and take part in matching",
            Match {
                filters: &["{p}/with space/ x "],
                yes: &["{p}/with space/ x "],
                no: &["{p}/withspace/x", "{p}/with space/x", "{p}/with  space/ x "],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-4"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.3-4"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")]),
        Row::new(
            "topics.byte-order-mark-kept",
            "A U+FEFF (EF BB BF) inside a topic is part of it: neither dropped nor ignored in matching",
            Match {
                filters: &["{p}/\u{feff}bom", "\u{feff}{p}/lead"],
                yes: &["{p}/\u{feff}bom", "\u{feff}{p}/lead"],
                no: &["{p}/bom", "{p}/lead"],
                wrong: (v311!("MQTT-1.5.3-3"), v5!("MQTT-1.5.4-3")),
            },
        )
        .v311(&[v311!("MQTT-1.5.3-3"), v311!("MQTT-4.5.0-1")])
        .v5(&[v5!("MQTT-1.5.4-3"), v5!("MQTT-4.5.0-1")]),
        // It checks delivery ([MQTT-4.5.0-1]) with the topic name intact ([MQTT-3.3.2-3]: the
        // name sent matches the filter, here the whole name); [MQTT-4.7.3-3] is the limit
        // whose boundary it exercises (65535 bytes is allowed), not a rule it can see broken.
        Row::own("topics.longest-topic", "A topic filter and name of 65535 bytes, the longest encodable, match and are forwarded intact", body!(longest_topic))
        .v5(&[v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3"), v5!("MQTT-4.7.3-3")]),
        Row::new(
            "topics.empty-levels-are-distinct",
            "Empty levels and leading or trailing '/' make distinct topics",
            Match {
                filters: &["{p}//a/", "/{p}"],
                yes: &["{p}//a/", "/{p}"],
                no: &["{p}/a", "{p}/a/", "{p}//a", "{p}/"],
                wrong: (v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            },
        )
        .v311(&[v311!("MQTT-4.7.3-4"), v311!("MQTT-4.5.0-1"), v311!("MQTT-3.3.2-3")])
        .v5(&[v5!("MQTT-4.7.3-4"), v5!("MQTT-4.5.0-1"), v5!("MQTT-3.3.2-3")]),
    ]
}

/// A topic matching case: the filters to subscribe to, the topics that have to be delivered
/// and those that must not be. `{p}` stands for the test's topic prefix, `{rest}` for that
/// prefix without its first level.
struct Match {
    filters: &'static [&'static str],
    yes: &'static [&'static str],
    no: &'static [&'static str],
    /// The statements (3.1.1, 5.0) a delivery of a `no` topic breaks.
    wrong: (mqtt_spec::StatementId, mqtt_spec::StatementId),
}

/// The topic tests: [`Match`] rows run by [`matching`].
struct Topics;

impl Table for Topics {
    type Kind = Match;

    fn rows() -> Vec<Row<Match>> {
        topic_rows()
    }

    fn run(ctx: Ctx, m: Match) -> BoxFuture<'static, Outcome> {
        Box::pin(async move {
            let p = ctx.topic("w");
            let rest = p.split_once('/').map(|(_, r)| r).unwrap_or(&p).to_string();
            let expand = |list: &[&str]| -> Vec<String> {
                list.iter()
                    .map(|t| t.replace("{p}", &p).replace("{rest}", &rest))
                    .collect()
            };
            let (filters, yes, no) = (expand(m.filters), expand(m.yes), expand(m.no));
            matching(&ctx, &filters, &yes, &no, m.wrong).await
        })
    }
}

/// Subscribes to `filters`, publishes on every topic of `yes` and `no`, and checks that each
/// `yes` topic was delivered (fails MQTT-4.5.0-1) and no `no` topic was (fails `wrong`: its
/// 3.1.1 and 5.0 ids). A refused filter makes the test inconclusive: a server may refuse a
/// valid filter (policy; 5.0 [MQTT-3.8.4-7] lets the SUBACK say the subscription failed,
/// 3.1.1 has 0x80). A row whose filters or topics fall under the profile's `refused_topics`
/// skips.
async fn matching(
    ctx: &Ctx,
    filters: &[String],
    yes: &[String],
    no: &[String],
    wrong: (mqtt_spec::StatementId, mqtt_spec::StatementId),
) -> Outcome {
    if let Some((name, refused)) = filters
        .iter()
        .chain(yes)
        .chain(no)
        .find_map(|t| ctx.profile().refused(t).map(|r| (t, r)))
    {
        return Err(Stop::Skip(format!(
            "the profile lists {refused:?} among the topics the broker refuses: the test uses {name:?}"
        )));
    }
    let mut c = ctx.connect("a").await?;
    let a = subscribe_raw(
        &mut c,
        ctx,
        1,
        filters.iter().map(|f| sub(f, 0)).collect(),
        Properties::default(),
        "a SUBACK",
    )
    .await?;
    if a.reason_codes.len() != filters.len() {
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-3.8.4-5"), v5!("MQTT-3.8.4-6")),
            format!("a SUBACK with one code for each of the filters {filters:?}"),
            format!("SUBACK [{}]", codes(&a)),
        ));
    }
    if a.reason_codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "the broker refused a filter the test needs (allowed, e.g. by policy): filters {filters:?}, SUBACK [{}]",
            codes(&a)
        )));
    }
    let q = capped(ctx, 1);
    for (i, t) in yes.iter().chain(no).enumerate() {
        publish(&mut c, ctx, message(t, b"m", q, false), 10 + i as u16).await?;
    }
    let got = collect(&mut c, ctx).await?;
    for t in yes {
        if !got.iter().any(|m| *m.topic == **t) {
            return Err(fail_at(
                ctx,
                v311!("MQTT-4.5.0-1"),
                v5!("MQTT-4.5.0-1"),
                format!("the message on {t:?} delivered (it matches {filters:?})"),
                list(&got),
            ));
        }
    }
    if let Some(m) = got.iter().find(|m| no.iter().any(|t| *m.topic == **t)) {
        return Err(fail_at(
            ctx,
            wrong.0,
            wrong.1,
            format!("no message on topics that do not match {filters:?}"),
            format!("delivered {}", list(std::slice::from_ref(m))),
        ));
    }
    if let Some(m) = got
        .iter()
        .find(|m| !yes.iter().chain(no).any(|t| *m.topic == **t))
    {
        return Err(fail_at(
            ctx,
            wrong.0,
            wrong.1,
            "only the topics published by the test",
            format!("delivered {}", list(std::slice::from_ref(m))),
        ));
    }
    Ok(())
}

async fn longest_topic(ctx: Ctx) -> Outcome {
    if ctx.caps().maximum_packet_size.is_some_and(|m| m < 140_000) {
        return Err(Stop::Skip(
            "the broker's Maximum Packet Size is below a 65535-byte topic in SUBSCRIBE and PUBLISH"
                .into(),
        ));
    }
    let p = ctx.topic("long/");
    let t = format!("{p}{}", "x".repeat(65535usize.saturating_sub(p.len())));
    let mut c = ctx.connect("a").await?;
    subscribe1(&mut c, &ctx, 1, &t, 0).await?;
    publish(
        &mut c,
        &ctx,
        message(&t, b"long", capped(&ctx, 1), false),
        2,
    )
    .await?;
    let got = collect(&mut c, &ctx).await?;
    let observed = format!(
        "{} messages, topic lengths {:?}",
        got.len(),
        got.iter().map(|m| m.topic.len()).collect::<Vec<_>>()
    );
    if got.is_empty() {
        return Err(Stop::fail(
            "the message on the 65535-byte topic delivered to its subscription",
            observed,
        ));
    }
    if got.iter().any(|m| *m.topic != *t) {
        return Err(Stop::fail_at(
            v5!("MQTT-3.3.2-3"),
            "the message on the 65535-byte topic, with its full topic name",
            observed,
        ));
    }
    Ok(())
}

async fn dollar_topics(ctx: Ctx) -> Outcome {
    let p = ctx.topic("d");
    let dollar = format!("${p}");
    let sentinel = ctx.topic("d/after");
    let rest = p.split_once('/').map(|(_, r)| r).unwrap_or(&p).to_string();
    // W holds only filters starting with a wildcard; E the exact '$' topic (the control).
    let mut w = ctx.connect("w").await?;
    let mut e = ctx.connect("e").await?;
    let a = subscribe_raw(
        &mut w,
        &ctx,
        1,
        vec![sub("#", 0), sub(&format!("+/{rest}"), 0)],
        Properties::default(),
        "a SUBACK",
    )
    .await?;
    if a.reason_codes.len() != 2 || a.reason_codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "subscriptions to '#' and '+/...' refused: [{}]",
            codes(&a)
        )));
    }
    subscribe1(&mut e, &ctx, 1, &dollar, 0).await?;
    let q = capped(&ctx, 1);
    publish(&mut e, &ctx, message(&dollar, b"$", q, false), 2).await?;
    if let Err(obs) = wait_pub(&mut e, &ctx, ctx.patience(), |m| *m.topic == *dollar).await? {
        return Err(Stop::Inconclusive(format!(
            "the broker does not deliver the client-published topic {dollar} even to its exact subscriber: {obs}"
        )));
    }
    // A later message that '#' does match marks the point by which the '$' message would
    // have arrived; '#' also carries every other test's traffic, so W never falls quiet.
    publish(&mut e, &ctx, message(&sentinel, b"s", q, false), 3).await?;
    let mut seen = Vec::new();
    let found = wait_pub(&mut w, &ctx, ctx.patience(), |m| {
        if m.topic.starts_with('$') {
            seen.push(m.clone());
        }
        *m.topic == *sentinel
    })
    .await?;
    if let Err(obs) = found {
        return Err(Stop::Inconclusive(format!(
            "'#' did not deliver the ordinary topic {sentinel}: {obs}"
        )));
    }
    // Then a fixed window for stragglers (topics are ordered only one by one).
    let deadline = tokio::time::Instant::now() + ctx.quiet();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match w.next(left).await? {
            Some(Incoming::Packet(Packet::Publish(m))) => {
                ack(&mut w, &ctx, &m).await?;
                if m.topic.starts_with('$') {
                    seen.push(m);
                }
            }
            Some(Incoming::Packet(_)) => {}
            Some(other) => {
                return Err(Stop::fail(
                    "the connection stays open",
                    crate::client::describe_incoming(&other),
                ))
            }
            None => break,
        }
    }
    if let Some(m) = seen.first() {
        return Err(Stop::fail(
            "no topic starting with '$' on the filters '#' and '+/...'",
            format!("delivered {}", list(std::slice::from_ref(m))),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Retained messages
// ---------------------------------------------------------------------------------------------

fn retained_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "retain.stored-and-sent-on-subscribe",
            "A retained message outlives its publisher's session and is sent to a later subscriber with RETAIN 1 and its QoS",
            body!(retained_stored),
        )
        .v311(&[v311!("MQTT-3.3.1-5"), v311!("MQTT-3.3.1-8"), v311!("MQTT-3.1.2-7")])
        .v5(&[v5!("MQTT-3.3.1-5"), v5!("MQTT-3.3.1-9"), v5!("MQTT-3.8.4-8")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "retain.every-matching-topic",
            "A new wildcard subscription receives the retained message of every topic it matches",
            body!(retained_every_topic),
        )
        .v311(&[v311!("MQTT-3.3.1-6")])
        .v5(&[v5!("MQTT-3.3.1-9")])
        .requires(&[Cap::Retain, Cap::Wildcards]),
        TestCase::new(
            "retain.replaced-by-newer",
            "A newer retained message replaces the one stored for its topic",
            body!(retained_replaced),
        )
        .v311(&[v311!("MQTT-3.3.1-6")])
        .v5(&[v5!("MQTT-3.3.1-5")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "retain.qos0-replaces",
            "A retained QoS 0 message discards the previous retained message (it may itself be dropped later)",
            body!(retained_qos0_replaces),
        )
        .v311(&[v311!("MQTT-3.3.1-7")])
        .v5(&[v5!("MQTT-3.3.1-5")])
        .requires(&[Cap::Retain, Cap::QoS1]),
        TestCase::new(
            "retain.empty-payload-clears",
            "A retained message with an empty payload is forwarded as usual and removes the stored retained message",
            body!(retained_empty_clears),
        )
        .v311(&[v311!("MQTT-3.3.1-10")])
        .v5(&[v5!("MQTT-3.3.1-6")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "retain.empty-payload-not-stored",
            "A retained message with an empty payload is forwarded as usual but never stored",
            body!(retained_empty_not_stored),
        )
        .v311(&[v311!("MQTT-3.3.1-11"), v311!("MQTT-3.3.1-10")])
        .v5(&[v5!("MQTT-3.3.1-7"), v5!("MQTT-3.3.1-6")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "retain.non-retained-leaves-stored",
            "A PUBLISH with RETAIN 0 neither becomes nor replaces nor clears the retained message",
            body!(retained_untouched_by_plain),
        )
        .v311(&[v311!("MQTT-3.3.1-12")])
        .v5(&[v5!("MQTT-3.3.1-8")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "retain.forwarded-with-retain-0",
            "A retained message forwarded to an existing subscription carries RETAIN 0 (5.0: Retain As Published 0)",
            body!(retained_forwarded_retain0),
        )
        .v311(&[v311!("MQTT-3.3.1-9")])
        .v5(&[v5!("MQTT-3.3.1-12")])
        .requires(&[Cap::Retain]),
    ]
}

/// Publishes a retained message from a separate client that then disconnects.
async fn put_retained(ctx: &Ctx, topic: &str, payload: &[u8], q: u8) -> Outcome {
    ctx.note_retained(topic);
    let mut p = ctx.connect("pub").await?;
    publish(&mut p, ctx, message(topic, payload, q, true), 1).await?;
    p.disconnect().await
}

async fn retained_stored(ctx: Ctx) -> Outcome {
    let t = ctx.topic("state");
    let q = capped(&ctx, 1);
    // The publisher's clean session ends before anyone subscribes.
    put_retained(&ctx, &t, b"kept", q).await?;
    let mut s = ctx.connect("s").await?;
    let g = subscribe1(&mut s, &ctx, 1, &t, q).await?;
    let m = expect_pub(&mut s, &ctx, &t, "the retained message sent on subscribe").await?;
    if &m.payload[..] != b"kept" {
        return Err(Stop::fail("the payload \"kept\"", list(&[m])));
    }
    if !m.retain {
        return Err(fail_at(
            &ctx,
            v311!("MQTT-3.3.1-8"),
            v5!("MQTT-3.3.1-9"),
            "RETAIN 1 on a message sent because of a new subscription",
            list(&[m]),
        ));
    }
    let want = q.min(g);
    if m.qos.as_u8() != want {
        return Err(fail_at(
            &ctx,
            v311!("MQTT-3.3.1-5"),
            v5!("MQTT-3.8.4-8"),
            format!("QoS {want}: the stored QoS {q} limited by the granted QoS {g}"),
            list(&[m]),
        ));
    }
    Ok(())
}

async fn retained_every_topic(ctx: Ctx) -> Outcome {
    let a = ctx.topic("r/a");
    let b = ctx.topic("r/b/c");
    // QoS 1 where the broker allows it: a retained QoS 0 message may be discarded at any time
    // (3.3.1.3; [MQTT-3.3.1-7] in 3.1.1).
    let q = capped(&ctx, 1);
    put_retained(&ctx, &a, b"A", q).await?;
    put_retained(&ctx, &b, b"B", q).await?;
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &ctx.topic("r/#"), 0).await?;
    let got = collect(&mut s, &ctx).await?;
    for t in [&a, &b] {
        if !got.iter().any(|m| *m.topic == **t && m.retain) {
            return Err(Stop::fail(
                format!("the retained messages of {a} and {b}"),
                list(&got),
            ));
        }
    }
    Ok(())
}

async fn retained_replaced(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rep");
    let q = capped(&ctx, 1);
    ctx.note_retained(&t);
    let mut p = ctx.connect("pub").await?;
    publish(&mut p, &ctx, message(&t, b"one", q, true), 1).await?;
    publish(&mut p, &ctx, message(&t, b"two", q, true), 2).await?;
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &t, 0).await?;
    let got = collect_on(&mut s, &ctx, &t).await?;
    if got.len() != 1 || got.iter().any(|m| &m.payload[..] != b"two") {
        return Err(Stop::fail(
            "one retained message, the newer one (\"two\")",
            list(&got),
        ));
    }
    Ok(())
}

async fn retained_qos0_replaces(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rq0");
    ctx.note_retained(&t);
    let mut p = ctx.connect("pub").await?;
    publish(&mut p, &ctx, message(&t, b"old", 1, true), 1).await?;
    publish(&mut p, &ctx, message(&t, b"new", 0, true), 2).await?;
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &t, 1).await?;
    let got = collect_on(&mut s, &ctx, &t).await?;
    // The QoS 0 message may itself have been discarded, but the old one may not come back.
    if got.iter().any(|m| &m.payload[..] != b"new") || got.len() > 1 {
        return Err(Stop::fail(
            "the retained QoS 0 message \"new\", or nothing; never \"old\"",
            list(&got),
        ));
    }
    Ok(())
}

async fn retained_empty_clears(ctx: Ctx) -> Outcome {
    let t = ctx.topic("clr");
    put_retained(&ctx, &t, b"x", 0).await?;
    // An existing subscriber sees the empty message forwarded.
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &t, 0).await?;
    if let Err(obs) = wait_pub(&mut s, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        return Err(Stop::Inconclusive(format!(
            "the retained message was not delivered on subscribe: {obs}"
        )));
    }
    let mut p = ctx.connect("pub").await?;
    publish(&mut p, &ctx, message(&t, b"", capped(&ctx, 1), true), 2).await?;
    match wait_pub(&mut s, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(m) if m.payload.is_empty() => {}
        Ok(m) => {
            return Err(Stop::fail(
                "the empty retained message forwarded to the existing subscriber",
                list(&[m]),
            ))
        }
        Err(obs) => {
            return Err(Stop::fail(
                "the empty retained message forwarded to the existing subscriber",
                obs,
            ))
        }
    }
    // A new subscriber gets nothing.
    let mut n = ctx.connect("n").await?;
    subscribe1(&mut n, &ctx, 1, &t, 0).await?;
    let got = collect_on(&mut n, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "no retained message after the empty retained PUBLISH",
            list(&got),
        ));
    }
    Ok(())
}

async fn retained_empty_not_stored(ctx: Ctx) -> Outcome {
    let t = ctx.topic("empty");
    // A subscriber already in place sees the empty message forwarded like any other.
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &t, 0).await?;
    put_retained(&ctx, &t, b"", capped(&ctx, 1)).await?;
    match wait_pub(&mut s, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(m) if m.payload.is_empty() => {}
        Ok(m) => {
            return Err(fail_at(
                &ctx,
                v311!("MQTT-3.3.1-10"),
                v5!("MQTT-3.3.1-6"),
                "the empty retained message forwarded unchanged to the existing subscriber",
                list(&[m]),
            ))
        }
        Err(obs) => {
            return Err(fail_at(
                &ctx,
                v311!("MQTT-3.3.1-10"),
                v5!("MQTT-3.3.1-6"),
                "the empty retained message forwarded to the existing subscriber",
                obs,
            ))
        }
    }
    // A later subscriber gets nothing: the empty message was not stored.
    let mut n = ctx.connect("n").await?;
    subscribe1(&mut n, &ctx, 1, &t, 0).await?;
    let got = collect_on(&mut n, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "no retained message (an empty payload is never stored)",
            list(&got),
        ));
    }
    Ok(())
}

async fn retained_untouched_by_plain(ctx: Ctx) -> Outcome {
    let t = ctx.topic("plain");
    let q = capped(&ctx, 1);
    put_retained(&ctx, &t, b"keep", q).await?;
    let mut p = ctx.connect("p2").await?;
    publish(&mut p, &ctx, message(&t, b"live", q, false), 1).await?;
    publish(&mut p, &ctx, message(&t, b"", q, false), 2).await?;
    let mut n = ctx.connect("n").await?;
    subscribe1(&mut n, &ctx, 1, &t, 0).await?;
    let got = collect_on(&mut n, &ctx, &t).await?;
    if got.len() != 1 || got.iter().any(|m| &m.payload[..] != b"keep") {
        return Err(Stop::fail(
            "exactly the retained message \"keep\" (the RETAIN 0 messages change nothing)",
            list(&got),
        ));
    }
    Ok(())
}

async fn retained_forwarded_retain0(ctx: Ctx) -> Outcome {
    let t = ctx.topic("fwd");
    let mut s = ctx.connect("s").await?;
    subscribe1(&mut s, &ctx, 1, &t, 0).await?;
    ctx.note_retained(&t);
    let mut p = ctx.connect("pub").await?;
    publish(&mut p, &ctx, message(&t, b"r", capped(&ctx, 1), true), 1).await?;
    let m = expect_pub(
        &mut s,
        &ctx,
        &t,
        "the message forwarded to the existing subscription",
    )
    .await?;
    if m.retain {
        return Err(Stop::fail(
            "RETAIN 0 on a message forwarded to an established subscription",
            list(&[m]),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5.0 subscription options
// ---------------------------------------------------------------------------------------------

fn option_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "overlap.highest-qos-of-matching-subscriptions",
            "A message matching several subscriptions of a client is delivered at the highest of their QoS",
            body!(overlap_max_qos),
        )
        .v311(&[v311!("MQTT-3.3.5-1")])
        .v5(&[v5!("MQTT-3.3.4-2")])
        .requires(&[Cap::QoS1, Cap::Wildcards]),
        TestCase::new(
            "options.no-local",
            "With No Local, a client's own messages are not sent back to it; other clients' messages still are",
            body!(no_local),
        )
        .v5(&[v5!("MQTT-3.8.3-3"), v5!("MQTT-4.5.0-1")]),
        TestCase::new(
            "options.retain-as-published",
            "With Retain As Published, forwarded messages keep the publisher's RETAIN flag",
            body!(retain_as_published),
        )
        .v5(&[v5!("MQTT-3.3.1-13")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "options.retain-as-published.shared",
            "Retain As Published holds for a shared subscription too",
            body!(retain_as_published_shared),
        )
        .v5(&[v5!("MQTT-3.3.1-13")])
        .requires(&[Cap::Retain, Cap::SharedSubscriptions]),
        TestCase::new(
            "options.retain-handling-1",
            "Retain Handling 1 sends retained messages for a new subscription only, not when it is made again",
            body!(retain_handling_1),
        )
        .v5(&[v5!("MQTT-3.3.1-10")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "options.retain-handling-2",
            "Retain Handling 2 sends no retained message on subscribe",
            body!(retain_handling_2),
        )
        .v5(&[v5!("MQTT-3.3.1-11"), v5!("MQTT-3.3.1-12")])
        .requires(&[Cap::Retain]),
        TestCase::new(
            "subscribe.refused.wildcards-unsupported",
            "A broker without wildcard support refuses wildcard subscriptions",
            body!(refused_wildcards),
        )
        .v311(&[v311!("MQTT-3.8.3-2")])
        .v5(&[v5!("MQTT-4.13.1-1")]),
        TestCase::new(
            "subscribe.refused.subscription-ids-unsupported",
            "A broker without subscription identifiers refuses a SUBSCRIBE carrying one (0xA1)",
            body!(refused_subscription_ids),
        )
        .v5(&[v5!("MQTT-4.13.1-1")]),
        TestCase::new(
            "subscribe.refused.shared-unsupported",
            "A broker without shared subscriptions refuses a $share filter (0x9E)",
            body!(refused_shared),
        )
        .v5(&[v5!("MQTT-4.13.1-1")]),
    ]
}

async fn overlap_max_qos(ctx: Ctx) -> Outcome {
    let hi = capped(&ctx, 2);
    let mut c = ctx.connect("a").await?;
    // Case 1: the wildcard at QoS 0, the exact filter high; case 2 the other way round.
    let t1 = ctx.topic("o1/x");
    let t2 = ctx.topic("o2/y");
    let filters = vec![
        sub(&ctx.topic("o1/+"), 0),
        sub(&t1, hi),
        sub(&ctx.topic("o2/+"), hi),
        sub(&t2, 0),
    ];
    let g = subscribe_ok(&mut c, &ctx, 1, filters, Properties::default()).await?;
    let (g1, g2) = match g.as_slice() {
        [a, b, c, d] => ((*a, *b), (*c, *d)),
        _ => return Err(Stop::Error("four granted values expected".into())),
    };
    publish(&mut c, &ctx, message(&t1, b"1", hi, false), 10).await?;
    publish(&mut c, &ctx, message(&t2, b"2", hi, false), 11).await?;
    let got = collect(&mut c, &ctx).await?;
    for (t, (ga, gb)) in [(&t1, g1), (&t2, g2)] {
        let on: Vec<Publish> = got.iter().filter(|m| *m.topic == **t).cloned().collect();
        let best = hi.min(ga.max(gb));
        if !on.iter().any(|m| m.qos.as_u8() == best) {
            return Err(Stop::fail(
                format!(
                    "the QoS {hi} message on {t} delivered at QoS {best} (the highest granted of {ga} and {gb})"
                ),
                list(&on),
            ));
        }
        let allowed = [hi.min(ga), hi.min(gb)];
        if let Some(m) = on.iter().find(|m| !allowed.contains(&m.qos.as_u8())) {
            return Err(Stop::fail(
                format!("extra copies only at the QoS of one matching subscription {allowed:?}"),
                list(std::slice::from_ref(m)),
            ));
        }
    }
    Ok(())
}

async fn no_local(ctx: Ctx) -> Outcome {
    let t = ctx.topic("nl");
    let mut a = ctx.connect("a").await?;
    let mut b = ctx.connect("b").await?;
    subscribe_ok(
        &mut a,
        &ctx,
        1,
        vec![sub_opts(
            &t,
            0,
            true,
            false,
            RetainHandling::SendAtSubscribe,
        )],
        Properties::default(),
    )
    .await?;
    subscribe1(&mut b, &ctx, 1, &t, 0).await?;
    let q = capped(&ctx, 1);
    publish(&mut a, &ctx, message(&t, b"own", q, false), 2).await?;
    if let Err(obs) = wait_pub(&mut b, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        return Err(Stop::Inconclusive(format!(
            "the other subscriber did not receive the message: {obs}"
        )));
    }
    let got = collect_on(&mut a, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "the publisher's own message not sent back on its No Local subscription",
            list(&got),
        ));
    }
    publish(&mut b, &ctx, message(&t, b"other", q, false), 3).await?;
    match wait_pub(&mut a, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(m) if &m.payload[..] == b"other" => Ok(()),
        Ok(m) => Err(Stop::fail_at(
            v5!("MQTT-3.8.3-3"),
            "only the other client's message \"other\"",
            list(&[m]),
        )),
        Err(obs) => Err(Stop::fail_at(
            v5!("MQTT-4.5.0-1"),
            "another client's message delivered on the No Local subscription",
            obs,
        )),
    }
}

async fn retain_as_published(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rap");
    rap_forwarding(&ctx, &t, &t).await
}

/// The same through a shared subscription (4.8.2: it behaves as a non-shared one but for the
/// retained messages sent at subscription).
async fn retain_as_published_shared(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rap-shared");
    rap_forwarding(&ctx, &format!("$share/rap/{t}"), &t).await
}

/// Subscribes to `filter` with Retain As Published and checks the RETAIN flag of a retained
/// and a plain message published to `t`.
async fn rap_forwarding(ctx: &Ctx, filter: &str, t: &str) -> Outcome {
    let ctx = ctx.clone();
    let t = t.to_string();
    let mut s = ctx.connect("s").await?;
    subscribe_ok(
        &mut s,
        &ctx,
        1,
        vec![sub_opts(
            filter,
            0,
            false,
            true,
            RetainHandling::SendAtSubscribe,
        )],
        Properties::default(),
    )
    .await?;
    ctx.note_retained(&t);
    let mut p = ctx.connect("p").await?;
    let q = capped(&ctx, 1);
    publish(&mut p, &ctx, message(&t, b"r", q, true), 1).await?;
    let m = expect_pub(&mut s, &ctx, &t, "the retained message forwarded").await?;
    if !m.retain {
        return Err(Stop::fail(
            "RETAIN 1, as published (Retain As Published = 1)",
            list(&[m]),
        ));
    }
    publish(&mut p, &ctx, message(&t, b"n", q, false), 2).await?;
    let m = expect_pub(&mut s, &ctx, &t, "the plain message forwarded").await?;
    if m.retain {
        return Err(Stop::fail(
            "RETAIN 0, as published (Retain As Published = 1)",
            list(&[m]),
        ));
    }
    Ok(())
}

async fn retain_handling_1(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rh1");
    // QoS 1 where allowed: a retained QoS 0 message may be discarded at any time (3.3.1.3).
    put_retained(&ctx, &t, b"r", capped(&ctx, 1)).await?;
    let mut s = ctx.connect("s").await?;
    let opts = || {
        vec![sub_opts(
            &t,
            0,
            false,
            false,
            RetainHandling::SendIfNewSubscription,
        )]
    };
    subscribe_ok(&mut s, &ctx, 1, opts(), Properties::default()).await?;
    let got = collect_on(&mut s, &ctx, &t).await?;
    if !got.iter().any(|m| m.retain && &m.payload[..] == b"r") {
        return Err(Stop::fail(
            "the retained message for the new subscription",
            list(&got),
        ));
    }
    subscribe_ok(&mut s, &ctx, 2, opts(), Properties::default()).await?;
    let got = collect_on(&mut s, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "no retained message when the subscription already existed",
            list(&got),
        ));
    }
    Ok(())
}

async fn retain_handling_2(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rh2");
    // QoS 1 where allowed: a retained QoS 0 message may be discarded at any time (3.3.1.3).
    put_retained(&ctx, &t, b"r", capped(&ctx, 1)).await?;
    let mut s = ctx.connect("s").await?;
    subscribe_ok(
        &mut s,
        &ctx,
        1,
        vec![sub_opts(&t, 0, false, false, RetainHandling::DoNotSend)],
        Properties::default(),
    )
    .await?;
    let got = collect_on(&mut s, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "no retained message (Retain Handling 2)",
            list(&got),
        ));
    }
    // The control: the message is retained, since a plain subscription (Retain Handling 0)
    // made now gets it; otherwise "nothing sent" proved nothing.
    let mut control = ctx.connect("c").await?;
    subscribe_ok(
        &mut control,
        &ctx,
        1,
        vec![sub(&t, 0)],
        Properties::default(),
    )
    .await?;
    let sent = wait_pub(&mut control, &ctx, ctx.patience(), |m| {
        *m.topic == *t && m.retain && &m.payload[..] == b"r"
    })
    .await?;
    if let Err(obs) = sent {
        return Err(Stop::Inconclusive(format!(
            "the retained message on {t} was not sent to a plain subscription either: {obs}"
        )));
    }
    control.disconnect().await?;
    // A retained message published now is forwarded, with RETAIN 0 (Retain As Published 0).
    publish(&mut s, &ctx, message(&t, b"live", 0, true), 2).await?;
    match wait_pub(&mut s, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(m) if !m.retain => Ok(()),
        Ok(m) => Err(Stop::fail_at(
            v5!("MQTT-3.3.1-12"),
            "the new message forwarded with RETAIN 0 (Retain As Published 0)",
            list(&[m]),
        )),
        Err(obs) => Err(Stop::Inconclusive(format!(
            "the subscription delivered nothing at all: {obs}"
        ))),
    }
}

/// Sends a SUBSCRIBE the broker must refuse: 3.1.1 SUBACK 0x80; 5.0 SUBACK `code` (or any
/// failure code), or DISCONNECT `code` / 0x82 and a close.
async fn expect_refused(ctx: &Ctx, filter: &str, props: Properties, code: ReasonCode) -> Outcome {
    let mut c = ctx.connect("a").await?;
    c.send(subscribe_packet(1, vec![sub(filter, 0)], props))
        .await?;
    match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::SubAck(a))) => match a.reason_codes.as_slice() {
            [rc] if rc.0 >= 0x80 => Ok(()),
            _ => Err(Stop::fail(
                format!("the subscription to {filter} refused"),
                format!("SUBACK [{}]", codes(&a)),
            )),
        },
        Some(Incoming::Packet(Packet::Disconnect(d))) if ctx.v5() => {
            if d.reason_code != code && d.reason_code != ReasonCode::PROTOCOL_ERROR {
                return Err(Stop::fail(
                    format!("DISCONNECT 0x{:02X} (or 0x82) and a close", code.0),
                    format!("DISCONNECT 0x{:02X}", d.reason_code.0),
                ));
            }
            expect_refusal_close(&mut c, ctx, &[code, ReasonCode::PROTOCOL_ERROR]).await
        }
        Some(Incoming::Closed) if ctx.v5() => Ok(()),
        Some(other) => Err(Stop::fail(
            format!("the subscription to {filter} refused"),
            crate::client::describe_incoming(&other),
        )),
        None => Err(Stop::fail(
            format!("the subscription to {filter} refused"),
            "no answer",
        )),
    }
}

async fn refused_wildcards(ctx: Ctx) -> Outcome {
    if ctx.caps().wildcards {
        return Err(Stop::Skip(
            "the broker supports wildcard subscriptions".into(),
        ));
    }
    expect_refused(
        &ctx,
        &ctx.topic("+/x"),
        Properties::default(),
        ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
    )
    .await
}

async fn refused_subscription_ids(ctx: Ctx) -> Outcome {
    if ctx.caps().subscription_ids {
        return Err(Stop::Skip(
            "the broker supports subscription identifiers".into(),
        ));
    }
    let mut props = Properties::default();
    props.subscription_identifiers.push(7);
    expect_refused(
        &ctx,
        &ctx.topic("x"),
        props,
        ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
    )
    .await
}

async fn refused_shared(ctx: Ctx) -> Outcome {
    if ctx.caps().shared_subscriptions {
        return Err(Stop::Skip(
            "the broker supports shared subscriptions".into(),
        ));
    }
    expect_refused(
        &ctx,
        &format!("$share/g/{}", ctx.topic("x")),
        Properties::default(),
        ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 5.0 subscription identifiers
// ---------------------------------------------------------------------------------------------

fn subscription_id_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "subscription-id.sent-with-message",
            "A message delivered on a subscription made with a Subscription Identifier carries it",
            body!(subid_single),
        )
        .v5(&[v5!("MQTT-3.3.4-3")])
        .requires(&[Cap::SubscriptionIds]),
        TestCase::new(
            "subscription-id.overlapping-both-with-ids",
            "Overlapping subscriptions with identifiers: one copy carries both, or each copy its own",
            body!(subid_overlap_both),
        )
        .v5(&[v5!("MQTT-3.3.4-3"), v5!("MQTT-3.3.4-4"), v5!("MQTT-3.3.4-5")])
        .requires(&[Cap::SubscriptionIds, Cap::Wildcards]),
        TestCase::new(
            "subscription-id.overlapping-one-with-id",
            "Overlapping subscriptions, one with an identifier: it appears once, on the copy for that subscription",
            body!(subid_overlap_one),
        )
        .v5(&[v5!("MQTT-3.3.4-5"), v5!("MQTT-3.3.4-4")])
        .requires(&[Cap::SubscriptionIds, Cap::Wildcards]),
        TestCase::new(
            "subscription-id.replaced-with-subscription",
            "Subscribing again to the same filter with a new identifier replaces the old one",
            body!(subid_replaced),
        )
        .v5(&[v5!("MQTT-3.8.4-3")])
        .requires(&[Cap::SubscriptionIds]),
    ]
}

fn with_id(id: u32) -> Properties {
    let mut p = Properties::default();
    p.subscription_identifiers.push(id);
    p
}

async fn subid_single(ctx: Ctx) -> Outcome {
    let t = ctx.topic("id");
    let mut c = ctx.connect("a").await?;
    // 16384 needs three bytes as a Variable Byte Integer.
    subscribe_ok(&mut c, &ctx, 1, vec![sub(&t, 0)], with_id(16384)).await?;
    publish(&mut c, &ctx, message(&t, b"m", capped(&ctx, 1), false), 2).await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if got.is_empty()
        || got
            .iter()
            .any(|m| m.properties.subscription_identifiers != [16384])
    {
        return Err(Stop::fail(
            "the message with Subscription Identifier 16384",
            list(&got),
        ));
    }
    Ok(())
}

async fn subid_overlap_both(ctx: Ctx) -> Outcome {
    let t = ctx.topic("ov/x");
    let mut c = ctx.connect("a").await?;
    subscribe_ok(
        &mut c,
        &ctx,
        1,
        vec![sub(&ctx.topic("ov/+"), 0)],
        with_id(1),
    )
    .await?;
    subscribe_ok(&mut c, &ctx, 2, vec![sub(&t, 0)], with_id(268_435_455)).await?;
    publish(&mut c, &ctx, message(&t, b"m", capped(&ctx, 1), false), 3).await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    let want: BTreeSet<u32> = [1, 268_435_455].into();
    match got.as_slice() {
        [] => Err(Stop::Inconclusive("the message was not delivered".into())),
        [m] => {
            let ids = &m.properties.subscription_identifiers;
            if ids.is_empty() {
                return Err(Stop::fail(
                    "Subscription Identifiers 1 and 268435455",
                    list(&got),
                ));
            }
            let set: BTreeSet<u32> = ids.iter().copied().collect();
            if set != want || ids.len() != 2 {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.3.4-4"),
                    "one copy carrying both identifiers 1 and 268435455",
                    list(&got),
                ));
            }
            Ok(())
        }
        many => {
            let mut seen = BTreeSet::new();
            for m in many {
                match m.properties.subscription_identifiers.as_slice() {
                    [id] if want.contains(id) => {
                        seen.insert(*id);
                    }
                    _ => {
                        return Err(Stop::fail_at(
                            v5!("MQTT-3.3.4-5"),
                            "each copy carrying the identifier of its own subscription (1 or 268435455)",
                            list(&got),
                        ))
                    }
                }
            }
            if seen != want {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.3.4-5"),
                    "the copies carrying identifiers 1 and 268435455",
                    list(&got),
                ));
            }
            Ok(())
        }
    }
}

async fn subid_overlap_one(ctx: Ctx) -> Outcome {
    let t = ctx.topic("ov/x");
    let mut c = ctx.connect("a").await?;
    subscribe_ok(
        &mut c,
        &ctx,
        1,
        vec![sub(&ctx.topic("ov/+"), 0)],
        with_id(9),
    )
    .await?;
    subscribe1(&mut c, &ctx, 2, &t, 0).await?;
    publish(&mut c, &ctx, message(&t, b"m", capped(&ctx, 1), false), 3).await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    let ids: Vec<&Vec<u32>> = got
        .iter()
        .map(|m| &m.properties.subscription_identifiers)
        .collect();
    match ids.as_slice() {
        [] => Err(Stop::Inconclusive("the message was not delivered".into())),
        [one] if one.as_slice() == [9] => Ok(()),
        [_] => Err(Stop::fail_at(
            v5!("MQTT-3.3.4-4"),
            "one copy carrying exactly the identifier 9",
            list(&got),
        )),
        [a, b]
            if (a.as_slice() == [9] && b.is_empty()) || (b.as_slice() == [9] && a.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(Stop::fail(
            "two copies, one with identifier 9 and one without any",
            list(&got),
        )),
    }
}

async fn subid_replaced(ctx: Ctx) -> Outcome {
    let t = ctx.topic("rid");
    let mut c = ctx.connect("a").await?;
    subscribe_ok(&mut c, &ctx, 1, vec![sub(&t, 0)], with_id(3)).await?;
    subscribe_ok(&mut c, &ctx, 2, vec![sub(&t, 0)], with_id(4)).await?;
    publish(&mut c, &ctx, message(&t, b"m", capped(&ctx, 1), false), 3).await?;
    let got = collect_on(&mut c, &ctx, &t).await?;
    if got.len() != 1
        || got
            .iter()
            .any(|m| m.properties.subscription_identifiers != [4])
    {
        return Err(Stop::fail(
            "one copy with the new identifier 4 only",
            list(&got),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4.8 shared subscriptions
// ---------------------------------------------------------------------------------------------

fn shared_tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "shared.one-member-per-message-at-its-qos",
            "Messages on a shared subscription reach its members at no more than each member's granted QoS",
            body!(shared_distribution),
        )
        .v5(&[v5!("MQTT-4.8.2-3")])
        .requires(&[Cap::SharedSubscriptions, Cap::QoS1]),
        // 4.8.2 says each message goes to one and only one member, without a MUST and without
        // an id of its own: the check is advisory and cites the rule of the same notes on how
        // a member is sent a message.
        TestCase::new(
            "shared.one-member-per-message",
            "Each message on a shared subscription goes to exactly one of its members",
            body!(shared_one_member),
        )
        .v5(&[v5!("MQTT-4.8.2-3")])
        .requires(&[Cap::SharedSubscriptions, Cap::QoS1])
        .should(),
        TestCase::new(
            "shared.rejected-message-not-redistributed",
            "A message a member refuses with PUBACK 0x80 is dropped, not offered to another member",
            body!(shared_reject_dropped),
        )
        .v5(&[v5!("MQTT-4.8.2-6")])
        .requires(&[Cap::SharedSubscriptions, Cap::QoS1]),
        TestCase::new(
            "shared.qos2-completed-to-same-member",
            "A QoS 2 shared message cut off by a lost connection is completed to the same member when it resumes its session",
            body!(shared_qos2_resume),
        )
        .v5(&[v5!("MQTT-4.8.2-4"), v5!("MQTT-3.8.4-8"), v5!("MQTT-3.3.1-1"), v5!("MQTT-4.4.0-1")])
        .requires(&[Cap::SharedSubscriptions, Cap::QoS2, Cap::PersistentSessions]),
        TestCase::new(
            "shared.qos2-not-redirected-after-session-end",
            "A QoS 2 shared message whose member's session ended is not sent to another member",
            body!(shared_qos2_session_end),
        )
        .v5(&[v5!("MQTT-4.8.2-5"), v5!("MQTT-3.8.4-8")])
        .requires(&[Cap::SharedSubscriptions, Cap::QoS2]),
        // Whether a retained message is sent on a shared subscription is the advisory
        // shared.no-retained-on-subscribe below (the standard has no MUST for it).
        TestCase::new(
            "shared.filter-syntax",
            "A $share/{name}/{filter} subscription matches on {filter} and delivers with the topic name",
            body!(shared_syntax),
        )
        .v5(&[v5!("MQTT-4.8.2-1"), v5!("MQTT-4.8.2-2")])
        .requires(&[Cap::SharedSubscriptions]),
        // 3.8.4 and 4.8.2 say that no retained message is sent when a shared subscription is
        // made, without a MUST: advisory. It cites the rule defining a Shared Subscription's
        // filter, the one the subscription is made with.
        TestCase::new(
            "shared.no-retained-on-subscribe",
            "No retained message is sent when a shared subscription is made",
            body!(shared_no_retained),
        )
        .v5(&[v5!("MQTT-4.8.2-1")])
        .requires(&[Cap::SharedSubscriptions, Cap::Retain])
        .should(),
    ]
}

async fn shared_distribution(ctx: Ctx) -> Outcome {
    let t = ctx.topic("sh");
    let f = format!("$share/g/{t}");
    let mut a = ctx.connect("a").await?;
    let mut b = ctx.connect("b").await?;
    let ga = subscribe1(&mut a, &ctx, 1, &f, 0).await?;
    let gb = subscribe1(&mut b, &ctx, 1, &f, 1).await?;
    let mut p = ctx.connect("p").await?;
    const N: u16 = 10;
    for i in 1..=N {
        publish(
            &mut p,
            &ctx,
            message(&t, format!("{i}").as_bytes(), 1, false),
            i,
        )
        .await?;
    }
    let got_a = collect(&mut a, &ctx).await?;
    let got_b = collect(&mut b, &ctx).await?;
    for (who, got, g) in [("a", &got_a, ga), ("b", &got_b, gb)] {
        if let Some(m) = got.iter().find(|m| m.qos.as_u8() > g) {
            return Err(Stop::fail(
                format!("member {who} receives at most its granted QoS {g}"),
                list(std::slice::from_ref(m)),
            ));
        }
        if let Some(m) = got.iter().find(|m| *m.topic != *t) {
            return Err(Stop::fail(
                format!("messages with the topic name {t}"),
                list(std::slice::from_ref(m)),
            ));
        }
    }
    if got_a.is_empty() && got_b.is_empty() {
        return Err(Stop::Inconclusive(format!(
            "none of the {N} messages reached a member: no QoS to check"
        )));
    }
    Ok(())
}

async fn shared_one_member(ctx: Ctx) -> Outcome {
    let t = ctx.topic("sh1");
    let f = format!("$share/g/{t}");
    let mut a = ctx.connect("a").await?;
    let mut b = ctx.connect("b").await?;
    subscribe1(&mut a, &ctx, 1, &f, 1).await?;
    subscribe1(&mut b, &ctx, 1, &f, 1).await?;
    let mut p = ctx.connect("p").await?;
    const N: u16 = 10;
    for i in 1..=N {
        publish(
            &mut p,
            &ctx,
            message(&t, format!("{i}").as_bytes(), 1, false),
            i,
        )
        .await?;
    }
    let got_a = collect(&mut a, &ctx).await?;
    let got_b = collect(&mut b, &ctx).await?;
    for i in 1..=N {
        let key = i.to_string();
        let n = got_a
            .iter()
            .chain(&got_b)
            .filter(|m| m.payload[..] == *key.as_bytes())
            .count();
        if n != 1 {
            return Err(Stop::fail(
                format!("message {i} delivered to exactly one member of the shared subscription"),
                format!(
                    "delivered {n} times (member a: {}; member b: {})",
                    list(&got_a),
                    list(&got_b)
                ),
            ));
        }
    }
    Ok(())
}

async fn shared_no_retained(ctx: Ctx) -> Outcome {
    let t = ctx.topic("shr");
    put_retained(&ctx, &t, b"r", 0).await?;
    let mut a = ctx.connect("a").await?;
    let f = format!("$share/grp/{t}");
    let g = subscribe1(&mut a, &ctx, 1, &f, 0).await?;
    let got = collect(&mut a, &ctx).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            format!("no retained message sent when the shared subscription {f} (QoS {g}) is made"),
            list(&got),
        ));
    }
    // The retained message exists: a non-shared subscription gets it.
    let mut b = ctx.connect("b").await?;
    subscribe1(&mut b, &ctx, 1, &t, 0).await?;
    match wait_pub(&mut b, &ctx, ctx.patience(), |m| *m.topic == *t).await? {
        Ok(_) => Ok(()),
        Err(obs) => Err(Stop::Inconclusive(format!(
            "the retained message on {t} was not sent to a non-shared subscription either: {obs}"
        ))),
    }
}

async fn shared_syntax(ctx: Ctx) -> Outcome {
    let t = ctx.topic("shr");
    let mut a = ctx.connect("a").await?;
    let f = format!("$share/grp/{t}");
    let ack = subscribe_raw(
        &mut a,
        &ctx,
        1,
        vec![sub(&f, 0)],
        Properties::default(),
        "a SUBACK",
    )
    .await?;
    if ack.reason_codes.len() != 1 {
        return Err(Stop::fail_at(
            v5!("MQTT-3.8.4-6"),
            "a SUBACK with one reason code",
            format!("SUBACK [{}]", codes(&ack)),
        ));
    }
    // A server may refuse a valid filter (policy: [MQTT-3.8.4-7] lets it say so).
    if ack.reason_codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "the broker refused the shared subscription {f}: SUBACK [{}]",
            codes(&ack)
        )));
    }
    publish(&mut a, &ctx, message(&t, b"live", 0, false), 2).await?;
    match wait_pub(&mut a, &ctx, ctx.patience(), |m| &m.payload[..] == b"live").await? {
        Ok(m) if *m.topic == *t => Ok(()),
        Ok(m) => Err(Stop::fail(
            format!("the message on {t} delivered with its topic name"),
            list(&[m]),
        )),
        Err(obs) => Err(Stop::fail(
            format!("the message on {t} delivered on {f}"),
            obs,
        )),
    }
}

/// The first PUBLISH on `topic` that reaches either client, unacknowledged: `(0, m)` for `a`,
/// `(1, m)` for `b`; `None` when none comes within `within`.
async fn first_delivery(
    a: &mut Client,
    b: &mut Client,
    topic: &str,
    within: Duration,
) -> Result<Option<(usize, Publish)>, Stop> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let (who, got) = tokio::select! {
            biased;
            r = a.next(left) => (0usize, r?),
            r = b.next(left) => (1usize, r?),
        };
        match got {
            Some(Incoming::Packet(Packet::Publish(m))) if *m.topic == *topic => {
                return Ok(Some((who, m)))
            }
            Some(Incoming::Packet(_)) => {}
            Some(other) => {
                return Err(Stop::Inconclusive(format!(
                    "member {} lost its connection: {}",
                    if who == 0 { "a" } else { "b" },
                    crate::client::describe_incoming(&other)
                )))
            }
            None => return Ok(None),
        }
    }
}

async fn shared_reject_dropped(ctx: Ctx) -> Outcome {
    let t = ctx.topic("shx");
    let f = format!("$share/g/{t}");
    let mut a = ctx.connect("a").await?;
    let mut b = ctx.connect("b").await?;
    subscribe1(&mut a, &ctx, 1, &f, 1).await?;
    subscribe1(&mut b, &ctx, 1, &f, 1).await?;
    let mut p = ctx.connect("p").await?;
    publish(&mut p, &ctx, message(&t, b"refused", 1, false), 1).await?;
    let Some((who, m)) = first_delivery(&mut a, &mut b, &t, ctx.patience()).await? else {
        return Err(Stop::Inconclusive(
            "the message reached no member of the shared subscription".into(),
        ));
    };
    if m.qos != QoS::AtLeastOnce {
        return Err(Stop::Inconclusive(format!("delivered at QoS {}", m.qos)));
    }
    let (first, other) = if who == 0 {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    first
        .send(Packet::PubAck(PubAck::with_reason(
            m.packet_id,
            ReasonCode::UNSPECIFIED_ERROR,
        )))
        .await?;
    let got = collect_on(other, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "the refused message dropped, not sent to the other member",
            list(&got),
        ));
    }
    let again = collect_on(first, &ctx, &t).await?;
    if !again.is_empty() {
        return Err(Stop::fail(
            "the refused message dropped, not sent again",
            list(&again),
        ));
    }
    Ok(())
}

/// Inconclusive unless both members of a shared subscription were granted QoS 2 (a server may
/// grant less: then no QoS 2 delivery is there to check).
fn granted_qos2(ga: u8, gb: u8) -> Result<(), Stop> {
    if ga != 2 || gb != 2 {
        return Err(Stop::Inconclusive(format!(
            "QoS 2 requested on the shared subscription, granted {ga} to member a and {gb} to member b"
        )));
    }
    Ok(())
}

/// Connects `label` with Clean Start 0 and the given Session Expiry Interval; returns the
/// client and Session Present.
async fn connect_session(ctx: &Ctx, label: &str, expiry: u32) -> Result<(Client, bool), Stop> {
    let (c, ack) = ctx
        .connect_with(label, |p| {
            p.clean_start = false;
            p.properties.session_expiry_interval = Some(expiry);
        })
        .await?;
    Ok((c, ack.session_present))
}

async fn shared_qos2_resume(ctx: Ctx) -> Outcome {
    end_session(&ctx, "a").await;
    end_session(&ctx, "b").await;
    let out = shared_qos2_resume_inner(&ctx).await;
    end_session(&ctx, "a").await;
    end_session(&ctx, "b").await;
    out
}

async fn shared_qos2_resume_inner(ctx: &Ctx) -> Outcome {
    let t = ctx.topic("sh2");
    let f = format!("$share/g/{t}");
    let (mut a, _) = connect_session(ctx, "a", 60).await?;
    let (mut b, _) = connect_session(ctx, "b", 60).await?;
    let ga = subscribe1(&mut a, ctx, 1, &f, 2).await?;
    let gb = subscribe1(&mut b, ctx, 1, &f, 2).await?;
    granted_qos2(ga, gb)?;
    let mut p = ctx.connect("p").await?;
    publish(&mut p, ctx, message(&t, b"q2", 2, false), 1).await?;
    let Some((who, m)) = first_delivery(&mut a, &mut b, &t, ctx.patience()).await? else {
        return Err(Stop::Inconclusive(
            "the message reached no member of the shared subscription".into(),
        ));
    };
    if m.qos != QoS::ExactlyOnce {
        return Err(Stop::fail_at(
            v5!("MQTT-3.8.4-8"),
            "the QoS 2 message delivered at QoS 2 (granted 2)",
            list(&[m]),
        ));
    }
    let label = if who == 0 { "a" } else { "b" };
    // The chosen member loses its connection without acknowledging.
    let (first, mut other) = if who == 0 { (a, b) } else { (b, a) };
    first.drop_connection().await;
    let (mut back, present) = connect_session(ctx, label, 60).await?;
    if !present {
        return Err(Stop::Inconclusive(format!(
            "the session of member {label} was not kept (Session Present 0)"
        )));
    }
    let id = m.packet_id;
    match wait_pub(&mut back, ctx, ctx.patience(), |x| *x.topic == *t).await? {
        Ok(x) if &x.payload[..] == b"q2" && x.packet_id == id && x.dup => {}
        Ok(x) if &x.payload[..] == b"q2" && x.packet_id == id => {
            return Err(Stop::fail_at(
                v5!("MQTT-3.3.1-1"),
                format!("the QoS 2 message resent with DUP 1 (id {id})"),
                list(&[x]),
            ))
        }
        Ok(x) if &x.payload[..] == b"q2" => {
            return Err(Stop::fail_at(
                v5!("MQTT-4.4.0-1"),
                format!("the QoS 2 message resent under its original packet identifier {id}"),
                list(&[x]),
            ))
        }
        Ok(x) => {
            return Err(Stop::fail(
                format!("the interrupted QoS 2 message (payload \"q2\", id {id}) sent again"),
                list(&[x]),
            ))
        }
        Err(obs) => {
            return Err(Stop::fail(
                format!(
                "the interrupted QoS 2 message (id {id}) sent again to member {label} on reconnect"
            ),
                obs,
            ))
        }
    }
    let dup = collect_on(&mut other, ctx, &t).await?;
    if !dup.is_empty() {
        return Err(Stop::fail(
            "the message completed to the member that first got it, and to no other",
            list(&dup),
        ));
    }
    Ok(())
}

async fn shared_qos2_session_end(ctx: Ctx) -> Outcome {
    let t = ctx.topic("sh3");
    let f = format!("$share/g/{t}");
    // Clean Start 1 and no Session Expiry: each session ends with its connection.
    let mut a = ctx.connect("a").await?;
    let mut b = ctx.connect("b").await?;
    let ga = subscribe1(&mut a, &ctx, 1, &f, 2).await?;
    let gb = subscribe1(&mut b, &ctx, 1, &f, 2).await?;
    granted_qos2(ga, gb)?;
    let mut p = ctx.connect("p").await?;
    publish(&mut p, &ctx, message(&t, b"q2", 2, false), 1).await?;
    let Some((who, m)) = first_delivery(&mut a, &mut b, &t, ctx.patience()).await? else {
        return Err(Stop::Inconclusive(
            "the message reached no member of the shared subscription".into(),
        ));
    };
    if m.qos != QoS::ExactlyOnce {
        return Err(Stop::fail_at(
            v5!("MQTT-3.8.4-8"),
            "the QoS 2 message delivered at QoS 2 (granted 2)",
            list(&[m]),
        ));
    }
    let (first, mut other) = if who == 0 { (a, b) } else { (b, a) };
    first.drop_connection().await;
    let got = collect_on(&mut other, &ctx, &t).await?;
    if !got.is_empty() {
        return Err(Stop::fail(
            "the QoS 2 message of the ended session not sent to the other member",
            list(&got),
        ));
    }
    Ok(())
}
