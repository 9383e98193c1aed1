//! The control plane's web dashboard in a real browser: Debian's chromium, headless, against
//! a real control plane (`infernet control-plane serve`, SQLite and PostgreSQL) and a real
//! node (`infernet start --foreground`, stub backend) after real jobs ran; the login link from
//! the real `infernet dashboard login`. Assertions are on the DOM chromium rendered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::control::{ControlPlane, Db, Node, node_home_with, postgres_db};
use common::http;
use futures::StreamExt;
use infernet::backend::STUB_MODEL;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn chromium() -> Option<String> {
    match std::env::var("INFERNET_TEST_CHROMIUM") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                !common::in_ci(),
                "CI=true but INFERNET_TEST_CHROMIUM is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no chromium (run ./scripts/test.sh)");
            None
        }
    }
}

/// Chromium, headless, with its own profile; bounded by `timeout`.
fn browser(bin: &str, profile: &Path, args: &[&str]) -> Output {
    std::process::Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}

fn dom(bin: &str, profile: &Path, url: &str) -> String {
    let out = browser(bin, profile, &["--dump-dom", url]);
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PNG of the page at `url`, kept in screenshots/ when INFERNET_WRITE_SCREENSHOTS is set.
fn screenshot(bin: &str, profile: &Path, url: &str, name: &str) {
    let png = profile.join(name);
    let out = browser(
        bin,
        profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,960",
            url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "{name}"
    );
    if std::env::var_os("INFERNET_WRITE_SCREENSHOTS").is_some() {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("screenshots")
            .join(name);
        std::fs::write(dest, bytes).unwrap();
    }
}

/// The value of the card labelled `label` in rendered HTML.
fn card(html: &str, label: &str) -> String {
    let at = html
        .find(&format!("<div class=\"label\">{label}</div>"))
        .unwrap_or_else(|| panic!("no card '{label}' in {html}"));
    let rest = &html[at..];
    let v = rest.find("<div class=\"value\">").unwrap() + "<div class=\"value\">".len();
    rest[v..v + rest[v..].find('<').unwrap()].to_string()
}

fn cli(home: &Path, args: &[&str]) -> String {
    let out = common::infernet_cmd(home).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn chat(cp: &ControlPlane, model: &str) -> Value {
    let r = http()
        .post(format!("{}/api/chat", cp.url))
        .json(&json!({"messages": [{"role": "user", "content": "show me on the dashboard"}], "modelName": model}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let id = v["jobId"].as_str().unwrap().to_string();
    cp.chat_finished(&id).await
}

/// The `update` frames of a page's SSE stream until one satisfies `want` (bounded).
async fn update_where(url: &str, cookie: Option<&str>, want: impl Fn(&str) -> bool) -> String {
    let mut req = http().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["connection"], "keep-alive");
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("an update within 30 s")
            .expect("stream open")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if !frame.lines().any(|l| l == "event: update") {
                continue;
            }
            let data: Vec<&str> = frame
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            let html = data.join("\n");
            if want(&html) {
                return html;
            }
        }
    }
}

async fn dashboard_in_a_browser(db: Db, shots: bool) {
    let Some(bin) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let p = profile.path();
    let cp = ControlPlane::start(&db, &[], &[]);
    let home = node_home_with(
        "dash-node",
        &cp.url,
        json!([{"id": "stub", "kind": "stub"}]),
        json!({"price": 0.5}),
    );
    let node = Node::start_in("dash-node", home);
    cp.wait_peers(&["dash-node"], Duration::from_secs(30)).await;

    // Before any login, the dashboard says how to get one.
    let html = dom(&bin, p, &format!("{}/dashboard", cp.url));
    assert!(html.contains("Log in to see your nodes"), "{html}");
    assert!(html.contains("infernet pubkey link"), "{html}");

    // The status page's stream, then jobs: the stream sends the page again with them.
    let before = update_where(&format!("{}/status/events", cp.url), None, |_| true).await;
    assert_eq!(card(&before, "Jobs / s"), "0.00", "{before}");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let st = chat(&cp, STUB_MODEL).await;
        assert_eq!(st["status"], "completed", "{st}");
        ids.push(st["id"].as_str().unwrap().to_string());
    }
    let failed = chat(&cp, "absent-model:1b").await;
    assert_eq!(failed["status"], "failed");
    let after = update_where(&format!("{}/status/events", cp.url), None, |h| {
        h.contains("2 completed in the last 5 min")
    })
    .await;
    assert!(
        after.contains("absent-model:1b") && after.contains("no_provider"),
        "{after}"
    );

    let html = dom(&bin, p, &format!("{}/status", cp.url));
    assert_eq!(card(&html, "Nodes online"), "1", "{html}");
    assert_eq!(card(&html, "Models served"), "1");
    assert!(html.contains(STUB_MODEL), "{html}");
    assert!(
        card(&html, "Tokens / s").parse::<f64>().unwrap() > 0.0,
        "{html}"
    );
    assert!(
        html.contains("Recent failures") && html.contains("absent-model:1b"),
        "{html}"
    );
    if shots {
        screenshot(&bin, p, &format!("{}/status", cp.url), "web-status.png");
    }

    // Link the node, log in with the one-time link: its nodes, jobs and earnings.
    let text = cli(node.dir(), &["pubkey", "link", "--label", "dash rig"]);
    assert!(text.starts_with("linked:"), "{text}");
    let link = cli(node.dir(), &["dashboard", "login"]).trim().to_string();
    assert!(
        link.starts_with(&format!("{}/dashboard/login?key=", cp.url)),
        "{link}"
    );
    let html = dom(&bin, p, &link);
    assert!(html.contains("<h2>dash rig</h2>"), "{html}");
    assert_eq!(card(&html, "Your nodes"), "1", "{html}");
    assert!(html.contains("online</span> · heartbeat"), "{html}");
    for id in &ids {
        assert!(html.contains(id.as_str()), "job {id} not in {html}");
    }
    let ledger: Value = serde_json::from_str(&cli(node.dir(), &["payments", "--json"])).unwrap();
    let total: f64 = ledger["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount_usd"].as_f64().unwrap())
        .sum();
    assert!(total > 0.0, "{ledger}");
    let shown: f64 = card(&html, "Earnings (USD)").parse().unwrap();
    assert!((shown - total).abs() < 1e-12, "{shown} vs {total}");
    // Commands: none yet, and the page says how; one sent appears with its status (the
    // session cookie stays in the browser's profile).
    assert!(html.contains("No commands sent to this node"), "{html}");
    assert!(
        html.contains("infernet node-command install MODEL"),
        "{html}"
    );
    let queued = cli(node.dir(), &["node-command", "install", "tiny-model:1b"]);
    assert!(queued.starts_with("queued model_install"), "{queued}");
    let html = dom(&bin, p, &format!("{}/dashboard", cp.url));
    assert!(
        html.contains("model_install") && html.contains("tiny-model:1b"),
        "{html}"
    );

    // The link worked once.
    let r = http().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("used already"));
    // The dashboard's stream needs the session.
    let r = http()
        .get(format!("{}/dashboard/events", cp.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    if shots {
        let link = cli(node.dir(), &["dashboard", "login"]).trim().to_string();
        screenshot(&bin, p, &link, "web-dashboard.png");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    dashboard_in_a_browser(Db::Sqlite(dir.path().join("cp.db")), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser_postgres() {
    if let Some(db) = postgres_db().await {
        dashboard_in_a_browser(db, false).await;
    }
}

/// A tampered or expired link is refused with a page that says how to get a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_login_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(&Db::Sqlite(dir.path().join("cp.db")), &[], &[]);
    let home = node_home_with("forger", &cp.url, json!([]), json!({}));
    let link = cli(home.path(), &["dashboard", "login"]).trim().to_string();
    // Not linked to an account: refused, and told how.
    let r = http().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("infernet pubkey link"));
    let link = cli(home.path(), &["dashboard", "login"]).trim().to_string();
    let exp: i64 = link
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let forged = link.replace(&format!("exp={exp}"), &format!("exp={}", exp + 60));
    let r = http().get(&forged).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("bad signature"));
}
