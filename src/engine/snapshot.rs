//! `NodeSnapshot`: the latest view of the node for panels and `status` (watch, latest only).
use crate::chain::{ChainSnapshot, ChainStatus};
use crate::compute::{ContainerStatus, StateTable};
use crate::jobs::JobService;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeSnapshot {
    pub version: &'static str,
    pub rest_addr: SocketAddr,
    pub started_at: SystemTime,
    pub containers: Vec<ContainerStatus>,
    pub jobs_running: u64,
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    /// None when `chain.enabled` is false.
    pub chain: Option<ChainSnapshot>,
    /// None when no control plane is configured.
    pub control: Option<crate::control::status::ControlSnapshot>,
}

fn take(
    rest_addr: SocketAddr,
    started_at: SystemTime,
    jobs: &JobService,
    states: &StateTable,
    chain: Option<&ChainStatus>,
    control: Option<&crate::control::status::ControlStatus>,
) -> NodeSnapshot {
    let c = jobs.counters();
    NodeSnapshot {
        version: env!("CARGO_PKG_VERSION"),
        rest_addr,
        started_at,
        containers: states.all(),
        jobs_running: c.running.load(Ordering::Relaxed),
        jobs_succeeded: c.success.load(Ordering::Relaxed),
        jobs_failed: c.failed.load(Ordering::Relaxed),
        chain: chain.map(ChainStatus::snapshot),
        control: control.map(|c| c.get()),
    }
}

/// Refreshes on container changes at once and on job counters twice a second.
pub(super) fn spawn(
    tasks: &TaskTracker,
    cancel: &CancellationToken,
    rest_addr: SocketAddr,
    jobs: JobService,
    states: StateTable,
    chain: Option<Arc<ChainStatus>>,
    control: Option<Arc<crate::control::status::ControlStatus>>,
) -> watch::Receiver<Arc<NodeSnapshot>> {
    let started_at = SystemTime::now();
    let (tx, rx) = watch::channel(Arc::new(take(
        rest_addr,
        started_at,
        &jobs,
        &states,
        chain.as_deref(),
        control.as_deref(),
    )));
    let cancel = cancel.clone();
    let mut changes = states.subscribe();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                r = changes.changed() => if r.is_err() { return },
                _ = cancel.cancelled() => return,
            }
            let snap = take(
                rest_addr,
                started_at,
                &jobs,
                &states,
                chain.as_deref(),
                control.as_deref(),
            );
            tx.send_if_modified(|cur| {
                if **cur == snap {
                    false
                } else {
                    *cur = Arc::new(snap);
                    true
                }
            });
        }
    });
    rx
}
