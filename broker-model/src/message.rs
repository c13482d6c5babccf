//! Application messages as the broker holds them, independent of the protocol version.

use std::sync::Arc;

use bytes::Bytes;
use mqtt_codec::{ByteStr, Properties, Publish, QoS};

use crate::types::Instant;

/// An application message accepted by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) topic: ByteStr,
    pub(crate) payload: Bytes,
    /// QoS it was published with.
    pub(crate) qos: QoS,
    /// RETAIN flag it was published with.
    pub(crate) retain: bool,
    /// When the broker took ownership.
    pub(crate) received_at: Instant,
    /// 5.0 properties that travel with the message.
    pub(crate) payload_format_indicator: Option<u8>,
    pub(crate) message_expiry_interval: Option<u32>,
    pub(crate) content_type: Option<ByteStr>,
    pub(crate) response_topic: Option<ByteStr>,
    pub(crate) correlation_data: Option<Bytes>,
    pub(crate) user_properties: Vec<(ByteStr, ByteStr)>,
    /// The publishing client (for No Local).
    pub(crate) publisher: Option<String>,
}

impl Message {
    /// The message carried by an incoming PUBLISH (topic already resolved from any alias).
    pub(crate) fn from_publish(
        p: &Publish,
        topic: ByteStr,
        now: Instant,
        publisher: Option<String>,
        keep_user_properties: bool,
        keep_expiry: bool,
    ) -> Message {
        let props = &p.properties;
        Message {
            topic,
            payload: p.payload.clone(),
            qos: p.qos,
            retain: p.retain,
            received_at: now,
            payload_format_indicator: props.payload_format_indicator,
            message_expiry_interval: if keep_expiry {
                props.message_expiry_interval
            } else {
                None
            },
            content_type: props.content_type.clone(),
            response_topic: props.response_topic.clone(),
            correlation_data: props.correlation_data.clone(),
            user_properties: if keep_user_properties {
                props.user_properties.clone()
            } else {
                Vec::new()
            },
            publisher,
        }
    }

    /// Seconds left before expiry at `now` (whole seconds, rounded down): `None` without
    /// expiry; `Err(())` once the lifetime has passed.
    ///
    /// The lifetime has passed when more time than the interval went by since the message
    /// arrived ([MQTT-3.3.2-5]). So a Message Expiry Interval of 0 (which the standard does not
    /// single out) is a message that lives only for the instant it arrives: subscribers
    /// connected then get it (with an interval of 0, [MQTT-3.3.2-6]); it is never queued for
    /// later delivery, and a retained copy is never sent to a later subscriber.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Result<Option<u32>, ()> {
        let Some(interval) = self.message_expiry_interval else {
            return Ok(None);
        };
        let waited = now.saturating_sub(self.received_at);
        if waited > Instant::from_secs(u64::from(interval)) {
            return Err(());
        }
        let left = u64::from(interval).saturating_sub(waited.as_secs());
        Ok(Some(u32::try_from(left).unwrap_or(u32::MAX)))
    }

    /// Has the message expired at `now`?
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.remaining_expiry(now).is_err()
    }

    /// The PUBLISH that forwards this message (no packet id, no alias yet).
    pub(crate) fn to_publish(
        &self,
        d: &Delivery,
        expiry: Option<u32>,
        version_is_v5: bool,
    ) -> Publish {
        let mut p = Publish::new(self.topic.clone(), self.payload.clone());
        p.qos = d.qos;
        p.retain = d.retain;
        if version_is_v5 {
            let mut props = Properties {
                // [MQTT-3.3.2-4] unaltered
                payload_format_indicator: self.payload_format_indicator,
                // [MQTT-3.3.2-6] reduced by the time waited
                message_expiry_interval: expiry,
                // [MQTT-3.3.2-20] unaltered
                content_type: self.content_type.clone(),
                // [MQTT-3.3.2-15] unaltered
                response_topic: self.response_topic.clone(),
                // [MQTT-3.3.2-16] unaltered
                correlation_data: self.correlation_data.clone(),
                // [MQTT-3.3.2-17] [MQTT-3.3.2-18] unaltered, in order
                user_properties: self.user_properties.clone(),
                ..Properties::default()
            };
            props.subscription_identifiers = d.subscription_ids.clone();
            p.properties = props.into();
        }
        p
    }
}

/// One message on its way to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) msg: Arc<Message>,
    /// QoS of the delivery: min(published QoS, granted QoS).
    pub(crate) qos: QoS,
    /// RETAIN flag of the forwarded PUBLISH.
    pub(crate) retain: bool,
    /// Subscription Identifiers of the matching subscriptions.
    pub(crate) subscription_ids: Vec<u32>,
    /// Shared subscription it came through (share name, filter), for redistribution.
    pub(crate) shared: Option<(String, String)>,
}
