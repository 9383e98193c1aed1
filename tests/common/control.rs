//! A real control plane (`infernet control-plane serve`) and real nodes (`infernet start
//! --foreground`), each a process with its own config dir and identity, all on loopback.
use super::infernet_cmd;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The database a control plane under test uses.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    pub fn target(&self) -> String {
        match self {
            Db::Sqlite(p) => p.to_string_lossy().into_owned(),
            Db::Postgres(u) => u.clone(),
        }
    }
}

/// A fresh PostgreSQL database in the cluster scripts/provision-cp.sh started; `None`
/// (skipped) without one, failing under CI.
pub async fn postgres_db() -> Option<Db> {
    let base = match std::env::var("INFERNET_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                !super::in_ci(),
                "CI=true but INFERNET_TEST_PG_URL is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no PostgreSQL (run ./scripts/test.sh, which starts one)");
            return None;
        }
    };
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(conn);
    let name = format!("cp_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("INFERNET_TEST_PG_URL has no database part: {base}"),
    };
    Some(Db::Postgres(url))
}

pub struct ControlPlane {
    /// None: a handle on a URL this test does not run (a load balancer in front of some).
    child: Option<Child>,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts one on an OS-chosen port (`extra`: e.g. `--lease-secs 2`).
    pub fn start(db: &Db, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, "127.0.0.1:0", db, extra, env)
    }

    fn start_in(
        dir: tempfile::TempDir,
        listen: &str,
        db: &Db,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = dir
            .path()
            .join(format!("cp-{}.log", uuid::Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).expect("log");
        let mut cmd = infernet_cmd(dir.path());
        cmd.args([
            "control-plane",
            "serve",
            "--listen",
            listen,
            "--database-url",
            &db.target(),
        ])
        .args(extra)
        // Tests send many chats from 127.0.0.1: no anonymous limit unless a test sets one.
        .env("INFERNET_CP_ANONYMOUS_PER_HOUR", "1000000")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn control plane");
        let t0 = Instant::now();
        let url = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(l) = text
                .lines()
                .find(|l| l.starts_with("control plane listening on "))
            {
                let u = l["control plane listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                break u;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "control plane did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child: Some(child),
            url,
            log,
            _dir: dir,
        }
    }

    /// The same calls on a control plane at `url` run elsewhere (e.g. behind HAProxy).
    pub fn url_only(url: &str) -> Self {
        Self {
            child: None,
            url: url.to_string(),
            log: PathBuf::new(),
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The process id, when this test runs it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn kill(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        super::http()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    /// The status of chat job `id` once it has completed or failed (30 s at most).
    pub async fn chat_finished(&self, id: &str) -> Value {
        let path = format!("/api/chat/{id}/status");
        super::eventually("the job to finish", Duration::from_secs(30), || {
            let path = &path;
            async move {
                let st = self.get(path).await;
                matches!(st["status"].as_str(), Some("completed" | "failed")).then_some(st)
            }
        })
        .await
    }

    /// Names of the nodes `/api/peers` lists as available.
    pub async fn peer_names(&self) -> Vec<String> {
        let v = self.get("/api/peers?limit=100").await;
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect()
    }

    /// Waits until every name in `names` is listed (bounded).
    pub async fn wait_peers(&self, names: &[&str], within: Duration) {
        let t0 = Instant::now();
        loop {
            let have = self.peer_names().await;
            if names.iter().all(|n| have.iter().any(|h| h == n)) {
                return;
            }
            assert!(
                t0.elapsed() < within,
                "nodes {names:?} not all registered within {within:?}; peers: {have:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Node {
    child: Option<Child>,
    pub name: String,
    pub home: tempfile::TempDir,
}

pub fn node_home(name: &str, cp_url: &str, backends: Value) -> tempfile::TempDir {
    node_home_with(name, cp_url, backends, json!({}))
}

/// `node_home` with `control_plane` keys overridden (`pace`: e.g. the intervals).
pub fn node_home_with(name: &str, cp_url: &str, backends: Value, pace: Value) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("infernet");
    std::fs::create_dir_all(&dir).expect("config dir");
    let mut cfg = json!({
        "server": {"port": 0, "bind": "127.0.0.1"},
        "manage_containers": false,
        "store": {"path": home.path().join("node.db").to_string_lossy()},
        "log": {"path": home.path().join("node.log").to_string_lossy()},
        "backends": backends,
        "jobs": {"shutdown_grace": 10},
        "control_plane": {"url": cp_url, "name": name, "heartbeat_interval": 0.5,
                          "command_interval": 0.5, "poll_wait": 5, "concurrency_cap": 8},
    });
    if let (Some(cp), Some(over)) = (cfg["control_plane"].as_object_mut(), pace.as_object()) {
        cp.extend(over.clone());
    }
    std::fs::write(dir.join("config.json"), cfg.to_string()).expect("config");
    let out = infernet_cmd(home.path())
        .args(["init"])
        .output()
        .expect("infernet init");
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    home
}

impl Node {
    /// `infernet start --foreground` with a config whose control plane is `cp_url`.
    pub fn start(name: &str, cp_url: &str, backends: Value) -> Self {
        Self::start_in(name, node_home(name, cp_url, backends))
    }

    /// `start` in a home made by `node_home_with`.
    pub fn start_in(name: &str, home: tempfile::TempDir) -> Self {
        let out = std::fs::File::create(home.path().join("stderr.log")).expect("log");
        let child = infernet_cmd(home.path())
            .args(["start", "--foreground"])
            .env_remove("INFERNET_DAEMON_FOREGROUND")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn node");
        Self {
            child: Some(child),
            name: name.to_string(),
            home,
        }
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (graceful: drain, offline heartbeat).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running node");
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let t0 = Instant::now();
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                panic!("node {} did not stop within 30 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.home.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One parsed SSE frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// Reads a job's SSE stream until `done`/`error` (bounded), calling `on` for each frame.
pub async fn read_sse(
    url: &str,
    last_event_id: Option<i64>,
    within: Duration,
    mut on: impl FnMut(&Frame),
) -> Vec<Frame> {
    use futures::StreamExt;
    let mut req = super::http().get(url);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id.to_string());
    }
    let resp = req.send().await.expect("SSE");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // The reference's clients expect it (reference §6.3).
    assert_eq!(
        resp.headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("keep-alive")
    );
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("SSE did not end within {within:?}; frames: {frames:?}"));
        let Some(Ok(chunk)) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let raw: String = buf.drain(..end + 2).collect();
            let Some(f) = parse_frame(&raw) else {
                continue; // keep-alive comment
            };
            on(&f);
            let end = f.event == "done" || f.event == "error";
            frames.push(f);
            if end {
                return frames;
            }
        }
    }
    frames
}

/// One SSE frame's text (without its blank line); `None` for a keep-alive comment.
pub fn parse_frame(raw: &str) -> Option<Frame> {
    let mut f = Frame {
        id: None,
        event: "message".into(),
        data: Value::Null,
    };
    let mut data = String::new();
    for line in raw.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            f.id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            f.event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    if data.is_empty() {
        return None;
    }
    f.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
    Some(f)
}

/// Tokens after the last `reset` (a re-queued job starts its text again), joined.
pub fn text_after_reset(frames: &[Frame]) -> String {
    let start = frames
        .iter()
        .rposition(|f| f.event == "reset")
        .map(|i| i + 1)
        .unwrap_or(0);
    frames[start..]
        .iter()
        .filter(|f| f.event == "token")
        .map(|f| f.data["text"].as_str().unwrap_or(""))
        .collect()
}
