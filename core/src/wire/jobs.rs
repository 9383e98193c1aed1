//! Chat jobs on the node tier (reference §6.1): poll (a lease), events, complete; and the job
//! row the poll and the SSE `job` frame carry.
use super::chat::ChatMessage;
use super::events::{DoneData, ErrorData, MetaData, TokenData, Usage};
use super::{Outcome, WireError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most events in one `events` call.
pub const MAX_EVENTS: usize = 200;

/// `POST /api/v1/node/jobs/poll`. `limit` is 1..=25 (default 5); `wait_ms` (ours, up to 25 s)
/// holds the call until a job arrives instead of answering empty at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobPoll {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// The poll's answer: the jobs leased to the caller. `J` is [`JobRow`] as the server sends
/// it; the agent reads only what it runs ([`AssignedJob`]), so a control plane that sends
/// fewer or other columns (the reference's) still works.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "J: Deserialize<'de>"))]
pub struct Jobs<J = JobRow> {
    #[serde(default)]
    pub provider_id: String,
    #[serde(default)]
    pub jobs: Vec<J>,
}

/// A chat job as the poll and the SSE `job` frame show it. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRow {
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub payment_offer: i64,
    pub payment_coin: Option<String>,
    pub model_name: Option<String>,
    /// What to run: an [`InputSpec`] for chat jobs.
    pub input_spec: Value,
    pub provider_id: Option<String>,
    /// The lease this is (1 for the first node that got it).
    pub attempt: i64,
    pub max_attempts: i64,
    pub result: Value,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub assigned_at: Option<String>,
    pub completed_at: Option<String>,
    pub client_pubkey: Option<String>,
}

/// The part of a leased job the node needs to run it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AssignedJob {
    /// A job without an id is skipped.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model_name: Option<String>,
    /// Read with [`InputSpec`] when the job runs, so one malformed job fails alone.
    #[serde(default)]
    pub input_spec: Value,
    /// Which lease of the job this is (the job row's `attempt`; absent from control planes
    /// that do not send it). Sent back with events and the outcome, so a report from an
    /// earlier lease of the same job on the same node is told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
}

/// A chat job's input. The server writes `max_tokens` and `temperature` (`null` when the
/// client named none); `maxTokens` is read from control planes that write that instead.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputSpec {
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(rename = "maxTokens", default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_camel: Option<u64>,
}

impl InputSpec {
    pub fn max_tokens(&self) -> Option<u64> {
        self.max_tokens.or(self.max_tokens_camel)
    }
}

/// What a node may post about a job. Readers also see `reset` (the server's: the job was
/// re-queued) and the `job` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum EventType {
    Meta,
    Token,
    Done,
    Error,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Meta => "meta",
            EventType::Token => "token",
            EventType::Done => "done",
            EventType::Error => "error",
        }
    }
}

impl TryFrom<String> for EventType {
    type Error = WireError;
    fn try_from(s: String) -> Result<Self, WireError> {
        match s.as_str() {
            "meta" => Ok(EventType::Meta),
            "token" => Ok(EventType::Token),
            "done" => Ok(EventType::Done),
            "error" => Ok(EventType::Error),
            other => Err(WireError::Value(format!(
                "event_type must be one of meta, token, done, error, found '{other}'"
            ))),
        }
    }
}

/// One event as a node sends it: `{"event_type": …, "data": {…}}`. Written by the agent;
/// the server reads [`PostedEvent`] and stores `data` as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event_type", content = "data", rename_all = "lowercase")]
pub enum JobEvent {
    Meta(MetaData),
    Token(TokenData),
    Done(DoneData),
    Error(ErrorData),
}

impl JobEvent {
    pub fn kind(&self) -> EventType {
        match self {
            JobEvent::Meta(_) => EventType::Meta,
            JobEvent::Token(_) => EventType::Token,
            JobEvent::Done(_) => EventType::Done,
            JobEvent::Error(_) => EventType::Error,
        }
    }
}

/// One event as the server reads it: a known type, and data kept as sent (`{}` when none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedEvent {
    pub event_type: EventType,
    #[serde(default = "empty_object")]
    pub data: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// `POST /api/v1/node/jobs/{id}/events`: 1 to 200 events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "E: Deserialize<'de>"))]
pub struct JobEvents<E = PostedEvent> {
    #[serde(default)]
    pub events: Vec<E>,
    /// This batch's first event's number in its attempt (0-based, ours only): a batch sent
    /// again (its answer lost, or sent to another replica) stores nothing twice. Absent
    /// (reference nodes): every event is stored as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    /// The attempt (lease) these events belong to (ours only): refused when the job has been
    /// leased again since. Absent: taken as the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
}

impl<E> JobEvents<E> {
    pub fn validate(&self) -> Result<(), WireError> {
        if (1..=MAX_EVENTS).contains(&self.events.len()) {
            Ok(())
        } else {
            Err(WireError::Value(
                "events must be an array of 1 to 200 events".into(),
            ))
        }
    }
}

/// `{inserted}`: events stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventsAck {
    #[serde(default)]
    pub inserted: u64,
}

/// How a job or a node command ended: `{status, result}` or `{status, error}`. `R` is the
/// result's type; the server stores any JSON (a `null` too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
pub struct Completion<R = Value> {
    pub status: Outcome,
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<R>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The attempt this outcome is for (ours only, as in [`JobEvents`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
}

impl<R> Completion<R> {
    pub fn completed(result: R) -> Self {
        Self {
            status: Outcome::Completed,
            result: Some(result),
            error: None,
            attempt: None,
        }
    }

    pub fn failed(error: String) -> Self {
        Self {
            status: Outcome::Failed,
            result: None,
            error: Some(error),
            attempt: None,
        }
    }

    /// The same outcome, for `attempt`.
    pub fn of_attempt(self, attempt: Option<i64>) -> Self {
        Self { attempt, ..self }
    }
}

/// `{id, status}` after a complete; `noop: true` when it had already ended (a retried call).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompleteAck {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub noop: bool,
}

/// A completed chat job's result, as our agent reports it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatResult {
    /// `chat`.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub token_count: u64,
    pub duration_ms: u64,
    /// The node id that ran it.
    pub completed_by: String,
    /// `null` when the backend reported none.
    pub usage: Option<Usage>,
}
