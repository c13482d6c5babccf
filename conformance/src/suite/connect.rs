//! Chapter 3.1 / 3.2: CONNECT and CONNACK.

use mqtt_codec::raw::RawPacket;
use mqtt_codec::{Packet, PacketType, ProtocolVersion, ReasonCode};
use mqtt_spec::{v311, v5};

use crate::body;
use crate::case::{Ctx, Outcome, Stop, TestCase};

/// The tests of this chapter.
pub fn tests() -> Vec<TestCase> {
    vec![
        TestCase::new(
            "connect.first-packet-must-be-connect",
            "A first packet other than CONNECT makes the server close the connection",
            body!(first_packet_not_connect),
        )
        .v311(&[v311!("MQTT-3.1.0-1")])
        .v5(&[v5!("MQTT-3.1.0-1")]),
        TestCase::new(
            "connect.second-connect-is-violation",
            "A second CONNECT on a connection is a protocol violation",
            body!(second_connect),
        )
        .v311(&[v311!("MQTT-3.1.0-2")])
        .v5(&[v5!("MQTT-3.1.0-2")]),
        TestCase::new(
            "connect.reserved-flag-must-be-zero",
            "CONNECT with the reserved flag set is malformed and the connection is closed",
            body!(reserved_flag),
        )
        .v311(&[v311!("MQTT-3.1.2-3")])
        .v5(&[v5!("MQTT-3.1.2-3")]),
        TestCase::new(
            "connack.first-packet-from-server",
            "The server's first packet is CONNACK",
            body!(connack_first),
        )
        .v311(&[v311!("MQTT-3.2.0-1")])
        .v5(&[v5!("MQTT-3.2.0-1")]),
    ]
}

async fn first_packet_not_connect(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    c.send(Packet::PingReq).await?;
    let seen = c.expect_close(ctx.patience()).await?;
    if !seen.before.is_empty() {
        return Err(Stop::fail(
            "the connection closed with no answer to a PINGREQ sent before CONNECT",
            format!("the server sent {} before closing", seen.before.join(", ")),
        ));
    }
    Ok(())
}

async fn second_connect(ctx: Ctx) -> Outcome {
    let mut c = ctx.connect("a").await?;
    let again = ctx.connect_packet("a");
    c.send(Packet::Connect(Box::new(again))).await?;
    let seen = c.expect_close(ctx.patience()).await?;
    if ctx.v5() {
        if let Some(rc) = seen.disconnect {
            if rc != ReasonCode::PROTOCOL_ERROR {
                return Err(Stop::fail(
                    "DISCONNECT 0x82 Protocol Error (or no DISCONNECT) before the close",
                    format!("DISCONNECT 0x{:02X}", rc.0),
                ));
            }
        }
    }
    Ok(())
}

async fn reserved_flag(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let p = ctx.connect_packet("a");
    let mut raw = RawPacket::from_packet(&Packet::Connect(Box::new(p)), ctx.version());
    // The connect flags byte follows the protocol name (6 bytes) and the level (1 byte).
    if let Some(b) = raw.body.get_mut(7) {
        *b |= 0x01;
    } else {
        return Err(Stop::Error("CONNECT body too short to patch".into()));
    }
    c.send_raw("CONNECT with reserved flag = 1", &raw.to_bytes())
        .await?;
    let seen = c.expect_close(ctx.patience()).await?;
    if seen.before.iter().any(|p| p.contains("rc=0x00")) {
        return Err(Stop::fail(
            "no successful CONNACK for a malformed CONNECT",
            format!("the server sent {}", seen.before.join(", ")),
        ));
    }
    Ok(())
}

async fn connack_first(ctx: Ctx) -> Outcome {
    let mut c = ctx.open("a").await?;
    let p = ctx.connect_packet("a");
    c.send(Packet::Connect(Box::new(p))).await?;
    let first = c.recv(ctx.patience(), "CONNACK").await?;
    if first.packet_type() != PacketType::ConnAck {
        return Err(Stop::fail("CONNACK", crate::client::describe(&first)));
    }
    let _ = ProtocolVersion::V5;
    Ok(())
}
