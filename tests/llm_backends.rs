//! LLM backends against a real llama.cpp server and a real model (SmolLM2-135M):
//! `infernet chat` (text, --json, stdin, errors, Ctrl-C), cancellation leaving no generation
//! running, backends as job targets over REST (stream and stored text + usage), detection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::llm::LlamaServer;
use common::*;
use futures::StreamExt;
use infernet::backend::{self, BackendKind, ChatEvent, ChatRequest, DoneReason, Message};
use infernet::config::BackendConfig;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(120);

/// The binary with no config and no engine variables from the environment.
fn infernet() -> Command {
    let mut c = infernet_cmd(std::path::Path::new("/nonexistent-infernet-home"));
    c.current_dir("/");
    c
}

fn chat_args(s: &LlamaServer) -> Vec<String> {
    vec![
        "--backend".into(),
        "llamacpp".into(),
        "--host".into(),
        s.url.clone(),
    ]
}

#[test]
fn chat_prints_real_tokens_and_one_json_schema() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let out = infernet()
        .arg("chat")
        .args(chat_args(&s))
        .args([
            "--max-tokens",
            "12",
            "--temperature",
            "0",
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim().len() > 3, "expected real tokens, got '{text}'");

    // --json through the shorthand, prompt on stdin.
    let mut child = infernet()
        .args(["--json"])
        .args(chat_args(&s))
        .args(["--max-tokens", "10", "--system", "Answer briefly."])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Name a colour.")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "meta");
    assert_eq!(events[0]["backend"], "llamacpp");
    assert!(!events[0]["model"].as_str().unwrap().is_empty());
    let id = events[0]["id"].as_str().unwrap();
    let tokens: Vec<&Value> = events.iter().filter(|e| e["type"] == "token").collect();
    assert!(!tokens.is_empty());
    assert!(events.iter().all(|e| e["id"] == id));
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done");
    assert!(
        done["reason"] == "stop" || done["reason"] == "length",
        "{done}"
    );
    let joined: String = tokens.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert_eq!(done["text"], joined);
    assert!(
        done["usage"]["completion_tokens"].as_u64().unwrap() >= 1,
        "{done}"
    );
    assert!(
        done["usage"]["prompt_tokens"].as_u64().unwrap() >= 3,
        "{done}"
    );
}

#[test]
fn chat_errors_say_what_to_do_and_use_the_exit_codes() {
    let dead = free_port();
    let out = infernet()
        .args([
            "chat",
            "--backend",
            "llamacpp",
            "--host",
            &format!("http://127.0.0.1:{dead}"),
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "llamacpp backend unreachable at http://127.0.0.1:{dead}"
        )),
        "{err}"
    );
    assert!(
        err.contains("start it with `llama-server -m <model.gguf>`"),
        "{err}"
    );

    let out = infernet()
        .args(["chat", "--remote", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--remote needs a control plane"));
    let out = infernet()
        .args(["chat", "--backend", "nosuch", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend 'nosuch'"));
    let out = infernet()
        .args(["chat"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no prompt"));
    let out = infernet()
        .args(["chat", "--local", "--remote", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn ctrl_c_cancels_and_leaves_nothing_running_on_the_server() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let mut child = infernet()
        .arg("chat")
        .args(chat_args(&s))
        .args([
            "--max-tokens",
            "2000",
            "Write a very long story about a lighthouse keeper.",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).unwrap(); // tokens are flowing
    assert!(!s.idle().await, "the server should be generating");
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let start = Instant::now();
    while !s.idle().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "generation still running after Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The same through the library: cancel yields done{cancel}, not an error.
    let cfg = BackendConfig {
        id: "llm".into(),
        kind: "llamacpp".into(),
        url: s.url.clone(),
        ..Default::default()
    };
    let be = backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let req = ChatRequest {
        id: "c1".into(),
        messages: vec![Message::new("user", "Count from one to one thousand.")],
        max_tokens: Some(2000),
        ..Default::default()
    };
    let mut events = be.chat(req, cancel.clone());
    let mut last = None;
    while let Some(ev) = events.next().await {
        if matches!(ev, ChatEvent::Token { .. }) {
            cancel.cancel();
        }
        last = Some(ev);
    }
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
    let start = Instant::now();
    while !s.idle().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "generation still running after cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_as_job_target_streams_and_stores_text_and_usage() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let mut cfg = test_config(dir.path(), vec![remote("echo", &echo.url())], false);
    cfg.backends = vec![BackendConfig {
        id: "llm".into(),
        kind: "llamacpp".into(),
        url: s.url.clone(),
        ..Default::default()
    }];
    let (_h, base) = start(cfg).await;
    let c = http();

    let r = c
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"containers": ["llm"], "data": {"prompt": "Say hello.", "max_tokens": 12}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let mut chunks = 0;
    while let Some(c) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&c.unwrap()));
        chunks += 1;
    }
    assert!(
        chunks >= 3,
        "tokens should arrive as separate chunks ({chunks})"
    );
    let (id, streamed) = text.split_once('\n').unwrap();
    assert!(!streamed.trim().is_empty());
    let job = wait_job(&base, id, T).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(
        job["result"],
        json!({"container": "llm", "output": {"output": streamed}})
    );

    let r: Value = c
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["llm"], "data": {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}}))
        .send().await.unwrap().json().await.unwrap();
    let job = wait_job(&base, r["id"].as_str().unwrap(), T).await;
    assert_eq!(job["status"], "success", "{job}");
    let out = &job["result"]["output"];
    assert!(!out["text"].as_str().unwrap().is_empty());
    assert!(out["finish_reason"] == "stop" || out["finish_reason"] == "length");
    assert!(out["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
    assert!(!out["model"].as_str().unwrap().is_empty());

    // A container's output can feed the backend: `then` puts a prompt into echo's output.
    let r: Value = c
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["echo", "llm"], "data": {"then": {"prompt": "Say yes.", "max_tokens": 4}}}))
        .send().await.unwrap().json().await.unwrap();
    let job = wait_job(&base, r["id"].as_str().unwrap(), T).await;
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(job["intermediate_results"][0]["container"], "echo");

    // Bad input is a readable failed result.
    let r: Value = c
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["llm"], "data": {"question": "?"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = wait_job(&base, r["id"].as_str().unwrap(), T).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["result"]["error"]
            .as_str()
            .unwrap()
            .starts_with("backend 'llm': input must have 'messages'")
    );
}

#[tokio::test]
async fn detection_finds_the_running_server_and_explains_the_rest() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let dead = free_port();
    let http = reqwest::Client::new();
    let probes = backend::detect::detect(
        &http,
        &[
            (BackendKind::Vllm, s.url.clone()),
            (BackendKind::Ollama, format!("http://127.0.0.1:{dead}")),
        ],
    )
    .await;
    // The server says it is llama.cpp, whatever kind we guessed.
    assert!(probes[0].answered);
    assert_eq!(probes[0].kind, BackendKind::Llamacpp);
    assert_eq!(probes[0].models.len(), 1);
    assert!(probes[0].detail.starts_with("serves "));
    assert!(!probes[1].answered);
    assert!(probes[1].detail.contains("refused"), "{}", probes[1].detail);

    // `infernet backends` reports it when LLAMACPP_HOST points at it.
    let out = infernet()
        .args(["backends", "--json"])
        .env("LLAMACPP_HOST", &s.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let up: Vec<&Value> = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["answered"] == true)
        .collect();
    assert_eq!(up.len(), 1, "{v}");
    assert_eq!(up[0]["url"], s.url);
    let models = be_models(&s).await;
    assert_eq!(models.len(), 1);
}

async fn be_models(s: &LlamaServer) -> Vec<String> {
    let cfg = BackendConfig {
        id: "x".into(),
        kind: "llamacpp".into(),
        url: s.url.clone(),
        ..Default::default()
    };
    let be = backend::build_backend(&cfg, &|_| None, reqwest::Client::new()).unwrap();
    be.models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[test]
fn model_list_show_use_against_the_real_server() {
    let Some(s) = LlamaServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = infernet_cmd(dir.path())
            .args(["model", "--backend", "llamacpp", "--host", &s.url])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(&["list", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let name = v["models"][0]["name"].as_str().unwrap().to_string();
    assert!(name.ends_with("SmolLM2-135M-Instruct-Q4_1.gguf"), "{v}");
    assert_eq!(v["kind"], "llamacpp");
    let (code, out, _) = run(&["use", &name]);
    assert_eq!(code, Some(0));
    assert!(out.contains("default model is now"));
    let (code, out, _) = run(&["show", "--json"]);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["reachable"], true);
    let (code, _, err) = run(&["pull", "anything"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("loads its models when it starts"), "{err}");
}
