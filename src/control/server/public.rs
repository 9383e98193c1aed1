//! Read-only views (`/api/peers`, `/api/overview`, `/api/health`) and the operator's node
//! commands (`model_install` / `model_remove`), which need the admin bearer token.
use super::store::now_ms;
use super::{ApiError, AppState, DISPLAY_WINDOW_MS, bad};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

fn multiaddr(address: Option<&str>, port: Option<i64>) -> Value {
    match (address, port) {
        (Some(a), Some(p)) if !a.is_empty() => {
            let proto = if a.contains(':') { "ip6" } else { "ip4" };
            json!(format!("/{proto}/{a}/tcp/{p}"))
        }
        _ => Value::Null,
    }
}

pub(super) async fn peers(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
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
        data.push(json!({
            "pubkey": p.public_key,
            "node_id": p.node_id,
            "name": p.name,
            "status": p.status,
            "multiaddr": multiaddr(p.address.as_deref(), p.port),
            "last_seen": crate::backend::rfc3339_ms(p.last_seen),
            "last_seen_ms": p.last_seen,
            // Model names only: the reference mixed GPU names in here.
            "served_models": p.served_models,
            "gpu_model": p.gpu_model.clone().or_else(|| p.specs.pointer("/gpus/0/model").and_then(Value::as_str).map(str::to_string)),
            "gpu_count": p.specs.get("gpu_count").cloned().unwrap_or(json!(0)),
            "cpu": p.specs.get("cpu").cloned().unwrap_or(Value::Null),
            "interconnects": p.specs.get("interconnects").cloned().unwrap_or(Value::Null),
            "load": p.specs.get("load").cloned().unwrap_or(Value::Null),
            "active_jobs": active,
            "concurrency_cap": p.concurrency_cap,
        }));
    }
    Ok(Json(json!({ "data": data })))
}

pub(super) async fn overview(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "cards": [
        {"label": "Online nodes", "value": live.len(), "note": format!("{registered} registered; seen in the last 10 min")},
        {"label": "Models served", "value": models.len(), "note": models.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")},
        {"label": "Jobs", "value": total, "note": by.join(", ")},
        {"label": "Last heartbeat", "value": last.map(crate::backend::rfc3339_ms), "note": ""},
    ]})))
}

pub(super) async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "uptime_s": st.started.elapsed().as_secs(),
        "node_env": "self-hosted",
        "commit": env!("CARGO_PKG_VERSION"),
        "database": match st.store.db.dialect() {
            crate::control::db::Dialect::Sqlite => "sqlite",
            crate::control::db::Dialect::Postgres => "postgres",
        },
    }))
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
    let (a, b) = (got.as_bytes(), want.expose().as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        ))
    }
}

pub(super) async fn enqueue_command(
    State(st): State<AppState>,
    Path(pubkey): Path<String>,
    headers: HeaderMap,
    Json(b): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    admin(&st, &headers)?;
    let command = b.get("command").and_then(Value::as_str).unwrap_or("");
    if !matches!(command, "model_install" | "model_remove") {
        return Err(bad(format!(
            "command '{command}' is not one of model_install, model_remove"
        )));
    }
    let model = b
        .pointer("/args/model")
        .and_then(Value::as_str)
        .filter(|m| (1..=256).contains(&m.len()))
        .ok_or_else(|| bad("args.model must be a model name of 1 to 256 characters"))?;
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
    let row = st
        .store
        .enqueue_command(&pubkey, command, &json!({"model": model}), now_ms())
        .await?;
    Ok(Json(json!({ "data": row })))
}

pub(super) async fn list_commands(
    State(st): State<AppState>,
    Path(pubkey): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    admin(&st, &headers)?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    Ok(Json(
        json!({ "data": st.store.commands(&pubkey, limit).await? }),
    ))
}
