//! The control-plane wire: typed request and response bodies shared by the node's agent, the
//! control-plane server and the CLI client (reference infernet-protocol §6).
//!
//! Field names, field order and which optional fields are left out (rather than sent as
//! `null`) follow what the reference and our earlier builds put on the wire, so a node of
//! ours can join their control plane and theirs ours. Unknown fields are ignored on reading,
//! as the reference's handlers ignore them. Free-form parts (specs as the server stores them,
//! a job's input and result, stored event data) stay `serde_json::Value`.
//!
//! Nothing here is *read* through `#[serde(flatten)]`, an untagged or an internally tagged
//! enum: the node crate enables serde_json's `arbitrary_precision`, with which numbers that
//! serde buffers on the way do not read back.
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

pub mod chat;
pub mod client_jobs;
pub mod commands;
pub mod delta;
pub mod events;
pub mod jobs;
pub mod keys;
pub mod node;
pub mod openai;
pub mod payouts;
pub mod public;
pub mod receipt;
pub mod specs;

#[cfg(test)]
mod tests;

/// `{"data": …}`: every node-tier answer, and the operator views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data<T> {
    pub data: T,
}

/// `{"error": "…"}` with an HTTP status: how the control plane refuses (the OpenAI routes
/// answer with [`openai::ErrorBody`] instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Why a body was refused; the text is the 400's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// `messages` is missing, empty, too long, or one entry is not a `{role, content}`.
    Messages(String),
    /// A field has a value of the wrong kind or out of range.
    Value(String),
}

impl WireError {
    pub fn message(&self) -> &str {
        match self {
            WireError::Messages(m) | WireError::Value(m) => m,
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for WireError {}

/// What a node is to the control plane. Missing means `provider`, as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Role {
    #[default]
    Provider,
    Aggregator,
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Aggregator => "aggregator",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Result<Role, WireError> {
        match s {
            "provider" => Ok(Role::Provider),
            "aggregator" => Ok(Role::Aggregator),
            "client" => Ok(Role::Client),
            other => Err(WireError::Value(format!(
                "role '{other}' is not one of provider, aggregator, client"
            ))),
        }
    }
}

impl TryFrom<String> for Role {
    type Error = WireError;
    fn try_from(s: String) -> Result<Self, WireError> {
        Role::parse(&s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a node says a job or a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Outcome {
    Completed,
    Failed,
}

impl Outcome {
    pub fn of(ok: bool) -> Outcome {
        if ok {
            Outcome::Completed
        } else {
            Outcome::Failed
        }
    }

    pub fn is_ok(self) -> bool {
        self == Outcome::Completed
    }
}

impl TryFrom<String> for Outcome {
    type Error = WireError;
    fn try_from(s: String) -> Result<Self, WireError> {
        match s.as_str() {
            "completed" => Ok(Outcome::Completed),
            "failed" => Ok(Outcome::Failed),
            other => Err(WireError::Value(format!(
                "status must be 'completed' or 'failed', found '{other}'"
            ))),
        }
    }
}

/// Printable text as the server keeps it: no control characters, at most `max` characters.
pub fn clean_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// For `#[serde(default, deserialize_with = "present")]`: a field that is there, even as
/// `null`, reads as `Some` (so `Option<Option<T>>` tells `null` from absent, and
/// `Option<Value>` keeps a `null` that was sent).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// For `#[serde(default, deserialize_with = "null_default")]`: `null` reads as the default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
