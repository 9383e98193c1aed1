//! OpenAI-compatible servers: vLLM, SGLang, llama.cpp's llama-server / llama-swap, Modular MAX.
//! `POST /v1/chat/completions` with `stream: true` and `stream_options.include_usage`, SSE back.
use super::sse::{Piece, Source, drive};
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo, Usage,
    cause, error_message, now_rfc3339,
};
use crate::config::Secret;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    id: String,
    kind: BackendKind,
    url: String,
    api_key: Option<Secret>,
    model: Option<String>,
    http: reqwest::Client,
}

impl OpenAiBackend {
    pub fn new(
        id: &str,
        kind: BackendKind,
        url: &str,
        api_key: Option<Secret>,
        model: Option<String>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            id: id.into(),
            kind,
            url: url.trim_end_matches('/').into(),
            api_key,
            model,
            http,
        }
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) if !k.is_empty() => r.bearer_auth(k.expose()),
            _ => r,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> BackendError {
        BackendError::Unreachable {
            kind: self.kind.name(),
            url: self.url.clone(),
            cause: cause(e),
            hint: self.kind.start_hint(),
        }
    }

    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        let r = self
            .auth(self.http.get(format!("{}/v1/models", self.url)))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(BackendError::Http {
                kind: self.kind.name(),
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            BackendError::Protocol(format!("{} /v1/models is not JSON: {e}", self.kind.name()))
        })?;
        Ok(v["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str())
                    .map(|n| ModelInfo {
                        name: n.into(),
                        size_bytes: None,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The request's model, else the configured one, else the first the server lists.
    async fn pick_model(&self, req: &ChatRequest) -> Result<String, String> {
        if let Some(m) = req.model.clone().or_else(|| self.model.clone()) {
            return Ok(m);
        }
        match self.list().await {
            Ok(models) => models.into_iter().next().map(|m| m.name).ok_or_else(|| {
                format!(
                    "{} at {} serves no model; load one, or pass --model",
                    self.kind.name(),
                    self.url
                )
            }),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn run(self, req: ChatRequest, cancel: CancellationToken, tx: mpsc::Sender<ChatEvent>) {
        let id = req.id.clone();
        let err = |message: String| ChatEvent::Error {
            id: id.clone(),
            message,
        };
        let model = match self.pick_model(&req).await {
            Ok(m) => m,
            Err(e) => {
                let _ = tx.send(err(e)).await;
                return;
            }
        };
        let mut body = json!({
            "model": model,
            "messages": req.messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = req.max_tokens {
            body["max_tokens"] = json!(n);
        }
        let send = self
            .auth(self.http.post(format!("{}/v1/chat/completions", self.url)))
            .json(&body)
            .send();
        let kind = self.kind.name();
        let http_error = |status: u16, message: String| BackendError::Http {
            kind,
            status,
            message,
        };
        let unreachable = |e: &reqwest::Error| self.unreachable(e);
        let Some(resp) = super::open_stream(send, &cancel, &tx, &id, unreachable, http_error).await
        else {
            return;
        };
        let src = Source {
            id: &id,
            backend: &self.id,
            kind,
            model: &model,
        };
        drive(Box::pin(resp.bytes_stream()), src, piece, &cancel, &tx).await;
    }
}

/// An OpenAI SSE line as the stream driver reads it.
pub(crate) fn piece(line: &str) -> Piece {
    match parse_line(line) {
        Line::Skip => Piece::Skip,
        Line::Done => Piece::End {
            model: None,
            reason: None,
            usage: None,
        },
        Line::Error(e) => Piece::Error(e),
        Line::Chunk {
            model,
            text,
            finish,
            usage,
        } => Piece::Chunk {
            model,
            text,
            finish,
            usage,
        },
    }
}

/// What one SSE line of `/v1/chat/completions` means.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Not a `data:` line, or data that is not JSON: ignored (comments, keep-alives).
    Skip,
    /// `data: [DONE]`.
    Done,
    /// A chunk carrying `error`: the message, shortened.
    Error(String),
    Chunk {
        model: Option<String>,
        /// A non-empty content delta.
        text: Option<String>,
        finish: Option<DoneReason>,
        usage: Option<Usage>,
    },
}

/// Parses one line of an OpenAI-compatible chat stream (`data: {chunk}` / `data: [DONE]`).
pub fn parse_line(line: &str) -> Line {
    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
        return Line::Skip;
    };
    if data == "[DONE]" {
        return Line::Done;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return Line::Skip;
    };
    if let Some(e) = v.get("error") {
        return Line::Error(error_message(e.to_string().as_bytes()));
    }
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| Usage {
        prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
    });
    let choice = &v["choices"][0];
    Line::Chunk {
        model: v["model"].as_str().map(str::to_string),
        text: choice["delta"]["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        finish: choice["finish_reason"].as_str().map(DoneReason::from_wire),
        usage,
    }
}

pub(super) fn done(id: &str, reason: DoneReason, text: String, usage: Option<Usage>) -> ChatEvent {
    ChatEvent::Done {
        id: id.to_string(),
        reason,
        text,
        usage,
        finished_at: now_rfc3339(),
    }
}

impl ChatBackend for OpenAiBackend {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> BackendKind {
        self.kind
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn default_model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let this = self.clone();
        super::spawned(move |tx| this.run(req, cancel, tx))
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        Box::pin(self.list())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_mean_what_the_wire_says() {
        assert_eq!(parse_line(": keep-alive"), Line::Skip);
        assert_eq!(parse_line("data: not json"), Line::Skip);
        assert_eq!(parse_line("data: [DONE]"), Line::Done);
        assert_eq!(
            parse_line(
                r#"data: {"model":"m","choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#
            ),
            Line::Chunk {
                model: Some("m".into()),
                text: Some("hi".into()),
                finish: None,
                usage: None
            }
        );
        assert_eq!(
            parse_line(
                r#"data:{"choices":[{"delta":{"content":""},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#
            ),
            Line::Chunk {
                model: None,
                text: None,
                finish: Some(DoneReason::Length),
                usage: Some(Usage {
                    prompt_tokens: 3,
                    completion_tokens: 5
                })
            }
        );
        match parse_line(r#"data: {"error":{"message":"model gone"}}"#) {
            Line::Error(m) => assert!(m.contains("model gone"), "{m}"),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
