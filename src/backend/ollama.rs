//! Ollama: `POST /api/chat` NDJSON streaming, `/api/tags` for models.
use super::sse::{Lines, Piece, Source, drive};
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo, Usage,
    cause, error_message,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct OllamaBackend {
    id: String,
    url: String,
    model: Option<String>,
    num_thread: Option<u32>,
    http: reqwest::Client,
}

/// What one NDJSON line of `/api/chat` means.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Token {
        model: String,
        text: String,
    },
    Done {
        model: String,
        reason: DoneReason,
        usage: Option<Usage>,
    },
    Error(String),
    Skip,
}

/// Parses one line of Ollama's `/api/chat` stream (documented schema: `model`, `created_at`,
/// `message.content`, `done`, `done_reason`, `prompt_eval_count`, `eval_count`).
pub fn parse_line(line: &str) -> Line {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return Line::Skip;
    };
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Line::Error(e.to_string());
    }
    let model = v["model"].as_str().unwrap_or("").to_string();
    if v["done"].as_bool() == Some(true) {
        let usage = match (v["prompt_eval_count"].as_u64(), v["eval_count"].as_u64()) {
            (None, None) => None,
            (p, c) => Some(Usage {
                prompt_tokens: p.unwrap_or(0),
                completion_tokens: c.unwrap_or(0),
            }),
        };
        let reason = DoneReason::from_wire(v["done_reason"].as_str().unwrap_or("stop"));
        return Line::Done {
            model,
            reason,
            usage,
        };
    }
    match v["message"]["content"].as_str() {
        Some(t) => Line::Token {
            model,
            text: t.to_string(),
        },
        None => Line::Skip,
    }
}

impl OllamaBackend {
    pub fn new(
        id: &str,
        url: &str,
        model: Option<String>,
        num_thread: Option<u32>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            id: id.into(),
            url: url.trim_end_matches('/').into(),
            model,
            num_thread,
            http,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> BackendError {
        BackendError::Unreachable {
            kind: "ollama",
            url: self.url.clone(),
            cause: cause(e),
            hint: BackendKind::Ollama.start_hint(),
        }
    }

    async fn list(&self) -> Result<Vec<ModelInfo>, BackendError> {
        let r = self
            .http
            .get(format!("{}/api/tags", self.url))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(BackendError::Http {
                kind: "ollama",
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| BackendError::Protocol(format!("ollama /api/tags is not JSON: {e}")))?;
        Ok(v["models"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| {
                        let name = m["name"].as_str().or_else(|| m["model"].as_str())?;
                        Some(ModelInfo {
                            name: name.into(),
                            size_bytes: m["size"].as_u64(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn run(self, req: ChatRequest, cancel: CancellationToken, tx: mpsc::Sender<ChatEvent>) {
        let id = req.id.clone();
        let err = |message: String| ChatEvent::Error {
            id: id.clone(),
            message,
        };
        let Some(model) = req.model.clone().or_else(|| self.model.clone()) else {
            let _ = tx
                .send(err("no model given: pass --model, or set 'model' for this backend (see `ollama list`)".into()))
                .await;
            return;
        };
        let mut options = json!({});
        if let Some(t) = req.temperature {
            options["temperature"] = json!(t);
        }
        if let Some(n) = req.max_tokens {
            options["num_predict"] = json!(n);
        }
        if let Some(n) = self.num_thread {
            options["num_thread"] = json!(n);
        }
        let body =
            json!({"model": model, "messages": req.messages, "stream": true, "options": options});
        let send = self
            .http
            .post(format!("{}/api/chat", self.url))
            .json(&body)
            .send();
        let pull_hint = |status: u16, message: String| {
            let message = if status == 404 {
                format!(
                    "{message}; pull it with `infernet model pull {model}` (or `ollama pull {model}`)"
                )
            } else {
                message
            };
            BackendError::Http {
                kind: "ollama",
                status,
                message,
            }
        };
        let unreachable = |e: &reqwest::Error| self.unreachable(e);
        let Some(resp) = super::open_stream(send, &cancel, &tx, &id, unreachable, pull_hint).await
        else {
            return;
        };
        let src = Source {
            id: &id,
            backend: &self.id,
            kind: "ollama",
            model: &model,
        };
        drive(Box::pin(resp.bytes_stream()), src, piece, &cancel, &tx).await;
    }
}

/// An Ollama line as the stream driver reads it.
pub(crate) fn piece(line: &str) -> Piece {
    match parse_line(line) {
        Line::Token { model, text } => Piece::Chunk {
            model: Some(model),
            text: Some(text),
            finish: None,
            usage: None,
        },
        Line::Done {
            model,
            reason,
            usage,
        } => Piece::End {
            model: Some(model),
            reason: Some(reason),
            usage,
        },
        Line::Error(e) => Piece::Error(e),
        Line::Skip => Piece::Skip,
    }
}

impl ChatBackend for OllamaBackend {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Ollama
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

    fn pull(&self, name: &str) -> BoxStream<'static, Result<super::PullProgress, BackendError>> {
        let this = self.clone();
        let name = name.to_string();
        super::spawned(move |tx| async move {
            let send = this
                .http
                .post(format!("{}/api/pull", this.url))
                .json(&json!({"model": name, "stream": true}))
                .send();
            let resp = match send.await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(this.unreachable(&e))).await;
                    return;
                }
            };
            if !resp.status().is_success() {
                let status = resp.status().as_u16();
                let b = resp.bytes().await.unwrap_or_default();
                let _ = tx
                    .send(Err(BackendError::Http {
                        kind: "ollama",
                        status,
                        message: error_message(&b),
                    }))
                    .await;
                return;
            }
            let mut stream = Box::pin(resp.bytes_stream());
            let mut lines = Lines::default();
            // Dropping the receiver ends this task and with it the request: Ollama stops the pull.
            while let Some(chunk) = stream.next().await {
                let pending = match chunk {
                    Ok(b) => lines.push(&b),
                    Err(e) => {
                        let _ = tx
                            .send(Err(BackendError::Protocol(format!(
                                "ollama pull broke: {}",
                                cause(&e)
                            ))))
                            .await;
                        return;
                    }
                };
                for line in pending {
                    match super::parse_pull_line(&line) {
                        Some(Ok(p)) => {
                            let sent = tx.send(Ok(p)).await;
                            if sent.is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            let _ = tx
                                .send(Err(BackendError::Protocol(format!("ollama: {e}"))))
                                .await;
                            return;
                        }
                        None => {}
                    }
                }
            }
        })
    }

    /// `/api/show` details plus whether `/api/ps` lists the model as loaded.
    fn describe(
        &self,
        name: &str,
    ) -> futures::future::BoxFuture<'_, Result<Option<Value>, BackendError>> {
        let name = name.to_string();
        Box::pin(async move {
            let r = self
                .http
                .post(format!("{}/api/show", self.url))
                .json(&json!({"model": name}))
                .send()
                .await
                .map_err(|e| self.unreachable(&e))?;
            let status = r.status().as_u16();
            let body = r.bytes().await.map_err(|e| self.unreachable(&e))?;
            if status != 200 {
                return Err(BackendError::Http {
                    kind: "ollama",
                    status,
                    message: error_message(&body),
                });
            }
            let show: Value = serde_json::from_slice(&body).map_err(|e| {
                BackendError::Protocol(format!("ollama /api/show is not JSON: {e}"))
            })?;
            let ps: Value = match self.http.get(format!("{}/api/ps", self.url)).send().await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
            let loaded = ps["models"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x["name"] == name || x["model"] == name));
            Ok(Some(json!({"details": show["details"], "loaded": loaded})))
        })
    }

    fn remove(&self, name: &str) -> futures::future::BoxFuture<'_, Result<(), BackendError>> {
        let name = name.to_string();
        Box::pin(async move {
            let r = self
                .http
                .delete(format!("{}/api/delete", self.url))
                .json(&json!({"model": name}))
                .send()
                .await
                .map_err(|e| self.unreachable(&e))?;
            if r.status().is_success() {
                return Ok(());
            }
            let status = r.status().as_u16();
            let b = r.bytes().await.unwrap_or_default();
            Err(BackendError::Http {
                kind: "ollama",
                status,
                message: error_message(&b),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines in the shape of Ollama's API documentation for `POST /api/chat` with streaming.
    #[test]
    fn parses_documented_stream_lines() {
        let token = r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}"#;
        assert_eq!(
            parse_line(token),
            Line::Token {
                model: "llama3.2".into(),
                text: "The".into()
            }
        );
        let done_line = r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#;
        assert_eq!(
            parse_line(done_line),
            Line::Done {
                model: "llama3.2".into(),
                reason: DoneReason::Length,
                usage: Some(Usage {
                    prompt_tokens: 26,
                    completion_tokens: 282
                })
            }
        );
        assert_eq!(
            parse_line(r#"{"error":"model 'x' not found"}"#),
            Line::Error("model 'x' not found".into())
        );
        assert_eq!(parse_line("not json"), Line::Skip);
    }
}
