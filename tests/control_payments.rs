//! Payouts, the payments ledger and JSON errors on a real control plane (`infernet
//! control-plane serve`, SQLite and PostgreSQL) with a real node (`infernet start
//! --foreground`, stub backend) and the real `infernet payout` / `infernet payments` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::control::{ControlPlane, Db, node_home, postgres_db};
use common::http;
use infernet::backend::{STUB_MODEL, stub_reply};
use infernet::control::auth;
use serde_json::{Value, json};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

/// EIP-55's first example, and the same address with one letter's case flipped.
const ETH_ADDR: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const ETH_BAD: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
const BTC_ADDR: &str = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";

fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::Sqlite(dir.path().join("cp.db"))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn key(n: u8) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[31] = n;
    k[0] = 0x42;
    k
}

/// A signed node-tier call with `key`: status and JSON answer.
async fn signed(cp: &ControlPlane, key: &[u8; 32], path: &str, body: Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(&body).unwrap();
    let h = auth::sign(key, "POST", path, &bytes, now_s()).unwrap();
    let r = http()
        .post(format!("{}{path}", cp.url))
        .header("content-type", "application/json")
        .header(auth::HEADER, h)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `infernet ARGS` with the node's config dir.
fn cli(home: &std::path::Path, args: &[&str]) -> Output {
    common::infernet_cmd(home).args(args).output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A chat job through `/api/chat`, waited on until it is final; its status body.
async fn chat_done(cp: &ControlPlane, model: &str, prompt: &str) -> Value {
    let r = http()
        .post(format!("{}/api/chat", cp.url))
        .json(
            &json!({"messages": [{"role": "user", "content": prompt}], "modelName": model,
                      "maxTokens": 256}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let id = v["jobId"].as_str().unwrap().to_string();
    cp.chat_finished(&id).await
}

/// A node process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// A real node (stub backend) advertising a price: each completed job adds one pending
/// outbound ledger row priced from its tokens, paid to the default payout address; the CLI
/// sets, lists and removes addresses (refusing a bad one before any call) and shows the
/// ledger.
async fn ledger_from_a_real_node(db: Db) {
    let cp = ControlPlane::start(&db, &[], &[]);
    let home = node_home(
        "paid-node",
        &cp.url,
        json!([{"id": "stub", "kind": "stub"}]),
    );
    let cfg_path = home.path().join("infernet/config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["control_plane"]["price"] = json!(0.25);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let _node = Running(
        common::infernet_cmd(home.path())
            .args(["start", "--foreground"])
            .env_remove("INFERNET_DAEMON_FOREGROUND")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    cp.wait_peers(&["paid-node"], Duration::from_secs(30)).await;
    let h = home.path();

    // No payout address yet: the row has none.
    let prompt = "price this job";
    let st = chat_done(&cp, STUB_MODEL, prompt).await;
    assert_eq!(st["status"], "completed", "{st}");
    // The stub streams one token event per word and reports no usage.
    let tokens = stub_reply(prompt).split_inclusive(' ').count() as f64;
    let v = stdout_json(&cli(h, &["payments", "--json"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    let r = &rows[0];
    assert_eq!(
        (&r["direction"], &r["status"], &r["job_id"]),
        (&json!("outbound"), &json!("pending"), &st["id"]),
        "{r}"
    );
    assert!(
        close(r["amount_usd"].as_f64().unwrap(), 0.25 * tokens / 1000.0),
        "{r} for {tokens} tokens"
    );
    assert_eq!(r["metadata"]["tokens_source"], "token_events");
    assert_eq!(r["metadata"]["tokens"], json!(tokens as u64));
    assert_eq!(r["metadata"]["price"], "0.25");
    assert!(r["address"].is_null() && r["coin"].is_null() && r["provider_gateway"].is_null());
    assert_eq!(r["client_id"], "127.0.0.1");
    // The job's signed receipt carries the same amount.
    let receipt = cp
        .get(&format!("/api/v1/receipts/{}", st["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        receipt["amount"].as_str().unwrap().parse::<f64>().unwrap(),
        r["amount_usd"].as_f64().unwrap(),
        "{receipt}"
    );
    assert_eq!(receipt["currency"], "USD");

    // Payout addresses from the CLI; a bad one exits 2 before any call and stores nothing.
    let out = cli(h, &["payout", "set", "ETH", "ethereum", ETH_BAD]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "'{ETH_BAD}' is not a valid ethereum address: EIP-55 checksum mismatch"
        )),
        "{err}"
    );
    let out = cli(h, &["payout", "set", "USDT", "bitcoin", BTC_ADDR]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("USDT is not on network 'bitcoin' (expected ethereum, polygon or solana)")
    );
    let v = stdout_json(&cli(h, &["payout", "list", "--json"]));
    assert_eq!(v["rows"], json!([]));
    let out = cli(h, &["payout", "set", "ETH", "ethereum", ETH_ADDR]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(default)"));
    let out = cli(h, &["payout", "set", "btc", "Bitcoin", BTC_ADDR]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&cli(h, &["payout", "list", "--json"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(
        (
            &rows[0]["coin"],
            &rows[0]["address"],
            &rows[0]["is_default"]
        ),
        (&json!("ETH"), &json!(ETH_ADDR), &json!(true))
    );
    assert_eq!(
        (&rows[1]["coin"], &rows[1]["is_default"]),
        (&json!("BTC"), &json!(false))
    );
    let out = cli(h, &["payout", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("* ETH") && l.ends_with(ETH_ADDR)),
        "{text}"
    );

    // The next job is paid to the default address.
    let st = chat_done(&cp, STUB_MODEL, "second").await;
    assert_eq!(st["status"], "completed");
    let v = stdout_json(&cli(h, &["payments", "--json", "--limit", "1"]));
    let r = &v["rows"][0];
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&r["job_id"], &r["coin"], &r["network"], &r["address"]),
        (
            &st["id"],
            &json!("ETH"),
            &json!("ethereum"),
            &json!(ETH_ADDR)
        ),
        "{r}"
    );
    let out = cli(h, &["payments"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("CREATED") && text.contains("outbound"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("total pending: $0.0"),
        "{text}"
    );

    // Removing the default promotes the other address.
    let out = cli(h, &["payout", "remove", "ETH", "ethereum"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1 ETH"));
    let v = stdout_json(&cli(h, &["payout", "list", "--json"]));
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&v["rows"][0]["coin"], &v["rows"][0]["is_default"]),
        (&json!("BTC"), &json!(true))
    );

    // An unreachable control plane: exit 1 with the reason.
    let out = cli(h, &["payments", "--url", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_from_a_real_node_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    ledger_from_a_real_node(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_from_a_real_node_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    ledger_from_a_real_node(db).await;
}

/// The node tier by hand: the server checks addresses too (400, nothing stored), the first
/// address is the default and `default: true` demotes it; a job's `done` usage prices it;
/// a repeated complete adds no second row; aggregators and unknown nodes get no rows.
async fn ledger_over_the_node_tier(db: Db) {
    let cp = ControlPlane::start(&db, &[], &[]);
    let k = key(7);
    let (st, v) = signed(&cp, &k, "/api/v1/node/payouts/list", json!({})).await;
    assert_eq!(st, 404, "not registered yet: {v}");
    let reg = json!({"role": "provider", "node_id": "provider-ledger", "name": "ledger",
                     "price": "0.10", "specs": {"served_models": ["m:1"]}});
    assert_eq!(signed(&cp, &k, "/api/v1/node/register", reg).await.0, 200);

    let set = "/api/v1/node/payouts/set";
    let (st, v) = signed(
        &cp,
        &k,
        set,
        json!({"coin": "ETH", "network": "ethereum", "address": ETH_BAD}),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        v["error"],
        format!("'{ETH_BAD}' is not a valid ethereum address: EIP-55 checksum mismatch")
    );
    let (st, v) = signed(
        &cp,
        &k,
        set,
        json!({"coin": "XYZ", "network": "ethereum", "address": ETH_ADDR}),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown coin 'XYZ' (expected one of BTC, ")
    );
    let (_, v) = signed(&cp, &k, "/api/v1/node/payouts/list", json!({})).await;
    assert_eq!(v["data"]["rows"], json!([]));
    let (st, v) = signed(
        &cp,
        &k,
        set,
        json!({"coin": "eth", "network": "ethereum", "address": ETH_ADDR}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let first = v["data"]["row"].clone();
    assert_eq!(
        (&first["coin"], &first["is_default"]),
        (&json!("ETH"), &json!(true))
    );
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    // The same address again: an update, not a second row.
    let (_, v) = signed(
        &cp,
        &k,
        set,
        json!({"coin": "ETH", "network": "ethereum", "address": ETH_ADDR}),
    )
    .await;
    assert_eq!(v["data"]["row"]["id"], first["id"]);
    let (_, v) = signed(
        &cp,
        &k,
        set,
        json!({"coin": "BTC", "network": "bitcoin", "address": BTC_ADDR, "default": true}),
    )
    .await;
    assert_eq!(v["data"]["row"]["is_default"], true);
    let (_, v) = signed(&cp, &k, "/api/v1/node/payouts/list", json!({})).await;
    let rows = v["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["coin"], &rows[0]["is_default"]),
        (&json!("BTC"), &json!(true))
    );
    assert_eq!(
        (&rows[1]["coin"], &rows[1]["is_default"]),
        (&json!("ETH"), &json!(false))
    );
    let (_, v) = signed(
        &cp,
        &k,
        "/api/v1/node/payouts/remove",
        json!({"coin": "SOL", "network": "solana"}),
    )
    .await;
    assert_eq!(v["data"], json!({"deleted": 0}));

    // A job by hand: its done usage prices it (0.10 USD per 1k × 37 tokens).
    let r = http()
        .post(format!("{}/api/chat", cp.url))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}], "modelName": "m:1"}))
        .send()
        .await
        .unwrap();
    let job = r.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, v) = signed(&cp, &k, "/api/v1/node/jobs/poll", json!({"limit": 1})).await;
    assert_eq!(v["data"]["jobs"][0]["id"], json!(job));
    let evs = json!({"events": [{"event_type": "token", "data": {"text": "yo"}},
        {"event_type": "done", "data": {"text": "yo", "reason": "stop",
         "usage": {"prompt_tokens": 12, "completion_tokens": 25}}}]});
    let p = format!("/api/v1/node/jobs/{job}/events");
    assert_eq!(signed(&cp, &k, &p, evs).await.0, 200);
    let p = format!("/api/v1/node/jobs/{job}/complete");
    let done = json!({"status": "completed", "result": {"type": "chat", "text": "yo"}});
    let (_, v) = signed(&cp, &k, &p, done.clone()).await;
    assert_eq!(v["data"]["status"], "completed");
    let (_, v) = signed(&cp, &k, &p, done).await;
    assert_eq!(v["data"]["noop"], true);
    let list = "/api/v1/node/payments/list";
    let (st, v) = signed(&cp, &k, list, json!({"role": "provider"})).await;
    assert_eq!(st, 200, "{v}");
    let rows = v["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "a repeated complete adds no row: {v}");
    let r = &rows[0];
    assert!(close(r["amount_usd"].as_f64().unwrap(), 0.0037), "{r}");
    assert_eq!(r["metadata"]["tokens_source"], "usage");
    assert_eq!(
        (
            &r["metadata"]["prompt_tokens"],
            &r["metadata"]["completion_tokens"]
        ),
        (&json!(12), &json!(25))
    );
    assert_eq!(
        (&r["coin"], &r["network"], &r["address"]),
        (&json!("BTC"), &json!("bitcoin"), &json!(BTC_ADDR))
    );
    assert_eq!(
        (&r["status"], &r["direction"]),
        (&json!("pending"), &json!("outbound"))
    );
    assert!(r["tx_hash"].is_null() && r["invoice_id"].is_null() && r["confirmed_at"].is_null());
    // Limits and other roles.
    let (_, v) = signed(&cp, &k, list, json!({"role": "aggregator"})).await;
    assert_eq!(v["data"]["rows"], json!([]));
    let (_, v) = signed(&cp, &k, list, json!({"role": "provider", "limit": 0})).await;
    assert_eq!(
        v["data"]["rows"].as_array().unwrap().len(),
        1,
        "limit clamps to 1..100"
    );
    let (_, v) = signed(&cp, &key(8), list, json!({"role": "provider"})).await;
    assert_eq!(v["data"]["rows"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_over_the_node_tier_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    ledger_over_the_node_tier(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_over_the_node_tier_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    ledger_over_the_node_tier(db).await;
}

/// Status, content type and JSON body of a request.
async fn raw(method: reqwest::Method, url: &str) -> (u16, String, Value) {
    let r = http()
        .request(method, url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().await.unwrap_or_default();
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, ct, v)
}

/// Unknown routes and wrong methods answer JSON errors, as every other refusal does.
async fn errors_are_json(db: Db) {
    let cp = ControlPlane::start(&db, &[], &[]);
    use reqwest::Method;
    for (method, path) in [
        (Method::POST, "/api/v1/node/nonexistent"),
        (Method::GET, "/nope"),
        (Method::DELETE, "/api/v1/node/payouts/elsewhere"),
    ] {
        let (st, ct, v) = raw(method.clone(), &format!("{}{path}", cp.url)).await;
        assert_eq!(st, 404, "{method} {path}: {v}");
        assert_eq!(ct, "application/json", "{method} {path}");
        assert_eq!(v["error"], format!("not found: {method} {path}"));
    }
    for (method, path) in [
        (Method::GET, "/api/v1/node/register"),
        (Method::POST, "/api/health"),
        (Method::PUT, "/api/v1/node/me"),
        (Method::GET, "/api/v1/node/payouts/set"),
    ] {
        let (st, ct, v) = raw(method.clone(), &format!("{}{path}", cp.url)).await;
        assert_eq!(st, 405, "{method} {path}: {v}");
        assert_eq!(ct, "application/json", "{method} {path}");
        assert_eq!(v["error"], format!("method not allowed: {method} {path}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    errors_are_json(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_on_postgres() {
    let Some(db) = postgres_db().await else {
        return;
    };
    errors_are_json(db).await;
}
