//! The wizard's answers become a config file (and secrets in the keyring) through
//! `infernet::setup::apply`, the same function `infernet setup` uses, so either can be re-run
//! over the other.
use infernet::identity::Secrets;
use infernet::setup::{BackendChoice, ChainChoice, SetupAnswers};
use infernet_ui::wizard::Answers;
use serde_json::json;
use std::path::Path;

/// The wizard's answers in setup's terms: the wizard shows every field, so each is set.
fn answers(a: &Answers) -> SetupAnswers {
    SetupAnswers {
        backend: match &a.backend {
            Some(b) => BackendChoice::Set {
                kind: b.kind.clone(),
                url: b.url.clone(),
                model: b.model.clone().unwrap_or_default(),
            },
            None => BackendChoice::Remove,
        },
        containers: Some(
            a.containers
                .iter()
                .map(|c| json!({"id": c.id, "image": c.image, "port": c.port}))
                .collect(),
        ),
        chain: match &a.chain {
            Some(c) => ChainChoice::On {
                rpc_url: c.rpc_url.clone(),
                registry_address: c.registry_address.clone(),
            },
            None => ChainChoice::Off,
        },
        wallet_key: a
            .chain
            .as_ref()
            .map(|c| infernet::config::Secret::new(c.private_key.clone())),
        control_plane_url: None,
        port: Some(a.port),
        node_name: Some(a.node_name.clone()),
        identity: a.identity,
    }
}

/// Writes `path` (creating its directory; keys already in the file are kept) and stores the
/// wallet key and node identity. Returns lines to report (where secrets went).
pub fn apply(path: &Path, secrets_dir: &Path, a: &Answers) -> Result<Vec<String>, String> {
    infernet::setup::apply(path, &Secrets::new(secrets_dir), &answers(a))
        .map(|done| done.report)
        .map_err(|e| e.to_string())
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
        let loaded = infernet::config::load(Some(&path), &Default::default()).unwrap();
        let c = loaded.config;
        assert_eq!(c.server.port, 4123);
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.ui.node_name, "box");
        assert_eq!(c.containers[0].image, "infernet-echo:test");
        assert_eq!(c.backends[0].model, "smol");
        assert!(!c.chain.enabled);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn a_chain_answer_keeps_the_key_out_of_the_file_and_the_config_loads_with_it() {
        let home = tempfile::tempdir().unwrap();
        let cfg_dir = home.path().join("infernet");
        let path = cfg_dir.join("config.json");
        let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
        let a = Answers {
            backend: None,
            containers: vec![],
            chain: Some(infernet_ui::wizard::ChainAnswer {
                rpc_url: "http://127.0.0.1:8545".into(),
                registry_address: "0x663F3ad617193148711d28f5334eE4Ed07016602".into(),
                private_key: key.into(),
            }),
            node_name: "box".into(),
            port: 4000,
            identity: true,
        };
        let report = apply(&path, &cfg_dir, &a).unwrap();
        assert!(
            report.iter().any(|r| r.starts_with("wallet 0x")),
            "{report:?}"
        );
        assert!(
            report.iter().any(|r| r.starts_with("node identity ")),
            "{report:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&key[2..]),
            "the key must not be in config.json"
        );
        // Loading with this config dir finds the stored key (keyring, else the 0600 file).
        let xdg = home.path().to_string_lossy().into_owned();
        let env = move |k: &str| (k == "XDG_CONFIG_HOME").then(|| xdg.clone());
        let loaded = infernet::config::load_with(Some(&path), &Default::default(), &env).unwrap();
        assert!(loaded.config.chain.enabled);
        assert_eq!(
            loaded
                .config
                .chain
                .wallet
                .private_key
                .as_ref()
                .map(|k| k.expose().to_string()),
            Some(key.to_string())
        );
        // A second run keeps the identity it created.
        let again = infernet::setup::ensure_identity(&Secrets::new(&cfg_dir)).unwrap();
        assert!(again.contains("kept"), "{again}");
        let _ = Secrets::new(&cfg_dir).remove(infernet::identity::node_key::CHAIN_KEY);
        let _ = Secrets::new(&cfg_dir).remove(infernet::identity::node_key::NODE_IDENTITY);
    }
}
