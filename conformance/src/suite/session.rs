//! Chapter 4.1 (session state), 3.1.2.4 / 3.2.2.1 (clean session / clean start and session
//! present), 5.0 session expiry, 3.1.4 session takeover, and 4.4 (redelivery after a
//! reconnect, in order).

use std::time::Duration;

use mqtt_codec::{Disconnect, Packet, PubAck, PubComp, Publish, QoS, ReasonCode};
use mqtt_spec::{v311, v5};

use super::util::{
    ack, connect_persistent, drain_expecting, drain_publish, end_session, expect_error_close, msg,
    payloads, persistent_subscriber, precondition, publish, publisher_sent, pubrec_until_pubrel,
    recv_publish, send_complete, sub_and_pub, subscriber, subscriber_with,
};
use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::{describe, describe_incoming, Client, Incoming};

/// The tests of this module.
pub fn tests() -> Vec<TestCase> {
    vec![
        // ---- session present and clean start --------------------------------------------
        TestCase::new(
            "session.clean-start.discards-session",
            "Clean Start / Clean Session 1 gets Session Present 0 and drops the stored session",
            body!(clean_start_discards),
        )
        .v311(&[
            v311!("MQTT-3.2.2-1"),
            v311!("MQTT-3.1.2-6"),
        ])
        .v5(&[v5!("MQTT-3.2.2-2"), v5!("MQTT-3.1.2-4")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.resume.session-present",
            "Clean Start / Clean Session 0 with a stored session gets Session Present 1",
            body!(resume_session_present),
        )
        .v311(&[v311!("MQTT-3.2.2-2"), v311!("MQTT-3.1.2-4")])
        .v5(&[
            v5!("MQTT-3.2.2-3"),
            v5!("MQTT-3.1.2-23"),
            v5!("MQTT-3.1.2-5"),
        ])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.new.session-present-0",
            "Clean Start / Clean Session 0 without a stored session gets Session Present 0",
            body!(new_session_present_0),
        )
        .v311(&[v311!("MQTT-3.2.2-3"), v311!("MQTT-3.1.2-4")])
        .v5(&[v5!("MQTT-3.2.2-3"), v5!("MQTT-3.1.2-6")]),
        TestCase::new(
            "session.resume.subscriptions-kept",
            "A resumed session keeps its subscriptions: messages arrive without subscribing again",
            body!(resume_subscriptions_kept),
        )
        .v311(&[
            v311!("MQTT-3.1.2-4"),
            v311!("MQTT-3.1.4-3"),
            v311!("MQTT-4.1.0-1"),
        ])
        .v5(&[
            v5!("MQTT-3.1.2-5"),
            v5!("MQTT-3.1.4-4"),
            v5!("MQTT-4.1.0-1"),
        ])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.offline.queued-messages-delivered",
            "QoS 1 and QoS 2 messages published while the client is away are delivered on its return",
            body!(offline_queued),
        )
        .v311(&[v311!("MQTT-3.1.2-5"), v311!("MQTT-4.5.0-1")])
        .v5(&[v5!("MQTT-4.5.0-1"), v5!("MQTT-3.1.2-5")])
        .requires(&[Cap::PersistentSessions, Cap::QoS2]),
        TestCase::new(
            "session.client-id-keys-session",
            "The session is found again only under the same client identifier",
            body!(client_id_keys_session),
        )
        .v311(&[v311!("MQTT-3.1.3-2")])
        .v5(&[v5!("MQTT-3.1.3-2")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.state.kept-while-connected",
            "While the connection stays open the session keeps its subscription and an unfinished QoS 2 delivery",
            body!(state_kept_while_connected),
        )
        .v311(&[v311!("MQTT-4.1.0-2"), v311!("MQTT-4.1.0-1")])
        .v5(&[v5!("MQTT-4.1.0-1")])
        .requires(&[Cap::QoS2]),
        // ---- 4.4 redelivery -------------------------------------------------------------
        TestCase::new(
            "session.redelivery.qos1-publish-dup",
            "An unacknowledged QoS 1 PUBLISH is resent on reconnection with DUP=1 and its original id",
            body!(redeliver_qos1),
        )
        .v311(&[
            v311!("MQTT-4.4.0-1"),
            v311!("MQTT-2.3.1-4"),
            v311!("MQTT-3.3.1-1"),
        ])
        .v5(&[
            v5!("MQTT-4.4.0-1"),
            v5!("MQTT-3.3.1-1"),
            v5!("MQTT-4.3.2-3"),
        ])
        .requires(&[Cap::PersistentSessions, Cap::QoS1]),
        TestCase::new(
            "session.redelivery.qos2-publish-dup",
            "A QoS 2 PUBLISH without PUBREC is resent on reconnection with DUP=1 and its original id",
            body!(redeliver_qos2),
        )
        .v311(&[
            v311!("MQTT-4.4.0-1"),
            v311!("MQTT-2.3.1-4"),
            v311!("MQTT-3.3.1-1"),
        ])
        .v5(&[
            v5!("MQTT-4.4.0-1"),
            v5!("MQTT-3.3.1-1"),
            v5!("MQTT-4.3.3-3"),
        ])
        .requires(&[Cap::PersistentSessions, Cap::QoS2]),
        TestCase::new(
            "session.redelivery.pubrel",
            "A PUBREL without PUBCOMP is resent on reconnection with its id, and the PUBLISH is not",
            body!(redeliver_pubrel),
        )
        .v311(&[v311!("MQTT-4.4.0-1"), v311!("MQTT-4.3.3-1")])
        .v5(&[
            v5!("MQTT-4.4.0-1"),
            v5!("MQTT-4.3.3-5"),
            v5!("MQTT-4.3.3-6"),
        ])
        .requires(&[Cap::PersistentSessions, Cap::QoS2]),
        TestCase::new(
            "session.redelivery.in-order",
            "Several unacknowledged QoS 1 PUBLISH are resent on reconnection in their original order",
            body!(redeliver_order),
        )
        .v311(&[v311!("MQTT-4.6.0-6"), v311!("MQTT-4.4.0-1")])
        .v5(&[v5!("MQTT-4.6.0-5"), v5!("MQTT-4.4.0-1")])
        .requires(&[Cap::PersistentSessions, Cap::QoS1]),
        TestCase::new(
            "session.redelivery.receive-maximum",
            "Messages resent on reconnection stay within the new connection's Receive Maximum",
            body!(redeliver_within_receive_maximum),
        )
        .v5(&[
            v5!("MQTT-3.3.4-9"),
            v5!("MQTT-4.9.0-1"),
            v5!("MQTT-4.4.0-1"),
        ])
        .requires(&[Cap::PersistentSessions, Cap::QoS1])
        .timeout(Duration::from_secs(30)),
        TestCase::new(
            "session.redelivery.not-on-open-connection",
            "An unacknowledged QoS 1 PUBLISH is not resent while the connection stays open (watched for 35 s)",
            body!(no_resend_while_connected),
        )
        .v5(&[v5!("MQTT-4.4.0-1")])
        .requires(&[Cap::QoS1])
        .timeout(Duration::from_secs(45)),
        TestCase::new(
            "session.redelivery.failed-puback-not-resent",
            "A PUBLISH answered by PUBACK 0x80 counts as acknowledged and is not resent on reconnection",
            body!(failed_ack_not_resent),
        )
        .v5(&[v5!("MQTT-4.4.0-2")])
        .requires(&[Cap::PersistentSessions, Cap::QoS1]),
        // ---- 5.0 session expiry ---------------------------------------------------------
        TestCase::new(
            "session.expiry.elapsed-discards",
            "A session whose expiry interval (1 s) has passed is gone: Session Present 0, no subscription",
            body!(expiry_elapsed),
        )
        .v5(&[v5!("MQTT-4.1.0-2")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.expiry.absent-ends-with-connection",
            "Without a Session Expiry Interval the session ends with the connection",
            body!(expiry_absent),
        )
        .v5(&[v5!("MQTT-4.1.0-2")]),
        TestCase::new(
            "session.expiry.disconnect-shortens",
            "A Session Expiry Interval in DISCONNECT (60 s -> 1 s) replaces the one from CONNECT",
            body!(expiry_disconnect_shortens),
        )
        .v5(&[v5!("MQTT-4.1.0-2")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.expiry.disconnect-extends",
            "A Session Expiry Interval in DISCONNECT (1 s -> 60 s) keeps the session past the first interval",
            body!(expiry_disconnect_extends),
        )
        .v5(&[v5!("MQTT-3.1.2-23")])
        .requires(&[Cap::PersistentSessions]),
        TestCase::new(
            "session.expiry.disconnect-zero-to-nonzero",
            "DISCONNECT setting a non-zero expiry after CONNECT had 0 is a protocol error; the session still ends",
            body!(expiry_zero_to_nonzero),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-4.1.0-2")]),
        // ---- takeover -------------------------------------------------------------------
        TestCase::new(
            "session.takeover.old-connection-closed",
            "A second connection with the same client id makes the server close the first",
            body!(takeover_closes_old),
        )
        .v311(&[v311!("MQTT-3.1.4-2")])
        .v5(&[v5!("MQTT-3.1.4-3")]),
        TestCase::new(
            "session.takeover.disconnect-0x8e",
            "The connection taken over receives DISCONNECT 0x8E (Session taken over) before the close",
            body!(takeover_sends_0x8e),
        )
        .v5(&[v5!("MQTT-3.1.4-3")])
        .should(),
        TestCase::new(
            "session.takeover.session-continues",
            "A takeover with Clean Start / Clean Session 0 continues the session: Session Present 1, subscriptions kept",
            body!(takeover_session_continues),
        )
        .v311(&[v311!("MQTT-3.1.4-3"), v311!("MQTT-3.2.2-2")])
        .v5(&[v5!("MQTT-3.1.4-4"), v5!("MQTT-3.2.2-3")])
        .requires(&[Cap::PersistentSessions]),
    ]
}

/// Reconnects `label` with Clean Start 0; inconclusive (after cleanup) unless the session was
/// resumed (Session Present 1).
async fn resume(ctx: &Ctx, label: &str) -> Result<Client, Stop> {
    let (c, a) = connect_persistent(ctx, label, false).await?;
    if !a.session_present {
        drop_and_end(ctx, c, label).await;
        return Err(Stop::Inconclusive(
            "the session was not resumed (Session Present 0)".into(),
        ));
    }
    Ok(c)
}

async fn drop_and_end(ctx: &Ctx, c: Client, label: &str) {
    c.drop_connection().await;
    end_session(ctx, label).await;
}

/// Runs `body` (with a clone of `ctx`) and removes the sessions `labels` afterwards whatever
/// happened.
async fn cleaning<B, F>(ctx: Ctx, labels: &[&str], body: B) -> Outcome
where
    B: FnOnce(Ctx) -> F,
    F: std::future::Future<Output = Outcome>,
{
    let r = body(ctx.clone()).await;
    for l in labels {
        end_session(&ctx, l).await;
    }
    r
}

/// Reconnects `label` with Clean Start 0 ([`connect_persistent`]), disconnects at once and
/// returns Session Present.
async fn rejoin_present(ctx: &Ctx, label: &str) -> Result<bool, Stop> {
    let (c, a) = connect_persistent(ctx, label, false).await?;
    c.disconnect().await?;
    Ok(a.session_present)
}

// =====================================================================================
// Session present and clean start.
// =====================================================================================

async fn clean_start_discards(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("cs");
        let s = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
        s.disconnect().await?;
        let (mut s, a) = ctx.connect_with("s", |c| c.clean_start = true).await?;
        if a.session_present {
            return Err(Stop::fail(
                "Session Present 0 for a clean connection",
                "Session Present 1",
            ));
        }
        publisher_sent(&ctx, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
        let rule = ctx.pick(v311!("MQTT-3.1.2-6"), v5!("MQTT-3.1.2-4"));
        if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
            return Err(Stop::fail_at(
                rule,
                "no message: the old session's subscription is gone",
                describe(&x),
            ));
        }
        s.disconnect().await?;
        // The clean session ended with its connection: nothing to resume.
        if rejoin_present(&ctx, "s").await? {
            return Err(Stop::fail_at(
                rule,
                "Session Present 0 after a clean session ended",
                "Session Present 1",
            ));
        }
        Ok(())
    })
    .await
}

async fn resume_session_present(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("sp");
        let s = persistent_subscriber(&ctx, "s", &t, QoS::AtMostOnce).await?;
        s.disconnect().await?;
        if !rejoin_present(&ctx, "s").await? {
            return Err(Stop::fail(
                "Session Present 1 when resuming a stored session",
                "Session Present 0",
            ));
        }
        Ok(())
    })
    .await
}

async fn new_session_present_0(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["fresh"], |ctx| async move {
        if rejoin_present(&ctx, "fresh").await? {
            return Err(Stop::fail(
                "Session Present 0 for a client id without a stored session",
                "Session Present 1",
            ));
        }
        Ok(())
    })
    .await
}

async fn resume_subscriptions_kept(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("kept");
        let s = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
        s.disconnect().await?;
        let mut s = resume(&ctx, "s").await?;
        publisher_sent(&ctx, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
        let m = recv_publish(
            &ctx,
            &mut s,
            &t,
            "the message, on the subscription of the resumed session",
        )
        .await?;
        ack(&ctx, &mut s, &m).await?;
        s.disconnect().await
    })
    .await
}

async fn offline_queued(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("queued");
        let s = persistent_subscriber(&ctx, "s", &t, QoS::ExactlyOnce).await?;
        s.disconnect().await?;
        let mut p = ctx.connect("p").await?;
        publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 1, b"q1").await?;
        publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 2, b"q2").await?;
        p.disconnect().await?;
        let mut s = resume(&ctx, "s").await?;
        let mut got = Vec::new();
        for want in ["q1", "q2"] {
            let m = recv_publish(
                &ctx,
                &mut s,
                &t,
                &format!("message {want} published while the client was away"),
            )
            .await?;
            ack(&ctx, &mut s, &m).await?;
            got.push(m);
        }
        // Different QoS: no order is promised between them ([MQTT-4.6.0-5] 5.0, [MQTT-4.6.0-6]
        // 3.1.1 order messages of one topic at one QoS), so they are compared as a set.
        let mut seen: Vec<(String, u8)> = got
            .iter()
            .map(|m| {
                (
                    String::from_utf8_lossy(&m.payload).into_owned(),
                    m.qos.as_u8(),
                )
            })
            .collect();
        seen.sort();
        if seen != [("q1".to_string(), 1), ("q2".to_string(), 2)] {
            return Err(Stop::fail(
                "q1 at QoS 1 and q2 at QoS 2, in either order",
                format!(
                    "{} at QoS {:?}",
                    payloads(&got),
                    got.iter().map(|m| m.qos.as_u8()).collect::<Vec<_>>()
                ),
            ));
        }
        s.disconnect().await
    })
    .await
}

async fn client_id_keys_session(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s", "other"], |ctx| async move {
        let t = ctx.topic("key");
        let s = persistent_subscriber(&ctx, "s", &t, QoS::AtMostOnce).await?;
        s.disconnect().await?;
        if rejoin_present(&ctx, "other").await? {
            return Err(Stop::fail(
                "Session Present 0 for another client id",
                "Session Present 1",
            ));
        }
        if !rejoin_present(&ctx, "s").await? {
            return Err(Stop::fail(
                "Session Present 1 under the session's own client id",
                "Session Present 0",
            ));
        }
        Ok(())
    })
    .await
}

async fn state_kept_while_connected(ctx: Ctx) -> Outcome {
    let t = ctx.topic("alive");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::ExactlyOnce).await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 1, b"first").await?;
    let m = recv_publish(&ctx, &mut s, &t, "the first message").await?;
    let id = m.packet_id;
    pubrec_until_pubrel(&ctx, &mut s, id, "PUBREL").await?;
    // Idle for a while with the QoS 2 delivery unfinished (protocol time, not a wait for an
    // event); the session state must still be there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.send(Packet::PubComp(PubComp::new(id))).await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 2, b"second").await?;
    let m2 = recv_publish(
        &ctx,
        &mut s,
        &t,
        "the second message on the same subscription",
    )
    .await?;
    if &m2.payload[..] != b"second" {
        return Err(Stop::fail("message second", describe(&Packet::Publish(m2))));
    }
    ack(&ctx, &mut s, &m2).await?;
    p.disconnect().await?;
    s.disconnect().await
}

// =====================================================================================
// 4.4 redelivery.
// =====================================================================================

async fn redeliver(ctx: Ctx, qos: QoS) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("redeliver");
        let mut s = persistent_subscriber(&ctx, "s", &t, qos).await?;
        publisher_sent(&ctx, msg(&t, qos, 1, b"again")).await?;
        let first = precondition(
            recv_publish(&ctx, &mut s, &t, "the message").await,
            "the message was not delivered",
        )?;
        // No acknowledgement: the connection is lost.
        s.drop_connection().await;
        let mut s = resume(&ctx, "s").await?;
        let again = recv_publish(
            &ctx,
            &mut s,
            &t,
            &format!(
                "the unacknowledged PUBLISH (id {}) resent after reconnecting",
                first.packet_id
            ),
        )
        .await?;
        let dup_rule = ctx.pick(v311!("MQTT-3.3.1-1"), v5!("MQTT-3.3.1-1"));
        if again.packet_id != first.packet_id {
            return Err(Stop::fail(
                format!("the original packet id {}", first.packet_id),
                describe(&Packet::Publish(again)),
            ));
        }
        if !again.dup {
            return Err(Stop::fail_at(
                dup_rule,
                "DUP=1 on the resent PUBLISH",
                describe(&Packet::Publish(again)),
            ));
        }
        if again.payload != first.payload || again.qos != first.qos {
            return Err(Stop::fail(
                "the same message resent",
                describe(&Packet::Publish(again)),
            ));
        }
        ack(&ctx, &mut s, &again).await?;
        s.disconnect().await
    })
    .await
}

async fn redeliver_qos1(ctx: Ctx) -> Outcome {
    redeliver(ctx, QoS::AtLeastOnce).await
}

async fn redeliver_qos2(ctx: Ctx) -> Outcome {
    redeliver(ctx, QoS::ExactlyOnce).await
}

async fn redeliver_pubrel(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("rel");
        let mut s = persistent_subscriber(&ctx, "s", &t, QoS::ExactlyOnce).await?;
        publisher_sent(&ctx, msg(&t, QoS::ExactlyOnce, 1, b"m")).await?;
        let m = precondition(
            recv_publish(&ctx, &mut s, &t, "the message").await,
            "the message was not delivered",
        )?;
        let id = m.packet_id;
        precondition(
            pubrec_until_pubrel(&ctx, &mut s, id, "PUBREL").await,
            "no PUBREL",
        )?;
        // No PUBCOMP: the connection is lost.
        s.drop_connection().await;
        let mut s = resume(&ctx, "s").await?;
        let got = s
            .expect(
                ctx.patience(),
                &format!("the PUBREL for id {id} resent after reconnecting"),
                |x| match x {
                    Packet::PubRel(_) | Packet::Publish(_) => Some(x.clone()),
                    _ => None,
                },
            )
            .await?;
        match &got {
            Packet::PubRel(r) if r.packet_id == id => {}
            Packet::Publish(_) => {
                return Err(Stop::fail_at(
                    ctx.pick(v311!("MQTT-4.3.3-1"), v5!("MQTT-4.3.3-6")),
                    format!("PUBREL for id {id}, never the PUBLISH again"),
                    describe(&got),
                ))
            }
            other => return Err(Stop::fail(format!("PUBREL for id {id}"), describe(other))),
        }
        s.send(Packet::PubComp(PubComp::new(id))).await?;
        if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
            return Err(Stop::fail_at(
                ctx.pick(v311!("MQTT-4.3.3-1"), v5!("MQTT-4.3.3-6")),
                "no PUBLISH again once PUBREL was sent",
                describe(&x),
            ));
        }
        s.disconnect().await
    })
    .await
}

/// A persistent QoS 1 subscriber `s` to `t`, and the messages `names` published to `t` and
/// received by it, none acknowledged (a failed delivery is a failed precondition).
async fn unacknowledged(
    ctx: &Ctx,
    t: &str,
    names: &[&str],
) -> Result<(Client, Vec<Publish>), Stop> {
    let mut s = persistent_subscriber(ctx, "s", t, QoS::AtLeastOnce).await?;
    let mut p = ctx.connect("p").await?;
    for (i, m) in names.iter().enumerate() {
        publish(ctx, &mut p, t, QoS::AtLeastOnce, i as u16 + 1, m.as_bytes()).await?;
    }
    let mut got = Vec::new();
    for _ in names {
        got.push(precondition(
            recv_publish(ctx, &mut s, t, "the messages published").await,
            "the messages were not delivered",
        )?);
    }
    Ok((s, got))
}

async fn redeliver_order(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("reorder");
        let (s, first) = unacknowledged(&ctx, &t, &["m1", "m2", "m3"]).await?;
        s.drop_connection().await;
        let mut s = resume(&ctx, "s").await?;
        let mut again = Vec::new();
        for _ in 0..3 {
            again.push(
                recv_publish(&ctx, &mut s, &t, "the three unacknowledged messages resent")
                    .await
                    .map_err(|e| match e {
                        Stop::Fail {
                            expected, observed, ..
                        } => Stop::fail_at(
                            ctx.pick(v311!("MQTT-4.4.0-1"), v5!("MQTT-4.4.0-1")),
                            expected,
                            observed,
                        ),
                        other => other,
                    })?,
            );
        }
        let ids = |v: &[mqtt_codec::Publish]| v.iter().map(|m| m.packet_id).collect::<Vec<_>>();
        if payloads(&again) != payloads(&first) || ids(&again) != ids(&first) {
            return Err(Stop::fail(
                format!(
                    "messages {} with ids {:?}, in that order",
                    payloads(&first),
                    ids(&first)
                ),
                format!("{} with ids {:?}", payloads(&again), ids(&again)),
            ));
        }
        for m in &again {
            ack(&ctx, &mut s, m).await?;
        }
        s.disconnect().await
    })
    .await
}

/// Four unacknowledged QoS 1 messages, then a reconnection with Receive Maximum 2: the send
/// quota starts again with the new connection ([MQTT-4.9.0-1]) and resent messages count
/// against it ([MQTT-3.3.4-9]); all four still come, in order ([MQTT-4.4.0-1]).
async fn redeliver_within_receive_maximum(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("rm-resend");
        let names = ["m1", "m2", "m3", "m4"];
        let (s, _) = unacknowledged(&ctx, &t, &names).await?;
        s.drop_connection().await;
        let (mut s, a) = ctx
            .connect_with("s", |c| {
                c.clean_start = false;
                c.properties.session_expiry_interval = Some(60);
                c.properties.receive_maximum = Some(2);
            })
            .await?;
        if !a.session_present {
            return Err(Stop::Inconclusive(
                "the session was not resumed (Session Present 0)".into(),
            ));
        }
        let mut got: Vec<Publish> = Vec::new();
        let mut acked = 0usize;
        for _ in 0..(2 * names.len()) {
            let batch = drain_expecting(&mut s, ctx.patience(), ctx.quiet()).await?;
            got.extend(batch.into_iter().filter_map(|x| match x {
                Packet::Publish(m) => Some(m),
                _ => None,
            }));
            let in_flight = got.len() - acked;
            if in_flight > 2 {
                return Err(Stop::fail(
                    "at most 2 unacknowledged PUBLISH after reconnecting with Receive Maximum 2",
                    format!(
                        "{in_flight} unacknowledged: {}",
                        payloads(got.get(acked..).unwrap_or(&[]))
                    ),
                ));
            }
            if in_flight == 0 {
                break;
            }
            if let Some(m) = got.get(acked).cloned() {
                ack(&ctx, &mut s, &m).await?;
                acked += 1;
            }
        }
        if payloads(&got) != names.join(",") {
            return Err(Stop::fail_at(
                v5!("MQTT-4.4.0-1"),
                format!(
                    "the unacknowledged messages {} resent, in order",
                    names.join(",")
                ),
                format!("got {}", payloads(&got)),
            ));
        }
        s.disconnect().await
    })
    .await
}

async fn no_resend_while_connected(ctx: Ctx) -> Outcome {
    let t = ctx.topic("noresend");
    let mut s = subscriber(&ctx, &t, QoS::AtLeastOnce).await?;
    publisher_sent(&ctx, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
    let m = recv_publish(&ctx, &mut s, &t, "the message").await?;
    // Not acknowledged; the connection stays open. Brokers that break the rule resend on a
    // timer (EMQX before 5.8: retry_interval 30 s by default; mosquitto 1.x: 20 s), so the
    // watch lasts past those (virtual time on the embedded and simulated targets).
    let deadline = tokio::time::Instant::now() + RESEND_WATCH;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match s.next(left).await? {
            None => break,
            Some(Incoming::Packet(x @ Packet::Publish(_))) => {
                return Err(Stop::fail(
                    format!(
                        "no resend on the open connection within {} s (only on reconnection)",
                        RESEND_WATCH.as_secs()
                    ),
                    describe(&x),
                ));
            }
            Some(Incoming::Packet(_)) => {}
            Some(other) => {
                return Err(Stop::Inconclusive(format!(
                    "the connection did not stay open while watching for a resend: {}",
                    describe_incoming(&other)
                )))
            }
        }
    }
    ack(&ctx, &mut s, &m).await?;
    s.disconnect().await
}

/// How long [`no_resend_while_connected`] watches the open connection for a resend.
const RESEND_WATCH: Duration = Duration::from_secs(35);

async fn failed_ack_not_resent(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("failack");
        let mut s = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
        let mut p = ctx.connect("p").await?;
        publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 1, b"refused").await?;
        let m = precondition(
            recv_publish(&ctx, &mut s, &t, "the message").await,
            "the message was not delivered",
        )?;
        s.send(Packet::PubAck(PubAck::with_reason(
            m.packet_id,
            ReasonCode::UNSPECIFIED_ERROR,
        )))
        .await?;
        // A PINGREQ round trip makes sure the server has read the PUBACK.
        s.send(Packet::PingReq).await?;
        precondition(
            s.expect(ctx.patience(), "PINGRESP", |x| {
                (*x == Packet::PingResp).then_some(())
            })
            .await,
            "no PINGRESP",
        )?;
        s.drop_connection().await;
        let mut s = resume(&ctx, "s").await?;
        // A marker message after the reconnection bounds the wait.
        publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 2, b"marker").await?;
        let next = recv_publish(&ctx, &mut s, &t, "the marker message").await;
        let next = precondition(next, "the marker message was not delivered")?;
        ack(&ctx, &mut s, &next).await?;
        if &next.payload[..] == b"refused" {
            return Err(Stop::fail(
                "no resend of a PUBLISH answered by PUBACK 0x80",
                describe(&Packet::Publish(next)),
            ));
        }
        p.disconnect().await?;
        s.disconnect().await
    })
    .await
}

// =====================================================================================
// 5.0 session expiry.
// =====================================================================================

/// Connects `label` with Clean Start 0 (no Session Expiry Interval, so that this connection
/// leaves no session behind) and returns Session Present.
async fn probe_session(ctx: &Ctx, label: &str) -> Result<bool, Stop> {
    let (c, a) = ctx
        .connect_with(label, |c| {
            c.clean_start = false;
        })
        .await?;
    c.disconnect().await?;
    Ok(a.session_present)
}

async fn expiry_elapsed(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("expired");
        let s = subscriber_with(&ctx, "s", &t, QoS::AtLeastOnce, |c| {
            c.properties.session_expiry_interval = Some(1);
        })
        .await?;
        s.disconnect().await?;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (mut s, a) = ctx
            .connect_with("s", |c| {
                c.clean_start = false;
            })
            .await?;
        if a.session_present {
            s.drop_connection().await;
            return Err(Stop::fail(
                "Session Present 0 after the 1 s session expiry interval has passed",
                "Session Present 1",
            ));
        }
        publisher_sent(&ctx, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
        if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
            return Err(Stop::fail(
                "no message: the expired session's subscription is gone",
                describe(&x),
            ));
        }
        s.disconnect().await
    })
    .await
}

async fn expiry_absent(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let s = subscriber_with(&ctx, "s", &ctx.topic("gone"), QoS::AtMostOnce, |c| {
            c.clean_start = false
        })
        .await?;
        s.disconnect().await?;
        if probe_session(&ctx, "s").await? {
            return Err(Stop::fail(
                "Session Present 0: without Session Expiry Interval the session ended with the connection",
                "Session Present 1",
            ));
        }
        Ok(())
    })
    .await
}

async fn disconnect_with_expiry(c: &mut Client, secs: u32) -> Outcome {
    let mut d = Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
    d.properties.session_expiry_interval = Some(secs);
    c.send(Packet::Disconnect(d)).await
}

async fn expiry_disconnect_shortens(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let mut s = persistent_subscriber(&ctx, "s", &ctx.topic("short"), QoS::AtMostOnce).await?;
        disconnect_with_expiry(&mut s, 1).await?;
        s.drop_connection().await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        if probe_session(&ctx, "s").await? {
            return Err(Stop::fail(
                "Session Present 0: DISCONNECT set the expiry to 1 s and 2.5 s passed",
                "Session Present 1",
            ));
        }
        Ok(())
    })
    .await
}

async fn expiry_disconnect_extends(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let mut s = subscriber_with(&ctx, "s", &ctx.topic("long"), QoS::AtMostOnce, |c| {
            c.properties.session_expiry_interval = Some(1)
        })
        .await?;
        disconnect_with_expiry(&mut s, 60).await?;
        s.drop_connection().await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        if !probe_session(&ctx, "s").await? {
            return Err(Stop::fail(
                "Session Present 1: DISCONNECT set the expiry to 60 s",
                "Session Present 0 after 2.5 s",
            ));
        }
        Ok(())
    })
    .await
}

async fn expiry_zero_to_nonzero(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        // Clean Start 0 without a Session Expiry Interval: 0, the session ends with the
        // connection; setting 60 in DISCONNECT is a protocol error.
        let mut s = subscriber_with(&ctx, "s", &ctx.topic("z"), QoS::AtMostOnce, |c| {
            c.clean_start = false
        })
        .await?;
        disconnect_with_expiry(&mut s, 60).await?;
        // The close is the MUST ([MQTT-4.13.1-1]); a DISCONNECT before it is a SHOULD, with
        // any error code a server may send (3.14.2.2.2 names 0x82 Protocol Error).
        expect_error_close(&ctx, &mut s, &[0x82]).await?;
        s.drop_connection().await;
        if probe_session(&ctx, "s").await? {
            return Err(Stop::fail_at(
                v5!("MQTT-4.1.0-2"),
                "Session Present 0: the session expiry stayed 0",
                "Session Present 1 (the DISCONNECT's interval was applied)",
            ));
        }
        Ok(())
    })
    .await
}

// =====================================================================================
// Takeover.
// =====================================================================================

async fn takeover_closes_old(ctx: Ctx) -> Outcome {
    let mut old = ctx.connect("a").await?;
    let mut new = ctx.connect("a").await?;
    let seen = old.expect_close(ctx.patience()).await?;
    if let Some(rc) = seen.disconnect {
        if rc != ReasonCode::SESSION_TAKEN_OVER {
            return Err(Stop::fail(
                "close, after no DISCONNECT or DISCONNECT 0x8E",
                format!("DISCONNECT 0x{:02X}", rc.0),
            ));
        }
    }
    new.send(Packet::PingReq).await?;
    precondition(
        new.expect(ctx.patience(), "PINGRESP on the new connection", |x| {
            (*x == Packet::PingResp).then_some(())
        })
        .await,
        "the new connection does not work",
    )?;
    new.disconnect().await
}

async fn takeover_sends_0x8e(ctx: Ctx) -> Outcome {
    let mut old = ctx.connect("a").await?;
    let new = ctx.connect("a").await?;
    let seen = precondition(
        old.expect_close(ctx.patience()).await,
        "the old connection was not closed",
    )?;
    new.disconnect().await?;
    match seen.disconnect {
        Some(rc) if rc == ReasonCode::SESSION_TAKEN_OVER => Ok(()),
        Some(rc) => Err(Stop::fail(
            "DISCONNECT 0x8E before the close",
            format!("DISCONNECT 0x{:02X}", rc.0),
        )),
        None => Err(Stop::fail(
            "DISCONNECT 0x8E before the close",
            "a close without DISCONNECT",
        )),
    }
}

async fn takeover_session_continues(ctx: Ctx) -> Outcome {
    cleaning(ctx, &["s"], |ctx| async move {
        let t = ctx.topic("take");
        let old = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
        let (mut new, a) = connect_persistent(&ctx, "s", false).await?;
        // The old connection is closed by the server; its fate is the other test's business.
        old.drop_connection().await;
        if !a.session_present {
            new.drop_connection().await;
            return Err(Stop::fail_at(
                ctx.pick(v311!("MQTT-3.2.2-2"), v5!("MQTT-3.2.2-3")),
                "Session Present 1 when taking over a connected session with Clean Start 0",
                "Session Present 0",
            ));
        }
        let mut p = ctx.connect("p").await?;
        send_complete(&ctx, &mut p, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
        let m = recv_publish(
            &ctx,
            &mut new,
            &t,
            "the message on the subscription made by the taken-over connection",
        )
        .await?;
        ack(&ctx, &mut new, &m).await?;
        p.disconnect().await?;
        new.disconnect().await
    })
    .await
}
