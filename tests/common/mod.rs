//! Shared test helpers: the echo workflow container (native process or Docker image),
//! Docker availability (required under CI=true), engines on OS-chosen ports.
#![allow(dead_code)]

pub mod chain;
pub mod control;
pub mod haproxy;
pub mod llm;
pub mod pg;
pub mod proxy;
pub mod ref_cp;

use infernet::config::{Config, ContainerConfig};
use infernet::engine::{Engine, EngineHandle};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ECHO_IMAGE: &str = "infernet-echo:test";

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Builds the echo container as a static binary (once per test process).
pub fn echo_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = target_dir().join("echo-container");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--quiet",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--manifest-path",
            ])
            .arg(repo().join("tests/fixtures/echo-container/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .status()
            .expect("run cargo to build the echo container");
        assert!(status.success(), "building the echo container failed");
        target.join("x86_64-unknown-linux-gnu/release/infernet-echo")
    })
    .clone()
}

/// True when a Docker engine answers. Under CI a missing engine fails the test instead.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "CI=true but no Docker engine answers: run the README's test command, which starts one"
        );
        eprintln!("SKIPPED: no Docker engine answers (scripts/test.sh installs and starts one)");
    }
    ok
}

/// Builds the `FROM scratch` echo image (once per test process).
pub fn echo_image() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let bin = echo_binary();
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&bin, ctx.path().join("infernet-echo")).expect("copy echo binary");
        std::fs::copy(
            repo().join("tests/fixtures/echo-container/Dockerfile"),
            ctx.path().join("Dockerfile"),
        )
        .expect("copy Dockerfile");
        let out = Command::new("docker")
            .args(["build", "-q", "-t", ECHO_IMAGE])
            .arg(ctx.path())
            .output()
            .expect("run docker build");
        assert!(
            out.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    ECHO_IMAGE
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn wait_port(port: u16, within: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < within,
            "port {port} did not open within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The echo container as a native process on a loopback port; killed on drop.
pub struct NativeEcho {
    child: Child,
    pub port: u16,
}

impl NativeEcho {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    pub fn start_with(name: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(echo_binary())
            .envs(env.iter().copied())
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--tag",
                name,
            ])
            .env("ECHO_NAME", name)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn echo");
        wait_port(port, Duration::from_secs(10));
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for NativeEcho {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An unmanaged container entry pointing at `url`.
pub fn remote(id: &str, url: &str) -> ContainerConfig {
    ContainerConfig {
        id: id.into(),
        url: url.into(),
        ..Default::default()
    }
}

/// A config for tests: loopback REST on an OS-chosen port, store in `dir`, generous limits.
pub fn test_config(dir: &Path, containers: Vec<ContainerConfig>, manage: bool) -> Config {
    let mut c = Config {
        containers,
        manage_containers: manage,
        ..Default::default()
    };
    c.server.bind = "127.0.0.1".into();
    c.server.port = 0;
    c.server.rate_limit.num_requests = 100_000;
    c.store.path = dir.join("infernet.db").to_string_lossy().into_owned();
    c.log.path = String::new();
    c.startup_wait = 10.0;
    c
}

pub async fn start(config: Config) -> (EngineHandle, String) {
    let h = Engine::start(config).await.expect("engine starts");
    let base = format!("http://{}", h.rest_addr());
    (h, base)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Polls `GET /api/jobs?id=` until the job leaves `running` (bounded).
pub async fn wait_job(base: &str, id: &str, within: Duration) -> Value {
    wait_job_with(&http(), base, id, within, &[]).await
}

pub async fn wait_job_with(
    c: &reqwest::Client,
    base: &str,
    id: &str,
    within: Duration,
    headers: &[(&str, &str)],
) -> Value {
    let start = Instant::now();
    loop {
        let mut req = c.get(format!("{base}/api/jobs?id={id}&intermediate=true"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let v: Value = req
            .send()
            .await
            .expect("GET job")
            .json()
            .await
            .expect("json");
        if let Some(job) = v.as_array().and_then(|a| a.first())
            && job["status"] != "running"
        {
            return job.clone();
        }
        assert!(
            start.elapsed() < within,
            "job {id} not finished within {within:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The real binary, isolated from the developer's config and engine variables: no config file
/// (unless `home` holds one under `infernet/`), data under `home`, run from `home`.
pub fn infernet_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infernet"));
    c.env_remove("INFERNET_CONFIG_PATH")
        .env_remove("INFERNET_ENGINE_BACKEND")
        .env_remove("INFERNET_ENGINE_MODEL")
        .env_remove("INFERNET_ENGINE_BIN")
        // Never fetch the built-in default model from the internet in a test: the tests of
        // the first run (tests/default_model.rs) serve it from a local mirror.
        .env("INFERNET_DEFAULT_MODEL", "off")
        .env("XDG_CONFIG_HOME", home)
        .env("XDG_DATA_HOME", home)
        .current_dir(home);
    c
}

/// `GET url` as JSON (panics on a transport error or a non-JSON answer).
pub async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

/// `POST url` with a JSON body, the answer as JSON (panics on a transport error or a
/// non-JSON answer).
pub async fn post_json(url: &str, body: &Value) -> Value {
    http()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `infernet start --foreground` on `home`'s config, output discarded; the caller waits for
/// its port.
pub fn spawn_node(home: &Path) -> Child {
    infernet_cmd(home)
        .args(["start", "--foreground"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Writes `config` where `infernet_cmd(home)` finds it (`home/infernet/config.json`).
pub fn write_config(home: &Path, config: &Value) {
    let path = home.join("infernet/config.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, config.to_string()).unwrap();
}

/// Polls `/info` until container `id` is in state `want` (bounded).
pub async fn wait_container_state(base: &str, id: &str, want: &str, within: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let i = get_json(&format!("{base}/info")).await;
        let st = i["container_status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap();
        if st["state"] == want {
            return st;
        }
        assert!(
            t0.elapsed() < within,
            "container {id} not {want} within {within:?}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `f` until it returns Some, bounded by `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The blocking form of [`eventually`] for tests without a runtime: polls `f` until it returns
/// Some, bounded by `within`.
pub fn eventually_blocking<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
