//! The HTML pages are well-formed (they parse as XML: the output is polyglot XHTML on
//! purpose), self-contained, and escape everything.

mod common;

use common::{fixture, fixture_b, SmallCatalogue};
use mqtt_reports::coverage::Catalogue;
use mqtt_reports::{compare, html, Comparison, Protocol};

fn parse(page: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(page, opts)
        .unwrap_or_else(|e| panic!("page is not well-formed: {e}"))
}

fn self_contained(page: &str) {
    let lower = page.to_lowercase();
    for bad in ["http://", "https://", " src=", "<link", "@import", "url("] {
        assert!(
            !lower.contains(bad),
            "page refers to an external resource: {bad}"
        );
    }
    // The only script and style elements are the inline ones.
    assert_eq!(lower.matches("<script").count(), 1);
    assert_eq!(lower.matches("<style").count(), 1);
    // Test text with markup never reaches the page raw.
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<test>"));
}

#[test]
fn report_is_well_formed_and_self_contained() {
    let r = fixture();
    let page = html::render(&r, &SmallCatalogue);
    self_contained(&page);
    let doc = parse(&page);
    assert_eq!(doc.root_element().tag_name().name(), "html");

    // The hostile title survives as text.
    assert!(doc
        .descendants()
        .filter_map(|n| n.text())
        .any(|t| t.contains("<script>alert(\"x & y\")</script>")));

    // Every test has one row, with its verdict for the filter.
    for t in &r.tests {
        let id = format!("t-{}-{}", t.protocol, t.id);
        let row = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no row for {id}"));
        assert_eq!(row.attribute("data-verdict"), Some(t.verdict.as_str()));
    }

    // Every statement of the catalogue has a coverage row; unchecked ones say why.
    for p in [Protocol::V3_1_1, Protocol::V5_0] {
        for s in SmallCatalogue.statements(p) {
            let id = format!("s-{p}-{}", s.id);
            let row = doc
                .descendants()
                .find(|n| n.attribute("id") == Some(id.as_str()))
                .unwrap_or_else(|| panic!("no coverage row for {id}"));
            let text: String = row.descendants().filter_map(|n| n.text()).collect();
            match s.id.as_str() {
                "MQTT-3.1.2-11" | "MQTT-3.14.4-1" => {
                    assert!(text.contains("client-only"), "{text}")
                }
                "MQTT-3.8.4-1" | "MQTT-3.12.4-1" => assert!(text.contains("no test yet"), "{text}"),
                "MQTT-3.2.2-2" => assert!(text.contains("v5.connect.clean-start.session-present")),
                _ => {}
            }
        }
    }
    // The unknown statement id is reported, not dropped.
    assert!(page.contains("EXAMPLE-UNKNOWN-1"));
    // The failure expands to its trace.
    assert!(page.contains("<td class=\"hex\">10 13 00 04 4d 51 54 54 05 02 00 1e 00 00 06 63</td>"));
}

#[test]
fn comparison_is_well_formed_and_self_contained() {
    let a = fixture();
    let b = fixture_b();
    let page = compare::render_html(&Comparison::new(&[&a, &b]), &SmallCatalogue);
    self_contained(&page);
    let doc = parse(&page);
    let rows = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("tr") && n.attribute("class").is_some_and(|c| c.starts_with("test"))
        })
        .count();
    assert_eq!(rows, 10);
}

#[test]
fn empty_results_render() {
    let mut r = fixture();
    r.tests.clear();
    let page = html::render(&r, &SmallCatalogue);
    parse(&page);
    assert!(page.contains("No test ran."));
}

/// Writes the fixture's pages to `$MQTT_REPORTS_DUMP` when set, to look at them in a browser.
#[test]
fn dump_pages_when_asked() {
    let Some(dir) = std::env::var_os("MQTT_REPORTS_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let a = fixture();
    let b = fixture_b();
    mqtt_reports::write_all_with(&a, &dir.join("single"), &SmallCatalogue).expect("write");
    b.save(dir.join("b.json")).expect("write b");
    let c = Comparison::new(&[&a, &b]);
    std::fs::write(
        dir.join("compare.html"),
        compare::render_html(&c, &SmallCatalogue),
    )
    .expect("write compare");
    assert!(dir.join("single").join("report.html").exists());
}

#[test]
fn real_catalogue_lists_every_statement() {
    let r = fixture();
    let page = html::render(&r, &mqtt_reports::SpecCatalogue);
    let doc = parse(&page);
    let ids: std::collections::BTreeSet<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("id"))
        .collect();
    let mut n = 0;
    for p in [Protocol::V3_1_1, Protocol::V5_0] {
        for s in mqtt_spec::catalogue(p) {
            let id = format!("s-{p}-{}", s.id);
            assert!(ids.contains(id.as_str()), "no coverage row for {id}");
            n += 1;
        }
    }
    assert_eq!(n, 141 + 251);
    // Client-only statements of the real catalogue say so.
    assert!(page.contains("client-only: binds clients, not the broker"));
    // Chapter titles come from the catalogue.
    let title = mqtt_spec::chapter_title(Protocol::V5_0, "3.1").expect("a title for 3.1");
    assert!(page.contains(title), "{title}");
}
