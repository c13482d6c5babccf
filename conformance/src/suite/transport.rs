//! Chapter 6: MQTT over WebSocket. These tests run when the target is reached over WebSocket
//! (`ws://`, `wss://`, and the embedded broker's WebSocket listener); other targets skip them.
//!
//! `grep -n 'MQTT-6.0.0-2' conformance/src/suite/transport.rs` finds the test of a statement.

use bytes::BytesMut;
use mqtt_codec::{Packet, PacketType, Publish, QoS, ReasonCode, Subscribe, Subscription};
use mqtt_spec::{v311, v5};

use crate::body;
use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase};
use crate::client::{describe, Client};
use mqtt_broker_model::serve::ws::SubprotocolMismatch;

/// The tests of this chapter.
pub fn tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "transport.ws.subprotocol-mqtt",
            "Over WebSocket the server's handshake selects the subprotocol mqtt",
            body!(subprotocol_mqtt),
        )
        .v311(&[v311!("MQTT-6.0.0-4")])
        .v5(&[v5!("MQTT-6.0.0-4")]),
        TestCase::new(
            "transport.ws.text-frame-closes",
            "A WebSocket text frame is not MQTT data: the server closes the connection",
            body!(text_frame_closes),
        )
        .v311(&[v311!("MQTT-6.0.0-1")])
        .v5(&[v5!("MQTT-6.0.0-1")]),
        TestCase::new(
            "transport.ws.frame-boundaries",
            "Packets split over WebSocket frames, and several packets in one frame, are all read",
            body!(frame_boundaries),
        )
        .v311(&[v311!("MQTT-6.0.0-2")])
        .v5(&[v5!("MQTT-6.0.0-2")])
        // It publishes at QoS 1 (a broker with Maximum QoS 0 would refuse that, not fail 6.0.0-2).
        .requires(&[Cap::QoS1]),
    ]
}

/// [MQTT-6.0.0-4]: the handshake response selects `mqtt`; the connection then carries MQTT.
async fn subprotocol_mqtt(ctx: Ctx) -> Outcome {
    const EXPECTED: &str = "the WebSocket handshake response selects the subprotocol mqtt";
    let (mut c, selected) = match ctx.try_open_websocket("ws").await? {
        Ok((c, selected, _)) => (c, selected),
        Err(e) => {
            let mismatch = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<SubprotocolMismatch>());
            return Err(match mismatch {
                Some(m) => Stop::fail(EXPECTED, m.to_string()),
                None => Stop::Inconclusive(format!("WebSocket handshake failed: {e}")),
            });
        }
    };
    if selected.as_deref() != Some("mqtt") {
        return Err(Stop::fail(EXPECTED, format!("it selected {selected:?}")));
    }
    c.handshake(ctx.connect_packet("ws")).await?;
    c.disconnect().await
}

/// A QoS 0 PUBLISH whose bytes are valid UTF-8 (so that it can travel in a text frame).
fn text_safe_publish(ctx: &Ctx, topic: &str) -> Result<Vec<u8>, Stop> {
    let p = Packet::Publish(Publish::new(topic.to_string(), &b"in a text frame"[..]));
    let bytes = p
        .to_bytes(ctx.version())
        .map_err(|e| Stop::Error(format!("cannot encode the PUBLISH: {e}")))?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(Stop::Error(
            "the PUBLISH built for the text frame is not UTF-8".into(),
        ));
    }
    Ok(bytes.to_vec())
}

/// Subscribes `c` to `filter` at QoS 1 and waits for a granting SUBACK.
async fn subscribed(ctx: &Ctx, c: &mut Client, filter: &str) -> Result<(), Stop> {
    c.send(Packet::Subscribe(Subscribe {
        packet_id: 3,
        filters: vec![Subscription::new(filter, QoS::AtLeastOnce)],
        properties: Default::default(),
    }))
    .await?;
    match c.expect_type(ctx.patience(), PacketType::SubAck).await? {
        Packet::SubAck(a) if a.reason_codes.iter().all(|r| r.0 <= 2) => Ok(()),
        p => Err(Stop::Inconclusive(format!(
            "the subscription was not granted: {}",
            describe(&p)
        ))),
    }
}

/// [MQTT-6.0.0-1]: a PUBLISH sent in a text frame must not be taken as MQTT: the server closes
/// the connection and does not deliver the message.
async fn text_frame_closes(ctx: Ctx) -> Outcome {
    let (mut c, control) = ctx.open_websocket("ws").await?;
    c.handshake(ctx.connect_packet("ws")).await?;
    let topic = ctx.topic("ws/text");
    subscribed(&ctx, &mut c, &topic).await?;
    let bytes = text_safe_publish(&ctx, &topic)?;
    control.next_as_text();
    c.send_raw("PUBLISH in a WebSocket text frame", &bytes)
        .await?;
    let end = c.watch_close(ctx.patience()).await?;
    let delivered = end
        .before
        .iter()
        .chain(end.after.iter())
        .any(|p| matches!(p, Packet::Publish(_)));
    if delivered {
        return Err(Stop::fail(
            "a text frame is not read as MQTT: the connection is closed and nothing is delivered",
            format!(
                "the message in the text frame was delivered: {}",
                end.summary()
            ),
        ));
    }
    if !end.closed {
        return Err(Stop::fail(
            "the server closes the connection after a text frame",
            format!("the connection stayed open: {}", end.summary()),
        ));
    }
    Ok(())
}

/// [MQTT-6.0.0-2]: a CONNECT cut into one-byte frames, then SUBSCRIBE + PUBLISH + half a
/// PINGREQ in one frame and the other half in the next: every packet is read, which the
/// SUBACK, the PUBACK and the PINGRESP show. Whether the PUBLISH reaches the subscription made
/// in the same frame is not asked: no statement makes a subscription apply before its SUBACK.
async fn frame_boundaries(ctx: Ctx) -> Outcome {
    const EXPECTED: &str =
        "packets are read whatever the WebSocket frame boundaries (split over frames, several in one)";
    let (mut c, control) = ctx.open_websocket("ws").await?;
    let connect = Packet::Connect(Box::new(ctx.connect_packet("ws")));
    let bytes = connect
        .to_bytes(ctx.version())
        .map_err(|e| Stop::Error(format!("cannot encode CONNECT: {e}")))?;
    control.next_in_chunks(1);
    c.send_raw("CONNECT in one-byte WebSocket frames", &bytes)
        .await?;
    match c.next(ctx.patience()).await? {
        Some(crate::client::Incoming::Packet(Packet::ConnAck(a)))
            if a.reason_code == ReasonCode::SUCCESS => {}
        other => {
            return Err(Stop::fail(
                EXPECTED,
                format!(
                    "a CONNECT split over {} frames got {}",
                    bytes.len(),
                    other.map_or("nothing".to_string(), |i| crate::client::describe_incoming(
                        &i
                    ))
                ),
            ))
        }
    }
    let topic = ctx.topic("ws/frames");
    let mut frame = BytesMut::new();
    let packets = [
        Packet::Subscribe(Subscribe {
            packet_id: 5,
            filters: vec![Subscription::new(topic.as_str(), QoS::AtLeastOnce)],
            properties: Default::default(),
        }),
        Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            packet_id: 6,
            ..Publish::new(topic.clone(), &b"frames"[..])
        }),
    ];
    for p in &packets {
        p.encode(ctx.version(), &mut frame)
            .map_err(|e| Stop::Error(format!("cannot encode {}: {e}", describe(p))))?;
    }
    frame.extend_from_slice(&[0xC0]); // PINGREQ, first byte
    c.send_raw("SUBSCRIBE + PUBLISH + half a PINGREQ in one frame", &frame)
        .await?;
    c.send_raw("the rest of the PINGREQ in the next frame", &[0x00])
        .await?;
    let mut want = vec![PacketType::SubAck, PacketType::PubAck, PacketType::PingResp];
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + ctx.patience();
    while !want.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.next(left).await? {
            Some(crate::client::Incoming::Packet(p)) => {
                seen.push(describe(&p));
                let ty = p.packet_type();
                if let Some(i) = want.iter().position(|w| *w == ty) {
                    want.remove(i);
                }
                if let Packet::Publish(m) = &p {
                    if m.qos == QoS::AtLeastOnce {
                        c.send(Packet::PubAck(mqtt_codec::PubAck::new(m.packet_id)))
                            .await?;
                    }
                }
            }
            other => {
                let end = other.map_or("nothing more".to_string(), |i| {
                    crate::client::describe_incoming(&i)
                });
                return Err(Stop::fail(
                    EXPECTED,
                    format!(
                        "missing {:?} after the packed frame; got [{}] then {end}",
                        want.iter().map(|t| t.name()).collect::<Vec<_>>(),
                        seen.join(", ")
                    ),
                ));
            }
        }
    }
    c.disconnect().await
}
