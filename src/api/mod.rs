//! The REST API (axum), wire-compatible with Ritual's node (reference ritual-node §2).
mod body;
pub mod client;
mod error;
mod field;
mod job_routes;

mod node_routes;
pub mod openapi;
pub mod p2p_routes;
pub mod ratelimit;
pub mod reply;
pub mod request;

pub use error::ApiError;

use crate::compute::StateTable;
use crate::jobs::JobService;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use ratelimit::RateLimiter;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub jobs: JobService,
    pub states: StateTable,
    pub http: reqwest::Client,
    /// (container id, base URL) for `/resources`, in config order.
    pub resource_bases: Arc<Vec<(String, String)>>,
    pub limiter: Arc<RateLimiter>,
    pub trusted_proxies: Arc<Vec<IpNet>>,
    pub max_body: usize,
    /// How long a request body may take to arrive (408 beyond).
    pub body_timeout: std::time::Duration,
    /// `GET /api/jobs` caps: ids per request, result bytes per reply.
    pub max_get_ids: usize,
    pub max_get_bytes: usize,
    /// The chain side's status, when `chain.enabled`.
    pub chain: Option<std::sync::Arc<crate::chain::ChainStatus>>,
    /// Delegated subscriptions, when `chain.enabled` (filled once the chain is connected).
    pub delegated: Option<crate::chain::delegated::DelegatedSlot>,
    /// What `/metrics` reads.
    pub metrics: Arc<crate::telemetry::node::NodeMetrics>,
    /// The c0mpute swarm side.
    pub p2p: p2p_routes::P2pState,
}

/// Every route, with its handler's `#[utoipa::path]` entry: the router and `/openapi.json`
/// both come from this list, so neither can list a route the other lacks.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(node_routes::health))
        .routes(routes!(node_routes::info))
        .routes(routes!(node_routes::resources))
        .routes(routes!(node_routes::metrics))
        .routes(routes!(p2p_routes::peers))
        .routes(routes!(p2p_routes::chat))
        .routes(routes!(openapi::serve))
        .routes(routes!(job_routes::create, job_routes::fetch))
        .routes(routes!(job_routes::create_batch))
        .routes(routes!(job_routes::create_stream))
        .routes(routes!(job_routes::put_status))
}

pub fn router(state: AppState) -> axum::Router {
    let (served, _doc) = routes().split_for_parts();
    served
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(axum::http::StatusCode::NOT_FOUND, "Not found")
        .with_params(json!({"method": method.as_str(), "path": uri.path()}))
}

/// Resolves the client address once, then applies the rate limit (all routes but
/// `PUT /api/status`), adding `RateLimit-*` headers to every limited response.
async fn admit(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    // Every `X-Forwarded-For` line, in order, as one list: proxies append theirs, so a line a
    // client wrote itself is never the one trusted (RFC 7230 §3.2.2 allows either form).
    let xff: Option<String> = {
        let lines: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("unreadable"))
            .collect();
        (!lines.is_empty()).then(|| lines.join(","))
    };
    let ip = client::resolve(peer, xff.as_deref(), &st.trusted_proxies);
    req.extensions_mut().insert(client::ClientIp(ip));
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    if req.method() == Method::PUT && path == "/api/status" {
        return next.run(req).await;
    }
    let d = st
        .limiter
        .check(ip, openapi::route_key(req.method(), &path));
    let headers = [
        ("ratelimit-limit", d.limit.to_string()),
        ("ratelimit-remaining", d.remaining.to_string()),
        ("ratelimit-reset", d.reset.to_string()),
    ];
    let mut resp = if d.allowed {
        next.run(req).await
    } else {
        tracing::debug!(client = %ip, route = %path, "rate limited");
        let mut r = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
        )
        .with_params(json!({"retry_after": d.retry_after}))
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&d.retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}
