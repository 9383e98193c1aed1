//! The embedded llama.cpp engine on the real SmolLM2 GGUF: `infernet chat --backend embedded`
//! prints real tokens; the model is found among downloaded GGUFs; cancel stops generation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![cfg(feature = "embedded")]
mod common;

use futures::StreamExt;
use infernet::backend::{self, ChatEvent, ChatRequest, DoneReason, Message};
use infernet::config::BackendConfig;

fn gguf() -> Option<String> {
    match std::env::var("INFERNET_TEST_GGUF") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                !common::in_ci(),
                "CI=true but INFERNET_TEST_GGUF is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no test GGUF (run ./scripts/test.sh)");
            None
        }
    }
}

#[test]
fn chat_with_the_embedded_engine_prints_real_tokens() {
    let Some(model) = gguf() else { return };
    let data = tempfile::tempdir().unwrap();
    let out = common::infernet_cmd(data.path())
        .env("INFERNET_EMBEDDED_THREADS", "1")
        .args([
            "chat",
            "--backend",
            "embedded",
            "--model",
            &model,
            "--max-tokens",
            "16",
            "--temperature",
            "0",
            "--json",
            "What is the capital of France?",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "meta");
    assert_eq!(events[0]["backend"], "embedded");
    assert_eq!(events[0]["model"], "SmolLM2-135M-Instruct-Q4_1.gguf");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done", "{events:?}");
    let text = done["text"].as_str().unwrap();
    assert!(
        text.contains("Paris"),
        "SmolLM2 at temperature 0 names Paris: '{text}'"
    );
    assert!(done["usage"]["completion_tokens"].as_u64().unwrap() >= 2);

    // With the GGUF among downloaded models, no --model is needed.
    let dir = data.path().join("infernet/models/local");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&model, dir.join("smol.gguf")).unwrap();
    let out = common::infernet_cmd(data.path())
        .env("INFERNET_EMBEDDED_THREADS", "1")
        .args([
            "chat",
            "--backend",
            "embedded",
            "--max-tokens",
            "8",
            "Say hi.",
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

    std::fs::create_dir_all(data.path().join("empty")).unwrap();
    let out = common::infernet_cmd(&data.path().join("empty"))
        .args(["chat", "--backend", "embedded", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("infernet model pull hf:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_generation_and_the_model_is_shared() {
    let Some(model) = gguf() else { return };
    let cfg = BackendConfig {
        id: "emb".into(),
        kind: "embedded".into(),
        model: model.clone(),
        num_thread: Some(1),
        ..Default::default()
    };
    let be = backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let req = ChatRequest {
        id: "x".into(),
        messages: vec![Message::new("user", "Write a long story.")],
        max_tokens: Some(1000),
        ..Default::default()
    };
    let mut s = be.chat(req.clone(), cancel.clone());
    let (mut last, mut tokens) = (None, 0);
    while let Some(ev) = s.next().await {
        if matches!(ev, ChatEvent::Token { .. }) {
            tokens += 1;
            if tokens == 3 {
                cancel.cancel();
            }
        }
        last = Some(ev);
    }
    match last {
        Some(ChatEvent::Done {
            reason: DoneReason::Cancel,
            usage,
            ..
        }) => assert!(usage.unwrap().completion_tokens < 10),
        other => panic!("{other:?}"),
    }
    // Two chats at once on the same backend share the loaded model.
    let short = ChatRequest {
        max_tokens: Some(4),
        ..req
    };
    let (a, b) = futures::join!(
        be.chat(short.clone(), Default::default())
            .collect::<Vec<_>>(),
        be.chat(short, Default::default()).collect::<Vec<_>>()
    );
    for ev in [a, b] {
        assert!(
            matches!(
                ev.last(),
                Some(ChatEvent::Done {
                    reason: DoneReason::Length,
                    ..
                })
            ),
            "{ev:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_context_gives_the_same_answers() {
    let Some(model) = gguf() else { return };
    let cfg = BackendConfig {
        id: "emb".into(),
        kind: "embedded".into(),
        model,
        num_thread: Some(1),
        ..Default::default()
    };
    let be = backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap();
    let ask = |q: &str| ChatRequest {
        id: "t".into(),
        messages: vec![Message::new("user", q)],
        temperature: Some(0.0),
        max_tokens: Some(12),
        ..Default::default()
    };
    let text = |events: Vec<ChatEvent>| match events.last() {
        Some(ChatEvent::Done { text, .. }) => text.clone(),
        other => panic!("{other:?}"),
    };
    // Greedy decoding: the same question gives the same answer whether the slot's cache holds
    // that very prompt, another one, or nothing.
    let first = text(
        be.chat(ask("What is the capital of France?"), Default::default())
            .collect()
            .await,
    );
    let again = text(
        be.chat(ask("What is the capital of France?"), Default::default())
            .collect()
            .await,
    );
    let other = text(
        be.chat(ask("What is the capital of Italy?"), Default::default())
            .collect()
            .await,
    );
    let back = text(
        be.chat(ask("What is the capital of France?"), Default::default())
            .collect()
            .await,
    );
    assert!(first.contains("Paris"), "{first}");
    assert_eq!(first, again);
    assert_eq!(first, back);
    assert!(other.contains("Rome"), "{other}");
}
