//! Backend API keys from the secret store: `infernet secret set` (OS keyring, else the 0600
//! file, reported as such) and a backend with `api_key_secret` against a real llama-server that
//! requires the key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::llm::LlamaServer;
use common::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

#[test]
fn api_key_from_the_secret_store_reaches_the_server() {
    let Some(s) = LlamaServer::start_with(&["--api-key", "k-123"]) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let cfg_dir = home.path().join("infernet");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let cfg = serde_json::json!({"backends": [{"id": "llm", "kind": "llamacpp", "url": s.url, "api_key_secret": "llm-key"}]});
    std::fs::write(cfg_dir.join("config.json"), cfg.to_string()).unwrap();

    // Not stored yet: the error says how to store it.
    let out = infernet_cmd(home.path())
        .args(["chat", "--backend", "llm", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secret 'llm-key' is not stored; store it with `infernet secret set llm-key`"),
        "{err}"
    );

    let mut child = infernet_cmd(home.path())
        .args(["secret", "set", "llm-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"k-123\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains("k-123"), "the value must not be echoed");
    if said.contains("secrets.json") {
        // No Secret Service here: the fallback is used and reported, with a 0600 file.
        assert!(
            said.contains("fallback because the OS keyring is not available"),
            "{said}"
        );
        let mode = std::fs::metadata(cfg_dir.join("secrets.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    } else {
        assert!(said.contains("the OS keyring"), "{said}");
    }

    let out = infernet_cmd(home.path())
        .args(["chat", "--backend", "llm", "--max-tokens", "4", "hi"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A wrong key is the server's 401, with its message.
    let mut child = infernet_cmd(home.path())
        .args(["secret", "set", "llm-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"wrong").unwrap();
    assert!(child.wait().unwrap().success());
    let out = infernet_cmd(home.path())
        .args(["chat", "--backend", "llm", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("llamacpp HTTP 401"), "{err}");

    let out = infernet_cmd(home.path())
        .args(["secret", "rm", "llm-key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = infernet_cmd(home.path())
        .args(["secret", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}
