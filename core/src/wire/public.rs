//! Read-only views (`/api/peers`, `/api/overview`, `/api/health`, reference §6.3) and the
//! operator's admission endpoints.
use super::WireError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One live node in `/api/peers` (`{data: [Peer]}`). `cpu`, `interconnects` and `load` are
/// the node's sanitised specs. The reference sends fewer fields; all are optional to read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Peer {
    pub pubkey: String,
    pub node_id: String,
    pub name: Option<String>,
    pub status: String,
    /// `/ip4|ip6/<address>/tcp/<port>`, or `null` for an outbound-only node.
    pub multiaddr: Option<String>,
    pub last_seen: String,
    pub last_seen_ms: i64,
    /// Model names only (the reference mixed GPU names in).
    pub served_models: Vec<String>,
    pub gpu_model: Option<String>,
    pub gpu_count: u64,
    pub cpu: Value,
    pub interconnects: Value,
    pub load: Value,
    pub active_jobs: u64,
    pub concurrency_cap: i64,
}

/// `/api/peers`'s `multiaddr` for an advertised address and port.
pub fn multiaddr(address: Option<&str>, port: Option<i64>) -> Option<String> {
    match (address, port) {
        (Some(a), Some(p)) if !a.is_empty() => {
            let proto = if a.contains(':') { "ip6" } else { "ip4" };
            Some(format!("/{proto}/{a}/tcp/{p}"))
        }
        _ => None,
    }
}

/// `/api/overview`: the dashboard's cards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Overview {
    #[serde(default)]
    pub cards: Vec<Card>,
}

/// One card: a number or a time (or `null`), and a line of detail.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Card {
    pub label: String,
    pub value: Value,
    pub note: String,
}

/// `/api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    pub ok: bool,
    pub uptime_s: u64,
    pub node_env: String,
    pub commit: String,
    /// sqlite or postgres.
    pub database: String,
}

/// A node key the control plane has recorded for admission. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AdmissionRow {
    pub pubkey: String,
    /// pending, approved or denied.
    pub status: String,
    pub node_id: Option<String>,
    pub name: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub decided_at: Option<String>,
}

/// `GET /api/v1/user/admissions`: the policy and the recorded keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Admissions {
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub data: Vec<AdmissionRow>,
}

/// The operator's answer to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    /// The admission status it records.
    pub fn status(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        }
    }

    fn refused(found: &str) -> WireError {
        WireError::Value(format!(
            "decision must be \"approve\" or \"deny\", found {found}"
        ))
    }
}

impl TryFrom<String> for Decision {
    type Error = WireError;
    fn try_from(s: String) -> Result<Self, WireError> {
        match s.as_str() {
            "approve" => Ok(Decision::Approve),
            "deny" => Ok(Decision::Deny),
            other => Err(Decision::refused(&format!("'{other}'"))),
        }
    }
}

/// `POST /api/v1/user/admissions/{pubkey}`: `{"decision": "approve" | "deny"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Decide {
    #[serde(default)]
    pub decision: Option<Decision>,
}

impl Decide {
    pub fn decision(&self) -> Result<Decision, WireError> {
        self.decision.ok_or_else(|| Decision::refused("nothing"))
    }
}
