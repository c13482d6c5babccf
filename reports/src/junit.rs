//! `junit.xml` for CI systems (GitHub Actions, GitLab, Jenkins).
//!
//! One `<testsuite>` per protocol version and chapter, named `MQTT 5.0 · 3.1 CONNECT...`; one
//! `<testcase>` per test, named by its stable id. Verdicts map to JUnit like this:
//!
//! | verdict | JUnit |
//! | --- | --- |
//! | pass | success |
//! | fail | `<failure>`, message naming the statements, expected and observed |
//! | fail with a known deviation | `<skipped>` ("known deviation: ...") so CI stays green, as [`crate::Results::exit_code`] does |
//! | advisory | success, with the unmet SHOULD in `<system-out>` |
//! | skip, inconclusive | `<skipped>` with the reason |
//! | error | `<error>` with the reason |
//!
//! Each test case carries properties `verdict`, `level` and `statements`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::coverage::Catalogue;
use crate::model::{Results, TestResult, Verdict};
use crate::summary::group_by_chapter;

/// Renders `results` as JUnit XML.
pub fn render(
    results: &Results,
    catalogue: &dyn Catalogue,
) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new(format!("{} {}", results.tool.name, results.run.target));
    report.set_time(Duration::from_millis(results.run.duration_ms));
    for ((protocol, chapter), tests) in group_by_chapter(results) {
        let name = match catalogue.chapter_title(protocol, &chapter) {
            Some(title) => format!("MQTT {protocol} · {chapter} {title}"),
            None => format!("MQTT {protocol} · {chapter}"),
        };
        let mut suite = TestSuite::new(name);
        let ms: u64 = tests.iter().map(|t| t.duration_ms).sum();
        suite.set_time(Duration::from_millis(ms));
        suite.add_property(Property::new("protocol", protocol.to_string()));
        suite.add_property(Property::new("chapter", chapter.clone()));
        for t in tests {
            suite.add_test_case(test_case(t, &format!("mqtt-{protocol}.{chapter}")));
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn statements_text(t: &TestResult) -> String {
    if t.statements.is_empty() {
        "(no statement)".to_string()
    } else {
        t.statements
            .iter()
            .map(|s| format!("[{s}]"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `[MQTT-3.2.2-2] title: expected X, observed Y`.
fn failure_message(t: &TestResult) -> String {
    let mut m = format!("{} {}", statements_text(t), t.title);
    match (&t.expected, &t.observed) {
        (Some(e), Some(o)) => m.push_str(&format!(": expected {e}, observed {o}")),
        (Some(e), None) => m.push_str(&format!(": expected {e}")),
        (None, Some(o)) => m.push_str(&format!(": observed {o}")),
        (None, None) => {}
    }
    m
}

fn details(t: &TestResult) -> String {
    let mut d = String::new();
    d.push_str(&format!(
        "test: {}\nstatements: {}\n",
        t.id,
        statements_text(t)
    ));
    for (label, v) in [
        ("expected", &t.expected),
        ("observed", &t.observed),
        ("reason", &t.reason),
        ("deviation", &t.deviation),
    ] {
        if let Some(v) = v {
            d.push_str(&format!("{label}: {v}\n"));
        }
    }
    if !t.trace.is_empty() {
        d.push_str("trace:\n");
        d.push_str(&crate::markdown::trace_text(&t.trace));
    }
    d
}

fn test_case(t: &TestResult, classname: &str) -> TestCase {
    let status = match t.verdict {
        Verdict::Pass | Verdict::Advisory => TestCaseStatus::success(),
        Verdict::Fail if t.deviation.is_some() => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!(
                "known deviation: {}; {}",
                t.deviation.as_deref().unwrap_or_default(),
                failure_message(t)
            ));
            s.set_type("known-deviation");
            s.set_description(details(t));
            s
        }
        Verdict::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(failure_message(t));
            s.set_type(t.level.as_str().to_uppercase());
            s.set_description(details(t));
            s
        }
        Verdict::Skip | Verdict::Inconclusive => {
            let mut s = TestCaseStatus::skipped();
            let reason = t.reason.as_deref().unwrap_or("no reason given");
            s.set_message(format!("{}: {reason}", t.verdict.as_str()));
            s.set_type(t.verdict.as_str());
            if t.verdict == Verdict::Inconclusive {
                s.set_description(details(t));
            }
            s
        }
        Verdict::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            let reason = t.reason.as_deref().unwrap_or("no reason given");
            s.set_message(format!("suite error: {reason}"));
            s.set_type("suite-error");
            s.set_description(details(t));
            s
        }
    };
    let mut case = TestCase::new(t.id.clone(), status);
    case.set_classname(classname);
    case.set_time(Duration::from_millis(t.duration_ms));
    case.add_property(Property::new("verdict", t.verdict.as_str()));
    case.add_property(Property::new("level", t.level.as_str()));
    case.add_property(Property::new("statements", t.statements.join(" ")));
    if t.verdict == Verdict::Advisory {
        case.set_system_out(format!(
            "advisory (SHOULD not met): {}\n{}",
            failure_message(t),
            details(t)
        ));
    }
    case
}
