//! `/api/jobs`, `/api/jobs/batch`, `/api/jobs/stream`, `/api/status`.
use super::body::read_json;
use super::client::ClientIp;
use super::reply::{BatchItem, Empty, ErrorBody, JobCreated, JobResult, JobStream, JobsReply};
use super::request::{
    JobRequestBody, JobStatusReport, JobsQuery, Parsed, chain_not_enabled, parse_job,
};
use super::{ApiError, AppState};
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::net::IpAddr;

/// Off-chain job or delegated subscription, one element of a body.
async fn submit(st: &AppState, parsed: Parsed, ip: IpAddr) -> Result<JobCreated, ApiError> {
    match parsed {
        Parsed::Delegated(body) => delegated(st, &body, ip).await,
        Parsed::Offchain(req) => Ok(JobCreated {
            id: Some(st.jobs.submit(req, ip).await?),
            subscription_id: None,
        }),
    }
}

#[utoipa::path(
    post,
    path = "/api/jobs",
    summary = "Create an off-chain job, or submit a delegated (signed) subscription (checked before answering; its first interval runs as job `id`)",
    request_body = Parsed,
    responses(
        (status = 200, description = "Accepted", body = JobCreated),
        (status = 400, description = "Invalid request, or refused for this node's state", body = ErrorBody),
        (status = 403, description = "Refused by the node's rules", body = ErrorBody),
        (status = 408, description = "Body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Container or chain side not ready", body = ErrorBody),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<JobCreated>, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    Ok(Json(submit(&st, parse_job(v)?, ip).await?))
}

/// Each element is judged on its own: a bad one gets its own error entry, the rest run.
#[utoipa::path(
    post,
    path = "/api/jobs/batch",
    summary = "Create several jobs; each element succeeds or fails on its own",
    request_body = Vec<Parsed>,
    responses(
        (status = 200, description = "One result per element, in request order", body = Vec<BatchItem>),
        (status = 400, description = "Not a list", body = ErrorBody),
        (status = 408, description = "Body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    )
)]
pub async fn create_batch(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Vec<BatchItem>>, ApiError> {
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let Value::Array(items) = v else {
        return Err(ApiError::bad_request("Expected a list"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let entry = match parse_job(item) {
            Ok(parsed) => submit(&st, parsed, ip).await,
            Err(e) => Err(e),
        };
        out.push(match entry {
            Ok(created) => BatchItem::Created(created),
            Err(e) => BatchItem::Refused(e.into_body()),
        });
    }
    Ok(Json(out))
}

#[utoipa::path(
    post,
    path = "/api/jobs/stream",
    summary = "Streaming job: first line is the job id, then the last container's bytes as they arrive",
    request_body = JobRequestBody,
    responses(
        (status = 200, description = "job id line, then raw bytes", content_type = "application/octet-stream", body = inline(JobStream)),
        (status = 400, description = "Invalid request, or refused for this node's state", body = ErrorBody),
        (status = 403, description = "Refused by the node's rules", body = ErrorBody),
        (status = 408, description = "Body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Container not ready", body = ErrorBody),
    )
)]
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
async fn delegated(st: &AppState, body: &Value, ip: IpAddr) -> Result<JobCreated, ApiError> {
    let Some(slot) = &st.delegated else {
        if st.chain.is_some() {
            return Err(
                ApiError::bad_request("Delegated subscriptions need SDK 1.x contracts").with_params(
                    json!({"hint": "chain.sdk is 0.x: an SDK v0.1.0 coordinator has no delegated subscriptions"}),
                ),
            );
        }
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
        Ok(a) => Ok(JobCreated {
            id: a.job_id,
            subscription_id: a.subscription_id,
        }),
        Err(r) => Err(ApiError::new(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            r.error,
        )
        .with_params(r.params)),
    }
}

/// Without `id`: this client's job ids (`pending=true|false` filters). With `id` (repeatable):
/// this client's results, in request order; unknown ids are skipped.
#[utoipa::path(
    get,
    path = "/api/jobs",
    summary = "List this client's job ids, or fetch results by id (scoped to the caller)",
    params(JobsQuery),
    responses(
        (status = 200, description = "Job ids without `id`; results with it", body = JobsReply),
        (status = 400, description = "Too many ids", body = ErrorBody),
        (status = 413, description = "Results exceed server.max_get_bytes", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    )
)]
pub async fn fetch(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    RawQuery(q): RawQuery,
) -> Result<Json<JobsReply>, ApiError> {
    let q = JobsQuery::parse(q.as_deref().unwrap_or_default());
    if q.id.is_empty() {
        let list = st.jobs.list(ip, q.pending()).await?;
        return Ok(Json(JobsReply::Ids(list)));
    }
    // A URL holds ~1,500 ids and results can be large: both are capped, so one GET cannot
    // take the node's memory.
    if q.id.len() > st.max_get_ids {
        return Err(ApiError::bad_request(format!(
            "Too many ids: at most {} per request",
            st.max_get_ids
        ))
        .with_params(json!({"max_ids": st.max_get_ids, "found": q.id.len()})));
    }
    let intermediate = q.intermediate();
    let got = st
        .jobs
        .get(ip, &q.id, intermediate, st.max_get_bytes)
        .await?;
    if got.over {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Results exceed server.max_get_bytes; ask for fewer ids per request",
        )
        .with_params(json!({"max_bytes": st.max_get_bytes, "fit": got.records.len()})));
    }
    Ok(Json(JobsReply::Results(
        got.records
            .into_iter()
            .map(|r| JobResult::new(r, intermediate))
            .collect(),
    )))
}

/// Job status reported by an independent container; loopback and configured networks only.
#[utoipa::path(
    put,
    path = "/api/status",
    summary = "Job status reported by an independent container (loopback and server.status_allowed_ips only; not rate limited)",
    request_body = JobStatusReport,
    responses(
        (status = 200, description = "Recorded", body = Empty),
        (status = 400, description = "Invalid report", body = ErrorBody),
        (status = 403, description = "Caller not allowed", body = ErrorBody),
        (status = 408, description = "Body did not arrive in time", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    )
)]
pub async fn put_status(
    State(st): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Empty>, ApiError> {
    if !st.jobs.guardian().may_report_status(ip) {
        tracing::warn!(client = %ip, "refused PUT /api/status from a non-local address");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "Unauthorized")
            .with_params(json!({"address": ip.to_string()})));
    }
    let v = read_json(&headers, body, st.max_body, st.body_timeout).await?;
    let r = JobStatusReport::parse(v)?;
    st.jobs
        .record_status(&r.id, ip, r.status, &r.containers)
        .await?;
    Ok(Json(Empty {}))
}
