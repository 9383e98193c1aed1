//! `EngineEvent`: discrete facts, past tense, for the TUI, logs and attached clients.
use crate::compute::{ContainerState, ContainerStatus};
use crate::jobs::JobEvent;
use crate::store::JobStatus;
use crate::supervise::{Backoff, Never, Supervisor, TaskFailure};
use std::collections::BTreeMap;
use tokio::sync::{broadcast, watch};

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
    /// A supervised task failed: it restarts after `restart_in_ms`, or it stopped the node.
    TaskFailed {
        task: String,
        reason: String,
        restart_in_ms: Option<u64>,
        stops_node: bool,
    },
}

impl From<TaskFailure> for EngineEvent {
    fn from(f: TaskFailure) -> Self {
        EngineEvent::TaskFailed {
            task: f.task,
            reason: f.reason,
            restart_in_ms: f.restart_in_ms,
            stops_node: f.stops_node,
        }
    }
}

fn map_job(ev: JobEvent) -> EngineEvent {
    match ev {
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
    }
}

pub(super) fn spawn_forwarders(
    sup: &Supervisor,
    jobs: broadcast::Sender<JobEvent>,
    states: watch::Receiver<BTreeMap<String, ContainerStatus>>,
    out: broadcast::Sender<EngineEvent>,
) {
    let o1 = out.clone();
    sup.restart::<_, _, Never>("job-events", Backoff::default(), move |cancel| {
        let (mut rx, out) = (jobs.subscribe(), o1.clone());
        async move {
            loop {
                let ev = tokio::select! {
                    r = rx.recv() => r,
                    _ = cancel.cancelled() => return Ok(()),
                };
                match ev {
                    Ok(ev) => {
                        let _ = out.send(map_job(ev));
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "job events lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                }
            }
        }
    });
    sup.restart::<_, _, Never>("container-events", Backoff::default(), move |cancel| {
        let (mut states, out) = (states.clone(), out.clone());
        async move {
            let mut last: BTreeMap<String, ContainerStatus> = states.borrow().clone();
            loop {
                tokio::select! {
                    r = states.changed() => if r.is_err() { return Ok(()) },
                    _ = cancel.cancelled() => return Ok(()),
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
        }
    });
}
