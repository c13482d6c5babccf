//! Comparison of several runs: a matrix of tests (rows, grouped by chapter) by runs (columns),
//! the rows whose verdicts differ first; rendered as text for a terminal, Markdown, HTML or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::coverage::Catalogue;
use crate::escape::{html as esc, md};
use crate::model::{chapter_key, Protocol, Results, TestResult, Verdict};
use crate::summary::by_protocol;

/// One run: a column of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// The column heading: broker name and version, else the target (made unique).
    pub label: String,
    /// The target of the run.
    pub target: String,
    /// When the run started.
    pub started_at: String,
    /// The tool version that produced it.
    pub tool_version: String,
    /// The conformance figure per protocol version (see [`Counts::conformance`]).
    pub conformance: BTreeMap<String, Option<f64>>,
}

/// One test's verdict in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The verdict.
    pub verdict: Verdict,
    /// A failure explained by a known deviation of that run's profile.
    pub known_deviation: bool,
}

impl Cell {
    fn of(t: &TestResult) -> Cell {
        Cell {
            verdict: t.verdict,
            known_deviation: t.is_known_deviation(),
        }
    }

    /// Short text for the terminal and Markdown: `pass`, `FAIL`, `fail (known)`, ...
    pub fn text(self) -> &'static str {
        match (self.verdict, self.known_deviation) {
            (Verdict::Fail, true) => "fail (known)",
            (Verdict::Fail, false) => "FAIL",
            (Verdict::Error, _) => "ERROR",
            (v, _) => v.as_str(),
        }
    }
}

/// One test (on one protocol version) across the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The protocol version.
    #[serde(serialize_with = "ser_protocol")]
    pub protocol: Protocol,
    /// The chapter.
    pub chapter: String,
    /// The test id.
    pub id: String,
    /// The test title (from the first run that has the test).
    pub title: String,
    /// One cell per column; `None` when that run has no such test.
    pub cells: Vec<Option<Cell>>,
    /// Whether the cells are not all the same.
    pub differs: bool,
}

fn ser_protocol<S: serde::Serializer>(p: &Protocol, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

/// The matrix of tests by runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The runs, in the order given.
    pub columns: Vec<Column>,
    /// The tests: rows that differ first, then the others; each part sorted by protocol,
    /// chapter, then the order tests first appear in.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Compares runs labelled by broker name and version (else target); a label seen twice
    /// gets ` #2`, ` #3`... appended.
    pub fn new(runs: &[&Results]) -> Comparison {
        let mut labels: Vec<String> = Vec::new();
        for r in runs {
            let base = r.label();
            let mut label = base.clone();
            let mut n = 2;
            while labels.contains(&label) {
                label = format!("{base} #{n}");
                n += 1;
            }
            labels.push(label);
        }
        let pairs: Vec<(String, &Results)> = labels.into_iter().zip(runs.iter().copied()).collect();
        Comparison::with_labels(&pairs)
    }

    /// Compares runs with the given column labels.
    pub fn with_labels(runs: &[(String, &Results)]) -> Comparison {
        let columns = runs
            .iter()
            .map(|(label, r)| Column {
                label: label.clone(),
                target: r.run.target.clone(),
                started_at: r.run.started_at.clone(),
                tool_version: r.tool.version.clone(),
                conformance: by_protocol(r)
                    .into_iter()
                    .map(|(p, c)| (p.to_string(), c.conformance()))
                    .collect(),
            })
            .collect();

        // (protocol, id) in order of first appearance.
        let mut order: Vec<(Protocol, String)> = Vec::new();
        let mut info: BTreeMap<(Protocol, String), (String, String)> = BTreeMap::new();
        for (_, r) in runs {
            for t in &r.tests {
                let key = (t.protocol, t.id.clone());
                if !info.contains_key(&key) {
                    info.insert(key.clone(), (t.chapter.clone(), t.title.clone()));
                    order.push(key);
                }
            }
        }
        let mut rows: Vec<(usize, Row)> = order
            .into_iter()
            .enumerate()
            .map(|(i, (protocol, id))| {
                let (chapter, title) = info
                    .get(&(protocol, id.clone()))
                    .cloned()
                    .unwrap_or_default();
                let cells: Vec<Option<Cell>> = runs
                    .iter()
                    .map(|(_, r)| {
                        r.tests
                            .iter()
                            .find(|t| t.protocol == protocol && t.id == id)
                            .map(Cell::of)
                    })
                    .collect();
                let differs = cells.windows(2).any(|w| w.first() != w.get(1));
                (
                    i,
                    Row {
                        protocol,
                        chapter,
                        id,
                        title,
                        cells,
                        differs,
                    },
                )
            })
            .collect();
        rows.sort_by(|(ia, a), (ib, b)| {
            (!a.differs, a.protocol, chapter_key(&a.chapter), *ia).cmp(&(
                !b.differs,
                b.protocol,
                chapter_key(&b.chapter),
                *ib,
            ))
        });
        Comparison {
            columns,
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// How many rows differ.
    pub fn differences(&self) -> usize {
        self.rows.iter().filter(|r| r.differs).count()
    }

    /// The matrix as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize comparison: {e}\"}}"));
        s.push('\n');
        s
    }
}

/// Rows of one chapter of one protocol version.
type Group<'a> = ((Protocol, String), Vec<&'a Row>);
/// (heading, whether its rows differ, groups).
type Part<'a> = (&'static str, bool, Vec<Group<'a>>);

/// The rows in parts: differences, then the rest, each grouped by chapter.
fn parts(c: &Comparison) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    for (heading, differs) in [("Differences", true), ("Same in all runs", false)] {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for r in c.rows.iter().filter(|r| r.differs == differs) {
            let key = (r.protocol, r.chapter.clone());
            match groups.last_mut() {
                Some((k, rows)) if *k == key => rows.push(r),
                _ => groups.push((key, vec![r])),
            }
        }
        out.push((heading, differs, groups));
    }
    out
}

fn conformance_cell(c: &Column, p: &str) -> String {
    match c.conformance.get(p) {
        None => "—".to_string(),
        Some(f) => crate::summary::percent_text(*f),
    }
}

fn protocols_of(c: &Comparison) -> Vec<String> {
    let mut ps: Vec<Protocol> = Vec::new();
    for r in &c.rows {
        if !ps.contains(&r.protocol) {
            ps.push(r.protocol);
        }
    }
    ps.sort();
    ps.into_iter().map(|p| p.to_string()).collect()
}

/// The comparison for a terminal: a legend of the runs, the conformance figures, then the
/// matrix with one column per run (`[1]`, `[2]`...), differences first.
pub fn render_text(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Comparison of {} runs: {} of {} tests differ",
        c.columns.len(),
        c.differences(),
        c.rows.len()
    );
    o.push('\n');
    for (i, col) in c.columns.iter().enumerate() {
        let _ = writeln!(
            o,
            "  [{}] {}  ({}, started {})",
            i + 1,
            col.label,
            col.target,
            col.started_at
        );
    }
    let width = 13;
    let id_width = c
        .rows
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(24, 60);
    let head: String = (1..=c.columns.len())
        .map(|i| format!("{:<width$}", format!("[{i}]")))
        .collect();
    o.push('\n');
    let _ = writeln!(
        o,
        "  {:<w$}  {}",
        "Conformance (MUST)",
        head.trim_end(),
        w = id_width + 2
    );
    for p in protocols_of(c) {
        let cells: String = c
            .columns
            .iter()
            .map(|col| format!("{:<width$}", conformance_cell(col, &p)))
            .collect();
        let _ = writeln!(
            o,
            "    {:<id_width$}  {}",
            format!("MQTT {p}"),
            cells.trim_end()
        );
    }
    for (heading, _, groups) in parts(c) {
        let n: usize = groups.iter().map(|(_, rows)| rows.len()).sum();
        o.push('\n');
        let _ = writeln!(o, "{heading} ({n})");
        if n == 0 {
            let _ = writeln!(o, "  none");
            continue;
        }
        let _ = writeln!(o, "    {:<id_width$}  {}", "", head.trim_end());
        for ((p, chapter), rows) in groups {
            let _ = writeln!(o, "  MQTT {p} · {chapter}");
            for r in rows {
                let cells: String = r
                    .cells
                    .iter()
                    .map(|cell| format!("{:<width$}", cell.map(Cell::text).unwrap_or("—")))
                    .collect();
                let id: String = if r.id.chars().count() > id_width {
                    let mut s: String = r.id.chars().take(id_width.saturating_sub(1)).collect();
                    s.push('…');
                    s
                } else {
                    r.id.clone()
                };
                let _ = writeln!(o, "    {id:<id_width$}  {}", cells.trim_end());
            }
        }
    }
    o
}

/// The comparison as Markdown.
pub fn render_markdown(c: &Comparison, catalogue: &dyn Catalogue) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# MQTT conformance comparison\n");
    let _ = writeln!(
        o,
        "{} runs; {} of {} tests differ.\n",
        c.columns.len(),
        c.differences(),
        c.rows.len()
    );
    let protocols = protocols_of(c);
    let _ = write!(o, "| Run | Target | Started | Tool |");
    for p in &protocols {
        let _ = write!(o, " MQTT {p} |");
    }
    let _ = write!(o, "\n| --- | --- | --- | --- |");
    for _ in &protocols {
        o.push_str(" ---: |");
    }
    o.push('\n');
    for col in &c.columns {
        let _ = write!(
            o,
            "| {} | {} | {} | {} |",
            md(&col.label),
            md(&col.target),
            md(&col.started_at),
            md(&col.tool_version)
        );
        for p in &protocols {
            let _ = write!(o, " {} |", conformance_cell(col, p));
        }
        o.push('\n');
    }
    o.push_str("\nConformance is the share of decided MUST-level tests that passed.\n");
    for (heading, _, groups) in parts(c) {
        let n: usize = groups.iter().map(|(_, rows)| rows.len()).sum();
        let _ = writeln!(o, "\n## {heading} ({n})\n");
        if n == 0 {
            let _ = writeln!(o, "None.");
            continue;
        }
        let _ = write!(o, "| Test |");
        for col in &c.columns {
            let _ = write!(o, " {} |", md(&col.label));
        }
        let _ = write!(o, "\n| --- |");
        for _ in &c.columns {
            o.push_str(" --- |");
        }
        o.push('\n');
        for ((p, chapter), rows) in groups {
            let title = catalogue.chapter_title(p, &chapter).unwrap_or_default();
            let _ = write!(o, "| **MQTT {p} · {} {}** |", md(&chapter), md(&title));
            for _ in &c.columns {
                o.push_str(" |");
            }
            o.push('\n');
            for r in rows {
                let _ = write!(o, "| {} |", md(&r.id));
                for cell in &r.cells {
                    let t = cell.map(Cell::text).unwrap_or("—");
                    let t = match cell {
                        Some(Cell {
                            verdict: Verdict::Fail | Verdict::Error,
                            known_deviation: false,
                        }) => format!("**{t}**"),
                        _ => t.to_string(),
                    };
                    let _ = write!(o, " {t} |");
                }
                o.push('\n');
            }
        }
    }
    o
}

/// The comparison as one self-contained HTML page.
pub fn render_html(c: &Comparison, catalogue: &dyn Catalogue) -> String {
    let mut o = String::new();
    crate::html::head(&mut o, "MQTT conformance comparison");
    let _ = write!(
        o,
        "<header class=\"top\"><h1>MQTT conformance comparison</h1><p class=\"subtitle\">{} runs · {} of {} tests differ</p>",
        c.columns.len(),
        c.differences(),
        c.rows.len()
    );
    o.push_str("</header>\n<main>\n<section><h2>Runs</h2><table><thead><tr><th>#</th><th>Run</th><th>Target</th><th>Started</th><th>Tool</th>");
    let protocols = protocols_of(c);
    for p in &protocols {
        let _ = write!(o, "<th class=\"n\">MQTT {p}</th>");
    }
    o.push_str("</tr></thead><tbody>");
    for (i, col) in c.columns.iter().enumerate() {
        let _ = write!(
            o,
            "<tr><td>{}</td><td><b>{}</b></td><td><code>{}</code></td><td>{}</td><td>{}</td>",
            i + 1,
            esc(&col.label),
            esc(&col.target),
            esc(&col.started_at),
            esc(&col.tool_version)
        );
        for p in &protocols {
            let _ = write!(o, "<td class=\"n\">{}</td>", esc(&conformance_cell(col, p)));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table><p class=\"note\">The figure per protocol is the share of decided MUST-level tests that passed.</p></section>\n");

    o.push_str("<section id=\"tests\"><h2>Tests by run</h2>");
    crate::html::filters_with(&mut o, None, false, true);
    o.push_str("<table class=\"matrix\"><thead><tr><th>Test</th>");
    for (i, col) in c.columns.iter().enumerate() {
        let _ = write!(
            o,
            "<th class=\"run\" title=\"{}\">[{}] {}</th>",
            esc(&col.target),
            i + 1,
            esc(&col.label)
        );
    }
    o.push_str("</tr></thead><tbody>");
    let ncols = c.columns.len() + 1;
    for (heading, _, groups) in parts(c) {
        let n: usize = groups.iter().map(|(_, rows)| rows.len()).sum();
        let _ = write!(
            o,
            "<tr class=\"section\"><td colspan=\"{ncols}\">{heading} ({n})</td></tr>"
        );
        if n == 0 {
            let _ = write!(
                o,
                "<tr data-verdict=\"pass fail advisory skip inconclusive error none\" data-text=\"\"><td colspan=\"{ncols}\" class=\"empty\">None.</td></tr>"
            );
        }
        for ((p, chapter), rows) in groups {
            let title = catalogue.chapter_title(p, &chapter).unwrap_or_default();
            let _ = write!(
                o,
                "<tr class=\"group\"><td colspan=\"{ncols}\">MQTT {p} · {} {}</td></tr>",
                esc(&chapter),
                esc(&title)
            );
            for r in rows {
                let mut verdicts: Vec<&str> = r
                    .cells
                    .iter()
                    .map(|c| c.map(|c| c.verdict.as_str()).unwrap_or("none"))
                    .collect();
                verdicts.sort_unstable();
                verdicts.dedup();
                let text = format!(
                    "{} {} {} mqtt {p} {}",
                    r.id,
                    r.title,
                    chapter,
                    verdicts.join(" ")
                )
                .to_lowercase();
                let _ = write!(
                    o,
                    "<tr class=\"test{}\" data-verdict=\"{}\" data-text=\"{}\"{}><td><code>{}</code><div class=\"note\" style=\"margin:0\">{}</div></td>",
                    if r.differs { " diff" } else { "" },
                    verdicts.join(" "),
                    esc(&text),
                    if r.differs { "" } else { " data-same=\"\"" },
                    esc(&r.id),
                    esc(&r.title)
                );
                for cell in &r.cells {
                    match cell {
                        None => o.push_str("<td class=\"cell\"><span class=\"badge none\" title=\"not in this run\">—</span></td>"),
                        Some(cell) if cell.known_deviation => o.push_str("<td class=\"cell\"><span class=\"badge deviation\">Known deviation</span></td>"),
                        Some(cell) => {
                            let _ = write!(
                                o,
                                "<td class=\"cell\"><span class=\"badge {}\">{}</span></td>",
                                cell.verdict.as_str(),
                                cell.verdict.label()
                            );
                        }
                    }
                }
                o.push_str("</tr>");
            }
        }
    }
    o.push_str("</tbody></table></section>\n");
    let _ = write!(
        o,
        "</main>\n<script>/*<![CDATA[*/{}/*]]>*/</script>\n</body>\n</html>\n",
        crate::html::JS
    );
    o
}
