//! The node tier (reference §6.1): every call is a signed POST; the signer's key names the row.
use super::hub::HubMsg;
use super::store::{Provider, now_ms};
use super::{ApiError, AppState, bad};
use crate::control::auth;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use std::time::Duration;

type Reply = Result<Json<Value>, ApiError>;

fn data(v: Value) -> Reply {
    Ok(Json(json!({ "data": v })))
}

/// A verified node request: the signer's x-only key and the JSON body.
pub(super) struct Signed {
    pub key: String,
    pub body: Value,
}

impl FromRequest<AppState> for Signed {
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
        let (key, body) = signed(st, &parts.method, &parts.uri, &parts.headers, &bytes).await?;
        Ok(Signed { key, body })
    }
}

/// Verifies the envelope (structure, version, window, signature over the raw body), then the
/// nonce against the persistent replay cache; returns the signer and the JSON body.
async fn signed(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(String, Value), ApiError> {
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
    let json = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| bad(format!("body is not valid JSON: {e}")))?
    };
    if !json.is_object() {
        return Err(bad("body must be a JSON object"));
    }
    // Admission: only admitted keys may register and receive users' prompts.
    super::admission::check(st, &v.pubkey, &json).await?;
    Ok((v.pubkey, json))
}

fn role(body: &Value) -> Result<String, ApiError> {
    match body
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("provider")
    {
        r @ ("provider" | "aggregator" | "client") => Ok(r.to_string()),
        r => Err(bad(format!(
            "role '{r}' is not one of provider, aggregator, client"
        ))),
    }
}

fn opt_str(body: &Value, k: &str, max: usize) -> Option<String> {
    body.get(k)
        .and_then(Value::as_str)
        .map(|s| s.chars().filter(|c| !c.is_control()).take(max).collect())
}

fn opt_port(body: &Value) -> Result<Option<i64>, ApiError> {
    match body.get("port") {
        None | Some(Value::Null) => Ok(None),
        Some(p) => p
            .as_i64()
            .filter(|p| (1..=65_535).contains(p))
            .map(Some)
            .ok_or_else(|| bad("port must be an integer in 1..65535")),
    }
}

/// The caller's provider row, or 404 "call /register first".
async fn me_row(st: &AppState, pubkey: &str) -> Result<Provider, ApiError> {
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

pub(super) async fn register(State(st): State<AppState>, Signed { key, body: b }: Signed) -> Reply {
    let role = role(&b)?;
    let node_id = opt_str(&b, "node_id", 128)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("node_id is required"))?;
    let p = st
        .store
        .register(
            &key,
            &role,
            &node_id,
            opt_str(&b, "name", 120),
            opt_str(&b, "address", 255),
            opt_port(&b)?,
            opt_str(&b, "gpu_model", 64),
            b.get("price").map(|p| p.to_string()),
            b.get("specs").unwrap_or(&Value::Null),
            now_ms(),
        )
        .await??;
    tracing::info!(node_id = %p.node_id, models = ?p.served_models, "node registered");
    st.hub.wake_pollers();
    data(json!({ "id": p.id, "node_id": p.node_id }))
}

pub(super) async fn heartbeat(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed,
) -> Reply {
    let role = role(&b)?;
    let offline = b.get("status").and_then(Value::as_str) == Some("offline");
    let jobs: Option<Vec<String>> = b.get("jobs").and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(|j| j.as_str().map(str::to_string))
            .take(1024)
            .collect()
    });
    let p = st
        .store
        .heartbeat(
            &key,
            &role,
            offline,
            opt_str(&b, "address", 255),
            opt_port(&b)?,
            b.get("specs").filter(|s| s.is_object()),
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
    data(json!({ "id": p.id, "status": p.status }))
}

pub(super) async fn me(State(st): State<AppState>, Signed { key, body: b }: Signed) -> Reply {
    let role = role(&b)?;
    let row = st.store.provider_by_key(&key, &role).await?;
    let mut v = row.as_ref().map(Provider::to_json).unwrap_or(Value::Null);
    if let Some(p) = &row {
        v["active_jobs"] = json!(st.store.active_count(&p.id).await?);
    }
    data(json!({ "row": v }))
}

pub(super) async fn remove(State(st): State<AppState>, Signed { key, body: b }: Signed) -> Reply {
    let role = role(&b)?;
    let id = st.store.remove(&key, &role).await?;
    data(json!({ "deleted": id.is_some(), "id": id }))
}

/// Leases jobs to the caller. `wait_ms` (ours, up to 25 s) holds the request until a job
/// arrives, so jobs start at once without fast polling; without it the call returns at once,
/// as the reference's does.
pub(super) async fn poll(State(st): State<AppState>, Signed { key, body: b }: Signed) -> Reply {
    let p = me_row(&st, &key).await?;
    let limit = b
        .get("limit")
        .and_then(Value::as_i64)
        .unwrap_or(5)
        .clamp(1, 25);
    let wait = b
        .get("wait_ms")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(25_000);
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
            }
            let list: Vec<Value> = jobs.iter().map(|j| j.to_json()).collect();
            return data(json!({ "provider_id": p.id, "jobs": list }));
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

const EVENT_TYPES: [&str; 4] = ["meta", "token", "done", "error"];

pub(super) async fn events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed,
) -> Reply {
    let p = me_row(&st, &key).await?;
    let list = b
        .get("events")
        .and_then(Value::as_array)
        .filter(|l| (1..=200).contains(&l.len()))
        .ok_or_else(|| bad("events must be an array of 1 to 200 events"))?;
    let mut evs = Vec::with_capacity(list.len());
    for e in list {
        let kind = e
            .get("event_type")
            .and_then(Value::as_str)
            .filter(|k| EVENT_TYPES.contains(k))
            .ok_or_else(|| bad("event_type must be one of meta, token, done, error"))?;
        evs.push((
            kind.to_string(),
            e.get("data").cloned().unwrap_or(json!({})),
        ));
    }
    let (_, stored) = st
        .store
        .add_events(&id, &p.id, &evs, now_ms(), st.lease_ms())
        .await??;
    for e in &stored {
        st.hub.publish(&id, HubMsg::Event(e.clone()));
    }
    data(json!({ "inserted": stored.len() }))
}

pub(super) async fn complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed,
) -> Reply {
    let p = me_row(&st, &key).await?;
    let ok = match b.get("status").and_then(Value::as_str) {
        Some("completed") => true,
        Some("failed") => false,
        _ => return Err(bad("status must be 'completed' or 'failed'")),
    };
    let error = b.get("error").and_then(Value::as_str);
    let now = now_ms();
    let (j, noop) = st
        .store
        .complete(&id, &p.id, ok, b.get("result"), error, now)
        .await??;
    if !noop {
        // Readers end on `done`/`error`: add one when the node sent none for this attempt.
        if st
            .store
            .last_event_of(&j, &["done", "error"])
            .await?
            .is_none()
        {
            let (kind, data) = if ok {
                let text = j.result.get("text").cloned().unwrap_or(json!(""));
                (
                    "done",
                    json!({"text": text, "reason": "stop", "finished_at": crate::backend::rfc3339_ms(now)}),
                )
            } else {
                (
                    "error",
                    json!({"message": error.unwrap_or("the node reported a failure")}),
                )
            };
            let e = st
                .store
                .insert_event(&id, j.attempts, kind, &data, now)
                .await?;
            st.hub.publish(&id, HubMsg::Event(e));
        }
        st.hub.publish(&id, HubMsg::Final);
        tracing::info!(job = %id, node = %p.node_id, status = %j.status, "job finished");
    }
    let mut out = json!({ "id": j.id, "status": j.status });
    if noop {
        out["noop"] = json!(true);
    }
    data(out)
}

pub(super) async fn commands_poll(
    State(st): State<AppState>,
    Signed { key, body: b }: Signed,
) -> Reply {
    let limit = b
        .get("limit")
        .and_then(Value::as_i64)
        .unwrap_or(5)
        .clamp(1, 10);
    let cmds = st.store.poll_commands(&key, limit, now_ms()).await?;
    data(json!({ "commands": cmds }))
}

pub(super) async fn command_progress(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed,
) -> Reply {
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
    data(json!({ "id": id, "status": status }))
}

pub(super) async fn command_complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Signed { key, body: b }: Signed,
) -> Reply {
    let ok = match b.get("status").and_then(Value::as_str) {
        Some("completed") => true,
        Some("failed") => false,
        _ => return Err(bad("status must be 'completed' or 'failed'")),
    };
    let (status, noop) = st
        .store
        .complete_command(
            &id,
            &key,
            ok,
            b.get("result"),
            b.get("error").and_then(Value::as_str),
            now_ms(),
        )
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no command '{id}' for this node"),
            )
        })?;
    let mut out = json!({ "id": id, "status": status });
    if noop {
        out["noop"] = json!(true);
    }
    data(out)
}
