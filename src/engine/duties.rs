//! Background duties with retry, each a supervised task: the store pruner and the default
//! model's fetch.
use crate::backend::Backends;
use crate::config::Config;
use crate::store::SqliteStore;
use crate::supervise::{Backoff, Never, Supervisor};
use infernet_core::view::model::BackendsView;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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

/// Probes the configured backends every 15 s (state, models); the UI and `/metrics` read the
/// watch. Nothing runs when none is configured.
pub(super) fn spawn_backend_probe(
    sup: &Supervisor,
    backends: &Backends,
) -> watch::Receiver<BackendsView> {
    let (tx, rx) = watch::channel(BackendsView::default());
    if backends.all().is_empty() {
        return rx;
    }
    let (tx, backends) = (Arc::new(tx), backends.clone());
    sup.restart::<_, _, Never>("backend-probe", Backoff::default(), move |cancel| {
        let (tx, backends) = (tx.clone(), backends.clone());
        async move {
            crate::view::tasks::backend_probe(backends, &tx, cancel).await;
            Ok(())
        }
    });
    rx
}
