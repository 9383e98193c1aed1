//! Auto-detection: probe every known backend endpoint at once (short timeout) and report
//! what answered and why the others did not.
use super::{BackendKind, cause};
use serde::Serialize;
use std::time::Duration;

pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub kind: BackendKind,
    pub url: String,
    pub answered: bool,
    /// Models served (OpenAI-compatible) or the version (Ollama) when it answered; else why not.
    pub detail: String,
    pub models: Vec<String>,
}

/// Where each kind is looked for: its host variable (`OLLAMA_HOST`, `VLLM_HOST`, …) or its
/// default port. vLLM and MAX share :8000 by default; one probe serves both.
pub fn default_candidates(env: &dyn Fn(&str) -> Option<String>) -> Vec<(BackendKind, String)> {
    let mut out: Vec<(BackendKind, String)> = Vec::new();
    for kind in BackendKind::ALL {
        if kind == BackendKind::Openai {
            continue;
        }
        let (host_var, _, _) = kind.env_vars();
        let url = env(host_var)
            .filter(|v| !v.is_empty())
            .map(|v| super::normalise_url(&v));
        let url = url.unwrap_or_else(|| kind.default_url().to_string());
        if !out.iter().any(|(_, u)| *u == url) {
            out.push((kind, url));
        }
    }
    out
}

pub async fn probe(http: &reqwest::Client, kind: BackendKind, url: &str) -> Probe {
    let mut p = Probe {
        kind,
        url: url.to_string(),
        answered: false,
        detail: String::new(),
        models: Vec::new(),
    };
    let target = format!("{url}{}", kind.probe_path());
    let resp = match http.get(&target).timeout(PROBE_TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) => {
            p.detail = if e.is_timeout() {
                format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())
            } else {
                cause(&e)
            };
            return p;
        }
    };
    if !resp.status().is_success() {
        p.detail = format!(
            "GET {} answered HTTP {}",
            kind.probe_path(),
            resp.status().as_u16()
        );
        return p;
    }
    let v: serde_json::Value = match resp.json().await {
        Ok(v) => v,
        Err(e) => {
            p.detail = format!("GET {} is not JSON: {e}", kind.probe_path());
            return p;
        }
    };
    p.answered = true;
    if kind == BackendKind::Ollama {
        p.detail = format!("ollama {}", v["version"].as_str().unwrap_or("?"));
        return p;
    }
    let data = v["data"].as_array().cloned().unwrap_or_default();
    p.models = data
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    // The server says who it is: llama.cpp and vLLM set `owned_by`.
    if let Some(owner) = data
        .first()
        .and_then(|m| m["owned_by"].as_str())
        .and_then(BackendKind::parse)
    {
        p.kind = owner;
    }
    p.detail = if p.models.is_empty() {
        "serves no model".into()
    } else {
        format!("serves {}", p.models.join(", "))
    };
    p
}

/// Probes every candidate concurrently.
pub async fn detect(http: &reqwest::Client, candidates: &[(BackendKind, String)]) -> Vec<Probe> {
    futures::future::join_all(candidates.iter().map(|(k, u)| probe(http, *k, u))).await
}
