//! The results model (`results.json`) and its renderers: JUnit XML, Markdown, one-file HTML
//! and comparisons of several runs.
#![forbid(unsafe_code)]
