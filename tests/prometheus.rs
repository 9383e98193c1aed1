//! Real Prometheus (Debian's package, scripts/provision-prometheus.sh) scraping a real node
//! (`infernet start --foreground` with the echo container and the stub backend, joined to the
//! control plane) and a real control plane (`infernet control-plane serve` on SQLite), all on
//! loopback. After a job on the node and one through the control plane, Prometheus' own
//! query API shows both targets up and the series carrying what the jobs left; promtool lints
//! both `/metrics` texts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::control::{ControlPlane, Db, Node, node_home};
use common::*;
use infernet::backend::STUB_MODEL;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn prometheus() -> Option<PathBuf> {
    match std::env::var("INFERNET_TEST_PROMETHEUS") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                !in_ci(),
                "CI=true but INFERNET_TEST_PROMETHEUS is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no prometheus (run ./scripts/test.sh)");
            None
        }
    }
}

/// A Prometheus server on a loopback port, its config and storage in a temp dir.
struct Prometheus {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes each `(job, host:port)` every second.
    fn start(bin: &Path, targets: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for (job, target) in targets {
            cfg.push_str(&format!(
                "  - job_name: {job}\n    static_configs: [{{targets: [\"{target}\"]}}]\n"
            ));
        }
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, cfg).unwrap();
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("spawn prometheus");
        let p = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        wait_port(port, T);
        p
    }

    /// Waits (bounded) for `/-/ready`: 503 until its storage is open.
    async fn ready(&self) {
        let url = format!("{}/-/ready", self.url);
        let what = format!(
            "Prometheus ready at {url} (its log: {})",
            self.log_path().display()
        );
        eventually(&what, T, || async {
            let r = http().get(&url).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    /// An instant query's samples: (labels, value).
    async fn query(&self, q: &str) -> Vec<(Value, f64)> {
        let v: Value = http()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", q)])
            .send()
            .await
            .expect("query Prometheus")
            .json()
            .await
            .expect("JSON");
        assert_eq!(v["status"], "success", "{q}: {v}");
        v["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap_or("NaN").parse().unwrap();
                (s["metric"].clone(), value)
            })
            .collect()
    }

    /// Waits (bounded) until `q` has one sample and `ok` holds for its value.
    async fn until(&self, q: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let what = format!(
            "Prometheus to answer {q} as expected (its log: {})",
            self.log_path().display()
        );
        let ok = &ok;
        eventually(&what, T, || async move {
            match self.query(q).await.as_slice() {
                [(_, v)] if ok(*v) => Some(*v),
                _ => None,
            }
        })
        .await
    }
}

/// `promtool check metrics` on one exposition text: no lint problems.
fn lint(promtool: &Path, what: &str, text: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics on the {what}'s /metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(base: &str) -> String {
    let r = http().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{base}/metrics");
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_a_node_and_the_control_plane() {
    let Some(bin) = prometheus() else {
        return;
    };
    let promtool = bin.with_file_name("promtool");
    assert!(
        promtool.is_file(),
        "no promtool beside {} (Debian's prometheus package ships it)",
        bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&Db::Sqlite(dir.path().join("cp.db")), &[], &[]);
    let echo = NativeEcho::start("echo");

    // One node: the echo container for REST jobs, the stub backend for the control plane's.
    let home = node_home(
        "prom-node",
        &cp.url,
        json!([{"id": "stub", "kind": "stub"}]),
    );
    let config = home.path().join("infernet/config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let port = free_port();
    cfg["server"]["port"] = json!(port);
    cfg["containers"] = json!([{"id": "echo", "url": echo.url()}]);
    std::fs::write(&config, cfg.to_string()).unwrap();
    let node = Node::start_in("prom-node", home);
    wait_port(port, T);
    let base = format!("http://127.0.0.1:{port}");
    cp.wait_peers(&["prom-node"], T).await;

    // A job on the node.
    let r = post_json(
        &format!("{base}/api/jobs"),
        &json!({"containers": ["echo"], "data": {"n": 1}}),
    )
    .await;
    let job = wait_job(&base, r["id"].as_str().expect("job id"), T).await;
    assert_eq!(job["status"], "success", "{job}");
    // A job through the control plane, run by the node's stub backend.
    let created = post_json(
        &format!("{}/api/chat", cp.url),
        &json!({"messages": [{"role": "user", "content": "hi"}], "modelName": STUB_MODEL,
                "maxTokens": 8}),
    )
    .await;
    let id = created["jobId"].as_str().expect("jobId");
    let st = cp.chat_finished(id).await;
    assert_eq!(st["status"], "completed", "{st}\n{}", node.stderr());

    let cp_target = cp.url.trim_start_matches("http://").to_string();
    let node_target = format!("127.0.0.1:{port}");
    let prom = Prometheus::start(
        &bin,
        &[
            ("node", node_target.as_str()),
            ("control-plane", &cp_target),
        ],
    );
    prom.ready().await;
    let one = |v: f64| v == 1.0;
    prom.until(r#"up{job="node"}"#, one).await;
    prom.until(r#"up{job="control-plane"}"#, one).await;
    prom.until(r#"infernet_up{job="node"}"#, one).await;
    prom.until(r#"infernet_cp_up{job="control-plane"}"#, one)
        .await;
    // What the jobs left, as Prometheus stored it.
    prom.until(
        r#"infernet_jobs_total{job="node",status="success",container="echo"}"#,
        one,
    )
    .await;
    prom.until(
        r#"infernet_job_duration_seconds_count{job="node",container="echo"}"#,
        one,
    )
    .await;
    prom.until(r#"infernet_control_plane_online{job="node"}"#, one)
        .await;
    prom.until(
        r#"infernet_cp_nodes{job="control-plane",state="online"}"#,
        one,
    )
    .await;
    let q = format!(
        r#"infernet_cp_jobs_total{{job="control-plane",model="{STUB_MODEL}",status="completed"}}"#
    );
    prom.until(&q, one).await;
    prom.until(
        &format!(r#"infernet_cp_queue_depth{{job="control-plane",model="{STUB_MODEL}"}}"#),
        |v| v == 0.0,
    )
    .await;
    // PromQL over the stored samples: a histogram quantile of the node's job latency.
    prom.until(
        r#"histogram_quantile(0.5, sum by (le) (infernet_job_duration_seconds_bucket{job="node"}))"#,
        |v| v > 0.0 && v <= 600.0,
    )
    .await;

    // Both texts lint clean.
    lint(&promtool, "node", &scrape(&base).await);
    lint(&promtool, "control plane", &scrape(&cp.url).await);
}
