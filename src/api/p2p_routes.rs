//! `/api/p2p/peers`: this node's place in the c0mpute swarm and the peers it hears from.
//! `/api/p2p/chat`: one chat bought from the swarm, streamed back as chat events.
use super::AppState;
use super::body::read_json;
use super::error::ApiError;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use infernet_core::c0mpute::spec::InferenceSpec;
use serde::Deserialize;

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

const OFF: &str = "p2p is off on this node: set p2p.enabled (and p2p.bootstrap) in its config";

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
            "reason": OFF,
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

/// An `infernet.inference` spec: the chat to buy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct P2pChatBody {
    /// The model; absent: any a peer serves.
    pub model: Option<String>,
    pub messages: Vec<P2pChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct P2pChatMessage {
    /// system, user or assistant
    pub role: String,
    pub content: String,
}

/// Offers the chat on the swarm, accepts the cheapest bid and streams the winner's answer:
/// one chat event a line (`meta`, `token`…, then `done` or `error`), as `infernet chat
/// --json` prints them.
#[utoipa::path(
    post,
    path = "/api/p2p/chat",
    summary = "Buy one chat from the swarm; NDJSON chat events",
    request_body = P2pChatBody,
    responses(
        (status = 200, description = "One chat event a line", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Not a chat spec", body = super::reply::ErrorBody),
        (status = 408, description = "Body did not arrive in time", body = super::reply::ErrorBody),
        (status = 413, description = "Body too large", body = super::reply::ErrorBody),
        (status = 415, description = "Body is not JSON", body = super::reply::ErrorBody),
        (status = 429, description = "Rate limited", body = super::reply::ErrorBody),
        (status = 503, description = "p2p is off or not started on this node", body = super::reply::ErrorBody),
    )
)]
pub async fn chat(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let spec = InferenceSpec::parse(&v).map_err(ApiError::bad_request)?;
    let h = match &st.p2p {
        P2pState::On(h) => h.clone(),
        P2pState::Off => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, OFF)),
        P2pState::Failed(why) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("p2p did not start: {why}"),
            ));
        }
    };
    let req = crate::backend::ChatRequest {
        id: format!("p2p-{}", uuid::Uuid::new_v4().simple()),
        messages: spec
            .messages
            .iter()
            .map(|m| crate::backend::Message::new(&m.role, &m.content))
            .collect(),
        model: spec.model,
        temperature: spec.temperature,
        max_tokens: spec.max_tokens,
    };
    // The buyer stops when the client goes (the stream is dropped).
    let cancel = tokio_util::sync::CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let lines = h.chat(req, cancel).map(move |ev| {
        let _keep = &guard;
        let mut line = serde_json::to_vec(&ev).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(line)
    });
    let mut resp = Response::new(Body::from_stream(lines));
    let hd = resp.headers_mut();
    hd.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    hd.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
