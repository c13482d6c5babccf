//! The JUnit output parses as XML and has the right counts per test suite.

mod common;

use common::{fixture, SmallCatalogue};
use mqtt_reports::junit;

fn attr<'a>(n: &roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    n.attribute(name)
        .unwrap_or_else(|| panic!("attribute {name} missing"))
}

#[test]
fn junit_parses_with_counts_per_suite() {
    let xml = junit::render(&fixture(), &SmallCatalogue).expect("junit renders");
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(attr(&root, "tests"), "9");
    // One plain failure; the known deviation is skipped; one suite error.
    assert_eq!(attr(&root, "failures"), "1");
    assert_eq!(attr(&root, "errors"), "1");

    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let summary: Vec<(String, String, String, String, String)> = suites
        .iter()
        .map(|s| {
            (
                attr(s, "name").to_string(),
                attr(s, "tests").to_string(),
                attr(s, "failures").to_string(),
                attr(s, "errors").to_string(),
                attr(s, "skipped").to_string(),
            )
        })
        .collect();
    let expect = |n: &str, t: &str, f: &str, e: &str, s: &str| {
        (
            n.to_string(),
            t.to_string(),
            f.to_string(),
            e.to_string(),
            s.to_string(),
        )
    };
    assert_eq!(
        summary,
        vec![
            expect(
                "MQTT 3.1.1 · 3.1 CONNECT – Connection Request",
                "2",
                "0",
                "1",
                "0"
            ),
            expect(
                "MQTT 3.1.1 · 3.2 CONNACK – Acknowledgement",
                "1",
                "0",
                "0",
                "0"
            ),
            expect(
                "MQTT 5.0 · 3.1 CONNECT – Connection Request",
                "2",
                "0",
                "0",
                "0"
            ),
            expect(
                "MQTT 5.0 · 3.2 CONNACK – Acknowledgement",
                "1",
                "1",
                "0",
                "0"
            ),
            expect(
                "MQTT 5.0 · 3.3 PUBLISH – Publish message",
                "1",
                "0",
                "0",
                "1"
            ),
            expect(
                "MQTT 5.0 · 4.7 Topic Names and Topic Filters",
                "1",
                "0",
                "0",
                "1"
            ),
            expect("MQTT 5.0 · 4.8 Subscriptions", "1", "0", "0", "1"),
        ]
    );

    // The failure message names the statements and keeps the escaped text intact.
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    let msg = attr(&failure, "message");
    assert!(
        msg.starts_with("[MQTT-3.2.2-2] [MQTT-3.1.2-4] Session Present"),
        "{msg}"
    );
    assert!(msg.contains("<script>alert(\"x & y\")</script>"), "{msg}");
    assert!(msg.contains("]]>"), "{msg}");
    let body = failure.text().unwrap_or_default();
    assert!(
        body.contains("CONNACK"),
        "trace in the failure body: {body}"
    );

    // Known deviation: skipped, saying so.
    let dev = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("v5.publish.dup-qos0"))
        .expect("deviation test case");
    let skipped = dev
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("deviation is skipped");
    assert!(attr(&skipped, "message").starts_with("known deviation: vendor issue #42"));

    // Advisory: a success with the unmet SHOULD in system-out.
    let adv = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("testcase") && n.attribute("name") == Some("v5.connect.second-connect")
        })
        .expect("advisory test case");
    assert!(adv
        .children()
        .all(|n| !n.has_tag_name("failure") && !n.has_tag_name("skipped")));
    let out = adv
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        out.contains("advisory (SHOULD not met): [MQTT-3.1.0-2]"),
        "{out}"
    );
}
