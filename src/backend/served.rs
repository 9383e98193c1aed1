//! What this node serves: every model its backends list that fits this box, each with the
//! backend that serves it (the first that lists it). The control-plane agent and the p2p
//! ads both advertise exactly this.
use super::{Backends, ChatBackend};
use std::sync::Arc;
use std::time::Duration;

/// A backend's model list may take this long; one that does not answer lists nothing.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn list(backends: &Backends) -> Vec<(String, Arc<dyn ChatBackend>)> {
    let mem = crate::system::Memory::probe();
    let mut by_model: Vec<(String, Arc<dyn ChatBackend>)> = Vec::new();
    for b in backends.all() {
        let mut names: Vec<String> = Vec::new();
        match tokio::time::timeout(LIST_TIMEOUT, b.models()).await {
            Ok(Ok(models)) => {
                for m in models {
                    // Only what fits this box (unknown sizes pass).
                    if mem.fits(m.size_bytes) != Some(false) {
                        names.push(m.name);
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(backend = %b.id(), error = %e, "backend lists no models"),
            Err(_) => tracing::debug!(backend = %b.id(), "backend model list timed out"),
        }
        // Only what the backend itself lists: a configured name it does not list (or a
        // backend that does not answer) would take jobs that then fail.
        for n in names {
            if !by_model.iter().any(|(m, _)| *m == n) {
                by_model.push((n, b.clone()));
            }
        }
    }
    by_model
}
