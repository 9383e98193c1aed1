//! The control plane with real processes on loopback: `infernet control-plane serve` (SQLite,
//! and the same scenarios on PostgreSQL) and several `infernet start --foreground` nodes, each
//! with its own config dir and identity; a real llama-server where a model answers, and the
//! stub backend (canned, labelled) where a test is about routing and load.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;
#[path = "support/ollama.rs"]
mod ollama;

use common::control::{
    ControlPlane, Db, Frame, Node, node_home, node_home_with, postgres_db, read_sse,
    text_after_reset,
};
use common::llm::LlamaServer;
use common::pg::OwnPostgres;
use common::ref_cp::RefCp;
use common::{eventually, http};
use infernet::backend::STUB_MODEL;
use infernet::control::auth;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn stub() -> Value {
    json!({"id": "stub", "kind": "stub"})
}

fn llm(s: &LlamaServer) -> Value {
    json!({"id": "llm", "kind": "llamacpp", "url": s.url})
}

fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::Sqlite(dir.path().join("cp.db"))
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = http().post(url).json(&body).send().await.expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn chat(cp: &ControlPlane, model: &str, prompt: &str, max_tokens: u64) -> String {
    chat_created(cp, model, prompt, max_tokens).await["jobId"]
        .as_str()
        .expect("jobId")
        .to_string()
}

/// `POST /api/chat`'s whole answer.
async fn chat_created(cp: &ControlPlane, model: &str, prompt: &str, max_tokens: u64) -> Value {
    let (status, v) = post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": prompt}], "modelName": model,
               "maxTokens": max_tokens, "temperature": 0}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // Queued; a waiting node may have leased it already.
    assert!(
        ["pending", "assigned", "running"].contains(&v["status"].as_str().unwrap_or("")),
        "{v}"
    );
    v
}

/// The job's status once it is final (bounded).
async fn final_status(cp: &ControlPlane, id: &str) -> Value {
    status_when(cp, id, |st| st == "completed" || st == "failed").await
}

/// The job's status once `ok(status)` holds (bounded).
async fn status_when(cp: &ControlPlane, id: &str, ok: impl Fn(&str) -> bool) -> Value {
    let path = format!("/api/chat/{id}/status");
    common::eventually("the job's status", Duration::from_secs(30), || {
        let (cp, path, ok) = (cp, &path, &ok);
        async move {
            let st = cp.get(path).await;
            ok(st["status"].as_str().unwrap_or("")).then_some(st)
        }
    })
    .await
}

/// Waits (bounded) until `/api/peers` no longer lists `name` (it went offline).
async fn wait_gone(cp: &ControlPlane, name: &str) {
    common::eventually(
        &format!("'{name}' to leave /api/peers"),
        Duration::from_secs(30),
        || async { (!cp.peer_names().await.iter().any(|n| n == name)).then_some(()) },
    )
    .await
}

fn provider(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.event == "meta")
        .map(|f| f.data["provider_name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn done_text(frames: &[Frame]) -> String {
    let last = frames.last().expect("frames");
    assert_eq!(last.event, "done", "stream ended with {last:?}");
    last.data["text"].as_str().unwrap_or("").to_string()
}

/// One control plane, three nodes: A serves the real model, B the real model and the stub,
/// C only the stub. Jobs go only to nodes serving their model; a node killed mid-job loses
/// its lease and the job completes on another node with one coherent stream; a graceful stop
/// drains and says offline.
async fn routing_and_reassignment(db: Db) {
    let Some(llama) = LlamaServer::start() else {
        return;
    };
    let cp = ControlPlane::start(
        &db,
        &[
            "--lease-secs",
            "2",
            "--node-timeout-secs",
            "5",
            "--ping-secs",
            "1",
            // Replays below span several database pages.
            "--replay-page",
            "3",
        ],
        &[],
    );
    let mut a = Node::start("node-a", &cp.url, json!([llm(&llama)]));
    let mut b = Node::start("node-b", &cp.url, json!([llm(&llama), stub()]));
    let mut c = Node::start("node-c", &cp.url, json!([stub()]));
    cp.wait_peers(&["node-a", "node-b", "node-c"], Duration::from_secs(60))
        .await;

    let models: Vec<String> = cp.get("/v1/models").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(models.iter().any(|m| m == STUB_MODEL), "{models:?}");
    let real = models
        .iter()
        .find(|m| *m != STUB_MODEL)
        .expect("the real model is listed")
        .clone();
    assert_eq!(models.len(), 2, "{models:?}");
    let peers = cp.get("/api/peers").await;
    let c_row = peers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "node-c")
        .unwrap()
        .clone();
    assert_eq!(c_row["served_models"], json!([STUB_MODEL]));
    assert_eq!(c_row["concurrency_cap"], 8);

    // The real model: only A and B; real tokens.
    let mut assigned = 0;
    for i in 0..4 {
        let prompt = format!("Say the number {i}.");
        let created = chat_created(&cp, &real, &prompt, 8).await;
        let id = created["jobId"].as_str().unwrap().to_string();
        let frames = read_sse(
            &format!("{}/api/chat/stream/{id}", cp.url),
            None,
            Duration::from_secs(60),
            |_| {},
        )
        .await;
        assert_eq!(frames[0].event, "job");
        // As the reference answers: the first prompt is the title, and an idle node took the
        // job before the answer, which names it.
        assert_eq!(frames[0].data["title"], prompt);
        let who = provider(&frames);
        assert_eq!(who.len(), 1, "{frames:?}");
        assert!(who[0] == "node-a" || who[0] == "node-b", "{who:?}");
        // Assigned with its node when a node was waiting in its long poll at submit; right
        // after the previous answer both may still be on their way back to it (a loaded
        // machine), and then the honest answer is `pending` without a provider.
        match created["status"].as_str().unwrap() {
            "assigned" | "running" => {
                assert_eq!(created["provider"]["name"], who[0], "{created}");
                assigned += 1;
            }
            _ => assert!(created["provider"].is_null(), "{created}"),
        }
        let text = done_text(&frames);
        assert!(!text.is_empty());
        assert_eq!(text_after_reset(&frames), text);
        assert!(!text.contains("canned"));
    }
    assert!(assigned > 0, "no chat was assigned at submit in 4 tries");
    // The stub model: only B and C.
    for _ in 0..3 {
        let id = chat(&cp, STUB_MODEL, "hello", 64).await;
        let frames = read_sse(
            &format!("{}/api/chat/stream/{id}", cp.url),
            None,
            Duration::from_secs(30),
            |_| {},
        )
        .await;
        let who = provider(&frames);
        assert!(who[0] == "node-b" || who[0] == "node-c", "{who:?}");
    }
    // A model nobody serves fails at once (never pending).
    let (status, v) = post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": "x"}], "modelName": "absent:1b"}),
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        v["error"].as_str().unwrap().starts_with("no_provider"),
        "{v}"
    );

    // Kill the node running a long job after its first token reached the control plane.
    let prompt: String = (0..150).map(|i| format!("w{i} ")).collect();
    let id = chat(&cp, STUB_MODEL, prompt.trim(), 1000).await;
    // A reader that does not know `reset` frames (the reference's clients) follows too.
    let plain_url = format!("{}/api/chat/stream/{id}", cp.url);
    let plain =
        tokio::spawn(
            async move { read_sse(&plain_url, None, Duration::from_secs(60), |_| {}).await },
        );
    // Our reader (`reset=1`) passes on the first attempt's `meta`, then its first `token`.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Frame>();
    let url = format!("{}/api/chat/stream/{id}?reset=1", cp.url);
    let reader = tokio::spawn(async move {
        let (mut meta, mut token, mut reset) = (false, false, false);
        read_sse(&url, None, Duration::from_secs(60), move |f| {
            if f.event == "reset" {
                reset = true;
            } else if f.event == "meta" && !meta {
                meta = true;
                let _ = tx.send(f.clone());
            } else if f.event == "token" && meta && !token && !reset {
                token = true;
                let _ = tx.send(f.clone());
            }
        })
        .await
    });
    let meta = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("first node started")
        .expect("a meta event before the stream ended");
    let first = meta.data["provider_name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let token = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the first node streamed a token within 30 s")
        .expect("a token from the first node before the stream ended or reset");
    assert_eq!(token.event, "token");
    match first.as_str() {
        "node-b" => b.kill9(),
        "node-c" => c.kill9(),
        other => panic!("stub job ran on {other}"),
    }
    let frames = reader.await.unwrap();
    let who = provider(&frames);
    assert_eq!(who.len(), 2, "one meta per attempt: {who:?}");
    assert_eq!(who[0], first);
    assert_ne!(who[1], first);
    let resets: Vec<&Frame> = frames.iter().filter(|f| f.event == "reset").collect();
    assert_eq!(resets.len(), 1, "{frames:?}");
    let before_reset: String = frames
        .iter()
        .take_while(|f| f.event != "reset")
        .filter(|f| f.event == "token")
        .map(|f| f.data["text"].as_str().unwrap())
        .collect();
    assert!(
        !before_reset.is_empty(),
        "the first node streamed tokens before it died"
    );
    let text = done_text(&frames);
    assert_eq!(text, infernet::backend::stub_reply(prompt.trim()));
    assert_eq!(
        text_after_reset(&frames),
        text,
        "one coherent token sequence"
    );
    // The plain reader saw one node's meta, no reset, and each word once: the retry was
    // forwarded only past what it already had.
    let plain = plain.await.unwrap();
    assert!(plain.iter().all(|f| f.event != "reset"), "{plain:?}");
    assert_eq!(provider(&plain), vec![first.clone()]);
    let plain_text: String = plain
        .iter()
        .filter(|f| f.event == "token")
        .map(|f| f.data["text"].as_str().unwrap())
        .collect();
    assert_eq!(plain_text, text, "no repeated or contradictory text");
    assert_eq!(done_text(&plain), text);
    // `complete` follows the `done` event.
    let st = final_status(&cp, &id).await;
    assert_eq!(st["status"], "completed");
    assert_eq!(st["attempt"], 2);

    // Reconnect: the stored events of the latest attempt replay, then the stream ends.
    let replay = read_sse(
        &format!("{}/api/chat/stream/{id}", cp.url),
        None,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    assert_eq!(replay[0].event, "job");
    assert_eq!(replay[0].data["status"], "completed");
    assert!(replay.iter().all(|f| f.event != "reset"));
    assert_eq!(text_after_reset(&replay), text);
    let mid = replay[replay.len() / 2].id.expect("event id");
    let rest = read_sse(
        &format!("{}/api/chat/stream/{id}", cp.url),
        Some(mid),
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    assert!(
        rest.iter()
            .all(|f| f.id.unwrap_or(0) > mid && f.event != "job")
    );
    assert_eq!(rest.last().unwrap().event, "done");

    // Graceful stop: drained, then offline (no longer listed), exit 0.
    let status = a.stop();
    assert!(status.success(), "{}", a.stderr());
    wait_gone(&cp, "node-a").await;
    assert!(
        a.stderr().contains("offline heartbeat sent"),
        "{}",
        a.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_reassignment_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    routing_and_reassignment(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_reassignment_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    routing_and_reassignment(db).await;
}

/// 200 concurrent chat jobs over three nodes (stub backend: this is about the queue), none
/// lost, each node doing some.
async fn load(db: Db) {
    let cp = ControlPlane::start(&db, &["--lease-secs", "10"], &[]);
    let nodes: Vec<Node> = (0..3)
        .map(|i| Node::start(&format!("load-{i}"), &cp.url, json!([stub()])))
        .collect();
    cp.wait_peers(&["load-0", "load-1", "load-2"], Duration::from_secs(60))
        .await;
    let client = http();
    let t0 = Instant::now();
    let jobs = (0..200).map(|i| {
        let client = client.clone();
        let url = format!("{}/v1/chat/completions", cp.url);
        async move {
            let r = client
                .post(url)
                .json(&json!({"model": STUB_MODEL, "max_tokens": 4,
                              "messages": [{"role": "user", "content": format!("job {i}")}]}))
                .send()
                .await
                .expect("POST");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (status, v)
        }
    });
    let results = tokio::time::timeout(Duration::from_secs(180), futures::future::join_all(jobs))
        .await
        .expect("200 jobs within 180 s");
    let elapsed = t0.elapsed();
    for (status, v) in &results {
        assert_eq!(*status, 200, "{v}");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "[canned reply from the "
        );
    }
    // Every job ends `completed` (each node's `complete` follows its `done` event).
    let t0 = Instant::now();
    loop {
        let cards = cp.get("/api/overview").await;
        let jobs_card = cards["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["label"] == "Jobs")
            .unwrap()
            .clone();
        assert_eq!(jobs_card["value"], 200, "{jobs_card}");
        if jobs_card["note"] == "200 completed" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{jobs_card}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each node's own counters (its snapshot refreshes twice a second).
    let t0 = Instant::now();
    let per_node = loop {
        let mut per_node = Vec::new();
        for n in &nodes {
            let out = common::infernet_cmd(n.dir())
                .args(["stats", "--json"])
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            per_node.push(v["controlPlane"]["jobsCompleted"].as_u64().unwrap_or(0));
        }
        if per_node.iter().sum::<u64>() == 200 {
            break per_node;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{per_node:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(per_node.iter().all(|n| *n > 0), "{per_node:?}");
    eprintln!("200 jobs over 3 nodes in {elapsed:?}: {per_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_jobs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    load(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_jobs_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    load(db).await;
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed node call as a test client makes it (any header value).
async fn node_call(
    cp: &ControlPlane,
    path: &str,
    body: &[u8],
    header: Option<&str>,
) -> (u16, Value) {
    let mut r = http()
        .post(format!("{}{path}", cp.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(h) = header {
        r = r.header(auth::HEADER, h);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn signed(key: &[u8; 32], path: &str, body: &Value) -> (Vec<u8>, String) {
    let bytes = serde_json::to_vec(body).unwrap();
    let h = auth::sign(key, "POST", path, &bytes, now_s()).unwrap();
    (bytes, h)
}

fn key(n: u8) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[31] = n;
    k[0] = 0x42;
    k
}

/// The node tier's checks on a real server: every refusal is a 401 with its reason; the nonce
/// cache survives a restart; node ids are owned; completion is idempotent; specs sanitised.
async fn signed_requests(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let _ = dir;
    let mut cp = ControlPlane::start(&db, &[], &[]);
    let k1 = key(1);
    let reg = json!({"role": "provider", "node_id": "provider-test1", "name": "t1",
                     "specs": {"served_models": ["m:1"], "hostname": "secret-host",
                               "gpus": [{"vendor": "nvidia", "vram_tier": "24-48gb", "model": "RTX 4090", "serial": "X"}],
                               "load": {"concurrency_cap": 2}}});
    let (body, h) = signed(&k1, "/api/v1/node/register", &reg);
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["node_id"], "provider-test1");
    // The same request again: replayed nonce.
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("replayed nonce")));
    // Missing header.
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, None).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("missing x-infernet-auth header"))
    );
    // Body tampered after signing.
    let (_, h2) = signed(&k1, "/api/v1/node/heartbeat", &json!({"role": "provider"}));
    let (st, v) = node_call(
        &cp,
        "/api/v1/node/heartbeat",
        br#"{"role":"provider","status":"offline"}"#,
        Some(&h2),
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (401, Some("bad signature")));
    // Signed for another path.
    let (b3, h3) = signed(&k1, "/api/v1/node/me", &json!({"role": "provider"}));
    let (st, v) = node_call(&cp, "/api/v1/node/remove", &b3, Some(&h3)).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("bad signature")));
    // Stale timestamp.
    let b4 = serde_json::to_vec(&json!({"role": "provider"})).unwrap();
    let h4 = auth::sign(&k1, "POST", "/api/v1/node/me", &b4, now_s() - 120).unwrap();
    let (st, v) = node_call(&cp, "/api/v1/node/me", &b4, Some(&h4)).await;
    assert_eq!(st, 401);
    assert!(
        v["error"].as_str().unwrap().starts_with("stale request"),
        "{v}"
    );
    // Wrong signature (one hex digit of sig changed).
    let (b5, h5) = signed(&k1, "/api/v1/node/me", &json!({"role": "provider"}));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut env: Value = serde_json::from_slice(&b64.decode(&h5).unwrap()).unwrap();
    let sig = env["sig"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    env["sig"] = json!(flipped);
    let forged = b64.encode(serde_json::to_vec(&env).unwrap());
    let (st, v) = node_call(&cp, "/api/v1/node/me", &b5, Some(&forged)).await;
    assert_eq!(st, 401);
    assert!(
        v["error"] == "bad signature" || v["error"].as_str().unwrap().starts_with("malformed"),
        "{v}"
    );
    // Someone else's node id.
    let k2 = key(2);
    let mut other = reg.clone();
    other["name"] = json!("thief");
    let (b6, h6) = signed(&k2, "/api/v1/node/register", &other);
    let (st, v) = node_call(&cp, "/api/v1/node/register", &b6, Some(&h6)).await;
    assert_eq!(st, 403, "{v}");
    // Sanitised specs (register and heartbeat alike).
    let hb = json!({"role": "provider", "specs": {"served_models": ["m:1"], "hostname": "h2", "ip": "10.1.2.3",
                    "load": {"concurrency_cap": 2, "active_jobs": 0}}});
    let (b7, h7) = signed(&k1, "/api/v1/node/heartbeat", &hb);
    assert_eq!(
        node_call(&cp, "/api/v1/node/heartbeat", &b7, Some(&h7))
            .await
            .0,
        200
    );
    let (b8, h8) = signed(&k1, "/api/v1/node/me", &json!({"role": "provider"}));
    let (_, me) = node_call(&cp, "/api/v1/node/me", &b8, Some(&h8)).await;
    let specs = &me["data"]["row"]["specs"];
    assert!(
        specs.get("hostname").is_none() && specs.get("ip").is_none(),
        "{specs}"
    );
    assert_eq!(specs["served_models"], json!(["m:1"]));

    // A job through the node tier by hand: poll (lease), events, complete twice (idempotent).
    let job = chat(&cp, "m:1", "hi", 4).await;
    let (b9, h9) = signed(&k1, "/api/v1/node/jobs/poll", &json!({"limit": 5}));
    let (st, v) = node_call(&cp, "/api/v1/node/jobs/poll", &b9, Some(&h9)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["jobs"][0]["id"], json!(job));
    assert_eq!(v["data"]["jobs"][0]["status"], "assigned");
    let evs = json!({"events": [{"event_type": "meta", "data": {"provider_name": "t1"}},
                                {"event_type": "token", "data": {"text": "yo"}},
                                {"event_type": "done", "data": {"text": "yo", "reason": "stop"}}]});
    let p = format!("/api/v1/node/jobs/{job}/events");
    let (b10, h10) = signed(&k1, &p, &evs);
    let (st, v) = node_call(&cp, &p, &b10, Some(&h10)).await;
    assert_eq!((st, &v["data"]["inserted"]), (200, &json!(3)), "{v}");
    let p = format!("/api/v1/node/jobs/{job}/complete");
    let done = json!({"status": "completed", "result": {"type": "chat", "text": "yo"}});
    let (b11, h11) = signed(&k1, &p, &done);
    let (_, v) = node_call(&cp, &p, &b11, Some(&h11)).await;
    assert_eq!(v["data"], json!({"id": job, "status": "completed"}));
    let (b12, h12) = signed(&k1, &p, &done);
    let (_, v) = node_call(&cp, &p, &b12, Some(&h12)).await;
    assert_eq!(v["data"]["noop"], true, "{v}");
    // Events after completion are refused.
    let p = format!("/api/v1/node/jobs/{job}/events");
    let (b13, h13) = signed(&k1, &p, &evs);
    assert_eq!(node_call(&cp, &p, &b13, Some(&h13)).await.0, 409);

    // The replay cache is in the database: a restart does not forget a nonce.
    let (b14, h14) = signed(&k1, "/api/v1/node/me", &json!({"role": "provider"}));
    assert_eq!(
        node_call(&cp, "/api/v1/node/me", &b14, Some(&h14)).await.0,
        200
    );
    cp.kill();
    let cp = ControlPlane::start(&db, &[], &[]);
    let (st, v) = node_call(&cp, "/api/v1/node/me", &b14, Some(&h14)).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("replayed nonce")));
    // And the job survived the restart.
    assert_eq!(
        cp.get(&format!("/api/chat/{job}/status")).await["status"],
        "completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    signed_requests(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    signed_requests(db).await;
}

/// The official `openai` Python package against /v1/chat/completions, streaming and not, with a
/// node serving a real model: real text and real usage counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_client_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    openai_python_client(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_client_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    openai_python_client(db).await;
}

async fn openai_python_client(db: Db) {
    let python = match std::env::var("INFERNET_TEST_OPENAI_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(
                !common::in_ci(),
                "CI=true but INFERNET_TEST_OPENAI_PYTHON is not set"
            );
            eprintln!("SKIPPED: no openai package (run ./scripts/test.sh)");
            return;
        }
    };
    let Some(llama) = LlamaServer::start() else {
        return;
    };
    let cp = ControlPlane::start(&db, &[], &[]);
    let _n = Node::start("oai-node", &cp.url, json!([llm(&llama)]));
    cp.wait_peers(&["oai-node"], Duration::from_secs(60)).await;
    let script = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["CP"] + "/v1", api_key="unused")
models = [m.id for m in c.models.list().data]
r = c.chat.completions.create(model=models[0], messages=[{"role": "user", "content": "Name a colour."}], max_tokens=12, temperature=0)
parts, usage = [], None
s = c.chat.completions.create(model=models[0], messages=[{"role": "user", "content": "Name a colour."}], max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True})
for ch in s:
    if ch.choices and ch.choices[0].delta.content:
        parts.append(ch.choices[0].delta.content)
    if ch.usage:
        usage = ch.usage.model_dump()
try:
    c.chat.completions.create(model="absent:1b", messages=[{"role": "user", "content": "x"}])
    err = None
except openai.APIStatusError as e:
    err = [e.status_code, e.body]
print(json.dumps({"models": models, "text": r.choices[0].message.content, "finish": r.choices[0].finish_reason,
                  "usage": r.usage.model_dump(), "stream": "".join(parts), "stream_usage": usage, "err": err}))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .env("CP", &cp.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["text"].as_str().unwrap().is_empty(), "{v}");
    assert!(v["finish"] == "stop" || v["finish"] == "length", "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(
        v["stream"], v["text"],
        "temperature 0: same text streamed and not"
    );
    assert!(
        v["stream_usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert_eq!(v["err"][0], 503, "{v}");
    assert_eq!(v["err"][1]["code"], "no_provider", "{v}");
}

/// Operator commands to a node: model_install streams progress and completes (or is refused
/// when the model cannot fit), model_remove completes; the admin token guards the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    node_commands(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_commands_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    node_commands(db).await;
}

async fn node_commands(db: Db) {
    let Some(llama) = LlamaServer::start() else {
        return;
    };
    let o = ollama::OllamaTestServer::start(&llama.url).await;
    let cp = ControlPlane::start(&db, &[], &[("INFERNET_ADMIN_TOKEN", "s3cret")]);
    let node = Node::start(
        "cmd-node",
        &cp.url,
        json!([{"id": "ol", "kind": "ollama", "url": o.url, "model": ollama::MODEL}]),
    );
    cp.wait_peers(&["cmd-node"], Duration::from_secs(60)).await;
    let pubkey = cp.get("/api/peers").await["data"][0]["pubkey"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/api/v1/user/nodes/{pubkey}/commands", cp.url);
    let send = |body: Value, token: &'static str| {
        let url = url.clone();
        async move {
            let r = http()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(
        send(
            json!({"command": "model_install", "args": {"model": "x"}}),
            "wrong"
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(
            json!({"command": "rm_rf", "args": {"model": "x"}}),
            "s3cret"
        )
        .await
        .0,
        400
    );
    let wait = |id: String| {
        let url = url.clone();
        async move {
            let t0 = Instant::now();
            loop {
                let v: Value = http()
                    .get(&url)
                    .bearer_auth("s3cret")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let row = v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == json!(id))
                    .cloned()
                    .unwrap();
                if row["status"] == "completed" || row["status"] == "failed" {
                    return row;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "command stuck: {row}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let (st, v) = send(
        json!({"command": "model_install", "args": {"model": "tinyllama:test"}}),
        "s3cret",
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let row = wait(v["data"]["id"].as_str().unwrap().to_string()).await;
    assert_eq!(row["status"], "completed", "{row}");
    assert_eq!(row["result"]["installed"], "tinyllama:test");
    assert!(
        row["progress"]["phase"].is_string(),
        "progress was reported: {row}"
    );
    // The node advertises the new model at once.
    let t0 = Instant::now();
    loop {
        let models = cp.get("/v1/models").await;
        if models.to_string().contains("tinyllama:test") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{models}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, v) = send(
        json!({"command": "model_install", "args": {"model": "huge:1t"}}),
        "s3cret",
    )
    .await;
    let row = wait(v["data"]["id"].as_str().unwrap().to_string()).await;
    assert_eq!(row["status"], "failed");
    assert!(
        row["error"].as_str().unwrap().contains("does not fit"),
        "{row}"
    );
    let (_, v) = send(
        json!({"command": "model_remove", "args": {"model": "tinyllama:test"}}),
        "s3cret",
    )
    .await;
    let row = wait(v["data"]["id"].as_str().unwrap().to_string()).await;
    assert_eq!(row["status"], "completed", "{row}");
    drop(node);
}

/// `register`, `update`, `remove` and `chat --remote` as an operator runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_update_remove_and_remote_chat_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &[], &[]);
    let home = node_home("cli-node", "", json!([stub()]));
    let run = |args: &[&str]| {
        common::infernet_cmd(home.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["register", "--url", &cp.url, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(row["node_id"].as_str().unwrap().starts_with("provider-"));
    assert_eq!(row["specs"]["served_models"], json!([STUB_MODEL]));
    assert_eq!(cp.peer_names().await, vec!["cli-node".to_string()]);
    let out = run(&["update", "--url", &cp.url, "--name", "renamed"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("registered with"));
    assert_eq!(cp.peer_names().await, vec!["renamed".to_string()]);
    // Remote chat: nothing polls for jobs (the node is not running), so the job waits; the
    // CLI's error path is tested with a model nobody serves.
    let out = run(&["chat", "--url", &cp.url, "--model", "absent:1b", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_provider"));
    let out = run(&["chat", "--remote", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--remote needs a control plane"));
    let out = run(&["remove", "--url", &cp.url]);
    assert_eq!(out.status.code(), Some(2), "needs --yes without a terminal");
    let out = run(&["remove", "--url", &cp.url, "--yes"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed from"));
    assert!(cp.peer_names().await.is_empty());
    let out = run(&["remove", "--url", &cp.url, "--yes"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("had no record"));

    // `setup --control-plane URL` writes control_plane.url and registers.
    let fresh = tempfile::tempdir().unwrap();
    let out = common::infernet_cmd(fresh.path())
        .args([
            "setup",
            "--yes",
            "--skip-daemon",
            "--no-firewall",
            "--backend",
            "none",
            "--no-chain",
            "--name",
            "setup-node",
            "--control-plane",
            &cp.url,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("registered with {}", cp.url)),
        "{stdout}"
    );
    assert_eq!(cp.peer_names().await, vec!["setup-node".to_string()]);
    let written: Value =
        serde_json::from_slice(&std::fs::read(fresh.path().join("infernet/config.json")).unwrap())
            .unwrap();
    assert_eq!(written["control_plane"]["url"], json!(cp.url));
    let out = common::infernet_cmd(fresh.path())
        .args(["remove", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success());

    // With a running node, `chat --remote` streams through the control plane like local chat.
    let cfg = home.path().join("infernet/config.json");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    c["control_plane"]["url"] = json!(cp.url);
    std::fs::write(&cfg, c.to_string()).unwrap();
    let mut child = common::infernet_cmd(home.path())
        .args(["start", "--foreground"])
        .env_remove("INFERNET_DAEMON_FOREGROUND")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    cp.wait_peers(&["cli-node"], Duration::from_secs(30)).await;
    // doctor checks the link: reachable, registered, heartbeat fresh.
    let out = run(&["doctor", "--skip-e2e", "--json"]);
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cp_check = checks
        .as_array()
        .or_else(|| checks["checks"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["name"] == "control plane")
        .cloned()
        .unwrap();
    assert_eq!(cp_check["status"], "ok", "{cp_check}");
    assert!(
        cp_check["detail"]
            .as_str()
            .unwrap()
            .contains("registered as provider-")
    );
    let out = run(&["chat", "--remote", "--json", "hello remote"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "meta");
    assert_eq!(lines[0]["backend"], "remote:cli-node");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "done");
    assert_eq!(last["text"], infernet::backend::stub_reply("hello remote"));
    let streamed: String = lines
        .iter()
        .filter(|l| l["type"] == "token")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, last["text"].as_str().unwrap());
}

/// No job is lost or pending forever: a node that claims a job and goes silent loses it; after
/// `--max-attempts` leases the job fails with the reason; a job nobody claims fails after
/// `--pending-timeout-secs`. The node here is driven by hand over the signed node tier.
async fn queue_failures(db: Db) {
    let cp = ControlPlane::start(
        &db,
        &[
            "--lease-secs",
            "1",
            "--max-attempts",
            "2",
            "--pending-timeout-secs",
            "2",
        ],
        &[],
    );
    let k = key(9);
    let call = |path: String, body: Value| {
        let (bytes, h) = signed(&k, &path, &body);
        let cp = &cp;
        async move { node_call(cp, &path, &bytes, Some(&h)).await }
    };
    let reg = json!({"role": "provider", "node_id": "provider-silent", "name": "silent",
                     "specs": {"served_models": ["m:1"]}});
    assert_eq!(call("/api/v1/node/register".into(), reg).await.0, 200);

    // Claimed twice, silent twice: failed with the reason, and the stream says so.
    let job = chat(&cp, "m:1", "hi", 4).await;
    for attempt in 1..=2 {
        let t0 = Instant::now();
        loop {
            let (st, v) = call("/api/v1/node/jobs/poll".into(), json!({"limit": 1})).await;
            assert_eq!(st, 200, "{v}");
            if let Some(j) = v["data"]["jobs"].as_array().and_then(|a| a.first()) {
                assert_eq!(j["id"], json!(job));
                assert_eq!(j["attempt"], attempt);
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "job not re-queued");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Keep the node itself alive (heartbeats), but never report on the job: heartbeats
        // from our nodes list their jobs, so an empty list does not renew this lease.
        let _ = call(
            "/api/v1/node/heartbeat".into(),
            json!({"role": "provider", "jobs": [], "specs": {"served_models": ["m:1"]}}),
        )
        .await;
    }
    let st = final_status(&cp, &job).await;
    assert_eq!(st["status"], "failed", "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("attempt 2 of 2"),
        "{st}"
    );
    let frames = read_sse(
        &format!("{}/api/chat/stream/{job}", cp.url),
        None,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    assert_eq!(frames.last().unwrap().event, "error");

    // Nobody polls: the pending job fails after the pending timeout, and the reason says that
    // a node serving the model is there but took nothing (not that none exists).
    let job = chat(&cp, "m:1", "hi", 4).await;
    let st = status_when(&cp, &job, |s| s == "failed").await;
    assert!(
        st["error"].as_str().unwrap().starts_with(
            "no_capacity: 1 live node(s) serve 'm:1' but none took the job within 2 s"
        ),
        "{st}"
    );
    // Sampling values of the wrong type or out of range are refused, on both routes.
    for (route, body) in [
        (
            "/api/chat",
            json!({"messages": [{"role": "user", "content": "x"}], "modelName": "m:1", "maxTokens": 1e30}),
        ),
        (
            "/api/chat",
            json!({"messages": [{"role": "user", "content": "x"}], "modelName": "m:1", "temperature": "hot"}),
        ),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "x"}], "model": "m:1", "max_tokens": 1e30}),
        ),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "x"}], "model": "m:1", "temperature": "hot"}),
        ),
    ] {
        let (status, v) = post(&format!("{}{route}", cp.url), body).await;
        assert_eq!(status, 400, "{route}: {v}");
        let text = v.to_string();
        assert!(
            text.contains("must be an integer from 1")
                || text.contains("temperature must be a number"),
            "{route}: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_failures_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    queue_failures(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_failures_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    queue_failures(db).await;
}

/// A node asked to stop mid-job finishes the job first (drain), then goes offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_finishes_its_job_first() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &[], &[]);
    let mut n = Node::start("drainer", &cp.url, json!([stub()]));
    cp.wait_peers(&["drainer"], Duration::from_secs(30)).await;
    let prompt: String = (0..120).map(|i| format!("w{i} ")).collect();
    let id = chat(&cp, STUB_MODEL, prompt.trim(), 1000).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let url = format!("{}/api/chat/stream/{id}", cp.url);
    let reader = tokio::spawn(async move {
        read_sse(&url, None, Duration::from_secs(30), move |f| {
            if f.event == "token" {
                let _ = tx.send(());
            }
        })
        .await
    });
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("tokens started");
    let stopped = tokio::task::spawn_blocking(move || {
        let s = n.stop();
        (s, n)
    });
    let frames = reader.await.unwrap();
    assert_eq!(
        done_text(&frames),
        infernet::backend::stub_reply(prompt.trim())
    );
    assert!(frames.iter().all(|f| f.event != "reset"));
    let (status, n) = stopped.await.unwrap();
    assert!(status.success(), "{}", n.stderr());
    assert_eq!(final_status(&cp, &id).await["status"], "completed");
    wait_gone(&cp, "drainer").await;
}

/// One job's readers are capped: the next one gets 429 until a reader leaves; one client's
/// waiting jobs are capped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_per_job_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(
        &sqlite(&dir),
        &[
            "--max-readers-per-job",
            "2",
            "--ping-secs",
            "1",
            "--max-pending-per-client",
            "2",
        ],
        &[],
    );
    let k = key(7);
    let reg = json!({"role": "provider", "node_id": "provider-readers", "name": "r",
                     "specs": {"served_models": ["m:1"], "load": {"concurrency_cap": 1}}});
    let (body, h) = signed(&k, "/api/v1/node/register", &reg);
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!(st, 200, "{v}");
    // Nobody polls: the job stays pending, so its readers stay.
    let job = chat(&cp, "m:1", "hi", 4).await;
    let url = format!("{}/api/chat/stream/{job}", cp.url);
    let c = http();
    let r1 = c.get(&url).send().await.unwrap();
    let r2 = c.get(&url).send().await.unwrap();
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (200, 200));
    let r3 = c.get(&url).send().await.unwrap();
    assert_eq!(r3.status(), 429);
    let v: Value = r3.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("2 readers already"),
        "{v}"
    );
    drop(r1);
    // Once a reader has left (the server notices at its next keep-alive), there is room again.
    let r4 = common::eventually(
        "a slot freed by the reader that left",
        Duration::from_secs(30),
        || {
            let (c, url) = (c.clone(), url.clone());
            async move {
                let r = c.get(&url).send().await.ok()?;
                (r.status() == 200).then_some(r)
            }
        },
    )
    .await;
    drop((r2, r4));
    // The same client's second waiting job is accepted; a third is over its quota.
    chat(&cp, "m:1", "again", 4).await;
    let (status, v) = post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": "x"}], "modelName": "m:1"}),
    )
    .await;
    assert_eq!(status, 429, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("too_many_pending"),
        "{v}"
    );
}

/// With an allowlist, only listed node keys may register (and so receive prompts); others get
/// 403 naming the key to add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowlisted_nodes_are_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, other) = (key(11), key(12));
    let listed = auth::public_key(&ok).unwrap().to_ascii_uppercase();
    let cp = ControlPlane::start(&sqlite(&dir), &["--allow-node", &listed], &[]);
    let reg = |id: &str| json!({"role": "provider", "node_id": id, "name": id, "specs": {"served_models": ["m:1"]}});
    let (body, h) = signed(&other, "/api/v1/node/register", &reg("provider-x"));
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!(st, 403, "{v}");
    let other_key = auth::public_key(&other).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains(&other_key),
        "the refusal names the key: {v}"
    );
    // Refused before anything was stored: no node serves m:1.
    let (status, _) = post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": "x"}], "modelName": "m:1"}),
    )
    .await;
    assert_eq!(status, 503);
    // The listed key (given in upper case) registers.
    let (body, h) = signed(&ok, "/api/v1/node/register", &reg("provider-ok"));
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!(st, 200, "{v}");
}

/// `infernet control-plane <args>` as the operator runs it, with the admin token.
fn operator(cp: &ControlPlane, token: &str, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = common::infernet_cmd(dir.path())
        .arg("control-plane")
        .args(args)
        .args(["--url", &cp.url])
        .env("INFERNET_ADMIN_TOKEN", token)
        .output()
        .expect("run infernet control-plane");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn register_as(cp: &ControlPlane, k: &[u8; 32], id: &str) -> (u16, Value) {
    let reg = json!({"role": "provider", "node_id": id, "name": format!("box {id}"), "specs": {"served_models": ["m:1"]}});
    let (body, h) = signed(k, "/api/v1/node/register", &reg);
    node_call(cp, "/api/v1/node/register", &body, Some(&h)).await
}

async fn chat_m1(cp: &ControlPlane) -> (u16, Value) {
    post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": "x"}], "modelName": "m:1"}),
    )
    .await
}

/// Approval mode: an unknown key is recorded and refused until the operator approves it;
/// listed keys need no approval; a denied key is refused and its node removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_mode_waits_for_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (asks, listed, denied) = (key(21), key(22), key(23));
    let listed_key = auth::public_key(&listed).unwrap();
    let cp = ControlPlane::start(
        &sqlite(&dir),
        &["--admission", "approval", "--allow-node", &listed_key],
        &[("INFERNET_ADMIN_TOKEN", "op-secret")],
    );
    let asks_key = auth::public_key(&asks).unwrap();

    // Unknown key: refused, recorded as pending with what it said about itself.
    let (st, v) = register_as(&cp, &asks, "provider-asks").await;
    assert_eq!(st, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("awaiting"), "{v}");
    assert_eq!(
        chat_m1(&cp).await.0,
        503,
        "an unapproved node serves nothing"
    );
    let (ok, out, err) = operator(&cp, "op-secret", &["admissions", "--status", "pending"]);
    assert!(ok, "{err}");
    assert!(out.contains("admission policy: approval"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(&asks_key))
        .unwrap_or_else(|| panic!("pending key listed: {out}"));
    assert!(
        line.starts_with("pending") && line.contains("node_id=provider-asks"),
        "{line}"
    );

    // A wrong token is refused and changes nothing.
    let (ok, _, err) = operator(&cp, "wrong", &["approve", &asks_key]);
    assert!(!ok && err.contains("401"), "{err}");
    assert_eq!(register_as(&cp, &asks, "provider-asks").await.0, 403);

    // Listed keys need no approval.
    let (st, v) = register_as(&cp, &listed, "provider-listed").await;
    assert_eq!(st, 200, "{v}");

    // The operator approves (key given with 0x and in upper case): the node registers.
    let shouted = format!("0x{}", asks_key.to_ascii_uppercase());
    let (ok, out, err) = operator(&cp, "op-secret", &["approve", &shouted]);
    assert!(ok, "{err}");
    assert!(out.starts_with("approved"), "{out}");
    let (st, v) = register_as(&cp, &asks, "provider-asks").await;
    assert_eq!(st, 200, "{v}");

    // Denied (decided before the key ever asked): refused, and so is an approved key once
    // denied; its node is removed at once.
    let (ok, _, err) = operator(
        &cp,
        "op-secret",
        &["deny", &auth::public_key(&denied).unwrap()],
    );
    assert!(ok, "{err}");
    let (st, v) = register_as(&cp, &denied, "provider-denied").await;
    assert_eq!(st, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("denied"), "{v}");
    let (ok, _, err) = operator(&cp, "op-secret", &["deny", &asks_key]);
    assert!(ok, "{err}");
    let (body, h) = signed(
        &asks,
        "/api/v1/node/heartbeat",
        &json!({"role": "provider"}),
    );
    let (st, v) = node_call(&cp, "/api/v1/node/heartbeat", &body, Some(&h)).await;
    assert_eq!(st, 403, "{v}");
    let peers = cp.get("/api/peers").await.to_string();
    assert!(
        !peers.contains("provider-asks"),
        "a denied node is gone: {peers}"
    );
    assert!(peers.contains("provider-listed"), "{peers}");

    // A bad decision says what is expected.
    let r = http()
        .post(format!("{}/api/v1/user/admissions/{asks_key}", cp.url))
        .bearer_auth("op-secret")
        .json(&json!({"decision": "maybe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("\"approve\" or \"deny\""),
        "{v}"
    );
}

/// Approval mode cannot start without the token the operator approves with.
#[test]
fn approval_mode_needs_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::infernet_cmd(dir.path())
        .args([
            "control-plane",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admission",
            "approval",
        ])
        .args([
            "--database-url",
            &dir.path().join("cp.db").to_string_lossy(),
        ])
        .env_remove("INFERNET_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INFERNET_ADMIN_TOKEN"), "{err}");
}

/// Against a control plane that behaves like the reference's (a stand-in: theirs cannot run
/// here): the served models reach it right after registering, not one heartbeat interval
/// later, and a job it hands out again on every poll while it runs is polled at the
/// configured pace, not in a hot loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_against_a_reference_style_control_plane() {
    // The stub streams this for a few seconds.
    let prompt: String = (0..300).map(|i| format!("w{i} ")).collect();
    let input =
        json!({"messages": [{"role": "user", "content": prompt.trim()}], "max_tokens": 400});
    let (cp, url) = RefCp::start(input, STUB_MODEL).await;
    let pace = json!({"heartbeat_interval": 30, "poll_interval": 1, "poll_wait": 5});
    let _node = Node::start_in(
        "ref-node",
        node_home_with("ref-node", &url, json!([stub()]), pace),
    );
    cp.wait_for(Duration::from_secs(20), |s| {
        s.registered_at.is_some() && !s.heartbeats.is_empty()
    })
    .await;
    {
        let s = cp.seen.lock().unwrap();
        let (at, models) = &s.heartbeats[0];
        let after = at.duration_since(s.registered_at.unwrap());
        assert!(
            after < Duration::from_secs(10),
            "first heartbeat {after:?} after register (interval 30 s)"
        );
        assert_eq!(models, &vec![STUB_MODEL.to_string()]);
    }
    cp.wait_for(Duration::from_secs(60), |s| s.job_completed.is_some())
        .await;
    let s = cp.seen.lock().unwrap();
    let (given, done) = (s.job_given.unwrap(), s.job_completed.unwrap());
    let secs = done.duration_since(given).as_secs_f64();
    let during = s.polls.iter().filter(|t| **t > given && **t < done).count();
    assert!(secs > 1.0, "the job ran for {secs:.1} s: too short to tell");
    assert!(
        during as f64 <= secs / 0.9 + 2.0,
        "{during} polls in {secs:.1} s while the job ran (poll_interval 1 s)"
    );
}

/// Reads a `/api/v1/jobs/:id/stream` body: its `data:` payloads up to `[DONE]` (bounded).
async fn read_job_stream(url: &str) -> Vec<Value> {
    use futures::StreamExt;
    let resp = http().get(url).send().await.expect("stream");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let (mut buf, mut out) = (String::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("no [DONE] within 30 s: {out:?}"));
        let Some(Ok(chunk)) = chunk else {
            panic!("the stream ended without [DONE]: {out:?}")
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let raw: String = buf.drain(..end + 2).collect();
            for line in raw.lines() {
                let Some(d) = line.strip_prefix("data:") else {
                    continue;
                };
                let d = d.trim_start();
                if d == "[DONE]" {
                    return out;
                }
                out.push(serde_json::from_str(d).expect("a JSON frame"));
            }
        }
    }
}

/// The client job API the seeds name: submit with a bare `prompt`, stream `{text}` frames to
/// `[DONE]`, read the finished job; unknown ids and bad bodies get JSON errors.
async fn client_job_api(db: Db) {
    let cp = ControlPlane::start(&db, &[], &[]);
    let _n = Node::start("jobs-node", &cp.url, json!([stub()]));
    cp.wait_peers(&["jobs-node"], Duration::from_secs(60)).await;
    let prompt = "tell me about the weather";
    let r = http()
        .post(format!("{}/api/v1/jobs", cp.url))
        .json(&json!({"prompt": prompt, "model": STUB_MODEL, "max_tokens": 64}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["stream_url"], format!("/api/v1/jobs/{id}/stream"));
    assert_eq!(created["provider"]["name"], "jobs-node", "{created}");
    let frames = read_job_stream(&format!(
        "{}{}",
        cp.url,
        created["stream_url"].as_str().unwrap()
    ))
    .await;
    assert!(
        frames.iter().all(|f| f.get("error").is_none()),
        "{frames:?}"
    );
    let streamed: String = frames.iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(streamed, infernet::backend::stub_reply(prompt));
    let job = status_of_client_job(&cp, &id).await;
    assert_eq!(job["text"], streamed.as_str());
    assert_eq!(job["title"], prompt);
    receipt_checks(&cp, &id, &streamed).await;
    // Unknown job and a body without messages or prompt: JSON errors.
    let r = http()
        .get(format!("{}/api/v1/jobs/nope", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("no job 'nope'"),
        "{v}"
    );
    let (st, v) = post(
        &format!("{}/api/v1/jobs", cp.url),
        json!({"model": STUB_MODEL}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("messages"), "{v}");
}

/// `GET /api/v1/jobs/:id` once the job is completed (bounded).
async fn status_of_client_job(cp: &ControlPlane, id: &str) -> Value {
    let url = format!("{}/api/v1/jobs/{id}", cp.url);
    common::eventually(
        "the client job to complete",
        Duration::from_secs(30),
        || {
            let url = url.clone();
            async move {
                let v: Value = http().get(&url).send().await.ok()?.json().await.ok()?;
                (v["status"] == "completed").then_some(v)
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_job_api_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    client_job_api(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_job_api_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    client_job_api(db).await;
}

/// The finished job's receipt: signed by the control plane, its artifact hash the text the
/// client got; `infernet receipt verify` accepts it (online, and offline with a saved DID
/// document) and refuses a changed copy.
async fn receipt_checks(cp: &ControlPlane, job: &str, text: &str) {
    use sha2::Digest;
    // The receipt is written just after the completion the caller saw (a separate write):
    // wait for it, bounded.
    let path = format!("/api/v1/receipts/{job}");
    let r = common::eventually("the job's receipt", Duration::from_secs(10), || {
        let path = &path;
        async move {
            let r = cp.get(path).await;
            r.get("task_id").is_some().then_some(r)
        }
    })
    .await;
    assert_eq!(r["task_id"], job, "{r}");
    assert_eq!(r["outcome"], "accepted");
    let hash: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r["artifact_hash"], format!("sha256:{hash}"));
    assert!(r["agent_did"].as_str().unwrap().starts_with("did:nostr:"));
    let did = cp.get("/.well-known/did.json").await;
    assert_eq!(did["id"], r["platform_did"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.json");
    let did_file = dir.path().join("did.json");
    std::fs::write(&file, r.to_string()).unwrap();
    std::fs::write(&did_file, did.to_string()).unwrap();
    let verify = |args: &[&str]| {
        let out = common::infernet_cmd(dir.path())
            .args(["receipt", "verify"])
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let f = file.to_str().unwrap();
    let (code, out) = verify(&[f, "--url", &cp.url]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("valid: receipt"), "{out}");
    // By id, fetched from the control plane.
    let (code, out) = verify(&[job, "--url", &cp.url]);
    assert_eq!(code, Some(0), "{out}");
    // Offline: the saved DID document, and a control plane that does not answer.
    let (code, out) = verify(&[
        f,
        "--did",
        did_file.to_str().unwrap(),
        "--url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, Some(0), "{out}");
    // A changed copy is refused.
    let mut forged = r.clone();
    forged["artifact_hash"] = json!("sha256:00");
    std::fs::write(&file, forged.to_string()).unwrap();
    let (code, out) = verify(&[f, "--url", &cp.url]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("invalid: the signature does not match"),
        "{out}"
    );
}

/// The control plane's `/metrics` as `series → value` (the content type checked).
async fn cp_metrics(cp: &ControlPlane) -> std::collections::HashMap<String, f64> {
    let r = http()
        .get(format!("{}/metrics", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

/// Waits (bounded) until `/metrics` has `series` at `want`.
async fn metric_is(cp: &ControlPlane, series: &str, want: f64) {
    common::eventually(
        &format!("{series} = {want}"),
        Duration::from_secs(30),
        || async { (cp_metrics(cp).await.get(series) == Some(&want)).then_some(()) },
    )
    .await
}

/// `/metrics` follows what nodes and clients do: nodes by state, the queue by model, leases,
/// finished jobs by model and status, open SSE responses; unauthenticated like `/api/health`.
async fn metrics_follow_the_queue(db: Db) {
    let cp = ControlPlane::start(&db, &["--ping-secs", "1"], &[]);
    let m = cp_metrics(&cp).await;
    let version = format!(
        r#"infernet_cp_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    for (series, want) in [
        ("infernet_cp_up", 1.0),
        (version.as_str(), 1.0),
        ("infernet_cp_database_up", 1.0),
        (r#"infernet_cp_nodes{state="online"}"#, 0.0),
        (r#"infernet_cp_nodes{state="offline"}"#, 0.0),
        ("infernet_cp_leases_active", 0.0),
        (r#"infernet_cp_sse_readers{stream="chat"}"#, 0.0),
        (r#"infernet_cp_sse_readers{stream="status"}"#, 0.0),
        ("infernet_cp_node_polls_waiting", 0.0),
    ] {
        assert_eq!(m.get(series), Some(&want), "{series}: {m:?}");
    }

    let k = key(21);
    let call = |path: String, body: Value| {
        let (bytes, h) = signed(&k, &path, &body);
        let cp = &cp;
        async move { node_call(cp, &path, &bytes, Some(&h)).await }
    };
    let reg = json!({"role": "provider", "node_id": "provider-metrics", "name": "metrics",
                     "specs": {"served_models": ["m:1"]}});
    assert_eq!(call("/api/v1/node/register".into(), reg).await.0, 200);
    let m = cp_metrics(&cp).await;
    assert_eq!(m[r#"infernet_cp_nodes{state="online"}"#], 1.0, "{m:?}");
    assert_eq!(m[r#"infernet_cp_model_nodes{model="m:1"}"#], 1.0, "{m:?}");
    assert_eq!(m[r#"infernet_cp_queue_depth{model="m:1"}"#], 0.0, "{m:?}");

    // Nobody polls yet: the job waits, and its reader is an open SSE response.
    let job = chat(&cp, "m:1", "hi", 4).await;
    let reader = http()
        .get(format!("{}/api/chat/stream/{job}", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 200);
    let page = http()
        .get(format!("{}/status/events", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let m = cp_metrics(&cp).await;
    assert_eq!(m[r#"infernet_cp_queue_depth{model="m:1"}"#], 1.0, "{m:?}");
    assert_eq!(m["infernet_cp_leases_active"], 0.0, "{m:?}");
    assert_eq!(m[r#"infernet_cp_sse_readers{stream="chat"}"#], 1.0, "{m:?}");
    assert_eq!(
        m[r#"infernet_cp_sse_readers{stream="status"}"#], 1.0,
        "{m:?}"
    );

    // Leased: out of the queue, one active lease.
    let (st, v) = call("/api/v1/node/jobs/poll".into(), json!({"limit": 1})).await;
    assert_eq!((st, &v["data"]["jobs"][0]["id"]), (200, &json!(job)), "{v}");
    let m = cp_metrics(&cp).await;
    assert_eq!(m[r#"infernet_cp_queue_depth{model="m:1"}"#], 0.0, "{m:?}");
    assert_eq!(m["infernet_cp_leases_active"], 1.0, "{m:?}");

    // Finished: counted by model and status, the lease gone.
    let p = format!("/api/v1/node/jobs/{job}/events");
    let evs = json!({"events": [{"event_type": "done", "data": {"text": "yo", "reason": "stop"}}]});
    assert_eq!(call(p, evs).await.0, 200);
    let p = format!("/api/v1/node/jobs/{job}/complete");
    let done = json!({"status": "completed", "result": {"type": "chat", "text": "yo"}});
    assert_eq!(call(p, done).await.0, 200);
    let m = cp_metrics(&cp).await;
    assert_eq!(
        m[r#"infernet_cp_jobs_total{model="m:1",status="completed"}"#], 1.0,
        "{m:?}"
    );
    assert_eq!(
        m[r#"infernet_cp_jobs_total{model="m:1",status="failed"}"#], 0.0,
        "{m:?}"
    );
    assert_eq!(m["infernet_cp_leases_active"], 0.0, "{m:?}");

    // A model nobody serves fails at once, and counts as failed under its name.
    let (status, _) = post(
        &format!("{}/api/chat", cp.url),
        json!({"messages": [{"role": "user", "content": "x"}], "modelName": "nope:1"}),
    )
    .await;
    assert_eq!(status, 503);
    let m = cp_metrics(&cp).await;
    assert_eq!(
        m[r#"infernet_cp_jobs_total{model="nope:1",status="failed"}"#], 1.0,
        "{m:?}"
    );

    // Readers that left are no longer counted (noticed at the next keep-alive at the latest).
    drop((reader, page));
    metric_is(&cp, r#"infernet_cp_sse_readers{stream="chat"}"#, 0.0).await;
    metric_is(&cp, r#"infernet_cp_sse_readers{stream="status"}"#, 0.0).await;

    // An offline heartbeat: the node counts as offline and serves nothing.
    let (st, v) = call(
        "/api/v1/node/heartbeat".into(),
        json!({"role": "provider", "status": "offline"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let m = cp_metrics(&cp).await;
    assert_eq!(m[r#"infernet_cp_nodes{state="online"}"#], 0.0, "{m:?}");
    assert_eq!(m[r#"infernet_cp_nodes{state="offline"}"#], 1.0, "{m:?}");
    assert!(
        !m.contains_key(r#"infernet_cp_model_nodes{model="m:1"}"#),
        "{m:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_queue_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    metrics_follow_the_queue(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_queue_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    metrics_follow_the_queue(db).await;
}

/// Two replicas on one PostgreSQL behave as one control plane: a node long-polling replica A
/// wakes at once for a job created through replica B (NOTIFY, not its poll timeout), and a
/// client following the job on A sees every event the node posts through B, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_postgres_share_work_and_events() {
    let Some(db) = postgres_db().await else {
        return;
    };
    let a = ControlPlane::start(&db, &[], &[]);
    let b = ControlPlane::start(&db, &[], &[]);
    let k = key(31);
    let call = |cp: &ControlPlane, path: String, body: Value| {
        let (bytes, h) = signed(&k, &path, &body);
        let url = cp.url.clone();
        async move {
            let r = http()
                .post(format!("{url}{path}"))
                .header("content-type", "application/json")
                .header(auth::HEADER, h)
                .body(bytes)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let reg = json!({"role": "provider", "node_id": "provider-replicas", "name": "replicas",
                     "specs": {"served_models": ["m:1"]}});
    assert_eq!(call(&b, "/api/v1/node/register".into(), reg).await.0, 200);

    // The node waits on A (up to 20 s); the job is created on B.
    let poll = tokio::spawn(call(
        &a,
        "/api/v1/node/jobs/poll".into(),
        json!({"limit": 1, "wait_ms": 20_000}),
    ));
    // The poll is waiting on A before the job exists.
    eventually(
        "the node's long poll waits on A",
        Duration::from_secs(10),
        || async {
            let m = cp_metrics(&a).await;
            (m.get("infernet_cp_node_polls_waiting") == Some(&1.0)).then_some(())
        },
    )
    .await;
    let asked = Instant::now();
    let job = chat(&b, "m:1", "hello replicas", 4).await;
    let (st, v) = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("A's long poll woke for B's job")
        .unwrap();
    assert_eq!((st, &v["data"]["jobs"][0]["id"]), (200, &json!(job)), "{v}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "woken by the other replica, not by the poll's timeout: {:?}",
        asked.elapsed()
    );

    // A client follows on A while the node posts through B.
    let url = format!("{}/api/chat/stream/{job}", a.url);
    let reader =
        tokio::spawn(async move { read_sse(&url, None, Duration::from_secs(30), |_| {}).await });
    let p = format!("/api/v1/node/jobs/{job}/events");
    for word in ["one ", "two ", "three"] {
        let evs = json!({"events": [{"event_type": "token", "data": {"text": word}}]});
        assert_eq!(call(&b, p.clone(), evs).await.0, 200);
    }
    let evs = json!({"events": [{"event_type": "done", "data": {"text": "one two three", "reason": "stop"}}]});
    assert_eq!(call(&b, p.clone(), evs).await.0, 200);
    let frames = reader.await.unwrap();
    let ids: Vec<i64> = frames.iter().filter_map(|f| f.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "in order, no repeats: {frames:?}");
    let tokens: String = frames
        .iter()
        .filter(|f| f.event == "token")
        .map(|f| f.data["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(tokens, "one two three", "{frames:?}");
    assert_eq!(frames.last().map(|f| f.event.as_str()), Some("done"));
    let p = format!("/api/v1/node/jobs/{job}/complete");
    let done = json!({"status": "completed", "result": {"type": "chat", "text": "one two three"}});
    assert_eq!(call(&b, p, done).await.0, 200);
    let j = a.chat_finished(&job).await;
    assert_eq!(j["status"], "completed", "{j}");
}

/// PostgreSQL restarted under a running control plane: during the outage requests fail fast
/// with 503 and `Retry-After` (readiness too, liveness stays up); afterwards the same process
/// serves again, on new connections, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_is_a_503_then_recovered_without_a_restart() {
    let Some(pg) = OwnPostgres::new() else {
        return;
    };
    let cp = ControlPlane::start(&Db::Postgres(pg.url()), &[], &[]);
    let peers = format!("{}/api/peers", cp.url);
    let ready = format!("{}/api/ready", cp.url);
    let health = format!("{}/api/health", cp.url);
    assert_eq!(http().get(&peers).send().await.unwrap().status(), 200);
    assert_eq!(http().get(&ready).send().await.unwrap().status(), 200);

    pg.stop();
    let asked = Instant::now();
    let r = http().get(&peers).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("database unavailable"),
        "{body}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        asked.elapsed()
    );
    let r = http().get(&ready).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(http().get(&health).send().await.unwrap().status(), 200);

    pg.start();
    eventually(
        "served again after the restart",
        Duration::from_secs(30),
        || async {
            let ok = http().get(&peers).send().await.ok()?.status() == 200;
            ok.then_some(())
        },
    )
    .await;
    assert_eq!(http().get(&ready).send().await.unwrap().status(), 200);
    // Writes go through on the new connections too: a node registers.
    let reg = json!({"role": "provider", "node_id": "provider-after-restart", "name": "after",
                     "specs": {"served_models": ["m:1"]}});
    let (body, h) = signed(&key(41), "/api/v1/node/register", &reg);
    let (st, v) = node_call(&cp, "/api/v1/node/register", &body, Some(&h)).await;
    assert_eq!(st, 200, "{v}");
}

/// A stand-in for an LLM server (a real one cannot be made to hang on cue) serving `stall:1`:
/// its first `stalls` answers send one token ("hel") and then nothing more; later ones
/// answer "hello world" at once.
struct StandIn {
    url: String,
    /// Chat requests received.
    calls: Arc<AtomicUsize>,
    /// Stalled answers the client gave up (their connection dropped).
    dropped: Arc<AtomicUsize>,
}

/// Counts a stalled answer given up when its body is dropped.
struct Gone(Arc<AtomicUsize>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn chunk(content: &str, finish: Option<&str>) -> bytes::Bytes {
    let c = json!({"id": "s", "object": "chat.completion.chunk", "model": "stall:1",
                   "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]});
    bytes::Bytes::from(format!("data: {c}\n\n"))
}

async fn stand_in_backend(stalls: usize) -> StandIn {
    use axum::response::IntoResponse;
    use futures::StreamExt;
    let calls = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (c, d) = (calls.clone(), dropped.clone());
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(|| async {
                axum::Json(
                    json!({"object": "list", "data": [{"id": "stall:1", "object": "model"}]}),
                )
            }),
        )
        .route(
            "/v1/chat/completions",
            axum::routing::post(move || {
                let n = c.fetch_add(1, Ordering::SeqCst);
                let d = d.clone();
                async move {
                    type Chunks = futures::stream::BoxStream<
                        'static,
                        Result<bytes::Bytes, std::convert::Infallible>,
                    >;
                    let body: Chunks = if n < stalls {
                        let first = futures::stream::iter([Ok(chunk("hel", None))]);
                        // Then only SSE comments (no tokens) for ever, so a client that
                        // leaves is noticed (a write fails) and the body, with `gone`, dropped.
                        // (The stand-in's keep-alive cadence, as a real server's; no test
                        // waits on it.)
                        let every = tokio::time::interval(Duration::from_millis(100));
                        let rest = futures::stream::unfold(
                            (Gone(d), every),
                            |(gone, mut every)| async move {
                                every.tick().await;
                                Some((
                                    Ok(bytes::Bytes::from_static(b": stalled\n\n")),
                                    (gone, every),
                                ))
                            },
                        );
                        first.chain(rest).boxed()
                    } else {
                        let done = bytes::Bytes::from_static(b"data: [DONE]\n\n");
                        futures::stream::iter([
                            Ok(chunk("hel", None)),
                            Ok(chunk("lo world", None)),
                            Ok(chunk("", Some("stop"))),
                            Ok(done),
                        ])
                        .boxed()
                    };
                    (
                        [("content-type", "text/event-stream")],
                        axum::body::Body::from_stream(body),
                    )
                        .into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn {
        url,
        calls,
        dropped,
    }
}

/// Waits (bounded) until the control plane counts one node serving `stall:1`.
async fn serving_stall(cp: &ControlPlane) {
    eventually(
        "the node serves stall:1",
        Duration::from_secs(30),
        || async {
            let m = cp_metrics(cp).await;
            (m.get(r#"infernet_cp_model_nodes{model="stall:1"}"#) == Some(&1.0)).then_some(())
        },
    )
    .await;
}

/// A backend stream that stalls is given up after `jobs.stream_idle_timeout`: the job fails
/// with the reason instead of holding its lease for ever while the node keeps beating.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_backend_stream_fails_the_job_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &[], &[]);
    let backend = stand_in_backend(usize::MAX).await;
    let home = node_home(
        "stalling",
        &cp.url,
        json!([{"id": "stall", "kind": "openai", "url": backend.url}]),
    );
    let cfg_path = home.path().join("infernet/config.json");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["jobs"]["stream_idle_timeout"] = json!(1.5);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let _node = Node::start_in("stalling", home);
    cp.wait_peers(&["stalling"], Duration::from_secs(30)).await;
    serving_stall(&cp).await;
    let asked = Instant::now();
    let job = chat(&cp, "stall:1", "hello?", 16).await;
    let st = final_status(&cp, &job).await;
    assert_eq!(st["status"], "failed", "{st}");
    let err = st["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("stalled stream") && err.contains("stream_idle_timeout"),
        "{st}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "given up after the idle timeout, not the lease: {:?}",
        asked.elapsed()
    );
}

/// A node whose lease ran out while it was still running the job (it went quiet: its
/// backend stalled, and its heartbeats are too far apart to renew the lease) is handed the
/// job again by its next poll. It gives up the old run and starts over, and the reader gets
/// one coherent text from attempt 2; nothing the old run sends is stored under the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_leased_again_to_the_same_node_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &["--lease-secs", "2"], &[]);
    let backend = stand_in_backend(1).await;
    let home = node_home_with(
        "relapse",
        &cp.url,
        json!([{"id": "stall", "kind": "openai", "url": backend.url}]),
        json!({"heartbeat_interval": 60}),
    );
    let _node = Node::start_in("relapse", home);
    cp.wait_peers(&["relapse"], Duration::from_secs(30)).await;
    serving_stall(&cp).await;
    let job = chat(&cp, "stall:1", "hello?", 16).await;
    let url = format!("{}/api/chat/stream/{job}", cp.url);
    let reader =
        tokio::spawn(async move { read_sse(&url, None, Duration::from_secs(60), |_| {}).await });
    let st = final_status(&cp, &job).await;
    assert_eq!(
        (st["status"].as_str(), st["attempt"].as_i64()),
        (Some("completed"), Some(2)),
        "re-leased once and completed by the restarted run: {st}"
    );
    let frames = reader.await.unwrap();
    assert!(
        !frames.iter().any(|f| f.event == "error"),
        "one coherent stream: {frames:?}"
    );
    assert_eq!(done_text(&frames), "hello world");
    let streamed: String = frames
        .iter()
        .filter(|f| f.event == "token")
        .filter_map(|f| f.data["text"].as_str())
        .collect();
    assert_eq!(streamed, "hello world", "{frames:?}");
    // As stored for attempt 2 (what a reader from the start gets now): the restarted run's
    // events from its first token, none of the old run's.
    let url = format!("{}/api/chat/stream/{job}?reset=1", cp.url);
    let all = read_sse(&url, None, Duration::from_secs(10), |_| {}).await;
    assert_eq!(text_after_reset(&all), "hello world", "{all:?}");
    assert_eq!(
        all.iter().filter(|f| f.event == "meta").count(),
        1,
        "{all:?}"
    );
    assert_eq!(all.iter().filter(|f| f.event == "done").count(), 1);
    // The backend saw both runs, and the first one was given up (not left streaming).
    assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
    eventually(
        "the stalled run's request is dropped",
        Duration::from_secs(10),
        || async { (backend.dropped.load(Ordering::SeqCst) == 1).then_some(()) },
    )
    .await;
}

/// The node tier by hand: after a job's lease ran out and the same node claimed it again,
/// what that node sends for its first attempt is refused (409, saying why) and nothing of it
/// is stored; attempt 2's events and outcome are taken. A report naming no attempt (the
/// reference's nodes) is taken from the holder as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_for_a_superseded_attempt_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &["--lease-secs", "1"], &[]);
    let k = key(7);
    let call = |path: String, body: Value| {
        let cp = &cp;
        async move {
            let (b, h) = signed(&k, &path, &body);
            node_call(cp, &path, &b, Some(&h)).await
        }
    };
    let reg = json!({"role": "provider", "node_id": "provider-relapse", "name": "relapse",
                     "specs": {"served_models": ["m:1"], "load": {"concurrency_cap": 2}}});
    let (st, v) = call("/api/v1/node/register".into(), reg).await;
    assert_eq!(st, 200, "{v}");
    let job = chat(&cp, "m:1", "hi", 4).await;
    let poll = || call("/api/v1/node/jobs/poll".into(), json!({"limit": 1}));
    let (_, v) = poll().await;
    assert_eq!(v["data"]["jobs"][0]["attempt"], 1, "{v}");
    // Silent past its lease: re-queued, then leased again to the same node.
    status_when(&cp, &job, |s| s == "pending").await;
    let (_, v) = poll().await;
    assert_eq!(
        (
            &v["data"]["jobs"][0]["id"],
            &v["data"]["jobs"][0]["attempt"]
        ),
        (&json!(job), &json!(2)),
        "{v}"
    );
    let events = format!("/api/v1/node/jobs/{job}/events");
    let token = |text: &str, attempt: i64| {
        json!({"events": [{"event_type": "token", "data": {"text": text}}],
               "first_seq": 0, "attempt": attempt})
    };
    let (st, v) = call(events.clone(), token("stale", 1)).await;
    assert_eq!(st, 409, "{v}");
    let why = v["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("attempt 2") && why.contains("earlier attempt"),
        "{v}"
    );
    let complete = format!("/api/v1/node/jobs/{job}/complete");
    let outcome = |attempt: i64| {
        json!({"status": "completed", "result": {"type": "chat", "text": "fresh"},
               "attempt": attempt})
    };
    let (st, v) = call(complete.clone(), outcome(1)).await;
    assert_eq!(st, 409, "{v}");
    let (st, v) = call(events.clone(), token("fresh", 2)).await;
    assert_eq!((st, &v["data"]["inserted"]), (200, &json!(1)), "{v}");
    // No attempt named: the holder's, as the reference's nodes send it.
    let plain = json!({"events": [{"event_type": "meta", "data": {"provider_name": "relapse"}}]});
    let (st, v) = call(events, plain).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(complete, outcome(2)).await;
    assert_eq!(
        (st, &v["data"]["status"]),
        (200, &json!("completed")),
        "{v}"
    );
    // Stored for attempt 2: the fresh token only.
    let url = format!("{}/api/chat/stream/{job}?reset=1", cp.url);
    let all = read_sse(&url, None, Duration::from_secs(10), |_| {}).await;
    assert_eq!(text_after_reset(&all), "fresh", "{all:?}");
    assert!(!all.iter().any(|f| f.data["text"] == "stale"), "{all:?}");
}
