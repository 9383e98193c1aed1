//! The real binary: results survive a restart; jobs running at `kill -9` come back `failed`
//! with "node restarted"; SIGTERM shuts down gracefully, finishing running jobs first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(config: &Path, port: u16, dir: &Path) -> Node {
        let child = Command::new(env!("CARGO_BIN_EXE_infernet"))
            .args(["start", "--foreground", "--config"])
            .arg(config)
            .current_dir(dir)
            .env("XDG_CONFIG_HOME", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn infernet");
        wait_port(port, T);
        Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, echo_url: &str, port: u16) -> std::path::PathBuf {
    let cfg = json!({
        "manage_containers": false,
        "containers": [{"id": "echo", "url": echo_url}],
        "server": {"port": port, "bind": "127.0.0.1", "rate_limit": {"num_requests": 10000, "period": 1}},
        "log": {"path": dir.join("node.log").to_string_lossy()},
        "store": {"path": dir.join("node.db").to_string_lossy()},
        "jobs": {"shutdown_grace": 10}
    });
    let p = dir.join("config.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    p
}

async fn submit(base: &str, data: Value) -> String {
    let r: Value = http()
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["echo"], "data": data}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().expect("job id").to_string()
}

#[tokio::test]
async fn kill_9_keeps_results_and_fails_running_jobs_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let cfg = write_config(dir.path(), &echo.url(), port);
    let node = Node::start(&cfg, port, dir.path());
    let done = submit(&node.base, json!({"n": 1})).await;
    assert_eq!(wait_job(&node.base, &done, T).await["status"], "success");
    let slow = submit(&node.base, json!({"action": "sleep", "ms": 20000})).await;
    // Killed while the job is recorded as running.
    let url = format!("{}/api/jobs?id={slow}", node.base);
    eventually("the slow job to be running", T, || async {
        let v: Value = http().get(&url).send().await.ok()?.json().await.ok()?;
        (v[0]["status"] == "running").then_some(())
    })
    .await;
    node.signal("-KILL");
    drop(node);

    let node = Node::start(&cfg, port, dir.path());
    let got: Value = http()
        .get(format!("{}/api/jobs?id={done}&id={slow}", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got[0]["status"], "success");
    assert_eq!(got[0]["result"]["output"]["echo"]["n"], 1);
    assert_eq!(got[1]["status"], "failed");
    assert_eq!(got[1]["result"]["error"], "node restarted");
    // The JSON log file got lines from both runs.
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert!(
        first.get("level").is_some() && first.get("fields").is_some(),
        "{first}"
    );
    assert!(log.contains("jobs that were running when the node stopped are marked failed"));
}

#[tokio::test]
async fn sigterm_finishes_running_jobs_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let cfg = write_config(dir.path(), &echo.url(), port);
    let mut node = Node::start(&cfg, port, dir.path());
    let job = submit(&node.base, json!({"action": "sleep", "ms": 1500})).await;
    node.signal("-TERM");
    let status = tokio::task::spawn_blocking(move || {
        let s = node.child.wait().unwrap();
        (s, node)
    });
    let (status, node) = tokio::time::timeout(T, status).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status:?}");
    drop(node);

    let node = Node::start(&cfg, port, dir.path());
    let got: Value = http()
        .get(format!("{}/api/jobs?id={job}", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got[0]["status"], "success",
        "a graceful stop lets the job finish: {got}"
    );
}
