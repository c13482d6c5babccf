//! `mqtt-conform report RESULTS.json...`: re-render one results file, or compare several.
//!
//! - One file: writes `junit.xml`, `report.md` and `report.html` (and `results.json` when the
//!   output directory is not the file's own) into `--out DIR`, by default the file's directory.
//!   With `--format`, prints that rendering to stdout instead.
//! - Several files: prints the comparison matrix (tests by runs, differences first) to stdout
//!   in `--format` (default `text`); with `--out DIR`, also writes `comparison.md`,
//!   `comparison.html` and `comparison.json` there.
//!
//! Exit status: 0 when rendered, 2 for a usage error or an unreadable or invalid results file
//! (the message names the file).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mqtt_reports::{compare, html, markdown, Comparison, Results, SpecCatalogue};

/// Output format of `mqtt-conform report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text for a terminal.
    Text,
    /// Markdown.
    Md,
    /// One self-contained HTML page.
    Html,
    /// JSON (the results document, or the comparison matrix).
    Json,
}

/// Arguments of `mqtt-conform report`.
#[derive(Debug, Default, clap::Args)]
pub struct ReportArgs {
    /// Results files written by `mqtt-conform run`; several give a comparison.
    #[arg(value_name = "RESULTS.json", required = true)]
    pub files: Vec<PathBuf>,
    /// Directory to write the reports into (one file: default is the file's directory;
    /// several files: the comparison files are written only when this is given).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print this format to stdout (several files: default text).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
}

pub fn run(args: ReportArgs) -> ExitCode {
    let mut loaded = Vec::with_capacity(args.files.len());
    for f in &args.files {
        match Results::load(f) {
            Ok(r) => loaded.push(r),
            Err(e) => return super::usage_error(e),
        }
    }
    match loaded.as_slice() {
        [] => super::usage_error("no results file given"),
        [one] => single(&args, one),
        _ => several(&args, &loaded),
    }
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => super::usage_error(format!("cannot write to stdout: {e}")),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn single(args: &ReportArgs, results: &Results) -> ExitCode {
    let file = args
        .files
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new(""));
    if let Some(format) = args.format {
        if args.out.is_none() {
            return print(&single_text(format, results));
        }
    }
    let source_dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = args.out.clone().unwrap_or_else(|| source_dir.clone());
    let in_place = same_dir(&dir, &source_dir)
        && file.file_name() == Some(std::ffi::OsStr::new(mqtt_reports::RESULTS_JSON));
    let written = if in_place {
        // Leave the source file as it is (it may hold fields this build does not know).
        mqtt_reports::write_rendered(results, &dir, &SpecCatalogue)
    } else {
        mqtt_reports::write_all(results, &dir)
    };
    if let Err(e) = written {
        return super::usage_error(e);
    }
    eprintln!(
        "wrote {}, {} and {}{} in {}",
        mqtt_reports::JUNIT_XML,
        mqtt_reports::REPORT_MD,
        mqtt_reports::REPORT_HTML,
        if in_place {
            String::new()
        } else {
            format!(" (and {})", mqtt_reports::RESULTS_JSON)
        },
        dir.display()
    );
    match args.format {
        Some(format) => print(&single_text(format, results)),
        None => ExitCode::SUCCESS,
    }
}

fn single_text(format: Format, results: &Results) -> String {
    match format {
        Format::Text => markdown::render_text(results),
        Format::Md => markdown::render(results, &SpecCatalogue),
        Format::Html => html::render(results, &SpecCatalogue),
        Format::Json => results.to_json_pretty(),
    }
}

fn several(args: &ReportArgs, loaded: &[Results]) -> ExitCode {
    let refs: Vec<&Results> = loaded.iter().collect();
    let comparison = Comparison::new(&refs);
    if let Some(dir) = &args.out {
        if let Err(e) = mqtt_reports::write_comparison(&comparison, dir, &SpecCatalogue) {
            return super::usage_error(e);
        }
        eprintln!(
            "wrote comparison.md, comparison.html and comparison.json in {}",
            dir.display()
        );
    }
    let text = match args.format.unwrap_or(Format::Text) {
        Format::Text => compare::render_text(&comparison),
        Format::Md => compare::render_markdown(&comparison, &SpecCatalogue),
        Format::Html => compare::render_html(&comparison, &SpecCatalogue),
        Format::Json => comparison.to_json_pretty(),
    };
    print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_reports::{Protocol, Run, TestLevel, TestResult, Verdict};

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("mqtt-conform-report-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("tmp dir");
        dir
    }

    fn sample(verdict: Verdict) -> Results {
        let mut r = Results::new(Run::new("embedded", vec![Protocol::V5_0]));
        r.run.started_at = "2024-05-01T12:00:00Z".into();
        let mut t = TestResult::new(
            "v5.connect.first-packet",
            "first packet",
            Protocol::V5_0,
            "3.1",
            TestLevel::Must,
            verdict,
        );
        t.statements.push("MQTT-3.1.0-1".into());
        r.tests.push(t);
        r
    }

    fn args(files: Vec<PathBuf>, out: Option<PathBuf>, format: Option<Format>) -> ReportArgs {
        ReportArgs { files, out, format }
    }

    #[test]
    fn one_file_renders_into_out_dir() {
        let dir = tmp("one");
        let src = dir.join("run.json");
        sample(Verdict::Fail).save(&src).expect("save");
        let out = dir.join("out");
        assert_eq!(
            run(args(vec![src], Some(out.clone()), None)),
            ExitCode::SUCCESS
        );
        for f in ["results.json", "junit.xml", "report.md", "report.html"] {
            assert!(out.join(f).is_file(), "{f} missing");
        }
    }

    #[test]
    fn in_place_keeps_the_source_file() {
        let dir = tmp("in-place");
        let src = dir.join("results.json");
        let mut v = serde_json::to_value(sample(Verdict::Pass)).expect("value");
        v["run"]["added_by_a_newer_writer"] = serde_json::json!(true);
        std::fs::write(&src, v.to_string()).expect("write");
        assert_eq!(run(args(vec![src.clone()], None, None)), ExitCode::SUCCESS);
        assert!(dir.join("report.html").is_file());
        let after = std::fs::read_to_string(&src).expect("read");
        assert!(after.contains("added_by_a_newer_writer"));
    }

    #[test]
    fn several_files_compare_and_write_with_out() {
        let dir = tmp("several");
        let a = dir.join("a.json");
        let b = dir.join("b.json");
        sample(Verdict::Pass).save(&a).expect("save");
        sample(Verdict::Fail).save(&b).expect("save");
        let out = dir.join("cmp");
        let code = run(args(vec![a, b], Some(out.clone()), Some(Format::Json)));
        assert_eq!(code, ExitCode::SUCCESS);
        let json = std::fs::read_to_string(out.join("comparison.json")).expect("json");
        assert!(json.contains("\"differs\": true"), "{json}");
        assert!(out.join("comparison.html").is_file());
        assert!(out.join("comparison.md").is_file());
    }

    #[test]
    fn invalid_or_missing_file_is_a_usage_error() {
        let dir = tmp("invalid");
        let good = dir.join("good.json");
        sample(Verdict::Pass).save(&good).expect("save");
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"schema_version\": 1}").expect("write");
        assert_eq!(
            run(args(vec![good.clone(), bad], None, None)),
            ExitCode::from(2)
        );
        assert_eq!(
            run(args(vec![good, dir.join("missing.json")], None, None)),
            ExitCode::from(2)
        );
        let v2 = dir.join("v2.json");
        std::fs::write(&v2, "{\"schema_version\": 2}").expect("write");
        assert_eq!(run(args(vec![v2], None, None)), ExitCode::from(2));
    }
}
