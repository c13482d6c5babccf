//! `reports/schema/results.schema.json` stays in sync with the Rust types: a sample with every
//! optional field set validates against it, and every property the schema names is written by
//! the types (and the reverse).
//!
//! The validator is a small subset of JSON Schema (type, const, enum, required, properties,
//! additionalProperties, items, minimum, $ref to $defs): exactly what the schema file uses.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

fn schema() -> Value {
    let text = include_str!("../schema/results.schema.json");
    serde_json::from_str(text).expect("the schema file is JSON")
}

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("only local $defs refs");
            root.get("$defs")
                .and_then(|d| d.get(name))
                .unwrap_or_else(|| panic!("unknown $ref {r}"))
        }
        None => s,
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("type {other} not supported by the test validator"),
    }
}

fn validate(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let s = resolve(root, schema);
    for key in s
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let known = [
            "$schema",
            "$id",
            "title",
            "description",
            "type",
            "const",
            "enum",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "minimum",
            "$defs",
            "$ref",
        ];
        assert!(
            known.contains(&key.as_str()),
            "keyword {key} not supported by the test validator"
        );
    }
    if let Some(ty) = s.get("type").and_then(Value::as_str) {
        if !type_ok(ty, v) {
            errors.push(format!("{path}: expected {ty}, got {v}"));
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            errors.push(format!("{path}: expected {c}, got {v}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{path}: {v} not one of {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            errors.push(format!("{path}: {n} below {min}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().expect("required names are strings");
            if !obj.contains_key(r) {
                errors.push(format!("{path}: missing required {r}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            let p = format!("{path}.{k}");
            match props.and_then(|ps| ps.get(k)) {
                Some(ps) => validate(root, ps, child, &p, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{p}: not allowed")),
                    Some(ap @ Value::Object(_)) => validate(root, ap, child, &p, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, child) in arr.iter().enumerate() {
            validate(root, items, child, &format!("{path}[{i}]"), errors);
        }
    }
}

fn errors_of(v: &Value) -> Vec<String> {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, v, "$", &mut errors);
    errors
}

/// The fixture with every optional field set somewhere.
fn full_sample() -> Value {
    let mut r = common::fixture();
    if let Some(t) = r.tests.first_mut() {
        t.expected = Some("e".into());
        t.observed = Some("o".into());
        t.reason = Some("r".into());
        t.deviation = Some("d".into());
        t.trace = vec![mqtt_reports::TraceEntry::out(
            0.0,
            "CONNECT",
            Value::Null,
            "10 00",
        )];
    }
    serde_json::to_value(&r).expect("serializes")
}

#[test]
fn sample_validates() {
    let errors = errors_of(&full_sample());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn validator_rejects_bad_documents() {
    let mut v = full_sample();
    v["tests"][0]["verdict"] = Value::from("passed");
    v["schema_version"] = Value::from(2);
    v["run"]["duration_ms"] = Value::from("long");
    v["tests"][0]["trace"][0]["dir"] = Value::from("sideways");
    v.as_object_mut().expect("object").remove("tool");
    let errors = errors_of(&v);
    assert_eq!(errors.len(), 5, "{errors:#?}");
}

/// Every (object path, key) the types write, with array items merged.
fn written_keys(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                // Free-form maps: capabilities and decoded fields.
                if path == "$.run.capabilities" || path.ends_with(".fields") {
                    continue;
                }
                let p = format!("{path}.{k}");
                out.insert(p.clone());
                written_keys(child, &p, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                written_keys(child, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// Every property path the schema describes.
fn schema_keys(root: &Value, s: &Value, path: &str, out: &mut BTreeSet<String>) {
    let s = resolve(root, s);
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, child) in props {
            let p = format!("{path}.{k}");
            out.insert(p.clone());
            schema_keys(root, child, &p, out);
        }
    }
    if let Some(items) = s.get("items") {
        schema_keys(root, items, &format!("{path}[]"), out);
    }
}

#[test]
fn schema_and_types_name_the_same_fields() {
    let mut written = BTreeSet::new();
    written_keys(&full_sample(), "$", &mut written);
    let root = schema();
    let mut described = BTreeSet::new();
    schema_keys(&root, &root, "$", &mut described);
    let undocumented: Vec<_> = written.difference(&described).collect();
    let unwritten: Vec<_> = described.difference(&written).collect();
    assert!(
        undocumented.is_empty(),
        "written but not in the schema: {undocumented:?}"
    );
    assert!(
        unwritten.is_empty(),
        "in the schema but never written: {unwritten:?}"
    );
}
