//! The deterministic, sans-IO MQTT reference broker and its async shell (`serve`).
//!
//! The broker core is a pure state machine: bytes and time go in, bytes, closes and events
//! come out. Same configuration, seed and inputs always give the same outputs.
//!
//! ```
//! use std::time::Duration;
//! use mqtt_broker_model::{Broker, Config, Output};
//!
//! let mut broker = Broker::new(Config::default(), 7);
//! let now = Duration::ZERO;
//! let conn = broker.accept(now, "127.0.0.1:5555");
//! // A 3.1.1 CONNECT with client id "a" and keep alive 60 s.
//! broker.handle_bytes(now, conn, &[0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 1, b'a']);
//! let mut sent = Vec::new();
//! while let Some(out) = broker.poll_output() {
//!     if let Output::Send { bytes, .. } = out {
//!         sent.extend_from_slice(&bytes);
//!     }
//! }
//! assert_eq!(sent, [0x20, 2, 0, 0]); // CONNACK, no session, accepted
//! ```
//!
//! # Choices the standard leaves open
//!
//! - QoS 2 on the receiving side uses method B of the standard's figure 4.3: the packet
//!   identifier is stored and the message is forwarded when the PUBLISH arrives; a repeated
//!   PUBLISH with the same identifier before PUBREL is acknowledged again but not forwarded.
//! - Overlapping subscriptions of one session give one copy of the message, at the highest
//!   granted QoS of the matching subscriptions, carrying every matching Subscription Identifier
//!   (3.1.1 [MQTT-3.3.5-1]; 5.0 [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4]).
//! - A restart ([`Broker::restart`]) is a crash of the server followed by a restart with its
//!   persistent store: connections are lost without DISCONNECT, so their wills are handled as
//!   for any lost connection (published now or after their delay); sessions whose expiry
//!   interval is 0 end. With `persistence: false` every session, retained message and pending
//!   will is forgotten instead.
//! - Messages for a disconnected session are kept for QoS 1 and 2 only (QoS 0 only when
//!   `queue_qos0_offline` is set), up to `max_queued_messages` per session; when the queue is
//!   full, a queued QoS 0 message is dropped first, otherwise the new message is dropped.
#![forbid(unsafe_code)]

mod acl;
mod broker;
mod config;
mod conn;
mod message;
pub mod scram;
mod session;
mod types;

#[cfg(feature = "serve")]
pub mod serve;

pub use broker::Broker;
pub use config::{Acl, AclAccess, AclRule, Config, ServerReference};
pub use types::{CloseReason, ConnId, DropReason, Event, Instant, Output, Stats};

/// The codec this broker speaks (re-exported for tests and tools).
pub use mqtt_codec;

/// The version string reported in `$SYS/broker/version`.
pub const VERSION: &str = concat!("mqtt-broker-model ", env!("CARGO_PKG_VERSION"));
