//! Read-only views (`/api/peers`, `/api/overview`, `/api/health`) and the operator's node
//! commands (`model_install` / `model_remove`), which need the admin bearer token.
use super::store::now_ms;
use super::views::{peer, to_json, typed};
use super::{ApiError, AppState, DISPLAY_WINDOW_MS, read_body};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use infernet_core::wire::Data;
use infernet_core::wire::commands::{CommandArgs, CommandRow, Enqueue, Queued};
use infernet_core::wire::public::{Card, Health, Overview, Peer};
use serde_json::Value;
use std::collections::HashMap;

pub(super) async fn peers(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Data<Vec<Peer>>>, ApiError> {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let live = st
        .store
        .live_providers(now_ms() - DISPLAY_WINDOW_MS)
        .await?;
    let mut data = Vec::new();
    for p in live.into_iter().take(limit) {
        let active = st.store.active_count(&p.id).await?;
        data.push(peer(p, active));
    }
    Ok(Json(Data { data }))
}

pub(super) async fn overview(State(st): State<AppState>) -> Result<Json<Overview>, ApiError> {
    let live = st
        .store
        .live_providers(now_ms() - DISPLAY_WINDOW_MS)
        .await?;
    let mut models: Vec<&String> = live.iter().flat_map(|p| &p.served_models).collect();
    models.sort();
    models.dedup();
    let counts = st.store.job_counts().await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let last = live.iter().map(|p| p.last_seen).max();
    let registered = st.store.provider_count().await?;
    let card = |label: &str, value: Value, note: String| Card {
        label: label.into(),
        value,
        note,
    };
    Ok(Json(Overview {
        cards: vec![
            card(
                "Online nodes",
                live.len().into(),
                format!("{registered} registered; seen in the last 10 min"),
            ),
            card(
                "Models served",
                models.len().into(),
                models
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            card("Jobs", total.into(), by.join(", ")),
            card(
                "Last heartbeat",
                last.map(crate::backend::rfc3339_ms).into(),
                String::new(),
            ),
        ],
    }))
}

pub(super) async fn health(State(st): State<AppState>) -> Json<Health> {
    Json(Health {
        ok: true,
        uptime_s: st.started.elapsed().as_secs(),
        node_env: "self-hosted".into(),
        commit: env!("CARGO_PKG_VERSION").into(),
        database: match st.store.db.dialect() {
            crate::control::db::Dialect::Sqlite => "sqlite",
            crate::control::db::Dialect::Postgres => "postgres",
        }
        .into(),
    })
}

/// Readiness for a load balancer: 200 while this replica can reach its database, else 503
/// with `Retry-After` (`/api/health` stays database-free: it says the process lives).
pub(super) async fn ready(State(st): State<AppState>) -> Response {
    match tokio::time::timeout(std::time::Duration::from_secs(3), st.store.db.ping()).await {
        Ok(Ok(())) => Json(serde_json::json!({"ready": true, "database": "ok"})).into_response(),
        Ok(Err(e)) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: database unavailable: {e}"),
        )
        .into_response(),
        Err(_) => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database did not answer within 3 s".into(),
        )
        .into_response(),
    }
}

/// Constant-time comparison of the bearer token with the configured admin token.
pub(super) fn admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(want) = &st.opts.admin_token else {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "operator endpoints are disabled: start the control plane with INFERNET_ADMIN_TOKEN set".into(),
        ));
    };
    let got = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if same_secret(got, want.expose()) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        ))
    }
}

/// Constant-time equality of two secrets.
pub(super) fn same_secret(got: &str, want: &str) -> bool {
    let (a, b) = (got.as_bytes(), want.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) async fn enqueue_command(
    State(st): State<AppState>,
    Path(pubkey): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Data<Queued>>, ApiError> {
    super::users::admin_or_owner(&st, &headers, &pubkey).await?;
    let b: Enqueue = read_body(&body)?;
    let (verb, model) = b.validate()?;
    let p = st
        .store
        .provider_by_key(&pubkey, "provider")
        .await?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no node with public key '{pubkey}'"),
            )
        })?;
    if now_ms() - p.last_seen > DISPLAY_WINDOW_MS {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "node '{}' has not sent a heartbeat for 10 minutes",
                p.node_id
            ),
        ));
    }
    let args = to_json(&CommandArgs {
        model: model.to_string(),
    })?;
    let row = st
        .store
        .enqueue_command(&pubkey, verb.as_str(), &args, now_ms())
        .await?;
    Ok(Json(Data { data: typed(row)? }))
}

pub(super) async fn list_commands(
    State(st): State<AppState>,
    Path(pubkey): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Data<Vec<CommandRow>>>, ApiError> {
    super::users::admin_or_owner(&st, &headers, &pubkey).await?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let rows = st.store.commands(&pubkey, limit).await?;
    let data = rows.into_iter().map(typed).collect::<Result<_, _>>()?;
    Ok(Json(Data { data }))
}
