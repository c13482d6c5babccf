//! SUBSCRIBE / UNSUBSCRIBE, and retained messages sent on subscription.

use mqtt_codec::{
    parse_shared_subscription, topic_matches, Packet, Props, ReasonCode, RetainHandling, SubAck,
    Subscribe, UnsubAck, Unsubscribe,
};

use super::Broker;
use crate::acl::{self, Op};
use crate::message::Delivery;
use crate::session::Sub;
use crate::types::ConnId;

impl Broker {
    pub(super) fn on_subscribe(&mut self, conn: ConnId, sub: Subscribe) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        let Some(cid) = c.client_id.clone() else {
            return;
        };
        let username = c.username.clone();
        let sub_id = if v5 {
            sub.properties.subscription_identifiers.first().copied()
        } else {
            None
        };
        if sub_id.is_some() && !self.config.subscription_identifiers {
            // 3.8.2.1.2: Subscription Identifiers not supported: DISCONNECT 0xA1 (no id).
            return self.violation(
                conn,
                &[],
                ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "subscription identifiers are not supported".into(),
            );
        }
        let failure = |code5: ReasonCode| {
            if v5 {
                code5
            } else {
                ReasonCode::V3_SUBACK_FAILURE
            }
        };
        let mut codes = Vec::with_capacity(sub.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        // 5.0 [MQTT-3.8.4-5] / 3.1.1 [MQTT-3.8.4-4]: each filter in turn, one SUBACK.
        for f in &sub.filters {
            let filter: &str = &f.filter;
            let shared = if v5 {
                match parse_shared_subscription(filter) {
                    Some(Ok(s)) => Some((s.share_name.to_string(), s.filter.to_string())),
                    Some(Err(())) => {
                        // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
                        codes.push(ReasonCode::TOPIC_FILTER_INVALID);
                        continue;
                    }
                    None => None,
                }
            } else {
                None
            };
            if shared.is_some() && !self.config.shared_subscriptions {
                codes.push(ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED);
                continue;
            }
            let inner: String = shared
                .as_ref()
                .map_or_else(|| filter.to_string(), |s| s.1.clone());
            if !self.config.wildcard_subscriptions && (inner.contains('+') || inner.contains('#')) {
                // 3.1.1 [MQTT-3.8.3-2]: filters with wildcards rejected; 5.0 0xA2.
                codes.push(failure(ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
                continue;
            }
            if !acl::allowed(
                self.config.acl.as_ref(),
                Op::Subscribe,
                &cid,
                username.as_deref(),
                &inner,
            ) {
                codes.push(failure(ReasonCode::NOT_AUTHORIZED));
                continue;
            }
            let granted = f.options.qos.min(self.config.max_qos());
            let Some(s) = self.sessions.get_mut(&cid) else {
                return;
            };
            // 5.0 [MQTT-3.8.4-3] / 3.1.1 [MQTT-3.8.4-3]: an identical filter replaces the
            // existing subscription (its queued messages are kept: [MQTT-3.8.4-4]).
            let existed = s
                .subs
                .insert(
                    filter.to_string(),
                    Sub {
                        qos: granted,
                        no_local: v5 && f.options.no_local,
                        retain_as_published: v5 && f.options.retain_as_published,
                        retain_handling: f.options.retain_handling,
                        subscription_id: sub_id,
                        shared: shared.clone(),
                    },
                )
                .is_some();
            // 5.0 [MQTT-3.8.4-7] / 3.1.1 [MQTT-3.8.4-5]: the granted QoS.
            codes.push(ReasonCode(granted.as_u8()));
            // Retained messages: never for shared subscriptions (4.8.2); 5.0 Retain
            // Handling [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]; 3.1.1 [MQTT-3.3.1-6]
            // always.
            let send = shared.is_none()
                && self.config.retain_available
                && match (v5, f.options.retain_handling) {
                    (false, _) => true,
                    (true, RetainHandling::SendAtSubscribe) => true,
                    (true, RetainHandling::SendIfNewSubscription) => !existed,
                    (true, RetainHandling::DoNotSend) => false,
                };
            if send {
                let now = self.now;
                let expiry_on = self.config.message_expiry;
                self.retained.retain(|_, m| !(expiry_on && m.expired(now)));
                let acl = self.config.acl.as_ref();
                for (topic, m) in &self.retained {
                    // Authorized per message, as in routing.
                    if topic_matches(filter, topic)
                        && acl::allowed(acl, Op::Subscribe, &cid, username.as_deref(), topic)
                    {
                        retained.push(Delivery {
                            msg: m.clone(),
                            qos: m.qos.min(granted),
                            // 3.1.1 [MQTT-3.3.1-8]; 5.0 3.3.1.3: RETAIN 1 when sent because
                            // of a new subscription.
                            retain: true,
                            subscription_ids: sub_id.into_iter().collect(),
                            shared: None,
                        });
                    }
                }
            }
        }
        // [MQTT-3.8.4-1] [MQTT-3.8.4-2] (both versions), 5.0 [MQTT-3.8.4-6] [MQTT-3.9.3-1]
        // [MQTT-3.9.3-2], 3.1.1 [MQTT-3.9.3-1] [MQTT-3.9.3-2]: one code per filter, in order.
        self.send_packet(
            conn,
            &Packet::SubAck(SubAck {
                packet_id: sub.packet_id,
                reason_codes: codes,
                properties: Props::none(),
            }),
        );
        for d in retained {
            self.enqueue(&cid, d);
        }
        self.pump(&cid);
    }

    pub(super) fn on_unsubscribe(&mut self, conn: ConnId, u: Unsubscribe) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v5 = c.is_v5();
        let Some(cid) = c.client_id.clone() else {
            return;
        };
        let mut codes = Vec::with_capacity(u.filters.len());
        if let Some(s) = self.sessions.get_mut(&cid) {
            // 5.0 [MQTT-3.10.4-6] / 3.1.1 [MQTT-3.10.4-6]: each filter in turn.
            for f in &u.filters {
                // [MQTT-3.10.4-1]: compared character by character. [MQTT-3.10.4-2]: no new
                // messages; messages in flight complete ([MQTT-3.10.4-3]).
                let existed = s.subs.remove(&**f).is_some();
                codes.push(if existed {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::NO_SUBSCRIPTION_EXISTED
                });
            }
        }
        // [MQTT-3.10.4-4] [MQTT-3.10.4-5] (both versions); 5.0 [MQTT-3.11.3-1]
        // [MQTT-3.11.3-2]: one code per filter (3.1.1 UNSUBACK has none).
        self.send_packet(
            conn,
            &Packet::UnsubAck(UnsubAck {
                packet_id: u.packet_id,
                reason_codes: if v5 { codes } else { Vec::new() },
                properties: Props::none(),
            }),
        );
    }
}
