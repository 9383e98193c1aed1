//! The bridge's tasks: start (or set up, then start) the node, publish the model, serve
//! intents. Runs beside the terminal loop; never blocks it.
use super::expose::{Exposed, expose};
use super::setup;
use infernet::backend::Backends;
use infernet::config::{self, Config, Overrides, Source};
use infernet::engine::Engine;
use infernet::logging::LogRing;
use infernet::view::{Host, Session};
use infernet_ui::App;
use infernet_ui::intent::{Intent, Update};
use infernet_ui::keymap::Keymap;
use infernet_ui::model::{self as ui, Level};
use infernet_ui::run::{Channels, Options as RunOptions};
use infernet_ui::theme::{Depth, Theme};
use infernet_ui::wizard::WizardState;
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
    /// Host the node in this process even when a daemon runs (never attach).
    pub in_process: bool,
    /// How often the screen gets a new model (`--refresh MS`); `r` refreshes at once.
    pub refresh: Duration,
    /// Boxes to watch over ssh (`--host`).
    pub hosts: Vec<String>,
    /// Also the boxes of `ui.fleet`.
    pub fleet: bool,
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

/// Before the screen is taken: fetch the built-in default model with a progress bar when a
/// backend serves it and it is not on disk. On failure the node starts anyway; it keeps
/// retrying in the background and the backend row says why.
async fn prefetch_default_model(c: &Config) {
    use infernet::backend::default_model::{FILE, Source};
    let wanted = c
        .backends
        .iter()
        .any(|b| b.kind == "embedded" && b.model == FILE);
    let Some(src) = Source::from_env(&env).filter(|s| wanted && !s.present()) else {
        return;
    };
    if let Err(e) = crate::term::fetch_default_model(&src, false).await {
        eprintln!("warning: {e}; the node starts without it and keeps trying");
    }
}

fn host_name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|| "infernet-node".into())
}

enum Start {
    Node(Box<Config>, String),
    Wizard(PathBuf),
    /// A daemon runs: show it through its socket.
    Attach(PathBuf),
    /// Daemons on other boxes, over ssh.
    Fleet(Vec<infernet::daemon::tunnel::Target>),
}

/// The boxes of `--host` and (with `--fleet`) `ui.fleet`, checked.
fn fleet_targets(
    flag: Option<&Path>,
    opts: &Options,
) -> Result<Vec<infernet::daemon::tunnel::Target>, String> {
    let mut specs = Vec::new();
    if opts.fleet {
        let l = config::load(flag, &Overrides::default()).map_err(|e| e.to_string())?;
        if l.config.ui.fleet.is_empty() && opts.hosts.is_empty() {
            return Err(format!(
                "--fleet: {} lists no boxes in ui.fleet (e.g. \"ui\": {{\"fleet\": [\"op@gpu-1\"]}})",
                l.source
            ));
        }
        specs.extend(l.config.ui.fleet);
    }
    specs.extend(opts.hosts.iter().cloned());
    specs
        .iter()
        .map(|s| infernet::daemon::tunnel::Target::parse(s).map_err(|e| e.to_string()))
        .collect()
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
    let fleet = match fleet_targets(flag, &opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let daemon_sock = infernet::daemon::Paths::from_env()
        .ok()
        .map(|p| p.sock)
        .filter(|s| !opts.in_process && !opts.setup && super::attach::daemon_answers(s));
    let start = if !fleet.is_empty() {
        Start::Fleet(fleet)
    } else if let Some(sock) = daemon_sock {
        Start::Attach(sock)
    } else if opts.setup
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
        Start::Attach(_) | Start::Fleet(_) => config::load(flag, &Overrides::default())
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
        // Attached: the daemon logs; this process only shows its ring.
        Start::Wizard(_) | Start::Attach(_) | Start::Fleet(_) => config::LogConfig {
            path: String::new(),
            ..Default::default()
        },
    };
    let ring = LogRing::new(5000);
    if let Err(e) = infernet::logging::init_tui(&log_cfg, &ring) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match crate::term::runtime(None) {
        Ok(r) => r,
        Err(c) => return c,
    };
    if let Start::Node(c, _) = &start {
        runtime.block_on(prefetch_default_model(c));
    }
    let node_name = if ui_cfg.node_name.is_empty() {
        host_name()
    } else {
        ui_cfg.node_name.clone()
    };
    let mut app = App::new(theme, keymap);
    if let Start::Wizard(p) = &start {
        app = app.with_wizard(WizardState::new(&p.display().to_string(), &node_name));
    }
    if matches!(start, Start::Fleet(_)) {
        app.view = infernet_ui::app::View::Full(infernet_ui::app::Panel::Fleet);
    }
    let mouse = ui_cfg.mouse && !opts.no_mouse;
    runtime.block_on(async move {
        let (model_tx, model_rx) = watch::channel(Arc::new(ui::Model::default()));
        let (update_tx, update_rx) = mpsc::channel::<Update>(256);
        let (intent_tx, intent_rx) = mpsc::channel::<Intent>(64);
        // The link to the node(s) runs beside the UI: a panic there is logged and shown in
        // the status bar, never a screen that silently stops changing.
        let notices = update_tx.clone();
        let on_panic = move |why: String| {
            let _ = notices.try_send(Update::Notice {
                level: Level::Error,
                text: format!(
                    "the link to the node stopped ({why}); quit and start infernet tui again"
                ),
            });
        };
        type Link = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
        let spawn = |fut: Link| infernet::supervise::spawn_short(None, "tui-bridge", fut, on_panic);
        let bridge_task = if let Start::Fleet(targets) = &start {
            tracing::info!(boxes = targets.len(), "watching a fleet over ssh");
            spawn(Box::pin(super::fleet::drive(
                targets.clone(),
                opts.refresh,
                model_tx,
                update_tx,
                intent_rx,
            )))
        } else if let Start::Attach(sock) = &start {
            tracing::info!(socket = %sock.display(), "attached to the daemon");
            spawn(Box::pin(super::attach::drive(
                sock.clone(),
                opts.refresh,
                model_tx,
                update_tx,
                intent_rx,
            )))
        } else {
            let bridge = Bridge {
                refresh: opts.refresh,
                model: model_tx,
                session: Session::new(update_tx),
                ring,
                node_name,
                wizard_target: match &start {
                    Start::Wizard(p) => Some(p.clone()),
                    _ => None,
                },
            };
            spawn(Box::pin(bridge.drive(start, intent_rx)))
        };
        let task = bridge_task;
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
    refresh: Duration,
    model: watch::Sender<Arc<ui::Model>>,
    session: Session,
    ring: LogRing,
    node_name: String,
    /// Where the wizard writes the config (None when a config was loaded).
    wizard_target: Option<PathBuf>,
}

impl Bridge {
    async fn start_node(&self, config: Config, source: String) -> Option<Arc<Host>> {
        match Engine::start(config.clone()).await {
            Ok(handle) => {
                tracing::info!(config = %source, "node started in the TUI");
                Some(Arc::new(Host {
                    handle: Arc::new(handle),
                    config,
                    source,
                    node_name: self.node_name.clone(),
                    ring: self.ring.clone(),
                    recorder: Default::default(),
                    refresh: Default::default(),
                }))
            }
            Err(e) => {
                tracing::error!("{e}");
                self.session
                    .notice(Level::Error, format!("the node could not start: {e}"));
                None
            }
        }
    }

    /// Publishes the node's model and makes it visible to `infernet status`/`stop`/attach.
    fn go_live(&self, h: &Arc<Host>, publishing: &CancellationToken) -> Option<Exposed> {
        h.supervise_publish(
            self.model.clone(),
            ui::Mode::InProcess,
            self.refresh,
            publishing.clone(),
        );
        match expose(h.clone(), self.model.clone()) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!("{e}");
                self.session.notice(Level::Warn, e);
                None
            }
        }
    }

    async fn drive(mut self, start: Start, mut intents: mpsc::Receiver<Intent>) {
        let mut node = match start {
            Start::Node(c, src) => self.start_node(*c, src).await,
            Start::Wizard(_) | Start::Attach(_) | Start::Fleet(_) => None,
        };
        let publishing = CancellationToken::new();
        let mut exposed = node.as_ref().and_then(|h| self.go_live(h, &publishing));
        loop {
            let stop_asked = async {
                match &exposed {
                    Some(e) => e.shutdown.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let i = tokio::select! {
                i = intents.recv() => i,
                _ = stop_asked => {
                    tracing::info!("stopped with `infernet stop`; leaving the TUI");
                    let _ = self.session.updates.send(Update::Quit).await;
                    break;
                }
            };
            let Some(i) = i else { break };
            match (i, &node) {
                (Intent::Quit, _) => break,
                (Intent::FinishWizard(a), None) => {
                    if let Some(h) = self.finish_wizard(&a).await {
                        exposed = self.go_live(&h, &publishing);
                        node = Some(h);
                    }
                }
                (i, Some(h)) => h.intent(i, &mut self.session).await,
                (i, None) => self.session.common(i, &Backends::default()),
            }
        }
        publishing.cancel();
        drop(self.session);
        if let Some(h) = node {
            let _ = h
                .handle
                .command(infernet::engine::EngineCommand::Shutdown)
                .await;
        }
        // The socket goes with `shutdown`; the pid lock when `exposed` drops, after the node.
        if let Some(e) = exposed {
            e.shutdown.cancel();
        }
    }

    async fn finish_wizard(&mut self, a: &infernet_ui::wizard::Answers) -> Option<Arc<Host>> {
        let target = self.wizard_target.clone()?;
        let updates = self.session.updates.clone();
        let secrets_dir = config::config_dir(&env).unwrap_or_else(|| PathBuf::from("."));
        let report = match setup::apply(&target, &secrets_dir, a) {
            Ok(r) => r,
            Err(e) => {
                let _ = updates.send(Update::WizardResult(Err(e))).await;
                return None;
            }
        };
        let loaded = match config::load(Some(&target), &Overrides::default()) {
            Ok(l) => l,
            Err(e) => {
                let _ = updates.send(Update::WizardResult(Err(e.to_string()))).await;
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
                let _ = updates
                    .send(Update::WizardResult(Ok(target.display().to_string())))
                    .await;
                for r in report {
                    tracing::info!("{r}");
                }
            }
            None => {
                let _ = updates
                    .send(Update::WizardResult(Err("the config was written but the node could not start; see the message below".into())))
                    .await;
            }
        }
        node
    }
}
