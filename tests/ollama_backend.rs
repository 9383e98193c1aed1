//! The Ollama adapter through our schema-exact Ollama API test server, itself in front of a
//! real llama-server with a real model.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;
#[path = "support/ollama.rs"]
mod ollama;

use common::llm::LlamaServer;
use futures::StreamExt;
use infernet::backend::{self, BackendKind, ChatEvent, ChatRequest, DoneReason, Message};
use infernet::config::BackendConfig;
use ollama::{MODEL, OllamaTestServer};
use std::process::Command;
use std::time::{Duration, Instant};

fn ollama_backend(url: &str, model: &str) -> std::sync::Arc<dyn backend::ChatBackend> {
    let cfg = BackendConfig {
        id: "local".into(),
        kind: "ollama".into(),
        url: url.into(),
        model: model.into(),
        ..Default::default()
    };
    backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap()
}

async fn collect(be: &dyn backend::ChatBackend, req: ChatRequest) -> Vec<ChatEvent> {
    be.chat(req, tokio_util::sync::CancellationToken::new())
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_models_detection_and_errors_through_the_ollama_api() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let o = OllamaTestServer::start(&s.url).await;
    let be = ollama_backend(&o.url, MODEL);

    let req = ChatRequest {
        id: "o1".into(),
        messages: vec![Message::new("user", "Say hello.")],
        max_tokens: Some(12),
        temperature: Some(0.0),
        ..Default::default()
    };
    let events = collect(be.as_ref(), req.clone()).await;
    assert!(
        matches!(&events[0], ChatEvent::Meta { model, backend, .. } if model == MODEL && backend == "local"),
        "{events:?}"
    );
    let tokens: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Token { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(!tokens.is_empty());
    match events.last().unwrap() {
        ChatEvent::Done {
            text,
            usage,
            reason,
            ..
        } => {
            assert_eq!(*text, tokens);
            assert!(matches!(reason, DoneReason::Stop | DoneReason::Length));
            assert!(usage.unwrap().completion_tokens >= 1);
        }
        other => panic!("expected done, got {other:?}"),
    }

    let models = be.models().await.unwrap();
    assert_eq!(models[0].name, MODEL);
    assert_eq!(models[0].size_bytes, Some(98_362_432));

    let p = backend::detect::probe(&reqwest::Client::new(), BackendKind::Ollama, &o.url).await;
    assert!(p.answered);
    assert_eq!(p.detail, "ollama 0.5.7");

    // A model that is not pulled: the error names the pull command.
    let missing = ollama_backend(&o.url, "llama3.2:1b");
    let events = collect(missing.as_ref(), req.clone()).await;
    match &events[0] {
        ChatEvent::Error { message, .. } => {
            assert!(
                message.starts_with("ollama HTTP 404: model \"llama3.2:1b\" not found"),
                "{message}"
            );
            assert!(
                message.contains("infernet model pull llama3.2:1b"),
                "{message}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // The CLI through the same server.
    let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", "/nonexistent-infernet-xdg")
        .current_dir("/")
        .args([
            "chat",
            "--backend",
            "ollama",
            "--host",
            &o.url,
            "--model",
            MODEL,
            "--max-tokens",
            "8",
            "Hi",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());

    // Cancelling closes the connection; the relay stops and so does the real server.
    let cancel = tokio_util::sync::CancellationToken::new();
    let long = ChatRequest {
        max_tokens: Some(2000),
        messages: vec![Message::new("user", "Tell a long story.")],
        ..req
    };
    let mut stream = be.chat(long, cancel.clone());
    let mut last = None;
    while let Some(ev) = stream.next().await {
        if matches!(ev, ChatEvent::Token { .. }) {
            cancel.cancel();
        }
        last = Some(ev);
    }
    assert!(matches!(
        last,
        Some(ChatEvent::Done {
            reason: DoneReason::Cancel,
            ..
        })
    ));
    let start = Instant::now();
    while !s.idle().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "generation still running after cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const MODEL_STATIC: &str = ollama::MODEL;

fn model_cmd(url: &str, cfg_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", cfg_dir)
        .current_dir(cfg_dir)
        .args(["model", "--backend", "ollama", "--host", url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_list_show_use_pull_remove_through_the_ollama_api() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let o = OllamaTestServer::start(&s.url).await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.url.clone();
    let d = dir.path().to_path_buf();
    let run = move |args: &'static [&'static str]| {
        let (url, d) = (url.clone(), d.clone());
        tokio::task::spawn_blocking(move || model_cmd(&url, &d, args))
    };

    let (code, out, err) = run(&["list", "--json"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["models"][0]["name"], MODEL);
    assert_eq!(v["models"][0]["size_bytes"], 98_362_432);
    assert_eq!(v["models"][0]["fits"], true);

    let (code, out, _) = run(&["pull", "tinyllama:test"]).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("pulled tinyllama:test"));
    let (_, out, _) = run(&["ls"]).await.unwrap();
    assert!(out.contains("tinyllama:test"), "{out}");

    // Too big for this machine: refused on the first progress line, unless --force.
    let (code, _, err) = run(&["pull", "huge:1t"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("'huge:1t' needs 10000.0 GB and this machine fits models up to"),
        "{err}"
    );
    assert!(err.contains("pass --force"), "{err}");
    let (code, _, err) = run(&["pull", "nope:0"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("pull model manifest: file does not exist"),
        "{err}"
    );

    // use writes the default model into the config, and show reports it.
    let (code, out, err) = run(&["use", "tinyllama:test"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("default model is now 'tinyllama:test'"));
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("infernet/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg["backends"][0]["model"], "tinyllama:test");
    let (code, _, err) = run(&["use", "not-pulled:1b"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("pull it first with `infernet model pull not-pulled:1b`"),
        "{err}"
    );

    let (code, _, err) = run(&["rm", "tinyllama:test"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["remove", "tinyllama:test"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("ollama HTTP 404"), "{err}");
    let (code, out, _) = run(&["show", "--json"]).await.unwrap();
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["reachable"].as_bool()),
        (Some("ollama"), Some(true))
    );

    // /api/show and /api/ps details for the configured default model.
    let (code, _, err) = run(&["use", MODEL_STATIC]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&["show", "--json"]).await.unwrap();
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"], MODEL);
    assert_eq!(v["details"]["details"]["quantization_level"], "Q4_1");
    assert_eq!(v["details"]["loaded"], true);
}
