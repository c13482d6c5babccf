//! The results model (`results.json`) and its renderers: JUnit XML, Markdown, one-file HTML
//! and comparisons of several runs.
//!
//! The conformance suite fills in a [`Results`] (see [`model`] for an example) and calls
//! [`write_all`], which writes `results.json`, `junit.xml`, `report.md` and `report.html` into a
//! directory. `mqtt-conform report` reads results back with [`Results::load`] and re-renders
//! them, or compares several runs with [`Comparison`].
//!
//! Every renderer is a pure function of its input: the same results give the same bytes.
#![forbid(unsafe_code)]

pub mod compare;
pub mod coverage;
mod escape;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod summary;

use std::path::Path;

pub use compare::Comparison;
pub use coverage::{Catalogue, SpecCatalogue};
pub use model::{
    chapter_of, now_rfc3339, Broker, Direction, LoadError, Protocol, Results, Run, TestLevel,
    TestResult, Tool, TraceEntry, Verdict, SCHEMA_VERSION, TOOL_NAME,
};
pub use summary::Counts;

/// The file names [`write_all`] writes.
pub const RESULTS_JSON: &str = "results.json";
/// JUnit XML file name.
pub const JUNIT_XML: &str = "junit.xml";
/// Markdown report file name.
pub const REPORT_MD: &str = "report.md";
/// HTML report file name.
pub const REPORT_HTML: &str = "report.html";

/// Why the reports could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file or the directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The JUnit serializer failed.
    #[error("cannot render junit.xml: {0}")]
    Junit(#[from] quick_junit::SerializeError),
}

/// Writes `results.json`, `junit.xml`, `report.md` and `report.html` into `dir` (created if
/// missing), with the statement catalogue of `mqtt-spec` for coverage.
pub fn write_all(results: &Results, dir: &Path) -> Result<(), WriteError> {
    write_all_with(results, dir, &SpecCatalogue)
}

/// [`write_all`] with another statement catalogue.
pub fn write_all_with(
    results: &Results,
    dir: &Path,
    catalogue: &dyn Catalogue,
) -> Result<(), WriteError> {
    write_files(dir, &[(RESULTS_JSON, results.to_json_pretty())])?;
    write_rendered(results, dir, catalogue)
}

/// Writes the renderings only (`junit.xml`, `report.md`, `report.html`) into `dir` (created
/// if missing), leaving any `results.json` there untouched: for re-rendering a results file
/// in place.
pub fn write_rendered(
    results: &Results,
    dir: &Path,
    catalogue: &dyn Catalogue,
) -> Result<(), WriteError> {
    let files = [
        (JUNIT_XML, junit::render(results, catalogue)?),
        (REPORT_MD, markdown::render(results, catalogue)),
        (REPORT_HTML, html::render(results, catalogue)),
    ];
    write_files(dir, &files)
}

/// Writes `comparison.md`, `comparison.html` and `comparison.json` into `dir` (created if
/// missing).
pub fn write_comparison(
    comparison: &Comparison,
    dir: &Path,
    catalogue: &dyn Catalogue,
) -> Result<(), WriteError> {
    let files = [
        (
            "comparison.md",
            compare::render_markdown(comparison, catalogue),
        ),
        (
            "comparison.html",
            compare::render_html(comparison, catalogue),
        ),
        ("comparison.json", comparison.to_json_pretty()),
    ];
    write_files(dir, &files)
}

fn write_files(dir: &Path, files: &[(&str, String)]) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| WriteError::Io { path, source })?;
    }
    Ok(())
}
