//! The bridge's tasks: start (or set up, then start) the node, publish the model, serve
//! intents. Runs beside the terminal loop; never blocks it.
use super::model::{self as map, SystemHistory};
use super::setup;
use super::tasks::{chat_turn, job_detail, pull, spawn_backend_probe, spawn_sampler};
use crate::backend;
use crate::config::{self, Config, Overrides, Source};
use crate::engine::{Engine, EngineHandle};
use crate::logging::LogRing;
use crate::store::now_ms;
use infernet_ui::App;
use infernet_ui::intent::{DetectedBackend, Intent, Update};
use infernet_ui::keymap::Keymap;
use infernet_ui::model::{self as ui, Level};
use infernet_ui::run::{Channels, Options as RunOptions};
use infernet_ui::theme::{Depth, Theme};
use infernet_ui::wizard::WizardState;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub theme: Option<String>,
    /// Run on the built-in defaults when no config file exists (no wizard).
    pub defaults: bool,
    /// Open the wizard even when a config exists (it updates that file).
    pub setup: bool,
    pub no_mouse: bool,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Where the wizard writes: `--config`, `INFERNET_CONFIG_PATH`, else the user config dir.
fn wizard_target(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = env("INFERNET_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    config::config_dir(&env)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("config.json")
}

fn host_name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|| "infernet-node".into())
}

enum Start {
    Node(Box<Config>, String),
    Wizard(PathBuf),
}

pub fn run(flag: Option<&Path>, opts: Options) -> ExitCode {
    let located = match config::locate(flag, &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let missing_flag_file = matches!(&located, Source::File(p) if !p.exists());
    let start = if opts.setup
        || missing_flag_file
        || (matches!(located, Source::Defaults { .. }) && !opts.defaults)
    {
        match &located {
            Source::File(p) => Start::Wizard(p.clone()),
            Source::Defaults { .. } => Start::Wizard(wizard_target(flag)),
        }
    } else {
        match config::load(flag, &Overrides::default()) {
            Ok(l) => {
                for w in &l.warnings {
                    eprintln!("warning: {w}");
                }
                Start::Node(Box::new(l.config), l.source.to_string())
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let ui_cfg = match &start {
        Start::Node(c, _) => c.ui.clone(),
        Start::Wizard(p) => config::load(Some(p), &Overrides::default())
            .map(|l| l.config.ui)
            .unwrap_or_default(),
    };
    let theme_name = opts.theme.clone().unwrap_or(ui_cfg.theme.clone());
    let user_themes = config::config_dir(&env).map(|d| d.join("themes"));
    let theme = match Theme::load(&theme_name, user_themes.as_deref()) {
        Ok(t) => t.with_depth(Depth::detect(&env)),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (keymap, key_problems) = Keymap::with_overrides(&ui_cfg.keys);
    for p in &key_problems {
        eprintln!("warning: {p}");
    }
    let log_cfg = match &start {
        Start::Node(c, _) => c.log.clone(),
        Start::Wizard(_) => Default::default(),
    };
    let ring = LogRing::new(5000);
    if let Err(e) = crate::logging::init_tui(&log_cfg, &ring) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node_name = if ui_cfg.node_name.is_empty() {
        host_name()
    } else {
        ui_cfg.node_name.clone()
    };
    let mut app = App::new(theme, keymap);
    if let Start::Wizard(p) = &start {
        app = app.with_wizard(WizardState::new(&p.display().to_string(), &node_name));
    }
    let mouse = ui_cfg.mouse && !opts.no_mouse;
    runtime.block_on(async move {
        let (model_tx, model_rx) = watch::channel(Arc::new(ui::Model::default()));
        let (update_tx, update_rx) = mpsc::channel::<Update>(256);
        let (intent_tx, intent_rx) = mpsc::channel::<Intent>(64);
        let bridge = Bridge {
            model: model_tx,
            updates: update_tx,
            ring,
            node_name,
            chats: HashMap::new(),
            http: reqwest::Client::new(),
            wizard_target: match &start {
                Start::Wizard(p) => Some(p.clone()),
                Start::Node(..) => None,
            },
        };
        let task = tokio::spawn(bridge.drive(start, intent_rx));
        let ui_result = infernet_ui::run::run(
            app,
            Channels {
                model: model_rx,
                updates: update_rx,
                intents: intent_tx,
            },
            RunOptions { mouse },
        )
        .await;
        // stderr may be the terminal that just went away: write, never `eprintln!` (it panics).
        use std::io::Write as _;
        let mut err = std::io::stderr();
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the node bridge stopped");
                let _ = writeln!(err, "error: the node bridge stopped: {e}");
            }
            Err(_) => {
                tracing::warn!("the node did not stop within 30 s");
                let _ = writeln!(err, "warning: the node did not stop within 30 s");
            }
        }
        match ui_result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "terminal");
                let _ = writeln!(err, "error: terminal: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

struct Bridge {
    model: watch::Sender<Arc<ui::Model>>,
    updates: mpsc::Sender<Update>,
    ring: LogRing,
    node_name: String,
    chats: HashMap<(u64, u64), CancellationToken>,
    http: reqwest::Client,
    /// Where the wizard writes the config (None when a config was loaded).
    wizard_target: Option<PathBuf>,
}

struct Node {
    handle: EngineHandle,
    config: Config,
    source: String,
}

impl Bridge {
    fn notice(&self, level: Level, text: impl Into<String>) {
        let _ = self.updates.try_send(Update::Notice {
            level,
            text: text.into(),
        });
    }

    async fn start_node(&self, config: Config, source: String) -> Option<Node> {
        match Engine::start(config.clone()).await {
            Ok(handle) => {
                tracing::info!(config = %source, "node started in the TUI");
                Some(Node {
                    handle,
                    config,
                    source,
                })
            }
            Err(e) => {
                tracing::error!("{e}");
                self.notice(Level::Error, format!("the node could not start: {e}"));
                None
            }
        }
    }

    async fn drive(mut self, start: Start, mut intents: mpsc::Receiver<Intent>) {
        let mut node = match start {
            Start::Node(c, src) => self.start_node(*c, src).await,
            Start::Wizard(_) => None,
        };
        let samples = spawn_sampler();
        let backends_view = watch::channel(ui::BackendsView::default());
        let mut backend_task: Option<CancellationToken> = None;
        let mut history = SystemHistory::default();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut jobs_cache: Vec<ui::JobRow> = Vec::new();
        let mut last_counts = (u64::MAX, u64::MAX, u64::MAX);
        let mut last_jobs_read: Option<std::time::Instant> = None;
        let (mut logs_gen, mut logs_cache) = (u64::MAX, Vec::new());
        loop {
            if let Some(n) = &node
                && backend_task.is_none()
            {
                let cancel = CancellationToken::new();
                spawn_backend_probe(
                    n.handle.backends().clone(),
                    backends_view.0.clone(),
                    cancel.clone(),
                );
                backend_task = Some(cancel);
            }
            tokio::select! {
                _ = tick.tick() => {}
                i = intents.recv() => match i {
                    None | Some(Intent::Quit) => break,
                    Some(i) => {
                        if let Some(n) = self.intent(i, node.as_ref()).await {
                            node = Some(n);
                        }
                        continue;
                    }
                },
            }
            let Some(n) = &node else { continue };
            let snap = n.handle.snapshot().borrow().clone();
            let counts = (snap.jobs_running, snap.jobs_succeeded, snap.jobs_failed);
            // Re-read the job list when counters move, while jobs run, or every 5 s.
            if counts != last_counts
                || snap.jobs_running > 0
                || last_jobs_read.is_none_or(|t| t.elapsed() > Duration::from_secs(5))
            {
                match n.handle.store().recent(1000).await {
                    Ok(rows) => jobs_cache = map::job_rows(&rows, &n.handle.jobs().streaming()),
                    Err(e) => tracing::warn!(error = %e, "cannot read recent jobs"),
                }
                last_counts = counts;
                last_jobs_read = Some(std::time::Instant::now());
            }
            let g = self.ring.generation();
            if g != logs_gen {
                logs_cache = map::logs(&self.ring.lines());
                logs_gen = g;
            }
            let (host, gpus) = samples.borrow().clone();
            let mut backends = backends_view.1.borrow().clone();
            if n.config.backends.is_empty() && backends.rows.is_empty() {
                backends.note = Some("Chat uses a server found on this machine when none is configured (Ollama :11434, vLLM :8000, SGLang :30000, llama.cpp :8080).".into());
            }
            let m = ui::Model {
                now_ms: now_ms(),
                header: map::header(&snap, &self.node_name, &n.source),
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
                peers: ui::PeersView::NotConfigured {
                    how: "No control plane is configured, so there are no peers to show.\n\
                          Peers (other nodes registered with the same control plane, their models and load)\n\
                          appear here once this node registers with one (`infernet register`, control-plane support)."
                        .into(),
                },
                logs: logs_cache.clone(),
            };
            self.model.send_replace(Arc::new(m));
        }
        if let Some(c) = backend_task {
            c.cancel();
        }
        for (_, c) in self.chats.drain() {
            c.cancel();
        }
        if let Some(n) = node {
            n.handle.shutdown().await;
        }
    }

    /// Carries out one intent; returns a node when the wizard started one.
    async fn intent(&mut self, i: Intent, node: Option<&Node>) -> Option<Node> {
        match i {
            Intent::SendChat {
                chat,
                turn,
                backend,
                model,
                messages,
            } => {
                let configured = node
                    .map(|n| n.handle.backends().clone())
                    .unwrap_or_default();
                let cancel = CancellationToken::new();
                self.chats.retain(|_, c| !c.is_cancelled());
                self.chats.insert((chat, turn), cancel.clone());
                let tx = self.updates.clone();
                let http = self.http.clone();
                tokio::spawn(async move {
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
            Intent::LoadJob { id } => {
                let Some(n) = node else {
                    self.notice(Level::Warn, "the node is not running");
                    return None;
                };
                let tx = self.updates.clone();
                let store = n.handle.store().clone();
                tokio::spawn(async move {
                    let detail = job_detail(&store, &id).await;
                    match detail {
                        Ok(d) => {
                            let _ = tx.send(Update::JobDetail(Box::new(d))).await;
                        }
                        Err(e) => {
                            let _ = tx
                                .send(Update::Notice {
                                    level: Level::Error,
                                    text: e,
                                })
                                .await;
                        }
                    }
                });
            }
            Intent::RestartContainer { id } => {
                let Some(n) = node else {
                    self.notice(Level::Warn, "the node is not running");
                    return None;
                };
                match n.handle.restart_container(&id).await {
                    Ok(()) => self.notice(
                        Level::Info,
                        format!("restarting '{id}'; it takes jobs again once it answers"),
                    ),
                    Err(e) => self.notice(Level::Error, e),
                }
            }
            Intent::PullModel { backend, model } => {
                let Some(b) = node.and_then(|n| n.handle.backends().get(&backend)) else {
                    self.notice(Level::Error, format!("no configured backend '{backend}'"));
                    return None;
                };
                let tx = self.updates.clone();
                tokio::spawn(pull(b, model, tx));
            }
            Intent::DetectBackends => {
                let tx = self.updates.clone();
                let http = self.http.clone();
                tokio::spawn(async move {
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
            Intent::FinishWizard(a) if node.is_none() => return self.finish_wizard(&a).await,
            Intent::FinishWizard(_) => self.notice(Level::Warn, "the node is already running"),
            Intent::Quit => {}
        }
        None
    }

    async fn finish_wizard(&mut self, a: &infernet_ui::wizard::Answers) -> Option<Node> {
        let target = self.wizard_target.clone()?;
        let secrets_dir = config::config_dir(&env).unwrap_or_else(|| PathBuf::from("."));
        let report = match setup::apply(&target, &secrets_dir, a) {
            Ok(r) => r,
            Err(e) => {
                let _ = self.updates.send(Update::WizardResult(Err(e))).await;
                return None;
            }
        };
        let loaded = match config::load(Some(&target), &Overrides::default()) {
            Ok(l) => l,
            Err(e) => {
                let _ = self
                    .updates
                    .send(Update::WizardResult(Err(e.to_string())))
                    .await;
                return None;
            }
        };
        if !a.node_name.is_empty() {
            self.node_name = a.node_name.clone();
        }
        let node = self
            .start_node(loaded.config, target.display().to_string())
            .await;
        match &node {
            Some(_) => {
                let _ = self
                    .updates
                    .send(Update::WizardResult(Ok(target.display().to_string())))
                    .await;
                for r in report {
                    tracing::info!("{r}");
                }
            }
            None => {
                let _ = self
                    .updates
                    .send(Update::WizardResult(Err("the config was written but the node could not start; see the message below".into())))
                    .await;
            }
        }
        node
    }
}
