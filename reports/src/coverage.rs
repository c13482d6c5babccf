//! Statement coverage: for every statement of the standard, which tests check it and how they
//! fared, and for statements no test checks, why.
//!
//! The statements come from a [`Catalogue`]: [`SpecCatalogue`] is the real one (the `mqtt-spec`
//! crate); tests use small hand-built catalogues so that snapshots do not move when the
//! catalogue's wording does.

use crate::model::{chapter_key, Protocol, Results, TestResult, Verdict};

pub use mqtt_spec::{Actor, Level, Observable};

/// What the coverage view needs to know of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    /// `MQTT-3.1.2-4`.
    pub id: String,
    /// The section it is in (`3.1.2.4`).
    pub section: String,
    /// MUST, MUST NOT, SHOULD or MAY.
    pub level: Level,
    /// Who it binds.
    pub actor: Actor,
    /// Whether it can be observed from outside.
    pub observable: Observable,
    /// One line in the project's own words.
    pub summary: String,
    /// Older ids of the same statement that tests may still use.
    pub aliases: Vec<String>,
}

/// A source of statements and chapter titles.
pub trait Catalogue {
    /// Every statement of the standard of `protocol`, in catalogue order.
    fn statements(&self, protocol: Protocol) -> Vec<StatementInfo>;
    /// The title of a chapter (`3.1` -> `CONNECT – Connection Request`), if known.
    fn chapter_title(&self, protocol: Protocol, chapter: &str) -> Option<String>;
}

/// The catalogue of the `mqtt-spec` crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecCatalogue;

impl Catalogue for SpecCatalogue {
    fn statements(&self, protocol: Protocol) -> Vec<StatementInfo> {
        mqtt_spec::catalogue(protocol)
            .iter()
            .map(|s| StatementInfo {
                id: s.id.clone(),
                section: s.section.clone(),
                level: s.level,
                actor: s.actor,
                observable: s.observable,
                summary: s.summary.clone(),
                aliases: s.aliases.clone(),
            })
            .collect()
    }

    fn chapter_title(&self, protocol: Protocol, chapter: &str) -> Option<String> {
        mqtt_spec::chapter_title(protocol, chapter).map(str::to_string)
    }
}

/// Why no test checks a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncovered {
    /// The statement binds clients only: a broker test cannot check it.
    ClientOnly,
    /// It cannot be observed from outside the broker.
    InternalOnly,
    /// It could be checked, but no test in this run does.
    NoTestYet,
}

impl Uncovered {
    /// A short reason for people.
    pub fn reason(self) -> &'static str {
        match self {
            Uncovered::ClientOnly => "client-only: binds clients, not the broker",
            Uncovered::InternalOnly => "internal-only: not observable from outside the broker",
            Uncovered::NoTestYet => "no test yet",
        }
    }

    /// A one-word key (`client-only`, `internal-only`, `no-test`).
    pub fn key(self) -> &'static str {
        match self {
            Uncovered::ClientOnly => "client-only",
            Uncovered::InternalOnly => "internal-only",
            Uncovered::NoTestYet => "no-test",
        }
    }
}

/// One statement and the tests of the run that check it.
#[derive(Debug, Clone)]
pub struct StatementCoverage<'a> {
    /// The statement.
    pub statement: StatementInfo,
    /// The tests that name it (by id or alias), in run order.
    pub tests: Vec<&'a TestResult>,
}

impl StatementCoverage<'_> {
    /// Why no test checks it, or `None` if some test does.
    pub fn uncovered(&self) -> Option<Uncovered> {
        if !self.tests.is_empty() {
            None
        } else if self.statement.actor == Actor::Client {
            Some(Uncovered::ClientOnly)
        } else if self.statement.observable == Observable::InternalOnly {
            Some(Uncovered::InternalOnly)
        } else {
            Some(Uncovered::NoTestYet)
        }
    }

    /// The verdict that sums up its tests: the worst of fail, error, inconclusive, advisory,
    /// then pass, then skip; `None` when no test checks it.
    pub fn status(&self) -> Option<Verdict> {
        const ORDER: [Verdict; 6] = [
            Verdict::Fail,
            Verdict::Error,
            Verdict::Inconclusive,
            Verdict::Advisory,
            Verdict::Pass,
            Verdict::Skip,
        ];
        ORDER
            .into_iter()
            .find(|v| self.tests.iter().any(|t| t.verdict == *v))
    }
}

/// The coverage of one protocol version.
#[derive(Debug, Clone)]
pub struct ProtocolCoverage<'a> {
    /// The protocol version.
    pub protocol: Protocol,
    /// Every statement of its catalogue, in catalogue order.
    pub statements: Vec<StatementCoverage<'a>>,
    /// Statement ids that tests name but the catalogue does not know, with the tests.
    pub unknown: Vec<(String, Vec<&'a TestResult>)>,
}

impl ProtocolCoverage<'_> {
    /// How many statements some test checks.
    pub fn covered(&self) -> usize {
        self.statements
            .iter()
            .filter(|s| !s.tests.is_empty())
            .count()
    }

    /// How many statements have a given reason for being unchecked.
    pub fn uncovered(&self, why: Uncovered) -> usize {
        self.statements
            .iter()
            .filter(|s| s.uncovered() == Some(why))
            .count()
    }
}

/// Coverage of every protocol version of the run, over the statements of `catalogue`.
pub fn coverage<'a>(results: &'a Results, catalogue: &dyn Catalogue) -> Vec<ProtocolCoverage<'a>> {
    crate::summary::by_protocol(results)
        .into_iter()
        .map(|(p, _)| protocol_coverage(results, catalogue, p))
        .collect()
}

fn protocol_coverage<'a>(
    results: &'a Results,
    catalogue: &dyn Catalogue,
    protocol: Protocol,
) -> ProtocolCoverage<'a> {
    let tests: Vec<&TestResult> = results
        .tests
        .iter()
        .filter(|t| t.protocol == protocol)
        .collect();
    let statements: Vec<StatementCoverage<'a>> = catalogue
        .statements(protocol)
        .into_iter()
        .map(|s| {
            let checking = tests
                .iter()
                .copied()
                .filter(|t| {
                    t.statements
                        .iter()
                        .any(|id| *id == s.id || s.aliases.iter().any(|a| a == id))
                })
                .collect();
            StatementCoverage {
                statement: s,
                tests: checking,
            }
        })
        .collect();
    let mut unknown: Vec<(String, Vec<&TestResult>)> = Vec::new();
    for t in &tests {
        for id in &t.statements {
            let known = statements
                .iter()
                .any(|s| s.statement.id == *id || s.statement.aliases.iter().any(|a| a == id));
            if known {
                continue;
            }
            match unknown.iter_mut().find(|(u, _)| u == id) {
                Some((_, ts)) => ts.push(t),
                None => unknown.push((id.clone(), vec![*t])),
            }
        }
    }
    unknown.sort_by(|a, b| a.0.cmp(&b.0));
    ProtocolCoverage {
        protocol,
        statements,
        unknown,
    }
}

/// The chapters of a catalogue's statements in order, for grouping.
pub(crate) fn sorted_chapters(statements: &[StatementCoverage<'_>]) -> Vec<String> {
    let mut chapters: Vec<String> = statements
        .iter()
        .map(|s| crate::model::chapter_of(&s.statement.section).to_string())
        .collect();
    chapters.sort_by_key(|c| chapter_key(c));
    chapters.dedup();
    chapters
}

/// The level as the standard writes it: `MUST`, `MUST NOT`, `SHOULD`, `MAY`.
pub fn level_text(level: Level) -> &'static str {
    match level {
        Level::Must => "MUST",
        Level::MustNot => "MUST NOT",
        Level::Should => "SHOULD",
        Level::May => "MAY",
    }
}
