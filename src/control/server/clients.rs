//! Who submits a chat job, and whether it may: a client key (`Authorization: Bearer ifn_…`,
//! per-key limit and usage), the operator's admin token (no limit), or an anonymous address
//! (the anonymous limit; none when anonymous access is off). Limits persist in the database
//! (`rate_limits`), so a restart does not reset them as the reference's in-memory one did.
use super::store::now_ms;
use super::{ApiError, AppState};
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infernet_core::ratelimit::Limit;
use infernet_core::wire::ErrorBody;
use infernet_core::wire::keys::KEY_PREFIX;

/// An admitted caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Key(String),
    Admin,
    Anonymous(String),
}

impl Caller {
    /// The job's client: what per-client quotas, claim turns and the ledger's debit name.
    pub fn client_id(&self) -> String {
        match self {
            Caller::Key(id) => format!("key:{id}"),
            Caller::Admin => "admin".into(),
            Caller::Anonymous(ip) => ip.clone(),
        }
    }
}

/// The key id of a job's client, when a key submitted it.
pub(crate) fn key_of(client_id: &str) -> Option<&str> {
    client_id.strip_prefix("key:")
}

/// A refused caller: 401 (no or a bad key) or 429 (over its limit, with `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<i64>,
}

impl Refusal {
    /// Adds `Retry-After` to an answer built in the route's own error shape.
    pub fn with_retry_after(&self, mut r: Response) -> Response {
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message.clone(),
        };
        self.with_retry_after((self.status, Json(body)).into_response())
    }
}

/// Why a caller is not admitted: refused, or the database could not say.
#[derive(Debug)]
pub(crate) enum Gate {
    Refused(Refusal),
    Failed(ApiError),
}

impl From<crate::control::db::DbError> for Gate {
    fn from(e: crate::control::db::DbError) -> Self {
        Gate::Failed(e.into())
    }
}

impl IntoResponse for Gate {
    fn into_response(self) -> Response {
        match self {
            Gate::Refused(r) => r.into_response(),
            Gate::Failed(e) => e.into_response(),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn unauthorized(message: String) -> Gate {
    Gate::Refused(Refusal {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_api_key",
        message,
        retry_after_s: None,
    })
}

/// Identifies the caller and counts one request against its limit.
pub(crate) async fn admit(st: &AppState, headers: &HeaderMap, ip: &str) -> Result<Caller, Gate> {
    let now = now_ms();
    let (caller, limit) = match bearer(headers) {
        Some(b) if b.starts_with(KEY_PREFIX) => {
            let Some(k) = st.store.key_by_secret(b).await? else {
                return Err(unauthorized(
                    "unknown API key: ask the control plane's operator for one (infernet control-plane keys create)".into(),
                ));
            };
            if k.revoked {
                return Err(unauthorized(format!(
                    "API key {} was revoked",
                    k.row.prefix
                )));
            }
            let limit = Limit {
                per_hour: k.row.per_hour,
            };
            (Caller::Key(k.row.id), Some(limit))
        }
        Some(b) if is_admin(st, b) => (Caller::Admin, None),
        // Not one of ours (SDKs insist on sending some key): an anonymous request.
        _ => {
            if st.opts.anonymous_per_hour == 0 {
                return Err(unauthorized(
                    "this control plane needs an API key: send Authorization: Bearer <key> (its operator issues them with infernet control-plane keys create)".into(),
                ));
            }
            let limit = Limit {
                per_hour: st.opts.anonymous_per_hour,
            };
            (Caller::Anonymous(ip.to_string()), Some(limit))
        }
    };
    if let Some(limit) = limit {
        let subject = match &caller {
            Caller::Key(id) => format!("key:{id}"),
            other => format!("ip:{}", other.client_id()),
        };
        let d = st.store.take_rate(&subject, limit, now).await?;
        if let Some(retry) = d.retry_after_s() {
            let who = match &caller {
                Caller::Key(_) => "this API key",
                _ => "anonymous clients from this address",
            };
            tracing::info!(
                subject,
                retry_after_s = retry,
                "chat request over its limit"
            );
            return Err(Gate::Refused(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limit_exceeded",
                message: format!(
                    "rate limit: {who} may make {} requests an hour; retry in {retry} s",
                    limit.per_hour
                ),
                retry_after_s: Some(retry),
            }));
        }
    }
    if let Caller::Key(id) = &caller {
        st.store.key_used(id, now).await?;
    }
    Ok(caller)
}

fn is_admin(st: &AppState, token: &str) -> bool {
    st.opts
        .admin_token
        .as_ref()
        .is_some_and(|want| super::public::same_secret(token, want.expose()))
}
