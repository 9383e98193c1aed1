//! `/api/jobs`, `/api/jobs/batch`, `/api/jobs/stream`, `/api/status`.
use super::body::read_json;
use super::client::ClientIp;
use super::request::{Parsed, chain_not_enabled, parse_job};
use super::{ApiError, AppState};
use crate::store::{JobRecord, JobStatus};
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::IpAddr;

pub async fn create(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    match parse_job(v)? {
        Parsed::Delegated(body) => delegated(&st, &body, ip).await.map(Json),
        Parsed::Offchain(req) => {
            let id = st.jobs.submit(req, ip).await?;
            Ok(Json(json!({"id": id})))
        }
    }
}

/// Each element is judged on its own: a bad one gets its own error entry, the rest run.
pub async fn create_batch(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let Value::Array(items) = v else {
        return Err(ApiError::bad_request("Expected a list"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let entry = match parse_job(item) {
            Err(e) => e.body(),
            Ok(Parsed::Delegated(body)) => match delegated(&st, &body, ip).await {
                Ok(v) => v,
                Err(e) => e.body(),
            },
            Ok(Parsed::Offchain(req)) => match st.jobs.submit(req, ip).await {
                Ok(id) => json!({"id": id}),
                Err(e) => ApiError::from(e).body(),
            },
        };
        out.push(entry);
    }
    Ok(Json(Value::Array(out)))
}

pub async fn create_stream(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let req = match parse_job(v)? {
        Parsed::Delegated(_) => {
            return Err(ApiError::bad_request(
                "Streaming only supported for OffchainJob requests.",
            ));
        }
        Parsed::Offchain(req) => req,
    };
    let (id, stream) = st.jobs.submit_stream(req, ip).await?;
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-infernet-job-id", v);
    }
    Ok(resp)
}

/// A delegated subscription: checked before answering (reference ritual-node §5.7 does it
/// after a 200 `{}`). `{"id": <job>}` for a new one (the first interval's result is readable
/// with that id), `{"subscription_id": N}` for one already on chain.
async fn delegated(st: &AppState, body: &Value, ip: IpAddr) -> Result<Value, ApiError> {
    let Some(slot) = &st.delegated else {
        return Err(chain_not_enabled());
    };
    let Some(service) = slot.get() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The chain side is still connecting; try again",
        )
        .with_params(json!({"retry_after_s": 2})));
    };
    match service.accept(body, ip).await {
        Ok(a) => {
            let mut v = json!({});
            if let Some(id) = a.job_id {
                v["id"] = json!(id);
            }
            if let Some(n) = a.subscription_id {
                v["subscription_id"] = json!(n);
            }
            Ok(v)
        }
        Err(r) => Err(ApiError::new(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            r.error,
        )
        .with_params(r.params)),
    }
}

fn job_json(r: JobRecord, intermediate: bool) -> Value {
    let mut v = json!({"id": r.id, "status": r.status.as_str(), "result": r.result});
    if intermediate {
        v["intermediate_results"] = Value::Array(r.intermediate);
    }
    v
}

/// Without `id`: this client's job ids (`pending=true|false` filters). With `id` (repeatable):
/// this client's results, in request order; unknown ids are skipped.
pub async fn fetch(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut ids = Vec::new();
    let mut pending = None;
    let mut intermediate = false;
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "id" => ids.push(v.into_owned()),
            "pending" => {
                pending = match v.as_ref() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                }
            }
            "intermediate" => intermediate = v == "true",
            _ => {}
        }
    }
    if ids.is_empty() {
        let list = st.jobs.list(ip, pending).await?;
        return Ok(Json(json!(list)));
    }
    // A URL holds ~1,500 ids and results can be large: both are capped, so one GET cannot
    // take the node's memory.
    if ids.len() > st.max_get_ids {
        return Err(ApiError::bad_request(format!(
            "Too many ids: at most {} per request",
            st.max_get_ids
        ))
        .with_params(json!({"max_ids": st.max_get_ids, "found": ids.len()})));
    }
    let got = st
        .jobs
        .get(ip, &ids, intermediate, st.max_get_bytes)
        .await?;
    if got.over {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Results exceed server.max_get_bytes; ask for fewer ids per request",
        )
        .with_params(json!({"max_bytes": st.max_get_bytes, "fit": got.records.len()})));
    }
    Ok(Json(Value::Array(
        got.records
            .into_iter()
            .map(|r| job_json(r, intermediate))
            .collect(),
    )))
}

/// Job status reported by an independent container; loopback and configured networks only.
pub async fn put_status(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !st.jobs.guardian().may_report_status(ip) {
        tracing::warn!(client = %ip, "refused PUT /api/status from a non-local address");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "Unauthorized")
            .with_params(json!({"address": ip.to_string()})));
    }
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let Some(id) = id else {
        return Err(ApiError::bad_request("Invalid status: missing 'id'"));
    };
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .and_then(JobStatus::parse);
    let Some(status) = status else {
        return Err(ApiError::bad_request("Status is invalid")
            .with_params(json!({"expected": ["running", "success", "failed"]})));
    };
    let containers: Vec<String> = match v.get("containers") {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid status: 'containers' must be a list of container ids",
            ));
        }
    };
    st.jobs.record_status(id, ip, status, &containers).await?;
    Ok(Json(json!({})).into_response())
}
