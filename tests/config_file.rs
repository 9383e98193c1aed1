//! config.json: Ritual-style configs parse with every key, broken configs get exact messages,
//! search order and precedence, `infernet config check`, and config.sample.json boots.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use infernet::config::{self, Overrides, Source};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// A Ritual 1.4 config with every key, legacy keys and lax values included.
const RITUAL: &str = r#"{
  "log_path": "legacy.log",
  "log": {"max_file_size": "1000000", "backup_count": 3},
  "manage_containers": false,
  "server": {"port": "4001", "rate_limit": {"num_requests": 100, "period": 30}},
  "chain": {
    "enabled": true,
    "rpc_url": "http://127.0.0.1:8545",
    "trail_head_blocks": 0,
    "registry_address": "0x663F3ad617193148711d28f5334eE4Ed07016602",
    "coordinator_address": "0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1",
    "wallet": {
      "max_gas_limit": 4000000,
      "private_key": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
      "payment_address": "0x60985ee8192B322c3CAbA97A9A9f7298bdc4335C",
      "allowed_sim_errors": ["reverting"]
    },
    "snapshot_sync": {"sleep": 3, "batch_size": 1800, "starting_sub_id": 100, "sync_period": 0.5}
  },
  "snapshot_sync": {"sleep": 1},
  "startup_wait": 1.0,
  "docker": {"username": "me", "password": "hunter2"},
  "redis": {"host": "redis", "port": 6379},
  "forward_stats": true,
  "containers": [
    {
      "id": "echo",
      "image": "ritualnetwork/echo:1.0.0",
      "url": "http://127.0.0.1:3000",
      "bearer": "tok",
      "port": "3000",
      "external": true,
      "gpu": false,
      "accepted_payments": {
        "0x0000000000000000000000000000000000000000": 1000000000000000000,
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48": 115792089237316195423570985008687907853269984665640564039457584007913129639935
      },
      "allowed_ips": ["10.0.0.5/8", "127.0.0.1"],
      "allowed_addresses": ["0x60985ee8192B322c3CAbA97A9A9f7298bdc4335C"],
      "allowed_delegate_addresses": [],
      "description": "Echo",
      "command": "--bind=0.0.0.0:3000 --workers=2",
      "env": {"API_KEY": "s3cret", "MODE": "fast"},
      "generates_proofs": "true",
      "volumes": ["/tmp:/data:ro"]
    },
    {"id": "second", "url": "http://127.0.0.1:3001", "port": 3000}
  ]
}"#;

#[test]
fn ritual_config_with_every_key_parses() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "config.json", RITUAL);
    let l = config::load_with(
        Some(&p),
        &Overrides::default(),
        &env_of(&[("HOME", "/home/op")]),
    )
    .unwrap();
    let c = &l.config;
    assert_eq!(c.server.port, 4001);
    assert_eq!(c.server.rate_limit.num_requests, 100);
    assert_eq!(c.log.path, "legacy.log");
    assert_eq!(c.log.max_file_size, 1_000_000);
    assert!(!c.manage_containers);
    assert!(c.chain.enabled);
    assert_eq!(c.chain.trail_head_blocks, 0);
    assert_eq!(c.chain.snapshot_sync.batch_size, 1800);
    assert_eq!(c.chain.wallet.allowed_sim_errors, vec!["reverting"]);
    let e = &c.containers[0];
    assert_eq!(e.port, 3000);
    assert!(e.generates_proofs);
    assert_eq!(
        e.accepted_payments["0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"],
        "115792089237316195423570985008687907853269984665640564039457584007913129639935"
    );
    // The duplicate port moves down from 3999, as Ritual does.
    assert_eq!(c.containers[1].port, 3999);
    assert_eq!(c.store.path, "/home/op/.local/share/infernet/infernet.db");
    let w = l.warnings.join("\n");
    for needle in [
        "key 'redis' is accepted for compatibility and ignored",
        "key 'forward_stats' is accepted for compatibility and ignored: infernet sends no telemetry",
        "top-level key 'snapshot_sync' is a pre-1.0 key and is ignored",
        "key 'chain.coordinator_address' is a pre-1.0 key and is ignored",
        "key 'log_path' is the pre-1.1 name of 'log.path' and is used as such",
        "'containers[1].port' 3000 is already used; container 'second' gets port 3999",
    ] {
        assert!(w.contains(needle), "missing warning '{needle}' in:\n{w}");
    }
}

#[test]
fn unknown_keys_warn_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.json",
        r#"{"sever": {}, "containers": [{"id": "a", "image": "x", "colour": 1}]}"#,
    );
    let l = config::load_with(Some(&p), &Overrides::default(), &env_of(&[])).unwrap();
    let f = p.display();
    assert!(
        l.warnings
            .contains(&format!("config file '{f}': unknown key 'sever' (ignored)")),
        "{:?}",
        l.warnings
    );
    assert!(l.warnings.contains(&format!(
        "config file '{f}': unknown key 'containers[0].colour' (ignored)"
    )));
}

#[test]
fn broken_configs_name_file_key_value_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "{\"server\": {\"port\": 4000,}}",
            "is not valid JSON at line 1, column 26: trailing comma",
        ),
        (
            "[]",
            "key '$': expected a JSON object at the top level, found an array",
        ),
        (
            r#"{"server": {"port": "four thousand"}}"#,
            "key 'server.port': expected an integer from 0 to 65535, found 'four thousand'",
        ),
        (
            r#"{"server": {"port": 70000}}"#,
            "key 'server.port': expected an integer from 0 to 65535, found '70000'",
        ),
        (
            r#"{"control_plane": {"url": "ftp://cp.example"}}"#,
            "key 'control_plane.url': 'ftp://cp.example' is not an http(s) URL",
        ),
        (
            r#"{"control_plane": {"role": "miner"}}"#,
            "key 'control_plane.role': 'miner' is not one of provider, aggregator, client",
        ),
        (
            r#"{"controlPlane": {"heartbeat_interval": 0}}"#,
            "key 'control_plane.heartbeat_interval': expected seconds > 0, found '0'",
        ),
        (
            r#"{"manage_containers": "maybe"}"#,
            "key 'manage_containers': expected true or false, found 'maybe'",
        ),
        (
            r#"{"startup_wait": -1}"#,
            "key 'startup_wait': expected a non-negative number, found '-1'",
        ),
        (
            r#"{"containers": {}}"#,
            "key 'containers': invalid type: map, expected a sequence",
        ),
        (
            r#"{"containers": [{"image": "x"}]}"#,
            "key 'containers[0].id': is required: a non-empty container id",
        ),
        (
            r#"{"containers": [{"id": "a"}]}"#,
            "key 'containers[0].image': is required when 'manage_containers' is true",
        ),
        (
            r#"{"containers": [{"id": "a", "image": "x"}, {"id": "a", "image": "y"}]}"#,
            "key 'containers[1].id': duplicate container id 'a' (also containers[0].id)",
        ),
        (
            r#"{"containers": [{"id": "a,b", "image": "x"}]}"#,
            "key 'containers[0].id': 'a,b' must not contain ','",
        ),
        (
            r#"{"containers": [{"id": "a", "image": "x", "allowed_ips": ["10.0.0.300"]}]}"#,
            "key 'containers[0].allowed_ips[0]': '10.0.0.300' is not an IP address or CIDR network",
        ),
        (
            r#"{"containers": [{"id": "a", "image": "x", "allowed_addresses": ["0x12"]}]}"#,
            "key 'containers[0].allowed_addresses[0]': '0x12' is not an address (expected 0x and 40 hex digits)",
        ),
        (
            r#"{"containers": [{"id": "a", "image": "x", "accepted_payments": {"0x0000000000000000000000000000000000000000": -5}}]}"#,
            "key 'containers[0].accepted_payments.0x0000000000000000000000000000000000000000': expected a non-negative integer (uint256), found '-5'",
        ),
        (
            r#"{"containers": [{"id": "a", "image": "x", "volumes": ["/only-one-part"]}]}"#,
            "key 'containers[0].volumes[0]': '/only-one-part' is not a volume (expected 'host_path:container_path[:ro|rw]')",
        ),
        (
            r#"{"manage_containers": false, "containers": [{"id": "a", "url": "ftp://x"}]}"#,
            "key 'containers[0].url': 'ftp://x' is not an http(s) URL",
        ),
        (
            r#"{"docker": {"username": "me"}}"#,
            "key 'docker': missing field `password`",
        ),
        (
            r#"{"docker": {"username": "me", "password": ""}}"#,
            "key 'docker': needs both 'username' and 'password'",
        ),
        (
            r#"{"chain": {"enabled": true}}"#,
            "key 'chain.rpc_url': is required when 'chain.enabled' is true",
        ),
        (
            r#"{"chain": {"enabled": true, "rpc_url": "http://x", "registry_address": "nope", "wallet": {"private_key": "k"}}}"#,
            "key 'chain.registry_address': 'nope' is not an address",
        ),
        (
            r#"{"server": {"rate_limit": {"num_requests": 0}}}"#,
            "key 'server.rate_limit.num_requests': expected an integer >= 1, found '0'",
        ),
        (
            r#"{"server": {"bind": "localhost"}}"#,
            "key 'server.bind': 'localhost' is not an IP address",
        ),
        (
            r#"{"server": {"trusted_proxies": ["proxy.local"]}}"#,
            "key 'server.trusted_proxies[0]': 'proxy.local' is not an IP address or CIDR network",
        ),
        (
            r#"{"log": {"level": "loud"}}"#,
            "key 'log.level': 'loud' is not a level",
        ),
        (
            r#"{"jobs": {"container_timeout": 0}}"#,
            "key 'jobs.container_timeout': expected seconds > 0, found '0'",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let p = write(dir.path(), &format!("broken{i}.json"), text);
        let err = config::load_with(Some(&p), &Overrides::default(), &env_of(&[]))
            .unwrap_err()
            .to_string();
        let prefix = format!("config file '{}'", p.display());
        assert!(
            err.starts_with(&prefix),
            "case {i}: '{err}' should start with '{prefix}'"
        );
        assert!(
            err.contains(expected),
            "case {i}: '{err}' should contain '{expected}'"
        );
    }
    let missing = dir.path().join("absent.json");
    let err = config::load_with(Some(&missing), &Overrides::default(), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("cannot read config file '{}'", missing.display())),
        "{err}"
    );
    let err = config::load_with(
        None,
        &Overrides::default(),
        &env_of(&[("INFERNET_SERVER_PORT", "x")]),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable 'INFERNET_SERVER_PORT': expected an integer from 0 to 65535, found 'x'"
    );
}

#[test]
fn search_order_and_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("infernet")).unwrap();
    let in_xdg = write(
        &xdg.join("infernet"),
        "config.json",
        r#"{"server": {"port": 4100}}"#,
    );
    let by_env = write(dir.path(), "env.json", r#"{"server": {"port": 4200}}"#);
    let by_flag = write(
        dir.path(),
        "flag.json",
        r#"{"server": {"port": 4300, "bind": "127.0.0.1"}}"#,
    );
    let xdg_s = xdg.to_string_lossy().to_string();
    let env_s = by_env.to_string_lossy().to_string();

    let e = env_of(&[("XDG_CONFIG_HOME", &xdg_s)]);
    assert_eq!(config::locate(None, &e).unwrap(), Source::File(in_xdg));
    let e = env_of(&[
        ("XDG_CONFIG_HOME", &xdg_s),
        ("INFERNET_CONFIG_PATH", &env_s),
    ]);
    assert_eq!(
        config::locate(None, &e).unwrap(),
        Source::File(by_env.clone())
    );
    assert_eq!(
        config::locate(Some(&by_flag), &e).unwrap(),
        Source::File(by_flag.clone())
    );
    let e = env_of(&[("XDG_CONFIG_HOME", "/nonexistent")]);
    assert!(matches!(
        config::locate(None, &e).unwrap(),
        Source::Defaults { .. }
    ));

    // flag > env > file > default
    let e = env_of(&[
        ("INFERNET_SERVER_PORT", "4400"),
        ("INFERNET_STORE_PATH", "/tmp/env.db"),
    ]);
    let l = config::load_with(Some(&by_flag), &Overrides::default(), &e).unwrap();
    assert_eq!(l.config.server.port, 4400);
    assert_eq!(l.config.server.bind, "127.0.0.1");
    assert_eq!(l.config.store.path, "/tmp/env.db");
    let o = Overrides {
        port: Some(4500),
        ..Default::default()
    };
    let l = config::load_with(Some(&by_flag), &o, &e).unwrap();
    assert_eq!(l.config.server.port, 4500);
    let l = config::load_with(Some(&by_env), &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(l.config.server.port, 4200);
    assert_eq!(l.config.server.bind, "0.0.0.0");
    assert_eq!(l.config.server.rate_limit.num_requests, 60);
}

fn infernet(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .args(args)
        .current_dir(dir)
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn config_check_cli_validates_and_redacts() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.json", RITUAL);
    let (code, out, err) = infernet(
        &["config", "check", "--config", good.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(valid)"));
    assert!(err.contains("warning: config file"));
    for secret in [
        "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "hunter2",
        "s3cret",
        "\"tok\"",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "secret {secret} leaked"
        );
    }
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chain"]["wallet"]["private_key"], "<redacted>");
    assert_eq!(v["containers"][0]["env"]["API_KEY"], "<redacted>");
    assert_eq!(v["containers"][0]["env"]["MODE"], "fast");

    let bad = write(dir.path(), "bad.json", r#"{"server": {"port": "x"}}"#);
    let (code, out, err) = infernet(
        &["config", "check", "--config", bad.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err.trim(),
        format!(
            "error: config file '{}': key 'server.port': expected an integer from 0 to 65535, found 'x'",
            bad.display()
        )
    );

    // No file anywhere: built-in defaults, and the places searched are listed.
    let (code, _out, err) = infernet(&["config", "check"], dir.path());
    assert_eq!(code, 0);
    assert!(err.contains("no file found (searched config.json"), "{err}");

    let (code, out, _) = infernet(&["status"], dir.path());
    assert_eq!(
        code, 3,
        "status without a daemon exits 3, as systemctl does"
    );
    assert!(out.contains("not running"), "{out}");
    let (code, out, _) = infernet(&["--help"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("start") && out.contains("config"));
    let (code, _, err) = infernet(&["config", "frobnicate"], dir.path());
    assert_eq!(code, 2, "{err}");
}

#[tokio::test]
async fn sample_config_boots_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.sample.json");
    let o = Overrides {
        port: Some(0),
        bind: Some("127.0.0.1".into()),
        store_path: Some(dir.path().join("s.db").to_string_lossy().into()),
        log_path: None,
    };
    let l = config::load_with(Some(&sample), &o, &env_of(&[])).unwrap();
    assert!(
        l.warnings.is_empty(),
        "the sample should load without warnings: {:?}",
        l.warnings
    );
    let h = infernet::engine::Engine::start(l.config).await.unwrap();
    let base = format!("http://{}", h.rest_addr());
    let c = http();
    assert_eq!(
        c.get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let info: Value = c
        .get(format!("{base}/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["container_status"][0]["id"], "hello-world");
    h.shutdown().await;
}

/// A port already taken fails the start with the address, and leaves no task behind: the
/// chain side (enabled here, its RPC unreachable) is not started before the bind is known.
#[tokio::test(flavor = "current_thread")]
async fn a_taken_port_fails_the_start_and_leaves_no_task_running() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({
            "chain": {
                "enabled": true,
                "rpc_url": "http://127.0.0.1:9",
                "registry_address": "0x663F3ad617193148711d28f5334eE4Ed07016602",
                "wallet": {"private_key": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"}
            },
            "containers": []
        })
        .to_string(),
    )
    .unwrap();
    let o = Overrides {
        port: Some(port),
        bind: Some("127.0.0.1".into()),
        store_path: Some(dir.path().join("s.db").to_string_lossy().into()),
        log_path: None,
    };
    let l = config::load_with(Some(&cfg), &o, &env_of(&[])).unwrap();
    assert!(l.config.chain.enabled);
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let e = infernet::engine::Engine::start(l.config)
        .await
        .err()
        .expect("the port is taken");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}")),
        "the error names the address: {e}"
    );
    assert_eq!(metrics.num_alive_tasks(), before, "no task left running");
    drop(taken);
}
