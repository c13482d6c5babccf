//! PINGRESP (section 3.13): no variable header, no payload; `Packet::PingResp`.
//!
//! Its only rules are the fixed header (flags 0, Remaining Length 0, server to client), checked
//! by the fixed-header parser and the trailing-bytes check.
