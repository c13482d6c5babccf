//! Counts of verdicts per protocol version and per chapter.

use std::collections::BTreeMap;

use crate::model::{chapter_key, Protocol, Results, TestLevel, TestResult, Verdict};

/// How many tests got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// [`Verdict::Pass`].
    pub pass: usize,
    /// [`Verdict::Fail`], including known deviations.
    pub fail: usize,
    /// Failures explained by a known deviation (a subset of `fail`).
    pub known_deviations: usize,
    /// [`Verdict::Advisory`].
    pub advisory: usize,
    /// [`Verdict::Skip`].
    pub skip: usize,
    /// [`Verdict::Inconclusive`].
    pub inconclusive: usize,
    /// [`Verdict::Error`].
    pub error: usize,
    /// MUST-level tests that passed (the numerator of [`Counts::conformance`]).
    pub must_pass: usize,
    /// SHOULD-level tests that passed.
    pub should_pass: usize,
}

impl Counts {
    /// Adds one test.
    pub fn add(&mut self, t: &TestResult) {
        match t.verdict {
            Verdict::Pass => {
                self.pass += 1;
                match t.level {
                    TestLevel::Must => self.must_pass += 1,
                    TestLevel::Should => self.should_pass += 1,
                }
            }
            Verdict::Fail => {
                self.fail += 1;
                if t.deviation.is_some() {
                    self.known_deviations += 1;
                }
            }
            Verdict::Advisory => self.advisory += 1,
            Verdict::Skip => self.skip += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
            Verdict::Error => self.error += 1,
        }
    }

    /// Counts of a list of tests.
    pub fn of<'a>(tests: impl IntoIterator<Item = &'a TestResult>) -> Counts {
        let mut c = Counts::default();
        for t in tests {
            c.add(t);
        }
        c
    }

    /// The number of tests.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.advisory + self.skip + self.inconclusive + self.error
    }

    /// The count of one verdict.
    pub fn get(&self, v: Verdict) -> usize {
        match v {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::Advisory => self.advisory,
            Verdict::Skip => self.skip,
            Verdict::Inconclusive => self.inconclusive,
            Verdict::Error => self.error,
        }
    }

    /// The conformance figure: the share of MUST-level tests with a decided outcome that
    /// passed, `must_pass / (must_pass + fail)`, in `0.0..=1.0`. Known deviations count as
    /// failures here (they are real non-conformance, only expected). SHOULD-level tests,
    /// skips, inconclusive tests and errors are left out. `None` when no MUST test was decided.
    pub fn conformance(&self) -> Option<f64> {
        let decided = self.must_pass + self.fail;
        if decided == 0 {
            None
        } else {
            Some(self.must_pass as f64 / decided as f64)
        }
    }

    /// [`Counts::conformance`] as a percentage with one decimal (`"97.5%"`), or `"n/a"`.
    /// Never shows 100% unless every decided MUST test passed.
    pub fn conformance_text(&self) -> String {
        percent_text(self.conformance())
    }
}

/// A share in `0.0..=1.0` as a percentage with one decimal (`"97.5%"`), rounded down so that
/// only a full 1.0 prints as `"100%"`; `"n/a"` for `None`.
pub fn percent_text(share: Option<f64>) -> String {
    match share {
        None => "n/a".to_string(),
        Some(f) => {
            let tenths = (f * 1000.0).floor() / 10.0;
            if f >= 1.0 {
                "100%".to_string()
            } else {
                format!("{tenths:.1}%")
            }
        }
    }
}

/// Counts per protocol version, in the order of `Results::run.protocols` then any other
/// protocol tests mention.
pub fn by_protocol(results: &Results) -> Vec<(Protocol, Counts)> {
    let mut order: Vec<Protocol> = results.run.protocols.clone();
    for t in &results.tests {
        if !order.contains(&t.protocol) {
            order.push(t.protocol);
        }
    }
    order
        .into_iter()
        .map(|p| {
            (
                p,
                Counts::of(results.tests.iter().filter(|t| t.protocol == p)),
            )
        })
        .collect()
}

/// Sorts by protocol, then chapter number.
type ChapterKey = (Protocol, (Vec<u32>, String));

/// One row of the per-chapter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterCounts {
    /// The protocol version.
    pub protocol: Protocol,
    /// The chapter (`3.1`).
    pub chapter: String,
    /// The counts of its tests.
    pub counts: Counts,
}

/// Counts per protocol version and chapter, sorted by protocol then chapter number.
pub fn by_chapter(results: &Results) -> Vec<ChapterCounts> {
    let mut map: BTreeMap<ChapterKey, Counts> = BTreeMap::new();
    for t in &results.tests {
        map.entry((t.protocol, chapter_key(&t.chapter)))
            .or_default()
            .add(t);
    }
    map.into_iter()
        .map(|((protocol, (_, chapter)), counts)| ChapterCounts {
            protocol,
            chapter,
            counts,
        })
        .collect()
}

/// The tests of `results` grouped by (protocol, chapter), groups sorted like [`by_chapter`],
/// tests in their original order within a group.
pub fn group_by_chapter(results: &Results) -> Vec<((Protocol, String), Vec<&TestResult>)> {
    let mut map: BTreeMap<ChapterKey, Vec<&TestResult>> = BTreeMap::new();
    for t in &results.tests {
        map.entry((t.protocol, chapter_key(&t.chapter)))
            .or_default()
            .push(t);
    }
    map.into_iter()
        .map(|((p, (_, c)), ts)| ((p, c), ts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Run;

    #[test]
    fn conformance_figure() {
        let mut c = Counts::default();
        assert_eq!(c.conformance_text(), "n/a");
        c.must_pass = 1999;
        c.pass = 1999;
        c.fail = 1;
        assert_eq!(c.conformance_text(), "99.9%");
        c.fail = 0;
        assert_eq!(c.conformance_text(), "100%");
    }

    #[test]
    fn chapters_sorted_numerically() {
        let mut r = Results::new(Run::new("x", vec![Protocol::V5_0]));
        for ch in ["3.10", "3.2", "1.5"] {
            r.tests.push(TestResult::new(
                "t",
                "t",
                Protocol::V5_0,
                ch,
                TestLevel::Must,
                Verdict::Pass,
            ));
        }
        let chapters: Vec<_> = by_chapter(&r).into_iter().map(|c| c.chapter).collect();
        assert_eq!(chapters, ["1.5", "3.2", "3.10"]);
    }
}
