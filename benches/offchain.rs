//! Off-chain job overhead: N concurrent clients against the node (`POST /api/jobs/stream`, one
//! round trip for a whole job: guardian, SQLite `running` + `success` records, container call,
//! bytes streamed back) and, in the same run, directly against the same echo container process
//! (`POST /service_output`). Prints p50/p99 latency and jobs/s for both and the ratios.
//!
//! `cargo bench --bench offchain` (env: BENCH_CLIENTS=16, BENCH_SECONDS=5).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "../tests/common/mod.rs"]
mod common;

use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` loops, each sending requests back to back until `secs` pass (bounded in count too).
async fn load(url: String, body: serde_json::Value, clients: usize, secs: f64) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let body = Arc::new(serde_json::to_vec(&body).unwrap());
    // Warm-up: open connections, fill caches.
    for _ in 0..50 {
        http.post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline && lat.len() < 200_000 {
                    let t = Instant::now();
                    let r = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.to_vec())
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "status {}", r.status());
                    let b = r.bytes().await.unwrap();
                    assert!(!b.is_empty());
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        latencies,
        elapsed: start.elapsed(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5.0);
    let echo = common::NativeEcho::start("bench");
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let cfg = json!({
        "manage_containers": false,
        "containers": [{"id": "echo", "url": echo.url()}],
        "server": {"port": port, "bind": "127.0.0.1", "rate_limit": {"num_requests": 100000000, "period": 1}},
        "log": {"path": dir.path().join("node.log").to_string_lossy(), "level": "warn"},
        "store": {"path": dir.path().join("node.db").to_string_lossy()}
    });
    let cfg_path = dir.path().join("config.json");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .args(["start", "--foreground", "--config"])
        .arg(&cfg_path)
        .stderr(Stdio::null())
        .spawn()
        .expect("start infernet");
    common::wait_port(port, Duration::from_secs(30));

    let data = json!({"prompt": "hello", "n": 1});
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let direct = rt.block_on(load(
        format!("{}/service_output", echo.url()),
        json!({"source": 1, "destination": 2, "data": data}),
        clients,
        secs,
    ));
    let via_node = rt.block_on(load(
        format!("http://127.0.0.1:{port}/api/jobs/stream"),
        json!({"containers": ["echo"], "data": data}),
        clients,
        secs,
    ));
    let _ = node.kill();
    let _ = node.wait();
    // The ceiling for any proxy here: a bare TCP relay (socat, no HTTP parsing, no storage)
    // between the same clients and the same container, when socat is installed.
    let relay = relay_run(&rt, &echo.url(), &data, clients, secs);

    println!(
        "offchain: {clients} concurrent clients, {secs} s each, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "{:<26} {:>10} {:>10} {:>12} {:>10}",
        "path", "p50 ms", "p99 ms", "jobs/s", "requests"
    );
    let mut rows = vec![
        ("direct (echo container)", &direct),
        ("node /api/jobs/stream", &via_node),
    ];
    if let Some(r) = &relay {
        rows.push(("tcp relay (socat)", r));
    }
    for (name, r) in rows {
        println!(
            "{:<26} {:>10.3} {:>10.3} {:>12.0} {:>10}",
            name,
            ms(r.pct(0.5)),
            ms(r.pct(0.99)),
            r.rate(),
            r.latencies.len()
        );
    }
    println!(
        "added p50 latency: {:.3} ms (target <= 0.5)   throughput ratio node/direct: {:.1} % (target >= 80)",
        ms(via_node.pct(0.5)) - ms(direct.pct(0.5)),
        100.0 * via_node.rate() / direct.rate()
    );
    if let Some(r) = &relay {
        println!(
            "bare relay/direct: {:.1} %   node/bare relay: {:.1} %",
            100.0 * r.rate() / direct.rate(),
            100.0 * via_node.rate() / r.rate()
        );
    }
}

/// Runs the direct load through `socat` relaying TCP to the container; None without socat.
fn relay_run(
    rt: &tokio::runtime::Runtime,
    echo_url: &str,
    data: &serde_json::Value,
    clients: usize,
    secs: f64,
) -> Option<Run> {
    let target = echo_url.trim_start_matches("http://");
    let port = common::free_port();
    let mut socat = Command::new("socat")
        .args([
            format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"),
            format!("TCP:{target}"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    common::wait_port(port, Duration::from_secs(10));
    let r = rt.block_on(load(
        format!("http://127.0.0.1:{port}/service_output"),
        json!({"source": 1, "destination": 2, "data": data}),
        clients,
        secs,
    ));
    let _ = socat.kill();
    let _ = socat.wait();
    Some(r)
}
