//! Control-plane replicas under load: BENCH_JOBS chat jobs (default 5,000) from BENCH_CLIENTS
//! concurrent clients (default 200), each submitting (`POST /api/chat`) and following its
//! stream (`GET /api/chat/stream/{id}`) to `done`, through 3 replicas on one PostgreSQL and,
//! in the same run, through 1. BENCH_NODES real nodes (default 4, `concurrency_cap`
//! BENCH_NODE_CAP, default 64) with the stub backend take the jobs; they and the clients are
//! spread over the replicas. Prints jobs/s, p50/p99 from submit to first token beyond the
//! backend's own (the stub waits 15 ms before its first word), PostgreSQL transactions per
//! job (every statement outside a transaction is one; background heartbeats and polls
//! included), and CPU per job summed over the replicas.
//!
//! Needs PostgreSQL: `eval "$(./scripts/provision-cp.sh)" && cargo bench --bench control_plane`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails loudly by design
#[path = "../tests/common/mod.rs"]
mod common;
use common::control::{ControlPlane, Db, Node, node_home_with, postgres_db};
use futures::StreamExt;
use infernet::backend::STUB_MODEL;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The stub backend's own wait before its first word.
const STUB_FIRST_TOKEN: Duration = Duration::from_millis(15);

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Row {
    replicas: usize,
    jobs: usize,
    elapsed: Duration,
    first_token: Vec<Duration>,
    xacts: i64,
    cpu: Duration,
}

impl Row {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.first_token.clone();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// utime + stime of a process, from /proc.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

async fn xacts(url: &str) -> i64 {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let r = c
        .query_one(
            "SELECT (xact_commit + xact_rollback)::BIGINT FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    r.get(0)
}

/// One client's job: submit, follow to `done`; the time from submit to the first token.
async fn one_job(http: &reqwest::Client, base: &str, i: usize) -> Duration {
    let t0 = Instant::now();
    let r = http
        .post(format!("{base}/api/chat"))
        .json(
            &json!({"messages": [{"role": "user", "content": format!("job {i}")}],
                      "modelName": STUB_MODEL, "temperature": 0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let v: serde_json::Value = r.json().await.unwrap();
    let id = v["jobId"].as_str().unwrap().to_string();
    let resp = http
        .get(format!("{base}/api/chat/stream/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut first = None;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), body.next()).await;
        let Ok(next) = next else {
            panic!("job {id} ({base}): no event for 30 s; so far: {buf}");
        };
        let Some(chunk) = next else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if first.is_none() && buf.contains("event: token") {
            first = Some(t0.elapsed());
        }
        if buf.contains("event: done") {
            return first.unwrap_or_else(|| t0.elapsed());
        }
        assert!(!buf.contains("event: error"), "job {id} failed: {buf}");
    }
    panic!("job {id}: the stream ended before done: {buf}");
}

async fn run(n_replicas: usize, jobs: usize, clients: usize, nodes: usize, cap: usize) -> Row {
    let db = postgres_db()
        .await
        .expect("PostgreSQL: eval \"$(./scripts/provision-cp.sh)\" first");
    let Db::Postgres(db_url) = db.clone() else {
        unreachable!()
    };
    // Quiet logs; no anonymous rate limit in the way (the bench measures the queue).
    let quiet = [
        ("RUST_LOG", "warn"),
        ("INFERNET_CP_ANONYMOUS_PER_HOUR", "4000000000"),
    ];
    let replicas: Vec<ControlPlane> = (0..n_replicas)
        .map(|_| ControlPlane::start(&db, &["--max-pending-per-client", "100000"], &quiet))
        .collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let mut running = Vec::new();
    for k in 0..nodes {
        let name = format!("bench{k}");
        let first = k % urls.len();
        let rest: Vec<&String> = urls
            .iter()
            .cycle()
            .skip(first + 1)
            .take(urls.len() - 1)
            .collect();
        let pace = json!({"urls": rest, "concurrency_cap": cap, "poll_wait": 20,
                          "heartbeat_interval": 5});
        let home = node_home_with(
            &name,
            &urls[first],
            json!([{"id": "stub", "kind": "stub"}]),
            pace,
        );
        running.push(Node::start_in(&name, home));
    }
    let names: Vec<String> = (0..nodes).map(|k| format!("bench{k}")).collect();
    replicas[0]
        .wait_peers(
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
            Duration::from_secs(60),
        )
        .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    // Warm-up: connections open, statements prepared.
    for (i, u) in urls.iter().enumerate() {
        one_job(&http, u, i).await;
    }
    // PostgreSQL publishes a backend's counters within a second of its transactions.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let x0 = xacts(&db_url).await;
    let pids: Vec<u32> = replicas.iter().filter_map(|r| r.pid()).collect();
    let c0: Duration = pids.iter().map(|p| cpu_of(*p)).sum();
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, next, base) = (http.clone(), next.clone(), urls[c % urls.len()].clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs {
                        return lat;
                    }
                    lat.push(one_job(&http, &base, i).await);
                }
            })
        })
        .collect();
    let mut first_token = Vec::with_capacity(jobs);
    for t in tasks {
        first_token.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let cpu = pids.iter().map(|p| cpu_of(*p)).sum::<Duration>() - c0;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let x1 = xacts(&db_url).await;
    drop(running);
    drop(replicas);
    Row {
        replicas: n_replicas,
        jobs,
        elapsed,
        first_token: first_token
            .into_iter()
            .map(|d| d.saturating_sub(STUB_FIRST_TOKEN))
            .collect(),
        xacts: x1 - x0,
        cpu,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let jobs: usize = env_or("BENCH_JOBS", 5000);
    let clients: usize = env_or("BENCH_CLIENTS", 200);
    let nodes: usize = env_or("BENCH_NODES", 4);
    let cap: usize = env_or("BENCH_NODE_CAP", 64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<Row> = [3, 1]
        .into_iter()
        .map(|n| rt.block_on(run(n, jobs, clients, nodes, cap)))
        .collect();
    println!(
        "control plane: {jobs} chat jobs, {clients} concurrent clients, {nodes} stub nodes x {cap} slots, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "{:<9} {:>8} {:>16} {:>16} {:>12} {:>14}",
        "replicas", "jobs/s", "p50 1st tok ms", "p99 1st tok ms", "xacts/job", "cpu ms/job"
    );
    for r in &rows {
        println!(
            "{:<9} {:>8.0} {:>16.1} {:>16.1} {:>12.1} {:>14.2}",
            r.replicas,
            r.jobs as f64 / r.elapsed.as_secs_f64(),
            ms(r.pct(0.5)),
            ms(r.pct(0.99)),
            r.xacts as f64 / r.jobs as f64,
            ms(r.cpu) / r.jobs as f64
        );
    }
    if let [three, one] = &rows[..] {
        println!(
            "cpu per job, 3 replicas / 1: {:.2}x (goal <= 1.2x)",
            three.cpu.as_secs_f64() / one.cpu.as_secs_f64().max(1e-9)
        );
    }
}
