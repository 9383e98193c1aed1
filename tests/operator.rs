//! Operator commands with the real binary in a temporary config dir: `setup --yes` (and its
//! re-run keeping the operator's edits), `init` on the keyring's 0600 fallback file, `debug`
//! never showing a secret, `doctor` on healthy and broken setups, `service`, `gpu`, `firewall`
//! and `install.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::{docker_available, echo_image, free_port, infernet_cmd};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn cmd(home: &Path) -> std::process::Command {
    let mut c = infernet_cmd(home);
    // No D-Bus session: the keyring cannot answer, so the 0600 fallback file is used.
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("INFERNET_NONINTERACTIVE")
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null());
    c
}

fn run(home: &Path, args: &[&str]) -> Output {
    cmd(home).args(args).output().expect("run infernet")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

fn cfg_path(home: &Path) -> PathBuf {
    home.join("infernet").join("config.json")
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = infernet_cmd(&self.0)
            .args(["stop", "--force", "--timeout", "20"])
            .output();
    }
}

const WALLET: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// `infernet init --wallet-key-stdin` with WALLET piped in.
fn store_wallet(home: &Path) -> Output {
    let mut child = cmd(home)
        .args(["init", "--wallet-key-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(WALLET.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn setup_yes_writes_a_valid_config_and_identity_and_a_rerun_keeps_edits() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port().to_string();
    let o = run(
        h,
        &[
            "setup",
            "--yes",
            "--skip-daemon",
            "--no-firewall",
            "--backend",
            "none",
            "--name",
            "box",
            "--port",
            &port,
            "--container",
            "echo,infernet-echo:test,3000",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    let out = text(&o.stdout);
    assert!(out.contains("[10/10] Background node"), "{out}");
    // Without prompts, the answers it could still be given are listed as flags.
    assert!(out.contains("Answers you can still give"), "{out}");
    assert!(
        out.contains("--rpc-url URL --registry ADDRESS --wallet-key-stdin"),
        "{out}"
    );
    let o = run(h, &["config", "check"]);
    assert!(o.status.success(), "{}", both(&o));
    let c: Value = serde_json::from_str(&std::fs::read_to_string(cfg_path(h)).unwrap()).unwrap();
    assert_eq!(c["server"]["port"].to_string(), port);
    assert_eq!(c["ui"]["node_name"], "box");
    assert_eq!(
        c["containers"][0],
        json!({"id": "echo", "image": "infernet-echo:test", "port": 3000})
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(cfg_path(h)).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let id: Value = serde_json::from_slice(&run(h, &["init", "--json"]).stdout).unwrap();
    let key = id["publicKey"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    assert_eq!(id["created"], false, "setup created it already");
    assert!(out.contains(&key), "setup reports the identity it created");

    // The operator edits the file (4-space indent, own keys); setup again keeps all of it.
    let mut edited = c.clone();
    edited["log"] = json!({"level": "debug"});
    edited["ui"]["theme"] = json!("light");
    edited["containers"][0]["description"] = json!("mine");
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&edited, &mut ser).unwrap();
    std::fs::write(cfg_path(h), &buf).unwrap();
    let o = run(
        h,
        &[
            "setup",
            "--yes",
            "--skip-daemon",
            "--no-firewall",
            "--backend",
            "none",
            "--container",
            "other,img:1,3001",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    let after_text = std::fs::read_to_string(cfg_path(h)).unwrap();
    let after: Value = serde_json::from_str(&after_text).unwrap();
    assert_eq!(after["log"]["level"], "debug");
    assert_eq!(after["ui"]["theme"], "light");
    assert_eq!(after["ui"]["node_name"], "box");
    assert_eq!(after["containers"][0]["description"], "mine");
    assert_eq!(after["containers"][1]["id"], "other");
    assert!(
        after_text.contains("\n    \"log\": {\n        \"level\": \"debug\""),
        "indentation kept:\n{after_text}"
    );
    let id2: Value = serde_json::from_slice(&run(h, &["init", "--json"]).stdout).unwrap();
    assert_eq!(
        id2["publicKey"],
        key.as_str(),
        "a re-run keeps the identity"
    );

    // A broken file is never overwritten.
    std::fs::write(cfg_path(h), "{ \"server\": ").unwrap();
    let o = run(h, &["setup", "--yes", "--skip-daemon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("setup keeps your file as it is"),
        "{}",
        both(&o)
    );
    assert_eq!(
        std::fs::read_to_string(cfg_path(h)).unwrap(),
        "{ \"server\": "
    );

    // Chain flags without a wallet key: refused, naming the flag that is missing.
    std::fs::remove_file(cfg_path(h)).unwrap();
    let o = run(
        h,
        &[
            "setup",
            "--yes",
            "--skip-daemon",
            "--no-firewall",
            "--backend",
            "none",
            "--rpc-url",
            "http://127.0.0.1:9",
            "--registry",
            "0x663F3ad617193148711d28f5334eE4Ed07016602",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(both(&o).contains("--wallet-key-stdin"), "{}", both(&o));
}

#[test]
fn keys_use_the_0600_fallback_file_and_never_appear_in_debug_output() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let o = run(h, &["init", "--json"]);
    assert!(o.status.success(), "{}", both(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["created"], true);
    assert_eq!(v["fallbackFile"], true, "{v}");
    assert!(
        v["stored"]
            .as_str()
            .unwrap()
            .contains("fallback because the OS keyring is not available"),
        "{v}"
    );
    let file = h.join("infernet").join("secrets.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // --force regenerates.
    let again: Value =
        serde_json::from_slice(&run(h, &["init", "--json", "--force"]).stdout).unwrap();
    assert_ne!(again["publicKey"], v["publicKey"]);

    let o = store_wallet(h);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        text(&o.stdout).contains("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        "{}",
        text(&o.stdout)
    );

    // A config with an inline API key, and a daemon log, both go into the bundle.
    std::fs::write(
        h.join("infernet").join("config.json"),
        json!({"backends": [{"id": "llm", "kind": "llamacpp", "url": "http://127.0.0.1:9", "api_key": "sk-inline-secret-123456"}],
               "server": {"port": free_port(), "bind": "127.0.0.1"}})
        .to_string(),
    )
    .unwrap();
    let secrets: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let identity = secrets["node.identity"].as_str().unwrap().to_string();
    let o = run(h, &["debug", "--log-lines", "20"]);
    assert!(o.status.success(), "{}", both(&o));
    let md = both(&o);
    assert!(md.starts_with("# infernet debug bundle"), "{md}");
    assert!(md.contains("node.identity: stored in"), "{md}");
    assert!(md.contains("## Doctor"), "{md}");
    for secret in [
        WALLET,
        &WALLET[2..],
        &identity,
        identity.trim_start_matches("0x"),
        "sk-inline-secret-123456",
    ] {
        assert!(!md.contains(secret), "a secret leaked into `debug`:\n{md}");
    }
    let o = run(h, &["debug", "-o", "bundle.md"]);
    assert!(o.status.success());
    let written = std::fs::read_to_string(h.join("bundle.md")).unwrap();
    assert!(
        !written.contains(&WALLET[2..]) && !written.contains(identity.trim_start_matches("0x"))
    );
    assert_eq!(
        std::fs::metadata(h.join("bundle.md"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let o = run(h, &["config", "check"]);
    assert!(!both(&o).contains("sk-inline-secret-123456"));
}

fn checks(o: &Output) -> Value {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(o)));
    v
}

fn find<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check '{name}' in {v}"))
}

#[test]
fn doctor_names_each_broken_part() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let closed = free_port();
    std::fs::create_dir_all(h.join("infernet")).unwrap();
    std::fs::write(
        h.join("infernet").join("config.json"),
        json!({
            "containers": [{"id": "echo", "image": "infernet-echo:test", "port": 3000}],
            "backends": [{"id": "llm", "kind": "llamacpp", "url": format!("http://127.0.0.1:{closed}"), "model": "m"}],
            "chain": {"enabled": true, "rpc_url": format!("http://127.0.0.1:{closed}"),
                      "registry_address": "0x663F3ad617193148711d28f5334eE4Ed07016602",
                      "wallet": {"private_key": WALLET}}
        })
        .to_string(),
    )
    .unwrap();
    let o = cmd(h)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let v = checks(&o);
    assert_eq!(v["ok"], false);
    let docker = find(&v, "docker");
    assert_eq!(docker["status"], "fail");
    assert!(
        docker["detail"]
            .as_str()
            .unwrap()
            .contains("unix:///nonexistent/docker.sock"),
        "{docker}"
    );
    assert!(
        docker["fix"]
            .as_str()
            .unwrap()
            .contains("systemctl start docker"),
        "{docker}"
    );
    let chain = find(&v, "chain");
    assert_eq!(chain["status"], "fail");
    assert!(
        chain["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("RPC http://127.0.0.1:{closed}")),
        "{chain}"
    );
    let backend = find(&v, "backend llm");
    assert_eq!(backend["status"], "fail");
    assert!(
        backend["detail"]
            .as_str()
            .unwrap()
            .contains("is not reachable"),
        "{backend}"
    );
    assert!(
        backend["fix"].as_str().unwrap().contains("llama-server"),
        "{backend}"
    );
    assert_eq!(find(&v, "daemon")["status"], "warn");
    // The human form names the same problems and exits 1.
    let o = cmd(h)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["doctor"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o.stdout);
    assert!(
        t.contains("[FAIL] docker")
            && t.contains("[FAIL] chain")
            && t.contains("[FAIL] backend llm"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_on_a_healthy_node_with_jobs_end_to_end() {
    if !docker_available() {
        return;
    }
    let Some(llm) = common::llm::LlamaServer::start() else {
        return;
    };
    let Some(chain) = common::chain::TestChain::start(0, &[]).await else {
        return;
    };
    let image = echo_image();
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let _cleanup = Cleanup(h.clone());
    let port = free_port();
    let echo_port = free_port();
    std::fs::create_dir_all(h.join("infernet")).unwrap();
    let cfg = h.join("infernet").join("config.json");
    std::fs::write(
        &cfg,
        json!({
            "server": {"port": port, "bind": "127.0.0.1"},
            "store": {"path": h.join("node.db").to_string_lossy()},
            "containers": [{"id": format!("doctor-echo-{echo_port}"), "image": image, "port": echo_port}],
            "backends": [{"id": "llm", "kind": "llamacpp", "url": llm.url}],
            "chain": {"enabled": true, "rpc_url": chain.url, "registry_address": chain.addrs.registry.to_string(),
                      "trail_head_blocks": 0},
        })
        .to_string(),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The wallet key goes to the secret store, not the file; the node finds it there.
    assert!(store_wallet(&h).status.success());
    let o = run(&h, &["start"]);
    assert!(o.status.success(), "{}", both(&o));
    let t0 = Instant::now();
    loop {
        let s: Value = serde_json::from_slice(&run(&h, &["status", "--json"]).stdout).unwrap();
        if s["daemon"]["containers"][0]["state"] == "ready" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "container not ready: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let h2 = h.clone();
    let o = tokio::task::spawn_blocking(move || run(&h2, &["doctor", "--json"]))
        .await
        .unwrap();
    let v = checks(&o);
    for name in [
        "config",
        "docker",
        &format!("container doctor-echo-{echo_port}"),
        "backend llm",
        "chain",
        "daemon",
        "end-to-end job",
        "end-to-end LLM job",
    ] {
        assert_eq!(find(&v, name)["status"], "ok", "{name}: {v}");
    }
    assert!(
        find(&v, "chain")["detail"]
            .as_str()
            .unwrap()
            .contains("coordinator"),
        "{v}"
    );
    assert!(
        find(&v, "end-to-end LLM job")["detail"]
            .as_str()
            .unwrap()
            .contains("succeeded in"),
        "{v}"
    );
    // Warnings (no keyring here) do not fail the run.
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(o.status.code(), Some(0));
    assert!(run(&h, &["stop"]).status.success());
    drop(llm);
}

#[test]
fn service_writes_the_unit_and_explains_a_missing_systemd() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let cfg = h.join("infernet").join("config.json");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "{}").unwrap();
    let empty = tempfile::tempdir().unwrap();
    // No systemctl on PATH: the unit is still written and the reason is given.
    let o = cmd(h)
        .env("PATH", empty.path())
        .args(["service", "install"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        text(&o.stderr).contains("systemctl is not installed"),
        "{}",
        both(&o)
    );
    let unit = std::fs::read_to_string(h.join("systemd/user/infernet.service")).unwrap();
    let exe = env!("CARGO_BIN_EXE_infernet");
    assert!(
        unit.contains(&format!(
            "ExecStart={exe} --config {} start --foreground",
            cfg.display()
        )),
        "{unit}"
    );
    assert!(
        unit.contains(&format!("Environment=XDG_CONFIG_HOME={}", h.display())),
        "{unit}"
    );
    let o = run(h, &["service", "unit"]);
    assert_eq!(text(&o.stdout), unit);
    let o = cmd(h)
        .env("PATH", empty.path())
        .args(["service", "enable"])
        .output()
        .unwrap();
    assert!(
        text(&o.stderr).contains("does not run systemd"),
        "{}",
        both(&o)
    );
    let o = cmd(h)
        .env("PATH", empty.path())
        .args(["service", "uninstall"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
    assert!(!h.join("systemd/user/infernet.service").exists());
    let o = run(h, &["service", "status"]);
    assert!(text(&o.stderr).contains("not installed"), "{}", both(&o));
}

/// A reader that has gone before the output is written (`infernet backends | head -0`):
/// the command ends quietly with success, not with a panic and its backtrace.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["backends"][..], &["doctor", "--json"], &["status"]] {
        // The read end is closed before the command starts, so its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = cmd(home.path())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn gpu_and_firewall_report_this_machine() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["gpu", "--json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["host"]["logical_cores"].as_u64().unwrap() >= 1);
    assert!(v["host"]["ram_total"].as_u64().unwrap() > 0);
    assert!(["nvml", "lspci", "none"].contains(&v["gpu_source"].as_str().unwrap()));
    if v["gpu_source"] != "nvml" {
        assert!(
            v["note"].as_str().unwrap().contains("NVML"),
            "the fallback says why: {v}"
        );
    }
    let o = run(home.path(), &["gpu"]);
    assert!(
        text(&o.stdout).contains("fit       models up to"),
        "{}",
        text(&o.stdout)
    );
    let o = run(home.path(), &["firewall", "--port", "4123", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["port"], 4123);
    assert_eq!(
        v["commands"]["ufw"][0],
        "sudo ufw allow 4123/tcp comment 'infernet REST API'"
    );
    let o = run(home.path(), &["firewall", "--from", "not-a-net"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn install_sh_installs_idempotently_and_uninstalls() {
    let home = tempfile::tempdir().unwrap();
    let prefix = home.path().join("prefix");
    let repo = env!("CARGO_MANIFEST_DIR");
    let install = |args: &[&str], path: &str| {
        std::process::Command::new("/bin/sh")
            .arg(format!("{repo}/install.sh"))
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("cfg"))
            .env("PATH", path)
            // The test build's profile: no second full build.
            .env("INFERNET_BUILD_PROFILE", "dev")
            .output()
            .unwrap()
    };
    let path = std::env::var("PATH").unwrap_or_default();
    let p = prefix.to_string_lossy().into_owned();
    for _ in 0..2 {
        let o = install(&["--prefix", &p, "--no-deps"], &path);
        assert!(o.status.success(), "{}", both(&o));
        assert!(
            text(&o.stdout).contains(&format!("installed {p}/bin/infernet (infernet ")),
            "{}",
            both(&o)
        );
        assert!(
            text(&o.stdout).contains("is not on your PATH"),
            "{}",
            both(&o)
        );
    }
    let o = std::process::Command::new(prefix.join("bin/infernet"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = install(&["--uninstall", "--prefix", &p], &path);
    assert!(o.status.success(), "{}", both(&o));
    assert!(!prefix.join("bin/infernet").exists());
    // Prerequisites are checked and named.
    let tools = tempfile::tempdir().unwrap();
    for t in ["dirname", "sed"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{t}"), tools.path().join(t)).unwrap();
    }
    let o = install(&["--prefix", &p], &tools.path().display().to_string());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("missing prerequisites: cargo"),
        "{}",
        both(&o)
    );
}

#[test]
fn setup_yes_detects_a_running_backend_and_picks_its_model() {
    let Some(llm) = common::llm::LlamaServer::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Detection probes LLAMACPP_HOST (the test server is on an OS-chosen port).
    let o = cmd(h)
        .env("LLAMACPP_HOST", &llm.url)
        .args([
            "setup",
            "--yes",
            "--skip-daemon",
            "--no-firewall",
            "--no-chain",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("found llamacpp at {}", llm.url)),
        "{out}"
    );
    let c: Value = serde_json::from_str(&std::fs::read_to_string(cfg_path(h)).unwrap()).unwrap();
    let b = &c["backends"][0];
    assert_eq!(b["id"], "llm");
    assert_eq!(b["kind"], "llamacpp");
    assert_eq!(b["url"], llm.url.as_str());
    let model = b["model"].as_str().unwrap();
    assert!(model.ends_with(".gguf"), "the served model is chosen: {c}");
    assert!(out.contains(&format!("{model} is present")), "{out}");
    assert!(
        !out.contains("--backend KIND"),
        "nothing left to ask about the backend: {out}"
    );
    // `infernet chat` now uses it through the config.
    let o = cmd(h)
        .args(["chat", "--max-tokens", "4", "Say hi"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
}
