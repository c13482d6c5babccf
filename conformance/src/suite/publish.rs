//! Chapters 3.3-3.7 (PUBLISH and its acknowledgements), 4.3 (QoS flows), 2.3.1 / 2.2.1 (packet
//! identifiers), 4.6 (ordering), 4.9 (flow control) and the 5.0 PUBLISH properties: message
//! expiry, payload format, content type, request/response, user properties, topic aliases and
//! maximum packet size.
//!
//! Retained messages are tested in `subscribe`; redelivery after a reconnect in `session`.
//! The helpers (`sub`, `send_complete`, `recv_publish`, ...) live in `util`.

use std::time::Duration;

use mqtt_codec::bytes::Bytes;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{
    Packet, PacketType, Props, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Subscribe,
    Subscription,
};
use mqtt_spec::{v311, v5, StatementId};

use super::util::{
    ack, connect_persistent, drain, drain_expecting, drain_publish, end_session, expect_ack,
    expect_disconnect_code, expect_error_close, expect_error_close_without, msg, payloads,
    persistent_subscriber, precondition, publish, publisher_sent, pubrec_until_pubrel,
    recv_any_publish, recv_on, recv_publish, send_complete, server_error_code, sub, sub_and_pub,
    sub_and_pub_with, sub_many, subscriber, subscriber_with, wire_len,
};
use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::Client;
use crate::client::{describe, Incoming};

/// The tests of this module.
pub fn tests() -> Vec<TestCase> {
    vec![
        // ---- 3.3.4 / 3.4-3.7: the answers to a client's PUBLISH -------------------------
        TestCase::new(
            "publish.qos0.no-response",
            "The server sends nothing back for a QoS 0 PUBLISH",
            body!(qos0_no_response),
        )
        .v311(&[v311!("MQTT-3.3.4-1")])
        .v5(&[v5!("MQTT-3.3.4-1")]),
        TestCase::new(
            "publish.qos1.puback",
            "A QoS 1 PUBLISH is answered by a PUBACK with its packet identifier",
            body!(qos1_puback),
        )
        .v311(&[
            v311!("MQTT-3.3.4-1"),
            v311!("MQTT-4.3.2-2"),
            v311!("MQTT-2.3.1-6"),
        ])
        .v5(&[
            v5!("MQTT-3.3.4-1"),
            v5!("MQTT-4.3.2-4"),
            v5!("MQTT-2.2.1-5"),
            v5!("MQTT-3.4.2-1"),
        ])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.qos2.pubrec-pubcomp",
            "A QoS 2 PUBLISH is answered by PUBREC, and the PUBREL by PUBCOMP, with the same id",
            body!(qos2_flow),
        )
        .v311(&[
            v311!("MQTT-3.3.4-1"),
            v311!("MQTT-4.3.3-2"),
            v311!("MQTT-2.3.1-6"),
        ])
        .v5(&[
            v5!("MQTT-3.3.4-1"),
            v5!("MQTT-4.3.3-8"),
            v5!("MQTT-4.3.3-11"),
            v5!("MQTT-2.2.1-5"),
            v5!("MQTT-3.5.2-1"),
            v5!("MQTT-3.7.2-1"),
        ])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.qos1.id-reuse-is-new-message",
            "After its PUBACK, a QoS 1 packet id reused (even with DUP=1) carries a new message",
            body!(qos1_id_reuse),
        )
        .v311(&[v311!("MQTT-4.3.2-2")])
        .v5(&[v5!("MQTT-4.3.2-5")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.qos2.resend-before-pubrel-not-duplicated",
            "A QoS 2 PUBLISH resent with DUP=1 before PUBREL gets another PUBREC and is delivered once",
            body!(qos2_resend_not_duplicated),
        )
        .v311(&[v311!("MQTT-4.3.3-2")])
        .v5(&[v5!("MQTT-4.3.3-10")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.qos2.id-reuse-after-pubcomp",
            "After PUBCOMP, a QoS 2 packet id reused carries a new message that is delivered",
            body!(qos2_id_reuse),
        )
        .v311(&[v311!("MQTT-4.3.3-2")])
        .v5(&[v5!("MQTT-4.3.3-12")])
        .requires(&[Cap::QoS2]),
        // ---- 4.3 the server as sender ---------------------------------------------------
        TestCase::new(
            "publish.qos0.delivery",
            "A QoS 0 message reaches a subscriber as QoS 0, DUP 0, without packet id, on its topic",
            body!(qos0_delivery),
        )
        .v311(&[
            v311!("MQTT-4.3.1-1"),
            v311!("MQTT-3.3.1-2"),
            v311!("MQTT-2.3.1-5"),
            v311!("MQTT-3.3.2-3"),
        ])
        .v5(&[
            v5!("MQTT-4.3.1-1"),
            v5!("MQTT-3.3.1-2"),
            v5!("MQTT-2.2.1-2"),
            v5!("MQTT-3.3.2-3"),
        ]),
        TestCase::new(
            "publish.server.qos1-first-transmission",
            "The server sends a QoS 1 message with QoS 1, DUP 0 and a non-zero packet id",
            body!(server_qos1),
        )
        .v311(&[v311!("MQTT-4.3.2-1"), v311!("MQTT-2.3.1-1")])
        .v5(&[
            v5!("MQTT-4.3.2-2"),
            v5!("MQTT-4.3.2-1"),
            v5!("MQTT-2.2.1-4"),
        ])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.server.dup-not-propagated",
            "A publisher's DUP=1 is not copied to the PUBLISH the server sends to a subscriber",
            body!(dup_not_propagated),
        )
        .v311(&[v311!("MQTT-3.3.1-3")])
        .v5(&[v5!("MQTT-3.3.1-3")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.server.qos2-flow",
            "The server sends QoS 2 with DUP 0, answers PUBREC with PUBREL (same id), never resends the PUBLISH",
            body!(server_qos2),
        )
        .v311(&[
            v311!("MQTT-4.3.3-1"),
            v311!("MQTT-2.3.1-6"),
            v311!("MQTT-2.3.1-1"),
        ])
        .v5(&[
            v5!("MQTT-4.3.3-2"),
            v5!("MQTT-4.3.3-1"),
            v5!("MQTT-4.3.3-4"),
            v5!("MQTT-2.2.1-5"),
            v5!("MQTT-3.6.2-1"),
            v5!("MQTT-4.3.3-6"),
        ])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.server.packet-ids-unused",
            "Unacknowledged QoS 1 and QoS 2 messages to one client carry distinct non-zero packet ids",
            body!(server_ids_distinct),
        )
        .v311(&[v311!("MQTT-2.3.1-4"), v311!("MQTT-4.3.2-1")])
        .v5(&[
            v5!("MQTT-2.2.1-4"),
            v5!("MQTT-4.3.2-1"),
            v5!("MQTT-4.3.3-1"),
        ])
        .requires(&[Cap::QoS2]),
        // ---- QoS of deliveries --------------------------------------------------------
        TestCase::new(
            "publish.qos.downgrade-to-subscription",
            "Messages are delivered at the lower of the published QoS and the granted QoS",
            body!(qos_downgrade),
        )
        .v311(&[v311!("MQTT-3.8.4-6")])
        .v5(&[v5!("MQTT-3.8.4-8")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.qos.overlapping-subscriptions",
            "A message matching overlapping subscriptions is delivered at the highest of their QoS",
            body!(overlapping_max_qos),
        )
        .v311(&[v311!("MQTT-3.3.5-1")])
        .v5(&[v5!("MQTT-3.3.4-2")])
        .requires(&[Cap::QoS1, Cap::Wildcards]),
        // ---- 4.6 ordering -------------------------------------------------------------
        TestCase::new(
            "publish.order.qos0",
            "QoS 0 messages of one publisher on one topic reach a subscriber in publication order",
            body!(order_qos0),
        )
        .v311(&[v311!("MQTT-4.6.0-6"), v311!("MQTT-4.6.0-5")])
        .v5(&[v5!("MQTT-4.6.0-5"), v5!("MQTT-4.6.0-6")]),
        TestCase::new(
            "publish.order.qos1",
            "QoS 1 messages of one publisher on one topic reach a subscriber in publication order",
            body!(order_qos1),
        )
        .v311(&[v311!("MQTT-4.6.0-6"), v311!("MQTT-4.6.0-5")])
        .v5(&[v5!("MQTT-4.6.0-5"), v5!("MQTT-4.6.0-6")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.order.qos2",
            "QoS 2 messages of one publisher on one topic reach a subscriber in publication order",
            body!(order_qos2),
        )
        .v311(&[v311!("MQTT-4.6.0-6"), v311!("MQTT-4.6.0-5")])
        .v5(&[v5!("MQTT-4.6.0-5"), v5!("MQTT-4.6.0-6")])
        .requires(&[Cap::QoS2]),
        // ---- 3.3.1 flags and 3.6.1 PUBREL flags ---------------------------------------
        TestCase::new(
            "publish.flags.qos-3-closes",
            "A PUBLISH with both QoS bits set makes the server close the connection",
            body!(qos3_closes),
        )
        .v311(&[v311!("MQTT-3.3.1-4")])
        .v5(&[v5!("MQTT-3.3.1-4")]),
        TestCase::new(
            "publish.pubrel.reserved-flags-close",
            "A PUBREL whose fixed-header flags are not 0010 makes the server close the connection",
            body!(pubrel_flags_close),
        )
        .v311(&[v311!("MQTT-3.6.1-1")])
        .v5(&[v5!("MQTT-3.6.1-1")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.topic.wildcard-closes",
            "A PUBLISH whose topic name contains '+' or '#' makes the server close the connection",
            body!(wildcard_topic_closes),
        )
        // The topic rule binds the sender; the server's duty to close is the error handling
        // rule of each version, named first so that a failure blames it.
        .v311(&[v311!("MQTT-4.8.0-1"), v311!("MQTT-3.3.2-2")])
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.2-2")]),
        // ---- 5.0 properties passed on -------------------------------------------------
        TestCase::new(
            "publish.properties.payload-format-indicator",
            "The Payload Format Indicator reaches the subscriber as the publisher set it",
            body!(prop_payload_format),
        )
        .v5(&[v5!("MQTT-3.3.2-4")]),
        TestCase::new(
            "publish.properties.content-type",
            "The Content Type reaches the subscriber unchanged",
            body!(prop_content_type),
        )
        .v5(&[v5!("MQTT-3.3.2-20")]),
        TestCase::new(
            "publish.properties.response-topic",
            "The Response Topic reaches the subscriber unchanged",
            body!(prop_response_topic),
        )
        .v5(&[v5!("MQTT-3.3.2-15")]),
        TestCase::new(
            "publish.properties.correlation-data",
            "The Correlation Data reaches the subscriber byte for byte",
            body!(prop_correlation_data),
        )
        .v5(&[v5!("MQTT-3.3.2-16")]),
        TestCase::new(
            "publish.properties.user-properties-in-order",
            "Every User Property reaches the subscriber unchanged and in the publisher's order",
            body!(prop_user_properties),
        )
        .v5(&[v5!("MQTT-3.3.2-17"), v5!("MQTT-3.3.2-18")]),
        // ---- authorization and refused messages ------------------------------------------
        TestCase::new(
            "publish.authorization.unauthorized-acknowledged-or-closed",
            "A PUBLISH the client is not authorized to make is acknowledged as usual for its QoS, or the connection is closed",
            body!(unauthorized_publish),
        )
        .v311(&[v311!("MQTT-3.3.5-2")]),
        TestCase::new(
            "publish.qos2.failed-pubrec-then-same-id-is-new",
            "After a PUBREC with a failure code, a PUBLISH reusing that packet identifier is a new message and is delivered",
            body!(failed_pubrec_then_new),
        )
        .v5(&[v5!("MQTT-4.3.3-9")])
        .requires(&[Cap::QoS2]),
        // ---- 5.0 message expiry -------------------------------------------------------
        TestCase::new(
            "publish.message-expiry.expired-not-delivered",
            "A queued message whose expiry interval has passed is not delivered",
            body!(expiry_not_delivered),
        )
        .v5(&[v5!("MQTT-3.3.2-5")])
        .requires(&[Cap::QoS1, Cap::PersistentSessions]),
        TestCase::new(
            "publish.message-expiry.interval-reduced",
            "A forwarded message carries its expiry interval minus the time it waited in the server",
            body!(expiry_reduced),
        )
        .v5(&[v5!("MQTT-3.3.2-6")])
        .requires(&[Cap::QoS1, Cap::PersistentSessions]),
        TestCase::new(
            "publish.message-expiry.qos2-receiver-completes",
            "The server completes PUBREL/PUBCOMP for a QoS 2 message whose expiry has passed",
            body!(expiry_qos2_receiver_completes),
        )
        .v5(&[v5!("MQTT-4.3.3-13")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.message-expiry.qos2-sender-continues",
            "A QoS 2 message already sent is not expired: the server answers PUBREC with PUBREL after the expiry",
            body!(expiry_qos2_sender_continues),
        )
        .v5(&[v5!("MQTT-4.3.3-7")])
        .requires(&[Cap::QoS2]),
        // ---- 4.9 flow control ---------------------------------------------------------
        TestCase::new(
            "publish.flow-control.receive-maximum-respected",
            "The server never has more unacknowledged QoS 1 PUBLISH in flight than the client's Receive Maximum",
            body!(flow_receive_maximum),
        )
        .v5(&[
            v5!("MQTT-3.3.4-9"),
            v5!("MQTT-4.9.0-2"),
            v5!("MQTT-4.9.0-1"),
            v5!("MQTT-4.5.0-1"),
        ])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.flow-control.qos2-quota-until-pubcomp",
            "A QoS 2 delivery holds its unit of send quota until PUBCOMP, not PUBREC",
            body!(flow_qos2_quota),
        )
        .v5(&[v5!("MQTT-4.9.0-2"), v5!("MQTT-3.3.4-9")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.flow-control.other-packets-still-flow",
            "With the send quota at zero the server still answers PINGREQ, SUBSCRIBE and PUBLISH",
            body!(flow_other_packets),
        )
        .v5(&[v5!("MQTT-3.3.4-10"), v5!("MQTT-4.9.0-3")])
        .requires(&[Cap::QoS1]),
        // [MQTT-3.3.4-7] binds the client; the server's duty is the close of 4.13.1 (a
        // Protocol Error). The code 0x93 is a SHOULD, checked by the `-code-0x93` test.
        TestCase::new(
            "publish.flow-control.client-exceeds-receive-maximum",
            "A client with more unacknowledged QoS 2 PUBLISH than the server's Receive Maximum is disconnected",
            body!(flow_client_exceeds),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.4-7")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.flow-control.client-exceeds-receive-maximum-code-0x93",
            "A client exceeding the server's Receive Maximum gets DISCONNECT 0x93 (Receive Maximum exceeded) before the close",
            body!(flow_client_exceeds_code),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.4-7")])
        .requires(&[Cap::QoS2])
        .should(),
        // ---- topic aliases ------------------------------------------------------------
        TestCase::new(
            "publish.topic-alias.client-mapping",
            "Topic aliases from 1 to the server's maximum are set, used and updated by the client",
            body!(alias_client_mapping),
        )
        .v5(&[v5!("MQTT-3.3.2-12")])
        .requires(&[Cap::TopicAlias, Cap::QoS1]),
        // [MQTT-3.3.2-8] / [MQTT-3.3.2-9] bind the client; the server's duty is the close of
        // 4.13.1. The code 0x94 ("the receiver uses", 3.3.2.3.4) is a SHOULD, checked by
        // `-code-0x94` tests.
        TestCase::new(
            "publish.topic-alias.above-maximum-closes",
            "A Topic Alias above the server's Topic Alias Maximum makes the server disconnect",
            body!(alias_above_maximum),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.2-9")]),
        TestCase::new(
            "publish.topic-alias.above-maximum-code-0x94",
            "A Topic Alias above the server's Topic Alias Maximum gets DISCONNECT 0x94 (Topic Alias invalid) before the close",
            body!(alias_above_maximum_code),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.2-9")])
        .should(),
        TestCase::new(
            "publish.topic-alias.zero-closes",
            "A Topic Alias of 0 makes the server disconnect",
            body!(alias_zero),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.3.2-8")]),
        TestCase::new(
            "publish.topic-alias.not-kept-across-connections",
            "An alias set on an earlier connection is unknown on the next one: using it is a protocol error",
            body!(alias_per_connection),
        )
        .v5(&[v5!("MQTT-3.3.2-7"), v5!("MQTT-4.13.1-1")])
        .requires(&[Cap::TopicAlias]),
        TestCase::new(
            "publish.topic-alias.server-none-without-maximum",
            "The server uses no Topic Alias toward a client that announced no Topic Alias Maximum",
            body!(alias_server_none),
        )
        .v5(&[v5!("MQTT-3.1.2-27")]),
        TestCase::new(
            "publish.topic-alias.server-within-maximum",
            "Topic aliases the server sends stay within the client's Topic Alias Maximum and resolve to the right topic",
            body!(alias_server_within),
        )
        .v5(&[v5!("MQTT-3.1.2-26"), v5!("MQTT-3.3.2-11"), v5!("MQTT-4.6.0-5")]),
        // ---- maximum packet size ------------------------------------------------------
        TestCase::new(
            "publish.maximum-packet-size.oversized-dropped",
            "A message larger than the client's Maximum Packet Size is not sent; later ones still are",
            body!(mps_oversized_dropped),
        )
        .v5(&[v5!("MQTT-3.1.2-24"), v5!("MQTT-3.1.2-25")])
        .requires(&[Cap::QoS1]),
        TestCase::new(
            "publish.maximum-packet-size.acks-fit",
            "PUBACK, PUBREC and PUBCOMP never exceed the client's Maximum Packet Size (reason string / user properties left out)",
            body!(mps_acks_fit),
        )
        .v5(&[
            v5!("MQTT-3.1.2-24"),
            v5!("MQTT-3.4.2-2"),
            v5!("MQTT-3.4.2-3"),
            v5!("MQTT-3.5.2-2"),
            v5!("MQTT-3.5.2-3"),
            v5!("MQTT-3.7.2-2"),
            v5!("MQTT-3.7.2-3"),
        ])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.maximum-packet-size.pubrel-fits",
            "A PUBREL from the server never exceeds the client's Maximum Packet Size",
            body!(mps_pubrel_fits),
        )
        .v5(&[v5!("MQTT-3.6.2-2"), v5!("MQTT-3.6.2-3")])
        .requires(&[Cap::QoS2]),
        TestCase::new(
            "publish.request-problem-information.acks-bare",
            "With Request Problem Information 0, PUBACK, PUBREC and PUBCOMP carry no Reason String or User Property",
            body!(rpi_acks_bare),
        )
        .v5(&[v5!("MQTT-3.1.2-29")])
        .requires(&[Cap::QoS2]),
        // [MQTT-3.2.2-15] binds the client; the server's duty is the close of 4.13.1 (4.13.1
        // lists packets too large among the Malformed Packets). The code 0x95 is a SHOULD,
        // checked by the `-code-0x95` test.
        TestCase::new(
            "publish.maximum-packet-size.client-exceeds",
            "A packet larger than the server's Maximum Packet Size makes the server disconnect",
            body!(mps_client_exceeds),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.2.2-15")]),
        TestCase::new(
            "publish.maximum-packet-size.client-exceeds-code-0x95",
            "A packet larger than the server's Maximum Packet Size gets DISCONNECT 0x95 (Packet too large) before the close",
            body!(mps_client_exceeds_code),
        )
        .v5(&[v5!("MQTT-4.13.1-1"), v5!("MQTT-3.2.2-15")])
        .should(),
    ]
}

/// Publishes from a fresh client "p" and completes the flow.
async fn publish_from(ctx: &Ctx, m: Publish) -> Outcome {
    publisher_sent(ctx, m).await?.disconnect().await
}

fn rc_in(rc: ReasonCode, table: &[u8]) -> bool {
    table.contains(&rc.0)
}

/// PUBACK and PUBREC reason codes (5.0 tables).
const PUBACK_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// PUBREL and PUBCOMP reason codes.
const PUBREL_CODES: &[u8] = &[0x00, 0x92];

// =====================================================================================
// Client -> server flows.
// =====================================================================================

async fn qos0_no_response(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("q0");
    c.send(Packet::Publish(msg(&t, QoS::AtMostOnce, 0, b"zero")))
        .await?;
    c.send(Packet::PingReq).await?;
    let first = c
        .recv(ctx.patience(), "PINGRESP (and nothing before it)")
        .await?;
    if first != Packet::PingResp {
        return Err(Stop::fail(
            "no answer to a QoS 0 PUBLISH (the next packet is the PINGRESP)",
            describe(&first),
        ));
    }
    c.disconnect().await
}

async fn qos1_puback(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("q1");
    for id in [0x1234u16, 7] {
        c.send(Packet::Publish(msg(&t, QoS::AtLeastOnce, id, b"one")))
            .await?;
        let p = c
            .recv(ctx.patience(), &format!("PUBACK for id {id}"))
            .await?;
        match p {
            Packet::PubAck(a) => {
                if a.packet_id != id {
                    return Err(Stop::fail_at(
                        ctx.pick(v311!("MQTT-2.3.1-6"), v5!("MQTT-2.2.1-5")),
                        format!("PUBACK with id {id}"),
                        describe(&Packet::PubAck(a)),
                    ));
                }
                if ctx.v5() && !rc_in(a.reason_code, PUBACK_CODES) {
                    return Err(Stop::fail_at(
                        v5!("MQTT-3.4.2-1"),
                        "a PUBACK reason code from the PUBACK table",
                        format!("PUBACK rc=0x{:02X}", a.reason_code.0),
                    ));
                }
            }
            other => return Err(Stop::fail(format!("PUBACK with id {id}"), describe(&other))),
        }
    }
    c.disconnect().await
}

async fn qos2_flow(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("q2");
    let id = 0x0102;
    let ids = ctx.pick(v311!("MQTT-2.3.1-6"), v5!("MQTT-2.2.1-5"));
    c.send(Packet::Publish(msg(&t, QoS::ExactlyOnce, id, b"two")))
        .await?;
    match c.recv(ctx.patience(), "PUBREC for id 258").await? {
        Packet::PubRec(a) => {
            if a.packet_id != id {
                return Err(Stop::fail_at(
                    ids,
                    "PUBREC with id 258",
                    describe(&Packet::PubRec(a)),
                ));
            }
            if ctx.v5() && !rc_in(a.reason_code, PUBACK_CODES) {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.5.2-1"),
                    "a PUBREC reason code from the PUBREC table",
                    format!("PUBREC rc=0x{:02X}", a.reason_code.0),
                ));
            }
            if a.reason_code.0 >= 0x80 {
                return Err(Stop::Inconclusive(format!(
                    "the server refused the message with PUBREC 0x{:02X}",
                    a.reason_code.0
                )));
            }
        }
        other => return Err(Stop::fail("PUBREC with id 258", describe(&other))),
    }
    c.send(Packet::PubRel(PubRel::new(id))).await?;
    let comp_rule = ctx.pick(v311!("MQTT-4.3.3-2"), v5!("MQTT-4.3.3-11"));
    match c.recv(ctx.patience(), "PUBCOMP for id 258").await {
        Ok(Packet::PubComp(a)) => {
            if a.packet_id != id {
                return Err(Stop::fail_at(
                    comp_rule,
                    "PUBCOMP with id 258",
                    describe(&Packet::PubComp(a)),
                ));
            }
            if ctx.v5() && !rc_in(a.reason_code, PUBREL_CODES) {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.7.2-1"),
                    "a PUBCOMP reason code from the PUBCOMP table (0x00, 0x92)",
                    format!("PUBCOMP rc=0x{:02X}", a.reason_code.0),
                ));
            }
            if a.reason_code.0 != 0 {
                return Err(Stop::fail_at(
                    comp_rule,
                    "PUBCOMP rc=0x00 for the PUBREL of a message just received",
                    describe(&Packet::PubComp(a)),
                ));
            }
        }
        Ok(other) => {
            return Err(Stop::fail_at(
                comp_rule,
                "PUBCOMP with id 258",
                describe(&other),
            ))
        }
        Err(Stop::Fail { observed, .. }) => {
            return Err(Stop::fail_at(comp_rule, "PUBCOMP with id 258", observed))
        }
        Err(e) => return Err(e),
    }
    c.disconnect().await
}

/// Receives and acknowledges two messages on `t`, which must be `first` then `second`.
async fn expect_first_second(ctx: &Ctx, s: &mut Client, t: &str, expected: &str) -> Outcome {
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = recv_publish(ctx, s, t, expected).await?;
        ack(ctx, s, &m).await?;
        got.push(m);
    }
    if payloads(&got) != "first,second" {
        return Err(Stop::fail(
            "messages first,second",
            format!("messages {}", payloads(&got)),
        ));
    }
    Ok(())
}

async fn qos1_id_reuse(ctx: Ctx) -> Outcome {
    let t = ctx.topic("reuse1");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::AtLeastOnce).await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 9, b"first").await?;
    let mut again = msg(&t, QoS::AtLeastOnce, 9, b"second");
    again.dup = true;
    send_complete(&ctx, &mut p, again).await?;
    expect_first_second(
        &ctx,
        &mut s,
        &t,
        "both messages sent with id 9 (the second with DUP=1 after the PUBACK)",
    )
    .await?;
    p.disconnect().await?;
    s.disconnect().await
}

async fn qos2_resend_not_duplicated(ctx: Ctx) -> Outcome {
    let t = ctx.topic("dup2");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::AtLeastOnce).await?;
    let id = 5;
    let first = msg(&t, QoS::ExactlyOnce, id, b"once");
    p.send(Packet::Publish(first.clone())).await?;
    precondition(
        expect_ack(&ctx, &mut p, PacketType::PubRec, id, "PUBREC").await,
        "the first QoS 2 PUBLISH got no PUBREC",
    )?;
    let mut again = first;
    again.dup = true;
    p.send(Packet::Publish(again)).await?;
    let rc = expect_ack(
        &ctx,
        &mut p,
        PacketType::PubRec,
        id,
        "another PUBREC for the resent PUBLISH (id 5)",
    )
    .await?;
    if rc.0 >= 0x80 {
        return Err(Stop::fail(
            "PUBREC with a success code for the resent PUBLISH",
            format!("PUBREC rc=0x{:02X}", rc.0),
        ));
    }
    p.send(Packet::PubRel(PubRel::new(id))).await?;
    precondition(
        expect_ack(&ctx, &mut p, PacketType::PubComp, id, "PUBCOMP").await,
        "no PUBCOMP",
    )?;
    let m = recv_publish(&ctx, &mut s, &t, "the message, once").await?;
    ack(&ctx, &mut s, &m).await?;
    let rest = drain(&mut s, ctx.quiet()).await?;
    let copies: Vec<&Packet> = rest
        .iter()
        .filter(|x| matches!(x, Packet::Publish(m) if *m.topic == t))
        .collect();
    if let Some(extra) = copies.first() {
        return Err(Stop::fail(
            "the message delivered once",
            format!("a second delivery: {}", describe(extra)),
        ));
    }
    p.disconnect().await?;
    s.disconnect().await
}

async fn qos2_id_reuse(ctx: Ctx) -> Outcome {
    let t = ctx.topic("reuse2");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::AtLeastOnce).await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 6, b"first").await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 6, b"second").await?;
    expect_first_second(
        &ctx,
        &mut s,
        &t,
        "both QoS 2 messages sent with id 6 (the second after PUBCOMP)",
    )
    .await?;
    p.disconnect().await?;
    s.disconnect().await
}

// =====================================================================================
// Server -> client flows.
// =====================================================================================

async fn qos0_delivery(ctx: Ctx) -> Outcome {
    let t = ctx.topic("d0");
    let mut s = ctx.connect("s").await?;
    sub_many(
        &ctx,
        &mut s,
        vec![Subscription::new(t.clone(), QoS::ExactlyOnce)],
    )
    .await?;
    let mut p = ctx.connect("p").await?;
    let payload = b"qos-zero-payload";
    publish(&ctx, &mut p, &t, QoS::AtMostOnce, 0, payload).await?;
    let m = recv_any_publish(&ctx, &mut s, "the QoS 0 message on its topic").await?;
    if *m.topic != *t {
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-3.3.2-3"), v5!("MQTT-3.3.2-3")),
            format!("topic {t:?}"),
            describe(&Packet::Publish(m)),
        ));
    }
    if m.qos != QoS::AtMostOnce {
        return Err(Stop::fail(
            "QoS 0 (published at QoS 0)",
            describe(&Packet::Publish(m)),
        ));
    }
    if m.dup {
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-3.3.1-2"), v5!("MQTT-3.3.1-2")),
            "DUP 0 on a QoS 0 PUBLISH",
            describe(&Packet::Publish(m)),
        ));
    }
    if &m.payload[..] != payload {
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-2.3.1-5"), v5!("MQTT-2.2.1-2")),
            format!(
                "the payload {:?} right after the topic (no packet id)",
                String::from_utf8_lossy(payload)
            ),
            format!("payload {:?}", String::from_utf8_lossy(&m.payload)),
        ));
    }
    p.disconnect().await?;
    s.disconnect().await
}

/// Subscribes "s" to a topic at `qos`, publishes one message on it at `qos` from "p" and checks
/// the delivery: QoS `qos` and DUP 0, and a non-zero packet id (else `id_rule` fails).
async fn first_delivery(
    ctx: &Ctx,
    suffix: &str,
    qos: QoS,
    id_rule: StatementId,
) -> Result<(Client, Publish), Stop> {
    let t = ctx.topic(suffix);
    let mut s = subscriber(ctx, &t, qos).await?;
    publish_from(ctx, msg(&t, qos, 1, b"m")).await?;
    let q = qos.as_u8();
    let m = recv_publish(ctx, &mut s, &t, &format!("the QoS {q} message")).await?;
    if m.qos != qos || m.dup {
        return Err(Stop::fail(
            format!("PUBLISH with QoS {q} and DUP 0"),
            describe(&Packet::Publish(m)),
        ));
    }
    if m.packet_id == 0 {
        return Err(Stop::fail_at(
            id_rule,
            "a non-zero packet id",
            describe(&Packet::Publish(m)),
        ));
    }
    Ok((s, m))
}

async fn server_qos1(ctx: Ctx) -> Outcome {
    let id_rule = ctx.pick(v311!("MQTT-2.3.1-1"), v5!("MQTT-2.2.1-4"));
    let (mut s, m) = first_delivery(&ctx, "s1", QoS::AtLeastOnce, id_rule).await?;
    ack(&ctx, &mut s, &m).await?;
    s.disconnect().await
}

async fn dup_not_propagated(ctx: Ctx) -> Outcome {
    let t = ctx.topic("dupprop");
    let mut s = subscriber(&ctx, &t, QoS::AtLeastOnce).await?;
    let mut m = msg(&t, QoS::AtLeastOnce, 3, b"m");
    m.dup = true;
    publish_from(&ctx, m).await?;
    let m = recv_publish(&ctx, &mut s, &t, "the message").await?;
    if m.dup {
        return Err(Stop::fail(
            "DUP 0 on the first transmission to the subscriber",
            describe(&Packet::Publish(m)),
        ));
    }
    ack(&ctx, &mut s, &m).await?;
    s.disconnect().await
}

async fn server_qos2(ctx: Ctx) -> Outcome {
    let id_rule = ctx.pick(v311!("MQTT-2.3.1-1"), v5!("MQTT-4.3.3-1"));
    let (mut s, m) = first_delivery(&ctx, "s2", QoS::ExactlyOnce, id_rule).await?;
    let id = m.packet_id;
    s.send(Packet::PubRec(PubRec::new(id))).await?;
    let rel_rule = ctx.pick(v311!("MQTT-4.3.3-1"), v5!("MQTT-4.3.3-4"));
    let ids_rule = ctx.pick(v311!("MQTT-2.3.1-6"), v5!("MQTT-2.2.1-5"));
    match s
        .expect(ctx.patience(), "PUBREL after the PUBREC", |x| match x {
            Packet::PubRel(r) => Some(r.clone()),
            _ => None,
        })
        .await
    {
        Ok(r) => {
            if r.packet_id != id {
                return Err(Stop::fail_at(
                    ids_rule,
                    format!("PUBREL with id {id}"),
                    describe(&Packet::PubRel(r)),
                ));
            }
            if ctx.v5() && !rc_in(r.reason_code, PUBREL_CODES) {
                return Err(Stop::fail_at(
                    v5!("MQTT-3.6.2-1"),
                    "a PUBREL reason code from the table (0x00, 0x92)",
                    describe(&Packet::PubRel(r)),
                ));
            }
        }
        Err(Stop::Fail {
            expected, observed, ..
        }) => return Err(Stop::fail_at(rel_rule, expected, observed)),
        Err(e) => return Err(e),
    }
    s.send(Packet::PubComp(PubComp::new(id))).await?;
    let rest = drain(&mut s, ctx.quiet()).await?;
    if let Some(p) = rest.iter().find(|p| matches!(p, Packet::Publish(_))) {
        return Err(Stop::fail_at(
            ctx.pick(v311!("MQTT-4.3.3-1"), v5!("MQTT-4.3.3-6")),
            "nothing more once the QoS 2 flow is complete",
            describe(p),
        ));
    }
    s.disconnect().await
}

async fn server_ids_distinct(ctx: Ctx) -> Outcome {
    let t = ctx.topic("ids");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::ExactlyOnce).await?;
    let n = 6u16;
    for i in 0..n {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        publish(&ctx, &mut p, &t, qos, 100 + i, format!("m{i}").as_bytes()).await?;
    }
    let mut got: Vec<Publish> = Vec::new();
    for _ in 0..n {
        let m = recv_publish(
            &ctx,
            &mut s,
            &t,
            "six messages, none acknowledged by the subscriber",
        )
        .await?;
        if m.packet_id == 0 {
            return Err(Stop::fail(
                "non-zero packet ids",
                describe(&Packet::Publish(m)),
            ));
        }
        if let Some(prev) = got.iter().find(|g| g.packet_id == m.packet_id) {
            return Err(Stop::fail(
                "a packet id not used by an unacknowledged PUBLISH",
                format!(
                    "id {} used by {} and by {}",
                    m.packet_id,
                    describe(&Packet::Publish(prev.clone())),
                    describe(&Packet::Publish(m.clone()))
                ),
            ));
        }
        got.push(m);
    }
    for m in &got {
        ack(&ctx, &mut s, m).await?;
    }
    p.disconnect().await?;
    s.disconnect().await
}

async fn qos_downgrade(ctx: Ctx) -> Outcome {
    let t = ctx.topic("down");
    let mut subs = Vec::new();
    for (label, q) in [
        ("s0", QoS::AtMostOnce),
        ("s1", QoS::AtLeastOnce),
        ("s2", QoS::ExactlyOnce),
    ] {
        let mut c = ctx.connect(label).await?;
        sub(&ctx, &mut c, &t, q).await?;
        subs.push((c, q));
    }
    let mut p = ctx.connect("p").await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 1, b"A2").await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 2, b"B1").await?;
    for (c, granted) in subs.iter_mut() {
        // Matched by payload: A2 and B1 may arrive at different QoS, and order is promised
        // only within one QoS ([MQTT-4.6.0-5]).
        let mut seen: Vec<&str> = Vec::new();
        for _ in 0..2 {
            let m = recv_on(
                c,
                ctx.patience(),
                &t,
                &format!("messages A2 and B1 on a QoS {granted} subscription"),
            )
            .await?;
            let Some((name, published)) = [("A2", QoS::ExactlyOnce), ("B1", QoS::AtLeastOnce)]
                .into_iter()
                .find(|(n, _)| m.payload[..] == *n.as_bytes() && !seen.contains(n))
            else {
                return Err(Stop::fail(
                    format!("messages A2 and B1, once each, on a QoS {granted} subscription"),
                    format!(
                        "{} payload {:?}",
                        describe(&Packet::Publish(m.clone())),
                        String::from_utf8_lossy(&m.payload)
                    ),
                ));
            };
            seen.push(name);
            let want = (*granted).min(published);
            if m.qos != want {
                return Err(Stop::fail(
                    format!("message {name} (published at QoS {published}) at QoS {want} on a QoS {granted} subscription"),
                    format!("{} payload {:?}", describe(&Packet::Publish(m.clone())), String::from_utf8_lossy(&m.payload)),
                ));
            }
            ack(&ctx, c, &m).await?;
        }
    }
    p.disconnect().await?;
    for (c, _) in subs {
        c.disconnect().await?;
    }
    Ok(())
}

async fn overlapping_max_qos(ctx: Ctx) -> Outcome {
    let t = ctx.topic("ov/x");
    let wild = ctx.topic("ov/+");
    let mut s = ctx.connect("s").await?;
    let codes = sub_many(
        &ctx,
        &mut s,
        vec![
            Subscription::new(wild, QoS::AtMostOnce),
            Subscription::new(t.clone(), QoS::AtLeastOnce),
        ],
    )
    .await?;
    if codes.get(1).map(|c| c.0) != Some(1) {
        return Err(Stop::Inconclusive("QoS 1 not granted".into()));
    }
    publish_from(&ctx, msg(&t, QoS::AtLeastOnce, 1, b"m")).await?;
    let first = recv_publish(&ctx, &mut s, &t, "the message").await?;
    ack(&ctx, &mut s, &first).await?;
    let mut copies = vec![first];
    for p in drain(&mut s, ctx.quiet()).await? {
        if let Packet::Publish(m) = p {
            ack(&ctx, &mut s, &m).await?;
            copies.push(m);
        }
    }
    if !copies.iter().any(|m| m.qos == QoS::AtLeastOnce) {
        return Err(Stop::fail(
            "a copy at QoS 1 (the highest QoS of the matching subscriptions)",
            copies
                .iter()
                .map(|m| describe(&Packet::Publish(m.clone())))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    s.disconnect().await
}

async fn order(ctx: Ctx, qos: QoS) -> Outcome {
    let t = ctx.topic("order");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, qos).await?;
    // At most the server's Receive Maximum in flight at once (5.0 [MQTT-3.3.4-7]).
    let n = if ctx.v5() && qos != QoS::AtMostOnce {
        10u16.min(ctx.caps().receive_maximum.max(2))
    } else {
        10u16
    };
    for i in 0..n {
        // No waiting between messages for QoS 1/2: the acknowledgements are collected at the
        // end, so that several messages are in flight at once.
        p.send(Packet::Publish(msg(
            &t,
            qos,
            i + 1,
            format!("{i}").as_bytes(),
        )))
        .await?;
    }
    // Complete the publisher's flows first (a server may hold a QoS 2 message until PUBREL).
    for i in 0..n {
        let id = i + 1;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                precondition(
                    expect_ack(&ctx, &mut p, PacketType::PubAck, id, "PUBACK").await,
                    "publishing",
                )?;
            }
            QoS::ExactlyOnce => {
                precondition(
                    expect_ack(&ctx, &mut p, PacketType::PubRec, id, "PUBREC").await,
                    "publishing",
                )?;
                p.send(Packet::PubRel(PubRel::new(id))).await?;
            }
        }
    }
    let mut got: Vec<Publish> = Vec::new();
    while got.len() < usize::from(n) {
        match recv_publish(&ctx, &mut s, &t, "all the messages").await {
            Ok(m) => {
                ack(&ctx, &mut s, &m).await?;
                got.push(m);
            }
            Err(Stop::Fail { .. }) if !got.is_empty() || qos == QoS::AtMostOnce => break,
            Err(e) => return Err(e),
        }
    }
    let seen: Vec<u16> = got
        .iter()
        .filter_map(|m| std::str::from_utf8(&m.payload).ok()?.parse().ok())
        .collect();
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    if seen != sorted {
        return Err(Stop::fail(
            "messages 0..9 in publication order",
            format!("order {}", payloads(&got)),
        ));
    }
    if seen.len() < usize::from(n) {
        if qos == QoS::AtMostOnce {
            return Err(Stop::Inconclusive(format!(
                "QoS 0 messages were lost ({} of 10 arrived), order unverifiable",
                seen.len()
            )));
        }
        return Err(Stop::fail(
            "all ten messages in publication order",
            format!("only {}", payloads(&got)),
        ));
    }
    p.disconnect().await?;
    s.disconnect().await
}

async fn order_qos0(ctx: Ctx) -> Outcome {
    order(ctx, QoS::AtMostOnce).await
}
async fn order_qos1(ctx: Ctx) -> Outcome {
    order(ctx, QoS::AtLeastOnce).await
}
async fn order_qos2(ctx: Ctx) -> Outcome {
    order(ctx, QoS::ExactlyOnce).await
}

// =====================================================================================
// Forbidden flags.
// =====================================================================================

async fn qos3_closes(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let m = msg(&ctx.topic("q3"), QoS::AtLeastOnce, 1, b"x");
    let raw = RawPacket::from_packet(&Packet::Publish(m), ctx.version()).flags(0b0110);
    c.send_raw("PUBLISH with QoS 3", &raw.to_bytes()).await?;
    expect_error_close(&ctx, &mut c, &[0x81, 0x82]).await
}

async fn pubrel_flags_close(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let t = ctx.topic("rel");
    c.send(Packet::Publish(msg(&t, QoS::ExactlyOnce, 4, b"x")))
        .await?;
    precondition(
        expect_ack(&ctx, &mut c, PacketType::PubRec, 4, "PUBREC").await,
        "no PUBREC",
    )?;
    let raw = RawPacket::from_packet(&Packet::PubRel(PubRel::new(4)), ctx.version()).flags(0);
    c.send_raw("PUBREL with flags 0000", &raw.to_bytes())
        .await?;
    expect_error_close_without(
        &ctx,
        &mut c,
        &[0x81],
        "PUBCOMP",
        "no PUBCOMP for a malformed PUBREL",
    )
    .await
}

async fn wildcard_topic_closes(ctx: Ctx) -> Outcome {
    let t = ctx.topic("w");
    let s = subscriber(&ctx, &t, QoS::AtMostOnce).await?;
    let mut c = ctx.connect("a").await?;
    let bad = format!("{t}/+");
    let m = msg(&bad, QoS::AtMostOnce, 0, b"x");
    let raw = RawPacket::from_packet(&Packet::Publish(m), ctx.version());
    c.send_raw("PUBLISH with '+' in the topic name", &raw.to_bytes())
        .await?;
    expect_error_close(&ctx, &mut c, &[0x81, 0x82, 0x90]).await?;
    s.disconnect().await
}

// =====================================================================================
// 5.0 properties passed on.
// =====================================================================================

/// Publishes a QoS 1 message edited by `edit` and returns what the subscriber received.
async fn forwarded(ctx: &Ctx, edit: impl FnOnce(&mut Publish)) -> Result<Publish, Stop> {
    let t = ctx.topic("props");
    let mut s = subscriber(ctx, &t, QoS::AtLeastOnce).await?;
    let mut m = msg(&t, QoS::AtLeastOnce, 1, b"{\"text\":\"payload\"}");
    edit(&mut m);
    publish_from(ctx, m).await?;
    let got = recv_publish(ctx, &mut s, &t, "the message").await?;
    ack(ctx, &mut s, &got).await?;
    s.disconnect().await?;
    Ok(got)
}

async fn prop_payload_format(ctx: Ctx) -> Outcome {
    let got = forwarded(&ctx, |m| m.properties.payload_format_indicator = Some(1)).await?;
    if got.properties.payload_format_indicator != Some(1) {
        return Err(Stop::fail(
            "Payload Format Indicator 1",
            format!("{:?}", got.properties.payload_format_indicator),
        ));
    }
    Ok(())
}

async fn prop_content_type(ctx: Ctx) -> Outcome {
    let ct = "application/x-conform; charset=utf-8";
    let got = forwarded(&ctx, |m| m.properties.content_type = Some(ct.into())).await?;
    if got.properties.content_type.as_deref() != Some(ct) {
        return Err(Stop::fail(
            format!("Content Type {ct:?}"),
            format!("{:?}", got.properties.content_type.as_deref()),
        ));
    }
    Ok(())
}

async fn prop_response_topic(ctx: Ctx) -> Outcome {
    let rt = ctx.topic("reply/to/me");
    let rt2 = rt.clone();
    let got = forwarded(&ctx, move |m| {
        m.properties.response_topic = Some(rt2.into());
    })
    .await?;
    if got.properties.response_topic.as_deref() != Some(rt.as_str()) {
        return Err(Stop::fail(
            format!("Response Topic {rt:?}"),
            format!("{:?}", got.properties.response_topic.as_deref()),
        ));
    }
    Ok(())
}

async fn prop_correlation_data(ctx: Ctx) -> Outcome {
    let cd: &[u8] = &[0x00, 0xFF, 0x10, 0x80, b'c', 0x00];
    let got = forwarded(&ctx, |m| {
        m.properties.correlation_data = Some(Bytes::copy_from_slice(cd));
    })
    .await?;
    if got.properties.correlation_data.as_deref() != Some(cd) {
        return Err(Stop::fail(
            format!("Correlation Data {}", hex::encode(cd)),
            format!(
                "{:?}",
                got.properties.correlation_data.as_ref().map(hex::encode)
            ),
        ));
    }
    Ok(())
}

async fn prop_user_properties(ctx: Ctx) -> Outcome {
    let sent: Vec<(&str, &str)> = vec![
        ("zeta", "1"),
        ("alpha", "2"),
        ("zeta", "3"),
        ("empty", ""),
        ("alpha", "2"),
    ];
    let got = forwarded(&ctx, |m| {
        for (k, v) in &sent {
            m.properties
                .user_properties
                .push(((*k).into(), (*v).into()));
        }
    })
    .await?;
    let got: Vec<(String, String)> = got
        .properties
        .user_properties
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let want: Vec<(String, String)> = sent
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if got != want {
        let mut a = got.clone();
        let mut b = want.clone();
        a.sort();
        b.sort();
        let show = |v: &[(String, String)]| {
            v.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if a == b {
            return Err(Stop::fail_at(
                v5!("MQTT-3.3.2-18"),
                format!("user properties in the order {}", show(&want)),
                format!("order {}", show(&got)),
            ));
        }
        return Err(Stop::fail(
            format!("user properties {}", show(&want)),
            show(&got),
        ));
    }
    Ok(())
}

// =====================================================================================
// 5.0 message expiry.
// =====================================================================================

async fn expiry_not_delivered(ctx: Ctx) -> Outcome {
    let t = ctx.topic("exp");
    let s = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
    // Gone for the broker before anything is published: a message sent to the old connection
    // would be resent on the new one, legitimately (onward delivery had started).
    s.disconnect_and_wait(ctx.patience()).await?;
    let mut p = ctx.connect("p").await?;
    let mut short = msg(&t, QoS::AtLeastOnce, 1, b"expires");
    short.properties.message_expiry_interval = Some(1);
    send_complete(&ctx, &mut p, short).await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 2, b"stays").await?;
    p.disconnect().await?;
    // Let the 1 s expiry pass while the subscriber is away.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut s, ack1) = connect_persistent(&ctx, "s", false).await?;
    if !ack1.session_present {
        end_session(&ctx, "s").await;
        return Err(Stop::Inconclusive(
            "the session was not resumed (Session Present 0)".into(),
        ));
    }
    let mut got = Vec::new();
    loop {
        match recv_on(&mut s, ctx.patience(), &t, "the message without expiry").await {
            Ok(m) => {
                ack(&ctx, &mut s, &m).await?;
                let last = &m.payload[..] == b"stays";
                got.push(m);
                if last {
                    break;
                }
            }
            Err(_) => {
                end_session(&ctx, "s").await;
                return Err(Stop::Inconclusive(format!(
                    "the queued message without expiry was not delivered (got [{}])",
                    payloads(&got)
                )));
            }
        }
    }
    s.disconnect().await?;
    end_session(&ctx, "s").await;
    if let Some(m) = got.iter().find(|m| &m.payload[..] == b"expires") {
        return Err(Stop::fail(
            "the message with a 1 s expiry interval is dropped after 2.5 s in the queue",
            describe(&Packet::Publish(m.clone())),
        ));
    }
    Ok(())
}

async fn expiry_reduced(ctx: Ctx) -> Outcome {
    let t = ctx.topic("expred");
    let mut s = persistent_subscriber(&ctx, "s", &t, QoS::AtLeastOnce).await?;
    // Online: forwarded at once, the interval present and not larger.
    let mut m = msg(&t, QoS::AtLeastOnce, 1, b"online");
    m.properties.message_expiry_interval = Some(30);
    publish_from(&ctx, m).await?;
    let got = recv_publish(&ctx, &mut s, &t, "the online message").await?;
    ack(&ctx, &mut s, &got).await?;
    match got.properties.message_expiry_interval {
        Some(v) if (1..=30).contains(&v) => {}
        other => {
            end_session(&ctx, "s").await;
            return Err(Stop::fail(
                "Message Expiry Interval between 1 and 30 on a message sent with 30",
                format!("{other:?}"),
            ));
        }
    }
    s.disconnect().await?;
    // Offline: waits 2.5 s in the server.
    let mut m = msg(&t, QoS::AtLeastOnce, 2, b"queued");
    m.properties.message_expiry_interval = Some(30);
    publish_from(&ctx, m).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut s, a) = connect_persistent(&ctx, "s", false).await?;
    if !a.session_present {
        end_session(&ctx, "s").await;
        return Err(Stop::Inconclusive("the session was not resumed".into()));
    }
    let got = match recv_publish(&ctx, &mut s, &t, "the queued message").await {
        Ok(m) => m,
        Err(e) => {
            end_session(&ctx, "s").await;
            return precondition(Err(e), "the queued message was not delivered");
        }
    };
    ack(&ctx, &mut s, &got).await?;
    s.disconnect().await?;
    end_session(&ctx, "s").await;
    match got.properties.message_expiry_interval {
        Some(v) if (1..=28).contains(&v) => Ok(()),
        other => Err(Stop::fail(
            "Message Expiry Interval at most 28 on a 30 s message that waited 2.5 s",
            format!("{other:?}"),
        )),
    }
}

async fn expiry_qos2_receiver_completes(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let mut m = msg(&ctx.topic("exp2"), QoS::ExactlyOnce, 8, b"x");
    m.properties.message_expiry_interval = Some(1);
    c.send(Packet::Publish(m)).await?;
    precondition(
        c.expect(ctx.patience(), "PUBREC", |x| match x {
            Packet::PubRec(a) if a.packet_id == 8 && a.reason_code.0 < 0x80 => Some(()),
            _ => None,
        })
        .await,
        "no successful PUBREC",
    )?;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    c.send(Packet::PubRel(PubRel::new(8))).await?;
    let rc = expect_ack(&ctx, &mut c, PacketType::PubComp, 8, "PUBCOMP for id 8").await?;
    if rc.0 != 0 {
        return Err(Stop::fail(
            "PUBCOMP rc=0x00 (the exchange is completed after the expiry)",
            format!("PUBCOMP rc=0x{:02X}", rc.0),
        ));
    }
    c.disconnect().await
}

async fn expiry_qos2_sender_continues(ctx: Ctx) -> Outcome {
    let t = ctx.topic("exp2s");
    let mut s = subscriber(&ctx, &t, QoS::ExactlyOnce).await?;
    let mut m = msg(&t, QoS::ExactlyOnce, 1, b"x");
    m.properties.message_expiry_interval = Some(1);
    publish_from(&ctx, m).await?;
    let got = recv_publish(&ctx, &mut s, &t, "the QoS 2 message").await?;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let id = got.packet_id;
    pubrec_until_pubrel(
        &ctx,
        &mut s,
        id,
        &format!("PUBREL for id {id} after the expiry interval"),
    )
    .await?;
    s.send(Packet::PubComp(PubComp::new(id))).await?;
    s.disconnect().await
}

// =====================================================================================
// 4.9 flow control.
// =====================================================================================

async fn flow_receive_maximum(ctx: Ctx) -> Outcome {
    let t = ctx.topic("flow");
    let (mut s, mut p) = sub_and_pub_with(&ctx, &t, QoS::AtLeastOnce, |c| {
        c.properties.receive_maximum = Some(2)
    })
    .await?;
    for i in 0..5u16 {
        publish(
            &ctx,
            &mut p,
            &t,
            QoS::AtLeastOnce,
            i + 1,
            format!("{i}").as_bytes(),
        )
        .await?;
    }
    let mut got: Vec<Publish> = Vec::new();
    let mut acked = 0usize;
    let mut rounds = 0;
    while got.len() < 5 && rounds < 10 {
        rounds += 1;
        let batch: Vec<Publish> = drain_expecting(&mut s, ctx.patience(), ctx.quiet())
            .await?
            .into_iter()
            .filter_map(|x| match x {
                Packet::Publish(m) => Some(m),
                _ => None,
            })
            .collect();
        got.extend(batch);
        let in_flight = got.len() - acked;
        if in_flight > 2 {
            return Err(Stop::fail(
                "at most 2 unacknowledged QoS 1 PUBLISH (Receive Maximum 2)",
                format!("{in_flight} unacknowledged: {}", payloads(&got[acked..])),
            ));
        }
        if in_flight == 0 {
            let expected = "the next queued message once the quota allows it";
            let observed = format!("nothing after {} messages", got.len());
            // Nothing at all: the initial quota was 0 ([MQTT-4.9.0-1]). Nothing more after an
            // acknowledgement: matching messages were not delivered ([MQTT-4.5.0-1]).
            let stmt = if got.is_empty() {
                v5!("MQTT-4.9.0-1")
            } else {
                v5!("MQTT-4.5.0-1")
            };
            return Err(Stop::fail_at(stmt, expected, observed));
        }
        // Acknowledge one message at a time.
        if let Some(m) = got.get(acked) {
            let m = m.clone();
            ack(&ctx, &mut s, &m).await?;
            acked += 1;
        }
    }
    for m in got.get(acked..).unwrap_or(&[]).to_vec() {
        ack(&ctx, &mut s, &m).await?;
    }
    if payloads(&got) != "0,1,2,3,4" {
        return Err(Stop::fail(
            "all five messages once acknowledged",
            format!("got {}", payloads(&got)),
        ));
    }
    p.disconnect().await?;
    s.disconnect().await
}

async fn flow_qos2_quota(ctx: Ctx) -> Outcome {
    let t = ctx.topic("flow2");
    let (mut s, mut p) = sub_and_pub_with(&ctx, &t, QoS::ExactlyOnce, |c| {
        c.properties.receive_maximum = Some(1)
    })
    .await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 1, b"first").await?;
    publish(&ctx, &mut p, &t, QoS::ExactlyOnce, 2, b"second").await?;
    let first = recv_publish(&ctx, &mut s, &t, "the first message").await?;
    let id = first.packet_id;
    precondition(
        pubrec_until_pubrel(&ctx, &mut s, id, "PUBREL").await,
        "no PUBREL",
    )?;
    // PUBREC does not free the quota: nothing may come until PUBCOMP.
    if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
        return Err(Stop::fail(
            "no second QoS 2 PUBLISH before the PUBCOMP (Receive Maximum 1)",
            describe(&x),
        ));
    }
    s.send(Packet::PubComp(PubComp::new(id))).await?;
    let second = recv_publish(&ctx, &mut s, &t, "the second message after PUBCOMP").await?;
    if &second.payload[..] != b"second" {
        return Err(Stop::fail(
            "message second",
            format!("message {}", String::from_utf8_lossy(&second.payload)),
        ));
    }
    ack(&ctx, &mut s, &second).await?;
    p.disconnect().await?;
    s.disconnect().await
}

async fn flow_other_packets(ctx: Ctx) -> Outcome {
    let t = ctx.topic("flow3");
    let (mut s, mut p) = sub_and_pub_with(&ctx, &t, QoS::AtLeastOnce, |c| {
        c.properties.receive_maximum = Some(1)
    })
    .await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 1, b"first").await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 2, b"second").await?;
    let first = recv_publish(&ctx, &mut s, &t, "the first message").await?;
    // The quota is 0 now. Other exchanges go on.
    s.send(Packet::PingReq).await?;
    s.expect(ctx.patience(), "PINGRESP while the quota is 0", |x| {
        (*x == Packet::PingResp).then_some(())
    })
    .await?;
    s.send(Packet::Subscribe(Subscribe {
        packet_id: 0x0777,
        filters: vec![Subscription::new(ctx.topic("other"), QoS::AtMostOnce)],
        properties: Props::none(),
    }))
    .await?;
    s.expect(ctx.patience(), "SUBACK while the quota is 0", |x| match x {
        Packet::SubAck(a) if a.packet_id == 0x0777 => Some(()),
        _ => None,
    })
    .await?;
    s.send(Packet::Publish(msg(
        &ctx.topic("side"),
        QoS::AtLeastOnce,
        0x0778,
        b"x",
    )))
    .await?;
    expect_ack(
        &ctx,
        &mut s,
        PacketType::PubAck,
        0x0778,
        "PUBACK while the quota is 0",
    )
    .await?;
    ack(&ctx, &mut s, &first).await?;
    let second = precondition(
        recv_publish(&ctx, &mut s, &t, "the second message").await,
        "the held-back message never came",
    )?;
    ack(&ctx, &mut s, &second).await?;
    p.disconnect().await?;
    s.disconnect().await
}

async fn flow_client_exceeds(ctx: Ctx) -> Outcome {
    let mut c = flow_exceed(&ctx).await?;
    expect_error_close(&ctx, &mut c, &[0x93]).await
}

async fn flow_client_exceeds_code(ctx: Ctx) -> Outcome {
    let mut c = flow_exceed(&ctx).await?;
    expect_disconnect_code(&ctx, &mut c, ReasonCode::RECEIVE_MAXIMUM_EXCEEDED).await
}

/// Connects and sends one QoS 2 PUBLISH more than the server's Receive Maximum, never
/// releasing any.
async fn flow_exceed(ctx: &Ctx) -> Result<Client, Stop> {
    let (mut c, connack) = ctx.connect_with("a", |_| {}).await?;
    let rm = connack.properties.receive_maximum.unwrap_or(65535);
    if rm > 1000 {
        return Err(Stop::Skip(format!(
            "the server's Receive Maximum is {rm}: too many messages to exceed it"
        )));
    }
    let t = ctx.topic("over");
    let mut buf = Vec::new();
    for i in 0..=rm {
        let m = msg(&t, QoS::ExactlyOnce, i + 1, b"x");
        let b = Packet::Publish(m)
            .to_bytes(ctx.version())
            .map_err(|e| Stop::Error(e.to_string()))?;
        buf.extend_from_slice(&b);
    }
    c.send_raw(
        &format!("{} QoS 2 PUBLISH, no PUBREL (Receive Maximum {rm})", rm + 1),
        &buf,
    )
    .await?;
    Ok(c)
}

// =====================================================================================
// Topic aliases.
// =====================================================================================

fn aliased(topic: &str, alias: u16, id: u16, payload: &[u8]) -> Publish {
    let mut m = msg(topic, QoS::AtLeastOnce, id, payload);
    m.properties.topic_alias = Some(alias);
    m
}

async fn alias_client_mapping(ctx: Ctx) -> Outcome {
    let t1 = ctx.topic("alias/one");
    let t2 = ctx.topic("alias/two");
    let mut s = ctx.connect("s").await?;
    sub_many(
        &ctx,
        &mut s,
        vec![
            Subscription::new(t1.clone(), QoS::AtLeastOnce),
            Subscription::new(t2.clone(), QoS::AtLeastOnce),
        ],
    )
    .await?;
    let (mut p, connack) = ctx.connect_with("p", |_| {}).await?;
    let max = connack.properties.topic_alias_maximum.unwrap_or(0);
    if max == 0 {
        return Err(Stop::Skip("the server allows no topic alias".into()));
    }
    // (topic sent, alias, payload, topic expected)
    let mut steps: Vec<(String, u16, &[u8], String)> = vec![
        (t1.clone(), 1, b"a", t1.clone()),
        (String::new(), 1, b"b", t1.clone()),
        (t2.clone(), 1, b"c", t2.clone()),
        (String::new(), 1, b"d", t2.clone()),
    ];
    if max > 1 {
        steps.push((t1.clone(), max, b"e", t1.clone()));
        steps.push((String::new(), max, b"f", t1.clone()));
    }
    for (i, (topic, alias, payload, _)) in steps.iter().enumerate() {
        let m = aliased(topic, *alias, i as u16 + 1, payload);
        p.send(Packet::Publish(m)).await?;
        let id = i as u16 + 1;
        let rc = expect_ack(
            &ctx,
            &mut p,
            PacketType::PubAck,
            id,
            &format!("PUBACK for the message with Topic Alias {alias}"),
        )
        .await?;
        if rc.0 >= 0x80 {
            return Err(Stop::fail(
                format!("the message with Topic Alias {alias} accepted"),
                format!("PUBACK 0x{:02X}", rc.0),
            ));
        }
    }
    for (_, alias, payload, want) in &steps {
        let m = s
            .expect(
                ctx.patience(),
                &format!(
                    "message {} on {want} (sent with Topic Alias {alias})",
                    String::from_utf8_lossy(payload)
                ),
                |x| match x {
                    Packet::Publish(m) if &m.payload[..] == *payload => Some(m.clone()),
                    _ => None,
                },
            )
            .await?;
        if *m.topic != **want {
            return Err(Stop::fail(
                format!(
                    "message {} on {want} (Topic Alias {alias})",
                    String::from_utf8_lossy(payload)
                ),
                describe(&Packet::Publish(m)),
            ));
        }
        ack(&ctx, &mut s, &m).await?;
    }
    p.disconnect().await?;
    s.disconnect().await
}

/// Connects and sends a QoS 1 PUBLISH with a Topic Alias one above the server's maximum.
async fn alias_above(ctx: &Ctx) -> Result<Client, Stop> {
    let (mut c, connack) = ctx.connect_with("a", |_| {}).await?;
    let max = connack.properties.topic_alias_maximum.unwrap_or(0);
    if max == u16::MAX {
        return Err(Stop::Skip("Topic Alias Maximum is 65535".into()));
    }
    let m = aliased(&ctx.topic("big"), max + 1, 1, b"x");
    c.send(Packet::Publish(m)).await?;
    Ok(c)
}

async fn alias_above_maximum_code(ctx: Ctx) -> Outcome {
    let mut c = alias_above(&ctx).await?;
    expect_disconnect_code(&ctx, &mut c, ReasonCode::TOPIC_ALIAS_INVALID).await
}

async fn alias_above_maximum(ctx: Ctx) -> Outcome {
    let mut c = alias_above(&ctx).await?;
    expect_error_close_without(
        &ctx,
        &mut c,
        &[0x94],
        "PUBACK",
        "no PUBACK for an invalid Topic Alias",
    )
    .await
}

async fn alias_zero(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let m = aliased(&ctx.topic("zero"), 0, 1, b"x");
    let raw = RawPacket::from_packet(&Packet::Publish(m), ctx.version());
    c.send_raw("PUBLISH with Topic Alias 0", &raw.to_bytes())
        .await?;
    expect_error_close_without(
        &ctx,
        &mut c,
        &[0x94],
        "PUBACK",
        "no PUBACK for Topic Alias 0",
    )
    .await
}

async fn alias_per_connection(ctx: Ctx) -> Outcome {
    let t = ctx.topic("alias/conn");
    let mut s = subscriber(&ctx, &t, QoS::AtLeastOnce).await?;
    let (mut p, connack) = ctx.connect_with("p", |_| {}).await?;
    if connack.properties.topic_alias_maximum.unwrap_or(0) == 0 {
        return Err(Stop::Skip("the server allows no topic alias".into()));
    }
    send_complete(&ctx, &mut p, aliased(&t, 1, 1, b"set")).await?;
    p.disconnect().await?;
    let m = recv_publish(&ctx, &mut s, &t, "the message that set the alias").await?;
    ack(&ctx, &mut s, &m).await?;
    let mut p = ctx.connect("p").await?;
    // Topic name empty, alias 1: only known on the previous connection.
    p.send(Packet::Publish(aliased("", 1, 2, b"stale"))).await?;
    let seen = p.expect_close(ctx.patience()).await?;
    if let Some(rc) = seen.disconnect {
        if !server_error_code(rc) {
            return Err(Stop::fail_at(
                v5!("MQTT-4.13.1-1"),
                "no DISCONNECT, or one with an error code (0x82 named), for an unknown Topic Alias with an empty topic",
                format!("DISCONNECT 0x{:02X}", rc.0),
            ));
        }
    }
    if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
        return Err(Stop::fail(
            "the alias of the earlier connection is not used: nothing delivered",
            describe(&x),
        ));
    }
    s.disconnect().await
}

async fn alias_server_none(ctx: Ctx) -> Outcome {
    let t = ctx.topic("salias0");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::AtMostOnce).await?;
    for i in 0..4 {
        publish(
            &ctx,
            &mut p,
            &t,
            QoS::AtMostOnce,
            0,
            format!("{i}").as_bytes(),
        )
        .await?;
    }
    for _ in 0..4 {
        let m = recv_any_publish(&ctx, &mut s, "four messages").await?;
        if m.properties.topic_alias.is_some() || m.topic.is_empty() {
            return Err(Stop::fail(
                "no Topic Alias (the client announced no Topic Alias Maximum)",
                format!(
                    "{} with Topic Alias {:?}",
                    describe(&Packet::Publish(m.clone())),
                    m.properties.topic_alias
                ),
            ));
        }
    }
    p.disconnect().await?;
    s.disconnect().await
}

async fn alias_server_within(ctx: Ctx) -> Outcome {
    let topics: Vec<String> = (0..3).map(|i| ctx.topic(&format!("salias/{i}"))).collect();
    let (mut s, _) = ctx
        .connect_with("s", |c| c.properties.topic_alias_maximum = Some(1))
        .await?;
    sub_many(
        &ctx,
        &mut s,
        topics
            .iter()
            .map(|t| Subscription::new(t.clone(), QoS::AtMostOnce))
            .collect(),
    )
    .await?;
    let mut p = ctx.connect("p").await?;
    // Each payload names its topic, round and copy: the alias resolution is checked per
    // message, and order only within one topic (the only order [MQTT-4.6.0-5] promises).
    let mut sent = 0usize;
    for round in 0..2 {
        for (i, t) in topics.iter().enumerate() {
            // Twice in a row on the same topic, so that an alias would be worth using.
            for copy in 0..2 {
                publish(
                    &ctx,
                    &mut p,
                    t,
                    QoS::AtMostOnce,
                    0,
                    format!("{i}/{round}/{copy}").as_bytes(),
                )
                .await?;
                sent += 1;
            }
        }
    }
    let mut map: std::collections::BTreeMap<u16, String> = Default::default();
    let mut last: std::collections::BTreeMap<usize, (u32, u32)> = Default::default();
    for _ in 0..sent {
        let m = recv_any_publish(&ctx, &mut s, "twelve messages").await?;
        let topic = match m.properties.topic_alias {
            None => m.topic.to_string(),
            Some(a) => {
                if a == 0 || a > 1 {
                    return Err(Stop::fail(
                        "Topic Alias 1 at most (the client's Topic Alias Maximum)",
                        format!("Topic Alias {a} on {}", describe(&Packet::Publish(m))),
                    ));
                }
                if m.topic.is_empty() {
                    match map.get(&a) {
                        Some(t) => t.clone(),
                        None => {
                            return Err(Stop::fail(
                                "a Topic Alias set up before being used alone",
                                format!("empty topic with unknown Topic Alias {a}"),
                            ))
                        }
                    }
                } else {
                    map.insert(a, m.topic.to_string());
                    m.topic.to_string()
                }
            }
        };
        let label = String::from_utf8_lossy(&m.payload).into_owned();
        let parsed: Option<(usize, u32, u32)> = {
            let mut it = label.split('/').map(str::parse::<u32>);
            match (it.next(), it.next(), it.next()) {
                (Some(Ok(i)), Some(Ok(r)), Some(Ok(c))) => Some((i as usize, r, c)),
                _ => None,
            }
        };
        let Some((i, round, copy)) = parsed.filter(|(i, _, _)| *i < topics.len()) else {
            return Err(Stop::fail(
                "one of the twelve messages",
                format!("payload {label:?} on {topic}"),
            ));
        };
        let want = &topics[i];
        if topic != *want {
            return Err(Stop::fail(
                format!("message {label} on {want} (the topic it was published to)"),
                format!(
                    "it resolved to {topic} (topic {:?}, alias {:?})",
                    &*m.topic, m.properties.topic_alias
                ),
            ));
        }
        if let Some(prev) = last.insert(i, (round, copy)) {
            if prev >= (round, copy) {
                return Err(Stop::fail_at(
                    v5!("MQTT-4.6.0-5"),
                    format!("the messages on {want} in the order published"),
                    format!("{label} arrived after {i}/{}/{}", prev.0, prev.1),
                ));
            }
        }
    }
    p.disconnect().await?;
    s.disconnect().await
}

// =====================================================================================
// Maximum packet size.
// =====================================================================================

async fn mps_oversized_dropped(ctx: Ctx) -> Outcome {
    let t = ctx.topic("mps");
    let limit = 256u32;
    let (mut s, mut p) = sub_and_pub_with(&ctx, &t, QoS::AtLeastOnce, |c| {
        c.properties.maximum_packet_size = Some(limit)
    })
    .await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 1, &[b'B'; 400]).await?;
    publish(&ctx, &mut p, &t, QoS::AtLeastOnce, 2, b"small").await?;
    let m = recv_any_publish(&ctx, &mut s, "the small message")
        .await
        .map_err(|e| match e {
            Stop::Fail {
                expected, observed, ..
            } => Stop::fail_at(v5!("MQTT-3.1.2-25"), expected, observed),
            other => other,
        })?;
    let size = wire_len(&Packet::Publish(m.clone()), ctx.version());
    if size > limit as usize {
        return Err(Stop::fail(
            format!("no packet over {limit} bytes"),
            format!("a {size}-byte {}", describe(&Packet::Publish(m))),
        ));
    }
    if &m.payload[..] != b"small" {
        return Err(Stop::fail_at(
            v5!("MQTT-3.1.2-25"),
            "the small message (the large one dropped)",
            describe(&Packet::Publish(m)),
        ));
    }
    ack(&ctx, &mut s, &m).await?;
    // The dropped message counts as delivered: it never comes later either.
    if let Some(x) = drain_publish(&mut s, ctx.quiet()).await? {
        let size = wire_len(&x, ctx.version());
        return Err(Stop::fail(
            format!("nothing more (no packet over {limit} bytes)"),
            format!("a {size}-byte {}", describe(&x)),
        ));
    }
    p.disconnect().await?;
    s.disconnect().await
}

/// The properties of a PUBACK, PUBREC, PUBREL or PUBCOMP.
fn ack_properties(p: &Packet) -> Option<&Props> {
    match p {
        Packet::PubAck(a) => Some(&a.properties),
        Packet::PubRec(a) => Some(&a.properties),
        Packet::PubRel(a) => Some(&a.properties),
        Packet::PubComp(a) => Some(&a.properties),
        _ => None,
    }
}

/// Sends, on `t` (a topic without subscribers), a QoS 1 and a QoS 2 PUBLISH, the PUBREL of
/// the latter, a PUBREL for an unknown id and a PINGREQ: answers that often carry a reason
/// string (0x10 No matching subscribers, PUBCOMP 0x92). Returns what came before the
/// PINGRESP; an incomplete exchange is inconclusive.
async fn acks_exchange(
    ctx: &Ctx,
    c: &mut Client,
    t: &str,
    expected: &str,
) -> Result<Vec<Packet>, Stop> {
    c.send(Packet::Publish(msg(t, QoS::AtLeastOnce, 1, b"x")))
        .await?;
    c.send(Packet::Publish(msg(t, QoS::ExactlyOnce, 2, b"x")))
        .await?;
    c.send(Packet::PubRel(PubRel::new(2))).await?;
    c.send(Packet::PubRel(PubRel::new(0x7777))).await?;
    c.send(Packet::PingReq).await?;
    let mut seen = Vec::new();
    loop {
        let p = precondition(
            c.recv(ctx.patience(), expected).await,
            "the exchange did not complete",
        )?;
        if p == Packet::PingResp {
            return Ok(seen);
        }
        seen.push(p);
    }
}

/// Checks that each packet fits `limit`; names the statement of the packet's type.
fn check_fits(ctx: &Ctx, ps: &[Packet], limit: u32) -> Outcome {
    for p in ps {
        let size = wire_len(p, ctx.version());
        if size <= limit as usize {
            continue;
        }
        let (rs, up): (StatementId, StatementId) = match p.packet_type() {
            PacketType::PubAck => (v5!("MQTT-3.4.2-2"), v5!("MQTT-3.4.2-3")),
            PacketType::PubRec => (v5!("MQTT-3.5.2-2"), v5!("MQTT-3.5.2-3")),
            PacketType::PubRel => (v5!("MQTT-3.6.2-2"), v5!("MQTT-3.6.2-3")),
            PacketType::PubComp => (v5!("MQTT-3.7.2-2"), v5!("MQTT-3.7.2-3")),
            _ => (v5!("MQTT-3.1.2-24"), v5!("MQTT-3.1.2-24")),
        };
        let statement = match ack_properties(p) {
            Some(pr) if pr.reason_string.is_none() && !pr.user_properties.is_empty() => up,
            _ => rs,
        };
        return Err(Stop::fail_at(
            statement,
            format!("no packet over the client's Maximum Packet Size of {limit} bytes"),
            format!("a {size}-byte {}", describe(p)),
        ));
    }
    Ok(())
}

async fn mps_acks_fit(ctx: Ctx) -> Outcome {
    let limit = 16u32;
    let (mut c, _) = ctx
        .connect_with("a", |c| c.properties.maximum_packet_size = Some(limit))
        .await?;
    let t = ctx.topic("nobody/listens");
    let seen = acks_exchange(&ctx, &mut c, &t, "PUBACK, PUBREC, PUBCOMP(s) and PINGRESP").await?;
    check_fits(&ctx, &seen, limit)?;
    c.disconnect().await
}

async fn mps_pubrel_fits(ctx: Ctx) -> Outcome {
    let t = ctx.topic("r");
    // Room for the PUBLISH (topic + id + 1 byte payload), none for a long reason string.
    let limit = (t.len() + 16) as u32;
    let mut s = subscriber_with(&ctx, "s", &t, QoS::ExactlyOnce, |c| {
        c.properties.maximum_packet_size = Some(limit)
    })
    .await?;
    publish_from(&ctx, msg(&t, QoS::ExactlyOnce, 1, b"x")).await?;
    let m = recv_publish(&ctx, &mut s, &t, "the message").await?;
    s.send(Packet::PubRec(PubRec::new(m.packet_id))).await?;
    // A PUBREC for an id the server never used, to provoke a PUBREL 0x92 (optional).
    s.send(Packet::PubRec(PubRec::new(
        m.packet_id.wrapping_add(1000).max(1),
    )))
    .await?;
    let rest = drain(&mut s, ctx.quiet()).await?;
    check_fits(&ctx, &rest, limit)?;
    if !rest
        .iter()
        .any(|x| matches!(x, Packet::PubRel(r) if r.packet_id == m.packet_id))
    {
        return Err(Stop::Inconclusive("no PUBREL came".into()));
    }
    s.send(Packet::PubComp(PubComp::new(m.packet_id))).await?;
    s.disconnect().await
}

async fn mps_client_exceeds_code(ctx: Ctx) -> Outcome {
    let mut c = mps_exceed(&ctx).await?;
    expect_disconnect_code(&ctx, &mut c, ReasonCode::PACKET_TOO_LARGE).await
}

async fn mps_client_exceeds(ctx: Ctx) -> Outcome {
    let mut c = mps_exceed(&ctx).await?;
    expect_error_close_without(
        &ctx,
        &mut c,
        &[0x95],
        "PUBACK",
        "no PUBACK for a packet over the limit",
    )
    .await
}

/// Connects and sends a QoS 1 PUBLISH a few bytes larger than the server's Maximum Packet
/// Size.
async fn mps_exceed(ctx: &Ctx) -> Result<Client, Stop> {
    let (mut c, connack) = ctx.connect_with("a", |_| {}).await?;
    let Some(max) = connack.properties.maximum_packet_size else {
        return Err(Stop::Skip(
            "the server announces no Maximum Packet Size".into(),
        ));
    };
    if max > 1 << 20 {
        return Err(Stop::Skip(format!(
            "the server's Maximum Packet Size is {max} bytes: too large to exceed cheaply"
        )));
    }
    let t = ctx.topic("toolarge");
    let mut m = msg(&t, QoS::AtLeastOnce, 1, b"");
    let base = Packet::Publish(m.clone())
        .encoded_len(ctx.version())
        .map_err(|e| Stop::Error(e.to_string()))?;
    m.payload = Bytes::from(vec![b'x'; (max as usize + 1).saturating_sub(base) + 4]);
    c.send(Packet::Publish(m)).await?;
    Ok(c)
}

// =====================================================================================
// Request Problem Information.
// =====================================================================================

async fn rpi_acks_bare(ctx: Ctx) -> Outcome {
    let (mut c, _) = ctx
        .connect_with("a", |c| {
            c.properties.request_problem_information = Some(false)
        })
        .await?;
    let t = ctx.topic("nobody/here");
    let seen = acks_exchange(&ctx, &mut c, &t, "PUBACK, PUBREC, PUBCOMPs and PINGRESP").await?;
    for p in &seen {
        let Some(props) = ack_properties(p) else {
            continue;
        };
        if props.reason_string.is_some() || !props.user_properties.is_empty() {
            return Err(Stop::fail(
                "no Reason String or User Property (Request Problem Information 0)",
                format!(
                    "{} with Reason String {:?} and {} User Properties",
                    describe(p),
                    props.reason_string.as_deref(),
                    props.user_properties.len()
                ),
            ));
        }
    }
    c.disconnect().await
}

// =====================================================================================
// Authorization, refused QoS 2 messages.
// =====================================================================================

async fn unauthorized_publish(ctx: Ctx) -> Outcome {
    let Some(topic) = ctx.profile().unauthorized_topic.clone() else {
        return Err(Stop::Skip(
            "the profile names no topic the suite may not publish to (unauthorized_topic)".into(),
        ));
    };
    let mut c = ctx.connect("a").await?;
    c.send(Packet::Publish(msg(
        &topic,
        QoS::AtLeastOnce,
        9,
        b"not allowed",
    )))
    .await?;
    match c.next(ctx.patience()).await? {
        Some(Incoming::Packet(Packet::PubAck(a))) if a.packet_id == 9 => c.disconnect().await,
        Some(Incoming::Closed) => Ok(()),
        Some(other) => Err(Stop::fail(
            "PUBACK for packet id 9, or the close",
            crate::client::describe_incoming(&other),
        )),
        None => Err(Stop::fail(
            "PUBACK for packet id 9, or the close",
            format!("nothing within {} ms", ctx.patience().as_millis()),
        )),
    }
}

async fn failed_pubrec_then_new(ctx: Ctx) -> Outcome {
    let t = ctx.topic("frec");
    let (mut s, mut p) = sub_and_pub(&ctx, &t, QoS::ExactlyOnce).await?;
    // Ways to make a server refuse a QoS 2 message: an unauthorized topic, or a payload that
    // is not UTF-8 although the Payload Format Indicator says it is.
    let mut refusals: Vec<Publish> = Vec::new();
    if let Some(topic) = ctx.profile().unauthorized_topic.clone() {
        refusals.push(msg(&topic, QoS::ExactlyOnce, 7, b"refused"));
    }
    let mut bad = msg(&t, QoS::ExactlyOnce, 7, &[0xff, 0xfe, 0xfd]);
    bad.properties.payload_format_indicator = Some(1);
    refusals.push(bad);
    let mut refused = false;
    for m in refusals {
        p.send(Packet::Publish(m)).await?;
        let rc = precondition(
            expect_ack(
                &ctx,
                &mut p,
                PacketType::PubRec,
                7,
                "PUBREC for packet id 7",
            )
            .await,
            "no PUBREC",
        )?;
        if rc.0 >= 0x80 {
            refused = true;
            break;
        }
        // Accepted after all: finish the flow and try the next way.
        p.send(Packet::PubRel(PubRel::new(7))).await?;
        precondition(
            p.expect_type(ctx.patience(), PacketType::PubComp).await,
            "no PUBCOMP",
        )?;
        // The subscriber may have got it; forget it.
        let _ = drain(&mut s, ctx.quiet()).await?;
    }
    if !refused {
        return Err(Stop::Skip(
            "the server accepted every QoS 2 message the suite could make it refuse".into(),
        ));
    }
    // The same packet identifier again, a valid message: a new message.
    p.send(Packet::Publish(msg(&t, QoS::ExactlyOnce, 7, b"second")))
        .await?;
    let rc = expect_ack(
        &ctx,
        &mut p,
        PacketType::PubRec,
        7,
        "PUBREC for the new message",
    )
    .await?;
    if rc.0 >= 0x80 {
        return Err(Stop::fail(
            "the new message accepted (PUBREC below 0x80)",
            format!("PUBREC 0x{:02X}", rc.0),
        ));
    }
    p.send(Packet::PubRel(PubRel::new(7))).await?;
    p.expect_type(ctx.patience(), PacketType::PubComp).await?;
    let m = recv_publish(
        &ctx,
        &mut s,
        &t,
        "the new message delivered to the subscriber",
    )
    .await?;
    if &m.payload[..] != b"second" {
        return Err(Stop::fail(
            "the new message's payload \"second\"",
            describe(&Packet::Publish(m)),
        ));
    }
    ack(&ctx, &mut s, &m).await?;
    p.disconnect().await?;
    s.disconnect().await
}
