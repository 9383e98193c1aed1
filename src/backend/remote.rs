//! A control plane as a chat backend (`infernet chat --remote`, the TUI chat pane): `POST
//! /api/chat`, then its SSE stream, mapped onto the same `meta`/`token`/`done`/`error` events
//! as every local backend (the reference printed different JSON for local and remote chat).
use super::sse::Lines;
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo, Usage,
    now_rfc3339,
};
use crate::control::continuity::Continuity;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct RemoteBackend {
    id: String,
    url: String,
    model: Option<String>,
    http: reqwest::Client,
}

impl RemoteBackend {
    pub fn new(id: &str, url: &str, model: Option<String>, http: reqwest::Client) -> Self {
        Self {
            id: id.to_string(),
            url: url.trim_end_matches('/').to_string(),
            model,
            http,
        }
    }
}

fn unreachable(url: &str, e: &reqwest::Error) -> BackendError {
    BackendError::Unreachable {
        kind: "control plane",
        url: url.to_string(),
        cause: super::cause(e),
        hint: BackendKind::Remote.start_hint(),
    }
}

/// One parsed SSE frame.
#[derive(Debug, Default)]
struct Frame {
    event: String,
    data: String,
}

impl ChatBackend for RemoteBackend {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Remote
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn default_model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let this = self.clone();
        super::spawned(move |tx| async move {
            let id = req.id.clone();
            let mut body = json!({"messages": req.messages});
            if let Some(m) = req.model.clone().or(this.model.clone()) {
                body["modelName"] = json!(m);
            }
            if let Some(n) = req.max_tokens {
                body["maxTokens"] = json!(n);
            }
            if let Some(t) = req.temperature {
                body["temperature"] = json!(t);
            }
            let url = this.url.clone();
            let send = this.http.post(format!("{url}/api/chat")).json(&body).send();
            let http_error = |status: u16, message: String| BackendError::Http {
                kind: "control plane",
                status,
                message,
            };
            let Some(resp) = super::open_stream(
                send,
                &cancel,
                &tx,
                &id,
                |e| unreachable(&url, e),
                http_error,
            )
            .await
            else {
                return;
            };
            let created: Value = match resp.json().await {
                Ok(v) => v,
                Err(e) => {
                    let _ = tx
                        .send(ChatEvent::Error {
                            id,
                            message: format!("control plane answered without JSON: {e}"),
                        })
                        .await;
                    return;
                }
            };
            let stream_url = created["streamUrl"].as_str().unwrap_or("").to_string();
            let sse = this.http.get(format!("{url}{stream_url}")).send();
            let Some(resp) =
                super::open_stream(sse, &cancel, &tx, &id, |e| unreachable(&url, e), http_error)
                    .await
            else {
                return;
            };
            let mut bytes = resp.bytes_stream();
            let mut lines = Lines::default();
            let mut frame = Frame::default();
            let mut cont = Continuity::default();
            let mut text = String::new();
            loop {
                let chunk = tokio::select! {
                    c = bytes.next() => c,
                    _ = cancel.cancelled() => {
                        let _ = tx.send(super::openai::done(&id, DoneReason::Cancel, text, None)).await;
                        return;
                    }
                };
                let chunk = match chunk {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        let _ = tx
                            .send(ChatEvent::Error {
                                id,
                                message: format!(
                                    "control-plane stream broke: {}",
                                    super::cause(&e)
                                ),
                            })
                            .await;
                        return;
                    }
                    None => {
                        let _ = tx
                            .send(ChatEvent::Error {
                                id,
                                message: "control-plane stream ended before the job finished"
                                    .into(),
                            })
                            .await;
                        return;
                    }
                };
                for line in lines.push(&chunk) {
                    if let Some(v) = line.strip_prefix("event:") {
                        frame.event = v.trim().to_string();
                        continue;
                    }
                    if let Some(v) = line.strip_prefix("data:") {
                        frame.data.push_str(v.trim_start());
                        continue;
                    }
                    if !line.is_empty() {
                        continue; // id:, comments (": ping")
                    }
                    let f = std::mem::take(&mut frame);
                    let data: Value = serde_json::from_str(&f.data).unwrap_or(Value::Null);
                    let ev = match f.event.as_str() {
                        "meta" => Some(ChatEvent::Meta {
                            id: id.clone(),
                            backend: format!(
                                "remote:{}",
                                data["provider_name"]
                                    .as_str()
                                    .or(data["provider_node_id"].as_str())
                                    .unwrap_or("?")
                            ),
                            model: data["model"].as_str().unwrap_or("").to_string(),
                            started_at: data["started_at"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(now_rfc3339),
                        }),
                        "reset" => {
                            cont.reset();
                            None
                        }
                        "token" => match cont.token(data["text"].as_str().unwrap_or("")) {
                            Ok(t) if t.is_empty() => None,
                            Ok(t) => {
                                text.push_str(&t);
                                Some(ChatEvent::Token {
                                    id: id.clone(),
                                    text: t,
                                })
                            }
                            Err(_) => {
                                let _ = tx.send(ChatEvent::Error { id, message: "the node running this chat went silent and the retry on another node gave a different answer".into() }).await;
                                return;
                            }
                        },
                        "done" => {
                            let usage = data
                                .get("usage")
                                .and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok());
                            let _ = tx
                                .send(ChatEvent::Done {
                                    id: id.clone(),
                                    reason: DoneReason::from_wire(
                                        data["reason"].as_str().unwrap_or("stop"),
                                    ),
                                    text: data["text"].as_str().map(str::to_string).unwrap_or(text),
                                    usage,
                                    finished_at: data["finished_at"]
                                        .as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(now_rfc3339),
                                })
                                .await;
                            return;
                        }
                        "error" => {
                            let message = data["message"]
                                .as_str()
                                .unwrap_or("the job failed")
                                .to_string();
                            let _ = tx.send(ChatEvent::Error { id, message }).await;
                            return;
                        }
                        _ => None,
                    };
                    if let Some(ev) = ev
                        && tx.send(ev).await.is_err()
                    {
                        return;
                    }
                }
            }
        })
    }

    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(format!("{}/v1/models", self.url))
                .send()
                .await
                .map_err(|e| unreachable(&self.url, &e))?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|e| unreachable(&self.url, &e))?;
            if !status.is_success() {
                return Err(BackendError::Http {
                    kind: "control plane",
                    status: status.as_u16(),
                    message: super::error_message(&body),
                });
            }
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| BackendError::Protocol(format!("/v1/models is not JSON: {e}")))?;
            Ok(v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .map(|name| ModelInfo {
                    name: name.to_string(),
                    size_bytes: None,
                })
                .collect())
        })
    }
}
