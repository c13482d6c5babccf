//! Strict MQTT 3.1.1 and 5.0 packet codec.
#![forbid(unsafe_code)]
