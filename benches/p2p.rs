//! The c0mpute substrate on loopback: discovery time for BENCH_PEERS nodes (default 5) from
//! one bootstrap address (from the last start until every node lists every other), the time
//! from offer to first token of a chat bought from the swarm against a direct call to the
//! same backend (the stub: its own first-token wait is the same on both paths; the bid
//! window, BENCH_BID_WINDOW s, default 0.5, is part of the p2p path), and the gossip an idle
//! peer causes (capability ads received a minute per peer, over BENCH_IDLE_SECS, default 30,
//! with `p2p.ad_interval` BENCH_AD_INTERVAL s, default 10).
//!
//! `cargo bench --bench p2p`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails loudly by design
#[path = "../tests/common/mod.rs"]
mod common;
use common::{free_port, http, infernet_cmd};
use futures::StreamExt;
use infernet::backend::{ChatBackend, ChatRequest, Message, STUB_MODEL, StubBackend};
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

struct Peer {
    child: Child,
    _home: tempfile::TempDir,
    rest: String,
    p2p: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bootstrap: &[String], window: f64, ad_interval: f64, price: f64) -> Peer {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("infernet");
    std::fs::create_dir_all(&dir).unwrap();
    let (rest, p2p) = (free_port(), free_port());
    let cfg = json!({
        "server": {"port": rest, "bind": "127.0.0.1"},
        "manage_containers": false,
        "store": {"path": home.path().join("node.db").to_string_lossy()},
        "log": {"path": home.path().join("node.log").to_string_lossy(), "level": "warn"},
        "backends": [{"id": "stub", "kind": "stub"}],
        "p2p": {"enabled": true, "listen": [format!("/ip4/127.0.0.1/tcp/{p2p}")],
                "bootstrap": bootstrap, "price_usd": price, "bid_window": window,
                "ad_interval": ad_interval},
    });
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    assert!(
        infernet_cmd(home.path())
            .arg("init")
            .output()
            .unwrap()
            .status
            .success()
    );
    let child = infernet_cmd(home.path())
        .args(["start", "--foreground"])
        .env_remove("INFERNET_DAEMON_FOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_port(rest, Duration::from_secs(30));
    Peer {
        child,
        _home: home,
        rest: format!("http://127.0.0.1:{rest}"),
        p2p,
    }
}

async fn view(p: &Peer) -> Value {
    http()
        .get(format!("{}/api/p2p/peers", p.rest))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Milliseconds from sending `body` to the first token line of the node's NDJSON answer.
async fn p2p_first_token(p: &Peer, prompt: &str) -> f64 {
    let t0 = Instant::now();
    let r = http()
        .post(format!("{}/api/p2p/chat", p.rest))
        .json(&json!({"model": STUB_MODEL, "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let mut buf = String::new();
    while let Some(c) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&c.unwrap()));
        if buf.contains("\"type\":\"token\"") {
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            while body.next().await.is_some() {}
            return ms;
        }
        assert!(!buf.contains("\"type\":\"error\""), "{buf}");
    }
    panic!("no token: {buf}");
}

async fn direct_first_token(prompt: &str) -> f64 {
    let t0 = Instant::now();
    let req = ChatRequest {
        id: "direct".into(),
        messages: vec![Message::new("user", prompt)],
        model: None,
        temperature: None,
        max_tokens: None,
    };
    let mut s = StubBackend.chat(req, tokio_util::sync::CancellationToken::new());
    while let Some(ev) = s.next().await {
        if matches!(ev, infernet::backend::ChatEvent::Token { .. }) {
            return t0.elapsed().as_secs_f64() * 1000.0;
        }
    }
    panic!("the stub sent no token");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = env_or("BENCH_PEERS", 5);
    let window: f64 = env_or("BENCH_BID_WINDOW", 0.5);
    let idle: u64 = env_or("BENCH_IDLE_SECS", 30);
    let ad_interval: f64 = env_or("BENCH_AD_INTERVAL", 10.0);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = start(&[], window, ad_interval, 1.0);
        let id = loop {
            let v = view(&first).await;
            if let Some(id) = v["peer_id"].as_str() {
                break id.to_string();
            }
        };
        let boot = format!("/ip4/127.0.0.1/tcp/{}/p2p/{id}", first.p2p);
        let mut peers = vec![first];
        let t0 = Instant::now();
        for i in 1..n {
            peers.push(start(std::slice::from_ref(&boot), window, ad_interval, 0.01 * i as f64));
        }
        let started = t0.elapsed();
        let t1 = Instant::now();
        loop {
            let mut all = true;
            for p in &peers {
                if view(p).await["peers"].as_array().map_or(0, Vec::len) < n - 1 {
                    all = false;
                }
            }
            if all {
                break;
            }
            assert!(t1.elapsed() < Duration::from_secs(120), "no full discovery in 2 min");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let discovered = t1.elapsed();
        let mut p2p = Vec::new();
        let mut direct = Vec::new();
        for r in 0..rounds {
            p2p.push(p2p_first_token(&peers[0], &format!("round {r}")).await);
            direct.push(direct_first_token(&format!("round {r}")).await);
        }
        let a0 = view(&peers[0]).await["ads_taken"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(idle)).await;
        let a1 = view(&peers[0]).await["ads_taken"].as_u64().unwrap_or(0);
        let per_peer_min = (a1 - a0) as f64 / (n - 1) as f64 * 60.0 / idle as f64;
        println!(
            "p2p: {n} peers on loopback, {} cores, bid window {window} s, ad interval {ad_interval} s",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        println!(
            "discovery: all {n} list each other {:.2} s after the last start ({:.2} s to start {} processes)",
            discovered.as_secs_f64(),
            started.as_secs_f64(),
            n - 1
        );
        let (pm, dm) = (median(p2p), median(direct));
        println!(
            "first token: p2p {pm:.1} ms, direct {dm:.1} ms, added {:.1} ms (of which the bid window {:.0} ms)",
            pm - dm,
            window * 1000.0
        );
        println!(
            "idle gossip: {per_peer_min:.1} capability ads a minute per peer received (expected {:.1})",
            60.0 / ad_interval
        );
    });
}
