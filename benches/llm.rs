//! LLM streaming overhead on the same llama-server, same prompt, same run: time to first token
//! and tokens/s calling the server directly, through the backend adapter (`infernet chat`'s
//! path), through a REST stream job on the node, and through the `infernet chat` process.
//!
//! `eval "$(./scripts/provision-llm.sh)" && cargo bench --bench llm` (BENCH_ROUNDS=5).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "../tests/common/mod.rs"]
mod common;

use futures::StreamExt;
use infernet::backend::{self, ChatEvent, ChatRequest, Message};
use infernet::config::BackendConfig;
use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROMPT: &str = "List the planets of the solar system, one per line.";
const MAX_TOKENS: u32 = 64;

#[derive(Default)]
struct Stats {
    ttft: Vec<Duration>,
    rate: Vec<f64>,
}

impl Stats {
    fn add(&mut self, start: Instant, first: Instant, last: Instant, tokens: usize) {
        self.ttft.push(first - start);
        let span = (last - first).as_secs_f64();
        if tokens > 1 && span > 0.0 {
            self.rate.push((tokens - 1) as f64 / span);
        }
    }
    fn med_ttft_ms(&self) -> f64 {
        let mut v: Vec<f64> = self.ttft.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    fn med_rate(&self) -> f64 {
        let mut v = self.rate.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

async fn direct(url: &str, st: &mut Stats) -> usize {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": PROMPT}], "stream": true,
                      "temperature": 0, "max_tokens": MAX_TOKENS});
    let start = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut s = r.bytes_stream();
    let (mut first, mut last, mut n, mut buf) = (None, start, 0usize, String::new());
    while let Some(c) = s.next().await {
        buf.push_str(&String::from_utf8_lossy(&c.unwrap()));
        while let Some(p) = buf.find('\n') {
            let line: String = buf.drain(..=p).collect();
            if line.contains("\"content\":\"") && !line.contains("\"content\":\"\"") {
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
                n += 1;
            }
        }
    }
    st.add(start, first.unwrap(), last, n);
    n
}

async fn adapter(be: &dyn backend::ChatBackend, st: &mut Stats) {
    // (also used for the embedded engine; the first call loads the model, see warm-up)
    let req = ChatRequest {
        id: "b".into(),
        messages: vec![Message::new("user", PROMPT)],
        temperature: Some(0.0),
        max_tokens: Some(MAX_TOKENS),
        ..Default::default()
    };
    let start = Instant::now();
    let mut ev = be.chat(req, tokio_util::sync::CancellationToken::new());
    let (mut first, mut last, mut n) = (None, start, 0usize);
    while let Some(e) = ev.next().await {
        if let ChatEvent::Token { .. } = e {
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
            n += 1;
        }
    }
    st.add(start, first.unwrap(), last, n);
}

async fn rest(base: &str, st: &mut Stats, tokens: usize) {
    let start = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"containers": ["llm"], "data": {"prompt": PROMPT, "temperature": 0, "max_tokens": MAX_TOKENS}}))
        .send()
        .await
        .unwrap();
    let mut s = r.bytes_stream();
    let (mut first, mut last, mut seen_id) = (None, start, false);
    while let Some(c) = s.next().await {
        let c = c.unwrap();
        let payload = if seen_id {
            &c[..]
        } else {
            match c.iter().position(|b| *b == b'\n') {
                Some(p) => {
                    seen_id = true;
                    &c[p + 1..]
                }
                None => continue,
            }
        };
        if !payload.is_empty() {
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
        }
    }
    st.add(start, first.unwrap(), last, tokens);
}

fn cli(url: &str, st: &mut Stats, tokens: usize) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .args([
            "chat",
            "--backend",
            "llamacpp",
            "--host",
            url,
            "--temperature",
            "0",
            "--max-tokens",
            &MAX_TOKENS.to_string(),
            PROMPT,
        ])
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", "/nonexistent-infernet-xdg")
        .current_dir("/")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let (mut first, mut last, mut buf) = (None, start, [0u8; 4096]);
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last = now;
    }
    child.wait().unwrap();
    st.add(start, first.unwrap(), last, tokens);
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let Some(server) = common::llm::LlamaServer::start() else {
        eprintln!(
            "set INFERNET_TEST_LLAMA_SERVER and INFERNET_TEST_GGUF (eval \"$(./scripts/provision-llm.sh)\")"
        );
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let cfg = json!({"manage_containers": false, "server": {"port": port, "bind": "127.0.0.1"},
        "backends": [{"id": "llm", "kind": "llamacpp", "url": server.url}],
        "log": {"path": dir.path().join("node.log").to_string_lossy(), "level": "warn"},
        "store": {"path": dir.path().join("node.db").to_string_lossy()}});
    let cfg_path = dir.path().join("config.json");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .args(["start", "--foreground", "--config"])
        .arg(&cfg_path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_port(port, Duration::from_secs(30));
    let base = format!("http://127.0.0.1:{port}");
    let be = backend::build_backend(
        &BackendConfig {
            id: "llm".into(),
            kind: "llamacpp".into(),
            url: server.url.clone(),
            ..Default::default()
        },
        &|_| None,
        reqwest::Client::new(),
    )
    .unwrap();

    let gguf = std::env::var("INFERNET_TEST_GGUF").unwrap_or_default();
    let emb = backend::build_backend(
        &BackendConfig {
            id: "embedded".into(),
            kind: "embedded".into(),
            model: gguf,
            num_thread: Some(1),
            ..Default::default()
        },
        &|_| None,
        reqwest::Client::new(),
    )
    .ok();
    let (mut d, mut a, mut r, mut c, mut e) = (
        Stats::default(),
        Stats::default(),
        Stats::default(),
        Stats::default(),
        Stats::default(),
    );
    rt.block_on(async {
        let _ = direct(&server.url, &mut Stats::default()).await; // warm the prompt cache
        if let Some(emb) = &emb {
            adapter(emb.as_ref(), &mut Stats::default()).await; // load the model once
        }
        for _ in 0..rounds {
            let n = direct(&server.url, &mut d).await;
            adapter(be.as_ref(), &mut a).await;
            rest(&base, &mut r, n).await;
            cli(&server.url, &mut c, n);
            if let Some(emb) = &emb {
                adapter(emb.as_ref(), &mut e).await;
            }
        }
    });
    let _ = node.kill();
    let _ = node.wait();
    println!(
        "llm: llama-server b11434, SmolLM2-135M Q4_1, -t 1, {MAX_TOKENS} tokens max, {rounds} rounds, medians"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>14} {:>12}",
        "path", "TTFT ms", "tokens/s", "+TTFT ms", "tok/s loss"
    );
    for (name, s) in [
        ("direct (SSE to llama-server)", &d),
        ("backend adapter (chat's path)", &a),
        ("node REST /api/jobs/stream", &r),
        ("infernet chat process (incl. start)", &c),
        ("embedded engine, same GGUF, 1 thread", &e),
    ] {
        println!(
            "{:<38} {:>10.2} {:>10.1} {:>14.2} {:>11.2}%",
            name,
            s.med_ttft_ms(),
            s.med_rate(),
            s.med_ttft_ms() - d.med_ttft_ms(),
            100.0 * (1.0 - s.med_rate() / d.med_rate())
        );
    }
}
