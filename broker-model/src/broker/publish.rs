//! PUBLISH in both directions and the acknowledgement flows.

use bytes::BytesMut;
use mqtt_codec::{ByteStr, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode};
use mqtt_spec::v5;

use super::Broker;
use crate::acl::{self, Op};
use crate::message::Message;
use crate::session::{Inflight, OutState};
use crate::types::{ConnId, DropReason};

impl Broker {
    /// PUBLISH from a client.
    pub(super) fn on_publish(&mut self, conn: ConnId, p: Publish) {
        let receive_maximum = usize::from(self.config.receive_maximum.max(1));
        let alias_max = self.config.topic_alias_maximum;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        let cid = c.client_id.clone().unwrap_or_default();
        // Topic alias (5.0).
        let topic: ByteStr = match p.properties.topic_alias.filter(|_| v5) {
            Some(alias) => {
                if alias > alias_max {
                    // [MQTT-3.3.2-9] [MQTT-3.2.2-17] [MQTT-3.2.2-18]: above the Topic Alias
                    // Maximum of CONNACK: 0x94 Topic Alias invalid.
                    return self.violation(
                        conn,
                        &[
                            v5!("MQTT-3.3.2-9"),
                            v5!("MQTT-3.2.2-17"),
                            v5!("MQTT-3.2.2-18"),
                        ],
                        ReasonCode::TOPIC_ALIAS_INVALID,
                        format!("topic alias {alias} above the maximum {alias_max}"),
                    );
                }
                if p.topic.is_empty() {
                    match c.aliases_in.get(&alias) {
                        Some(t) => t.clone(),
                        None => {
                            // 3.3.2.3.4: an alias never set is a Protocol Error (no id).
                            return self.violation(
                                conn,
                                &[],
                                ReasonCode::PROTOCOL_ERROR,
                                format!("topic alias {alias} has no mapping"),
                            );
                        }
                    }
                } else {
                    // [MQTT-3.3.2-12]: every alias up to the maximum is accepted.
                    c.aliases_in.insert(alias, p.topic.clone());
                    p.topic.clone()
                }
            }
            None => p.topic.clone(),
        };
        if v5 && p.qos > self.config.max_qos() {
            // [MQTT-3.2.2-11]: QoS above the Maximum QoS of CONNACK: 0x9B.
            return self.violation(
                conn,
                &[v5!("MQTT-3.2.2-11")],
                ReasonCode::QOS_NOT_SUPPORTED,
                format!("PUBLISH QoS {} above the maximum QoS", p.qos),
            );
        }
        if v5 && p.retain && !self.config.retain_available {
            // [MQTT-3.2.2-14]: RETAIN 1 when Retain Available is 0: 0x9A.
            return self.violation(
                conn,
                &[v5!("MQTT-3.2.2-14")],
                ReasonCode::RETAIN_NOT_SUPPORTED,
                "retained PUBLISH while retain is not available".into(),
            );
        }
        let known_qos2 = p.qos == QoS::ExactlyOnce
            && self
                .sessions
                .get(&cid)
                .is_some_and(|s| s.incoming_qos2.contains(&p.packet_id));
        if p.qos == QoS::ExactlyOnce && !known_qos2 {
            let in_flight = self.conns.get(&conn).map_or(0, |c| c.inbound_qos2.len());
            if v5 && in_flight >= receive_maximum {
                // [MQTT-3.3.4-7]: more unacknowledged QoS 2 PUBLISH than Receive Maximum.
                return self.violation(
                    conn,
                    &[v5!("MQTT-3.3.4-7")],
                    ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                    format!("more than {receive_maximum} QoS 2 messages unacknowledged"),
                );
            }
        }
        if known_qos2 {
            // 5.0 [MQTT-4.3.3-10] / 3.1.1 [MQTT-4.3.3-2] (method B): acknowledge again, do
            // not deliver twice.
            self.send_packet(conn, &Packet::PubRec(PubRec::new(p.packet_id)));
            return;
        }
        // Payload Format Indicator 1: UTF-8 payload (optional check, 0x99).
        if v5
            && self.config.check_payload_format
            && p.properties.payload_format_indicator == Some(1)
            && std::str::from_utf8(&p.payload).is_err()
        {
            match p.qos {
                QoS::AtMostOnce => {
                    return self.violation(
                        conn,
                        &[],
                        ReasonCode::PAYLOAD_FORMAT_INVALID,
                        "payload is not UTF-8 although marked so".into(),
                    )
                }
                // [MQTT-4.3.3-9]: after PUBREC >= 0x80 the identifier is free again.
                _ => return self.ack_publish(conn, &p, ReasonCode::PAYLOAD_FORMAT_INVALID),
            }
        }
        // Topic authorization.
        let username = self.username(conn);
        if !acl::allowed(
            self.config.acl.as_ref(),
            Op::Publish,
            &cid,
            username.as_deref(),
            &topic,
        ) {
            let code = if v5 {
                ReasonCode::NOT_AUTHORIZED
            } else {
                // [MQTT-3.3.5-2] (3.1.1): acknowledge positively and discard.
                ReasonCode::SUCCESS
            };
            return self.ack_publish(conn, &p, code);
        }
        let msg = Message::from_publish(
            &p,
            topic,
            self.now,
            Some(cid.clone()),
            self.config.user_properties,
            self.config.message_expiry,
        );
        let receivers = self.accept_message(msg, Some(conn));
        let code = if v5 && receivers == 0 && self.config.report_no_subscribers {
            ReasonCode::NO_MATCHING_SUBSCRIBERS
        } else {
            ReasonCode::SUCCESS
        };
        if p.qos == QoS::ExactlyOnce {
            if let Some(s) = self.sessions.get_mut(&cid) {
                s.incoming_qos2.insert(p.packet_id);
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.inbound_qos2.insert(p.packet_id);
            }
        }
        self.ack_publish(conn, &p, code);
    }

    /// PUBACK for QoS 1 (5.0 [MQTT-4.3.2-4], 3.1.1 [MQTT-4.3.2-2]), PUBREC for QoS 2 (5.0
    /// [MQTT-4.3.3-8], 3.1.1 [MQTT-4.3.3-2]), with the PUBLISH's packet identifier (5.0
    /// [MQTT-2.2.1-5], 3.1.1 [MQTT-2.3.1-6]); [MQTT-3.3.4-1] both versions.
    fn ack_publish(&mut self, conn: ConnId, p: &Publish, code: ReasonCode) {
        let v5 = self.conns.get(&conn).is_some_and(|c| c.is_v5());
        let code = if v5 { code } else { ReasonCode::SUCCESS };
        let reason = (code.is_error() && self.may_add_reason(conn))
            .then(|| ByteStr::from(code.name().to_string()));
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                let mut a = PubAck::with_reason(p.packet_id, code);
                a.properties.reason_string = reason;
                self.send_ack(conn, Packet::PubAck(a));
            }
            QoS::ExactlyOnce => {
                let mut a = PubRec::with_reason(p.packet_id, code);
                a.properties.reason_string = reason;
                self.send_ack(conn, Packet::PubRec(a));
            }
        }
    }

    /// Sends an acknowledgement, without its Reason String if it would exceed the client's
    /// Maximum Packet Size ([MQTT-3.4.2-2] [MQTT-3.5.2-2]).
    fn send_ack(&mut self, conn: ConnId, mut packet: Packet) {
        let max = self
            .conns
            .get(&conn)
            .map_or(u32::MAX, |c| c.client_max_packet_size) as usize;
        let version = self
            .conns
            .get(&conn)
            .map_or(mqtt_codec::ProtocolVersion::V5, |c| c.version);
        if packet.encoded_len(version).unwrap_or(usize::MAX) > max {
            match &mut packet {
                Packet::PubAck(a) => a.properties.reason_string = None,
                Packet::PubRec(a) => a.properties.reason_string = None,
                _ => {}
            }
        }
        self.send_packet(conn, &packet);
    }

    fn session_of(&self, conn: ConnId) -> Option<String> {
        self.conns.get(&conn).and_then(|c| c.client_id.clone())
    }

    /// PUBACK from the client: the QoS 1 message is done (5.0 [MQTT-4.3.2-3]).
    pub(super) fn on_puback(&mut self, conn: ConnId, packet_id: u16) {
        let Some(cid) = self.session_of(conn) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&cid) {
            s.inflight
                .retain(|f| !(f.packet_id == packet_id && f.state == OutState::AwaitPubAck));
        }
        self.pump(&cid);
    }

    /// PUBREC from the client: answer PUBREL (5.0 [MQTT-4.3.3-4] [MQTT-4.3.3-5]), or forget
    /// the message on an error code ([MQTT-4.4.0-2] [MQTT-4.8.2-6]).
    pub(super) fn on_pubrec(&mut self, conn: ConnId, packet_id: u16, rc: ReasonCode) {
        let Some(cid) = self.session_of(conn) else {
            return;
        };
        let v5 = self.conns.get(&conn).is_some_and(|c| c.is_v5());
        let mut reply = None;
        if let Some(s) = self.sessions.get_mut(&cid) {
            match s.inflight.iter().position(|f| f.packet_id == packet_id) {
                Some(i) => {
                    let state = s.inflight.get(i).map(|f| f.state);
                    match state {
                        Some(OutState::AwaitPubRec) if rc.is_error() && v5 => {
                            s.inflight.remove(i);
                        }
                        Some(OutState::AwaitPubRec) | Some(OutState::AwaitPubComp) => {
                            if let Some(f) = s.inflight.get_mut(i) {
                                f.state = OutState::AwaitPubComp;
                            }
                            reply = Some(PubRel::new(packet_id));
                        }
                        _ => {}
                    }
                }
                None if v5 => {
                    reply = Some(PubRel::with_reason(
                        packet_id,
                        ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                    ));
                }
                None => reply = Some(PubRel::new(packet_id)),
            }
        }
        if let Some(r) = reply {
            self.send_packet(conn, &Packet::PubRel(r));
        }
        self.pump(&cid);
    }

    /// PUBREL from the client: release the packet identifier and answer PUBCOMP (5.0
    /// [MQTT-4.3.3-11] [MQTT-4.3.3-12]).
    pub(super) fn on_pubrel(&mut self, conn: ConnId, packet_id: u16) {
        let Some(cid) = self.session_of(conn) else {
            return;
        };
        let v5 = self.conns.get(&conn).is_some_and(|c| c.is_v5());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.inbound_qos2.remove(&packet_id);
        }
        let known = self
            .sessions
            .get_mut(&cid)
            .is_some_and(|s| s.incoming_qos2.remove(&packet_id));
        let rc = if known || !v5 {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.send_packet(conn, &Packet::PubComp(PubComp::with_reason(packet_id, rc)));
    }

    /// PUBCOMP from the client: the QoS 2 message is done.
    pub(super) fn on_pubcomp(&mut self, conn: ConnId, packet_id: u16) {
        let Some(cid) = self.session_of(conn) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&cid) {
            s.inflight
                .retain(|f| !(f.packet_id == packet_id && f.state == OutState::AwaitPubComp));
        }
        self.pump(&cid);
    }

    /// Where and how much a session can send now: its connection (connected, and not closing
    /// after the server's DISCONNECT), whether it is 5.0, and the send quota: the client's
    /// Receive Maximum ([MQTT-4.9.0-1]: it starts again with each connection) within the
    /// configured `max_inflight`.
    pub(crate) fn send_window(&self, cid: &str) -> Option<(ConnId, bool, usize)> {
        let conn = self.sessions.get(cid)?.conn?;
        let c = self.conns.get(&conn)?;
        if !c.is_connected() || c.disconnect_sent {
            return None;
        }
        let max_inflight = usize::from(self.config.max_inflight.max(1));
        let limit = usize::from(c.client_receive_maximum.max(1)).min(max_inflight);
        Some((conn, c.is_v5(), limit))
    }

    /// Sends queued messages of a connected session, in order (5.0 [MQTT-4.6.0-6], 3.1.1
    /// [MQTT-4.6.0-5] [MQTT-4.6.0-6]), within the client's Receive Maximum ([MQTT-3.3.4-9]:
    /// a QoS 1/2 message at the head waits for a free slot; later ones wait behind it).
    pub(crate) fn pump(&mut self, cid: &str) {
        // Resends owed since a resumption go first, and count against the same quota.
        self.resend_pending(cid);
        let expiry_on = self.config.message_expiry;
        // Only messages whose PUBLISH went out on this connection take its quota (4.9):
        // counted once here, then kept up to date as this loop adds to the in-flight list
        // (nothing inside the loop removes from it).
        let mut used = self
            .sessions
            .get(cid)
            .map_or(0, |s| s.inflight.iter().filter(|f| f.counted).count());
        loop {
            let Some((conn, v5, limit)) = self.send_window(cid) else {
                return;
            };
            let Some(s) = self.sessions.get_mut(cid) else {
                return;
            };
            let Some(front) = s.queue.front() else {
                return;
            };
            let now = self.now;
            let expiry = if expiry_on {
                front.msg.remaining_expiry(now)
            } else {
                Ok(None)
            };
            let Ok(expiry) = expiry else {
                // [MQTT-3.3.2-5]: expired before onward delivery started: not sent.
                let topic = front.msg.topic.to_string();
                s.queue.pop_front();
                self.drop_message(cid, topic, DropReason::Expired);
                continue;
            };
            if front.qos != QoS::AtMostOnce && used >= limit {
                return;
            }
            let Some(d) = s.queue.pop_front() else {
                return;
            };
            let mut p = d.msg.to_publish(&d, expiry, v5);
            if d.qos != QoS::AtMostOnce {
                // 5.0 [MQTT-2.2.1-4] [MQTT-4.3.2-1] [MQTT-4.3.3-1], 3.1.1 [MQTT-2.3.1-4]
                // [MQTT-4.3.2-1] [MQTT-4.3.3-1]:
                // an unused non-zero packet identifier.
                let Some(id) = s.allocate_packet_id() else {
                    s.queue.push_front(d);
                    return;
                };
                p.packet_id = id;
            }
            // [MQTT-3.3.1-3]: DUP is never copied from the incoming packet; [MQTT-4.3.1-1]
            // [MQTT-4.3.2-2] [MQTT-4.3.3-2]: DUP 0 on the first attempt.
            p.dup = false;
            let packet_id = p.packet_id;
            let qos = d.qos;
            let topic = d.msg.topic.to_string();
            if self.send_publish(conn, p) {
                if qos != QoS::AtMostOnce {
                    if let Some(s) = self.sessions.get_mut(cid) {
                        // 5.0 [MQTT-4.3.2-3] [MQTT-4.3.3-3]: unacknowledged until acked.
                        s.inflight.push_back(Inflight {
                            packet_id,
                            delivery: d,
                            state: if qos == QoS::AtLeastOnce {
                                OutState::AwaitPubAck
                            } else {
                                OutState::AwaitPubRec
                            },
                            expiry,
                            resend_pending: false,
                            counted: true,
                        });
                        used += 1;
                    }
                }
            } else {
                // [MQTT-3.1.2-25]: too large for the client: discarded as if sent.
                self.drop_message(cid, topic, DropReason::TooLarge);
            }
        }
    }

    /// Writes a PUBLISH to a client: topic alias (5.0, when configured and accepted by the
    /// client), and the client's Maximum Packet Size ([MQTT-3.1.2-24]). Returns false if the
    /// packet was too large and not sent.
    pub(crate) fn send_publish(&mut self, conn: ConnId, mut p: Publish) -> bool {
        let use_aliases = self.config.server_topic_aliases;
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let version = c.version;
        let max = c.client_max_packet_size as usize;
        let mut new_alias = None;
        if version.is_v5() && use_aliases && c.client_topic_alias_maximum > 0 {
            if let Some(&a) = c.aliases_out.get(&p.topic) {
                p.properties.topic_alias = Some(a);
                p.topic = ByteStr::from_static("");
            } else {
                let next = u16::try_from(c.aliases_out.len() + 1).unwrap_or(u16::MAX);
                // [MQTT-3.1.2-26] [MQTT-3.3.2-11]: never above the client's maximum;
                // [MQTT-3.1.2-27]: none when it is 0.
                if next <= c.client_topic_alias_maximum {
                    c.aliases_out.insert(p.topic.clone(), next);
                    p.properties.topic_alias = Some(next);
                    new_alias = Some(p.topic.clone());
                }
            }
        }
        let packet = Packet::Publish(p);
        let mut buf = BytesMut::new();
        if packet.encode(version, &mut buf).is_err() || buf.len() > max {
            if let Some(t) = new_alias {
                c.aliases_out.remove(&t);
            }
            return false;
        }
        self.counters.messages_sent += 1;
        self.push_bytes(conn, buf.freeze());
        true
    }
}
