//! Client keys, request limits and the user tier on a real control plane (`infernet
//! control-plane serve`, SQLite and PostgreSQL) with a real node (`infernet start
//! --foreground`, stub backend), driven by the real CLI: `control-plane keys`, `pubkey link`,
//! `node-command`; and the official `openai` Python client with a key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::control::{ControlPlane, Db, Node, node_home, postgres_db};
use common::http;
use infernet::backend::STUB_MODEL;
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;

const ADMIN: &str = "admin-token-for-tests";

fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::Sqlite(dir.path().join("cp.db"))
}

fn cli(home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = common::infernet_cmd(home);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `POST /api/chat` with an optional bearer: status, Retry-After, body.
async fn chat(cp: &ControlPlane, bearer: Option<&str>) -> (u16, Option<u64>, Value) {
    let mut r = http().post(format!("{}/api/chat", cp.url)).json(
        &json!({"messages": [{"role": "user", "content": "hello there"}], "modelName": STUB_MODEL}),
    );
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

fn keys_list(cp: &ControlPlane, home: &std::path::Path) -> Vec<Value> {
    let out = cli(
        home,
        &["control-plane", "keys", "list", "--json", "--url", &cp.url],
        &[("INFERNET_ADMIN_TOKEN", ADMIN)],
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    v["data"].as_array().unwrap().clone()
}

/// Anonymous clients get the anonymous limit (429 with Retry-After beyond it, kept across a
/// restart); a key has its own limit and usage (requests, tokens), is debited in the ledger,
/// and stops working when revoked; a bearer that is not one of our keys is anonymous, and
/// an unknown key of ours is refused.
async fn keys_and_limits(db: Db) {
    let env = [("INFERNET_ADMIN_TOKEN", ADMIN)];
    let mut cp = ControlPlane::start(&db, &["--anonymous-per-hour", "2"], &env);
    let node = Node::start(
        "keyed-node",
        &cp.url,
        json!([{"id": "stub", "kind": "stub"}]),
    );
    cp.wait_peers(&["keyed-node"], Duration::from_secs(30))
        .await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    for _ in 0..2 {
        let (s, _, v) = chat(&cp, None).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, retry, v) = chat(&cp, None).await;
    assert_eq!(s, 429, "{v}");
    // 2 an hour: the next one in about 30 minutes.
    let retry = retry.expect("Retry-After");
    assert!((1700..=1800).contains(&retry), "{retry}");
    assert!(
        v["error"].as_str().unwrap().contains("2 requests an hour"),
        "{v}"
    );
    // An SDK's placeholder key is not ours: still anonymous, still limited.
    assert_eq!(chat(&cp, Some("sk-placeholder")).await.0, 429);
    // One of ours that was never issued is refused outright.
    let (s, _, v) = chat(&cp, Some("ifn_0000")).await;
    assert_eq!(s, 401, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("unknown API key"),
        "{v}"
    );

    // Keys need the admin token.
    let out = cli(h, &["control-plane", "keys", "list", "--url", &cp.url], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        h,
        &[
            "control-plane",
            "keys",
            "create",
            "--name",
            "ci",
            "--per-hour",
            "2",
            "--url",
            &cp.url,
        ],
        &env,
    );
    let key = ok(&out).trim().to_string();
    assert!(key.starts_with("ifn_") && key.len() == 68, "{key}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only now"));

    let (s, _, v) = chat(&cp, Some(&key)).await;
    assert_eq!(s, 200, "{v}");
    let st = cp.chat_finished(v["jobId"].as_str().unwrap()).await;
    assert_eq!(st["status"], "completed", "{st}");
    // The client job API counts against the same key.
    let r = http()
        .post(format!("{}/api/v1/jobs", cp.url))
        .bearer_auth(&key)
        .json(&json!({"prompt": "hi", "model": STUB_MODEL}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, retry, _) = chat(&cp, Some(&key)).await;
    assert_eq!(s, 429);
    assert!(retry.unwrap() > 0);

    let rows = keys_list(&cp, h);
    assert_eq!(rows.len(), 1);
    let k = &rows[0];
    assert_eq!(
        (&k["name"], &k["per_hour"], &k["requests"]),
        (&json!("ci"), &json!(2), &json!(2)),
        "{k}"
    );
    assert!(key.starts_with(k["prefix"].as_str().unwrap()));
    // Tokens land with each completed job's ledger row.
    let id = k["id"].as_str().unwrap().to_string();
    common::eventually("the key's tokens", Duration::from_secs(30), || {
        let (cp, h) = (&cp, h);
        async move { (keys_list(cp, h)[0]["tokens"].as_u64().unwrap() > 0).then_some(()) }
    })
    .await;
    // The ledger debits the key.
    let v: Value =
        serde_json::from_str(&ok(&cli(node.dir(), &["payments", "--json"], &[]))).unwrap();
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["client_id"] == format!("key:{id}")),
        "{v}"
    );
    let text = ok(&cli(
        h,
        &["control-plane", "keys", "list", "--url", &cp.url],
        &env,
    ));
    assert!(
        text.contains(&id) && text.contains("active") && text.contains("requests=2"),
        "{text}"
    );

    // Limits live in the database: a restart does not hand out a fresh allowance.
    cp.kill();
    let cp = ControlPlane::start(&db, &["--anonymous-per-hour", "2"], &env);
    assert_eq!(chat(&cp, None).await.0, 429);
    assert_eq!(chat(&cp, Some(&key)).await.0, 429);

    let out = cli(
        h,
        &["control-plane", "keys", "revoke", &id, "--url", &cp.url],
        &env,
    );
    assert!(ok(&out).contains("revoked"));
    let (s, _, v) = chat(&cp, Some(&key)).await;
    assert_eq!(s, 401);
    assert!(v["error"].as_str().unwrap().contains("revoked"), "{v}");
    let out = cli(
        h,
        &[
            "control-plane",
            "keys",
            "revoke",
            "key_nope",
            "--url",
            &cp.url,
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key 'key_nope'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_limits_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_limits(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_limits_postgres() {
    if let Some(db) = postgres_db().await {
        keys_and_limits(db).await;
    }
}

/// With anonymous access off, a request without a key is told to get one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_access_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&sqlite(&dir), &["--anonymous-per-hour", "0"], &[]);
    let (s, retry, v) = chat(&cp, None).await;
    assert_eq!((s, retry), (401, None), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("needs an API key"),
        "{v}"
    );
}

/// `infernet pubkey link` proves the node key and makes an account (its token in the secret
/// store); that account then sends commands to its node without the admin token, and cannot
/// touch another account's node; linking a key another account holds is refused.
async fn user_tier(db: Db) {
    let env = [("INFERNET_ADMIN_TOKEN", ADMIN)];
    let cp = ControlPlane::start(&db, &[], &env);
    let stub = json!([{"id": "stub", "kind": "stub"}]);
    let a = node_home("node-a", &cp.url, stub.clone());
    let b = node_home("node-b", &cp.url, stub);
    for n in [&a, &b] {
        ok(&cli(n.path(), &["register"], &[]));
    }
    let key_a = ok(&cli(a.path(), &["pubkey", "show"], &[]))
        .trim()
        .to_string();
    assert_eq!(key_a.len(), 64);

    // No account yet: a command needs one.
    let out = cli(a.path(), &["node-command", "install", "m:1b"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("infernet pubkey link"));

    let text = ok(&cli(
        a.path(),
        &["pubkey", "link", "--label", "rig one"],
        &[],
    ));
    assert!(
        text.starts_with(&format!("linked: node key {key_a} (provider)")),
        "{text}"
    );
    assert!(text.contains("control_plane.user_token"), "{text}");
    // Again: the same account, nothing new.
    let v: Value =
        serde_json::from_str(&ok(&cli(a.path(), &["pubkey", "link", "--json"], &[]))).unwrap();
    assert_eq!(
        (&v["created"], &v["label"], &v["pubkey"]),
        (&json!(false), &json!("rig one"), &json!(key_a)),
        "{v}"
    );
    assert!(v.get("token").is_none(), "{v}");

    let out = ok(&cli(a.path(), &["node-command", "install", "m:1b"], &[]));
    assert!(out.starts_with("queued model_install m:1b"), "{out}");
    let v: Value = serde_json::from_str(&ok(&cli(
        a.path(),
        &["node-command", "list", "--json"],
        &[],
    )))
    .unwrap();
    let rows = v["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(
        (&rows[0]["command"], &rows[0]["args"]["model"]),
        (&json!("model_install"), &json!("m:1b"))
    );

    // Node b's own account may not command node a.
    ok(&cli(b.path(), &["pubkey", "link"], &[]));
    let out = cli(b.path(), &["node-command", "list", "--node", &key_a], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not hold node key"),
        "{out:?}"
    );
    // Without any token the endpoint is the operator's.
    let r = http()
        .get(format!("{}/api/v1/user/nodes/{key_a}/commands", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .get(format!("{}/api/v1/user/nodes/{key_a}/commands", cp.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Node a, having lost its token, cannot take its key into a new account.
    ok(&cli(
        a.path(),
        &["secret", "remove", "control_plane.user_token"],
        &[],
    ));
    let out = cli(a.path(), &["pubkey", "link"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already linked to an account"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tier_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    user_tier(sqlite(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tier_postgres() {
    if let Some(db) = postgres_db().await {
        user_tier(db).await;
    }
}

/// The official `openai` Python client with a key works; without one, past the anonymous
/// limit, it gets 429 with Retry-After (its RateLimitError).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_client_with_a_key() {
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
    let dir = tempfile::tempdir().unwrap();
    let env = [("INFERNET_ADMIN_TOKEN", ADMIN)];
    let cp = ControlPlane::start(&sqlite(&dir), &["--anonymous-per-hour", "1"], &env);
    let _n = Node::start(
        "oai-key-node",
        &cp.url,
        json!([{"id": "stub", "kind": "stub"}]),
    );
    cp.wait_peers(&["oai-key-node"], Duration::from_secs(30))
        .await;
    let key = ok(&cli(
        dir.path(),
        &["control-plane", "keys", "create", "--url", &cp.url],
        &env,
    ))
    .trim()
    .to_string();
    let script = r#"
import json, os, openai
base = os.environ["CP"] + "/v1"
model = os.environ["MODEL"]
msg = [{"role": "user", "content": "hello"}]
keyed = openai.OpenAI(base_url=base, api_key=os.environ["KEY"], max_retries=0)
texts = [keyed.chat.completions.create(model=model, messages=msg).choices[0].message.content for _ in range(3)]
anon = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
first = anon.chat.completions.create(model=model, messages=msg).choices[0].message.content
try:
    anon.chat.completions.create(model=model, messages=msg)
    limited = None
except openai.RateLimitError as e:
    limited = {"status": e.status_code, "retry_after": e.response.headers.get("retry-after"), "body": e.body}
bad = openai.OpenAI(base_url=base, api_key="ifn_revoked_or_unknown", max_retries=0)
try:
    bad.chat.completions.create(model=model, messages=msg)
    denied = None
except openai.AuthenticationError as e:
    denied = e.status_code
print(json.dumps({"texts": texts, "first": first, "limited": limited, "denied": denied}))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .env("CP", &cp.url)
        .env("KEY", &key)
        .env("MODEL", STUB_MODEL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["texts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t.as_str().unwrap().is_empty()),
        "{v}"
    );
    assert!(!v["first"].as_str().unwrap().is_empty(), "{v}");
    let l = &v["limited"];
    assert_eq!(l["status"], 429, "{v}");
    assert!(
        l["retry_after"].as_str().unwrap().parse::<u64>().unwrap() > 3000,
        "{v}"
    );
    assert_eq!(l["body"]["code"], "rate_limit_exceeded", "{v}");
    assert_eq!(v["denied"], 401, "{v}");
}
