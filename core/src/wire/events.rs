//! The data of a job's events: what a node posts and readers get back on the SSE stream
//! (reference §3.5). Nodes may send more or fewer fields; readers take what is there.
use serde::{Deserialize, Serialize};

/// Token counts as the backend reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// `meta`: who runs the job, on what.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaData {
    pub provider_node_id: Option<String>,
    pub provider_name: Option<String>,
    pub model: Option<String>,
    pub started_at: Option<String>,
    /// The backend's id (`engine:<kind>` in the reference).
    pub engine: Option<String>,
}

/// `token`: a piece of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenData {
    pub text: String,
}

/// `done`: the whole answer and why it ended (`stop`, `length`, `cancel`). A node sends
/// `usage` (`null` when unknown); the server's own `done` (for a node that sent none) has no
/// `usage`, and no `finished_at` when it closes a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DoneData {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage: Option<Option<Usage>>,
}

impl DoneData {
    pub fn usage(&self) -> Usage {
        self.usage.flatten().unwrap_or_default()
    }
}

/// `error`: why the job failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorData {
    pub message: Option<String>,
}
