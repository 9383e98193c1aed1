//! The wizard's answers become a config file (and secrets in the keyring): the same result
//! `infernet setup` produces, so either can be re-run over the other.
use crate::config::Secret;
use crate::identity::Secrets;
use infernet_ui::wizard::Answers;
use serde_json::{Value, json};
use std::path::Path;

/// Secret names shared with `infernet secret` and the node.
pub const CHAIN_KEY: &str = "chain.wallet.private_key";
pub const NODE_IDENTITY: &str = "node.identity";

/// Writes `path` (creating its directory; keys already in the file are kept) and stores the
/// wallet key and node identity. Returns lines to report (where secrets went).
pub fn apply(path: &Path, secrets_dir: &Path, a: &Answers) -> Result<Vec<String>, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    }
    if !path.exists() {
        std::fs::write(path, "{}\n")
            .map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    }
    let mut entries: Vec<(&str, Value)> = vec![
        ("server.port", json!(a.port)),
        ("ui.node_name", json!(a.node_name)),
        (
            "containers",
            Value::Array(
                a.containers
                    .iter()
                    .map(|c| json!({"id": c.id, "image": c.image, "port": c.port}))
                    .collect(),
            ),
        ),
    ];
    match &a.backend {
        Some(b) => entries.push((
            "backends",
            json!([{"id": "llm", "kind": b.kind, "url": b.url, "model": b.model.clone().unwrap_or_default()}]),
        )),
        None => entries.push(("backends", json!([]))),
    }
    let mut report = Vec::new();
    let secrets = Secrets::new(secrets_dir);
    match &a.chain {
        Some(c) => {
            entries.push(("chain.enabled", json!(true)));
            entries.push(("chain.rpc_url", json!(c.rpc_url)));
            entries.push(("chain.registry_address", json!(c.registry_address)));
            let loc = secrets
                .set(CHAIN_KEY, &Secret::new(c.private_key.clone()))
                .map_err(|e| format!("cannot store the wallet key: {e}"))?;
            report.push(format!("wallet key stored in {loc}"));
        }
        None => entries.push(("chain.enabled", json!(false))),
    }
    crate::config::edit::set_keys(path, &entries).map_err(|e| e.to_string())?;
    if a.identity {
        report.push(ensure_identity(&secrets)?);
    }
    Ok(report)
}

/// Creates the node identity (secp256k1) when there is none; reports its x-only public key.
pub fn ensure_identity(secrets: &Secrets) -> Result<String, String> {
    use alloy::signers::local::PrivateKeySigner;
    let existing = secrets
        .get(NODE_IDENTITY)
        .map_err(|e| format!("cannot read the node identity: {e}"))?;
    let (signer, loc, new) = match existing {
        Some((s, loc)) => {
            let signer: PrivateKeySigner = s
                .expose()
                .parse()
                .map_err(|_| "the stored node identity is not a valid key".to_string())?;
            (signer, loc, false)
        }
        None => {
            let signer = PrivateKeySigner::random();
            let hex = format!("0x{}", alloy::hex::encode(signer.to_bytes()));
            let loc = secrets
                .set(NODE_IDENTITY, &Secret::new(hex))
                .map_err(|e| format!("cannot store the node identity: {e}"))?;
            (signer, loc, true)
        }
    };
    let point = signer.credential().verifying_key().to_encoded_point(true);
    let x = alloy::hex::encode(&point.as_bytes()[1..]);
    Ok(format!(
        "node identity {x} ({} in {loc})",
        if new { "created" } else { "kept" }
    ))
}

/// A config with chain enabled and no key in the file takes the stored wallet key.
pub fn fill_chain_key(config: &mut crate::config::Config, secrets_dir: &Path) {
    if !config.chain.enabled || config.chain.wallet.private_key.is_some() {
        return;
    }
    match Secrets::new(secrets_dir).get(CHAIN_KEY) {
        Ok(Some((k, loc))) => {
            tracing::info!(location = %loc, "chain wallet key taken from the secret store");
            config.chain.wallet.private_key = Some(k);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the chain wallet key from the secret store")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infernet_ui::wizard::{BackendAnswer, ContainerAnswer};

    #[test]
    fn answers_become_a_config_that_loads_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg").join("config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"log": {"level": "debug"}}"#).unwrap();
        let a = Answers {
            backend: Some(BackendAnswer {
                kind: "llamacpp".into(),
                url: "http://127.0.0.1:8080".into(),
                model: Some("smol".into()),
            }),
            containers: vec![ContainerAnswer {
                id: "echo".into(),
                image: "infernet-echo:test".into(),
                port: 3000,
            }],
            chain: None,
            node_name: "box".into(),
            port: 4123,
            identity: false,
        };
        apply(&path, dir.path(), &a).unwrap();
        let loaded = crate::config::load(Some(&path), &Default::default()).unwrap();
        let c = loaded.config;
        assert_eq!(c.server.port, 4123);
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.ui.node_name, "box");
        assert_eq!(c.containers[0].image, "infernet-echo:test");
        assert_eq!(c.backends[0].model, "smol");
        assert!(!c.chain.enabled);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}
