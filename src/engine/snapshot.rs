//! `NodeSnapshot`: the latest view of the node for panels and `status` (watch, latest only).
use crate::chain::{ChainSnapshot, ChainStatus};
use crate::compute::{ContainerStatus, StateTable};
use crate::jobs::JobService;
use crate::supervise::{Backoff, Never, Supervisor};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

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
    /// The node's supervised tasks: failures, restarts, the last error.
    pub tasks: Vec<crate::supervise::TaskHealth>,
    /// The c0mpute swarm, when `p2p.enabled` and started.
    pub p2p: Option<crate::p2p::P2pPeers>,
}

/// Where a snapshot's parts come from.
#[derive(Clone)]
struct Sources {
    rest_addr: SocketAddr,
    started_at: SystemTime,
    jobs: JobService,
    states: StateTable,
    chain: Option<Arc<ChainStatus>>,
    control: Option<Arc<crate::control::status::ControlStatus>>,
    p2p: Option<crate::p2p::P2pHandle>,
    sup: Supervisor,
}

impl Sources {
    fn take(&self) -> NodeSnapshot {
        let c = self.jobs.counters();
        NodeSnapshot {
            version: env!("CARGO_PKG_VERSION"),
            rest_addr: self.rest_addr,
            started_at: self.started_at,
            containers: self.states.all(),
            jobs_running: c.running.load(Ordering::Relaxed),
            jobs_succeeded: c.success.load(Ordering::Relaxed),
            jobs_failed: c.failed.load(Ordering::Relaxed),
            chain: self.chain.as_deref().map(ChainStatus::snapshot),
            control: self.control.as_deref().map(|c| c.get()),
            tasks: self.sup.health(),
            p2p: self.p2p.as_ref().map(crate::p2p::P2pHandle::peers),
        }
    }
}

/// Refreshes on container changes at once and on job counters twice a second.
pub(super) fn spawn(
    sup: &Supervisor,
    rest_addr: SocketAddr,
    jobs: JobService,
    states: StateTable,
    chain: Option<Arc<ChainStatus>>,
    control: Option<Arc<crate::control::status::ControlStatus>>,
    p2p: Option<crate::p2p::P2pHandle>,
) -> watch::Receiver<Arc<NodeSnapshot>> {
    let src = Sources {
        rest_addr,
        started_at: SystemTime::now(),
        jobs,
        states,
        chain,
        control,
        p2p,
        sup: sup.clone(),
    };
    let (tx, rx) = watch::channel(Arc::new(src.take()));
    let tx = Arc::new(tx);
    sup.restart::<_, _, Never>("snapshot", Backoff::default(), move |cancel| {
        let (tx, src) = (tx.clone(), src.clone());
        async move {
            let mut changes = src.states.subscribe();
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = tick.tick() => {},
                    r = changes.changed() => if r.is_err() { return Ok(()) },
                    _ = cancel.cancelled() => return Ok(()),
                }
                let snap = src.take();
                tx.send_if_modified(|cur| {
                    if **cur == snap {
                        false
                    } else {
                        *cur = Arc::new(snap);
                        true
                    }
                });
            }
        }
    });
    rx
}
