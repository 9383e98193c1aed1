//! The stdio NDJSON engine protocol against a real child process: our echo binary in
//! `--stdio-engine` mode.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use futures::StreamExt;
use infernet::backend::{self, ChatEvent, ChatRequest, DoneReason, Message};
use infernet::config::BackendConfig;
use std::process::Command;
use tokio_util::sync::CancellationToken;

fn engine(model: &str) -> std::sync::Arc<dyn backend::ChatBackend> {
    let cmd = format!("{} --stdio-engine", echo_binary().display());
    let cfg = BackendConfig {
        id: "eng".into(),
        kind: "engine".into(),
        command: cmd,
        model: model.into(),
        ..Default::default()
    };
    backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap()
}

fn req(id: &str, prompt: &str) -> ChatRequest {
    ChatRequest {
        id: id.into(),
        messages: vec![Message::new("user", prompt)],
        ..Default::default()
    }
}

#[tokio::test]
async fn chats_share_one_engine_and_are_routed_by_id() {
    let be = engine("tiny");
    let (a, b) = futures::join!(
        be.chat(req("a", "first question"), CancellationToken::new())
            .collect::<Vec<_>>(),
        be.chat(req("b", "second one"), CancellationToken::new())
            .collect::<Vec<_>>()
    );
    for (events, id, text) in [
        (&a, "a", "echo: first question"),
        (&b, "b", "echo: second one"),
    ] {
        assert!(
            matches!(&events[0], ChatEvent::Meta { model, backend, .. } if model == "tiny" && backend == "eng"),
            "{events:?}"
        );
        assert!(events.iter().all(|e| match e {
            ChatEvent::Meta { id: i, .. }
            | ChatEvent::Token { id: i, .. }
            | ChatEvent::Done { id: i, .. }
            | ChatEvent::Error { id: i, .. } => i == id,
        }));
        match events.last().unwrap() {
            ChatEvent::Done {
                text: t, reason, ..
            } => {
                assert_eq!(t, text);
                assert_eq!(*reason, DoneReason::Stop);
            }
            e => panic!("{e:?}"),
        }
    }
}

#[tokio::test]
async fn cancel_reaches_the_engine_and_a_dead_engine_is_an_error_then_restarts() {
    let be = engine("");
    let cancel = CancellationToken::new();
    let long = req("c", &"word ".repeat(200));
    let mut s = be.chat(long, cancel.clone());
    let mut last = None;
    while let Some(ev) = s.next().await {
        if matches!(ev, ChatEvent::Token { .. }) {
            cancel.cancel();
        }
        last = Some(ev);
    }
    // The engine itself answered the cancel with done{cancel}.
    assert!(
        matches!(
            last,
            Some(ChatEvent::Done {
                reason: DoneReason::Cancel,
                ..
            })
        ),
        "{last:?}"
    );

    let events: Vec<ChatEvent> = be
        .chat(req("d", "die"), CancellationToken::new())
        .collect()
        .await;
    match events.last().unwrap() {
        ChatEvent::Error { message, .. } => assert!(message.ends_with("exited"), "{message}"),
        e => panic!("{e:?}"),
    }
    // The next chat starts a fresh engine.
    let events: Vec<ChatEvent> = be
        .chat(req("e", "again"), CancellationToken::new())
        .collect()
        .await;
    assert!(
        matches!(
            events.last(),
            Some(ChatEvent::Done {
                reason: DoneReason::Stop,
                ..
            })
        ),
        "{events:?}"
    );
}

#[test]
fn infernet_engine_bin_is_picked_by_chat() {
    let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .env_remove("INFERNET_CONFIG_PATH")
        .env_remove("INFERNET_ENGINE_BACKEND")
        .env("XDG_CONFIG_HOME", "/nonexistent-infernet-xdg")
        .env(
            "INFERNET_ENGINE_BIN",
            format!("{} --stdio-engine", echo_binary().display()),
        )
        .current_dir("/")
        .args(["hello", "engine"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "echo: hello engine"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", "/nonexistent-infernet-xdg")
        .current_dir("/")
        .args([
            "chat",
            "--backend",
            "engine",
            "--host",
            "/nonexistent/engine-bin",
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot start engine '/nonexistent/engine-bin'"),
        "{err}"
    );
}
