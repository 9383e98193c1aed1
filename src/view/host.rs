//! A running node as the UI sees it: `Host` builds `ui::Model` from the engine, the store, the
//! host/GPU sampler and the log ring, and carries out the UI's intents. `infernet tui` hosts it
//! in-process; the daemon hosts it for TUIs attached over its socket. `Session` is one UI's
//! private state (its chat turns and where its updates go).
use super::map::{self, SystemHistory};
use super::recorder::Recorder;
use super::tasks::{backend_probe, chat_turn, pull};
use crate::backend::{self, Backends};
use crate::config::Config;
use crate::engine::{CommandReply, EngineCommand, EngineHandle};
use crate::logging::LogRing;
use crate::store::now_ms;
use infernet_core::view::intent::{DetectedBackend, Intent, Update};
use infernet_core::view::model::{self as ui, Level};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub struct Host {
    pub handle: Arc<EngineHandle>,
    pub config: Config,
    /// Where the config came from (path or "built-in defaults").
    pub source: String,
    pub node_name: String,
    pub ring: LogRing,
    /// The history the Metrics plots show, recorded while the node runs.
    pub recorder: Arc<Recorder>,
    /// Wakes the publisher for a model now (`r` in a TUI).
    pub refresh: tokio::sync::Notify,
}

impl Host {
    /// Publishes the model (see `publish`) under the engine's supervisor: restarted after a
    /// panic, visible in `status` as the task "ui-publisher".
    pub fn supervise_publish(
        self: &Arc<Self>,
        tx: watch::Sender<Arc<ui::Model>>,
        mode: ui::Mode,
        every: Duration,
        cancel: CancellationToken,
    ) {
        let me = self.clone();
        let backoff = crate::retry::Backoff::default();
        let (rec, handle, stop) = (self.recorder.clone(), self.handle.clone(), cancel.clone());
        self.handle
            .supervisor()
            .restart("history", backoff, move |_| {
                let (rec, handle, stop) = (rec.clone(), handle.clone(), stop.clone());
                async move {
                    rec.run(handle, stop).await;
                    Ok::<(), std::convert::Infallible>(())
                }
            });
        self.handle
            .supervisor()
            .restart("ui-publisher", backoff, move |_| {
                let (h, tx, cancel) = (me.clone(), tx.clone(), cancel.clone());
                async move {
                    h.publish(tx, mode, every, cancel).await;
                    Ok::<(), std::convert::Infallible>(())
                }
            });
    }

    /// Publishes the model into `tx` every `every` (and at once after a refresh) until
    /// `cancel`. Builds nothing while no one watches (the daemon with no TUI attached).
    pub async fn publish(
        self: Arc<Self>,
        tx: watch::Sender<Arc<ui::Model>>,
        mode: ui::Mode,
        every: Duration,
        cancel: CancellationToken,
    ) {
        // The configured backends are probed by the engine; the control plane's chat
        // endpoint, when one is configured, here.
        let (cp_tx, cp_rx) = watch::channel(ui::BackendsView::default());
        let (cp, probe_cancel) = (self.control_plane_backend(), cancel.clone());
        let cp_probe = async {
            if let Some(b) = cp {
                let only = crate::backend::Backends::default().with(b);
                backend_probe(only, &cp_tx, probe_cancel).await;
            }
        };
        let engine_rx = self.handle.backends_view();
        tokio::join!(
            cp_probe,
            self.publish_loop(tx, (mode, every), cancel, (engine_rx, cp_rx))
        );
    }

    async fn publish_loop(
        self: Arc<Self>,
        tx: watch::Sender<Arc<ui::Model>>,
        (mode, every): (ui::Mode, Duration),
        cancel: CancellationToken,
        (engine_rx, cp_rx): (
            watch::Receiver<ui::BackendsView>,
            watch::Receiver<ui::BackendsView>,
        ),
    ) {
        let samples = self.recorder.latest();
        let mut history = SystemHistory::default();
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut jobs_cache: Vec<ui::JobRow> = Vec::new();
        let mut last_counts = (u64::MAX, u64::MAX, u64::MAX);
        let mut last_jobs_read: Option<Instant> = None;
        let (mut logs_gen, mut logs_cache) = (u64::MAX, Vec::new());
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.refresh.notified() => {}
                _ = cancel.cancelled() => return,
            }
            if tx.receiver_count() == 0 {
                continue;
            }
            let snap = self.handle.snapshot().borrow().clone();
            let counts = (snap.jobs_running, snap.jobs_succeeded, snap.jobs_failed);
            // Re-read the job list when counters move, while jobs run, or every 5 s.
            if counts != last_counts
                || snap.jobs_running > 0
                || last_jobs_read.is_none_or(|t| t.elapsed() > Duration::from_secs(5))
            {
                match self.handle.store().recent(1000).await {
                    Ok(rows) => jobs_cache = map::job_rows(&rows, &self.handle.jobs().streaming()),
                    Err(e) => tracing::warn!(error = %e, "cannot read recent jobs"),
                }
                last_counts = counts;
                last_jobs_read = Some(Instant::now());
            }
            let g = self.ring.generation();
            if g != logs_gen {
                logs_cache = map::logs(&self.ring.lines());
                logs_gen = g;
            }
            let (host, gpus) = samples.borrow().clone();
            let mut backends = engine_rx.borrow().clone();
            backends.rows.extend(cp_rx.borrow().rows.iter().cloned());
            if self.config.backends.is_empty() && backends.rows.is_empty() {
                backends.note = Some("Chat uses a server found on this machine when none is configured (Ollama :11434, vLLM :8000, SGLang :30000, llama.cpp :8080).".into());
            }
            let mut header = map::header(&snap, &self.node_name, &self.source);
            header.mode = mode;
            let m = ui::Model {
                now_ms: now_ms(),
                header,
                system: history.view(&host, &gpus),
                jobs: ui::JobsView {
                    rows: jobs_cache.clone(),
                    running: snap.jobs_running,
                    succeeded: snap.jobs_succeeded,
                    failed: snap.jobs_failed,
                },
                chain: map::chain(snap.chain.as_ref()),
                containers: map::containers(&snap.containers),
                backends,
                peers: map::peers(snap.control.as_ref()),
                logs: logs_cache.clone(),
                history: self.recorder.views(now_ms()),
                fleet: Vec::new(),
                swarm: snap.p2p.as_ref().map(map::swarm),
            };
            tx.send_replace(Arc::new(m));
        }
    }

    /// What the chat pane can talk to: the configured backends, plus the control plane when
    /// one is configured (a chat there runs on whichever node it routes to). Never a job
    /// target or advertised: that would route the network's jobs back to itself.
    pub fn chat_backends(&self) -> crate::backend::Backends {
        match self.control_plane_backend() {
            Some(b) => self.handle.backends().with(b),
            None => self.handle.backends().clone(),
        }
    }

    /// The control plane's OpenAI-compatible endpoint as a chat backend, when one is set.
    fn control_plane_backend(&self) -> Option<std::sync::Arc<dyn crate::backend::ChatBackend>> {
        let url = &self.config.control_plane.url;
        if url.is_empty() {
            return None;
        }
        Some(std::sync::Arc::new(crate::backend::RemoteBackend::new(
            "control-plane",
            &crate::backend::normalise_url(url),
            None,
            reqwest::Client::new(),
        )))
    }

    /// Carries out an intent for one UI. The wizard and quitting belong to the in-process
    /// bridge, so they are refused here.
    pub async fn intent(&self, i: Intent, s: &mut Session) {
        match i {
            Intent::Refresh => self.refresh.notify_one(),
            Intent::LoadJob { id } => {
                let tx = s.updates.clone();
                let handle = self.handle.clone();
                s.spawn("load-job", async move {
                    let u = match handle.command(EngineCommand::JobDetail { id }).await {
                        Ok(CommandReply::Job(d)) => {
                            Update::JobDetail(Box::new(map::job_detail(*d)))
                        }
                        Ok(other) => unexpected(other),
                        Err(e) => Update::Notice {
                            level: Level::Error,
                            text: e.to_string(),
                        },
                    };
                    let _ = tx.send(u).await;
                });
            }
            Intent::RestartContainer { id } => {
                match self
                    .handle
                    .command(EngineCommand::RestartContainer { id: id.clone() })
                    .await
                {
                    Ok(_) => s.notice(
                        Level::Info,
                        format!("restarting '{id}'; it takes jobs again once it answers"),
                    ),
                    Err(e) => s.notice(Level::Error, e.to_string()),
                }
            }
            Intent::PullModel { backend, model } => {
                let cmd = EngineCommand::PullModel {
                    backend,
                    model: model.clone(),
                };
                match self.handle.command(cmd).await {
                    Ok(CommandReply::Pull { backend, progress }) => {
                        s.spawn("pull", pull(backend, model, progress, s.updates.clone()));
                    }
                    Ok(other) => {
                        let _ = s.updates.try_send(unexpected(other));
                    }
                    Err(e) => s.notice(Level::Error, e.to_string()),
                }
            }
            Intent::FinishWizard(_) => s.notice(Level::Warn, "the node is already running"),
            other => s.common(other, &self.chat_backends()),
        }
    }
}

/// A reply of the wrong kind for its command: a bug, said in the status bar, not a crash.
fn unexpected(r: CommandReply) -> Update {
    tracing::error!(reply = ?r, "the engine answered a command with an unexpected reply");
    Update::Notice {
        level: Level::Error,
        text: format!("internal error: unexpected engine reply {r:?}"),
    }
}

/// One UI's chat turns and update channel; dropping it cancels the turns still running.
pub struct Session {
    chats: HashMap<(u64, u64), CancellationToken>,
    pub updates: mpsc::Sender<Update>,
    http: reqwest::Client,
}

impl Session {
    pub fn new(updates: mpsc::Sender<Update>) -> Self {
        Self {
            chats: HashMap::new(),
            updates,
            http: reqwest::Client::new(),
        }
    }

    /// Runs one piece of this UI's work; a panic in it is shown to the operator as an error.
    fn spawn(&self, what: &'static str, fut: impl Future<Output = ()> + Send + 'static) {
        let tx = self.updates.clone();
        crate::supervise::spawn_short(None, what, fut, move |why| {
            let _ = tx.try_send(Update::Notice {
                level: Level::Error,
                text: format!("internal error in {what}: {why} (see the log)"),
            });
        });
    }

    pub fn notice(&self, level: Level, text: impl Into<String>) {
        let _ = self.updates.try_send(Update::Notice {
            level,
            text: text.into(),
        });
    }

    /// Intents that need no running node: chat (configured backends, else detected ones) and
    /// backend detection.
    pub fn common(&mut self, i: Intent, configured: &Backends) {
        match i {
            Intent::SendChat {
                chat,
                turn,
                backend,
                model,
                messages,
            } => {
                let cancel = CancellationToken::new();
                self.chats.retain(|_, c| !c.is_cancelled());
                self.chats.insert((chat, turn), cancel.clone());
                let tx = self.updates.clone();
                let http = self.http.clone();
                let configured = configured.clone();
                self.spawn("chat-turn", async move {
                    chat_turn(
                        configured,
                        http,
                        backend,
                        model,
                        messages,
                        chat,
                        turn,
                        cancel.clone(),
                        tx,
                    )
                    .await;
                    cancel.cancel();
                });
            }
            Intent::CancelChat { chat, turn } => {
                if let Some(c) = self.chats.remove(&(chat, turn)) {
                    c.cancel();
                }
            }
            Intent::DetectBackends => {
                let tx = self.updates.clone();
                let http = self.http.clone();
                self.spawn("detect-backends", async move {
                    let probes =
                        backend::detect::detect(&http, &backend::detect::default_candidates(&env))
                            .await;
                    let found = probes
                        .into_iter()
                        .filter(|p| p.answered)
                        .map(|p| DetectedBackend {
                            kind: p.kind.name().to_string(),
                            url: p.url,
                            models: p.models,
                        })
                        .collect();
                    let _ = tx.send(Update::Detected(found)).await;
                });
            }
            Intent::LoadJob { .. } | Intent::RestartContainer { .. } | Intent::PullModel { .. } => {
                self.notice(Level::Warn, "the node is not running")
            }
            Intent::FinishWizard(_) => self.notice(
                Level::Warn,
                "the setup wizard runs only in `infernet tui --setup` without a daemon",
            ),
            // Refresh is the host's (nothing to publish without one); boxes are the fleet's.
            Intent::Refresh | Intent::OpenBox { .. } | Intent::Quit => {}
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (_, c) in self.chats.drain() {
            c.cancel();
        }
    }
}
