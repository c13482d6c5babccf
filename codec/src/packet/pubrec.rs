//! PUBREC (section 3.5): acknowledges a QoS 2 PUBLISH (first step).

use super::ack::ack_packet;

ack_packet!(
    /// PUBREC: acknowledges a QoS 2 PUBLISH (first step).
    PubRec,
    crate::types::PacketType::PubRec
);
