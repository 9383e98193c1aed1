//! `EngineEvent`: discrete facts, past tense, for the TUI, logs and attached clients.
use crate::compute::{ContainerState, ContainerStatus};
use crate::jobs::JobEvent;
use crate::store::JobStatus;
use std::collections::BTreeMap;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    JobStarted {
        id: String,
        containers: Vec<String>,
        stream: bool,
    },
    JobCompleted {
        id: String,
    },
    JobFailed {
        id: String,
        error: Option<String>,
    },
    ContainerStateChanged {
        id: String,
        state: ContainerState,
        reason: Option<String>,
    },
}

pub(super) fn spawn_forwarders(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    jobs: broadcast::Sender<JobEvent>,
    mut states: watch::Receiver<BTreeMap<String, ContainerStatus>>,
    out: broadcast::Sender<EngineEvent>,
) {
    let mut rx = jobs.subscribe();
    let (c1, o1) = (cancel.clone(), out.clone());
    tasks.spawn(async move {
        loop {
            let ev = tokio::select! {
                r = rx.recv() => r,
                _ = c1.cancelled() => return,
            };
            let ev = match ev {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "job events lagged");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let mapped = match ev {
                JobEvent::Started {
                    id,
                    containers,
                    stream,
                } => EngineEvent::JobStarted {
                    id,
                    containers,
                    stream,
                },
                JobEvent::Finished {
                    id,
                    status: JobStatus::Success,
                    ..
                } => EngineEvent::JobCompleted { id },
                JobEvent::Finished { id, error, .. } => EngineEvent::JobFailed { id, error },
            };
            let _ = o1.send(mapped);
        }
    });
    let c2 = cancel.clone();
    tasks.spawn(async move {
        let mut last: BTreeMap<String, ContainerStatus> = states.borrow().clone();
        loop {
            tokio::select! {
                r = states.changed() => if r.is_err() { return },
                _ = c2.cancelled() => return,
            }
            let now = states.borrow_and_update().clone();
            for (id, st) in &now {
                let changed = last
                    .get(id)
                    .is_none_or(|p| p.state != st.state || p.reason != st.reason);
                if changed {
                    let _ = out.send(EngineEvent::ContainerStateChanged {
                        id: id.clone(),
                        state: st.state,
                        reason: st.reason.clone(),
                    });
                }
            }
            last = now;
        }
    });
}
