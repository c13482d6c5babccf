//! The results model: JSON round trip, loading errors, the exit code rule, `write_all`.

mod common;

use std::path::PathBuf;

use common::{fixture, SmallCatalogue};
use mqtt_reports::{LoadError, Results, Verdict};

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mqtt-reports-model");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

#[test]
fn json_round_trip() {
    let r = fixture();
    let text = r.to_json_pretty();
    let back = Results::from_json_str(&text).expect("parses back");
    assert_eq!(back, r);
    // Names in the JSON are the documented ones.
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["run"]["protocols"], serde_json::json!(["3.1.1", "5.0"]));
    assert_eq!(v["tests"][1]["verdict"], "fail");
    assert_eq!(v["tests"][1]["protocol"], "5.0");
    assert_eq!(v["tests"][1]["trace"][1]["dir"], "in");
    // Empty optional fields are left out.
    assert!(v["tests"][0].get("expected").is_none());
    assert!(v["tests"][0].get("trace").is_none());
}

#[test]
fn save_and_load() {
    let r = fixture();
    let path = tmp("saved.json");
    r.save(&path).expect("save");
    assert_eq!(Results::load(&path).expect("load"), r);
}

#[test]
fn load_missing_file_names_it() {
    let path = tmp("does-not-exist.json");
    let err = Results::load(&path).expect_err("missing file");
    assert!(matches!(err, LoadError::Read { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("does-not-exist.json"), "{msg}");
}

#[test]
fn load_not_json() {
    let path = tmp("not-json.json");
    std::fs::write(&path, "<html>not json</html>").expect("write");
    let err = Results::load(&path).expect_err("not json");
    assert!(matches!(err, LoadError::Parse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("not-json.json") && msg.contains("not a valid results file"),
        "{msg}"
    );
}

#[test]
fn load_wrong_schema_version() {
    let mut v = serde_json::to_value(fixture()).expect("value");
    v["schema_version"] = serde_json::json!(2);
    let path = tmp("v2.json");
    std::fs::write(&path, v.to_string()).expect("write");
    let err = Results::load(&path).expect_err("v2");
    assert!(
        matches!(err, LoadError::SchemaVersion { found: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema version 2"), "{err}");
}

#[test]
fn load_missing_field_and_bad_verdict() {
    let mut v = serde_json::to_value(fixture()).expect("value");
    v.as_object_mut().expect("object").remove("run");
    let err = Results::from_json_str(&v.to_string()).expect_err("no run");
    assert!(err.to_string().contains("missing field `run`"), "{err}");

    let mut v = serde_json::to_value(fixture()).expect("value");
    v["tests"][0]["verdict"] = serde_json::json!("passed");
    let err = Results::from_json_str(&v.to_string()).expect_err("bad verdict");
    assert!(
        err.to_string().contains("unknown variant `passed`"),
        "{err}"
    );

    let mut v = serde_json::to_value(fixture()).expect("value");
    v["tests"][0]["protocol"] = serde_json::json!("4.0");
    assert!(Results::from_json_str(&v.to_string()).is_err());
}

#[test]
fn unknown_fields_are_ignored() {
    // A newer writer of schema 1 may add fields; this reader keeps working.
    let mut v = serde_json::to_value(fixture()).expect("value");
    v["run"]["seed"] = serde_json::json!(42);
    v["tests"][0]["retries"] = serde_json::json!(0);
    let r = Results::from_json_str(&v.to_string()).expect("loads");
    assert_eq!(r, fixture());
}

#[test]
fn exit_code_of_fixture() {
    let mut r = fixture();
    assert_eq!(r.exit_code(), 1);
    // Without the plain failure and the suite error only a known deviation is left.
    r.tests.retain(|t| {
        !(t.verdict == Verdict::Fail && t.deviation.is_none()) && t.verdict != Verdict::Error
    });
    assert_eq!(r.exit_code(), 0);
    assert!(r.tests.iter().any(|t| t.is_known_deviation()));
}

#[test]
fn write_all_writes_four_files() {
    let dir = tmp("write-all");
    let _ = std::fs::remove_dir_all(&dir);
    mqtt_reports::write_all_with(&fixture(), &dir, &SmallCatalogue).expect("write");
    for f in ["results.json", "junit.xml", "report.md", "report.html"] {
        let meta = std::fs::metadata(dir.join(f)).expect(f);
        assert!(meta.len() > 100, "{f} is too small");
    }
    assert_eq!(
        Results::load(dir.join("results.json")).expect("load"),
        fixture()
    );
}
