//! Which node keys may take users' prompts. `open` admits every key that signs correctly;
//! `allowlist` only the listed keys; `approval` the listed keys and those the operator
//! approved: an unknown key is recorded as `pending` (with the node_id and name it sent) and
//! refused until `infernet control-plane approve KEY` (or the admin endpoint) says yes.
use super::store::now_ms;
use super::views::typed;
use super::{ApiError, AppState, bad, read_body};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use infernet_core::wire::node::Ident;
use infernet_core::wire::public::{AdmissionRow, Admissions, Decide, Decision};
use infernet_core::wire::{Data, clean_text};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Pending requests kept at once; a flood of fresh keys cannot grow the table past this.
pub const MAX_PENDING: i64 = 1000;

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Policy {
    #[default]
    Open,
    Allowlist(HashSet<String>),
    /// Listed keys are admitted without asking.
    Approval(HashSet<String>),
}

impl Policy {
    /// From the CLI: `mode` (open / allowlist / approval; none means allowlist when keys
    /// are listed, else open) and the listed keys (hex, any case, optional 0x).
    pub fn from_args(mode: Option<&str>, keys: &[String]) -> Result<Self, PolicyError> {
        let keys: HashSet<String> = keys
            .iter()
            .map(|k| normalise(k))
            .filter(|k| !k.is_empty())
            .collect();
        match (mode.map(str::trim), keys.is_empty()) {
            (None, true) | (Some("open"), true) => Ok(Policy::Open),
            (Some("open"), false) => Err(PolicyError::OpenWithKeys),
            (None, false) | (Some("allowlist"), false) => Ok(Policy::Allowlist(keys)),
            (Some("allowlist"), true) => Err(PolicyError::EmptyAllowlist),
            (Some("approval"), _) => Ok(Policy::Approval(keys)),
            (Some(other), _) => Err(PolicyError::UnknownMode(other.to_string())),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Policy::Open => "open",
            Policy::Allowlist(_) => "allowlist",
            Policy::Approval(_) => "approval",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "--admission open admits every key: drop --allow-node, or use --admission allowlist or approval"
    )]
    OpenWithKeys,
    #[error("--admission allowlist needs at least one --allow-node PUBKEY")]
    EmptyAllowlist,
    #[error("--admission '{0}' is not one of open, allowlist, approval")]
    UnknownMode(String),
}

/// Why a key in approval mode is refused, from its recorded status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("node not admitted: the control plane's operator denied key {0}")]
    Denied(String),
    #[error(
        "node not admitted yet: awaiting the control plane operator's approval (infernet control-plane approve {0})"
    )]
    Pending(String),
    #[error(
        "node not admitted: {MAX_PENDING} nodes already await approval; ask the operator to approve {0}"
    )]
    TooManyPending(String),
}

pub fn normalise(key: &str) -> String {
    key.trim().trim_start_matches("0x").to_ascii_lowercase()
}

/// What the policy says before the database is asked.
#[derive(Debug, PartialEq)]
pub enum First {
    Admit,
    Refuse(String),
    /// `approval` mode and the key is not listed: the operator's decision decides.
    AskOperator,
}

pub fn first(policy: &Policy, key: &str) -> First {
    match policy {
        Policy::Open => First::Admit,
        Policy::Allowlist(keys) if keys.contains(key) => First::Admit,
        Policy::Allowlist(_) => First::Refuse(format!(
            "node not admitted: this control plane admits only allowlisted nodes; its operator can add --allow-node {key}"
        )),
        Policy::Approval(keys) if keys.contains(key) => First::Admit,
        Policy::Approval(_) => First::AskOperator,
    }
}

/// The answer for a key in approval mode, from its recorded status (`None`: too many
/// requests are pending to record another).
pub fn after_operator(status: Option<&str>, key: &str) -> Result<(), Refusal> {
    match status {
        Some("approved") => Ok(()),
        Some("denied") => Err(Refusal::Denied(key.to_string())),
        Some(_) => Err(Refusal::Pending(key.to_string())),
        None => Err(Refusal::TooManyPending(key.to_string())),
    }
}

/// Runs the policy for a verified signer; `body` is the request's JSON (register sends the
/// node_id and name the operator will see).
pub(super) async fn check(st: &AppState, key: &str, body: &Value) -> Result<(), ApiError> {
    let refuse = |m: String| ApiError(StatusCode::FORBIDDEN, m);
    match first(&st.opts.admission, key) {
        First::Admit => Ok(()),
        First::Refuse(m) => {
            tracing::warn!(pubkey = %key, "node refused: not on the allowlist");
            Err(refuse(m))
        }
        First::AskOperator => {
            let ident = Ident::deserialize(body).unwrap_or_default();
            let status = st
                .store
                .request_admission(
                    key,
                    ident.node_id.map(|s| clean_text(&s, 128)),
                    ident.name.map(|s| clean_text(&s, 120)),
                    now_ms(),
                    MAX_PENDING,
                )
                .await?;
            after_operator(status.as_deref(), key).map_err(|r| {
                tracing::info!(pubkey = %key, status = ?status, "node refused: not approved");
                refuse(r.to_string())
            })
        }
    }
}

/// `GET /api/v1/user/admissions?status=pending` (admin): the recorded keys, newest first.
pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Admissions>, ApiError> {
    super::public::admin(&st, &headers)?;
    let status = q.get("status").map(String::as_str);
    if let Some(s) = status
        && !matches!(s, "pending" | "approved" | "denied")
    {
        return Err(bad(format!(
            "status '{s}' is not one of pending, approved, denied"
        )));
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let rows = st.store.admissions(status, limit).await?;
    Ok(Json(Admissions {
        policy: st.opts.admission.name().into(),
        data: rows.into_iter().map(typed).collect::<Result<_, _>>()?,
    }))
}

/// `POST /api/v1/user/admissions/{pubkey}` with `{"decision": "approve" | "deny"}` (admin).
/// A key may be decided before it ever asked. Denying a registered node removes it, so it
/// gets no new jobs; the jobs it holds go back to the queue when their lease runs out.
pub(super) async fn decide(
    State(st): State<AppState>,
    Path(pubkey): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Data<Option<AdmissionRow>>>, ApiError> {
    super::public::admin(&st, &headers)?;
    let key = normalise(&pubkey);
    if key.len() != 64 || !key.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(format!(
            "'{pubkey}' is not a node public key (64 hex characters)"
        )));
    }
    let decision = read_body::<Decide>(&body)?.decision()?;
    let status = decision.status();
    let row = st.store.decide_admission(&key, status, now_ms()).await?;
    if decision == Decision::Deny {
        for role in ["provider", "aggregator", "client"] {
            st.store.remove(&key, role).await?;
        }
    } else {
        st.hub.wake_pollers();
    }
    tracing::info!(pubkey = %key, status, "node admission decided by the operator");
    Ok(Json(Data { data: typed(row)? }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_mode_follows_the_flags() {
        assert_eq!(Policy::from_args(None, &[]), Ok(Policy::Open));
        let one = Policy::from_args(None, &keys(&["0xAB"])).unwrap();
        assert_eq!(one, Policy::Allowlist(["ab".to_string()].into()));
        assert_eq!(
            Policy::from_args(Some("approval"), &[]),
            Ok(Policy::Approval(HashSet::new()))
        );
        assert_eq!(
            Policy::from_args(Some("allowlist"), &[]),
            Err(PolicyError::EmptyAllowlist)
        );
        assert_eq!(
            Policy::from_args(Some("open"), &keys(&["ab"])),
            Err(PolicyError::OpenWithKeys)
        );
        let e = Policy::from_args(Some("closed"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'closed'"), "{e}");
    }

    #[test]
    fn listed_keys_skip_the_operator_and_others_wait() {
        let p = Policy::Approval(["aa".to_string()].into());
        assert_eq!(first(&p, "aa"), First::Admit);
        assert_eq!(first(&p, "bb"), First::AskOperator);
        let a = Policy::Allowlist(["aa".to_string()].into());
        assert!(matches!(first(&a, "bb"), First::Refuse(m) if m.contains("--allow-node bb")));
        assert_eq!(first(&Policy::Open, "bb"), First::Admit);
    }

    #[test]
    fn each_recorded_status_has_its_answer() {
        assert_eq!(after_operator(Some("approved"), "k"), Ok(()));
        let pending = after_operator(Some("pending"), "k")
            .unwrap_err()
            .to_string();
        assert!(pending.contains("approve k"), "{pending}");
        assert_eq!(
            after_operator(Some("denied"), "k"),
            Err(Refusal::Denied("k".into()))
        );
        assert_eq!(
            after_operator(None, "k"),
            Err(Refusal::TooManyPending("k".into()))
        );
    }
}
