//! Background duties with retry, each a supervised task: the Docker connection (then one
//! task per managed container), the store pruner and the default model's fetch.
use crate::compute::{ContainerState, DockerContainers, StateTable};
use crate::config::Config;
use crate::store::SqliteStore;
use crate::supervise::{Backoff, Never, Supervisor};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Connects to Docker in the background, retrying with backoff; while the engine is
/// unreachable every managed container is unavailable with the reason, and the node keeps
/// serving what it can. Once connected, each container gets its own supervisor task.
pub(super) fn spawn_docker(
    sup: &Supervisor,
    config: &Config,
    states: StateTable,
    http: reqwest::Client,
) -> Arc<OnceLock<DockerContainers>> {
    let cell: Arc<OnceLock<DockerContainers>> = Arc::new(OnceLock::new());
    let (cell2, sup2) = (cell.clone(), sup.clone());
    let wait = Duration::from_secs_f64(config.startup_wait.max(0.0));
    let creds = config.docker.clone();
    let specs = config.containers.clone();
    sup.restart::<_, _, Never>("docker-connect", Backoff::default(), move |cancel| {
        let (cell, sup, creds, specs, states, http) = (
            cell2.clone(),
            sup2.clone(),
            creds.clone(),
            specs.clone(),
            states.clone(),
            http.clone(),
        );
        async move {
            let retry = Backoff::default();
            let mut failures = 0;
            loop {
                let attempt =
                    DockerContainers::connect(creds.clone(), wait, states.clone(), http.clone());
                let result = tokio::select! {
                    r = tokio::time::timeout(Duration::from_secs(10), attempt) => r,
                    _ = cancel.cancelled() => return Ok(()),
                };
                let reason = match result {
                    Ok(Ok(d)) => {
                        // Each container gets its own supervised task.
                        for spec in specs {
                            let d = d.clone();
                            sup.restart::<_, _, Never>(
                                &format!("container:{}", spec.id),
                                Backoff::default(),
                                move |token| {
                                    let fut = d.clone().supervise(spec.clone(), token);
                                    async move {
                                        fut.await;
                                        Ok(())
                                    }
                                },
                            );
                        }
                        let _ = cell.set(d);
                        return Ok(());
                    }
                    Ok(Err(reason)) => reason,
                    Err(_) => "Docker engine did not answer within 10 s".to_string(),
                };
                for c in &specs {
                    states.set(&c.id, ContainerState::Unavailable, Some(reason.clone()));
                }
                failures += 1;
                tokio::select! {
                    _ = tokio::time::sleep(retry.delay(failures)) => {},
                    _ = cancel.cancelled() => return Ok(()),
                }
            }
        }
    });
    cell
}

/// Fails stale `running` jobs and deletes expired results, every minute (or sooner for short TTLs).
pub(super) fn spawn_pruner(sup: &Supervisor, store: SqliteStore, config: &Config) {
    let ttl_ms = (config.jobs.pending_ttl * 1000.0) as i64;
    let retention_ms = (config.jobs.completed_retention * 1000.0) as i64;
    let every = Duration::from_secs_f64((config.jobs.pending_ttl / 4.0).clamp(0.5, 60.0));
    sup.restart::<_, _, Never>("store-pruner", Backoff::default(), move |cancel| {
        let store = store.clone();
        async move {
            // On failure the next try waits longer, up to 10 minutes; success resets it.
            let retry = Backoff::new(every * 2, Duration::from_secs(600));
            let mut wait = every;
            let mut failures = 0;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {},
                    _ = cancel.cancelled() => return Ok(()),
                }
                match store.prune(ttl_ms, retention_ms).await {
                    Ok(c) => {
                        failures = 0;
                        wait = every;
                        if c.expired_running > 0 || c.deleted_finished > 0 {
                            tracing::info!(expired_running = c.expired_running, deleted = c.deleted_finished, "store pruned");
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        wait = retry.delay(failures);
                        tracing::error!(error = %e, retry_in_s = wait.as_secs(), "store prune failed");
                    }
                }
            }
        }
    });
}

/// Fetches the built-in default model in the background when a backend serves it and it is
/// not on disk, retrying with backoff while the network fails. Jobs and chats on it wait for
/// the same fetch; the backend row shows its progress or why it failed.
pub(super) fn spawn_default_model(sup: &Supervisor, config: &Config) {
    use crate::backend::default_model::{self, Source};
    let env = |k: &str| std::env::var(k).ok();
    let wanted = config
        .backends
        .iter()
        .any(|b| b.kind == "embedded" && b.model == default_model::FILE);
    let Some(src) = Source::from_env(&env).filter(|s| wanted && !s.present()) else {
        return;
    };
    sup.restart::<_, _, Never>("default-model", Backoff::default(), move |cancel| {
        let src = src.clone();
        async move {
            let retry = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
            let mut failures = 0;
            loop {
                let fetch = default_model::ensure(&src, |_| {});
                let result = tokio::select! {
                    r = fetch => r,
                    _ = cancel.cancelled() => return Ok(()),
                };
                match result {
                    Ok(_) => return Ok(()),
                    // Logged and shown on the backend row; trying again cannot help.
                    Err(e) if !e.retry => return Ok(()),
                    Err(_) => {}
                }
                failures += 1;
                tokio::select! {
                    _ = tokio::time::sleep(retry.delay(failures)) => {},
                    _ = cancel.cancelled() => return Ok(()),
                }
            }
        }
    });
}
