//! A store that cannot take a job's result (its size cap, `store.max_size_mb`, reached: the
//! same SQLite error as a full disk): the client sees the job failed with the reason at once,
//! not `running` until the pending TTL, and the node keeps serving jobs that fit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// A workflow container (real HTTP on loopback) whose output is `size` bytes of text.
async fn big_output_container(size: usize) -> u16 {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/service_output",
        post(move |body: axum::Json<Value>| async move {
            // The job's `data` arrives under "data" (the container contract).
            let n = body
                .0
                .pointer("/data/size")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .unwrap_or(size);
            axum::Json(json!({ "blob": "x".repeat(n) }))
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_store_cannot_take_fails_the_job_with_the_reason() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    let container = big_output_container(3 * 1024 * 1024).await;
    write_config(
        h,
        &json!({
            "server": {"port": port, "bind": "127.0.0.1"},
            "log": {"path": h.join("node.log")},
            "store": {"path": h.join("node.db"), "max_size_mb": 1},
            "manage_containers": false,
            "containers": [{"id": "big", "url": format!("http://127.0.0.1:{container}"), "external": true}]
        }),
    );
    let mut node = spawn_node(h);
    wait_port(port, Duration::from_secs(60));
    let base = format!("http://127.0.0.1:{port}");
    let submit = |data: Value| {
        let url = format!("{base}/api/jobs");
        async move {
            let v = post_json(&url, &json!({"containers": ["big"], "data": data})).await;
            v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no job id: {v}"))
                .to_string()
        }
    };
    let ended = |id: String| {
        let base = base.clone();
        async move { wait_job(&base, &id, Duration::from_secs(30)).await }
    };

    // 3 MiB of output against a 1 MiB store: the job fails, and says why.
    let big = submit(json!({})).await;
    let j = ended(big.clone()).await;
    assert_eq!(j["status"], "failed", "{j}");
    let why = j.to_string();
    assert!(
        why.contains("could not be stored") && why.contains("database or disk is full"),
        "the reason reaches the client: {why}"
    );
    // Asked again, the answer is the same (it was stored, or is kept by the node).
    let again = ended(big).await;
    assert_eq!(again["status"], "failed", "{again}");

    // The node keeps serving: a job whose result fits succeeds.
    let small = submit(json!({"size": 100})).await;
    let j = ended(small).await;
    assert_eq!(j["status"], "success", "{j}");
    let _ = node.kill();
    let _ = node.wait();
    let log = std::fs::read_to_string(h.join("node.log")).unwrap_or_default();
    assert!(log.contains("could not store the job result"), "{log}");
}
