//! The node tier (reference §6.1): every call is a signed POST; the signer's key names the row.
//! Bodies and answers are the types of `infernet_core::wire`.
use super::hub::HubMsg;
use super::store::{Holder, Provider, now_ms};
use super::views::{job_row, provider_row, to_json, typed};
use super::{ApiError, AppState, bad, read_body};
use crate::control::auth;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use infernet_core::wire::commands::{CommandAck, CommandPoll, Commands, NodeCommand};
use infernet_core::wire::events::DoneData;
use infernet_core::wire::events::ErrorData;
use infernet_core::wire::jobs::{
    ChatResult, CompleteAck, Completion, EventsAck, JobEvents, JobPoll, Jobs,
};
use infernet_core::wire::node::{
    Heartbeat, HeartbeatAck, Me, ProviderRow, Register, Registered, Removed, RoleBody, check_port,
};
use infernet_core::wire::{Data, clean_text};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

type Reply<T> = Result<Json<Data<T>>, ApiError>;

fn data<T>(data: T) -> Reply<T> {
    Ok(Json(Data { data }))
}

/// A verified node request: the signer's x-only key and the body as `T`.
pub(super) struct Signed<T = Value> {
    pub key: String,
    pub body: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, st.opts.max_body)
            .await
            .map_err(|_| {
                ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body larger than {} bytes", st.opts.max_body),
                )
            })?;
        let key = signed(st, &parts.method, &parts.uri, &parts.headers, &bytes).await?;
        // The signature covered these bytes; they are read as the route's type only now.
        let body = read_body::<T>(&bytes)?;
        Ok(Signed { key, body })
    }
}

/// Verifies the envelope (structure, version, window, signature over the raw body), then the
/// nonce against the persistent replay cache, then the admission policy; returns the signer.
async fn signed(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<String, ApiError> {
    let unauthorized = |m: String| ApiError(StatusCode::UNAUTHORIZED, m);
    let header = headers
        .get(auth::HEADER)
        .map(|h| h.to_str().unwrap_or_default());
    let pq = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| uri.path());
    let now = now_ms();
    let v = auth::verify(header, method.as_str(), pq, body, now / 1000)
        .map_err(|e| unauthorized(e.to_string()))?;
    if !st.store.fresh_nonce(&v.nonce, &v.pubkey, now).await? {
        return Err(unauthorized(auth::AuthError::Replayed.to_string()));
    }
    let json: Value = read_body(body)?;
    if !json.is_object() {
        return Err(bad("body must be a JSON object"));
    }
    // Admission: only admitted keys may register and receive users' prompts.
    super::admission::check(st, &v.pubkey, &json).await?;
    Ok(v.pubkey)
}

/// Optional text as the server keeps it (printable, bounded).
fn text(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| clean_text(&s, max))
}

/// The caller's provider row, or 404 "call /register first".
pub(super) async fn me_row(st: &AppState, pubkey: &str) -> Result<Provider, ApiError> {
    st.store
        .provider_by_key(pubkey, "provider")
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                "unknown node: call /api/v1/node/register first".into(),
            )
        })
}

pub(super) async fn register(
    State(st): State<AppState>,
    Signed { key, body: mut b }: Signed<Register>,
) -> Reply<Registered> {
    b.node_id = clean_text(&b.node_id, 128);
    b.validate()?;
    let p = st
        .store
        .register(
            &key,
            b.role.as_str(),
            &b.node_id,
            text(b.name, 120),
            text(b.address, 255),
            b.port,
            text(b.gpu_model, 64),
            b.price.map(|p| p.to_string()),
            b.specs.as_ref().unwrap_or(&Value::Null),
            now_ms(),
        )
        .await??;
    tracing::info!(node_id = %p.node_id, models = ?p.served_models, "node registered");
    st.hub.wake_pollers();
    data(Registered {
        id: p.id,
        node_id: p.node_id,
    })
}

pub(super) async fn heartbeat(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed<Heartbeat>,
) -> Reply<HeartbeatAck> {
    check_port(b.port)?;
    let offline = b.offline();
    let jobs: Option<Vec<String>> = b.jobs.map(|l| l.into_iter().take(1024).collect());
    let p = st
        .store
        .heartbeat(
            &key,
            b.role.as_str(),
            offline,
            text(b.address, 255),
            b.port,
            b.specs.as_ref().filter(|s| s.is_object()),
            jobs.as_deref(),
            now_ms(),
            st.lease_ms(),
        )
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                "unknown node: call /api/v1/node/register first".into(),
            )
        })?;
    st.hub.wake_pollers();
    data(HeartbeatAck {
        id: p.id,
        status: p.status,
    })
}

pub(super) async fn me(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed<RoleBody>,
) -> Reply<Me<ProviderRow>> {
    let row = match st.store.provider_by_key(&key, b.role.as_str()).await? {
        Some(p) => Some(provider_row(&p, Some(st.store.active_count(&p.id).await?))),
        None => None,
    };
    data(Me { row })
}

pub(super) async fn remove(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed<RoleBody>,
) -> Reply<Removed> {
    let id = st.store.remove(&key, b.role.as_str()).await?;
    data(Removed {
        deleted: id.is_some(),
        id,
    })
}

/// Leases jobs to the caller. `wait_ms` (ours, up to 25 s) holds the request until a job
/// arrives, so jobs start at once without fast polling; without it the call returns at once,
/// as the reference's does.
pub(super) async fn poll(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed<JobPoll>,
) -> Reply<Jobs> {
    let p = me_row(&st, &key).await?;
    let limit = b.limit.unwrap_or(5).clamp(1, 25);
    let wait = b.wait_ms.unwrap_or(0).min(25_000);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
    loop {
        let notified = st.hub.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Re-read the row each round: a heartbeat may have changed its models or status.
        let p = st
            .store
            .provider_by_id(&p.id)
            .await?
            .unwrap_or_else(|| p.clone());
        let jobs = if p.status == "available" {
            let free = p.concurrency_cap - st.store.active_count(&p.id).await?;
            st.store
                .claim(&p, limit.min(free), now_ms(), st.lease_ms())
                .await?
        } else {
            Vec::new()
        };
        if !jobs.is_empty() || tokio::time::Instant::now() >= deadline {
            for j in &jobs {
                tracing::info!(job = %j.id, node = %p.node_id, attempt = j.attempts, "job leased");
                st.hub.publish(&j.id, HubMsg::Claimed);
            }
            return data(Jobs {
                provider_id: p.id,
                jobs: jobs.iter().map(job_row).collect(),
            });
        }
        let _waiting = st.hub.waiting();
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

pub(super) async fn events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed<JobEvents>,
) -> Reply<EventsAck> {
    let p = me_row(&st, &key).await?;
    b.validate()?;
    let evs: Vec<(String, Value)> = b
        .events
        .iter()
        .cloned()
        .map(|e| (e.event_type.as_str().to_string(), e.data))
        .collect();
    let (_, stored) = st
        .store
        .add_events(
            &id,
            Holder {
                provider: &p.id,
                attempt: b.attempt,
            },
            &evs,
            b.first_seq,
            now_ms(),
            st.lease_ms(),
        )
        .await??;
    for e in &stored {
        st.hub.publish(&id, HubMsg::Event(e.clone()));
    }
    data(EventsAck {
        inserted: stored.len() as u64,
    })
}

pub(super) async fn complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed<Completion>,
) -> Reply<CompleteAck> {
    let p = me_row(&st, &key).await?;
    let ok = b.status.is_ok();
    let error = b.error.as_deref();
    let now = now_ms();
    let (j, noop) = st
        .store
        .complete(
            &id,
            Holder {
                provider: &p.id,
                attempt: b.attempt,
            },
            ok,
            b.result.as_ref(),
            error,
            now,
        )
        .await??;
    if !noop {
        let last = st.store.last_event_of(&j, &["done", "error"]).await?;
        let mut amount_usd = None;
        if ok {
            let done = last.as_ref().filter(|e| e.kind == "done").map(|e| &e.data);
            amount_usd = Some(super::payouts::record_completed(&st, &j, &p, done, now).await?);
        }
        // Readers end on `done`/`error`: add one when the node sent none for this attempt.
        if last.is_none() {
            let (kind, data) = if ok {
                let text = ChatResult::deserialize(&j.result)
                    .ok()
                    .and_then(|r| r.text)
                    .unwrap_or_default();
                let done = DoneData {
                    text: Some(text),
                    reason: Some("stop".into()),
                    finished_at: Some(crate::backend::rfc3339_ms(now)),
                    usage: None,
                };
                ("done", to_json(&done)?)
            } else {
                let message = error.unwrap_or("the node reported a failure").to_string();
                let e = ErrorData {
                    message: Some(message),
                };
                ("error", to_json(&e)?)
            };
            let e = st
                .store
                .insert_event(&id, j.attempts, kind, &data, now)
                .await?;
            st.hub.publish(&id, HubMsg::Event(e));
        }
        st.hub.publish(&id, HubMsg::Final);
        tracing::info!(job = %id, node = %p.node_id, status = %j.status, "job finished");
        let amount = amount_usd.as_deref().unwrap_or("0");
        super::receipts::issue(&st, &j, &key, amount, now).await;
    }
    data(CompleteAck {
        id: j.id,
        status: j.status.as_str().into(),
        noop,
    })
}

pub(super) async fn commands_poll(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed<CommandPoll>,
) -> Reply<Commands> {
    let limit = b.limit.unwrap_or(5).clamp(1, 10);
    let rows = st.store.poll_commands(&key, limit, now_ms()).await?;
    let commands = rows
        .into_iter()
        .map(typed::<NodeCommand>)
        .collect::<Result<_, _>>()?;
    data(Commands { commands })
}

/// Stores the node's progress snapshot as sent; answers the command's status (a cancel).
pub(super) async fn command_progress(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed<Value>,
) -> Reply<CommandAck> {
    let status = st
        .store
        .command_progress(&id, &key, &b)
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no command '{id}' for this node"),
            )
        })?;
    data(CommandAck { id, status })
}

pub(super) async fn command_complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed<Completion>,
) -> Reply<CompleteAck> {
    let (status, noop) = st
        .store
        .complete_command(
            &id,
            &key,
            b.status.is_ok(),
            b.result.as_ref(),
            b.error.as_deref(),
            now_ms(),
        )
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no command '{id}' for this node"),
            )
        })?;
    data(CompleteAck { id, status, noop })
}
