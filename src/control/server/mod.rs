//! `infernet control-plane serve`: a self-hostable control plane (reference infernet-protocol
//! §6, with the fixes of §12.2): the signed node tier, chat jobs with a real lease queue and
//! SSE replay, the OpenAI-compatible endpoints, peers/overview/health. SQLite or PostgreSQL.
mod admission;
mod bus;
pub(crate) mod chat;
mod client_jobs;
mod clients;
mod coherent;
mod follow;
mod hub;
mod keys;
mod metrics;
mod node;
mod openai;
mod payouts;
mod public;
mod reaper;
mod receipts;
mod schema;
pub mod store;
mod users;
mod views;
mod web;

use crate::config::Secret;
pub use admission::{Policy as AdmissionPolicy, normalise as admission_key};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hub::Hub;
use infernet_core::wire;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: String,
    /// A SQLite path or a `postgres://` URL.
    pub database: String,
    /// How long a node holds a job without a sign of life (events, heartbeat).
    pub lease: Duration,
    /// Leases per job before it fails.
    pub max_attempts: i64,
    /// A node not seen for this long gets no new jobs.
    pub node_timeout: Duration,
    /// A job nobody claims for this long fails (`no_provider`).
    pub pending_timeout: Duration,
    /// SSE keep-alive comment interval.
    pub ping: Duration,
    /// Bearer token for the operator endpoints (node commands); none disables them.
    pub admin_token: Option<Secret>,
    pub max_body: usize,
    /// Stored events read per database page when a reader replays a job.
    pub replay_page: i64,
    /// Readers one job may have at once (SSE and OpenAI streams together); 429 beyond.
    pub max_readers_per_job: usize,
    /// Connections at once (503 beyond) and the time a new one has to start its request.
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// Jobs one client (IP) may have waiting for a node; 429 beyond.
    pub max_pending_per_client: i64,
    /// Which node keys may register and take users' prompts.
    pub admission: AdmissionPolicy,
    /// The key receipts are signed with (hex); none: a key for this process only.
    pub receipt_key: Option<Secret>,
    /// Where clients reach this control plane (its `did:web`); default: the listen address.
    pub public_url: Option<String>,
    /// Chat requests an hour an address may make without a key; 0: a key is required.
    pub anonymous_per_hour: u32,
    /// Requests an hour of a key created without its own limit.
    pub key_per_hour: u32,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:4010".into(),
            database: String::new(),
            lease: Duration::from_secs(90),
            max_attempts: 3,
            node_timeout: Duration::from_secs(120),
            pending_timeout: Duration::from_secs(120),
            ping: Duration::from_secs(15),
            admin_token: None,
            max_body: 1 << 20,
            replay_page: 256,
            max_readers_per_job: 64,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            admission: AdmissionPolicy::Open,
            max_pending_per_client: 256,
            receipt_key: None,
            public_url: None,
            anonymous_per_hour: 20,
            key_per_hour: 1000,
        }
    }
}

/// Nodes shown by `/api/peers`, `/v1/models` and the overview: seen in the last 10 minutes.
const DISPLAY_WINDOW_MS: i64 = 10 * 60 * 1000;

pub(crate) struct Inner {
    pub store: Store,
    pub hub: Hub,
    pub opts: ServeOptions,
    pub started: Instant,
    pub receipts: receipts::Signer,
    /// Where clients reach this control plane (`--public-url`, else the listen address).
    pub public_url: String,
}

pub(crate) type AppState = Arc<Inner>;

impl Inner {
    fn lease_ms(&self) -> i64 {
        self.opts.lease.as_millis() as i64
    }
    fn node_timeout_ms(&self) -> i64 {
        self.opts.node_timeout.as_millis() as i64
    }
}

/// `{"error": "…"}` with a status, as every control-plane error is.
#[derive(Debug)]
pub(crate) struct ApiError(pub StatusCode, pub String);

/// Seconds a client waits before retrying a 503 (a database outage, a replica not ready).
const RETRY_AFTER_S: &str = "2";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(wire::ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_S),
            );
        }
        r
    }
}

impl From<wire::WireError> for ApiError {
    fn from(e: wire::WireError) -> Self {
        bad(e.to_string())
    }
}

/// Why a request body could not be read as its wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Not JSON at all.
    Syntax(String),
    /// JSON, but a field has the wrong type (the message names it by its path).
    Data(String),
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Syntax(m) => bad(format!("body is not valid JSON: {m}")),
            BodyError::Data(m) => bad(format!("invalid body: {m}")),
        }
    }
}

/// Reads a request body as `T`; an empty body reads as `{}`.
pub(crate) fn read_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    use axum::extract::rejection::JsonRejection;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    axum::Json::<T>::from_bytes(bytes)
        .map(|j| j.0)
        .map_err(|r| {
            // The innermost error says where: `events[0].event_type: …`.
            let mut e: &dyn std::error::Error = &r;
            while let Some(inner) = e.source() {
                e = inner;
            }
            let why = e.to_string();
            match r {
                JsonRejection::JsonSyntaxError(_) => BodyError::Syntax(why),
                _ => BodyError::Data(why),
            }
        })
}

impl From<crate::control::db::DbError> for ApiError {
    fn from(e: crate::control::db::DbError) -> Self {
        tracing::error!(error = %e, "control-plane database error");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unavailable: {e}"),
        )
    }
}

impl From<store::Refused> for ApiError {
    fn from(r: store::Refused) -> Self {
        match r {
            store::Refused::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            store::Refused::Forbidden(m) => ApiError(StatusCode::FORBIDDEN, m),
            store::Refused::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
        }
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// A running control plane: its HTTP server (critical: its end stops the control plane) and
/// the queue reaper (restarted after a failure), under one supervisor.
pub struct Server {
    pub addr: SocketAddr,
    cancel: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
    sup: crate::supervise::Supervisor,
}

impl Server {
    pub async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Waits for every task to end (after a stop); the reason when a failure stopped it.
    pub async fn wait(self) -> Option<String> {
        self.tasks.close();
        self.tasks.wait().await;
        self.sup.stopped_by()
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("database '{0}': {1}")]
    Db(String, crate::control::db::DbError),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error("the receipt key: {0}")]
    ReceiptKey(crate::control::receipt::ReceiptError),
}

/// Opens (and migrates) the database, binds, and serves until cancelled.
pub async fn start(opts: ServeOptions) -> Result<Server, ServeError> {
    let label = crate::control::db::redact_url(&opts.database);
    let store = Store::open(&opts.database)
        .await
        .map_err(|e| ServeError::Db(label.clone(), e))?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| ServeError::Listen(opts.listen.clone(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Listen(opts.listen.clone(), e))?;
    let limits = crate::listener::Limits {
        max_connections: opts.max_connections,
        first_byte: opts.header_timeout,
    };
    let state_admission = opts.admission.name();
    let public_url = opts
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let receipts = receipts::Signer::new(opts.receipt_key.as_ref(), &public_url)
        .map_err(ServeError::ReceiptKey)?;
    let state: AppState = Arc::new(Inner {
        store,
        hub: Hub::default(),
        opts,
        started: Instant::now(),
        receipts,
        public_url,
    });
    let cancel = CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    // Failures are logged by the supervisor; nothing else listens here.
    let sup = crate::supervise::Supervisor::new(tasks.clone(), cancel.clone(), |_| {});
    // Replicas on one PostgreSQL hear each other's events and new work.
    if state.store.db.dialect() == crate::control::db::Dialect::Postgres {
        let bus = bus::start(
            &state.opts.database,
            state.store.db.clone(),
            &state.hub,
            &sup,
        );
        state.hub.attach_bus(bus);
    }
    reaper::spawn(state.clone(), &sup);
    let app = router(state);
    let c = cancel.clone();
    sup.critical("http", async move {
        let listener = crate::listener::Guarded::new(listener, limits).with_connect_info();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(c.cancelled_owned())
        .await
        .map_err(|e| format!("the HTTP server stopped: {e}"))
    });
    tracing::info!(address = %addr, database = %label, admission = state_admission, "control plane listening");
    Ok(Server {
        addr,
        cancel,
        tasks,
        sup,
    })
}

fn router(state: AppState) -> axum::Router {
    use axum::routing::{get, post};
    let limit = axum::extract::DefaultBodyLimit::max(state.opts.max_body);
    axum::Router::new()
        .route("/api/v1/node/register", post(node::register))
        .route("/api/v1/node/heartbeat", post(node::heartbeat))
        .route("/api/v1/node/me", post(node::me))
        .route("/api/v1/node/remove", post(node::remove))
        .route("/api/v1/node/jobs/poll", post(node::poll))
        .route("/api/v1/node/jobs/{id}/events", post(node::events))
        .route("/api/v1/node/jobs/{id}/complete", post(node::complete))
        .route("/api/v1/node/commands/poll", post(node::commands_poll))
        .route(
            "/api/v1/node/commands/{id}/progress",
            post(node::command_progress),
        )
        .route(
            "/api/v1/node/commands/{id}/complete",
            post(node::command_complete),
        )
        .route("/api/v1/node/payouts/set", post(payouts::set))
        .route("/api/v1/node/payouts/list", post(payouts::list))
        .route("/api/v1/node/payouts/remove", post(payouts::remove))
        .route("/api/v1/node/payments/list", post(payouts::payments))
        .route(
            "/api/v1/user/nodes/{pubkey}/commands",
            post(public::enqueue_command).get(public::list_commands),
        )
        .route("/api/v1/user/admissions", get(admission::list))
        .route("/api/v1/user/admissions/{pubkey}", post(admission::decide))
        .route("/api/v1/user/pubkey/link", post(users::link))
        .route("/api/v1/user/keys", post(keys::create).get(keys::list))
        .route(
            "/api/v1/user/keys/{id}",
            axum::routing::delete(keys::revoke),
        )
        .route("/api/v1/receipts/{id}", get(receipts::get))
        .route("/.well-known/did.json", get(receipts::did))
        .route("/api/v1/jobs", post(client_jobs::create))
        .route("/api/v1/jobs/{id}", get(client_jobs::get))
        .route("/api/v1/jobs/{id}/stream", get(client_jobs::stream))
        .route("/api/chat", post(chat::create))
        .route("/api/chat/stream/{id}", get(chat::stream))
        .route("/api/chat/{id}/status", get(chat::status))
        .route("/v1/chat/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/api/peers", get(public::peers))
        .route("/api/overview", get(public::overview))
        .route("/api/health", get(public::health))
        .route("/api/ready", get(public::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(web::home))
        .route("/status", get(web::status_page))
        .route("/status/events", get(web::status_events))
        .route("/dashboard", get(web::dashboard_page))
        .route("/dashboard/events", get(web::dashboard_events))
        .route("/dashboard/login", get(web::login))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(limit)
        .with_state(state)
}

/// Unknown routes answer JSON like every other refusal (axum's default is an empty body).
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("not found: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed: {method} {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use infernet_core::wire::jobs::{AssignedJob, InputSpec, JobEvents, Jobs};
    use infernet_core::wire::node::Register;
    use serde::Deserialize;

    #[test]
    fn a_refused_body_names_the_field_by_its_path() {
        let e = read_body::<JobEvents>(br#"{"events":[{"event_type":"log"}]}"#).unwrap_err();
        assert!(
            matches!(&e, BodyError::Data(m) if m.starts_with("events[0].event_type: event_type must be one of meta, token, done, error, found 'log'")),
            "{e:?}"
        );
        let e = read_body::<Register>(br#"{"node_id":"a","port":"80"}"#).unwrap_err();
        assert!(
            matches!(&e, BodyError::Data(m) if m.starts_with("port: invalid type")),
            "{e:?}"
        );
        let ApiError(status, m) = read_body::<Register>(b"{nope").unwrap_err().into();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(m.starts_with("body is not valid JSON: "), "{m}");
        // An empty body is `{}`.
        assert_eq!(read_body::<Register>(b" \n").unwrap().node_id, "");
    }

    #[test]
    fn numbers_read_back_with_arbitrary_precision() {
        // This crate enables serde_json's arbitrary_precision: typed reads must still work.
        let jobs: Jobs<AssignedJob> = read_body(
            br#"{"provider_id":"p","jobs":[{"id":"j","input_spec":{"messages":[{"role":"user","content":"x"}],"max_tokens":7,"temperature":0.25}}]}"#,
        )
        .unwrap();
        let spec = InputSpec::deserialize(&jobs.jobs[0].input_spec).unwrap();
        assert_eq!((spec.max_tokens(), spec.temperature), (Some(7), Some(0.25)));
        let r: Register = read_body(br#"{"node_id":"a","port":46337,"price":0.10}"#).unwrap();
        assert_eq!(r.port, Some(46337));
        // A price is kept as sent, digits included.
        assert_eq!(r.price.map(|p| p.to_string()).as_deref(), Some("0.10"));
    }
}
