//! The node tier's identity calls (reference §6.1): register, heartbeat, me, remove. All are
//! signed POSTs; answers come wrapped in [`super::Data`].
use super::{Role, WireError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/node/register`. `S` is the specs' type: the agent sends
/// [`super::specs::NodeSpecs`], the server reads free-form JSON and sanitises it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct Register<S = Value> {
    #[serde(default)]
    pub role: Role,
    /// Required (`<role>-<8 hex>` by default); owned by the first key that registers it.
    #[serde(default)]
    pub node_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Advertised address; `null` for an outbound-only node.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// Any JSON; kept as sent (a `null` too).
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Value>,
}

impl<S> Register<S> {
    /// The checks the server makes beyond the types: a node id, and a port in range.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.node_id.trim().is_empty() {
            return Err(WireError::Value("node_id is required".into()));
        }
        check_port(self.port)
    }
}

/// `1..=65535`, or none.
pub fn check_port(port: Option<i64>) -> Result<(), WireError> {
    match port {
        Some(p) if !(1..=65_535).contains(&p) => Err(WireError::Value(
            "port must be an integer in 1..65535".into(),
        )),
        _ => Ok(()),
    }
}

/// `{id, node_id}`: the row the registration wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Registered {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub node_id: String,
}

/// What a heartbeat says about the node: `offline` on a graceful stop; anything else (or
/// nothing) means available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    Available,
    Offline,
    /// A value this side does not know; read as available.
    #[serde(other)]
    Other,
}

/// `POST /api/v1/node/heartbeat`. An offline heartbeat carries no specs and no jobs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct Heartbeat<S = Value> {
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Availability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<S>,
    /// Ids of the jobs running on the node (ours): their leases are renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<Vec<String>>,
}

impl<S> Heartbeat<S> {
    pub fn offline(&self) -> bool {
        self.status == Some(Availability::Offline)
    }
}

/// `{id, status}`: the node's row after the heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatAck {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
}

/// `{role}`: the body of `me` and `remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleBody {
    #[serde(default)]
    pub role: Role,
}

/// `me`'s answer: the caller's row, or `null`. `R` is [`ProviderRow`] (ours); a reader that
/// shows the row as the server sent it (the reference sends its whole table row) reads
/// `Value`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
pub struct Me<R = ProviderRow> {
    #[serde(default)]
    pub row: Option<R>,
}

/// A registered node as `me` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderRow {
    pub id: String,
    pub node_id: String,
    pub public_key: String,
    pub role: String,
    pub name: Option<String>,
    pub status: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub gpu_model: Option<String>,
    /// As sanitised and stored.
    pub specs: Value,
    pub reputation: i64,
    /// RFC 3339.
    pub last_seen: String,
    pub last_seen_ms: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_jobs: Option<i64>,
}

/// `remove`'s answer: whether a row was deleted, and its id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Removed {
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub id: Option<String>,
}

/// The parts of any signed body that admission records for the operator (register sends
/// them). Read leniently: a field of another type is left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Ident {
    #[serde(default, deserialize_with = "lenient_string")]
    pub node_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}
