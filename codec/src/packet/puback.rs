//! PUBACK (section 3.4): acknowledges a QoS 1 PUBLISH.

use super::ack::ack_packet;

ack_packet!(
    /// PUBACK: acknowledges a QoS 1 PUBLISH.
    PubAck,
    crate::types::PacketType::PubAck
);
