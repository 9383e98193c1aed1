//! `POST /api/chat`, its SSE stream and its status (reference §6.3). Jobs go into the lease
//! queue (nodes claim them) instead of being pushed once to a node that may be gone; a
//! request nothing can serve fails at once with 503 and never sits `pending`.
use super::coherent::{Coherent, Pass};
use super::follow::{self, Follow};
use super::hub::SseKind;
use super::store::{Job, JobStatus, StoredEvent, now_ms};
use super::views::{job_row, to_json};
use super::{ApiError, AppState, bad, read_body};
use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use infernet_core::wire::chat::{
    ChatCreated, ChatMessage, ChatProvider, ChatRefused, ChatStatus, ChatSubmit, ChatSubmitBody,
    DEFAULT_MAX_TOKENS,
};
use infernet_core::wire::events::{DoneData, ErrorData};
use infernet_core::wire::jobs::{ChatResult, InputSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;

/// A chat request, from `/api/chat` or `/v1/chat/completions`, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatInput {
    pub messages: Vec<ChatMessage>,
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

impl ChatInput {
    fn input_spec(&self) -> InputSpec {
        InputSpec {
            messages: self.messages.clone(),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            max_tokens_camel: None,
        }
    }
}

/// `/api/chat`'s defaults: 512 tokens, temperature 0.7.
impl From<ChatSubmit> for ChatInput {
    fn from(c: ChatSubmit) -> Self {
        ChatInput {
            messages: c.messages,
            model: c.model,
            max_tokens: Some(c.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
            temperature: Some(c.temperature.unwrap_or(0.7)),
        }
    }
}

/// An SSE event with `t` as its JSON data.
pub(super) fn json_event<T: Serialize>(ev: Event, t: &T) -> Event {
    match serde_json::to_string(t) {
        Ok(s) => ev.data(s),
        Err(e) => {
            tracing::error!(error = %e, "an SSE frame does not convert to JSON");
            ev.data("{}")
        }
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
            &to_json(&input.input_spec())?,
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

/// A `/api/chat` body (the fuzz harness's entry), checked.
pub(crate) fn parse_chat(b: &Value) -> Result<ChatInput, ApiError> {
    let body = ChatSubmitBody::deserialize(b).map_err(|e| bad(format!("invalid body: {e}")))?;
    Ok(body.check()?.into())
}

pub(super) async fn create(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: ChatSubmitBody = read_body(&body).map_err(ApiError::from)?;
    let input: ChatInput = b.check()?.into();
    let caller = match super::clients::admit(&st, &headers, &peer.ip().to_string()).await {
        Ok(c) => c,
        Err(g) => return Ok(g.into_response()),
    };
    let (j, provider) = match submit(&st, &input, &caller.client_id()).await? {
        Ok(taken) => taken,
        Err(refused) => return Ok(refused),
    };
    Ok(Json(ChatCreated {
        stream_url: format!("/api/chat/stream/{}", j.id),
        job_id: j.id,
        status: j.status.as_str().into(),
        source: "p2p".into(),
        provider,
        model: j.model_name,
    })
    .into_response())
}

/// Queues a client's job and names the node that took it (when one did within the claim
/// wait), for `/api/chat` and `/api/v1/jobs`; `Err` is the 503 answer when nothing live serves
/// the model.
pub(super) async fn submit(
    st: &AppState,
    input: &ChatInput,
    client_ip: &str,
) -> Result<Result<(Job, Option<ChatProvider>), Response>, ApiError> {
    match enqueue(st, input, client_ip).await? {
        Ok(j) => {
            let j = claimed_soon(st, j).await;
            let provider = provider_of(st, &j).await?;
            Ok(Ok((j, provider)))
        }
        Err((j, why)) => {
            let refused = ChatRefused {
                error: why,
                job_id: j.id,
            };
            Ok(Err(
                (StatusCode::SERVICE_UNAVAILABLE, Json(refused)).into_response()
            ))
        }
    }
}

/// How long `POST /api/chat` waits for a node to lease a new job, so it can answer
/// `assigned` with the node as the reference does (it picks the node at submit). It waits only
/// while a long poll is waiting for work (an idle node takes a job within milliseconds), and
/// never more than a quarter of the pending timeout; otherwise the answer says `pending`.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The node a job is leased to, as `/api/chat` names it.
async fn provider_of(st: &AppState, j: &Job) -> Result<Option<ChatProvider>, ApiError> {
    let Some(id) = &j.provider_id else {
        return Ok(None);
    };
    Ok(st.store.provider_by_id(id).await?.map(|p| ChatProvider {
        id: Some(p.id),
        name: p.name,
        node_id: Some(p.node_id),
        gpu_model: p.gpu_model,
        model: j.model_name.clone(),
        pubkey: Some(p.public_key),
    }))
}

async fn claimed_soon(st: &AppState, j: Job) -> Job {
    if st.hub.pollers_waiting() == 0 {
        return j;
    }
    let Some(mut rx) = st.hub.subscribe(&j.id, st.opts.max_readers_per_job) else {
        return j;
    };
    let deadline = tokio::time::Instant::now() + CLAIM_WAIT.min(st.opts.pending_timeout / 4);
    let mut latest = j;
    loop {
        // The row after subscribing: a claim before the subscription is seen here.
        match st.store.job(&latest.id).await {
            Ok(Some(row)) => latest = row,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, job = %latest.id, "cannot re-read a new job");
                break;
            }
        }
        if latest.status != JobStatus::Pending {
            break;
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    drop(rx);
    st.hub.release(&latest.id);
    latest
}

/// The job `id`, or 404 naming it.
pub(super) async fn job_or_404(st: &AppState, id: &str) -> Result<Job, ApiError> {
    st.store
        .job(id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job '{id}'")))
}

pub(super) async fn status(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ChatStatus>, ApiError> {
    let j = job_or_404(&st, &id).await?;
    let latest_error = st
        .store
        .last_event_of(&j, &["error"])
        .await?
        .and_then(|e| ErrorData::deserialize(&e.data).ok())
        .and_then(|d| d.message);
    let t = |v: Option<i64>| v.map(crate::backend::rfc3339_ms);
    Ok(Json(ChatStatus {
        latest_error_message: latest_error.or(j.error.clone()),
        id: j.id,
        status: j.status.as_str().into(),
        model_name: j.model_name,
        provider_id: j.provider_id,
        error: j.error,
        attempt: j.attempts,
        completed_at: t(j.completed_at),
        updated_at: t(Some(j.updated_at)),
    }))
}

fn frame(e: &StoredEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event(e.kind.clone())
        .data(e.data.to_string())
}

/// `?reset=1`: the reader handles `reset` frames itself (our relay and TUI).
#[derive(Debug, Default, Deserialize)]
pub(super) struct StreamQuery {
    #[serde(default)]
    reset: Option<String>,
}

impl StreamQuery {
    fn wants_reset(&self) -> bool {
        matches!(self.reset.as_deref(), Some("1" | "true" | "yes"))
    }
}

fn pass(coherent: &mut Option<Coherent>, e: StoredEvent) -> Pass {
    match coherent {
        Some(c) => c.pass(e),
        None => Pass::Send(e),
    }
}

/// SSE: `event: job` (the row) first, then the stored events of the latest attempt, then live
/// ones; `Last-Event-ID` resumes after that event. When the node running the job goes silent
/// and another re-runs it, a reader with `?reset=1` gets a `reset` frame (drop the partial
/// text); any other reader gets one coherent text (`coherent.rs`).
pub(super) async fn stream(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let j = job_or_404(&st, &id).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let first = (after == 0).then(|| json_event(Event::default().event("job"), &job_row(&j)));
    let mut coherent = match (q.wants_reset(), after) {
        (true, _) => None,
        (false, 0) => Some(Coherent::default()),
        (false, n) => Some(match st.store.text_through(&id, n).await? {
            Some((attempt, text)) => Coherent::resumed(attempt, &text),
            None => Coherent::default(),
        }),
    };
    let max = st.opts.max_readers_per_job;
    let mut rx = follow::spawn(st.clone(), j, after).ok_or_else(|| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("job '{id}' has {max} readers already; try again when one has left"),
        )
    })?;
    // Small: the follow task pages from the store as this drains.
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    crate::supervise::spawn_logged("chat-stream", async move {
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
                Follow::Event(e) => match pass(&mut coherent, e) {
                    Pass::Send(e) => frame(&e),
                    Pass::Skip => continue,
                    Pass::Diverged(why) => {
                        let e = ErrorData { message: Some(why) };
                        let _ = tx
                            .send(Ok(json_event(Event::default().event("error"), &e)))
                            .await;
                        return;
                    }
                },
                Follow::End(Some(j)) => {
                    // Final without a terminal event (should not happen): say how it ended.
                    if j.status == JobStatus::Completed {
                        let done = DoneData {
                            text: ChatResult::deserialize(&j.result).ok().and_then(|r| r.text),
                            reason: Some("stop".into()),
                            finished_at: None,
                            usage: None,
                        };
                        json_event(Event::default().event("done"), &done)
                    } else {
                        let e = ErrorData { message: j.error };
                        json_event(Event::default().event("error"), &e)
                    }
                }
                Follow::End(None) => {
                    let e = ErrorData {
                        message: Some(
                            "stream closed before the job finished; reconnect to resume".into(),
                        ),
                    };
                    json_event(Event::default().event("error"), &e)
                }
            };
            if tx.send(Ok(ev)).await.is_err() {
                return;
            }
        }
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(out);
    let sse = Sse::new(st.hub.counted(SseKind::Chat, body))
        .keep_alive(KeepAlive::new().interval(st.opts.ping).text("ping"));
    let mut resp = sse.into_response();
    sse_headers(&mut resp);
    Ok(resp)
}

/// The headers every SSE answer carries (reference §6.3): no caching or proxy buffering, and
/// `Connection: keep-alive`, which the reference's clients expect.
pub(super) fn sse_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
}
