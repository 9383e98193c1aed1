//! The client job API the seeds name (`POST /api/v1/jobs`, `GET /api/v1/jobs/:id`,
//! `GET /api/v1/jobs/:id/stream`). The reference documents it but answers 404; ours runs the
//! same queue as `/api/chat`. The body is `/api/chat`'s, plus `prompt` as a shorthand for one
//! user message.
use super::chat::ChatProvider;
use super::events::Usage;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/jobs` → 201.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobCreated {
    pub id: String,
    /// `assigned` once a node took it (the answer waits briefly for that), else `pending`.
    pub status: String,
    pub model: Option<String>,
    pub provider: Option<ChatProvider>,
    /// `/api/v1/jobs/<id>/stream`.
    pub stream_url: String,
}

/// `GET /api/v1/jobs/:id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobState {
    pub id: String,
    pub title: String,
    pub status: String,
    pub model: Option<String>,
    pub provider_id: Option<String>,
    pub attempt: i64,
    /// The answer, once completed.
    pub text: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

/// One SSE frame of `GET /api/v1/jobs/:id/stream`: `data: {"text": …}` per piece of the
/// answer, `data: {"error": …}` when it failed; then `data: [DONE]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobText {
    Text { text: String },
    Error { error: String },
}
