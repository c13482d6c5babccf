//! Broker configuration: every optional feature of the standards can be switched off, so the
//! reference broker can also play a broker that lacks it. Deserialized from YAML; field names
//! are the YAML keys. `Config::default()` is a full-featured 3.1.1 + 5.0 broker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The broker configuration (YAML keys in `snake_case`, every key optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    // ---- protocol versions ----
    /// Accept MQTT 3.1 (`MQIsdp`, level 3), handled like 3.1.1.
    pub allow_v3_1: bool,
    /// Accept MQTT 3.1.1 (level 4). Otherwise CONNACK 0x01.
    pub allow_v3_1_1: bool,
    /// Accept MQTT 5.0 (level 5). Otherwise CONNACK 0x84.
    pub allow_v5: bool,

    // ---- features (5.0 CONNACK advertises what is off) ----
    /// Retained messages (Retain Available).
    pub retain_available: bool,
    /// Subscriptions with `+` / `#` (Wildcard Subscription Available).
    pub wildcard_subscriptions: bool,
    /// Subscription Identifiers (Subscription Identifiers Available).
    pub subscription_identifiers: bool,
    /// `$share/{name}/{filter}` subscriptions (Shared Subscription Available).
    pub shared_subscriptions: bool,
    /// Highest QoS accepted and granted (0, 1 or 2; Maximum QoS).
    pub maximum_qos: u8,
    /// Receive Maximum: QoS 2 messages a client may have unacknowledged towards the broker
    /// (QoS 1 is acknowledged at once). 65535 is not advertised.
    pub receive_maximum: u16,
    /// Maximum Packet Size the broker accepts (none: the protocol's limit). Also bounds the
    /// memory buffered per connection.
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum: aliases a client may use towards the broker (0: none).
    pub topic_alias_maximum: u16,
    /// Send topic aliases to 5.0 clients that accept them.
    pub server_topic_aliases: bool,
    /// Server Keep Alive: imposed on 5.0 clients instead of their own keep alive.
    pub server_keep_alive: Option<u16>,
    /// Accept zero-length client identifiers and assign one.
    pub assign_client_ids: bool,
    /// Longest client identifier accepted, in bytes (none: any).
    pub max_client_id_len: Option<usize>,
    /// Highest Session Expiry Interval granted, seconds (none: as asked). Sessions that would
    /// last longer are told the granted value in CONNACK.
    pub max_session_expiry_interval: Option<u32>,
    /// Honour Will Delay Interval (off: wills are published at once).
    pub will_delay: bool,
    /// Honour Message Expiry Interval (off: messages never expire).
    pub message_expiry: bool,
    /// Response Information returned to 5.0 clients that ask for it (Request Response
    /// Information = 1).
    pub response_information: Option<String>,
    /// Forward User Properties of PUBLISH.
    pub user_properties: bool,
    /// Add Reason Strings to error responses (only when the client allows them).
    pub reason_strings: bool,
    /// Check that payloads marked as UTF-8 (Payload Format Indicator 1) are UTF-8 (0x99).
    pub check_payload_format: bool,
    /// Answer PUBACK/PUBREC 0x10 (No matching subscribers) when nobody is subscribed.
    pub report_no_subscribers: bool,
    /// Redirect every 5.0 client to another server (CONNACK 0x9C / 0x9D); 3.1.1 clients get
    /// CONNACK 0x03 (server unavailable).
    pub server_reference: Option<ServerReference>,

    // ---- security ----
    /// Accept connections without a user name.
    pub allow_anonymous: bool,
    /// User names and passwords (also the credentials of SCRAM-SHA-256).
    pub users: BTreeMap<String, String>,
    /// Topic authorization.
    pub acl: Option<Acl>,
    /// Enhanced authentication with SCRAM-SHA-256 (5.0 AUTH).
    pub enhanced_auth: bool,
    /// PBKDF2 iterations of SCRAM-SHA-256.
    pub scram_iterations: u32,

    // ---- $SYS ----
    /// Publish `$SYS/broker/...` topics.
    pub sys_topics: bool,
    /// Seconds between two `$SYS` updates.
    pub sys_interval_secs: u32,

    // ---- limits and persistence ----
    /// Messages queued per session (sent or not) before dropping.
    pub max_queued_messages: usize,
    /// Also queue QoS 0 messages for disconnected sessions.
    pub queue_qos0_offline: bool,
    /// Outgoing QoS 1/2 messages in flight per client, on top of the client's Receive
    /// Maximum (3.1.1 clients have none).
    pub max_inflight: u16,
    /// Seconds a new connection may take to send CONNECT (0: no limit).
    pub connect_timeout_secs: u32,
    /// Keep sessions, retained messages and pending wills over a restart.
    pub persistence: bool,
}

/// Where to redirect clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerReference {
    /// The Server Reference property (e.g. `other.example:1883`).
    pub reference: String,
    /// 0x9D Server moved (true) or 0x9C Use another server (false).
    #[serde(default)]
    pub permanent: bool,
}

/// Topic authorization: the first matching rule decides; otherwise `default_allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// Decision when no rule matches.
    #[serde(default = "yes")]
    pub default_allow: bool,
    /// Rules, in order.
    #[serde(default)]
    pub rules: Vec<AclRule>,
}

/// One authorization rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// Applies to this user name only (none: any).
    #[serde(default)]
    pub username: Option<String>,
    /// Applies to this client identifier only (none: any).
    #[serde(default)]
    pub client_id: Option<String>,
    /// A topic filter; `%c` and `%u` stand for the client identifier and user name.
    pub topic: String,
    /// Which operations.
    #[serde(default)]
    pub access: AclAccess,
    /// Allow (true) or deny (false).
    #[serde(default = "yes")]
    pub allow: bool,
}

/// Operations an ACL rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AclAccess {
    /// PUBLISH.
    Publish,
    /// SUBSCRIBE: checked on each filter of a SUBSCRIBE, and on the topic of every message
    /// delivered (routed or retained), so that a granted wildcard filter does not reach a
    /// denied topic.
    Subscribe,
    /// Both.
    #[default]
    All,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow_v3_1: true,
            allow_v3_1_1: true,
            allow_v5: true,
            retain_available: true,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            shared_subscriptions: true,
            maximum_qos: 2,
            receive_maximum: 65535,
            maximum_packet_size: None,
            topic_alias_maximum: 64,
            server_topic_aliases: false,
            server_keep_alive: None,
            assign_client_ids: true,
            max_client_id_len: None,
            max_session_expiry_interval: None,
            will_delay: true,
            message_expiry: true,
            response_information: None,
            user_properties: true,
            reason_strings: true,
            check_payload_format: true,
            report_no_subscribers: false,
            server_reference: None,
            allow_anonymous: true,
            users: BTreeMap::new(),
            acl: None,
            enhanced_auth: true,
            scram_iterations: 4096,
            sys_topics: true,
            sys_interval_secs: 10,
            max_queued_messages: 1000,
            queue_qos0_offline: false,
            max_inflight: 65535,
            connect_timeout_secs: 30,
            persistence: true,
        }
    }
}

impl Config {
    /// Parses a YAML document (missing keys take their default).
    pub fn from_yaml(text: &str) -> Result<Config, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// The Maximum QoS as a QoS value (values above 2 count as 2).
    pub fn max_qos(&self) -> mqtt_codec::QoS {
        match self.maximum_qos {
            0 => mqtt_codec::QoS::AtMostOnce,
            1 => mqtt_codec::QoS::AtLeastOnce,
            _ => mqtt_codec::QoS::ExactlyOnce,
        }
    }

    /// The largest packet accepted from clients.
    pub fn max_packet_size(&self) -> u32 {
        self.maximum_packet_size
            .unwrap_or(mqtt_codec::MAX_PACKET_SIZE)
            .clamp(16, mqtt_codec::MAX_PACKET_SIZE)
    }

    /// Whether CONNECT must carry valid credentials.
    pub(crate) fn requires_credentials(&self) -> bool {
        !self.allow_anonymous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keys_and_defaults() {
        let c = Config::from_yaml(
            "maximum_qos: 1\nretain_available: false\nusers:\n  alice: secret\n\
             acl:\n  default_allow: false\n  rules:\n    - topic: 'a/#'\n      access: publish\n\
             server_reference:\n  reference: 'b:1883'\n",
        )
        .unwrap();
        assert_eq!(c.maximum_qos, 1);
        assert!(!c.retain_available);
        assert_eq!(c.users.get("alice").map(String::as_str), Some("secret"));
        let acl = c.acl.unwrap();
        assert!(!acl.default_allow);
        assert_eq!(acl.rules[0].access, AclAccess::Publish);
        assert!(acl.rules[0].allow);
        assert!(!c.server_reference.unwrap().permanent);
        assert!(
            c.allow_v5 && c.shared_subscriptions,
            "missing keys take defaults"
        );
        assert!(Config::from_yaml("no_such_key: 1").is_err());
        assert_eq!(Config::from_yaml("{}").unwrap(), Config::default());
    }
}
