//! "Why, not only what": one row that went wrong (a skipped subscription, a failed job, a backend
//! that is down, a delivery that reverted) explained: its state and reason, the log lines that
//! name it (its timeline) and the fix when one is known. Pure: built from the model an attached
//! UI already holds, so it works the same in-process, attached and across a fleet.
use super::model::{ChainView, JobState, Level, LogLine, Model};
use serde::{Deserialize, Serialize};

/// What a detail view is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    Job(String),
    Subscription(u32),
    Container(String),
    Backend(String),
}

impl Subject {
    /// The log field that names this subject, as the engine writes it (`key=value`).
    fn field(&self) -> (&'static str, String) {
        match self {
            Subject::Job(id) => ("job", id.clone()),
            Subject::Subscription(id) => ("subscription", id.to_string()),
            Subject::Container(id) => ("container", id.clone()),
            Subject::Backend(id) => ("backend", id.clone()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub title: String,
    pub state: String,
    /// False when the state is a fault (failed, ignored, unreachable, reverted …).
    pub healthy: bool,
    pub reason: Option<String>,
    /// Label and value pairs worth seeing beside the reason.
    pub facts: Vec<(String, String)>,
    /// The log lines that name the subject, oldest first.
    pub timeline: Vec<LogLine>,
    pub fix: Option<String>,
}

/// The newest lines kept in a timeline: a detail view, not a log viewer.
pub const TIMELINE_MAX: usize = 50;

/// Explains `s` from the model; `None` when the model no longer has it.
pub fn explain(m: &Model, s: &Subject) -> Option<Why> {
    let mut why = match s {
        Subject::Job(id) => job(m, id)?,
        Subject::Subscription(id) => subscription(m, *id)?,
        Subject::Container(id) => container(m, id)?,
        Subject::Backend(id) => backend(m, id)?,
    };
    let (key, value) = s.field();
    why.timeline = timeline(&m.logs, key, &value);
    // A reason the row does not carry yet is often the newest warning about it.
    if why.reason.is_none() && !why.healthy {
        why.reason = why
            .timeline
            .iter()
            .rev()
            .find(|l| l.level >= Level::Warn)
            .map(|l| l.text.clone());
    }
    why.fix = why.reason.as_deref().and_then(fix_for).map(str::to_string);
    Some(why)
}

/// The lines whose fields name `key=value` (a whole token: `job=a1` does not match `job=a10`).
pub fn timeline(logs: &[LogLine], key: &str, value: &str) -> Vec<LogLine> {
    let token = format!("{key}={value}");
    let wrapped = format!("{key}=Some({value})");
    let hits: Vec<&LogLine> = logs
        .iter()
        .filter(|l| {
            l.text
                .split_whitespace()
                .any(|t| t == token || t == wrapped)
        })
        .collect();
    let skip = hits.len().saturating_sub(TIMELINE_MAX);
    hits.into_iter().skip(skip).cloned().collect()
}

fn job(m: &Model, id: &str) -> Option<Why> {
    let j = m.jobs.rows.iter().find(|j| j.id == id)?;
    let mut facts = vec![
        ("source".to_string(), j.source.clone()),
        ("containers".to_string(), j.containers.join(" → ")),
    ];
    if let Some(end) = j.finished_ms {
        facts.push((
            "took".into(),
            format!("{} ms", end.saturating_sub(j.created_ms)),
        ));
    }
    Some(Why {
        title: format!("job {id}"),
        state: j.state.label().into(),
        healthy: j.state != JobState::Failed,
        reason: j.error.clone(),
        facts,
        ..Why::default()
    })
}

fn subscription(m: &Model, id: u32) -> Option<Why> {
    let ChainView::Enabled(c) = &m.chain else {
        return None;
    };
    let s = c.subscriptions.iter().find(|s| s.id == id)?;
    let mut facts = vec![
        ("owner".to_string(), s.owner.clone()),
        ("containers".to_string(), s.containers.join(",")),
        (
            "schedule".to_string(),
            match (s.frequency, s.period) {
                (1, _) | (_, 0) => format!("once, redundancy {}", s.redundancy),
                (n, p) => format!("{n} intervals every {p} s, redundancy {}", s.redundancy),
            },
        ),
    ];
    let opt = |label: &str, v: &Option<String>, facts: &mut Vec<(String, String)>| {
        if let Some(v) = v {
            facts.push((label.to_string(), v.clone()));
        }
    };
    opt("last delivery", &s.last_delivery, &mut facts);
    opt("last tx", &s.last_tx, &mut facts);
    opt("payment", &s.payment, &mut facts);
    opt("proof", &s.proof, &mut facts);
    if let Some(i) = s.interval {
        facts.push(("interval".into(), i.to_string()));
    }
    // Ended by the chain (completed, expired, cancelled) is normal; ignored needs a look, and so
    // does a tracked one whose last delivery reverted or was given up.
    let fault = s.last_delivery.as_deref().and_then(delivery_fault);
    let state = match &fault {
        Some((word, _)) => format!("{}, last delivery {word}", s.status),
        None => s.status.clone(),
    };
    Some(Why {
        title: format!("subscription {id}"),
        healthy: s.status != "ignored" && fault.is_none(),
        state,
        reason: s.reason.clone().or(fault.map(|(_, r)| r)),
        facts,
        ..Why::default()
    })
}

/// A last-delivery line that went wrong (`interval N: retrying (R)`, `… given_up (R)`): its state
/// word and reason.
fn delivery_fault(text: &str) -> Option<(String, String)> {
    let (_, rest) = text.split_once(": ")?;
    let (word, reason) = rest.split_once(" (")?;
    matches!(word, "retrying" | "given_up" | "failed").then(|| {
        let reason = reason.strip_suffix(')').unwrap_or(reason);
        (word.replace('_', " "), reason.to_string())
    })
}

fn container(m: &Model, id: &str) -> Option<Why> {
    let c = m.containers.iter().find(|c| c.id == id)?;
    let mut facts = vec![
        ("image".to_string(), c.image.clone()),
        ("port".to_string(), c.port.to_string()),
        ("restarts".to_string(), c.restarts.to_string()),
        (
            "managed".to_string(),
            if c.managed { "by this node" } else { "no" }.into(),
        ),
    ];
    if let Some(d) = &c.description {
        facts.push(("description".into(), d.clone()));
    }
    Some(Why {
        title: format!("container {id}"),
        healthy: matches!(c.state.as_str(), "ready" | "starting"),
        state: c.state.clone(),
        reason: c.reason.clone(),
        facts,
        ..Why::default()
    })
}

fn backend(m: &Model, id: &str) -> Option<Why> {
    let b = m.backends.rows.iter().find(|b| b.id == id)?;
    let mut facts = vec![
        ("kind".to_string(), b.kind.clone()),
        ("url".to_string(), b.url.clone()),
        (
            "models".to_string(),
            if b.models.is_empty() {
                "none listed".into()
            } else {
                b.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ];
    if let Some(d) = &b.default_model {
        facts.push(("default model".into(), d.clone()));
    }
    Some(Why {
        title: format!("backend {id}"),
        healthy: matches!(b.state.as_str(), "ready" | "checking" | "fetching model"),
        state: b.state.clone(),
        reason: b.error.clone(),
        facts,
        ..Why::default()
    })
}

/// Known failures and what the operator can do about them; matched on the engine's own wording
/// (revert messages, guardian rejections, backend and container errors), first match wins.
const FIXES: &[(&str, &str)] = &[
    (
        "No payment address provided",
        "Create this node's Wallet and set it: `infernet wallet create`, then chain.wallet.payment_address in config.json.",
    ),
    (
        "Container-set not supported",
        "The subscription asks for containers this node does not run: add them under \"containers\" in config.json (ids joined by commas must hash to its containerId), or leave it to other nodes.",
    ),
    (
        "Container not allowed for address",
        "The container's allowed_addresses does not list the subscription's owner: add the owner there if it should be served.",
    ),
    (
        "Container does not generate proof",
        "The subscription has a verifier: add a container with \"generates_proofs\": true, or leave it to nodes that prove.",
    ),
    (
        "First container must be external",
        "Mark the first container of the pipeline \"external\": true, or reorder the pipeline.",
    ),
    (
        "below minimum payment",
        "The subscription pays less than accepted_payments asks: lower the minimum for this container or leave it.",
    ),
    (
        "not accepted for container",
        "Add the token to the container's accepted_payments if it should be accepted.",
    ),
    (
        "Insufficient funds",
        "The paying Wallet is short: its owner tops it up (`infernet wallet fund`); the node retries at the next interval.",
    ),
    (
        "Insufficient allowance",
        "The Wallet's owner must approve the spender for more (`infernet wallet approve`).",
    ),
    (
        "Invalid wallet",
        "The payment address is not a Wallet from the WalletFactory: `infernet wallet create` makes one.",
    ),
    (
        "Node is not allowed",
        "The consumer keeps an allowlist without this node: its owner adds the node's address.",
    ),
    (
        "already responded",
        "Nothing to do: this node already delivered this interval.",
    ),
    (
        "Interval already completed",
        "Nothing to do: other nodes filled every redundant slot first (a faster RPC and pipeline win races).",
    ),
    (
        "Interval mismatch",
        "The transaction landed after its interval closed: check the RPC's latency and chain.snapshot_sync (a node far behind the head delivers late).",
    ),
    (
        "Signer does not match",
        "The delegated subscription was signed by a key the consumer's getSigner() does not return: the client must sign with that key.",
    ),
    (
        "signature has expired",
        "The client must sign the delegated subscription again with a later expiry.",
    ),
    (
        "nonce too low",
        "Another program sent a transaction from the node's key: use one key per node, or stop the node before `infernet wallet …`.",
    ),
    (
        "insufficient funds for gas",
        "Fund the node's account with ETH for gas (the address is in the header and `infernet status`).",
    ),
    (
        "out of gas",
        "Raise chain.max_gas_limit (the callback needs more gas than allowed).",
    ),
    (
        "Connection refused",
        "Nothing listens at that address: start the server (ollama serve, llama-server, vllm serve …) or fix the url in config.json.",
    ),
    (
        "connection refused",
        "Nothing listens at that address: start the server (ollama serve, llama-server, vllm serve …) or fix the url in config.json.",
    ),
    (
        "no answer within",
        "The server is up but does not answer: check its load and logs; a model still loading answers later.",
    ),
    (
        "model not found",
        "Pull the model (`p` on the backend row, or `infernet model pull NAME`) or choose one the backend lists.",
    ),
    (
        "No such image",
        "The image is not on this machine and could not be pulled: check the image name and the registry login.",
    ),
    (
        "address already in use",
        "Another process holds the container's port: free it or change the container's port in config.json.",
    ),
    (
        "port is already allocated",
        "Another process holds the container's port: free it or change the container's port in config.json.",
    ),
    (
        "timed out",
        "The step ran past its timeout: raise the container's or the job's timeout, or check why it is slow (its logs).",
    ),
];

/// The fix for a reason, when the engine's wording says which failure it is.
pub fn fix_for(reason: &str) -> Option<&'static str> {
    FIXES
        .iter()
        .find(|(needle, _)| reason.contains(needle))
        .map(|(_, fix)| *fix)
}

#[cfg(test)]
mod tests;
