//! The REST API: bound before `Engine::start` returns, served as a critical supervised task.
use super::chain_side::ChainSide;
use super::{Error, secs};
use crate::api::{self, AppState, ratelimit::RateLimiter};
use crate::compute::StateTable;
use crate::config::{Config, validate::parse_net};
use crate::jobs::JobService;
use crate::listener::{Guarded, Limits};
use crate::supervise::Supervisor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the API serves from.
pub(super) struct Parts<'a> {
    pub jobs: &'a JobService,
    pub states: &'a StateTable,
    pub http: &'a reqwest::Client,
    pub resource_bases: Vec<(String, String)>,
    pub chain: &'a ChainSide,
    pub metrics: crate::telemetry::node::NodeMetrics,
    pub p2p: api::p2p_routes::P2pState,
}

/// Binds `server.bind:server.port` and serves the API until `cancel`; returns the bound address.
/// Serves the API on a listener `bind` opened (binding first lets the engine fail before it
/// starts anything).
pub(super) fn serve(
    config: &Config,
    (listener, rest_addr): (TcpListener, SocketAddr),
    parts: Parts<'_>,
    sup: &Supervisor,
    cancel: &CancellationToken,
) -> SocketAddr {
    let app = api::router(app_state(config, parts));
    let rest_cancel = cancel.child_token();
    let limits = Limits {
        max_connections: config.server.max_connections as usize,
        first_byte: Duration::from_secs_f64(config.server.header_timeout_secs),
    };
    // Without its REST API the node is not itself: its end stops the node.
    sup.critical("rest-api", async move {
        let listener = Guarded::new(listener, limits).with_connect_info();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(rest_cancel.cancelled_owned())
        .await
        .map_err(|e| format!("the REST server stopped: {e}"))
    });
    tracing::info!(address = %rest_addr, "REST API listening");
    rest_addr
}

pub(super) async fn bind(config: &Config) -> Result<(TcpListener, SocketAddr), Error> {
    let addr = format!("{}:{}", config.server.bind, config.server.port);
    let listener = TcpListener::bind(&addr).await.map_err(|e| Error::Listen {
        addr: addr.clone(),
        source: e,
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Listen { addr, source: e })?;
    Ok((listener, bound))
}

fn app_state(config: &Config, parts: Parts<'_>) -> AppState {
    let server = &config.server;
    AppState {
        jobs: parts.jobs.clone(),
        states: parts.states.clone(),
        http: parts.http.clone(),
        resource_bases: Arc::new(parts.resource_bases),
        limiter: Arc::new(RateLimiter::new(
            server.rate_limit.num_requests,
            secs(server.rate_limit.period),
        )),
        trusted_proxies: Arc::new(
            server
                .trusted_proxies
                .iter()
                .filter_map(|s| parse_net(s))
                .collect(),
        ),
        max_body: usize::try_from(server.max_body_bytes).unwrap_or(usize::MAX),
        body_timeout: Duration::from_secs_f64(server.body_timeout_secs),
        max_get_ids: server.max_get_ids as usize,
        max_get_bytes: usize::try_from(server.max_get_bytes).unwrap_or(usize::MAX),
        chain: parts.chain.status.clone(),
        delegated: parts.chain.delegated.clone(),
        metrics: Arc::new(parts.metrics),
        p2p: parts.p2p,
    }
}
