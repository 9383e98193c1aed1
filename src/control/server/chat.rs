//! `POST /api/chat`, its SSE stream and its status (reference §6.3). Jobs go into the lease
//! queue (nodes claim them) instead of being pushed once to a node that may be gone; a
//! request nothing can serve fails at once with 503 and never sits `pending`.
use super::follow::{self, Follow};
use super::store::{Job, JobStatus, StoredEvent, now_ms};
use super::{ApiError, AppState, bad};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;

/// A chat request, from `/api/chat` or `/v1/chat/completions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatInput {
    pub messages: Vec<Value>,
    pub model: Option<String>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
}

/// Names that mean "any model" (no exact match needed).
fn alias(model: &str) -> bool {
    matches!(
        model.trim().to_ascii_lowercase().as_str(),
        "" | "auto" | "default" | "any"
    )
}

pub(super) fn parse_messages(v: Option<&Value>) -> Result<Vec<Value>, String> {
    let list = v
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty() && l.len() <= 256)
        .ok_or("messages must be an array of 1 to 256 {role, content} objects")?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m.get("role").and_then(Value::as_str);
            let content = m.get("content").and_then(Value::as_str);
            match (role, content) {
                (Some(r @ ("system" | "user" | "assistant")), Some(c)) => {
                    Ok(json!({"role": r, "content": c}))
                }
                _ => Err(format!(
                    "messages[{i}] needs a role (system, user or assistant) and a string content"
                )),
            }
        })
        .collect()
}

impl ChatInput {
    fn input_spec(&self) -> Value {
        json!({
            "messages": self.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        })
    }
}

/// Queues a chat job, or fails it at once (and says so) when no live node serves the model.
pub(super) async fn enqueue(
    st: &AppState,
    input: &ChatInput,
    client_ip: &str,
) -> Result<Result<Job, (Job, String)>, ApiError> {
    let now = now_ms();
    let model = input.model.as_deref().filter(|m| !alias(m));
    // One client cannot fill the queue: beyond its quota of waiting jobs it is told to wait.
    let waiting = st.store.pending_for_client(client_ip).await?;
    if waiting >= st.opts.max_pending_per_client {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too_many_pending: this client has {waiting} jobs waiting for a node (at most {}); wait for some to finish",
                st.opts.max_pending_per_client
            ),
        ));
    }
    let live = st.store.live_providers(now - st.node_timeout_ms()).await?;
    let serving = live.iter().any(|p| match model {
        Some(m) => p.served_models.iter().any(|s| s == m),
        None => !p.served_models.is_empty(),
    });
    let why = (!serving).then(|| match model {
        Some(m) => format!(
            "no_provider: no live node serves '{m}' ({} node(s) online)",
            live.len()
        ),
        None => "no_provider: no live node serves any model".to_string(),
    });
    let status = if why.is_some() {
        JobStatus::Failed
    } else {
        JobStatus::Pending
    };
    let j = st
        .store
        .create_job(
            model,
            &input.input_spec(),
            client_ip,
            st.opts.max_attempts,
            status,
            why.as_deref(),
            now,
        )
        .await?;
    if let Some(why) = why {
        return Ok(Err((j, why)));
    }
    st.hub.wake_pollers();
    tracing::info!(job = %j.id, model = ?model, "chat job queued");
    Ok(Ok(j))
}

/// `max_tokens` (the first of `names` present) and `temperature`, checked: a value of the
/// wrong type or out of range is refused with its name, never replaced by a default.
pub(super) fn parse_sampling(
    b: &Value,
    names: &[&str],
    default_temperature: Option<f64>,
) -> Result<(Option<u64>, Option<f64>), String> {
    let (name, v) = names
        .iter()
        .find_map(|n| b.get(*n).map(|v| (*n, v)))
        .unwrap_or((names.first().copied().unwrap_or("max_tokens"), &Value::Null));
    let max_tokens = match v {
        Value::Null => 512,
        v => v
            .as_u64()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| format!("{name} must be an integer from 1 to 1000000, found {v}"))?,
    };
    let temperature = match b.get("temperature") {
        None | Some(Value::Null) => default_temperature,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| (0.0..=2.0).contains(t))
                .ok_or_else(|| format!("temperature must be a number from 0 to 2, found {v}"))?,
        ),
    };
    Ok((Some(max_tokens), temperature))
}

pub(crate) fn parse_chat(b: &Value) -> Result<ChatInput, ApiError> {
    let messages = parse_messages(b.get("messages")).map_err(bad)?;
    let model = b
        .get("modelName")
        .or_else(|| b.get("model"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let (max_tokens, temperature) =
        parse_sampling(b, &["maxTokens", "max_tokens"], Some(0.7)).map_err(bad)?;
    Ok(ChatInput {
        messages,
        model,
        max_tokens,
        temperature,
    })
}

pub(super) async fn create(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("body is not valid JSON: {e}")))?;
    let input = parse_chat(&b)?;
    match enqueue(&st, &input, &peer.ip().to_string()).await? {
        Ok(j) => Ok(Json(json!({
            "jobId": j.id,
            "status": j.status,
            "source": "p2p",
            "provider": null,
            "model": j.model_name,
            "streamUrl": format!("/api/chat/stream/{}", j.id),
        }))
        .into_response()),
        Err((j, why)) => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": why, "jobId": j.id })),
        )
            .into_response()),
    }
}

pub(super) async fn status(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let j = st
        .store
        .job(&id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job '{id}'")))?;
    let latest_error = st.store.last_event_of(&j, &["error"]).await?.and_then(|e| {
        e.data
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let t = |v: Option<i64>| v.map(crate::backend::rfc3339_ms);
    Ok(Json(json!({
        "id": j.id, "status": j.status, "model_name": j.model_name,
        "provider_id": j.provider_id, "error": j.error,
        "latest_error_message": latest_error.or(j.error.clone()),
        "attempt": j.attempts,
        "completed_at": t(j.completed_at), "updated_at": t(Some(j.updated_at)),
    })))
}

fn frame(e: &StoredEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event(e.kind.clone())
        .data(e.data.to_string())
}

/// SSE: `event: job` (the row) first, then the stored events of the latest attempt, then live
/// ones; `Last-Event-ID` resumes after that event. A `reset` event means the node running the
/// job went silent and the job was re-queued: readers drop the partial text of that attempt.
pub(super) async fn stream(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let j = st
        .store
        .job(&id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job '{id}'")))?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let first = (after == 0).then(|| Event::default().event("job").data(j.to_json().to_string()));
    let max = st.opts.max_readers_per_job;
    let mut rx = follow::spawn(st.clone(), j, after).ok_or_else(|| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("job '{id}' has {max} readers already; try again when one has left"),
        )
    })?;
    // Small: the follow task pages from the store as this drains.
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        if let Some(f) = first
            && tx.send(Ok(f)).await.is_err()
        {
            return;
        }
        loop {
            // A reader that left frees its follow (and its slot) now, not at the next event.
            let item = tokio::select! {
                i = rx.recv() => i,
                _ = tx.closed() => return,
            };
            let Some(item) = item else { return };
            let ev = match item {
                Follow::Event(e) => frame(&e),
                Follow::End(Some(j)) => {
                    // Final without a terminal event (should not happen): say how it ended.
                    let (kind, data) = if j.status == JobStatus::Completed {
                        ("done", json!({"text": j.result.get("text"), "reason": "stop"}))
                    } else {
                        ("error", json!({"message": j.error}))
                    };
                    Event::default().event(kind).data(data.to_string())
                }
                Follow::End(None) => Event::default()
                    .event("error")
                    .data(json!({"message": "stream closed before the job finished; reconnect to resume"}).to_string()),
            };
            if tx.send(Ok(ev)).await.is_err() {
                return;
            }
        }
    });
    let sse = Sse::new(tokio_stream::wrappers::ReceiverStream::new(out))
        .keep_alive(KeepAlive::new().interval(st.opts.ping).text("ping"));
    let mut resp = sse.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
