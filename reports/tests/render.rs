//! Snapshots of every renderer on the fixed fixture, and checks of their structure.

mod common;

use common::{fixture, fixture_b, SmallCatalogue};
use mqtt_reports::{compare, html, junit, markdown, Comparison, Verdict};

#[test]
fn junit_snapshot() {
    let xml = junit::render(&fixture(), &SmallCatalogue).expect("junit renders");
    insta::assert_snapshot!("junit", xml);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("markdown", markdown::render(&fixture(), &SmallCatalogue));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!("html", html::render(&fixture(), &SmallCatalogue));
}

#[test]
fn comparison_snapshots() {
    let a = fixture();
    let b = fixture_b();
    let c = Comparison::new(&[&a, &b]);
    insta::assert_snapshot!("compare_text", compare::render_text(&c));
    insta::assert_snapshot!("compare_md", compare::render_markdown(&c, &SmallCatalogue));
    insta::assert_snapshot!("compare_html", compare::render_html(&c, &SmallCatalogue));
    insta::assert_snapshot!("compare_json", c.to_json_pretty());
}

#[test]
fn renderers_are_deterministic() {
    let r = fixture();
    assert_eq!(
        html::render(&r, &SmallCatalogue),
        html::render(&r, &SmallCatalogue)
    );
    assert_eq!(
        markdown::render(&r, &SmallCatalogue),
        markdown::render(&r, &SmallCatalogue)
    );
}

#[test]
fn comparison_puts_differences_first() {
    let a = fixture();
    let b = fixture_b();
    let c = Comparison::new(&[&a, &b]);
    let first_same = c
        .rows
        .iter()
        .position(|r| !r.differs)
        .expect("some rows agree");
    assert!(c.rows[..first_same].iter().all(|r| r.differs));
    assert!(c.rows[first_same..].iter().all(|r| !r.differs));
    // Changed verdicts, a changed deviation flag, a missing and an extra test.
    let diff: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| r.differs)
        .map(|r| r.id.as_str())
        .collect();
    for id in [
        "v5.connect.clean-start.session-present",
        "v5.publish.dup-qos0",
        "v5.subscribe.shared",
        "v5.subscribe.suback",
        "v311.connect.reserved-flag",
    ] {
        assert!(diff.contains(&id), "{id} should differ: {diff:?}");
    }
    assert_eq!(c.differences(), 5);
    let missing = c
        .rows
        .iter()
        .find(|r| r.id == "v5.subscribe.shared")
        .expect("row");
    assert_eq!(missing.cells[0].map(|c| c.verdict), Some(Verdict::Skip));
    assert_eq!(missing.cells[1], None);
}

#[test]
fn comparison_labels_are_unique() {
    let a = fixture();
    let c = Comparison::new(&[&a, &a, &a]);
    let labels: Vec<&str> = c.columns.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Brökr <test> & \"co\" 2.0.18",
            "Brökr <test> & \"co\" 2.0.18 #2",
            "Brökr <test> & \"co\" 2.0.18 #3"
        ]
    );
    assert_eq!(c.differences(), 0);
}
