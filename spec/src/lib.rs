//! The catalogue of every normative statement of MQTT 3.1.1 and 5.0.
#![forbid(unsafe_code)]
