//! `infernet run [FILE]`: one c0mpute `infernet.inference` workload, as c0mpute's infernet
//! plugin dispatches it (`command = "run"`): the spec (`{"model", "messages",
//! "max_tokens", "temperature"}`) from FILE or stdin, run on the backend of this node's
//! config that serves its model, the result as one JSON object on stdout:
//! `{"status": "completed", "model", "output", "output_hash" (blake3 hex), "usage"}` or
//! `{"status": "failed", "error"}` (exit 1). A spec that does not read exits 2.
use futures::StreamExt;
use infernet::backend::{Backends, ChatEvent, ChatRequest, Message};
use infernet::config::{self, Overrides};
use infernet_core::c0mpute::spec::InferenceSpec;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The spec file (JSON); stdin when absent or `-`
    pub spec: Option<PathBuf>,
}

pub fn run(flag: Option<&Path>, args: RunArgs) -> ExitCode {
    let text = match args.spec.as_deref().filter(|p| *p != Path::new("-")) {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map(|_| s)
                .map_err(|e| format!("cannot read the spec from stdin: {e}"))
        }
    };
    let spec = text.and_then(|t| {
        let v: Value =
            serde_json::from_str(&t).map_err(|e| format!("the spec is not JSON: {e}"))?;
        InferenceSpec::parse(&v)
    });
    let spec = match spec {
        Ok(s) => s,
        Err(e) => {
            outln!("{}", json!({"status": "failed", "error": e}));
            return ExitCode::from(2);
        }
    };
    let loaded = match config::load(flag, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => {
            outln!("{}", json!({"status": "failed", "error": e.to_string()}));
            return ExitCode::from(2);
        }
    };
    let runtime = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let (v, ok) = runtime.block_on(execute(&loaded.config, spec));
    outln!("{v}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn execute(cfg: &config::Config, spec: InferenceSpec) -> (Value, bool) {
    let env = |k: &str| std::env::var(k).ok();
    let backends = match Backends::from_config(&cfg.backends, &env, reqwest::Client::new()) {
        Ok(b) => b,
        Err(e) => return (json!({"status": "failed", "error": e.to_string()}), false),
    };
    let served = infernet::backend::served::list(&backends).await;
    let pick = match spec.model.as_deref() {
        Some(m) => served.iter().find(|(n, _)| n == m),
        None => served.first(),
    };
    let Some((model, backend)) = pick.cloned() else {
        let want = spec.model.as_deref().unwrap_or("any model");
        return (
            json!({"status": "failed", "error": format!("no configured backend serves {want}")}),
            false,
        );
    };
    let req = ChatRequest {
        id: format!("run-{}", uuid::Uuid::new_v4().simple()),
        messages: spec
            .messages
            .iter()
            .map(|m| Message::new(&m.role, &m.content))
            .collect(),
        model: Some(model.clone()),
        temperature: spec.temperature,
        max_tokens: spec.max_tokens,
    };
    let mut events = backend.chat(req, tokio_util::sync::CancellationToken::new());
    while let Some(ev) = events.next().await {
        match ev {
            ChatEvent::Done {
                text,
                usage,
                reason,
                ..
            } => {
                let hash = blake3::hash(text.as_bytes()).to_hex().to_string();
                return (
                    json!({"status": "completed", "model": model, "backend": backend.id(),
                           "output": text, "output_hash": hash, "finish_reason": reason,
                           "usage": usage}),
                    true,
                );
            }
            ChatEvent::Error { message, .. } => {
                return (
                    json!({"status": "failed", "model": model, "error": message}),
                    false,
                );
            }
            _ => {}
        }
    }
    (
        json!({"status": "failed", "model": model, "error": "the backend ended without a result"}),
        false,
    )
}
