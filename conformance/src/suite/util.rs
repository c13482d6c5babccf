//! Helpers shared by the modules of the suite: subscribing, publishing and completing QoS
//! flows, acknowledging, draining, persistent sessions, and the checks of a close after a
//! protocol error.

use std::time::Duration;

use mqtt_codec::bytes::{Bytes, BytesMut};
use mqtt_codec::{
    ConnAck, Connect, Packet, PacketType, Properties, Props, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, QoS, ReasonCode, Side, Subscribe, Subscription,
};

use mqtt_spec::StatementId;

use crate::caps::Cap;
use crate::case::{Ctx, Outcome, Stop, TestCase, TestFn};
use crate::client::{Client, CloseSeen, Incoming};
use crate::target::BoxFuture;

/// Packet id the helpers use for SUBSCRIBE.
const SUB_ID: u16 = 0x5100;

/// A PUBLISH on `topic` at `qos` with `id` (ignored for QoS 0).
pub(crate) fn msg(topic: &str, qos: QoS, id: u16, payload: &[u8]) -> Publish {
    let mut m = Publish::new(topic.to_string(), Bytes::copy_from_slice(payload));
    m.qos = qos;
    m.packet_id = if qos == QoS::AtMostOnce { 0 } else { id };
    m
}

/// A failure of a precondition (not of the statement under test) becomes inconclusive.
pub(crate) fn precondition<T>(r: Result<T, Stop>, what: &str) -> Result<T, Stop> {
    r.map_err(|e| match e {
        Stop::Fail { observed, .. } => Stop::Inconclusive(format!("{what}: {observed}")),
        other => other,
    })
}

/// Subscribes with the given subscriptions; a missing SUBACK or a refused filter is
/// inconclusive. Returns the granted codes.
pub(crate) async fn sub_many(
    ctx: &Ctx,
    c: &mut Client,
    subs: Vec<Subscription>,
) -> Result<Vec<ReasonCode>, Stop> {
    let n = subs.len();
    c.send(Packet::Subscribe(Subscribe {
        packet_id: SUB_ID,
        filters: subs,
        properties: Props::none(),
    }))
    .await?;
    let codes = precondition(
        c.expect(ctx.patience(), "SUBACK", |p| match p {
            Packet::SubAck(a) if a.packet_id == SUB_ID => Some(a.reason_codes.clone()),
            _ => None,
        })
        .await,
        "the subscription needed by the test failed",
    )?;
    if codes.len() != n || codes.iter().any(|c| c.0 >= 0x80) {
        return Err(Stop::Inconclusive(format!(
            "the subscription needed by the test was refused: codes {:02X?}",
            codes.iter().map(|c| c.0).collect::<Vec<_>>()
        )));
    }
    Ok(codes)
}

/// Subscribes to `filter` at `qos`; inconclusive unless exactly `qos` is granted.
pub(crate) async fn sub(ctx: &Ctx, c: &mut Client, filter: &str, qos: QoS) -> Result<(), Stop> {
    let codes = sub_many(ctx, c, vec![Subscription::new(filter.to_string(), qos)]).await?;
    match codes.first() {
        Some(g) if g.0 == qos.as_u8() => Ok(()),
        other => Err(Stop::Inconclusive(format!(
            "QoS {} was needed on {filter}; the server granted {:?}",
            qos.as_u8(),
            other.map(|c| c.0)
        ))),
    }
}

/// Connects `label` (its CONNECT edited by `edit`) and subscribes it to `filter` at `qos`.
pub(crate) async fn subscriber_with(
    ctx: &Ctx,
    label: &str,
    filter: &str,
    qos: QoS,
    edit: impl FnOnce(&mut Connect),
) -> Result<Client, Stop> {
    let (mut s, _) = ctx.connect_with(label, edit).await?;
    sub(ctx, &mut s, filter, qos).await?;
    Ok(s)
}

/// A subscriber "s" on `filter` at `qos`.
pub(crate) async fn subscriber(ctx: &Ctx, filter: &str, qos: QoS) -> Result<Client, Stop> {
    subscriber_with(ctx, "s", filter, qos, |_| {}).await
}

/// The usual cast: a subscriber "s" (its CONNECT edited by `edit`) on `filter` at `qos`, then
/// a publisher "p", both connected. Returns (subscriber, publisher).
pub(crate) async fn sub_and_pub_with(
    ctx: &Ctx,
    filter: &str,
    qos: QoS,
    edit: impl FnOnce(&mut Connect),
) -> Result<(Client, Client), Stop> {
    let s = subscriber_with(ctx, "s", filter, qos, edit).await?;
    let p = ctx.connect("p").await?;
    Ok((s, p))
}

/// [`sub_and_pub_with`] with the default CONNECT.
pub(crate) async fn sub_and_pub(
    ctx: &Ctx,
    filter: &str,
    qos: QoS,
) -> Result<(Client, Client), Stop> {
    sub_and_pub_with(ctx, filter, qos, |_| {}).await
}

/// Connects a publisher "p", sends `m` and completes its flow; returns the publisher, still
/// connected.
pub(crate) async fn publisher_sent(ctx: &Ctx, m: Publish) -> Result<Client, Stop> {
    let mut p = ctx.connect("p").await?;
    send_complete(ctx, &mut p, m).await?;
    Ok(p)
}

/// The first PUBACK, PUBREC or PUBCOMP (`kind`) for packet `id` (other packets are kept);
/// returns its reason code.
pub(crate) async fn expect_ack(
    ctx: &Ctx,
    c: &mut Client,
    kind: PacketType,
    id: u16,
    expected: &str,
) -> Result<ReasonCode, Stop> {
    c.expect(ctx.patience(), expected, |p| match p {
        Packet::PubAck(a) if kind == PacketType::PubAck && a.packet_id == id => Some(a.reason_code),
        Packet::PubRec(a) if kind == PacketType::PubRec && a.packet_id == id => Some(a.reason_code),
        Packet::PubComp(a) if kind == PacketType::PubComp && a.packet_id == id => {
            Some(a.reason_code)
        }
        _ => None,
    })
    .await
}

/// Sends `m` and completes the publisher's side of its QoS flow (PUBACK, or PUBREC / PUBREL
/// / PUBCOMP). Anything going wrong is inconclusive: this is a precondition.
pub(crate) async fn send_complete(ctx: &Ctx, c: &mut Client, m: Publish) -> Result<(), Stop> {
    let id = m.packet_id;
    let qos = m.qos;
    c.send(Packet::Publish(m)).await?;
    match qos {
        QoS::AtMostOnce => Ok(()),
        QoS::AtLeastOnce => {
            let rc = precondition(
                expect_ack(ctx, c, PacketType::PubAck, id, "PUBACK").await,
                "publishing a QoS 1 message failed",
            )?;
            if rc.0 >= 0x80 {
                return Err(Stop::Inconclusive(format!(
                    "the server refused a QoS 1 message with PUBACK 0x{:02X}",
                    rc.0
                )));
            }
            Ok(())
        }
        QoS::ExactlyOnce => {
            let rc = precondition(
                expect_ack(ctx, c, PacketType::PubRec, id, "PUBREC").await,
                "publishing a QoS 2 message failed",
            )?;
            if rc.0 >= 0x80 {
                return Err(Stop::Inconclusive(format!(
                    "the server refused a QoS 2 message with PUBREC 0x{:02X}",
                    rc.0
                )));
            }
            c.send(Packet::PubRel(PubRel::new(id))).await?;
            precondition(
                expect_ack(ctx, c, PacketType::PubComp, id, "PUBCOMP")
                    .await
                    .map(|_| ()),
                "completing a QoS 2 message failed",
            )
        }
    }
}

/// Publishes `payload` on `topic` at `qos` (id `id`) and completes the flow.
pub(crate) async fn publish(
    ctx: &Ctx,
    c: &mut Client,
    topic: &str,
    qos: QoS,
    id: u16,
    payload: &[u8],
) -> Result<(), Stop> {
    send_complete(ctx, c, msg(topic, qos, id, payload)).await
}

/// The first PUBLISH on `topic` within `within` (other packets are kept).
pub(crate) async fn recv_on(
    c: &mut Client,
    within: Duration,
    topic: &str,
    expected: &str,
) -> Result<Publish, Stop> {
    c.expect(within, expected, |p| match p {
        Packet::Publish(m) if &*m.topic == topic => Some(m.clone()),
        _ => None,
    })
    .await
}

/// The first PUBLISH on `topic` within the patience.
pub(crate) async fn recv_publish(
    ctx: &Ctx,
    c: &mut Client,
    topic: &str,
    expected: &str,
) -> Result<Publish, Stop> {
    recv_on(c, ctx.patience(), topic, expected).await
}

/// The first PUBLISH on any topic within the patience.
pub(crate) async fn recv_any_publish(
    ctx: &Ctx,
    c: &mut Client,
    expected: &str,
) -> Result<Publish, Stop> {
    c.expect(ctx.patience(), expected, |p| match p {
        Packet::Publish(m) => Some(m.clone()),
        _ => None,
    })
    .await
}

/// The receiver's PUBREC for QoS 2 message `id`, then the server's PUBREL for it (the failure
/// to see the PUBREL is returned as is: callers decide what it means).
pub(crate) async fn pubrec_until_pubrel(
    ctx: &Ctx,
    c: &mut Client,
    id: u16,
    expected: &str,
) -> Outcome {
    c.send(Packet::PubRec(PubRec::new(id))).await?;
    c.expect(ctx.patience(), expected, |p| match p {
        Packet::PubRel(a) if a.packet_id == id => Some(()),
        _ => None,
    })
    .await
}

/// Acknowledges a received PUBLISH as the subscriber (PUBACK, or PUBREC / PUBREL / PUBCOMP).
pub(crate) async fn ack(ctx: &Ctx, c: &mut Client, m: &Publish) -> Result<(), Stop> {
    match m.qos {
        QoS::AtMostOnce => Ok(()),
        QoS::AtLeastOnce => c.send(Packet::PubAck(PubAck::new(m.packet_id))).await,
        QoS::ExactlyOnce => {
            let id = m.packet_id;
            precondition(
                pubrec_until_pubrel(ctx, c, id, "PUBREL").await,
                "the server did not release a QoS 2 message",
            )?;
            c.send(Packet::PubComp(PubComp::new(id))).await
        }
    }
}

/// The first PUBLISH among the packets that arrive until nothing has come for `quiet`.
pub(crate) async fn drain_publish(c: &mut Client, quiet: Duration) -> Result<Option<Packet>, Stop> {
    Ok(drain(c, quiet)
        .await?
        .into_iter()
        .find(|p| matches!(p, Packet::Publish(_))))
}

/// [`drain`] where something is expected: the first packet may take up to `first` (a slow or
/// clustered broker may need longer than the quiet gap to deliver at all), then a gap of
/// `quiet` ends it.
pub(crate) async fn drain_expecting(
    c: &mut Client,
    first: Duration,
    quiet: Duration,
) -> Result<Vec<Packet>, Stop> {
    let mut out = Vec::new();
    let mut wait = first;
    while let Some(i) = c.next(wait).await? {
        wait = quiet;
        match i {
            Incoming::Packet(p) => out.push(p),
            _ => break,
        }
    }
    Ok(out)
}

/// Every packet that arrives until nothing has come for `quiet` (or the connection closed).
pub(crate) async fn drain(c: &mut Client, quiet: Duration) -> Result<Vec<Packet>, Stop> {
    let mut out = Vec::new();
    while let Some(i) = c.next(quiet).await? {
        match i {
            Incoming::Packet(p) => out.push(p),
            _ => break,
        }
    }
    Ok(out)
}

/// Connects `label` so that its session outlives the connection. 5.0: Clean Start = `clean`
/// and a Session Expiry Interval of 60 s. 3.1.1: Clean Session 0 (the only way to keep a
/// session); `clean` then first removes any stored session with a clean connection.
pub(crate) async fn connect_persistent(
    ctx: &Ctx,
    label: &str,
    clean: bool,
) -> Result<(Client, ConnAck), Stop> {
    if clean && !ctx.v5() {
        end_session(ctx, label).await;
    }
    let v5 = ctx.v5();
    ctx.connect_with(label, |c| {
        c.clean_start = clean && v5;
        if v5 {
            c.properties.session_expiry_interval = Some(60);
        }
    })
    .await
}

/// Connects `label` with a session that persists ([`connect_persistent`], clean) and
/// subscribes it to `filter` at `qos`.
pub(crate) async fn persistent_subscriber(
    ctx: &Ctx,
    label: &str,
    filter: &str,
    qos: QoS,
) -> Result<Client, Stop> {
    let (mut s, _) = connect_persistent(ctx, label, true).await?;
    sub(ctx, &mut s, filter, qos).await?;
    Ok(s)
}

/// Removes the session of `label` from the server (clean connect, then DISCONNECT); errors
/// are ignored: this is housekeeping.
pub(crate) async fn end_session(ctx: &Ctx, label: &str) {
    if let Ok(c) = ctx.connect(label).await {
        let _ = c.disconnect().await;
    }
}

/// The payloads of messages as text, comma-separated, for observations.
pub(crate) fn payloads(ps: &[Publish]) -> String {
    ps.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// True for a reason code a 5.0 server may put on DISCONNECT to report an error: one of the
/// DISCONNECT codes of 3.14.2.1, allowed from the server, and 0x80 or above.
pub(crate) fn server_error_code(rc: ReasonCode) -> bool {
    rc.0 >= 0x80
        && rc.allowed_on(PacketType::Disconnect, ProtocolVersion::V5)
        && rc.allowed_from(PacketType::Disconnect, Side::Server)
}

/// Expects the server to close the connection after a protocol error or malformed packet. The
/// MUST is the close ([MQTT-4.13.1-1] in 5.0); the DISCONNECT before it is a SHOULD and its
/// code a recommendation, so a 5.0 DISCONNECT with any error code a server may send passes.
/// `named` lists the codes the standard names for the case (for the expectation text only).
pub(crate) async fn expect_error_close(ctx: &Ctx, c: &mut Client, named: &[u8]) -> Outcome {
    expect_error_close_seen(ctx, c, named).await.map(|_| ())
}

/// [`expect_error_close`], returning what was seen (the packets before the close, which the
/// caller may judge).
pub(crate) async fn expect_error_close_seen(
    ctx: &Ctx,
    c: &mut Client,
    named: &[u8],
) -> Result<CloseSeen, Stop> {
    let seen = c.expect_close(ctx.patience()).await?;
    if let Some(rc) = seen.disconnect {
        if !ctx.v5() || !server_error_code(rc) {
            return Err(Stop::fail(
                format!(
                    "the connection closed, after no DISCONNECT or a DISCONNECT with an error code (the standard names {})",
                    codes_text(named)
                ),
                format!("DISCONNECT 0x{:02X}", rc.0),
            ));
        }
    }
    Ok(seen)
}

/// [`expect_error_close`], and no packet named `answer` (`"PUBACK"`) among those seen before
/// the close: the offending packet was not accepted (else a failure expecting `expected`).
pub(crate) async fn expect_error_close_without(
    ctx: &Ctx,
    c: &mut Client,
    named: &[u8],
    answer: &str,
    expected: &str,
) -> Outcome {
    let seen = expect_error_close_seen(ctx, c, named).await?;
    if let Some(b) = seen.before.iter().find(|b| b.starts_with(answer)) {
        return Err(Stop::fail(expected, b.clone()));
    }
    Ok(())
}

/// `0x81/0x82` for a list of codes.
pub(crate) fn codes_text(codes: &[u8]) -> String {
    codes
        .iter()
        .map(|c| format!("0x{c:02X}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// The SHOULD half of an error close (5.0): the server sends DISCONNECT with exactly `code`
/// before closing ("it SHOULD send a DISCONNECT packet containing the Reason Code" of 4.13.1).
/// A bare close, another code, or no close at all is reported against the test's first
/// statement (the test is declared `.should()`, so the verdict is advisory).
pub(crate) async fn expect_disconnect_code(ctx: &Ctx, c: &mut Client, code: ReasonCode) -> Outcome {
    let expected = format!("DISCONNECT 0x{:02X} and the close", code.0);
    let e = c.watch_close(ctx.patience()).await?;
    match &e.disconnect {
        Some(d) if d.reason_code == code && e.closed => Ok(()),
        _ => Err(Stop::fail(expected, e.summary())),
    }
}

// ---------------------------------------------------------------------------------------------
// Table-driven families of tests
// ---------------------------------------------------------------------------------------------

/// One row of a table-driven family: the test's declaration (built exactly like any
/// [`TestCase`]) and, for rows that share the family's body, the parameters of that body.
pub(crate) struct Row<K> {
    /// The declaration; its body is replaced by the family's when `kind` is set.
    pub case: TestCase,
    /// The parameters for the family's body; `None` for a row with a body of its own.
    pub kind: Option<K>,
}

impl<K> Row<K> {
    /// A row run by the family's body with `kind`.
    pub fn new(id: &'static str, title: &'static str, kind: K) -> Self {
        Row {
            case: TestCase::new(id, title, unbound),
            kind: Some(kind),
        }
    }
    /// A row with a body of its own.
    pub fn own(id: &'static str, title: &'static str, run: TestFn) -> Self {
        Row {
            case: TestCase::new(id, title, run),
            kind: None,
        }
    }
    /// See [`TestCase::v311`].
    pub fn v311(mut self, ids: &'static [StatementId]) -> Self {
        self.case = self.case.v311(ids);
        self
    }
    /// See [`TestCase::v5`].
    pub fn v5(mut self, ids: &'static [StatementId]) -> Self {
        self.case = self.case.v5(ids);
        self
    }
    /// See [`TestCase::requires`].
    pub fn requires(mut self, caps: &'static [Cap]) -> Self {
        self.case = self.case.requires(caps);
        self
    }
    /// See [`TestCase::should`].
    pub fn should(mut self) -> Self {
        self.case = self.case.should();
        self
    }
}

/// A family of tests that share one body, parametrised by each row's `Kind`.
pub(crate) trait Table: 'static {
    /// The parameters of one row.
    type Kind: Send + 'static;
    /// The rows, in catalogue order (built afresh on each call).
    fn rows() -> Vec<Row<Self::Kind>>;
    /// The shared body.
    fn run(ctx: Ctx, kind: Self::Kind) -> BoxFuture<'static, Outcome>;
}

/// The body of a row declared without one (never run: [`cases`] replaces it).
fn unbound(_: Ctx) -> BoxFuture<'static, Outcome> {
    Box::pin(async { Err(Stop::Error("a table row without a body".into())) })
}

/// The body of row `I` of table `T`.
fn row_body<T: Table, const I: usize>(ctx: Ctx) -> BoxFuture<'static, Outcome> {
    match T::rows().into_iter().nth(I).and_then(|r| r.kind) {
        Some(kind) => T::run(ctx, kind),
        None => Box::pin(async move {
            Err(Stop::Error(format!(
                "row {I} of a test table has no parameters"
            )))
        }),
    }
}

/// The bodies of rows 0 to 127 of a table.
macro_rules! row_bodies {
    ($t:ty; $($i:literal)*) => {
        [$(row_body::<$t, $i> as TestFn),*]
    };
}

/// The most rows a table may have.
const MAX_ROWS: usize = 128;

/// The test cases of table `T`: each row's declaration with the family's body for its row
/// (rows with a body of their own keep it).
pub(crate) fn cases<T: Table>() -> Vec<TestCase> {
    let bodies: [TestFn; MAX_ROWS] = row_bodies!(T; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127);
    T::rows()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut case = r.case;
            if r.kind.is_some() {
                case.run = bodies.get(i).copied().unwrap_or(too_many);
            }
            case
        })
        .collect()
}

/// The body of a row beyond [`MAX_ROWS`] (a suite bug, reported as such).
fn too_many(_: Ctx) -> BoxFuture<'static, Outcome> {
    Box::pin(async {
        Err(Stop::Error(format!(
            "a test table has more than {MAX_ROWS} rows: split it"
        )))
    })
}

/// The size `p` takes on the wire in `v` (its shortest encoding, which is how a decoded packet
/// arrived: the codec rejects longer length encodings from 5.0 servers).
pub(crate) fn wire_len(p: &Packet, v: ProtocolVersion) -> usize {
    let mut b = BytesMut::new();
    p.encode_unchecked(v, &mut b);
    b.len()
}

/// A server packet of `len` bytes above the client's Maximum Packet Size `limit` must not be
/// carrying a Reason String or a User Property: the server leaves those out when they would
/// make the packet too large. A Reason String fails the test's first statement; User
/// Properties fail `user_statement`.
pub(crate) fn optional_properties_fit(
    kind: &str,
    len: usize,
    limit: u32,
    props: &Properties,
    user_statement: StatementId,
) -> Outcome {
    if len <= limit as usize {
        return Ok(());
    }
    if props.reason_string.is_some() {
        return Err(Stop::fail(
            format!("no Reason String that makes the {kind} exceed {limit} bytes"),
            format!("a {kind} of {len} bytes with a Reason String"),
        ));
    }
    if !props.user_properties.is_empty() {
        return Err(Stop::fail_at(
            user_statement,
            format!("no User Property that makes the {kind} exceed {limit} bytes"),
            format!("a {kind} of {len} bytes with User Properties"),
        ));
    }
    Ok(())
}
