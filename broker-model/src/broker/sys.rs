//! `$SYS` topics: broker version, uptime and counters, published on a timer. Topics starting
//! with `$` are not matched by filters starting with a wildcard ([MQTT-4.7.2-1]), so only
//! explicit `$SYS/...` subscriptions receive them.

use bytes::Bytes;
use mqtt_codec::{ByteStr, QoS};

use super::Broker;
use crate::message::Message;

impl Broker {
    pub(super) fn publish_sys(&mut self) {
        let stats = self.stats();
        let uptime = self.now.saturating_sub(self.started_at).as_secs();
        let items: Vec<(&str, String)> = vec![
            ("$SYS/broker/version", crate::VERSION.to_string()),
            ("$SYS/broker/uptime", format!("{uptime} seconds")),
            (
                "$SYS/broker/clients/connected",
                stats.clients_connected.to_string(),
            ),
            ("$SYS/broker/clients/total", stats.sessions.to_string()),
            (
                "$SYS/broker/messages/received",
                stats.messages_received.to_string(),
            ),
            ("$SYS/broker/messages/sent", stats.messages_sent.to_string()),
            (
                "$SYS/broker/messages/dropped",
                stats.messages_dropped.to_string(),
            ),
            (
                "$SYS/broker/retained messages/count",
                stats.retained_messages.to_string(),
            ),
            (
                "$SYS/broker/subscriptions/count",
                stats.subscriptions.to_string(),
            ),
        ];
        for (topic, value) in items {
            let msg = Message {
                topic: ByteStr::from(topic.to_string()),
                payload: Bytes::from(value.into_bytes()),
                qos: QoS::AtMostOnce,
                retain: self.config.retain_available,
                received_at: self.now,
                payload_format_indicator: Some(1),
                message_expiry_interval: None,
                content_type: None,
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
                publisher: None,
            };
            self.publish_internal(msg);
        }
    }

    /// A message from the broker itself: stored if retained, routed, not counted as received.
    fn publish_internal(&mut self, msg: Message) {
        let msg = std::sync::Arc::new(msg);
        if msg.retain && self.config.retain_available {
            self.retained.insert(msg.topic.to_string(), msg.clone());
        }
        self.route(msg);
    }
}
