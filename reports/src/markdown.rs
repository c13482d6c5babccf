//! `report.md`: summary table, per-chapter table, then the failures with their statements and
//! packet traces, advisories, inconclusive tests, errors, skips and a coverage summary.

use std::fmt::Write as _;

use crate::coverage::{coverage, Catalogue, Uncovered};
use crate::escape::{fence_for, md};
use crate::model::{Results, TestResult, TraceEntry, Verdict};
use crate::summary::{by_chapter, by_protocol, Counts};

/// Renders `results` as Markdown.
pub fn render(results: &Results, catalogue: &dyn Catalogue) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# MQTT conformance report\n");
    run_table(&mut o, results);

    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(
        o,
        "| Protocol | Conformance | Passed | Failed | Advisory | Skipped | Inconclusive | Error | Total |"
    );
    let _ = writeln!(
        o,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let protocols = by_protocol(results);
    for (p, c) in &protocols {
        let _ = writeln!(
            o,
            "| MQTT {p} | **{}** | {} | {} | {} | {} | {} | {} | {} |",
            c.conformance_text(),
            c.pass,
            fail_cell(c),
            c.advisory,
            c.skip,
            c.inconclusive,
            c.error,
            c.total()
        );
    }
    let _ = writeln!(
        o,
        "\nConformance is the share of MUST-level tests with a decided outcome that passed \
         (failures explained by a known deviation count as failures). Advisory marks a SHOULD \
         that was not met; it never fails a run.\n"
    );
    let _ = writeln!(
        o,
        "Exit status of this run: **{}**.\n",
        if results.exit_code() == 0 {
            "0 (no unexpected failure)"
        } else {
            "1 (unexpected failures or suite errors)"
        }
    );

    let _ = writeln!(o, "## By chapter\n");
    let _ = writeln!(
        o,
        "| Protocol | Chapter | Title | Passed | Failed | Advisory | Skipped | Inconclusive | Error |"
    );
    let _ = writeln!(
        o,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in by_chapter(results) {
        let title = catalogue
            .chapter_title(row.protocol, &row.chapter)
            .unwrap_or_default();
        let c = &row.counts;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.protocol,
            md(&row.chapter),
            md(&title),
            c.pass,
            fail_cell(c),
            c.advisory,
            c.skip,
            c.inconclusive,
            c.error
        );
    }
    o.push('\n');

    section(&mut o, results, catalogue, "Failures", |t| {
        t.verdict == Verdict::Fail && t.deviation.is_none()
    });
    section(&mut o, results, catalogue, "Known deviations", |t| {
        t.verdict == Verdict::Fail && t.deviation.is_some()
    });
    section(&mut o, results, catalogue, "Suite errors", |t| {
        t.verdict == Verdict::Error
    });
    section(
        &mut o,
        results,
        catalogue,
        "Advisories (SHOULD not met)",
        |t| t.verdict == Verdict::Advisory,
    );
    section(&mut o, results, catalogue, "Inconclusive", |t| {
        t.verdict == Verdict::Inconclusive
    });

    let skipped: Vec<&TestResult> = results
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Skip)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(o, "## Skipped\n");
        let _ = writeln!(o, "| Protocol | Test | Reason |");
        let _ = writeln!(o, "| --- | --- | --- |");
        for t in skipped {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                t.protocol,
                code(&t.id),
                md(t.reason.as_deref().unwrap_or("no reason given"))
            );
        }
        o.push('\n');
    }

    let cov = coverage(results, catalogue);
    if cov
        .iter()
        .any(|c| !c.statements.is_empty() || !c.unknown.is_empty())
    {
        let _ = writeln!(o, "## Statement coverage\n");
        let _ = writeln!(
            o,
            "| Protocol | Statements | Checked by a test | Client-only | Internal-only | No test yet |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for c in &cov {
            let _ = writeln!(
                o,
                "| MQTT {} | {} | {} | {} | {} | {} |",
                c.protocol,
                c.statements.len(),
                c.covered(),
                c.uncovered(Uncovered::ClientOnly),
                c.uncovered(Uncovered::InternalOnly),
                c.uncovered(Uncovered::NoTestYet)
            );
        }
        o.push('\n');
        for c in &cov {
            if !c.unknown.is_empty() {
                let ids: Vec<String> = c.unknown.iter().map(|(id, _)| code(id)).collect();
                let _ = writeln!(
                    o,
                    "Statement ids named by MQTT {} tests but not in its catalogue: {}\n",
                    c.protocol,
                    ids.join(", ")
                );
            }
        }
        let _ = writeln!(
            o,
            "The HTML report lists every statement with the tests that check it.\n"
        );
    }
    o
}

/// A short plain-text summary of one run for a terminal: the run, one line per protocol
/// version with its conformance figure and counts, then the tests that fail the run.
pub fn render_text(results: &Results) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "MQTT conformance of {} ({}), started {}, took {}",
        results.label(),
        results.run.target,
        results.run.started_at,
        fmt_duration(results.run.duration_ms)
    );
    for (p, c) in by_protocol(results) {
        let _ = writeln!(
            o,
            "  MQTT {:<6} {:>6} of decided MUST tests passed | {} passed, {} failed{}, {} advisory, {} skipped, {} inconclusive, {} error",
            p.to_string(),
            c.conformance_text(),
            c.pass,
            c.fail,
            if c.known_deviations > 0 {
                format!(" ({} known deviation)", c.known_deviations)
            } else {
                String::new()
            },
            c.advisory,
            c.skip,
            c.inconclusive,
            c.error
        );
    }
    let blocking: Vec<&TestResult> = results.tests.iter().filter(|t| t.is_blocking()).collect();
    if blocking.is_empty() {
        let _ = writeln!(o, "No unexpected failure.");
    } else {
        let _ = writeln!(o, "Failing the run:");
        for t in blocking {
            let what = match t.verdict {
                Verdict::Error => format!(
                    "suite error: {}",
                    t.reason.as_deref().unwrap_or("no reason given")
                ),
                _ => t.statements.join(" "),
            };
            let _ = writeln!(
                o,
                "  {:<5} {:<5} {}  {}",
                t.verdict.as_str().to_uppercase(),
                t.protocol.to_string(),
                t.id,
                what
            );
        }
    }
    o
}

fn fail_cell(c: &Counts) -> String {
    if c.known_deviations > 0 {
        format!("{} ({} known)", c.fail, c.known_deviations)
    } else {
        c.fail.to_string()
    }
}

fn run_table(o: &mut String, r: &Results) {
    let _ = writeln!(o, "| Run | |");
    let _ = writeln!(o, "| --- | --- |");
    let _ = writeln!(o, "| Target | {} |", code(&r.run.target));
    if let Some(b) = &r.run.broker {
        let v = b.version.as_deref().unwrap_or("version unknown");
        let _ = writeln!(o, "| Broker | {} {} |", md(&b.name), md(v));
    }
    if let Some(p) = &r.run.profile {
        let _ = writeln!(o, "| Profile | {} |", code(p));
    }
    let protocols: Vec<String> = r.run.protocols.iter().map(|p| p.to_string()).collect();
    let _ = writeln!(o, "| Protocols | {} |", protocols.join(", "));
    let _ = writeln!(o, "| Started | {} |", md(&r.run.started_at));
    let _ = writeln!(o, "| Duration | {} |", fmt_duration(r.run.duration_ms));
    let _ = writeln!(
        o,
        "| Tool | {} {} (results schema {}) |",
        md(&r.tool.name),
        md(&r.tool.version),
        r.schema_version
    );
    o.push('\n');
}

fn section(
    o: &mut String,
    results: &Results,
    catalogue: &dyn Catalogue,
    heading: &str,
    pick: impl Fn(&TestResult) -> bool,
) {
    let tests: Vec<&TestResult> = results.tests.iter().filter(|t| pick(t)).collect();
    if tests.is_empty() {
        return;
    }
    let _ = writeln!(o, "## {heading}\n");
    for t in tests {
        let _ = writeln!(o, "### {} — {}\n", code(&t.id), md(&t.title));
        let _ = writeln!(
            o,
            "- MQTT {}, chapter {}, {} level, {} in {}",
            t.protocol,
            md(&t.chapter),
            t.level.as_str().to_uppercase(),
            t.verdict.label().to_lowercase(),
            fmt_duration(t.duration_ms)
        );
        if t.statements.is_empty() {
            let _ = writeln!(o, "- Statements: none named");
        } else {
            let _ = writeln!(o, "- Statements:");
            let all = catalogue.statements(t.protocol);
            for id in &t.statements {
                match all.iter().find(|s| s.id == *id || s.aliases.contains(id)) {
                    Some(s) => {
                        let _ = writeln!(o, "  - {} {}", code(id), md(&s.summary));
                    }
                    None => {
                        let _ = writeln!(o, "  - {}", code(id));
                    }
                }
            }
        }
        for (label, v) in [
            ("Expected", &t.expected),
            ("Observed", &t.observed),
            ("Reason", &t.reason),
            ("Known deviation", &t.deviation),
        ] {
            if let Some(v) = v {
                let _ = writeln!(o, "- {label}: {}", md(v));
            }
        }
        if !t.trace.is_empty() {
            let trace = trace_text(&t.trace);
            let fence = fence_for(&trace);
            let _ = writeln!(
                o,
                "\n<details><summary>Packet trace ({})</summary>\n\n{fence}text\n{trace}{fence}\n\n</details>",
                crate::html::plural(t.trace.len(), "entry", "entries")
            );
        }
        o.push('\n');
    }
}

/// A Markdown code span that survives any text: backticks in the text lengthen the fence.
fn code(s: &str) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(crate::escape::longest_tick_run(&one_line) + 1);
    // A pipe would still split a table cell, even inside a code span.
    let body = one_line.replace('|', "\\|");
    if body.starts_with('`') || body.ends_with('`') {
        format!("{ticks} {body} {ticks}")
    } else {
        format!("{ticks}{body}{ticks}")
    }
}

/// A duration for people: `850 ms`, `12.3 s`, `2 min 03 s`.
pub(crate) fn fmt_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// A packet trace as plain text, one line per entry and one more for the raw bytes:
///
/// ```text
///      0.000 ms  →  CONNECT  {"clean_start":true}
///                            10 0d 00 04 4d 51 54 54
/// ```
pub fn trace_text(trace: &[TraceEntry]) -> String {
    let width = trace
        .iter()
        .map(|e| e.packet.chars().count())
        .max()
        .unwrap_or(0);
    let mut o = String::new();
    for e in trace {
        let fields = fields_text(&e.fields);
        let pad = width.saturating_sub(e.packet.chars().count());
        let _ = writeln!(
            o,
            "{:>10.3} ms  {}  {}{}  {}",
            e.t_ms,
            e.dir.arrow(),
            e.packet,
            " ".repeat(pad),
            fields
        );
        // Trim the trailing spaces when there are no fields.
        while o.ends_with(" \n") {
            o.pop();
            o.pop();
            o.push('\n');
        }
        if !e.hex.is_empty() {
            let _ = writeln!(o, "{}{}", " ".repeat(20 + width), spaced_hex(&e.hex));
        }
    }
    o
}

/// Compact JSON of decoded fields, or nothing for `null` or `{}`.
pub(crate) fn fields_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Hex with a space between bytes, whatever spacing the input had.
pub(crate) fn spaced_hex(hex: &str) -> String {
    let digits: Vec<char> = hex.chars().filter(|c| !c.is_whitespace()).collect();
    digits
        .chunks(2)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(850), "850 ms");
        assert_eq!(fmt_duration(12_345), "12.3 s");
        assert_eq!(fmt_duration(123_000), "2 min 03 s");
    }

    #[test]
    fn code_spans() {
        assert_eq!(code("a.b"), "`a.b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("a|b"), "`a\\|b`");
    }

    #[test]
    fn hex_spacing() {
        assert_eq!(spaced_hex("100d0004"), "10 0d 00 04");
        assert_eq!(spaced_hex("10 0d 0"), "10 0d 0");
    }
}
