//! Interoperability with a client nobody here wrote: rumqttc's 3.1.1 client (`rumqttc`) and
//! its 5.0 client (`rumqttc::v5`) against `serve` over real loopback TCP. Connect, subscribe,
//! QoS 0/1/2 both ways, retained messages, wills and session resumption.
//!
//! Every wait has a deadline. To show that something did *not* arrive, a marker message is
//! published afterwards on the same path: the first message seen must be the marker.

mod interop_common;
use interop_common::start_broker;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(10);

/// What a client's event loop reported: a packet from the broker, or the end of the connection.
#[derive(Debug)]
enum Seen<P> {
    Packet(P),
    Ended(String),
}

/// The packets a client receives, from a task polling its event loop until the connection ends
/// (no automatic reconnection). Aborting the task drops the socket without DISCONNECT.
struct Inbox<P> {
    rx: mpsc::UnboundedReceiver<Seen<P>>,
    task: tokio::task::JoinHandle<()>,
}

impl<P: std::fmt::Debug> Inbox<P> {
    /// The next packet for which `pick` returns `Some`, skipping the others.
    async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(&P) -> Option<T>) -> T {
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.rx.recv().await {
                    Some(Seen::Packet(p)) => {
                        if let Some(t) = pick(&p) {
                            return t;
                        }
                    }
                    Some(Seen::Ended(e)) => {
                        panic!("connection ended while waiting for {what}: {e}")
                    }
                    None => panic!("event loop gone while waiting for {what}"),
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no {what} before the deadline"))
    }

    /// Waits until the connection has ended (after a DISCONNECT or a close by the broker).
    async fn ended(&mut self) -> String {
        tokio::time::timeout(DEADLINE, async {
            loop {
                match self.rx.recv().await {
                    Some(Seen::Packet(_)) => continue,
                    Some(Seen::Ended(e)) => return e,
                    None => return "event loop gone".to_string(),
                }
            }
        })
        .await
        .expect("the connection did not end before the deadline")
    }

    /// Drops the connection abruptly (no DISCONNECT): the broker sees the socket close.
    async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

mod v311 {
    use super::*;
    use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};

    fn client(
        addr: SocketAddr,
        id: &str,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> (AsyncClient, Inbox<Packet>) {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        configure(&mut options);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(p)) => {
                        if tx.send(Seen::Packet(p)).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(e) => {
                        let _ = tx.send(Seen::Ended(e.to_string()));
                        return;
                    }
                }
            }
        });
        (client, Inbox { rx, task })
    }

    async fn connack(inbox: &mut Inbox<Packet>) -> bool {
        inbox
            .next("CONNACK", |p| match p {
                Packet::ConnAck(ack) => {
                    assert_eq!(ack.code, rumqttc::ConnectReturnCode::Success);
                    Some(ack.session_present)
                }
                _ => None,
            })
            .await
    }

    async fn suback(inbox: &mut Inbox<Packet>) -> Vec<rumqttc::SubscribeReasonCode> {
        inbox
            .next("SUBACK", |p| match p {
                Packet::SubAck(ack) => Some(ack.return_codes.clone()),
                _ => None,
            })
            .await
    }

    async fn publish(inbox: &mut Inbox<Packet>) -> rumqttc::Publish {
        inbox
            .next("PUBLISH", |p| match p {
                Packet::Publish(p) => Some(p.clone()),
                _ => None,
            })
            .await
    }

    #[tokio::test]
    async fn qos_0_1_2_round_trip() {
        let broker = start_broker(11).await;
        let (sub, mut sub_in) = client(broker.addr, "v4-sub", |_| {});
        connack(&mut sub_in).await;
        sub.subscribe("v4/q/+", QoS::ExactlyOnce).await.unwrap();
        assert_eq!(
            suback(&mut sub_in).await,
            vec![rumqttc::SubscribeReasonCode::Success(QoS::ExactlyOnce)]
        );

        let (publ, mut pub_in) = client(broker.addr, "v4-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v4/q/0", QoS::AtMostOnce, false, "zero")
            .await
            .unwrap();
        publ.publish("v4/q/1", QoS::AtLeastOnce, false, "one")
            .await
            .unwrap();
        publ.publish("v4/q/2", QoS::ExactlyOnce, false, "two")
            .await
            .unwrap();
        // The publisher's flows complete: PUBACK for QoS 1, PUBREC then PUBCOMP for QoS 2.
        pub_in
            .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;
        pub_in
            .next("PUBCOMP", |p| matches!(p, Packet::PubComp(_)).then_some(()))
            .await;

        // In order, each at the QoS it was published with (the subscription allows 2).
        for (topic, qos, payload) in [
            ("v4/q/0", QoS::AtMostOnce, "zero"),
            ("v4/q/1", QoS::AtLeastOnce, "one"),
            ("v4/q/2", QoS::ExactlyOnce, "two"),
        ] {
            let p = publish(&mut sub_in).await;
            assert_eq!(p.topic, topic);
            assert_eq!(p.qos, qos);
            assert_eq!(&p.payload[..], payload.as_bytes());
            assert!(!p.retain);
        }
    }

    #[tokio::test]
    async fn subscription_qos_caps_delivery() {
        let broker = start_broker(11).await;
        let (sub, mut sub_in) = client(broker.addr, "v4-cap", |_| {});
        connack(&mut sub_in).await;
        sub.subscribe("v4/cap", QoS::AtLeastOnce).await.unwrap();
        suback(&mut sub_in).await;
        let (publ, mut pub_in) = client(broker.addr, "v4-cap-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v4/cap", QoS::ExactlyOnce, false, "x")
            .await
            .unwrap();
        let p = publish(&mut sub_in).await;
        assert_eq!(p.qos, QoS::AtLeastOnce);
    }

    #[tokio::test]
    async fn retained_store_replace_delete() {
        let broker = start_broker(11).await;
        let (publ, mut pub_in) = client(broker.addr, "v4-ret-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v4/r/a", QoS::AtLeastOnce, true, "old")
            .await
            .unwrap();
        publ.publish("v4/r/a", QoS::AtLeastOnce, true, "new")
            .await
            .unwrap();
        for _ in 0..2 {
            pub_in
                .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
                .await;
        }
        let (sub, mut sub_in) = client(broker.addr, "v4-ret-sub", |_| {});
        connack(&mut sub_in).await;
        sub.subscribe("v4/r/#", QoS::AtLeastOnce).await.unwrap();
        suback(&mut sub_in).await;
        let p = publish(&mut sub_in).await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.retain),
            ("v4/r/a", &b"new"[..], true)
        );

        // An empty retained payload deletes it: a new subscriber gets only the marker.
        publ.publish("v4/r/a", QoS::AtLeastOnce, true, Vec::new())
            .await
            .unwrap();
        pub_in
            .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;
        let (late, mut late_in) = client(broker.addr, "v4-ret-late", |_| {});
        connack(&mut late_in).await;
        late.subscribe("v4/r/#", QoS::AtLeastOnce).await.unwrap();
        suback(&mut late_in).await;
        publ.publish("v4/r/marker", QoS::AtLeastOnce, false, "m")
            .await
            .unwrap();
        let p = publish(&mut late_in).await;
        assert_eq!(p.topic, "v4/r/marker");
    }

    #[tokio::test]
    async fn will_on_abrupt_loss_not_on_disconnect() {
        let broker = start_broker(11).await;
        let (obs, mut obs_in) = client(broker.addr, "v4-will-obs", |_| {});
        connack(&mut obs_in).await;
        obs.subscribe("v4/will/#", QoS::AtLeastOnce).await.unwrap();
        suback(&mut obs_in).await;

        // A clean DISCONNECT discards the will.
        let (polite, mut polite_in) = client(broker.addr, "v4-polite", |o| {
            o.set_last_will(LastWill::new(
                "v4/will/polite",
                "gone",
                QoS::AtLeastOnce,
                false,
            ));
        });
        connack(&mut polite_in).await;
        polite.disconnect().await.unwrap();
        polite_in.ended().await;

        // Losing the connection publishes it.
        let (_rude, mut rude_in) = client(broker.addr, "v4-rude", |o| {
            o.set_last_will(LastWill::new(
                "v4/will/rude",
                "lost",
                QoS::AtLeastOnce,
                false,
            ));
        });
        connack(&mut rude_in).await;
        rude_in.crash().await;

        let p = publish(&mut obs_in).await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("v4/will/rude", &b"lost"[..])
        );
    }

    #[tokio::test]
    async fn session_resumes_with_queued_message() {
        let broker = start_broker(11).await;
        let persistent = |o: &mut MqttOptions| {
            o.set_clean_session(false);
        };
        let (c, mut c_in) = client(broker.addr, "v4-persist", persistent);
        assert!(!connack(&mut c_in).await);
        c.subscribe("v4/s/t", QoS::AtLeastOnce).await.unwrap();
        suback(&mut c_in).await;
        c.disconnect().await.unwrap();
        c_in.ended().await;

        let (publ, mut pub_in) = client(broker.addr, "v4-s-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v4/s/t", QoS::AtLeastOnce, false, "while away")
            .await
            .unwrap();
        pub_in
            .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;

        let (_c, mut c_in) = client(broker.addr, "v4-persist", persistent);
        assert!(connack(&mut c_in).await, "session present expected");
        let p = publish(&mut c_in).await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("v4/s/t", &b"while away"[..])
        );
        assert_eq!(p.qos, QoS::AtLeastOnce);
    }

    /// An unacknowledged QoS 1 message is sent again, with DUP set, when the persistent
    /// session reconnects [MQTT-4.4.0-1] [MQTT-3.3.1-1].
    #[tokio::test]
    async fn unacknowledged_message_redelivered_with_dup() {
        let broker = start_broker(11).await;
        let (c, mut c_in) = client(broker.addr, "v4-dup", |o| {
            o.set_clean_session(false);
            o.set_manual_acks(true);
        });
        connack(&mut c_in).await;
        c.subscribe("v4/dup", QoS::AtLeastOnce).await.unwrap();
        suback(&mut c_in).await;
        let (publ, mut pub_in) = client(broker.addr, "v4-dup-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v4/dup", QoS::AtLeastOnce, false, "ack me")
            .await
            .unwrap();
        let first = publish(&mut c_in).await;
        assert!(!first.dup);
        // Never acknowledged: the connection is lost.
        c_in.crash().await;
        drop(c);

        let (_c, mut c_in) = client(broker.addr, "v4-dup", |o| {
            o.set_clean_session(false);
        });
        assert!(connack(&mut c_in).await);
        let again = publish(&mut c_in).await;
        assert!(again.dup, "redelivery without DUP");
        assert_eq!(again.pkid, first.pkid);
        assert_eq!(&again.payload[..], b"ack me");
    }
}

mod v5 {
    use super::*;
    use rumqttc::v5::mqttbytes::v5::{
        ConnectReturnCode, LastWill, LastWillProperties, Packet, Publish, SubscribeReasonCode,
    };
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};

    fn client(
        addr: SocketAddr,
        id: &str,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> (AsyncClient, Inbox<Packet>) {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        configure(&mut options);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(p)) => {
                        if tx.send(Seen::Packet(p)).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(e) => {
                        let _ = tx.send(Seen::Ended(e.to_string()));
                        return;
                    }
                }
            }
        });
        (client, Inbox { rx, task })
    }

    async fn connack(inbox: &mut Inbox<Packet>) -> bool {
        inbox
            .next("CONNACK", |p| match p {
                Packet::ConnAck(ack) => {
                    assert_eq!(ack.code, ConnectReturnCode::Success);
                    Some(ack.session_present)
                }
                _ => None,
            })
            .await
    }

    async fn suback(inbox: &mut Inbox<Packet>) -> Vec<SubscribeReasonCode> {
        inbox
            .next("SUBACK", |p| match p {
                Packet::SubAck(ack) => Some(ack.return_codes.clone()),
                _ => None,
            })
            .await
    }

    async fn publish(inbox: &mut Inbox<Packet>) -> Publish {
        inbox
            .next("PUBLISH", |p| match p {
                Packet::Publish(p) => Some(p.clone()),
                _ => None,
            })
            .await
    }

    fn topic(p: &Publish) -> &str {
        std::str::from_utf8(&p.topic).unwrap_or("<not UTF-8>")
    }

    #[tokio::test]
    async fn qos_0_1_2_round_trip() {
        let broker = start_broker(11).await;
        let (sub, mut sub_in) = client(broker.addr, "v5-sub", |_| {});
        connack(&mut sub_in).await;
        sub.subscribe("v5/q/+", QoS::ExactlyOnce).await.unwrap();
        assert_eq!(
            suback(&mut sub_in).await,
            vec![SubscribeReasonCode::Success(QoS::ExactlyOnce)]
        );
        let (publ, mut pub_in) = client(broker.addr, "v5-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v5/q/0", QoS::AtMostOnce, false, "zero")
            .await
            .unwrap();
        publ.publish("v5/q/1", QoS::AtLeastOnce, false, "one")
            .await
            .unwrap();
        publ.publish("v5/q/2", QoS::ExactlyOnce, false, "two")
            .await
            .unwrap();
        pub_in
            .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;
        pub_in
            .next("PUBCOMP", |p| matches!(p, Packet::PubComp(_)).then_some(()))
            .await;
        for (t, qos, payload) in [
            ("v5/q/0", QoS::AtMostOnce, "zero"),
            ("v5/q/1", QoS::AtLeastOnce, "one"),
            ("v5/q/2", QoS::ExactlyOnce, "two"),
        ] {
            let p = publish(&mut sub_in).await;
            assert_eq!(topic(&p), t);
            assert_eq!(p.qos, qos);
            assert_eq!(&p.payload[..], payload.as_bytes());
        }
    }

    #[tokio::test]
    async fn retained_delivered_on_subscribe() {
        let broker = start_broker(11).await;
        let (publ, mut pub_in) = client(broker.addr, "v5-ret-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v5/r/a", QoS::AtLeastOnce, true, "kept")
            .await
            .unwrap();
        pub_in
            .next("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;
        let (sub, mut sub_in) = client(broker.addr, "v5-ret-sub", |_| {});
        connack(&mut sub_in).await;
        sub.subscribe("v5/r/+", QoS::AtLeastOnce).await.unwrap();
        suback(&mut sub_in).await;
        let p = publish(&mut sub_in).await;
        assert_eq!(
            (topic(&p), &p.payload[..], p.retain),
            ("v5/r/a", &b"kept"[..], true)
        );
    }

    #[tokio::test]
    async fn will_on_abrupt_loss_not_on_disconnect() {
        let broker = start_broker(11).await;
        let (obs, mut obs_in) = client(broker.addr, "v5-will-obs", |_| {});
        connack(&mut obs_in).await;
        obs.subscribe("v5/will/#", QoS::AtLeastOnce).await.unwrap();
        suback(&mut obs_in).await;

        let (polite, mut polite_in) = client(broker.addr, "v5-polite", |o| {
            o.set_last_will(LastWill::new(
                "v5/will/polite",
                "gone",
                QoS::AtLeastOnce,
                false,
                None,
            ));
        });
        connack(&mut polite_in).await;
        // DISCONNECT with reason 0x00 deletes the will.
        polite.disconnect().await.unwrap();
        polite_in.ended().await;

        let (rude, mut rude_in) = client(broker.addr, "v5-rude", |o| {
            let props = LastWillProperties {
                delay_interval: Some(0),
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: None,
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            };
            o.set_last_will(LastWill::new(
                "v5/will/rude",
                "lost",
                QoS::AtLeastOnce,
                false,
                Some(props),
            ));
        });
        connack(&mut rude_in).await;
        rude_in.crash().await;
        drop(rude);

        let p = publish(&mut obs_in).await;
        assert_eq!((topic(&p), &p.payload[..]), ("v5/will/rude", &b"lost"[..]));
    }

    #[tokio::test]
    async fn session_resumes_with_queued_message() {
        let broker = start_broker(11).await;
        let persistent = |o: &mut MqttOptions| {
            o.set_clean_start(false);
            o.set_session_expiry_interval(Some(300));
        };
        let (c, mut c_in) = client(broker.addr, "v5-persist", persistent);
        assert!(!connack(&mut c_in).await);
        c.subscribe("v5/s/t", QoS::ExactlyOnce).await.unwrap();
        suback(&mut c_in).await;
        c.disconnect().await.unwrap();
        c_in.ended().await;

        let (publ, mut pub_in) = client(broker.addr, "v5-s-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v5/s/t", QoS::ExactlyOnce, false, "while away")
            .await
            .unwrap();
        pub_in
            .next("PUBCOMP", |p| matches!(p, Packet::PubComp(_)).then_some(()))
            .await;

        let (_c, mut c_in) = client(broker.addr, "v5-persist", persistent);
        assert!(connack(&mut c_in).await, "session present expected");
        let p = publish(&mut c_in).await;
        assert_eq!((topic(&p), &p.payload[..]), ("v5/s/t", &b"while away"[..]));
        assert_eq!(p.qos, QoS::ExactlyOnce);
    }

    /// An unacknowledged QoS 1 message is sent again, with DUP set, when the session is
    /// resumed [MQTT-4.4.0-1] [MQTT-3.3.1-1].
    #[tokio::test]
    async fn unacknowledged_message_redelivered_with_dup() {
        let broker = start_broker(11).await;
        let persistent = |o: &mut MqttOptions| {
            o.set_clean_start(false);
            o.set_session_expiry_interval(Some(300));
        };
        let (c, mut c_in) = client(broker.addr, "v5-dup", |o| {
            persistent(o);
            o.set_manual_acks(true);
        });
        connack(&mut c_in).await;
        c.subscribe("v5/dup", QoS::AtLeastOnce).await.unwrap();
        suback(&mut c_in).await;
        let (publ, mut pub_in) = client(broker.addr, "v5-dup-pub", |_| {});
        connack(&mut pub_in).await;
        publ.publish("v5/dup", QoS::AtLeastOnce, false, "ack me")
            .await
            .unwrap();
        let first = publish(&mut c_in).await;
        assert!(!first.dup);
        c_in.crash().await;
        drop(c);

        let (_c, mut c_in) = client(broker.addr, "v5-dup", persistent);
        assert!(connack(&mut c_in).await);
        let again = publish(&mut c_in).await;
        assert!(again.dup, "redelivery without DUP");
        assert_eq!(again.pkid, first.pkid);
        assert_eq!(&again.payload[..], b"ack me");
    }
}
