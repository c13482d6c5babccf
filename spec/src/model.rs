//! The serde model of one entry of the data files. This module is also compiled into the build
//! script (through `#[path]`), which validates the data files with the very same types.

use serde::{Deserialize, Serialize};

/// How strong a statement is (the standard's keyword).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// MUST (or REQUIRED, SHALL).
    Must,
    /// MUST NOT (or SHALL NOT).
    MustNot,
    /// SHOULD (or SHOULD NOT, RECOMMENDED).
    Should,
    /// MAY (OPTIONAL): the statement describes a permitted choice.
    May,
}

/// Whom a statement binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// Only the server; testable against a broker.
    Server,
    /// Only the client; not testable against a broker (the server-side consequence, if any, is
    /// a separate statement).
    Client,
    /// Both sides (usually a wire-format rule for every sender or receiver).
    Both,
}

/// Whether a test outside the implementation can see the statement being kept or broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Observable {
    /// In the bytes the peer sends in direct reply, or in the peer closing the connection.
    Wire,
    /// Only through a sequence of interactions (later deliveries, retained messages, sessions
    /// across connections, other clients).
    Behaviour,
    /// Not visible to an outside peer at all (storage, internal processing, transport choice).
    InternalOnly,
}

/// One entry of `data/mqtt-v*.yaml` exactly as written there (without the protocol, which is
/// given by the file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub section: String,
    pub level: Level,
    pub actor: Actor,
    pub summary: String,
    pub tags: Vec<String>,
    pub observable: Observable,
    #[serde(default)]
    pub aliases: Vec<String>,
}
