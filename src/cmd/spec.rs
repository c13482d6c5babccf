//! `mqtt-conform spec`: list the normative statements of the standards, as a table or as JSON.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use mqtt_conformance::coverage::{tests_by_statement, uncovered};
use mqtt_spec::{catalogue, Level, Protocol, Statement};

/// Arguments of `mqtt-conform spec`.
#[derive(Debug, Default, clap::Args)]
pub struct SpecArgs {
    /// Version of the standard: 3.1.1, 5.0 or all.
    #[arg(long, value_name = "VERSION", value_parser = parse_protocols, default_value = "all")]
    pub protocol: Option<Protocols>,
    /// Print a JSON array of statements (each with its protocol) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only statements of this level: must, must-not, should or may.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub level: Option<Level>,
    /// Only statements carrying this tag (packet type such as `connect`, or feature such as
    /// `retain`); repeat to require several tags.
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Only statements that no conformance test checks, each with the reason (client-only,
    /// internal-only, not observable, or no test yet).
    #[arg(long)]
    pub uncovered: bool,
}

/// The versions selected by `--protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocols {
    /// One version.
    One(Protocol),
    /// Both versions.
    All,
}

impl Protocols {
    fn list(self) -> Vec<Protocol> {
        match self {
            Protocols::One(p) => vec![p],
            Protocols::All => Protocol::ALL.to_vec(),
        }
    }
}

fn parse_protocols(text: &str) -> Result<Protocols, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(Protocols::All);
    }
    text.parse()
        .map(Protocols::One)
        .map_err(|_| "expected 3.1.1, 5.0 or all".to_owned())
}

fn parse_level(text: &str) -> Result<Level, String> {
    match text.to_ascii_lowercase().as_str() {
        "must" => Ok(Level::Must),
        "must-not" | "mustnot" | "must_not" => Ok(Level::MustNot),
        "should" => Ok(Level::Should),
        "may" => Ok(Level::May),
        _ => Err("expected must, must-not, should or may".to_owned()),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Must => "must",
        Level::MustNot => "must-not",
        Level::Should => "should",
        Level::May => "may",
    }
}

fn actor_name(actor: mqtt_spec::Actor) -> &'static str {
    match actor {
        mqtt_spec::Actor::Server => "server",
        mqtt_spec::Actor::Client => "client",
        mqtt_spec::Actor::Both => "both",
    }
}

fn observable_name(observable: mqtt_spec::Observable) -> &'static str {
    match observable {
        mqtt_spec::Observable::Wire => "wire",
        mqtt_spec::Observable::Behaviour => "behaviour",
        mqtt_spec::Observable::InternalOnly => "internal-only",
    }
}

/// Runs `mqtt-conform spec`.
pub fn run(args: SpecArgs) -> ExitCode {
    let protocols = args.protocol.unwrap_or(Protocols::All).list();
    if args.uncovered {
        return run_uncovered(&protocols, args.json);
    }
    for tag in &args.tag {
        let known = protocols
            .iter()
            .any(|p| catalogue(*p).iter().any(|s| s.has_tag(tag)));
        if !known {
            return super::usage_error(format!("no statement has the tag `{tag}`"));
        }
    }
    let selected: Vec<(Protocol, Vec<&'static Statement>)> = protocols
        .iter()
        .map(|p| {
            let statements = catalogue(*p)
                .iter()
                .filter(|s| args.level.is_none_or(|l| s.level == l))
                .filter(|s| args.tag.iter().all(|t| s.has_tag(t)))
                .collect();
            (*p, statements)
        })
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        write_json(&mut out, &selected)
    } else {
        let width = stdout.is_terminal().then(terminal_width);
        write_table(&mut out, &selected, width)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error of ours.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write the output: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_json(
    out: &mut impl Write,
    selected: &[(Protocol, Vec<&'static Statement>)],
) -> std::io::Result<()> {
    let cases = mqtt_conformance::suite::all();
    let mut all = Vec::new();
    for (p, list) in selected {
        let tests = tests_by_statement(&cases, *p);
        for s in list {
            let mut v = serde_json::to_value(s).map_err(std::io::Error::other)?;
            if let Some(m) = v.as_object_mut() {
                let t = tests.get(&s.id).cloned().unwrap_or_default();
                m.insert("tests".into(), serde_json::json!(t));
            }
            all.push(v);
        }
    }
    serde_json::to_writer_pretty(&mut *out, &all).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// `--uncovered`: the statements no conformance test checks, each with the reason.
fn run_uncovered(protocols: &[Protocol], json: bool) -> ExitCode {
    let cases = mqtt_conformance::suite::all();
    let mut text = String::new();
    let mut list = Vec::new();
    for p in protocols {
        let gaps = uncovered(&cases, *p);
        text.push_str(&format!(
            "MQTT {p}: {} of {} statements have no test\n",
            gaps.len(),
            catalogue(*p).len()
        ));
        for (s, gap) in gaps {
            text.push_str(&format!(
                "  {:<16} {:<10} {}\n",
                s.id,
                s.section,
                gap.reason()
            ));
            list.push(serde_json::json!({
                "protocol": p.to_string(),
                "id": s.id,
                "section": s.section,
                "summary": s.summary,
                "reason": gap.reason(),
                "missing_test": gap.is_missing_test(),
            }));
        }
    }
    let out = if json {
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    } else {
        text
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the output: {err}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// The terminal width from `COLUMNS`, or a common default.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(120)
}

/// Splits `text` into lines of at most `max` characters at spaces (a longer word gets a line of
/// its own).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One table per version. On a terminal (`width` given) summaries are wrapped to fit the line;
/// otherwise each statement stays on one line, so the output can be searched line by line.
fn write_table(
    out: &mut impl Write,
    selected: &[(Protocol, Vec<&'static Statement>)],
    width: Option<usize>,
) -> std::io::Result<()> {
    const HEADERS: [&str; 7] = [
        "ID",
        "SECTION",
        "LEVEL",
        "ACTOR",
        "OBSERVABLE",
        "TESTS",
        "SUMMARY",
    ];
    let cases = mqtt_conformance::suite::all();
    for (index, (protocol, list)) in selected.iter().enumerate() {
        let tests = tests_by_statement(&cases, *protocol);
        let counts: Vec<String> = list
            .iter()
            .map(|s| tests.get(&s.id).map_or(0, Vec::len).to_string())
            .collect();
        if index > 0 {
            writeln!(out)?;
        }
        let total = catalogue(*protocol).len();
        writeln!(out, "MQTT {protocol}: {} of {total} statements", list.len())?;
        if list.is_empty() {
            continue;
        }
        let rows: Vec<[&str; 6]> = list
            .iter()
            .zip(&counts)
            .map(|(s, n)| {
                [
                    s.id.as_str(),
                    s.section.as_str(),
                    level_name(s.level),
                    actor_name(s.actor),
                    observable_name(s.observable),
                    n.as_str(),
                ]
            })
            .collect();
        let mut widths = [0usize; 6];
        for (i, w) in widths.iter_mut().enumerate() {
            *w = rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(HEADERS[i].len()))
                .max()
                .unwrap_or(0);
        }
        let fixed: usize = widths.iter().map(|w| w + 2).sum();
        let summary_width = width.map(|w| w.saturating_sub(fixed).max(20));
        let write_row = |out: &mut dyn Write, cells: [&str; 6], summary: &str| {
            for (cell, w) in cells.iter().zip(widths) {
                write!(out, "{cell:<w$}  ")?;
            }
            let Some(max) = summary_width else {
                return writeln!(out, "{summary}");
            };
            for (n, part) in wrap(summary, max).iter().enumerate() {
                if n > 0 {
                    write!(out, "{:fixed$}", "")?;
                }
                writeln!(out, "{part}")?;
            }
            Ok(())
        };
        let [h0, h1, h2, h3, h4, h5, h6] = HEADERS;
        write_row(out, [h0, h1, h2, h3, h4, h5], h6)?;
        for (row, s) in rows.iter().zip(list) {
            write_row(out, *row, &s.summary)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_protocol_choices() {
        assert_eq!(parse_protocols("all"), Ok(Protocols::All));
        assert_eq!(
            parse_protocols("3.1.1"),
            Ok(Protocols::One(Protocol::V3_1_1))
        );
        assert_eq!(parse_protocols("5.0"), Ok(Protocols::One(Protocol::V5_0)));
        assert!(parse_protocols("4").is_err());
        assert_eq!(parse_level("must-not"), Ok(Level::MustNot));
        assert!(parse_level("required").is_err());
    }

    #[test]
    fn wraps_long_summaries() {
        assert_eq!(wrap("short", 10), vec!["short"]);
        assert_eq!(wrap("", 10), vec![""]);
        let lines = wrap("a rather long summary text", 10);
        assert_eq!(lines, vec!["a rather", "long", "summary", "text"]);
        assert_eq!(
            wrap("unbreakablewordhere x", 5),
            vec!["unbreakablewordhere", "x"]
        );
    }

    #[test]
    fn table_lists_the_filtered_statements() {
        let list: Vec<&'static Statement> = catalogue(Protocol::V3_1_1)
            .iter()
            .filter(|s| s.has_tag("pingreq"))
            .collect();
        assert!(!list.is_empty());
        let mut out = Vec::new();
        write_table(&mut out, &[(Protocol::V3_1_1, list.clone())], Some(80)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("{} of 141", list.len())), "{text}");
        for s in &list {
            assert!(text.contains(&s.id), "{text}");
        }
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");

        let mut json = Vec::new();
        write_json(&mut json, &[(Protocol::V3_1_1, list.clone())]).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let array = value.as_array().unwrap();
        assert_eq!(array.len(), list.len());
        assert!(array.iter().all(|v| v["protocol"] == "3.1.1"));
    }
}
