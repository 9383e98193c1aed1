//! `infernet chat`: one turn with an LLM backend, tokens to stdout as they arrive.
use clap::Args;
use futures::StreamExt;
use infernet::backend::{self, Backends, ChatEvent, ChatRequest, DoneReason, Message};
use infernet::config::{self, Overrides};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt (words are joined with spaces); read from stdin when absent
    pub prompt: Vec<String>,
    /// System message sent before the prompt
    #[arg(long)]
    pub system: Option<String>,
    /// Model (else INFERNET_ENGINE_MODEL, the backend's configured model, or the first it serves)
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub temperature: Option<f64>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// A configured backend id or a kind (ollama, vllm, sglang, llamacpp, max, openai);
    /// else INFERNET_ENGINE_BACKEND, the first configured backend, or auto-detection
    #[arg(long)]
    pub backend: Option<String>,
    /// Backend URL, overriding the configured or default one
    #[arg(long)]
    pub host: Option<String>,
    /// Use a backend on this machine (the default)
    #[arg(long, conflicts_with = "remote")]
    pub local: bool,
    /// Route through a control plane (--url, else control_plane.url / INFERNET_CONTROL_PLANE):
    /// the chat runs on a node it picks; same output and --json events as local
    #[arg(long, conflicts_with_all = ["backend", "host"])]
    pub remote: bool,
    /// Buy the answer from the c0mpute swarm through the running node (p2p.enabled): the
    /// cheapest peer serving the model runs it
    #[arg(long, conflicts_with_all = ["local", "remote", "url", "backend", "host"])]
    pub p2p: bool,
    /// Control plane URL (implies --remote)
    #[arg(long, conflicts_with_all = ["local", "backend", "host"])]
    pub url: Option<String>,
    /// One JSON event per line: {"type":"meta"|"token"|"done"|"error", ...}
    #[arg(long)]
    pub json: bool,
}

const EXIT_BACKEND: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

pub fn run(flag: Option<&Path>, args: ChatArgs) -> ExitCode {
    let loaded = match config::load(flag, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut prompt = args.prompt.join(" ");
    if prompt.trim().is_empty() && !std::io::stdin().is_terminal() {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("error: cannot read the prompt from stdin: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        prompt = s.trim_end().to_string();
    }
    if prompt.trim().is_empty() {
        eprintln!("error: no prompt: give it as arguments (infernet chat \"hello\") or on stdin");
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let defaults = matches!(loaded.source, config::Source::Defaults { .. });
    runtime.block_on(chat(loaded.config, defaults, args, prompt))
}

async fn chat(cfg: config::Config, defaults: bool, args: ChatArgs, prompt: String) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let http = reqwest::Client::new();
    // With no config file a server found by detection wins; the built-in default model is
    // what `resolve_backend` falls back to.
    let named =
        args.backend.is_some() || env("INFERNET_ENGINE_BACKEND").is_some_and(|v| !v.is_empty());
    let configured = if defaults && !named {
        &[][..]
    } else {
        &cfg.backends[..]
    };
    let backends = match Backends::from_config(configured, &env, http.clone()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let resolved = if args.p2p {
        super::peers_cmd::daemon_rest().await.map(|rest| {
            let b: std::sync::Arc<dyn backend::ChatBackend> = std::sync::Arc::new(
                infernet::p2p::client::ViaNode::new(&format!("http://{rest}")),
            );
            (b, Vec::new())
        })
    } else if args.remote || args.url.is_some() {
        let url = args
            .url
            .clone()
            .unwrap_or_else(|| cfg.control_plane.url.clone());
        if url.trim().is_empty() {
            report_error(
                args.json,
                "--remote needs a control plane: pass --url URL, or set control_plane.url in config.json (or INFERNET_CONTROL_PLANE)",
            );
            return ExitCode::from(EXIT_USAGE);
        }
        let remote: std::sync::Arc<dyn backend::ChatBackend> = std::sync::Arc::new(
            backend::RemoteBackend::new("remote", &backend::normalise_url(&url), None, http),
        );
        Ok((remote, Vec::new()))
    } else {
        backend::resolve_backend(
            args.backend.as_deref(),
            args.host.as_deref(),
            &backends,
            &env,
            http,
        )
        .await
    };
    let (be, probes) = match resolved {
        Ok(x) => x,
        Err(e) => {
            report_error(args.json, &e);
            return ExitCode::from(if args.backend.is_some() {
                EXIT_USAGE
            } else {
                EXIT_BACKEND
            });
        }
    };
    if !probes.is_empty() && !args.json && std::io::stderr().is_terminal() {
        eprintln!(
            "[infernet] auto-detected {} at {}",
            be.kind().name(),
            be.url()
        );
    }
    let other_model =
        args.model.is_some() || env("INFERNET_ENGINE_MODEL").is_some_and(|v| !v.trim().is_empty());
    if be.kind() == backend::BackendKind::Embedded
        && !other_model
        && be.default_model() == Some(backend::default_model::FILE)
        && let Some(src) = backend::default_model::Source::from_env(&env)
        && let Err(e) = super::fetch_default_model(&src, args.json).await
    {
        report_error(args.json, &e);
        return ExitCode::from(EXIT_BACKEND);
    }
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(Message::new("system", s));
    }
    messages.push(Message::new("user", &prompt));
    let req = ChatRequest {
        id: format!("chat-{}", uuid::Uuid::new_v4().simple()),
        messages,
        model: args
            .model
            .clone()
            .or_else(|| env("INFERNET_ENGINE_MODEL").filter(|m| !m.is_empty())),
        temperature: args.temperature,
        max_tokens: args.max_tokens,
    };
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    infernet::supervise::spawn_logged("ctrl-c", async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let mut events = be.chat(req, cancel);
    let mut out = std::io::stdout().lock();
    while let Some(ev) = events.next().await {
        if args.json {
            let line = serde_json::to_string(&ev).unwrap_or_default();
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return ExitCode::SUCCESS; // stdout closed (e.g. `| head`)
            }
        }
        match ev {
            ChatEvent::Meta { .. } => {}
            ChatEvent::Token { text, .. } => {
                if !args.json && write!(out, "{text}").and_then(|_| out.flush()).is_err() {
                    return ExitCode::SUCCESS;
                }
            }
            ChatEvent::Done { reason, .. } => {
                if !args.json {
                    let _ = writeln!(out);
                }
                return match reason {
                    DoneReason::Cancel => ExitCode::from(EXIT_INTERRUPTED),
                    _ => ExitCode::SUCCESS,
                };
            }
            ChatEvent::Error { message, .. } => {
                if !args.json {
                    let _ = writeln!(out);
                    eprintln!("error: {message}");
                }
                return ExitCode::from(EXIT_BACKEND);
            }
        }
    }
    ExitCode::SUCCESS
}

fn report_error(json: bool, message: &str) {
    if json {
        let ev = ChatEvent::Error {
            id: String::new(),
            message: message.to_string(),
        };
        outln!("{}", serde_json::to_string(&ev).unwrap_or_default());
    } else {
        eprintln!("error: {message}");
    }
}
