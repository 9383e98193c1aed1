//! A chat bought from the swarm through the running node (`infernet chat --p2p`): the
//! node's `POST /api/p2p/chat`, its NDJSON chat events read back as they come.
use crate::backend::sse::Lines;
use crate::backend::{BackendError, ChatBackend, ChatEvent, ChatRequest, ModelInfo, spawned};
use crate::config::BackendKind;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ViaNode {
    /// The node's REST base, `http://127.0.0.1:4000`.
    base: String,
    http: reqwest::Client,
}

impl ViaNode {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }
}

impl ChatBackend for ViaNode {
    fn id(&self) -> &str {
        "p2p"
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Remote
    }
    fn url(&self) -> &str {
        &self.base
    }
    fn default_model(&self) -> Option<&str> {
        None
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let (http, url) = (self.http.clone(), format!("{}/api/p2p/chat", self.base));
        spawned(move |tx| async move {
            let id = req.id.clone();
            let fail = |message: String| ChatEvent::Error {
                id: id.clone(),
                message,
            };
            let messages: Vec<serde_json::Value> = req
                .messages
                .iter()
                .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
                .collect();
            let mut body = serde_json::json!({"messages": messages});
            if let Some(m) = &req.model {
                body["model"] = m.clone().into();
            }
            if let Some(n) = req.max_tokens {
                body["max_tokens"] = n.into();
            }
            if let Some(t) = req.temperature {
                body["temperature"] = t.into();
            }
            let resp = match http.post(&url).json(&body).send().await {
                Ok(r) => r,
                Err(e) => {
                    let why = crate::backend::cause_of(&e);
                    let _ = tx
                        .send(fail(format!("the node at {url} did not answer: {why}")))
                        .await;
                    return;
                }
            };
            if !resp.status().is_success() {
                let st = resp.status();
                let text = resp.bytes().await.unwrap_or_default();
                let why = crate::backend::error_text(&text);
                let _ = tx
                    .send(fail(format!("the node refused (HTTP {st}): {why}")))
                    .await;
                return;
            }
            let mut body = resp.bytes_stream();
            let mut lines = Lines::default();
            loop {
                let chunk = tokio::select! {
                    c = body.next() => c,
                    _ = cancel.cancelled() => {
                        let done = ChatEvent::Done {
                            id: id.clone(),
                            reason: crate::backend::DoneReason::Cancel,
                            text: String::new(),
                            usage: None,
                            finished_at: crate::clock::now_rfc3339(),
                        };
                        let _ = tx.send(done).await;
                        return;
                    }
                };
                let Some(Ok(chunk)) = chunk else { break };
                for l in lines.push(&chunk) {
                    if l.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<ChatEvent>(&l) {
                        Ok(ev) => {
                            let end =
                                matches!(ev, ChatEvent::Done { .. } | ChatEvent::Error { .. });
                            if tx.send(ev).await.is_err() || end {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx
                                .send(fail(format!(
                                    "the node sent a line that is not a chat event: {e}"
                                )))
                                .await;
                            return;
                        }
                    }
                }
            }
            let _ = tx
                .send(fail("the node's stream ended before the answer did".into()))
                .await;
        })
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
