//! `POST /api/chat` and what it answers (reference §6.3): the request as a client sends it,
//! the checks the server makes (shared with the OpenAI route), the created job, and
//! `GET /api/chat/{id}/status`.
use super::WireError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `max_tokens` when the request names none.
pub const DEFAULT_MAX_TOKENS: u64 = 512;
/// Most `max_tokens` a request may ask for.
pub const MAX_TOKENS_LIMIT: u64 = 1_000_000;
/// Most messages in one request.
pub const MAX_MESSAGES: usize = 256;

/// One chat message; `role` is system, user or assistant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// `messages`: 1 to 256 `{role, content}` with a known role and string content; other
/// fields of a message are dropped.
pub fn messages(v: Option<&Value>) -> Result<Vec<ChatMessage>, WireError> {
    let list = v
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty() && l.len() <= MAX_MESSAGES)
        .ok_or_else(|| {
            WireError::Messages(
                "messages must be an array of 1 to 256 {role, content} objects".into(),
            )
        })?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            ChatMessage::deserialize(m)
                .ok()
                .filter(|m| matches!(m.role.as_str(), "system" | "user" | "assistant"))
                .ok_or_else(|| {
                    WireError::Messages(format!(
                        "messages[{i}] needs a role (system, user or assistant) and a string content"
                    ))
                })
        })
        .collect()
}

/// A `max_tokens` value sent under `name`: absent or `null` is none; anything but an integer
/// in 1..=1000000 is refused with its name, never replaced by a default.
pub fn max_tokens(name: &str, v: Option<&Value>) -> Result<Option<u64>, WireError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_TOKENS_LIMIT).contains(n))
            .map(Some)
            .ok_or_else(|| {
                WireError::Value(format!(
                    "{name} must be an integer from 1 to 1000000, found {v}"
                ))
            }),
    }
}

/// `temperature`: absent or `null` is none; anything but a number in 0..=2 is refused.
pub fn temperature(v: Option<&Value>) -> Result<Option<f64>, WireError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|t| (0.0..=2.0).contains(t))
            .map(Some)
            .ok_or_else(|| {
                WireError::Value(format!(
                    "temperature must be a number from 0 to 2, found {v}"
                ))
            }),
    }
}

/// `POST /api/chat` as a client sends it (checked: reading one runs [`ChatSubmitBody::check`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "ChatSubmitBody")]
pub struct ChatSubmit {
    pub messages: Vec<ChatMessage>,
    /// No name, or `auto`/`default`/`any`: any model a live node serves.
    #[serde(rename = "modelName", skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(rename = "maxTokens", skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// `POST /api/chat` as received, before its checks: every field as sent, so that a value of
/// the wrong kind is refused with a message that names it. `modelName` wins over `model`,
/// `maxTokens` over `max_tokens` (whichever is there, even as `null`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ChatSubmitBody {
    #[serde(default)]
    pub messages: Option<Value>,
    #[serde(rename = "modelName", default, deserialize_with = "super::present")]
    pub model_name: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub model: Option<Value>,
    #[serde(rename = "maxTokens", default, deserialize_with = "super::present")]
    pub max_tokens_camel: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub max_tokens: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub temperature: Option<Value>,
}

impl ChatSubmitBody {
    pub fn check(self) -> Result<ChatSubmit, WireError> {
        let messages = messages(self.messages.as_ref())?;
        let model = self
            .model_name
            .or(self.model)
            .and_then(|m| m.as_str().map(str::to_string));
        let max_tokens = match self.max_tokens_camel {
            Some(v) => max_tokens("maxTokens", Some(&v))?,
            None => max_tokens("max_tokens", self.max_tokens.as_ref())?,
        };
        Ok(ChatSubmit {
            messages,
            model,
            max_tokens,
            temperature: temperature(self.temperature.as_ref())?,
        })
    }
}

impl TryFrom<ChatSubmitBody> for ChatSubmit {
    type Error = WireError;
    fn try_from(b: ChatSubmitBody) -> Result<Self, WireError> {
        b.check()
    }
}

/// The reference's `provider` of a created job; ours routes through the queue and sends
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatProvider {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "nodeId")]
    pub node_id: Option<String>,
    #[serde(rename = "gpuModel")]
    pub gpu_model: Option<String>,
    pub model: Option<String>,
    /// The node's public key (the reference added it later).
    #[serde(default)]
    pub pubkey: Option<String>,
}

/// `/api/chat`'s answer: the job and where to stream it from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatCreated {
    #[serde(rename = "jobId")]
    pub job_id: String,
    #[serde(default)]
    pub status: String,
    /// `p2p` (a node runs it); the reference also says `nim`.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub provider: Option<ChatProvider>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(rename = "streamUrl", default)]
    pub stream_url: String,
}

/// 503 `{error, jobId}`: nothing live serves the model; the job is recorded as failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatRefused {
    pub error: String,
    #[serde(rename = "jobId")]
    pub job_id: String,
}

/// `GET /api/chat/{id}/status`: for readers (a browser's EventSource) that get no error text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatStatus {
    pub id: String,
    pub status: String,
    pub model_name: Option<String>,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub latest_error_message: Option<String>,
    pub attempt: i64,
    pub completed_at: Option<String>,
    pub updated_at: Option<String>,
}
