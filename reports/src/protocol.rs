//! The protocol version a test or a run applies to.
//!
//! Stand-in until `mqtt-spec` exposes `Protocol`; replaced by a re-export then, with the same
//! names (`V3_1_1`, `V5_0`), the same `Display` ("3.1.1", "5.0") and `FromStr`.

use std::fmt;
use std::str::FromStr;

/// An MQTT protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V3_1_1,
    /// MQTT 5.0 (protocol level 5).
    V5_0,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::V3_1_1 => "3.1.1",
            Protocol::V5_0 => "5.0",
        })
    }
}

/// The text was not "3.1.1" or "5.0".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol version {0:?} (expected \"3.1.1\" or \"5.0\")")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "3.1.1" => Ok(Protocol::V3_1_1),
            "5.0" | "5" => Ok(Protocol::V5_0),
            other => Err(UnknownProtocol(other.to_string())),
        }
    }
}
