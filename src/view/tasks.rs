//! The bridge's background work: chat turns, job detail, model pulls, host/GPU sampling and
//! backend probing. Each reports through the UI's update channel or a watch.
use super::map::wire_name;
use crate::backend::{
    self, BackendError, Backends, ChatBackend, ChatEvent, ChatRequest, Message, PullProgress,
};
use crate::system::sample::{GpuProbe, GpuSample, HostProbe, HostSample, NvmlProbe};
use futures::StreamExt;
use futures::stream::BoxStream;
use infernet_core::view::intent::{ChatUpdate, Update};
use infernet_core::view::model::{self as ui, Level};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn chat_turn(
    configured: Backends,
    http: reqwest::Client,
    backend: Option<String>,
    model: Option<String>,
    messages: Vec<infernet_core::view::intent::ChatMessage>,
    chat: u64,
    turn: u64,
    cancel: CancellationToken,
    tx: mpsc::Sender<Update>,
) {
    let send = |event: ChatUpdate| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Update::Chat { chat, turn, event }).await;
        }
    };
    let be: Arc<dyn ChatBackend> =
        match backend::resolve_backend(backend.as_deref(), None, &configured, &env, http).await {
            Ok((b, _)) => b,
            Err(e) => return send(ChatUpdate::Error(e)).await,
        };
    let req = ChatRequest {
        id: uuid::Uuid::new_v4().to_string(),
        messages: messages
            .iter()
            .map(|m| Message::new(&m.role, &m.content))
            .collect(),
        model,
        temperature: None,
        max_tokens: None,
    };
    let mut stream = be.chat(req, cancel);
    while let Some(ev) = stream.next().await {
        let u = match ev {
            ChatEvent::Meta { backend, model, .. } => ChatUpdate::Meta { backend, model },
            ChatEvent::Token { text, .. } => ChatUpdate::Token(text),
            ChatEvent::Done { reason, usage, .. } => ChatUpdate::Done {
                reason: wire_name(reason),
                usage: usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
            },
            ChatEvent::Error { message, .. } => ChatUpdate::Error(message),
        };
        send(u).await;
    }
}

pub(super) async fn pull(
    backend: String,
    model: String,
    mut s: BoxStream<'static, Result<PullProgress, BackendError>>,
    tx: mpsc::Sender<Update>,
) {
    let note = |level, text: String| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Update::Notice { level, text }).await;
        }
    };
    note(Level::Info, format!("pulling '{model}' on '{backend}'…")).await;
    let mut last = std::time::Instant::now();
    while let Some(p) = s.next().await {
        match p {
            Ok(p) => {
                if last.elapsed() > Duration::from_millis(250) {
                    last = std::time::Instant::now();
                    let pct = match (p.completed, p.total) {
                        (Some(c), Some(t)) if t > 0 => {
                            format!(" {:.0}%", c as f64 * 100.0 / t as f64)
                        }
                        _ => String::new(),
                    };
                    note(Level::Info, format!("pull '{model}': {}{pct}", p.status)).await;
                }
            }
            Err(e) => return note(Level::Error, format!("pull '{model}' failed: {e}")).await,
        }
    }
    note(Level::Info, format!("pulled '{model}' on '{backend}'")).await;
}

/// Samples CPU/RAM every second and GPUs through NVML on a plain thread (NVML calls block).
pub(super) fn spawn_sampler() -> watch::Receiver<(HostSample, Result<Vec<GpuSample>, String>)> {
    let (tx, rx) = watch::channel((HostSample::default(), Err("sampling…".to_string())));
    let spawned = std::thread::Builder::new()
        .name("infernet-sampler".into())
        .spawn(move || {
            let mut host = HostProbe::new();
            let mut gpu: Result<NvmlProbe, String> = NvmlProbe::open();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let h = host.sample();
                let g = match gpu.as_mut() {
                    Ok(p) => p.sample(),
                    Err(e) => Err(e.clone()),
                };
                if tx.send((h, g)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the system sampler");
    }
    rx
}

/// A backend's state changes go to the log, so its detail view has a timeline.
fn log_change(before: &str, row: &ui::BackendRow) {
    if before == row.state {
        return;
    }
    let error = row.error.as_deref().unwrap_or("");
    if row.state == "unreachable" {
        tracing::warn!(backend = %row.id, state = %row.state, error, "backend state changed");
    } else {
        tracing::info!(backend = %row.id, state = %row.state, "backend state changed");
    }
}

/// Lists each backend's models every 15 s (state, models, fit on this box), until `cancel`.
/// The engine runs one for the configured backends (the UI and `/metrics` read it); the UI
/// publisher runs one for the control plane's chat endpoint.
pub(crate) async fn backend_probe(
    backends: Backends,
    tx: &watch::Sender<ui::BackendsView>,
    cancel: CancellationToken,
) {
    {
        let mem = crate::system::Memory::probe();
        let mut rows: Vec<ui::BackendRow> = backends
            .all()
            .iter()
            .map(|b| ui::BackendRow {
                id: b.id().to_string(),
                kind: b.kind().name().to_string(),
                url: b.url().to_string(),
                state: "checking".into(),
                error: None,
                default_model: b.default_model().map(str::to_string),
                models: Vec::new(),
                configured: true,
            })
            .collect();
        tx.send_replace(ui::BackendsView {
            rows: rows.clone(),
            note: None,
        });
        loop {
            let mut fetching_any = false;
            for (b, row) in backends.all().iter().zip(rows.iter_mut()) {
                let before = row.state.clone();
                match tokio::time::timeout(Duration::from_secs(5), b.models()).await {
                    Ok(Ok(models)) => {
                        row.state = "ready".into();
                        row.error = None;
                        row.models = models
                            .into_iter()
                            .map(|m| ui::ModelRow {
                                fits: mem.fits(m.size_bytes),
                                size: m.size_bytes,
                                name: m.name,
                            })
                            .collect();
                    }
                    Ok(Err(e)) => {
                        // The built-in default model still on its way is not an outage.
                        let fetching = fetching_default_model(b.as_ref());
                        fetching_any |= fetching;
                        row.state = if fetching {
                            "fetching model"
                        } else {
                            "unreachable"
                        }
                        .into();
                        row.error = Some(e.to_string());
                    }
                    Err(_) => {
                        row.state = "unreachable".into();
                        row.error = Some("no answer within 5 s".into());
                    }
                }
                log_change(&before, row);
            }
            tx.send_replace(ui::BackendsView {
                rows: rows.clone(),
                note: None,
            });
            // A download in progress is shown as it goes; otherwise every 15 s is enough.
            let every = if fetching_any { 1 } else { 15 };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(every)) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }
}

/// The embedded engine on the built-in default model, which is not on disk yet.
fn fetching_default_model(b: &dyn crate::backend::ChatBackend) -> bool {
    use crate::backend::default_model::{self, FILE, Source};
    let env = |k: &str| std::env::var(k).ok();
    b.kind() == crate::backend::BackendKind::Embedded
        && b.default_model() == Some(FILE)
        && Source::from_env(&env)
            .is_some_and(|s| !s.present() && default_model::permanent_failure(&s).is_none())
}
