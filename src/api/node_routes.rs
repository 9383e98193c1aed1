//! `/health`, `/info`, `/resources`.
use super::AppState;
use crate::compute::ContainerState;
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `{"status": "healthy"}` (Ritual's shape); 503 `unhealthy` with the reason while the store
/// cannot write (results would be lost).
pub async fn health(State(st): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match st.jobs.store().write_failing() {
        None => Json(json!({"status": "healthy"})).into_response(),
        Some(reason) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unhealthy", "reason": reason})),
        )
            .into_response(),
    }
}

/// Ritual's shape (`version`, running `containers`, `pending`, `chain`) plus
/// `container_status`: every configured container with its state and, if it cannot run, why.
pub async fn info(State(st): State<AppState>) -> Json<Value> {
    let all = st.states.all();
    let running: Vec<Value> = all
        .iter()
        .filter(|c| c.state == ContainerState::Ready)
        .map(|c| json!({"id": c.id, "description": c.description, "external": c.external, "image": c.image}))
        .collect();
    let pending = st.jobs.counters().running.load(Ordering::Relaxed);
    let chain = st.chain.as_ref().map(|c| c.snapshot());
    let (onchain, chain_json) = match &chain {
        // Ritual's two keys, then ours: phase, head, sync progress, RPC health, subscriptions
        // with the reason for every skip or failure.
        Some(c) => (
            c.in_flight,
            json!({"enabled": true, "address": c.node.clone().unwrap_or_default(), "status": c}),
        ),
        None => (0, json!({"enabled": false, "address": ""})),
    };
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "containers": running,
        "pending": {"offchain": pending, "onchain": onchain},
        "chain": chain_json,
        "container_status": all,
    }))
}

#[derive(Deserialize)]
pub struct ResourcesQuery {
    model_id: Option<String>,
}

/// Asks every container's `/service-resources` in parallel (at its `url` when remote);
/// containers that fail or answer non-JSON are left out, as Ritual does.
pub async fn resources(State(st): State<AppState>, Query(q): Query<ResourcesQuery>) -> Json<Value> {
    let calls = st.resource_bases.iter().map(|(id, base)| {
        let http = st.http.clone();
        let mut req = http.get(format!("{base}/service-resources")).timeout(Duration::from_secs(10));
        if let Some(m) = &q.model_id {
            req = req.query(&[("model_id", m)]);
        }
        async move {
            let resp = req.send().await.ok()?;
            if !resp.status().is_success() {
                tracing::warn!(container = %id, status = %resp.status(), "service-resources failed");
                return None;
            }
            match resp.json::<Value>().await {
                Ok(v) => Some((id.clone(), v)),
                Err(e) => {
                    tracing::warn!(container = %id, error = %e, "service-resources is not JSON");
                    None
                }
            }
        }
    });
    let out: Map<String, Value> = futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect();
    Json(Value::Object(out))
}
