//! Payouts, the payments ledger and JSON errors on a real control plane (`infernet
//! control-plane serve`, SQLite and PostgreSQL) with a real node (`infernet start
//! --foreground`, stub backend) and the real `infernet payout` / `infernet payments` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::control::{ControlPlane, Db, postgres_db};
use common::http;
use serde_json::Value;

fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::Sqlite(dir.path().join("cp.db"))
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
