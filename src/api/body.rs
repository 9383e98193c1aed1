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

/// A body a web page can send without a CORS preflight (`text/plain`, forms) is refused: a
/// page the operator visits must not be able to create jobs on a node on 127.0.0.1. JSON media
/// types pass, and so does a request that names none (curl -T, scripts) unless a browser sent
/// it (it carries `Origin`: a page's `fetch` of a typeless Blob needs no preflight either).
fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(axum::http::header::CONTENT_TYPE) else {
        if headers.contains_key(axum::http::header::ORIGIN) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Request body must be JSON (content-type: application/json)",
            )
            .with_params(json!({"content_type": null, "expected": "application/json"})));
        }
        return Ok(());
    };
    let media = v
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" || media.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Request body must be JSON",
    )
    .with_params(json!({"content_type": media, "expected": "application/json"})))
}

/// The JSON body, at most `limit` bytes, arriving in full within `timeout` (a body that
/// trickles or never ends holds a connection and a task, so it gets 408).
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Value, ApiError> {
    check_media_type(headers)?;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await;
    let Ok(read) = read else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "Request body did not arrive in time",
        )
        .with_params(json!({"timeout_secs": timeout.as_secs_f64()})));
    };
    let bytes = read.map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_str(ct).unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_json_media_types_make_jobs() {
        for ok in [
            None,
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/vnd.api+json"),
        ] {
            assert!(check_media_type(&with(ok)).is_ok(), "{ok:?}");
        }
        for bad in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            let e = check_media_type(&with(Some(bad))).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad}");
        }
        // A browser's typeless body (it sends Origin) is refused too.
        let mut page = with(None);
        page.insert(
            axum::http::header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        let e = check_media_type(&page).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
