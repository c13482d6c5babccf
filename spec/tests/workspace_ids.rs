//! Every statement id written anywhere in the workspace exists in the catalogue.
//!
//! Walks the workspace (`CARGO_MANIFEST_DIR/..`), skipping `target/`, `.git/` and `fuzz/target/`,
//! reads every `.rs`, `.yaml`, `.yml`, `.md` and `.toml` file and checks each `MQTT-x.y-n`
//! occurrence. Where a file's path or the line says the version (the data file of one version, a
//! `v311!`/`v5!` macro, a `v311`/`v5` path component), the id must exist in that version's
//! catalogue; otherwise in either. Aliases (misprinted ids) are accepted.

use std::path::{Path, PathBuf};

use mqtt_spec::{lookup, Protocol};
use regex::Regex;

const EXTENSIONS: &[&str] = &["rs", "yaml", "yml", "md", "toml"];

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn skipped(root: &Path, dir: &Path) -> bool {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "target"
        || name == ".git"
        || rel == Path::new("fuzz/target")
        || rel.starts_with("target")
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if !skipped(root, &path) {
                collect(root, &path, out);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}

/// The version a path is about, if it says so.
fn version_of_path(rel: &Path) -> Option<Protocol> {
    let mut found = None;
    for part in rel.iter().filter_map(|p| p.to_str()) {
        let stem = part.rsplit_once('.').map_or(part, |(stem, ext)| {
            if EXTENSIONS.contains(&ext) {
                stem
            } else {
                part
            }
        });
        let p = match stem {
            "mqtt-v3.1.1" | "v311" | "v3_1_1" | "v3" => Some(Protocol::V3_1_1),
            "mqtt-v5.0" | "v5" | "v5_0" | "v50" => Some(Protocol::V5_0),
            _ => None,
        };
        if p.is_some() {
            found = p;
        }
    }
    found
}

/// The problems of one line: unknown ids, or ids of the wrong version.
fn check_line(
    line: &str,
    path_version: Option<Protocol>,
    token: &Regex,
    strict: &Regex,
    macro_call: &Regex,
) -> Vec<String> {
    let mut problems = Vec::new();
    // Ids inside version macros: only that version.
    let mut macro_spans = Vec::new();
    for caps in macro_call.captures_iter(line) {
        let (Some(all), Some(name), Some(id)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            continue;
        };
        macro_spans.push(all.range());
        let ok = match name.as_str() {
            "v311" => lookup(Protocol::V3_1_1, id.as_str()).is_some_and(|s| s.id == id.as_str()),
            "v5" => lookup(Protocol::V5_0, id.as_str()).is_some_and(|s| s.id == id.as_str()),
            _ => Protocol::ALL
                .iter()
                .any(|p| lookup(*p, id.as_str()).is_some_and(|s| s.id == id.as_str())),
        };
        if !ok {
            problems.push(format!(
                "{}!(\"{}\") is not a known id of that version",
                name.as_str(),
                id.as_str()
            ));
        }
    }
    for m in token.find_iter(line) {
        if macro_spans.iter().any(|r| r.contains(&m.start())) {
            continue;
        }
        let id = m.as_str();
        let known = match path_version {
            Some(p) => lookup(p, id).is_some(),
            None => Protocol::ALL.iter().any(|p| lookup(*p, id).is_some()),
        };
        if !known && strict.is_match(id) {
            let scope = path_version.map_or("either version".to_owned(), |p| format!("MQTT {p}"));
            problems.push(format!("{id} is not a statement of {scope}"));
        }
    }
    problems
}

struct Patterns {
    token: Regex,
    strict: Regex,
    macro_call: Regex,
}

fn patterns() -> Patterns {
    Patterns {
        // The longest id-like run, so that "MQTT-3-8.3-4" (an alias) is seen whole.
        token: Regex::new(r"MQTT-\d+(?:[.-]\d+)*").unwrap(),
        // Anything that starts like a statement id is checked.
        strict: Regex::new(r"^MQTT-\d+(?:\.\d+)*-\d+").unwrap(),
        macro_call: Regex::new(r#"\b(v311|v5|statement)!\s*\(\s*"([^"]*)"\s*\)"#).unwrap(),
    }
}

#[test]
fn line_checks_work() {
    let p = patterns();
    let check = |line: &str, v| check_line(line, v, &p.token, &p.strict, &p.macro_call);
    assert!(check("// [MQTT-3.1.2-4] and MQTT-3.1.2.7 and MQTT-3-8.3-4.", None).is_empty());
    // Negative examples are split so that the scan below does not see them.
    assert_eq!(check(concat!("// [MQTT", "-3.1.2-99]"), None).len(), 1);
    assert_eq!(check(concat!("// [MQTT", "-3.1.2-4.5]"), None).len(), 1);
    // 3.15 (AUTH) exists in 5.0 only.
    assert!(check("// [MQTT-3.15.1-1]", None).is_empty());
    assert_eq!(check("// [MQTT-3.15.1-1]", Some(Protocol::V3_1_1)).len(), 1);
    assert_eq!(
        check(concat!("let id = v311!(\"MQTT", "-3.15.1-1\");"), None).len(),
        1
    );
    assert!(check(r#"let id = v5!("MQTT-3.15.1-1");"#, Some(Protocol::V3_1_1)).is_empty());
    // Not ids: versions and ranges of text.
    assert!(check("MQTT-5.0 and MQTT-3.1.1 clients", None).is_empty());
    assert_eq!(
        version_of_path(Path::new("spec/data/mqtt-v3.1.1.yaml")),
        Some(Protocol::V3_1_1)
    );
    assert_eq!(
        version_of_path(Path::new("conformance/src/tests/v5/connect.rs")),
        Some(Protocol::V5_0)
    );
    assert_eq!(
        version_of_path(Path::new("codec/src/packet/connect.rs")),
        None
    );
}

#[test]
fn every_id_in_the_workspace_is_in_the_catalogue() {
    let root = workspace_root();
    assert!(
        root.join("Cargo.toml").is_file(),
        "workspace root not found at {}",
        root.display()
    );
    assert!(
        !mqtt_spec::catalogue(Protocol::V3_1_1).is_empty(),
        "the 3.1.1 catalogue is empty"
    );
    let p = patterns();
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("spec/data/mqtt-v3.1.1.yaml")),
        "the walk did not reach spec/data"
    );
    let mut problems = Vec::new();
    let mut seen = 0usize;
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap_or(file);
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let path_version = version_of_path(rel);
        for (n, line) in text.lines().enumerate() {
            seen += p.token.find_iter(line).count();
            for problem in check_line(line, path_version, &p.token, &p.strict, &p.macro_call) {
                problems.push(format!("{}:{}: {problem}", rel.display(), n + 1));
            }
        }
    }
    assert!(seen >= 141, "only {seen} ids found: the walk is broken");
    assert!(
        problems.is_empty(),
        "unknown statement ids:\n{}",
        problems.join("\n")
    );
}
