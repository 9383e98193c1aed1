//! `SetupAnswers` → config keys (other keys of the file are kept) and secrets (the wallet key
//! to the keyring, never to the file; the node identity created when asked).
use crate::config::{self, Secret};
use crate::identity::{Secrets, node_key};
use serde_json::{Value, json};
use std::path::Path;

/// The id of the backend entry setup manages; other entries are the operator's.
const LLM_ID: &str = "llm";

#[derive(Debug, Clone, Default, PartialEq)]
pub enum BackendChoice {
    /// Leave the backend list as it is.
    #[default]
    Keep,
    /// No LLM backend: drop setup's entry (others stay).
    Remove,
    /// Insert or update setup's entry, keeping its other keys.
    Set {
        kind: String,
        url: String,
        model: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum ChainChoice {
    #[default]
    Keep,
    Off,
    On {
        rpc_url: String,
        registry_address: String,
    },
}

/// What the operator chose; `None`/`Keep` leaves the file's value alone.
#[derive(Debug, Clone, Default)]
pub struct SetupAnswers {
    pub backend: BackendChoice,
    /// The whole list, as config entries (an entry's other keys are kept by the caller).
    pub containers: Option<Vec<Value>>,
    pub chain: ChainChoice,
    /// Stored in the keyring (or the 0600 file fallback) after validation.
    pub wallet_key: Option<Secret>,
    pub control_plane_url: Option<String>,
    pub port: Option<u16>,
    pub node_name: Option<String>,
    /// Create the node identity when there is none.
    pub identity: bool,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Lines to show: where the wallet key and the identity went.
    pub report: Vec<String>,
    /// Config keys written.
    pub keys: usize,
    /// The file did not exist before (it is created 0600).
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot create '{path}': {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Edit(#[from] config::Error),
    #[error("wallet key: {0}")]
    Wallet(String),
    #[error("node identity: {0}")]
    Identity(String),
}

/// Inserts or updates the list entry with this id, keeping its other keys.
pub fn upsert(list: &mut Vec<Value>, entry: Value) {
    let id = entry["id"].clone();
    match list.iter_mut().find(|e| e["id"] == id) {
        Some(e) => {
            if let (Some(e), Some(new)) = (e.as_object_mut(), entry.as_object()) {
                for (k, v) in new {
                    e.insert(k.clone(), v.clone());
                }
            }
        }
        None => list.push(entry),
    }
}

fn read(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}))
}

/// The config keys the answers set, given the file's current content.
fn entries(current: &Value, a: &SetupAnswers) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    match &a.chain {
        ChainChoice::Keep => {}
        ChainChoice::Off => out.push(("chain.enabled", json!(false))),
        ChainChoice::On {
            rpc_url,
            registry_address,
        } => {
            out.push(("chain.enabled", json!(true)));
            out.push(("chain.rpc_url", json!(rpc_url)));
            out.push(("chain.registry_address", json!(registry_address)));
        }
    }
    if let Some(u) = &a.control_plane_url {
        out.push(("control_plane.url", json!(u.trim())));
    }
    if let Some(p) = a.port {
        out.push(("server.port", json!(p)));
    }
    if let Some(n) = &a.node_name {
        out.push(("ui.node_name", json!(n)));
    }
    if let Some(c) = &a.containers {
        out.push(("containers", Value::Array(c.clone())));
    }
    let mut backends: Vec<Value> = current["backends"].as_array().cloned().unwrap_or_default();
    match &a.backend {
        BackendChoice::Keep => {}
        BackendChoice::Remove => {
            backends.retain(|b| b["id"] != LLM_ID);
            out.push(("backends", Value::Array(backends)));
        }
        BackendChoice::Set { kind, url, model } => {
            upsert(
                &mut backends,
                json!({"id": LLM_ID, "kind": kind, "url": url, "model": model}),
            );
            out.push(("backends", Value::Array(backends)));
        }
    }
    out
}

/// Writes the answers into `path` (creating it 0600 with its directory; other keys kept) and
/// stores the secrets under `secrets`.
pub fn apply(path: &Path, secrets: &Secrets, a: &SetupAnswers) -> Result<Applied, ApplyError> {
    // Validate the key before anything is written: a bad key changes nothing.
    if let Some(k) = &a.wallet_key {
        node_key::parse_key(k.expose()).map_err(ApplyError::Wallet)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ApplyError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let created = !path.exists();
    let keys = entries(&read(path), a);
    config::edit::set_keys(path, &keys)?;
    if created {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    let mut report = Vec::new();
    if let Some(k) = &a.wallet_key {
        let (addr, loc) = node_key::store_wallet(secrets, k).map_err(ApplyError::Wallet)?;
        report.push(format!("wallet {addr} stored in {loc}"));
    }
    if a.identity {
        report.push(ensure_identity(secrets)?);
    }
    Ok(Applied {
        report,
        keys: keys.len(),
        created,
    })
}

/// Creates the node identity (secp256k1) when there is none; says its x-only public key.
pub fn ensure_identity(secrets: &Secrets) -> Result<String, ApplyError> {
    let id = node_key::ensure(secrets, false).map_err(ApplyError::Identity)?;
    Ok(format!(
        "node identity {} ({} in {})",
        id.public_key,
        if id.created { "created" } else { "kept" },
        id.location
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    #[test]
    fn keeps_other_keys_and_other_backends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c").join("config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"log": {"level": "debug"}, "backends": [{"id": "mine", "kind": "ollama", "url": ""}, {"id": "llm", "kind": "vllm", "url": "x", "timeout_s": 9}]}"#,
        )
        .unwrap();
        let a = SetupAnswers {
            backend: BackendChoice::Set {
                kind: "llamacpp".into(),
                url: "http://127.0.0.1:8080".into(),
                model: "smol".into(),
            },
            port: Some(4123),
            ..Default::default()
        };
        let done = apply(&path, &Secrets::new(dir.path()), &a).unwrap();
        assert!(!done.created);
        assert_eq!(done.keys, 2);
        let v = read(&path);
        assert_eq!(v["log"]["level"], "debug");
        assert_eq!(v["server"]["port"], 4123);
        assert_eq!(v["backends"][0]["id"], "mine");
        // Setup's entry is updated in place; keys it does not manage survive.
        assert_eq!(v["backends"][1]["kind"], "llamacpp");
        assert_eq!(v["backends"][1]["timeout_s"], 9);
        let removed = SetupAnswers {
            backend: BackendChoice::Remove,
            ..Default::default()
        };
        apply(&path, &Secrets::new(dir.path()), &removed).unwrap();
        let v = read(&path);
        assert_eq!(v["backends"].as_array().unwrap().len(), 1);
        assert_eq!(v["backends"][0]["id"], "mine");
    }

    #[test]
    fn a_bad_wallet_key_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let a = SetupAnswers {
            wallet_key: Some(Secret::new("not-a-key".to_string())),
            port: Some(1),
            ..Default::default()
        };
        let e = apply(&path, &Secrets::new(dir.path()), &a).unwrap_err();
        assert!(e.to_string().starts_with("wallet key:"), "{e}");
        assert!(
            !path.exists(),
            "nothing may be written for a refused answer"
        );
    }

    #[test]
    fn a_new_file_is_private_and_the_key_stays_out_of_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let a = SetupAnswers {
            chain: ChainChoice::On {
                rpc_url: "http://127.0.0.1:8545".into(),
                registry_address: "0x663F3ad617193148711d28f5334eE4Ed07016602".into(),
            },
            wallet_key: Some(Secret::new(KEY.to_string())),
            ..Default::default()
        };
        let secrets = Secrets::new(dir.path());
        let done = apply(&path, &secrets, &a).unwrap();
        assert!(done.created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!std::fs::read_to_string(&path).unwrap().contains(&KEY[2..]));
        assert!(
            done.report.iter().any(|l| l.starts_with("wallet 0x")),
            "{:?}",
            done.report
        );
        let _ = secrets.remove(node_key::CHAIN_KEY);
    }
}
