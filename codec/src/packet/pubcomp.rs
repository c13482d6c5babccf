//! PUBCOMP (section 3.7): acknowledges a PUBREL (last step of QoS 2).

use super::ack::ack_packet;

ack_packet!(
    /// PUBCOMP: acknowledges a PUBREL (last step of QoS 2).
    PubComp,
    crate::types::PacketType::PubComp
);
