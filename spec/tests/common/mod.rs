//! Helpers shared by the integration tests: the standard's statement lists in /work/shared/spec.

#![allow(dead_code)]

use std::path::PathBuf;

use mqtt_spec::Protocol;
use serde::Deserialize;

/// One statement of the standard, as listed in `mqtt-v*-statements.json`.
#[derive(Debug, Deserialize)]
pub struct Official {
    pub id: String,
    pub section: String,
    pub text: String,
    #[serde(default)]
    pub printed_id: Option<String>,
}

/// The directory with the standards: `<workspace>/../shared/spec`.
pub fn shared_spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec")
}

/// The official statement list of one version. Panics (fails the test) if it is missing: the
/// tests that compare against it must never pass vacuously.
pub fn official(protocol: Protocol) -> Vec<Official> {
    let file = match protocol {
        Protocol::V3_1_1 => "mqtt-v3.1.1-statements.json",
        Protocol::V5_0 => "mqtt-v5.0-statements.json",
    };
    let path = shared_spec_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the standard's statement list {} is missing ({err}); these tests need it",
            path.display()
        )
    });
    let list: Vec<Official> = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} does not parse: {err}", path.display()));
    assert!(!list.is_empty(), "{} is empty", path.display());
    list
}
