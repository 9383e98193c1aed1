//! Secrets never leave the process: a node whose RPC URL carries credentials
//! (`http://user:PASS@host/v2/KEY`, the shape of hosted RPC endpoints) and whose RPC is down
//! reports the failure everywhere, and no output surface shows the password or the key:
//! `/info` (unauthenticated), `status --json`, `config check --json`, `debug`, `doctor --json`,
//! the node's JSON log and its stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

const PASSWORD: &str = "Pa55w0rdSecret";
const PATH_KEY: &str = "0123456789abcdefKEYKEY";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_credentials_show_on_no_output_surface() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    let dead = free_port();
    let rpc = format!("http://operator:{PASSWORD}@127.0.0.1:{dead}/v2/{PATH_KEY}");
    write_config(
        h,
        &json!({
            "server": {"port": port, "bind": "127.0.0.1"},
            "log": {"path": h.join("node.log")},
            "store": {"path": h.join("node.db")},
            "chain": {
                "enabled": true,
                "rpc_url": rpc,
                "registry_address": "0x663F3ad617193148711d28f5334eE4Ed07016602",
                "wallet": {"private_key": format!("0x{}", "59".repeat(32))}
            }
        }),
    );
    let stderr = std::fs::File::create(h.join("node.stderr")).unwrap();
    let mut node = infernet_cmd(h)
        .args(["start", "--foreground"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = http();
    // The RPC failure is reported (so its text, which quotes the URL, is out there).
    let info: Value = eventually(
        "/info to report the RPC failure",
        Duration::from_secs(60),
        || {
            let (c, u) = (c.clone(), format!("{base}/info"));
            async move {
                let v: Value = c.get(u).send().await.ok()?.json().await.ok()?;
                let st = &v["chain"]["status"];
                (st["error"].is_string() || st["rpc"]["last_error"].is_string()).then_some(v)
            }
        },
    )
    .await;

    let run = |args: &[&str]| {
        let out = infernet_cmd(h).args(args).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let debug_file = h.join("debug.md");
    let mut surfaces = vec![
        ("/info", info.to_string()),
        ("status --json", run(&["status", "--json"])),
        ("config check --json", run(&["config", "check", "--json"])),
        ("doctor --json", run(&["doctor", "--json", "--skip-e2e"])),
        ("debug", run(&["debug", "-o", debug_file.to_str().unwrap()])),
    ];
    surfaces.push((
        "debug bundle",
        std::fs::read_to_string(&debug_file).unwrap_or_default(),
    ));
    // SAFETY: signalling our own child; the logs are complete once it has exited.
    unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
    node.wait().unwrap();
    surfaces.push((
        "node.log",
        std::fs::read_to_string(h.join("node.log")).unwrap(),
    ));
    surfaces.push((
        "node stderr",
        std::fs::read_to_string(h.join("node.stderr")).unwrap(),
    ));
    for (name, text) in &surfaces {
        assert!(!text.is_empty(), "{name} is empty");
        assert!(
            !text.contains(PASSWORD),
            "{name} shows the password:\n{text}"
        );
        assert!(
            !text.contains(PATH_KEY),
            "{name} shows the path key:\n{text}"
        );
    }
    // The URL is still recognisable where it is shown, with its secrets hidden.
    let config = &surfaces[2].1;
    assert!(
        config.contains(&format!(
            "http://operator:<redacted>@127.0.0.1:{dead}/<redacted>"
        )),
        "{config}"
    );
    let log = &surfaces[surfaces.len() - 2].1;
    assert!(log.contains("RPC endpoint failing"), "{log}");
}

const BACKEND_KEY: &str = "sk-live-Zq8wLeakyBackendKey77";

/// A backend that echoes the credentials it was sent in its error text, as some hosted APIs
/// do ("Incorrect API key provided: sk-…"): lists one model, refuses every chat.
async fn echoing_backend() -> u16 {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/v1/models",
            get(|| async { axum::Json(json!({"object": "list", "data": [{"id": "leak-model", "object": "model"}]})) }),
        )
        .route(
            "/v1/chat/completions",
            post(|h: HeaderMap| async move {
                let sent = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": {"message": format!("Incorrect API key provided: {sent}"), "type": "invalid_request_error"}})),
                )
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    port
}

/// A backend key given through `api_key_env`, echoed back by the backend in its error, shows
/// nowhere: not in the job's result (so not in SQLite), `debug`, the log or stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_key_echoed_by_the_backend_is_scrubbed() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    let backend = echoing_backend().await;
    write_config(
        h,
        &json!({
            "server": {"port": port, "bind": "127.0.0.1"},
            "log": {"path": h.join("node.log")},
            "store": {"path": h.join("node.db")},
            "backends": [{
                "id": "leaky", "kind": "vllm", "url": format!("http://127.0.0.1:{backend}"),
                "api_key_env": "LEAKY_BACKEND_KEY"
            }]
        }),
    );
    let stderr = std::fs::File::create(h.join("node.stderr")).unwrap();
    let mut node = infernet_cmd(h)
        .args(["start", "--foreground"])
        .env("RUST_LOG", "debug")
        .env("LEAKY_BACKEND_KEY", BACKEND_KEY)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = http();
    let id: String = eventually("the node to take a job", Duration::from_secs(60), || {
        let (c, u) = (c.clone(), format!("{base}/api/jobs"));
        async move {
            let r = c
                .post(u)
                .json(&json!({"containers": ["leaky"], "data": {"prompt": "hi"}}))
                .send()
                .await
                .ok()?;
            let v: Value = r.json().await.ok()?;
            v["id"].as_str().map(str::to_string)
        }
    })
    .await;
    let job: Value = eventually("the job to fail", Duration::from_secs(60), || {
        let (c, u) = (c.clone(), format!("{base}/api/jobs?id={id}"));
        async move {
            let v: Value = c.get(u).send().await.ok()?.json().await.ok()?;
            let j = v.get(0)?.clone();
            (j["status"] == "failed").then_some(j)
        }
    })
    .await;
    let result = job.to_string();
    assert!(
        result.contains("Incorrect API key provided"),
        "the backend's reason reaches the client: {result}"
    );
    let debug_file = h.join("debug.md");
    let out = infernet_cmd(h)
        .args(["debug", "-o", debug_file.to_str().unwrap()])
        .env("LEAKY_BACKEND_KEY", BACKEND_KEY)
        .output()
        .unwrap();
    // SAFETY: signalling our own child; its files are complete once it has exited.
    unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
    node.wait().unwrap();
    let raw = |p: &str| {
        String::from_utf8_lossy(&std::fs::read(h.join(p)).unwrap_or_default()).into_owned()
    };
    let surfaces = [
        ("job result", result),
        (
            "debug",
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        ("debug bundle", raw("debug.md")),
        ("node.log", raw("node.log")),
        ("node stderr", raw("node.stderr")),
        ("node.db", raw("node.db") + &raw("node.db-wal")),
    ];
    for (name, text) in &surfaces {
        assert!(!text.is_empty(), "{name} is empty");
        assert!(
            !text.contains(BACKEND_KEY),
            "{name} shows the backend key:\n{text}"
        );
    }
    assert!(
        surfaces[5].1.contains("Incorrect API key provided"),
        "the stored result holds the (scrubbed) reason"
    );
}
