//! `/api/p2p/peers`: this node's place in the c0mpute swarm and the peers it hears from.
use super::AppState;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The p2p side as the API sees it.
#[derive(Debug, Clone, Default)]
pub enum P2pState {
    /// `p2p.enabled` is false.
    #[default]
    Off,
    /// Enabled, but it could not start (the reason).
    Failed(String),
    On(crate::p2p::P2pHandle),
}

/// The node's peer id, listen addresses, connected peers and counters, and the live peers
/// (their models, GPU class, latest ad, bids won and lost).
#[utoipa::path(
    get,
    path = "/api/p2p/peers",
    summary = "The c0mpute peer table",
    responses(
        (status = 200, description = "This node and its peers (`enabled`: true), or why there are none (`enabled`: false, `reason`)", body = Object),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
        (status = 503, description = "Enabled but not started (the reason)", body = super::reply::ErrorBody),
    )
)]
pub async fn peers(State(st): State<AppState>) -> Response {
    match &st.p2p {
        P2pState::On(h) => Json(h.peers()).into_response(),
        P2pState::Off => Json(serde_json::json!({
            "enabled": false,
            "reason": "p2p is off on this node: set p2p.enabled (and p2p.bootstrap) in its config",
            "peers": [],
        }))
        .into_response(),
        P2pState::Failed(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("p2p did not start: {why}"),
        )
        .into_response(),
    }
}
