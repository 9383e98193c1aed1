//! `infernet start` (detached daemon, or `--foreground` for systemd) and `restart`.
use clap::Args;
use infernet::config::{self, Overrides, Source};
use infernet::daemon::lock::{LockError, PidLock, PidState};
use infernet::daemon::server::{Daemon, bind, supervise};
use infernet::daemon::{Paths, ipc, lock, spawn};
use infernet::engine::Engine;
use infernet::identity::Secrets;
use infernet::logging::LogRing;
use infernet::store::now_ms;
use infernet::view::Host;
use infernet_core::view::model as ui;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Stay in the foreground (for systemd, containers and debugging); otherwise the node
    /// runs in the background and `infernet stop` stops it
    #[arg(long, env = "INFERNET_DAEMON_FOREGROUND", value_parser = clap::builder::FalseyValueParser::new())]
    pub foreground: bool,
    /// REST API port (overrides server.port and INFERNET_SERVER_PORT)
    #[arg(long)]
    pub port: Option<u16>,
    /// REST API bind address (overrides server.bind and INFERNET_SERVER_BIND)
    #[arg(long)]
    pub bind: Option<String>,
    /// SQLite store file (overrides store.path and INFERNET_STORE_PATH)
    #[arg(long, value_name = "FILE")]
    pub store: Option<String>,
    /// JSON log file (overrides log.path and INFERNET_LOG_PATH)
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<String>,
    /// Seconds to wait for a background start to answer
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
    /// Internal: this process is the background daemon (log to daemon.log)
    #[arg(long, hide = true)]
    pub detached: bool,
}

pub fn paths() -> Result<Paths, ExitCode> {
    Paths::from_env().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn overrides(args: &StartArgs) -> Overrides {
    Overrides {
        port: args.port,
        bind: args.bind.clone(),
        store_path: args.store.clone(),
        log_path: args.log_file.clone(),
    }
}

/// Why a start is refused, or None when no daemon runs.
pub(super) async fn running_reason(paths: &Paths) -> Option<String> {
    if ipc::alive(&paths.sock).await {
        let pid = match lock::inspect(&paths.pid) {
            PidState::Running(Some(p)) => format!(" (pid {p})"),
            _ => String::new(),
        };
        return Some(format!(
            "a daemon is already running{pid} for {}: `infernet status` shows it; `infernet stop` or `infernet restart`",
            paths.dir.display()
        ));
    }
    if let PidState::Running(pid) = lock::inspect(&paths.pid) {
        return Some(format!(
            "a daemon (pid {}) holds {} but does not answer on its socket; `infernet stop --force` ends it",
            pid.map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
            paths.pid.display()
        ));
    }
    None
}

pub fn start(flag: Option<&Path>, args: StartArgs) -> ExitCode {
    let paths = match paths() {
        Ok(p) => p,
        Err(c) => return c,
    };
    // Config errors belong in the operator's terminal, so check before detaching.
    let loaded = match config::load(flag, &overrides(&args)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.foreground {
        return foreground(loaded, &paths, args.detached);
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let rt = match super::runtime(None) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(start_background(flag, &args, &paths))
}

pub(super) async fn start_background(
    flag: Option<&Path>,
    args: &StartArgs,
    paths: &Paths,
) -> ExitCode {
    if let Some(why) = running_reason(paths).await {
        eprintln!("error: {why}");
        return ExitCode::FAILURE;
    }
    let mut child: Vec<OsString> = Vec::new();
    if let Some(f) = flag {
        let abs = std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf());
        child.extend(["--config".into(), abs.into_os_string()]);
    }
    child.extend(["start".into(), "--foreground".into(), "--detached".into()]);
    if let Some(p) = args.port {
        child.extend(["--port".into(), p.to_string().into()]);
    }
    for (flag, v) in [
        ("--bind", &args.bind),
        ("--store", &args.store),
        ("--log-file", &args.log_file),
    ] {
        if let Some(v) = v {
            child.extend([flag.into(), v.into()]);
        }
    }
    match spawn::detach(&child, paths, Duration::from_secs(args.wait)).await {
        Ok(pid) => {
            let rest = ipc::call(
                &paths.sock,
                "status",
                serde_json::Value::Null,
                Duration::from_secs(3),
            )
            .await
            .ok()
            .and_then(|s| s.get("rest").and_then(|r| r.as_str()).map(str::to_string));
            outln!("infernet: the node is running in the background (pid {pid})");
            if let Some(r) = rest {
                outln!("  REST API   http://{r}");
            }
            outln!(
                "  log        {}   (`infernet logs -f`)",
                paths.log.display()
            );
            outln!("  stop       infernet stop      dashboard: infernet tui");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn host_name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|| "infernet-node".into())
}

/// The daemon itself: pid lock, logging, engine, IPC socket, until a signal or `shutdown`.
fn foreground(loaded: config::Loaded, paths: &Paths, detached: bool) -> ExitCode {
    if let Err(e) = paths.ensure_dir() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let pid_lock = match PidLock::acquire(&paths.pid) {
        Ok(l) => l,
        Err(LockError::Held { pid }) => {
            eprintln!(
                "error: a daemon is already running (pid {}) for {}: `infernet status` shows it; `infernet stop` or `infernet restart`",
                pid.map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                paths.dir.display()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ring = LogRing::new(5000);
    let daemon_log = detached.then_some(paths.log.as_path());
    if let Err(e) = infernet::logging::init_daemon(&loaded.config.log, daemon_log, &ring) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let source = loaded.source.to_string();
    match &loaded.source {
        Source::File(p) => {
            tracing::info!(config = %p.display(), pid = std::process::id(), "daemon starting")
        }
        Source::Defaults { searched } => tracing::warn!(
            searched = ?searched,
            "no config file found; running on built-in defaults (no containers)"
        ),
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let rt = match super::runtime(None) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let code = rt.block_on(async move {
        let listener = match bind(&paths.sock) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let config = loaded.config;
        let handle = match Engine::start(config.clone()).await {
            Ok(h) => Arc::new(h),
            Err(e) => {
                tracing::error!("{e}");
                let _ = std::fs::remove_file(&paths.sock);
                return ExitCode::FAILURE;
            }
        };
        let public_key = infernet::identity::node_key::load(&Secrets::new(&paths.dir))
            .ok()
            .flatten()
            .map(|i| i.public_key);
        let node_name = if config.ui.node_name.is_empty() {
            host_name()
        } else {
            config.ui.node_name.clone()
        };
        let host = Arc::new(Host {
            handle: handle.clone(),
            config,
            source,
            node_name,
            ring,
            recorder: Default::default(),
            refresh: Default::default(),
        });
        let (model, _) = tokio::sync::watch::channel(Arc::new(ui::Model::default()));
        let d = Arc::new(Daemon {
            host: host.clone(),
            paths: paths.clone(),
            started_at_ms: now_ms(),
            shutdown: CancellationToken::new(),
            model: model.clone(),
            public_key,
            log_file: detached.then(|| paths.log.display().to_string()),
            managed_by: if detached {
                "infernet start".into()
            } else {
                infernet::daemon::server::foreground_manager()
            },
        });
        let publishing = CancellationToken::new();
        // Every 500 ms; a TUI asks for less with --refresh, and `r` publishes at once.
        host.supervise_publish(
            model,
            ui::Mode::Attached,
            std::time::Duration::from_millis(500),
            publishing.clone(),
        );
        supervise(handle.supervisor(), listener, d.clone());
        tracing::info!(socket = %paths.sock.display(), rest = %handle.rest_addr(), "daemon ready");
        let mut code = ExitCode::SUCCESS;
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = d.shutdown.cancelled() => {}
            reason = handle.failed() => {
                tracing::error!(%reason, "the node stopped");
                code = ExitCode::FAILURE;
            }
        }
        d.shutdown.cancel();
        publishing.cancel();
        let _ = handle
            .command(infernet::engine::EngineCommand::Shutdown)
            .await;
        code
    });
    drop(pid_lock);
    code
}

pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still works");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
