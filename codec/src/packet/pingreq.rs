//! PINGREQ (section 3.12): no variable header, no payload; `Packet::PingReq`.
//!
//! Its only rules are the fixed header (flags 0, Remaining Length 0, client to server), checked
//! by the fixed-header parser and the trailing-bytes check.
