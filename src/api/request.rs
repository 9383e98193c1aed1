//! Parsing job request bodies (reference ritual-node §2.2). The job id and the client
//! address are the server's: body `id` / `ip` fields are ignored.
use super::ApiError;
use crate::jobs::JobRequest;
use serde_json::{Value, json};

pub enum Parsed {
    Offchain(JobRequest),
    /// A delegated subscription (`subscription` + `signature`): the whole body.
    Delegated(Value),
}

pub fn parse_job(v: Value) -> Result<Parsed, ApiError> {
    if v.get("subscription").is_some() || v.get("signature").is_some() {
        return Ok(Parsed::Delegated(v));
    }
    let Value::Object(mut obj) = v else {
        return Err(ApiError::bad_request(
            "Invalid job request: expected a JSON object",
        ));
    };
    for k in ["id", "ip"] {
        if obj.contains_key(k) {
            tracing::debug!(field = k, "ignoring client-supplied field");
        }
    }
    let containers = match obj.remove("containers") {
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|c| match c {
                Value::String(s) => Ok(s),
                other => Err(ApiError::bad_request(
                    "Invalid job request: 'containers' must be a list of container ids",
                )
                .with_params(json!({"found": other}))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid job request: 'containers' must be a list of container ids",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "Invalid job request: missing 'containers'",
            ));
        }
    };
    let data = match obj.remove("data") {
        Some(d @ Value::Object(_)) => d,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid job request: 'data' must be a JSON object",
            ));
        }
        None => return Err(ApiError::bad_request("Invalid job request: missing 'data'")),
    };
    let requires_proof = match obj.remove("requires_proof") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid job request: 'requires_proof' must be true or false",
            ));
        }
    };
    Ok(Parsed::Offchain(JobRequest {
        containers,
        data,
        requires_proof,
    }))
}

pub fn chain_not_enabled() -> ApiError {
    ApiError::bad_request("Chain not enabled").with_params(json!({
        "hint": "delegated subscriptions need an on-chain node ('chain.enabled')"
    }))
}
