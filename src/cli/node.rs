//! `infernet start`: the headless node.
use crate::config::{self, Overrides, Source};
use crate::engine::Engine;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Stay in the foreground (the only mode until the daemon lands; use it under systemd)
    #[arg(long)]
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
}

pub fn start(flag: Option<&Path>, args: StartArgs) -> ExitCode {
    if !args.foreground {
        eprintln!(
            "error: running in the background is not available in this version; run `infernet start --foreground` (under systemd, tmux or nohup)"
        );
        return ExitCode::from(2);
    }
    let overrides = Overrides {
        port: args.port,
        bind: args.bind,
        store_path: args.store,
        log_path: args.log_file,
    };
    let loaded = match config::load(flag, &overrides) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::logging::init(&loaded.config.log, true) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match &loaded.source {
        Source::File(p) => tracing::info!(config = %p.display(), "config loaded"),
        Source::Defaults { searched } => tracing::warn!(
            searched = ?searched,
            "no config file found; running on built-in defaults (no containers)"
        ),
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let handle = match Engine::start(loaded.config).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
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
