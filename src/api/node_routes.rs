//! `/health`, `/info`, `/resources`.
use super::AppState;
use super::reply::{
    ChainInfo, ContainerStatusView, Health, HealthFailing, Healthy, Info, Pending,
    RunningContainer, Unhealthy,
};
use super::request::ResourcesQuery;
use crate::compute::ContainerState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `{"status": "healthy"}` (Ritual's shape); 503 `unhealthy` with the reason while the store
/// cannot write (results would be lost).
#[utoipa::path(
    get,
    path = "/health",
    summary = "Liveness",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
        (status = 503, description = "The store cannot write", body = HealthFailing),
    )
)]
pub async fn health(State(st): State<AppState>) -> Response {
    match st.jobs.store().write_failing() {
        None => Json(Health {
            status: Healthy::Healthy,
        })
        .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthFailing {
                status: Unhealthy::Unhealthy,
                reason,
            }),
        )
            .into_response(),
    }
}

/// Ritual's shape (`version`, running `containers`, `pending`, `chain`) plus
/// `container_status`: every configured container with its state and, if it cannot run, why.
#[utoipa::path(
    get,
    path = "/info",
    summary = "Version, running containers, pending jobs, chain",
    responses(
        (status = 200, description = "Node information", body = Info),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
    )
)]
pub async fn info(State(st): State<AppState>) -> Json<Info> {
    let all = st.states.all();
    let containers = all
        .iter()
        .filter(|c| c.state == ContainerState::Ready)
        .map(|c| RunningContainer {
            id: c.id.clone(),
            description: c.description.clone(),
            external: c.external,
            image: c.image.clone(),
        })
        .collect();
    let offchain = st.jobs.counters().running.load(Ordering::Relaxed);
    // Ritual's two keys, then ours: phase, head, sync progress, RPC health, subscriptions
    // with the reason for every skip or failure.
    let (onchain, chain) = match st.chain.as_ref().map(|c| c.snapshot()) {
        Some(c) => (
            c.in_flight,
            ChainInfo {
                enabled: true,
                address: c.node.clone().unwrap_or_default(),
                status: Some(c),
            },
        ),
        None => (
            0,
            ChainInfo {
                enabled: false,
                address: String::new(),
                status: None,
            },
        ),
    };
    Json(Info {
        version: env!("CARGO_PKG_VERSION").into(),
        containers,
        pending: Pending { offchain, onchain },
        chain,
        container_status: all.into_iter().map(ContainerStatusView::from).collect(),
    })
}

/// Asks every container's `/service-resources` in parallel (at its `url` when remote);
/// containers that fail or answer non-JSON are left out, as Ritual does.
#[utoipa::path(
    get,
    path = "/resources",
    summary = "Each container's /service-resources (failures omitted)",
    params(ResourcesQuery),
    responses(
        (status = 200, description = "Container id to its answer", body = HashMap<String, Value>),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
    )
)]
pub async fn resources(
    State(st): State<AppState>,
    Query(q): Query<ResourcesQuery>,
) -> Json<Map<String, Value>> {
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
    Json(
        futures::future::join_all(calls)
            .await
            .into_iter()
            .flatten()
            .collect(),
    )
}

/// The node's series in the Prometheus text format (jobs, latency, containers, backends,
/// tokens, the chain side, the control-plane link, the store).
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
    )
)]
pub async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::telemetry::prom::CONTENT_TYPE,
        )],
        st.metrics.render(),
    )
        .into_response()
}
