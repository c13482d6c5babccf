//! The catalogue of every normative statement of MQTT 3.1.1 and 5.0.
//!
//! The data lives in `data/mqtt-v3.1.1.yaml` and `data/mqtt-v5.0.yaml` (one entry per statement
//! id of the OASIS standards, summarized in the project's own words). This crate embeds both
//! files, parses each once, and offers:
//!
//! - [`catalogue`] and [`lookup`] to read the statements at run time,
//! - [`StatementId`] and the macros [`v311!`], [`v5!`] and [`statement!`], which check at compile
//!   time that an id exists, so that a typo in an id is a build failure,
//! - [`chapter_title`] to group statements by section of the standard.
//!
//! ```
//! use mqtt_spec::{lookup, Protocol, StatementId};
//!
//! const CLEAN_SESSION: StatementId = mqtt_spec::v311!("MQTT-3.1.2-4");
//! let statement = lookup(Protocol::V3_1_1, CLEAN_SESSION.as_str()).unwrap();
//! assert_eq!(statement.section, "3.1.2.4");
//! assert_eq!(mqtt_spec::chapter_title(Protocol::V3_1_1, "3.1.2.4"), Some("CONNECT - Connection request"));
//! ```
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod model;
mod titles;

pub use model::{Actor, Level, Observable};

/// A version of the MQTT standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V3_1_1,
    /// MQTT 5.0 (protocol level 5).
    V5_0,
}

impl Protocol {
    /// Both versions, oldest first.
    pub const ALL: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5_0];

    /// The printed version: `"3.1.1"` or `"5.0"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::V3_1_1 => "3.1.1",
            Protocol::V5_0 => "5.0",
        }
    }

    /// The Protocol Level byte of CONNECT: 4 for 3.1.1, 5 for 5.0.
    pub const fn level(self) -> u8 {
        match self {
            Protocol::V3_1_1 => 4,
            Protocol::V5_0 => 5,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Protocol::from_str`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown MQTT protocol version `{0}` (expected 3.1.1 or 5.0)")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    /// Accepts `3.1.1`, `311`, `5`, `5.0` (and the same with a leading `v`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let bare = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);
        match bare {
            "3.1.1" | "311" => Ok(Protocol::V3_1_1),
            "5" | "5.0" | "50" => Ok(Protocol::V5_0),
            _ => Err(UnknownProtocol(s.to_owned())),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One normative statement of one version of the standard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The version of the standard the statement belongs to.
    pub protocol: Protocol,
    /// The statement id as the standard prints it in Appendix B, e.g. `MQTT-3.1.2-4`.
    pub id: String,
    /// The section of the standard containing the statement, e.g. `3.1.2.4`.
    pub section: String,
    /// MUST, MUST NOT, SHOULD or MAY.
    pub level: Level,
    /// Whom the statement binds.
    pub actor: Actor,
    /// The project's own short summary (read the standard for the authoritative text).
    pub summary: String,
    /// Packet types (lowercase, e.g. `connect`) and features (e.g. `retain`, `session`).
    pub tags: Vec<String>,
    /// Whether an outside test can observe the statement.
    pub observable: Observable,
    /// Other printed forms of the id (misprints in the standard).
    pub aliases: Vec<String>,
}

impl Statement {
    /// The id of this catalogue entry as a [`StatementId`].
    pub fn statement_id(&'static self) -> StatementId {
        StatementId(self.id.as_str())
    }

    /// Whether the statement carries the given tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether `id` (without brackets) is this statement's id or one of its aliases.
    pub fn is_named(&self, id: &str) -> bool {
        self.id == id || self.aliases.iter().any(|a| a == id)
    }
}

fn embedded_yaml(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V3_1_1 => include_str!(concat!(env!("OUT_DIR"), "/mqtt-v3.1.1.yaml")),
        Protocol::V5_0 => include_str!(concat!(env!("OUT_DIR"), "/mqtt-v5.0.yaml")),
    }
}

fn parse(protocol: Protocol) -> Vec<Statement> {
    // The embedded text was validated and normalized by build.rs, so it parses; should it not,
    // the catalogue is empty and the crate's count tests fail.
    let entries: Vec<model::Entry> =
        serde_yaml::from_str(embedded_yaml(protocol)).unwrap_or_default();
    entries
        .into_iter()
        .map(|e| Statement {
            protocol,
            id: e.id,
            section: e.section,
            level: e.level,
            actor: e.actor,
            summary: e.summary,
            tags: e.tags,
            observable: e.observable,
            aliases: e.aliases,
        })
        .collect()
}

/// Every statement of one version, in the order of the standard's Appendix B.
pub fn catalogue(protocol: Protocol) -> &'static [Statement] {
    static V3_1_1: OnceLock<Vec<Statement>> = OnceLock::new();
    static V5_0: OnceLock<Vec<Statement>> = OnceLock::new();
    let cell = match protocol {
        Protocol::V3_1_1 => &V3_1_1,
        Protocol::V5_0 => &V5_0,
    };
    cell.get_or_init(|| parse(protocol))
}

/// Strips surrounding whitespace and one pair of square brackets: `[MQTT-3.1.2-4]`.
fn bare_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .map(str::trim)
        .unwrap_or(id)
}

/// The statement of one version with the given id or alias; `id` may be written in brackets.
pub fn lookup(protocol: Protocol, id: &str) -> Option<&'static Statement> {
    let id = bare_id(id);
    catalogue(protocol).iter().find(|s| s.is_named(id))
}

/// The title of the part of the standard a section belongs to: the second-level section
/// (`"3.1"` and `"3.1.2.4"` both give the CONNECT title), or the chapter for a one-number
/// section (`"6"`). Covers chapters 1 to 7. The titles are short forms of the standard's headings.
pub fn chapter_title(protocol: Protocol, section: &str) -> Option<&'static str> {
    let mut parts = section.trim().split('.');
    let chapter = parts.next().filter(|c| !c.is_empty())?;
    let table = titles::table(protocol);
    if let Some(sub) = parts.next() {
        let key = format!("{chapter}.{sub}");
        if let Some((_, title)) = table.iter().find(|(k, _)| *k == key) {
            return Some(title);
        }
    }
    table.iter().find(|(k, _)| *k == chapter).map(|(_, t)| *t)
}

/// A statement id that is known to exist in a catalogue.
///
/// Made by the macros [`v311!`], [`v5!`] and [`statement!`] (checked at compile time), by
/// [`StatementId::find`] or [`Statement::statement_id`] (checked at run time). It serializes as
/// the id string; deserializing accepts any id or alias of either catalogue and gives the
/// canonical id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementId(&'static str);

impl StatementId {
    /// The id, e.g. `"MQTT-3.1.2-4"`.
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The canonical id of a statement of `protocol` named `id` (an id or alias, brackets
    /// allowed), if it exists.
    pub fn find(protocol: Protocol, id: &str) -> Option<StatementId> {
        lookup(protocol, id).map(Statement::statement_id)
    }

    /// The id of `id` in either catalogue (3.1.1 is tried first).
    pub fn find_any(id: &str) -> Option<StatementId> {
        Protocol::ALL
            .into_iter()
            .find_map(|p| StatementId::find(p, id))
    }

    /// The statement with this id in the given version, if that version has it.
    pub fn statement(self, protocol: Protocol) -> Option<&'static Statement> {
        lookup(protocol, self.0)
    }

    /// Used by the macros after their compile-time check. Not part of the public API.
    #[doc(hidden)]
    pub const fn __checked(id: &'static str) -> StatementId {
        StatementId(id)
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for StatementId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for StatementId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StatementId::find_any(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown MQTT statement id `{text}`")))
    }
}

/// Support for the macros. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    include!(concat!(env!("OUT_DIR"), "/ids.rs"));

    /// `a == b`, usable in constants.
    pub const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Whether `list` contains `id`, usable in constants.
    pub const fn contains(list: &[&str], id: &str) -> bool {
        let mut i = 0;
        while i < list.len() {
            if str_eq(list[i], id) {
                return true;
            }
            i += 1;
        }
        false
    }
}

/// A [`StatementId`] of MQTT 3.1.1, checked at compile time: `v311!("MQTT-3.1.2-4")`.
#[macro_export]
macro_rules! v311 {
    ($id:literal) => {{
        const __MQTT_SPEC_ID: $crate::StatementId = {
            ::core::assert!(
                $crate::__private::contains($crate::__private::V3_1_1_IDS, $id),
                ::core::concat!("not an MQTT 3.1.1 statement id: ", $id)
            );
            $crate::StatementId::__checked($id)
        };
        __MQTT_SPEC_ID
    }};
}

/// A [`StatementId`] of MQTT 5.0, checked at compile time: `v5!("MQTT-3.1.2-4")`.
#[macro_export]
macro_rules! v5 {
    ($id:literal) => {{
        const __MQTT_SPEC_ID: $crate::StatementId = {
            ::core::assert!(
                $crate::__private::contains($crate::__private::V5_0_IDS, $id),
                ::core::concat!("not an MQTT 5.0 statement id: ", $id)
            );
            $crate::StatementId::__checked($id)
        };
        __MQTT_SPEC_ID
    }};
}

/// A [`StatementId`] that exists in MQTT 3.1.1 or in MQTT 5.0, checked at compile time:
/// `statement!("MQTT-3.1.2-4")`.
#[macro_export]
macro_rules! statement {
    ($id:literal) => {{
        const __MQTT_SPEC_ID: $crate::StatementId = {
            ::core::assert!(
                $crate::__private::contains($crate::__private::V3_1_1_IDS, $id)
                    || $crate::__private::contains($crate::__private::V5_0_IDS, $id),
                ::core::concat!("not an MQTT statement id: ", $id)
            );
            $crate::StatementId::__checked($id)
        };
        __MQTT_SPEC_ID
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_parses_and_prints() {
        for (text, p) in [
            ("3.1.1", Protocol::V3_1_1),
            ("311", Protocol::V3_1_1),
            ("5", Protocol::V5_0),
            ("5.0", Protocol::V5_0),
        ] {
            assert_eq!(text.parse::<Protocol>(), Ok(p));
        }
        assert!("3.1".parse::<Protocol>().is_err());
        assert!("6".parse::<Protocol>().is_err());
        assert_eq!(Protocol::V3_1_1.to_string(), "3.1.1");
        assert_eq!(Protocol::V5_0.to_string(), "5.0");
    }

    #[test]
    fn const_string_helpers() {
        assert!(__private::str_eq("MQTT-1", "MQTT-1"));
        assert!(!__private::str_eq("MQTT-1", "MQTT-2"));
        assert!(!__private::str_eq("MQTT-1", "MQTT-10"));
        assert!(__private::contains(&["a", "bb"], "bb"));
        assert!(!__private::contains(&["a", "bb"], "b"));
    }

    #[test]
    fn bare_id_strips_brackets() {
        assert_eq!(bare_id(" [MQTT-3.1.2-4] "), "MQTT-3.1.2-4");
        assert_eq!(bare_id("MQTT-3.1.2-4"), "MQTT-3.1.2-4");
        assert_eq!(bare_id("[MQTT-3.1.2-4"), "[MQTT-3.1.2-4");
    }
}
