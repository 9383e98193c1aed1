//! `POST /v1/chat/completions` and `GET /v1/models`, OpenAI-compatible (reference §6.3):
//! the request with the same checks as `/api/chat`, the whole answer, the stream's chunks,
//! and the error shape.
use super::WireError;
use super::chat::{self, ChatMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A chat completion request, checked (reading one runs [`CompletionBody::check`]). Fields
/// the control plane does not use (`top_p`, `stop`, `n`, `tools`) are ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "CompletionBody")]
pub struct CompletionRequest {
    /// May be empty, `auto`, `default` or `any`: any served model.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl CompletionRequest {
    pub fn include_usage(&self) -> bool {
        self.stream_options.is_some_and(|o| o.include_usage)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// The request as received, before its checks. `max_completion_tokens` wins over
/// `max_tokens`; `stream` and `include_usage` that are not booleans mean false.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct CompletionBody {
    #[serde(default)]
    pub messages: Option<Value>,
    #[serde(default)]
    pub model: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub max_completion_tokens: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub max_tokens: Option<Value>,
    #[serde(default, deserialize_with = "super::present")]
    pub temperature: Option<Value>,
    #[serde(default)]
    pub stream: Option<Value>,
    #[serde(default)]
    pub stream_options: Option<Value>,
}

impl CompletionBody {
    pub fn check(self) -> Result<CompletionRequest, WireError> {
        let messages = chat::messages(self.messages.as_ref())?;
        let max_tokens = match self.max_completion_tokens {
            Some(v) => chat::max_tokens("max_completion_tokens", Some(&v))?,
            None => chat::max_tokens("max_tokens", self.max_tokens.as_ref())?,
        };
        let include_usage = self
            .stream_options
            .as_ref()
            .and_then(|o| StreamOptions::deserialize(o).ok())
            .is_some_and(|o| o.include_usage);
        Ok(CompletionRequest {
            model: self
                .model
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            messages,
            max_tokens,
            temperature: chat::temperature(self.temperature.as_ref())?,
            stream: self
                .stream
                .as_ref()
                .and_then(Value::as_bool)
                .unwrap_or(false),
            stream_options: include_usage.then_some(StreamOptions {
                include_usage: true,
            }),
        })
    }
}

impl TryFrom<CompletionBody> for CompletionRequest {
    type Error = WireError;
    fn try_from(b: CompletionBody) -> Result<Self, WireError> {
        b.check()
    }
}

/// `chat.completion`: the whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Completion {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: CompletionUsage,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: ChatMessage,
    /// stop or length.
    pub finish_reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompletionUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl CompletionUsage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// `chat.completion.chunk`: one `data:` line of the stream. The last chunks carry no choice,
/// and either `usage` (when asked for) or an `error` (the job failed mid-stream).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Chunk {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    /// `null` until the last chunk.
    pub finish_reason: Option<String>,
}

/// What a chunk adds: the role (first chunk), a piece of content, or nothing (last chunk).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `{"error": {message, type, code}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    /// `infernet_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// invalid_json, invalid_messages, invalid_value, no_provider, too_many_readers,
    /// job_failed.
    pub code: String,
}

impl ErrorDetail {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: "infernet_error".into(),
            code: code.to_string(),
        }
    }
}

/// `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<Model>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Model {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub owned_by: String,
}
