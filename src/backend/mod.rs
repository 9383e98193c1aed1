//! LLM backends behind one trait and one event stream: Ollama and every OpenAI-compatible
//! server (vLLM, SGLang, llama.cpp's llama-server, Modular MAX).
pub mod default_model;
pub mod detect;
pub mod download;
#[cfg(feature = "embedded")]
mod embedded;
mod event;
pub mod hf;
pub mod meter;

pub(crate) mod ollama;
pub(crate) mod openai;
mod registry;
mod remote;
pub mod served;
pub(crate) mod sse;
mod stdio;
mod stub;

pub use crate::config::{BackendKind, normalise_url};
pub use event::{ChatEvent, ChatRequest, DoneReason, Message, Usage, now_rfc3339, rfc3339_ms};
pub use ollama::OllamaBackend;
pub use openai::OpenAiBackend;
pub use registry::{Backends, build_backend, resolve_backend};
pub use remote::RemoteBackend;
pub use stdio::StdioBackend;
pub use stub::{STUB_MODEL, StubBackend, canned_reply as stub_reply};

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

/// One line of a model download's progress (Ollama's `/api/pull` stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullProgress {
    pub status: String,
    pub digest: Option<String>,
    pub total: Option<u64>,
    pub completed: Option<u64>,
}

/// Parses one line of Ollama's `/api/pull` NDJSON (`status`, `digest`, `total`, `completed`,
/// or `error`).
pub fn parse_pull_line(line: &str) -> Option<Result<PullProgress, String>> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Some(Err(e.to_string()));
    }
    Some(Ok(PullProgress {
        status: v["status"].as_str().unwrap_or("").to_string(),
        digest: v["digest"].as_str().map(str::to_string),
        total: v["total"].as_u64(),
        completed: v["completed"].as_u64(),
    }))
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

    /// What the backend says about a model beyond its name (family, size, quantization,
    /// whether it is loaded), when it says anything.
    fn describe(
        &self,
        _name: &str,
    ) -> futures::future::BoxFuture<'_, Result<Option<serde_json::Value>, BackendError>> {
        Box::pin(async { Ok(None) })
    }

    /// Downloads a model, streaming progress. Servers that load models at start do not pull.
    fn pull(&self, name: &str) -> BoxStream<'static, Result<PullProgress, BackendError>> {
        let msg = format!(
            "{} loads its models when it starts; `model pull` works with Ollama backends ({} backend '{}' cannot pull '{name}')",
            self.kind().name(),
            self.kind().name(),
            self.id()
        );
        Box::pin(futures::stream::once(async move {
            Err(BackendError::Protocol(msg))
        }))
    }

    /// Deletes a model from the backend.
    fn remove(&self, name: &str) -> futures::future::BoxFuture<'_, Result<(), BackendError>> {
        let msg = format!(
            "{} backend '{}' cannot remove models ('{name}')",
            self.kind().name(),
            self.id()
        );
        Box::pin(async move { Err(BackendError::Protocol(msg)) })
    }
}

/// The stream of events that `produce` sends from its own task: every adapter runs its turn
/// as a producer, and dropping the stream makes the producer's next send fail, which ends it.
pub(crate) fn spawned<T, Fut>(
    produce: impl FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
) -> BoxStream<'static, T>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    crate::supervise::spawn_logged("backend-stream", produce(tx));
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Sends a streaming request and waits for its answer. A cancel before the answer ends the turn
/// with `done{cancel}`; a transport error or a non-2xx answer with `error` (`http_error` builds
/// its message from the status and the backend's own message). Only a 2xx answer comes back.
pub(crate) async fn open_stream(
    send: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    cancel: &tokio_util::sync::CancellationToken,
    tx: &tokio::sync::mpsc::Sender<ChatEvent>,
    id: &str,
    unreachable: impl Fn(&reqwest::Error) -> BackendError,
    http_error: impl Fn(u16, String) -> BackendError,
) -> Option<reqwest::Response> {
    let resp = tokio::select! {
        r = send => r,
        _ = cancel.cancelled() => {
            let _ = tx.send(openai::done(id, DoneReason::Cancel, String::new(), None)).await;
            return None;
        }
    };
    let error = |message: String| ChatEvent::Error {
        id: id.to_string(),
        message,
    };
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(error(unreachable(&e).to_string())).await;
            return None;
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Some(resp);
    }
    let body = resp.bytes().await.unwrap_or_default();
    let _ = tx
        .send(error(
            http_error(status.as_u16(), error_message(&body)).to_string(),
        ))
        .await;
    None
}

/// Root cause text of a reqwest error, for other HTTP clients of ours.
pub fn cause_of(e: &reqwest::Error) -> String {
    cause(e)
}

/// The server's own error message from an error body (JSON `error`/`message`, else text).
pub fn error_text(body: &[u8]) -> String {
    error_message(body)
}

/// Root cause text of an HTTP client error ("Connection refused (os error 111)").
pub(crate) fn cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
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

#[cfg(test)]
mod pull_tests {
    use super::*;

    // Lines in the shape of Ollama's API documentation for `POST /api/pull`.
    #[test]
    fn parses_documented_pull_progress() {
        assert_eq!(
            parse_pull_line(r#"{"status": "pulling manifest"}"#),
            Some(Ok(PullProgress {
                status: "pulling manifest".into(),
                digest: None,
                total: None,
                completed: None
            }))
        );
        let l = r#"{"status": "downloading digestname", "digest": "digestname", "total": 2142590208, "completed": 241970}"#;
        let p = parse_pull_line(l).unwrap().unwrap();
        assert_eq!(
            (p.total, p.completed, p.digest.as_deref()),
            (Some(2142590208), Some(241970), Some("digestname"))
        );
        assert_eq!(
            parse_pull_line(r#"{"error":"pull model manifest: file does not exist"}"#),
            Some(Err("pull model manifest: file does not exist".into()))
        );
        assert_eq!(parse_pull_line(""), None);
    }
}
