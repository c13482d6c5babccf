//! The catalogue against the standard's own statement lists.

mod common;

use std::collections::BTreeSet;

use common::{official, Official};
use mqtt_spec::{catalogue, chapter_title, lookup, Level, Protocol, Statement, StatementId};
use regex::Regex;

/// The tag vocabulary: the brief's list plus `conformance` (chapter 7) and `payload-format`.
const TAGS: &[&str] = &[
    "connect",
    "connack",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "suback",
    "unsubscribe",
    "unsuback",
    "pingreq",
    "pingresp",
    "disconnect",
    "auth",
    "utf8",
    "topic-name",
    "topic-filter",
    "wildcards",
    "session",
    "retain",
    "will",
    "keep-alive",
    "qos0",
    "qos1",
    "qos2",
    "packet-id",
    "flags",
    "malformed",
    "ordering",
    "dollar-topics",
    "client-id",
    "authentication",
    "authorization",
    "properties",
    "reason-codes",
    "flow-control",
    "topic-alias",
    "shared-subscriptions",
    "subscription-ids",
    "message-expiry",
    "session-expiry",
    "enhanced-auth",
    "request-response",
    "user-properties",
    "max-packet-size",
    "transport",
    "variable-byte-integer",
    "conformance",
    "payload-format",
];

fn ids(list: &[Statement]) -> Vec<&str> {
    list.iter().map(|s| s.id.as_str()).collect()
}

fn official_ids(list: &[Official]) -> Vec<&str> {
    list.iter().map(|s| s.id.as_str()).collect()
}

fn same_ids_as_standard(protocol: Protocol, expected_count: usize) {
    let official = official(protocol);
    assert_eq!(
        official.len(),
        expected_count,
        "the standard's list for {protocol} changed"
    );
    let ours = catalogue(protocol);
    let missing: Vec<_> = official_ids(&official)
        .into_iter()
        .filter(|id| !ours.iter().any(|s| s.id == *id))
        .collect();
    let extra: Vec<_> = ids(ours)
        .into_iter()
        .filter(|id| !official.iter().any(|o| o.id == *id))
        .collect();
    assert!(
        missing.is_empty(),
        "{protocol}: ids missing from the catalogue: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "{protocol}: ids not in the standard: {extra:?}"
    );
    assert_eq!(ours.len(), expected_count, "{protocol}: statement count");
    assert_eq!(
        ids(ours),
        official_ids(&official),
        "{protocol}: order differs from the standard"
    );
}

#[test]
fn v311_has_exactly_the_standards_141_ids_in_order() {
    same_ids_as_standard(Protocol::V3_1_1, 141);
}

#[test]
fn v5_has_exactly_the_standards_251_ids_in_order() {
    same_ids_as_standard(Protocol::V5_0, 251);
}

fn no_duplicates(protocol: Protocol) {
    let mut seen = BTreeSet::new();
    for s in catalogue(protocol) {
        for name in std::iter::once(&s.id).chain(&s.aliases) {
            assert!(
                seen.insert(name.as_str()),
                "{protocol}: {name} appears twice (id or alias)"
            );
        }
    }
}

#[test]
fn v311_has_no_duplicate_ids_or_aliases() {
    no_duplicates(Protocol::V3_1_1);
}

#[test]
fn v5_has_no_duplicate_ids_or_aliases() {
    no_duplicates(Protocol::V5_0);
}

/// Every field is filled and consistent with the standard's list.
fn fields_are_complete(protocol: Protocol) {
    let official = official(protocol);
    let shape = Regex::new(r"^MQTT-\d+(\.\d+)*-\d+$").unwrap();
    let mut problems = Vec::new();
    for s in catalogue(protocol) {
        assert_eq!(s.protocol, protocol);
        if !shape.is_match(&s.id) {
            problems.push(format!("{}: id has an unexpected shape", s.id));
        }
        if s.summary.trim().is_empty() {
            problems.push(format!("{}: empty summary", s.id));
        }
        if s.tags.is_empty() {
            problems.push(format!("{}: no tags", s.id));
        }
        for tag in &s.tags {
            if !TAGS.contains(&tag.as_str()) {
                problems.push(format!("{}: unknown tag {tag}", s.id));
            }
        }
        let tag_set: BTreeSet<_> = s.tags.iter().collect();
        if tag_set.len() != s.tags.len() {
            problems.push(format!("{}: repeated tag", s.id));
        }
        match official.iter().find(|o| o.id == s.id) {
            Some(o) => {
                if o.section != s.section {
                    problems.push(format!(
                        "{}: section {} but the standard lists {}",
                        s.id, s.section, o.section
                    ));
                }
                let mut expected_aliases: Vec<&str> =
                    o.printed_id.iter().map(String::as_str).collect();
                expected_aliases.sort_unstable();
                let mut aliases: Vec<&str> = s.aliases.iter().map(String::as_str).collect();
                aliases.sort_unstable();
                for printed in &expected_aliases {
                    if !aliases.contains(printed) {
                        problems.push(format!("{}: misprint {printed} is not an alias", s.id));
                    }
                }
            }
            None => problems.push(format!("{}: not in the standard's list", s.id)),
        }
        if chapter_title(protocol, &s.section).is_none() {
            problems.push(format!(
                "{}: no chapter title for section {}",
                s.id, s.section
            ));
        }
    }
    assert!(problems.is_empty(), "{protocol}:\n{}", problems.join("\n"));
}

#[test]
fn v311_fields_are_complete() {
    fields_are_complete(Protocol::V3_1_1);
}

#[test]
fn v5_fields_are_complete() {
    fields_are_complete(Protocol::V5_0);
}

/// The keywords present in a statement's text.
fn keywords(text: &str) -> BTreeSet<Level> {
    let must = Regex::new(r"\bMUST\b(?:\s+NOT\b)?").unwrap();
    let mut found = BTreeSet::new();
    for m in must.find_iter(text) {
        found.insert(if m.as_str().ends_with("NOT") {
            Level::MustNot
        } else {
            Level::Must
        });
    }
    if Regex::new(r"\b(SHOULD|RECOMMENDED)\b")
        .unwrap()
        .is_match(text)
    {
        found.insert(Level::Should);
    }
    if Regex::new(r"\b(MAY|OPTIONAL)\b").unwrap().is_match(text) {
        found.insert(Level::May);
    }
    found
}

/// The level is one of the keywords of the text; a text with a single kind of keyword fixes the
/// level. (A text without any keyword refers to another statement: any level is accepted.)
fn levels_match_text(protocol: Protocol) {
    let official = official(protocol);
    let mut problems = Vec::new();
    for s in catalogue(protocol) {
        let Some(o) = official.iter().find(|o| o.id == s.id) else {
            continue;
        };
        let found = keywords(&o.text);
        if found.is_empty() {
            continue;
        }
        if !found.contains(&s.level) {
            problems.push(format!(
                "{}: level {:?} but the text has {found:?}",
                s.id, s.level
            ));
        }
    }
    assert!(problems.is_empty(), "{protocol}:\n{}", problems.join("\n"));
}

#[test]
fn v311_levels_match_the_standards_keywords() {
    levels_match_text(Protocol::V3_1_1);
}

#[test]
fn v5_levels_match_the_standards_keywords() {
    levels_match_text(Protocol::V5_0);
}

#[test]
fn keyword_detection_works() {
    assert_eq!(
        keywords("It MUST NOT be 3."),
        BTreeSet::from([Level::MustNot])
    );
    assert_eq!(keywords("It MUST be 3."), BTreeSet::from([Level::Must]));
    assert_eq!(
        keywords("It MUST do A, it SHOULD do B and MAY do C"),
        BTreeSet::from([Level::Must, Level::Should, Level::May])
    );
    assert!(keywords("The same conditions apply; mustard may vary.").is_empty());
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The first run of `n` words that `summary` shares with `text`.
fn shared_run(summary: &str, text: &str, n: usize) -> Option<String> {
    let theirs = words(text);
    let grams: BTreeSet<&[String]> = theirs.windows(n).collect();
    words(summary)
        .windows(n)
        .find(|w| grams.contains(w))
        .map(|w| w.join(" "))
}

#[test]
fn shared_run_detection_works() {
    let text = "The Server MUST send a PINGRESP Packet in response to a PINGREQ packet.";
    assert!(shared_run(
        "Then the server must send a PINGRESP packet in response to it",
        text,
        8
    )
    .is_some());
    assert!(shared_run("The server answers each PINGREQ with a PINGRESP.", text, 8).is_none());
}

fn summaries_are_own_words(protocol: Protocol) {
    let official = official(protocol);
    let mut problems = Vec::new();
    for s in catalogue(protocol) {
        let Some(o) = official.iter().find(|o| o.id == s.id) else {
            continue;
        };
        if let Some(run) = shared_run(&s.summary, &o.text, 8) {
            problems.push(format!("{}: summary repeats the standard: \"{run}\"", s.id));
        }
    }
    assert!(problems.is_empty(), "{protocol}:\n{}", problems.join("\n"));
}

#[test]
fn v311_summaries_are_own_words() {
    summaries_are_own_words(Protocol::V3_1_1);
}

#[test]
fn v5_summaries_are_own_words() {
    summaries_are_own_words(Protocol::V5_0);
}

#[test]
fn generated_id_lists_match_the_catalogue() {
    assert_eq!(
        mqtt_spec::__private::V3_1_1_IDS,
        ids(catalogue(Protocol::V3_1_1)).as_slice()
    );
    assert_eq!(
        mqtt_spec::__private::V5_0_IDS,
        ids(catalogue(Protocol::V5_0)).as_slice()
    );
}

#[test]
fn lookup_accepts_brackets_and_aliases() {
    let s = lookup(Protocol::V3_1_1, "[MQTT-3.1.2-4]").expect("bracketed id");
    assert_eq!(s.id, "MQTT-3.1.2-4");
    assert_eq!(s.section, "3.1.2.4");
    assert_eq!(
        lookup(Protocol::V3_1_1, "MQTT-3.1.2.7").map(|s| s.id.as_str()),
        Some("MQTT-3.1.2-7")
    );
    assert_eq!(
        lookup(Protocol::V3_1_1, "MQTT-3-8.3-4").map(|s| s.id.as_str()),
        Some("MQTT-3.8.3-4")
    );
    // Negative examples are split so that the workspace id scan does not see them.
    assert!(lookup(Protocol::V3_1_1, concat!("MQTT", "-3.1.2-99")).is_none());
    assert!(lookup(Protocol::V3_1_1, "").is_none());
    // 3.15 (AUTH) only exists in 5.0.
    assert!(lookup(Protocol::V3_1_1, "MQTT-3.15.1-1").is_none());
}

#[test]
fn macros_give_the_written_id() {
    const A: StatementId = mqtt_spec::v311!("MQTT-3.1.2-4");
    const B: StatementId = mqtt_spec::v5!("MQTT-3.1.2-4");
    let c = mqtt_spec::statement!("MQTT-4.8.0-2");
    assert_eq!(A.as_str(), "MQTT-3.1.2-4");
    assert_eq!(A, B);
    assert_eq!(c.to_string(), "MQTT-4.8.0-2");
    assert_eq!(
        A.statement(Protocol::V3_1_1).map(|s| s.section.as_str()),
        Some("3.1.2.4")
    );
    assert_eq!(serde_json::to_string(&c).unwrap(), "\"MQTT-4.8.0-2\"");
    let back: StatementId = serde_json::from_str("\"MQTT-3-8.3-4\"").unwrap();
    assert_eq!(back, mqtt_spec::v311!("MQTT-3.8.3-4"));
    assert!(serde_json::from_str::<StatementId>(concat!("\"MQTT", "-9.9.9-9\"")).is_err());
    assert_eq!(
        StatementId::find(Protocol::V3_1_1, "[MQTT-3.1.2-7]"),
        Some(mqtt_spec::v311!("MQTT-3.1.2-7"))
    );
}

#[test]
fn chapter_titles() {
    assert_eq!(
        chapter_title(Protocol::V3_1_1, "3.1"),
        Some("CONNECT - Connection request")
    );
    assert_eq!(
        chapter_title(Protocol::V3_1_1, "3.1.2.4"),
        Some("CONNECT - Connection request")
    );
    assert_eq!(
        chapter_title(Protocol::V5_0, "3.15.2"),
        Some("AUTH - Authentication exchange")
    );
    assert_eq!(
        chapter_title(Protocol::V3_1_1, "3.15"),
        Some("Control packets")
    );
    assert_eq!(
        chapter_title(Protocol::V3_1_1, "6"),
        Some("WebSocket transport")
    );
    assert_eq!(
        chapter_title(Protocol::V5_0, "4.13"),
        Some("Handling errors")
    );
    assert_eq!(chapter_title(Protocol::V5_0, "9.1"), None);
    assert_eq!(chapter_title(Protocol::V5_0, ""), None);
}

#[test]
fn statements_serialize_with_their_protocol() {
    let s = lookup(Protocol::V3_1_1, "MQTT-4.8.0-2").unwrap();
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["protocol"], "3.1.1");
    assert_eq!(json["level"], "must");
    assert_eq!(json["observable"], "internal-only");
    let back: Statement = serde_json::from_value(json).unwrap();
    assert_eq!(&back, s);
}
