//! One hop of a job: a workflow container or an LLM backend, called the same way.
//! Backend input (`data`): `{"messages": [{role, content}…]}` or `{"prompt": "…", "system"?: "…"}`,
//! with optional `model`, `temperature`, `max_tokens`. Output: `{"text", "model",
//! "finish_reason", "usage"?: {prompt_tokens, completion_tokens}}`.
use crate::backend::{ChatBackend, ChatEvent, ChatRequest, Message};
use crate::compute::pipeline::{ChainOutcome, JobLocation, error_result, hop_body, output_result};
use crate::compute::{ContainerError, Endpoint, HttpContainers};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub enum Step {
    Container(Endpoint),
    Backend {
        backend: Arc<dyn ChatBackend>,
        timeout: Duration,
    },
}

fn fail(id: &str, reason: String) -> ContainerError {
    ContainerError {
        container: id.to_string(),
        reason,
    }
}

/// Reads a backend job's input.
pub fn chat_request(id: &str, data: &Value) -> Result<ChatRequest, ContainerError> {
    let bad = || {
        fail(
            id,
            format!(
                "backend '{id}': input must have 'messages' (a list of {{\"role\", \"content\"}}) or 'prompt' (a string)"
            ),
        )
    };
    let mut messages = Vec::new();
    if let Some(m) = data.get("messages") {
        messages = serde_json::from_value::<Vec<Message>>(m.clone()).map_err(|_| bad())?;
    } else if let Some(p) = data.get("prompt").and_then(Value::as_str) {
        if let Some(s) = data.get("system").and_then(Value::as_str) {
            messages.push(Message::new("system", s));
        }
        messages.push(Message::new("user", p));
    }
    if messages.is_empty() {
        return Err(bad());
    }
    Ok(ChatRequest {
        id: format!("job-{}", uuid::Uuid::new_v4().simple()),
        messages,
        model: data
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_string),
        temperature: data.get("temperature").and_then(Value::as_f64),
        max_tokens: data
            .get("max_tokens")
            .and_then(Value::as_u64)
            .map(|n| n.min(u32::MAX as u64) as u32),
    })
}

impl Step {
    pub fn id(&self) -> &str {
        match self {
            Step::Container(ep) => &ep.id,
            Step::Backend { backend, .. } => backend.id(),
        }
    }

    pub async fn call(
        &self,
        http: &HttpContainers,
        source: JobLocation,
        destination: JobLocation,
        data: Value,
        requires_proof: bool,
    ) -> Result<Value, ContainerError> {
        match self {
            Step::Container(ep) => {
                http.call(ep, &hop_body(source, destination, data, requires_proof))
                    .await
            }
            Step::Backend { backend, timeout } => {
                let id = backend.id().to_string();
                let req = chat_request(&id, &data)?;
                let cancel = CancellationToken::new();
                let _stop = cancel.clone().drop_guard();
                let mut events = backend.chat(req, cancel);
                let mut model = String::new();
                let run = async {
                    while let Some(ev) = events.next().await {
                        match ev {
                            ChatEvent::Meta { model: m, .. } => model = m,
                            ChatEvent::Token { .. } => {}
                            ChatEvent::Done {
                                reason,
                                text,
                                usage,
                                ..
                            } => {
                                let mut out =
                                    json!({"text": text, "model": model, "finish_reason": reason});
                                if let Some(u) = usage {
                                    out["usage"] = json!(u);
                                }
                                return Ok(out);
                            }
                            ChatEvent::Error { message, .. } => return Err(fail(&id, message)),
                        }
                    }
                    Err(fail(&id, format!("backend '{id}' ended without an answer")))
                };
                tokio::time::timeout(*timeout, run).await.map_err(|_| {
                    fail(
                        &id,
                        format!(
                            "backend '{id}' did not finish within {} s",
                            timeout.as_secs_f64()
                        ),
                    )
                })?
            }
        }
    }

    /// The bytes of a streaming hop: a container's body, or a backend's tokens.
    pub async fn stream(
        &self,
        http: &HttpContainers,
        data: Value,
        requires_proof: bool,
        idle: Duration,
    ) -> Result<BoxStream<'static, Result<Bytes, ContainerError>>, ContainerError> {
        match self {
            Step::Container(ep) => {
                let body = hop_body(
                    JobLocation::Offchain,
                    JobLocation::Stream,
                    data,
                    requires_proof,
                );
                Ok(Box::pin(http.call_stream(ep, &body, idle).await?))
            }
            Step::Backend { backend, .. } => {
                let id = backend.id().to_string();
                let req = chat_request(&id, &data)?;
                let cancel = CancellationToken::new();
                let guard = cancel.clone().drop_guard();
                let events = backend.chat(req, cancel);
                let state = (events, id, Some(guard));
                Ok(Box::pin(futures::stream::unfold(
                    state,
                    move |(mut events, id, guard)| async move {
                        guard.as_ref()?;
                        loop {
                            let next = match tokio::time::timeout(idle, events.next()).await {
                                Ok(n) => n,
                                Err(_) => {
                                    let reason = format!(
                                        "backend '{id}' stream was idle for {} s",
                                        idle.as_secs_f64()
                                    );
                                    return Some((Err(fail(&id, reason)), (events, id, None)));
                                }
                            };
                            match next? {
                                ChatEvent::Token { text, .. } => {
                                    return Some((Ok(Bytes::from(text)), (events, id, guard)));
                                }
                                ChatEvent::Error { message, .. } => {
                                    return Some((Err(fail(&id, message)), (events, id, None)));
                                }
                                ChatEvent::Done { .. } => return None,
                                ChatEvent::Meta { .. } => {}
                            }
                        }
                    },
                )))
            }
        }
    }
}

/// Runs every step in order; each JSON output is the next step's `data`; stops at a failure.
pub async fn run_chain(
    http: &HttpContainers,
    steps: &[Step],
    source: JobLocation,
    destination: JobLocation,
    data: Value,
    requires_proof: bool,
) -> ChainOutcome {
    let mut results: Vec<Value> = Vec::with_capacity(steps.len());
    let mut data = data;
    let n = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let src = if i == 0 {
            source
        } else {
            JobLocation::Offchain
        };
        let dst = if i + 1 == n {
            destination
        } else {
            JobLocation::Offchain
        };
        match step.call(http, src, dst, data, requires_proof).await {
            Ok(out) => {
                data = out.clone();
                results.push(output_result(step.id(), out));
            }
            Err(ContainerError { container, reason }) => {
                tracing::warn!(container = %container, reason = %reason, "job step failed");
                let result = error_result(&container, &reason);
                return ChainOutcome {
                    intermediate: results,
                    result,
                    ok: false,
                };
            }
        }
    }
    let result = results.pop().unwrap_or(Value::Null);
    ChainOutcome {
        intermediate: results,
        result,
        ok: true,
    }
}
