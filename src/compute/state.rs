//! The live state of every configured container, shared by the Docker manager (writer) and
//! the job service, REST API and engine snapshot (readers).
use serde::Serialize;
use std::collections::BTreeMap;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Image pull, create or start in progress, or waiting for the first answer.
    Starting,
    Ready,
    /// Died and is being brought back.
    Restarting,
    /// Cannot run (image missing, Docker unreachable, start failed): `reason` says why.
    Unavailable,
    /// Stopped by the node at shutdown.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerStatus {
    pub id: String,
    pub state: ContainerState,
    pub reason: Option<String>,
    pub image: String,
    pub port: u16,
    pub managed: bool,
    pub restarts: u32,
    pub description: String,
    pub external: bool,
}

/// `watch` of the whole table: readers see the latest state without locking writers out.
#[derive(Clone)]
pub struct StateTable {
    tx: watch::Sender<BTreeMap<String, ContainerStatus>>,
    /// Config order, so listings match the operator's file.
    order: std::sync::Arc<Vec<String>>,
}

impl StateTable {
    pub fn new(initial: impl IntoIterator<Item = ContainerStatus>) -> Self {
        let list: Vec<ContainerStatus> = initial.into_iter().collect();
        let order = std::sync::Arc::new(list.iter().map(|s| s.id.clone()).collect());
        let map = list.into_iter().map(|s| (s.id.clone(), s)).collect();
        Self {
            tx: watch::Sender::new(map),
            order,
        }
    }

    pub fn get(&self, id: &str) -> Option<ContainerStatus> {
        self.tx.borrow().get(id).cloned()
    }

    pub fn all(&self) -> Vec<ContainerStatus> {
        let map = self.tx.borrow();
        self.order
            .iter()
            .filter_map(|id| map.get(id).cloned())
            .collect()
    }

    pub fn subscribe(&self) -> watch::Receiver<BTreeMap<String, ContainerStatus>> {
        self.tx.subscribe()
    }

    /// Sets state and reason; logs transitions once.
    pub fn set(&self, id: &str, state: ContainerState, reason: Option<String>) {
        self.tx.send_if_modified(|m| match m.get_mut(id) {
            Some(s) if s.state != state || s.reason != reason => {
                match (&state, &reason) {
                    (ContainerState::Unavailable, Some(r)) => {
                        tracing::error!(container = id, reason = %r, "container unavailable")
                    }
                    (_, Some(r)) => tracing::info!(container = id, state = ?state, detail = %r, "container state"),
                    _ => tracing::info!(container = id, state = ?state, "container state"),
                }
                s.state = state;
                s.reason = reason;
                true
            }
            _ => false,
        });
    }

    pub fn bump_restarts(&self, id: &str) {
        self.tx.send_modify(|m| {
            if let Some(s) = m.get_mut(id) {
                s.restarts += 1;
            }
        });
    }
}
