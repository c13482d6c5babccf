//! Broker profiles: what the probe cannot discover (credentials, policy, known deviations).
//!
//! ```yaml
//! name: mosquitto            # broker name for reports
//! version: "2.0.18"          # broker version for reports
//! username: alice            # credentials the suite connects with
//! password: secret
//! capabilities:              # overrides of probed capabilities (any field of Capabilities)
//!   sys_topics: true
//! refused_topics: ["forbidden/#"]   # filters the broker refuses by policy: the topic-matching tests using them skip
//! unauthorized_topic: forbidden/x   # a topic these credentials may not publish to
//! deviations:                # expected failures, each with its reason
//!   - test: v5.connect.example
//!     statement: MQTT-3.1.2-4
//!     reason: "the broker does X; the standard requires Y"
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

/// A broker profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Broker name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Broker version for reports.
    #[serde(default)]
    pub version: Option<String>,
    /// User name to connect with.
    #[serde(default)]
    pub username: Option<String>,
    /// Password to connect with.
    #[serde(default)]
    pub password: Option<String>,
    /// Capability overrides (field names of [`crate::Capabilities`]).
    #[serde(default)]
    pub capabilities: Option<Value>,
    /// Topic filters the broker refuses by policy: the topic-matching tests (`topics.*`) whose
    /// filters or topics fall under one of them skip (see [`Profile::refused`]).
    #[serde(default)]
    pub refused_topics: Vec<String>,
    /// A topic the suite's credentials may not publish to (authorization tests skip without).
    #[serde(default)]
    pub unauthorized_topic: Option<String>,
    /// Known deviations: expected failures with reasons.
    #[serde(default)]
    pub deviations: Vec<Deviation>,
}

/// An expected failure.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The result id (`v5.connect.example`).
    pub test: String,
    /// The statement the broker breaks.
    #[serde(default)]
    pub statement: Option<String>,
    /// Why.
    pub reason: String,
    /// The deviation depends on timing inside the broker: the test may also pass.
    #[serde(default)]
    pub intermittent: bool,
}

/// Error loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file cannot be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid profile.
    #[error("invalid profile {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Why (with line and column).
        message: String,
    },
}

impl Profile {
    /// Loads a profile from YAML.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Profile::parse(&text).map_err(|message| ProfileError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses a profile from YAML text.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let p: Profile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(caps) = &p.capabilities {
            // Validate the overrides now, so a typo is an error before any test runs.
            let mut base =
                serde_yaml::to_value(crate::Capabilities::default()).map_err(|e| e.to_string())?;
            merge(&mut base, caps).map_err(|e| format!("capabilities: {e}"))?;
            serde_yaml::from_value::<crate::Capabilities>(base)
                .map_err(|e| format!("capabilities: {e}"))?;
        }
        Ok(p)
    }

    /// Applies the capability overrides to `caps`.
    pub fn apply(&self, caps: &crate::Capabilities) -> crate::Capabilities {
        let Some(over) = &self.capabilities else {
            return caps.clone();
        };
        let Ok(mut base) = serde_yaml::to_value(caps) else {
            return caps.clone();
        };
        if merge(&mut base, over).is_err() {
            return caps.clone();
        }
        serde_yaml::from_value(base).unwrap_or_else(|_| caps.clone())
    }

    /// The entry of [`Profile::refused_topics`] that covers `topic` (a topic name, or a filter
    /// taken literally, its wildcards as plain characters), if any.
    pub fn refused(&self, topic: &str) -> Option<&str> {
        self.refused_topics
            .iter()
            .find(|f| mqtt_codec::topic_matches(f, topic))
            .map(String::as_str)
    }

    /// The deviation recorded for a result id, if any.
    pub fn deviation(&self, result_id: &str) -> Option<&Deviation> {
        self.deviations.iter().find(|d| d.test == result_id)
    }

    /// The known deviation that explains a failure of `result_id` on `statement` (the
    /// failing statement, first in the result): one for that test that names this statement,
    /// or names none. A failure of the same test on another statement is a new failure, not
    /// the known one.
    pub fn deviation_for(&self, result_id: &str, statement: Option<&str>) -> Option<&Deviation> {
        self.deviations.iter().find(|d| {
            d.test == result_id
                && match (&d.statement, statement) {
                    (None, _) => true,
                    (Some(want), Some(got)) => want == got,
                    (Some(_), None) => false,
                }
        })
    }
}

fn merge(base: &mut Value, over: &Value) -> Result<(), String> {
    let (Value::Mapping(b), Value::Mapping(o)) = (base, over) else {
        return Err("expected a mapping of capability names to values".into());
    };
    for (k, v) in o {
        if !b.contains_key(k) {
            return Err(format!("unknown capability {k:?}"));
        }
        b.insert(k.clone(), v.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deviation_explains_only_the_statement_it_names() {
        let p = Profile::parse(
            "deviations:\n  - test: v5.a\n    statement: MQTT-3.3.4-9\n    reason: r\n  - test: v5.b\n    reason: any\n",
        )
        .expect("parses");
        assert!(p.deviation_for("v5.a", Some("MQTT-3.3.4-9")).is_some());
        assert!(p.deviation_for("v5.a", Some("MQTT-4.4.0-1")).is_none());
        assert!(p.deviation_for("v5.a", None).is_none());
        assert!(p.deviation_for("v5.b", Some("MQTT-4.4.0-1")).is_some());
        assert!(p.deviation_for("v5.c", Some("MQTT-3.3.4-9")).is_none());
    }

    #[test]
    fn overrides_apply_and_typos_are_errors() {
        let p = Profile::parse("name: x\ncapabilities:\n  retain: false\n").unwrap();
        let caps = p.apply(&crate::Capabilities::default());
        assert!(!caps.retain);
        assert!(caps.wildcards);
        let e = Profile::parse("capabilities:\n  retian: false\n").unwrap_err();
        assert!(e.contains("retian"), "{e}");
        assert!(Profile::parse("bogus: 1\n").is_err());
    }

    #[test]
    fn refused_topics_cover_names_and_filters() {
        let p = Profile::parse("refused_topics: [\"forbidden/#\", \"+/secret\"]\n").unwrap();
        assert_eq!(p.refused("forbidden"), Some("forbidden/#"));
        assert_eq!(p.refused("forbidden/+/x"), Some("forbidden/#"));
        assert_eq!(p.refused("a/secret"), Some("+/secret"));
        assert_eq!(p.refused("a/b"), None);
        assert_eq!(Profile::default().refused("forbidden/x"), None);
    }
}
