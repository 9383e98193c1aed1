//! LLM backends behind one trait and one event stream: Ollama and every OpenAI-compatible
//! server (vLLM, SGLang, llama.cpp's llama-server, Modular MAX).
pub mod detect;
mod event;
mod kind;
mod ollama;
mod openai;
mod registry;
mod sse;
mod stub;

pub use event::{ChatEvent, ChatRequest, DoneReason, Message, Usage, now_rfc3339};
pub use kind::{BackendKind, normalise_url};
pub use ollama::OllamaBackend;
pub use openai::OpenAiBackend;
pub use registry::{Backends, build_backend, resolve_backend};
pub use stub::{STUB_MODEL, StubBackend};

use futures::stream::BoxStream;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BackendError {
    #[error("{kind} backend unreachable at {url}: {cause}; {hint}")]
    Unreachable {
        kind: &'static str,
        url: String,
        cause: String,
        hint: &'static str,
    },
    #[error("{kind} HTTP {status}: {message}")]
    Http {
        kind: &'static str,
        status: u16,
        message: String,
    },
    #[error("{0}")]
    Protocol(String),
}

/// A model a backend can serve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

pub trait ChatBackend: Send + Sync + std::fmt::Debug {
    /// The configured id (`llm`), or the kind name for an ad-hoc backend.
    fn id(&self) -> &str;
    fn kind(&self) -> BackendKind;
    fn url(&self) -> &str;
    fn default_model(&self) -> Option<&str>;
    /// Streams one chat turn: `meta`, `token`*, then `done` or `error`. Cancelling ends the
    /// request on the server (the connection is closed) and yields `done{reason: cancel}`.
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent>;
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>>;
}

/// Root cause text of a reqwest error ("Connection refused (os error 111)").
pub(crate) fn cause(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The backend's own error message from a JSON error body, else the body's start.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let m = v
            .pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"));
        if let Some(m) = m.and_then(|m| m.as_str()) {
            return m.to_string();
        }
    }
    let s = String::from_utf8_lossy(body);
    s.chars().take(200).collect()
}
