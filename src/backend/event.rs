//! The one chat event stream every consumer reads (`infernet chat --json`, REST streams, the TUI,
//! the control plane): `meta`, `token`, `done`, `error`, one JSON object per event.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// One chat turn for a backend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub id: String,
    pub messages: Vec<Message>,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoneReason {
    Stop,
    Length,
    Cancel,
}

impl DoneReason {
    /// OpenAI's `finish_reason` / Ollama's `done_reason`; anything else ends like a stop.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "length" => DoneReason::Length,
            _ => DoneReason::Stop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChatEvent {
    Meta {
        id: String,
        backend: String,
        model: String,
        started_at: String,
    },
    Token {
        id: String,
        text: String,
    },
    Done {
        id: String,
        reason: DoneReason,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        finished_at: String,
    },
    Error {
        id: String,
        message: String,
    },
}

pub use crate::clock::{now_rfc3339, rfc3339_ms};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_schema_with_a_type_tag() {
        let e = ChatEvent::Done {
            id: "c1".into(),
            reason: DoneReason::Length,
            text: "hi".into(),
            usage: Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 1,
            }),
            finished_at: "2026-11-22T00:00:00.000Z".into(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "done", "id": "c1", "reason": "length", "text": "hi",
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}, "finished_at": "2026-11-22T00:00:00.000Z"})
        );
        let t = serde_json::to_value(ChatEvent::Token {
            id: "c1".into(),
            text: "x".into(),
        })
        .unwrap();
        assert_eq!(
            t,
            serde_json::json!({"type": "token", "id": "c1", "text": "x"})
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T");
    }
}
