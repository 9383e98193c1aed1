//! A control plane as a chat backend (`infernet chat --remote`, the TUI chat pane): `POST
//! /api/chat`, then its SSE stream, mapped onto the same `meta`/`token`/`done`/`error` events
//! as every local backend (the reference printed different JSON for local and remote chat).
mod relay;

use super::{BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, ModelInfo};
use futures::stream::BoxStream;
use relay::relay;
use serde_json::{Value, json};
use std::future::Future;
use tokio::sync::mpsc::Sender;
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

    /// The `POST /api/chat` body: the messages, and what the request or this backend sets.
    fn body(&self, req: &ChatRequest) -> Value {
        let mut body = json!({"messages": req.messages});
        if let Some(m) = req.model.clone().or(self.model.clone()) {
            body["modelName"] = json!(m);
        }
        if let Some(n) = req.max_tokens {
            body["maxTokens"] = json!(n);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        body
    }

    /// Creates the job; its answer names the job's event stream. `None` once the turn has
    /// ended (cancel, control plane unreachable or refusing, an answer that is not JSON).
    async fn create_job(
        &self,
        body: &Value,
        cancel: &CancellationToken,
        tx: &Sender<ChatEvent>,
        id: &str,
    ) -> Option<String> {
        let send = self
            .http
            .post(format!("{}/api/chat", self.url))
            .json(body)
            .send();
        let resp = self.open(send, cancel, tx, id).await?;
        match resp.json::<Value>().await {
            Ok(created) => Some(created["streamUrl"].as_str().unwrap_or("").to_string()),
            Err(e) => {
                let message = format!("control plane answered without JSON: {e}");
                let _ = tx.send(error(id, message)).await;
                None
            }
        }
    }

    /// Opens the job's SSE stream (`streamUrl` is a path on the control plane).
    async fn open_events(
        &self,
        stream_url: &str,
        cancel: &CancellationToken,
        tx: &Sender<ChatEvent>,
        id: &str,
    ) -> Option<reqwest::Response> {
        // `reset=1`: the relay keeps the text coherent itself (relay.rs) and wants every frame.
        let sep = if stream_url.contains('?') { '&' } else { '?' };
        let url = format!("{}{stream_url}{sep}reset=1", self.url);
        let sse = self.http.get(url).send();
        self.open(sse, cancel, tx, id).await
    }

    /// Waits for a 2xx answer; anything else ends the turn with the control plane's errors.
    async fn open(
        &self,
        send: impl Future<Output = reqwest::Result<reqwest::Response>>,
        cancel: &CancellationToken,
        tx: &Sender<ChatEvent>,
        id: &str,
    ) -> Option<reqwest::Response> {
        let unreachable = |e: &reqwest::Error| unreachable(&self.url, e);
        super::open_stream(send, cancel, tx, id, unreachable, http_error).await
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

fn http_error(status: u16, message: String) -> BackendError {
    BackendError::Http {
        kind: "control plane",
        status,
        message,
    }
}

fn error(id: &str, message: String) -> ChatEvent {
    ChatEvent::Error {
        id: id.to_string(),
        message,
    }
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
            let body = this.body(&req);
            let Some(stream_url) = this.create_job(&body, &cancel, &tx, &id).await else {
                return;
            };
            let Some(resp) = this.open_events(&stream_url, &cancel, &tx, &id).await else {
                return;
            };
            relay(resp.bytes_stream(), &id, &cancel, &tx).await;
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
                return Err(http_error(status.as_u16(), super::error_message(&body)));
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
