//! Broker capabilities: what the suite may assume. They come from CONNACK properties (5.0),
//! from the probe, and from the profile (which wins).

use serde::{Deserialize, Serialize};

/// A capability a test may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    /// Retained messages.
    Retain,
    /// Wildcard subscriptions.
    Wildcards,
    /// Shared subscriptions (5.0).
    SharedSubscriptions,
    /// Subscription identifiers (5.0).
    SubscriptionIds,
    /// Topic aliases from client to server (5.0): Topic Alias Maximum > 0.
    TopicAlias,
    /// QoS 1 delivery.
    QoS1,
    /// QoS 2 delivery.
    QoS2,
    /// `$SYS` topics.
    SysTopics,
    /// The broker keeps sessions after a disconnect (persistent sessions).
    PersistentSessions,
    /// The broker accepts zero-length client identifiers.
    EmptyClientId,
    /// Wills.
    Will,
    /// Request/response information (5.0).
    ResponseInformation,
}

impl Cap {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Cap::Retain => "retained messages",
            Cap::Wildcards => "wildcard subscriptions",
            Cap::SharedSubscriptions => "shared subscriptions",
            Cap::SubscriptionIds => "subscription identifiers",
            Cap::TopicAlias => "topic aliases",
            Cap::QoS1 => "QoS 1",
            Cap::QoS2 => "QoS 2",
            Cap::SysTopics => "$SYS topics",
            Cap::PersistentSessions => "persistent sessions",
            Cap::EmptyClientId => "zero-length client identifiers",
            Cap::Will => "will messages",
            Cap::ResponseInformation => "response information",
        }
    }
}

/// What the broker supports and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    /// Speaks 3.1.1.
    pub v311: bool,
    /// Speaks 5.0.
    pub v5: bool,
    /// Highest QoS the broker accepts from clients (CONNACK Maximum QoS, else 2).
    pub maximum_qos: u8,
    /// Retained messages (CONNACK Retain Available).
    pub retain: bool,
    /// Wildcard subscriptions (CONNACK Wildcard Subscription Available).
    pub wildcards: bool,
    /// Shared subscriptions (CONNACK Shared Subscription Available).
    pub shared_subscriptions: bool,
    /// Subscription identifiers (CONNACK Subscription Identifiers Available).
    pub subscription_ids: bool,
    /// CONNACK Topic Alias Maximum (0: none).
    pub topic_alias_maximum: u16,
    /// CONNACK Receive Maximum (65535 when absent).
    pub receive_maximum: u16,
    /// CONNACK Maximum Packet Size, if the broker limits it.
    pub maximum_packet_size: Option<u32>,
    /// CONNACK Server Keep Alive, if the broker imposes one.
    pub server_keep_alive: Option<u16>,
    /// Longest client identifier the broker accepted in the probe.
    pub maximum_client_id_length: Option<u32>,
    /// Zero-length client identifiers with a clean session accepted.
    pub empty_client_id: bool,
    /// Sessions survive a disconnect.
    pub persistent_sessions: bool,
    /// `$SYS` topics published.
    pub sys_topics: bool,
    /// Wills supported.
    pub will: bool,
    /// Response Information returned when requested.
    pub response_information: bool,
    /// 3.1.1: retained messages. 3.1.1 has no way to announce that a feature is missing:
    /// retained messages, QoS 2 and wildcard subscriptions are part of every 3.1.1 broker,
    /// so the 3.1.1 tests assume them (whatever a 5.0 CONNACK said) unless the profile
    /// states otherwise for a broker known to lack them.
    #[serde(default = "yes")]
    pub v311_retain: bool,
    /// 3.1.1: highest QoS accepted from clients (2 unless the profile says otherwise).
    #[serde(default = "two")]
    pub v311_maximum_qos: u8,
    /// 3.1.1: wildcard subscriptions.
    #[serde(default = "yes")]
    pub v311_wildcards: bool,
}

fn yes() -> bool {
    true
}

fn two() -> u8 {
    2
}

impl Default for Capabilities {
    /// Everything the standards allow: the assumption before a probe.
    fn default() -> Self {
        Capabilities {
            v311: true,
            v5: true,
            maximum_qos: 2,
            retain: true,
            wildcards: true,
            shared_subscriptions: true,
            subscription_ids: true,
            topic_alias_maximum: 0,
            receive_maximum: 65535,
            maximum_packet_size: None,
            server_keep_alive: None,
            maximum_client_id_length: None,
            empty_client_id: true,
            persistent_sessions: true,
            sys_topics: false,
            will: true,
            response_information: false,
            v311_retain: true,
            v311_maximum_qos: 2,
            v311_wildcards: true,
        }
    }
}

impl Capabilities {
    /// The capabilities a test of `version` works with: for 3.1.1, the features a 5.0 CONNACK
    /// may announce as missing are taken from the `v311_*` fields instead (see
    /// [`Capabilities::v311_retain`]).
    pub fn for_version(&self, version: mqtt_codec::ProtocolVersion) -> Capabilities {
        let mut c = self.clone();
        if !version.is_v5() {
            c.retain = self.v311_retain;
            c.maximum_qos = self.v311_maximum_qos;
            c.wildcards = self.v311_wildcards;
        }
        c
    }

    /// Does the broker have `cap`?
    pub fn has(&self, cap: Cap) -> bool {
        match cap {
            Cap::Retain => self.retain,
            Cap::Wildcards => self.wildcards,
            Cap::SharedSubscriptions => self.shared_subscriptions,
            Cap::SubscriptionIds => self.subscription_ids,
            Cap::TopicAlias => self.topic_alias_maximum > 0,
            Cap::QoS1 => self.maximum_qos >= 1,
            Cap::QoS2 => self.maximum_qos >= 2,
            Cap::SysTopics => self.sys_topics,
            Cap::PersistentSessions => self.persistent_sessions,
            Cap::EmptyClientId => self.empty_client_id,
            Cap::Will => self.will,
            Cap::ResponseInformation => self.response_information,
        }
    }
}
