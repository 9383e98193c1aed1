//! The effective config for display, with every secret replaced.
use super::{Config, Secret};

const HIDDEN: &str = "<redacted>";

pub(super) fn secretish(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "BEARER",
        "CREDENTIAL",
        "AUTH",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// JSON of the config with private keys, passwords, bearers and secret-looking env values hidden.
pub fn redacted(c: &Config) -> serde_json::Value {
    let mut c = c.clone();
    if let Some(u) = c.chain.rpc_url.as_mut() {
        *u = super::scrub::redact_url(u);
    }
    c.control_plane.url = super::scrub::redact_url(&c.control_plane.url);
    for u in &mut c.control_plane.urls {
        *u = super::scrub::redact_url(u);
    }
    for b in &mut c.backends {
        b.url = super::scrub::redact_url(&b.url);
    }
    if c.chain.wallet.private_key.is_some() {
        c.chain.wallet.private_key = Some(Secret::new(HIDDEN));
    }
    if let Some(d) = c.docker.as_mut() {
        d.password = Secret::new(HIDDEN);
    }
    for b in &mut c.backends {
        if !b.api_key.is_empty() {
            b.api_key = Secret::new(HIDDEN);
        }
    }
    for ct in &mut c.containers {
        if !ct.bearer.is_empty() {
            ct.bearer = Secret::new(HIDDEN);
        }
        for (k, v) in ct.env.iter_mut() {
            if secretish(k) {
                *v = HIDDEN.into();
            }
        }
    }
    serde_json::to_value(&c).unwrap_or(serde_json::Value::Null)
}
