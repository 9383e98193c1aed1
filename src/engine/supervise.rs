//! Background duties with retry: the Docker connection and the store pruner.
use crate::compute::{ContainerState, DockerContainers, StateTable};
use crate::config::Config;
use crate::store::SqliteStore;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connects to Docker in the background, retrying with backoff; while the engine is
/// unreachable every managed container is unavailable with the reason, and the node keeps
/// serving what it can. Once connected, each container gets its own supervisor task.
pub(super) fn spawn_docker(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    config: &Config,
    states: StateTable,
    http: reqwest::Client,
) -> Arc<OnceLock<DockerContainers>> {
    let cell: Arc<OnceLock<DockerContainers>> = Arc::new(OnceLock::new());
    let (cell2, cancel, tasks2) = (cell.clone(), cancel.clone(), tasks.clone());
    let wait = Duration::from_secs_f64(config.startup_wait.max(0.0));
    let creds = config.docker.clone();
    let specs = config.containers.clone();
    tasks.spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            let attempt =
                DockerContainers::connect(creds.clone(), wait, states.clone(), http.clone());
            let result = tokio::select! {
                r = tokio::time::timeout(Duration::from_secs(10), attempt) => r,
                _ = cancel.cancelled() => return,
            };
            let reason = match result {
                Ok(Ok(d)) => {
                    for spec in specs {
                        tasks2.spawn(d.clone().supervise(spec, cancel.child_token()));
                    }
                    let _ = cell2.set(d);
                    return;
                }
                Ok(Err(reason)) => reason,
                Err(_) => "Docker engine did not answer within 10 s".to_string(),
            };
            for c in &specs {
                states.set(&c.id, ContainerState::Unavailable, Some(reason.clone()));
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {},
                _ = cancel.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    });
    cell
}

/// Fails stale `running` jobs and deletes expired results, every minute (or sooner for short TTLs).
pub(super) fn spawn_pruner(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    store: SqliteStore,
    config: &Config,
) {
    let ttl_ms = (config.jobs.pending_ttl * 1000.0) as i64;
    let retention_ms = (config.jobs.completed_retention * 1000.0) as i64;
    let every = Duration::from_secs_f64((config.jobs.pending_ttl / 4.0).clamp(0.5, 60.0));
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let mut backoff = every;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {},
                _ = cancel.cancelled() => return,
            }
            match store.prune(ttl_ms, retention_ms).await {
                Ok(c) => {
                    backoff = every;
                    if c.expired_running > 0 || c.deleted_finished > 0 {
                        tracing::info!(expired_running = c.expired_running, deleted = c.deleted_finished, "store pruned");
                    }
                }
                Err(e) => {
                    backoff = (backoff * 2).min(Duration::from_secs(600));
                    tracing::error!(error = %e, retry_in_s = backoff.as_secs(), "store prune failed");
                }
            }
        }
    });
}

/// Fetches the built-in default model in the background when a backend serves it and it is
/// not on disk, retrying with backoff while the network fails. Jobs and chats on it wait for
/// the same fetch; the backend row shows its progress or why it failed.
pub(super) fn spawn_default_model(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    config: &Config,
) {
    use crate::backend::default_model::{self, Source};
    let env = |k: &str| std::env::var(k).ok();
    let wanted = config
        .backends
        .iter()
        .any(|b| b.kind == "embedded" && b.model == default_model::FILE);
    let Some(src) = Source::from_env(&env).filter(|s| wanted && !s.present()) else {
        return;
    };
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let mut backoff = Duration::from_secs(5);
        loop {
            let fetch = default_model::ensure(&src, |_| {});
            let result = tokio::select! {
                r = fetch => r,
                _ = cancel.cancelled() => return,
            };
            match result {
                Ok(_) => return,
                // Logged and shown on the backend row; trying again cannot help.
                Err(e) if !e.retry => return,
                Err(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {},
                _ = cancel.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(300));
        }
    });
}
