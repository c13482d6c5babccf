//! PUBREL (section 3.6): acknowledges a PUBREC (second step of QoS 2).

use super::ack::ack_packet;

ack_packet!(
    /// PUBREL: acknowledges a PUBREC (second step of QoS 2).
    PubRel,
    crate::types::PacketType::PubRel
);
