//! One error shape for every route: `{"error": "...", "params": {...}}` with a 4xx for
//! client mistakes (never a 500 for bad input).
use super::reply::ErrorBody;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub params: Box<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            params: Box::new(json!({})),
            headers: Vec::new(),
        }
    }
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }
    pub fn with_params(mut self, params: Value) -> Self {
        self.params = Box::new(params);
        self
    }
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
    /// The body alone (a batch element carries it without the status and headers).
    pub fn into_body(self) -> ErrorBody {
        ErrorBody {
            error: self.error,
            params: *self.params,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let status = self.status;
        let headers = std::mem::take(&mut self.headers);
        let mut resp = (status, axum::Json(self.into_body())).into_response();
        for (k, v) in headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

impl From<crate::jobs::SubmitError> for ApiError {
    fn from(e: crate::jobs::SubmitError) -> Self {
        use crate::jobs::SubmitError as E;
        match e {
            E::Rejected(r) => {
                let status = if r.is_access_denied() {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                };
                ApiError::new(status, r.message()).with_params(r.params())
            }
            E::Unavailable {
                container,
                state,
                reason,
            } => {
                let retry = if state == "unavailable" { "30" } else { "2" };
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Container unavailable")
                    .with_params(json!({"container": container, "state": state, "reason": reason}))
                    .with_header(
                        axum::http::header::RETRY_AFTER,
                        HeaderValue::from_static(retry),
                    )
            }
            E::ShuttingDown => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Node is shutting down")
            }
            E::Store(err) => {
                tracing::error!(error = %err, "store failure while enqueueing a job");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Could not enqueue job: {err}"),
                )
            }
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Store error: {e}"),
        )
    }
}
