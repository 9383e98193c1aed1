//! Stored rows as the wire shows them (`infernet_core::wire`), and the conversions between
//! the store's JSON and the wire types.
use super::ApiError;
use super::store::{Job, Provider};
use crate::backend::rfc3339_ms;
use axum::http::StatusCode;
use infernet_core::wire::jobs::JobRow;
use infernet_core::wire::node::ProviderRow;
use infernet_core::wire::public::{Peer, multiaddr};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The row as `me` shows it (the reference's columns; reputation is not computed yet).
pub(super) fn provider_row(p: &Provider, active_jobs: Option<i64>) -> ProviderRow {
    ProviderRow {
        id: p.id.clone(),
        node_id: p.node_id.clone(),
        public_key: p.public_key.clone(),
        role: p.role.clone(),
        name: p.name.clone(),
        status: p.status.clone(),
        address: p.address.clone(),
        port: p.port,
        gpu_model: p.gpu_model.clone(),
        specs: p.specs.clone(),
        reputation: 50,
        last_seen: rfc3339_ms(p.last_seen),
        last_seen_ms: p.last_seen,
        created_at: rfc3339_ms(p.created_at),
        active_jobs,
    }
}

/// A job's title, as the reference gives it: the first prompt (whitespace folded, at most 80
/// characters); `chat` when there is none.
pub(super) fn title(input_spec: &serde_json::Value) -> String {
    let first = input_spec
        .get("messages")
        .and_then(|m| m.as_array())
        .and_then(|m| {
            m.iter()
                .find(|x| x.get("role").and_then(|r| r.as_str()) == Some("user"))
        })
        .and_then(|x| x.get("content"))
        .and_then(|c| c.as_str())
        .unwrap_or("");
    let folded = first.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(80) {
        _ if folded.is_empty() => "chat".into(),
        Some((i, _)) => format!("{}…", &folded[..i]),
        None => folded,
    }
}

/// The whole job, as the node's poll and the SSE `job` frame carry it.
pub(super) fn job_row(j: &Job) -> JobRow {
    JobRow {
        id: j.id.clone(),
        title: title(&j.input_spec),
        kind: "chat".into(),
        status: j.status.as_str().into(),
        payment_offer: 0,
        payment_coin: None,
        model_name: j.model_name.clone(),
        input_spec: j.input_spec.clone(),
        provider_id: j.provider_id.clone(),
        attempt: j.attempts,
        max_attempts: j.max_attempts,
        result: j.result.clone(),
        error: j.error.clone(),
        created_at: rfc3339_ms(j.created_at),
        updated_at: rfc3339_ms(j.updated_at),
        assigned_at: j.assigned_at.map(rfc3339_ms),
        completed_at: j.completed_at.map(rfc3339_ms),
        client_pubkey: None,
    }
}

/// A live node in `/api/peers`; `cpu`, `interconnects` and `load` from its sanitised specs.
pub(super) fn peer(p: Provider, active_jobs: i64) -> Peer {
    let part = |k: &str| match &p.specs {
        Value::Object(o) => o.get(k).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let gpu_model = p.gpu_model.clone().or_else(|| {
        p.specs
            .pointer("/gpus/0/model")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Peer {
        multiaddr: multiaddr(p.address.as_deref(), p.port),
        last_seen: rfc3339_ms(p.last_seen),
        gpu_model,
        gpu_count: part("gpu_count").as_u64().unwrap_or(0),
        cpu: part("cpu"),
        interconnects: part("interconnects"),
        load: part("load"),
        active_jobs: u64::try_from(active_jobs).unwrap_or(0),
        concurrency_cap: p.concurrency_cap,
        pubkey: p.public_key,
        node_id: p.node_id,
        name: p.name,
        status: p.status,
        last_seen_ms: p.last_seen,
        served_models: p.served_models,
    }
}

fn internal(what: &str, e: serde_json::Error) -> ApiError {
    tracing::error!(error = %e, "{what}");
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
}

/// A row the store built as JSON, read as its wire type.
pub(super) fn typed<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v)
        .map_err(|e| internal("a stored row does not read as its wire type", e))
}

/// A wire value as the JSON the store keeps.
pub(super) fn to_json<T: Serialize>(t: &T) -> Result<Value, ApiError> {
    serde_json::to_value(t).map_err(|e| internal("a value does not convert to JSON", e))
}

#[cfg(test)]
mod title_tests {
    use super::title;
    use serde_json::json;

    #[test]
    fn the_title_is_the_first_prompt_folded_and_cut() {
        let spec = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "  What is\n the capital   of France? "}
        ]});
        assert_eq!(title(&spec), "What is the capital of France?");
        let long = "é".repeat(100);
        let t = title(&json!({"messages": [{"role": "user", "content": long}]}));
        assert_eq!(t.chars().count(), 81);
        assert!(t.ends_with('…'));
        assert_eq!(title(&json!({"messages": []})), "chat");
    }
}
