//! Request bodies: bounded (413 beyond `server.max_body_bytes`), parsed as JSON with
//! arbitrary-precision integers.
use super::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
        .with_params(json!({"max_bytes": limit}))
}

pub async fn read_json(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large(limit);
            }
            src = s.source();
        }
        ApiError::bad_request(format!("Could not read request body: {e}"))
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "Request body is empty; expected JSON",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))
}
