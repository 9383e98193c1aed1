//! The chain side, when `chain.enabled`: it connects and syncs in the background, so the
//! REST API is up meanwhile.
use crate::chain::ChainStatus;
use crate::chain::delegated::DelegatedSlot;
use crate::config::Config;
use crate::jobs::JobService;
use crate::store::SqliteStore;
use crate::supervise::Supervisor;
use std::sync::Arc;

/// What the REST API and the snapshot read from the chain side (all `None` when disabled).
#[derive(Default)]
pub(super) struct ChainSide {
    pub status: Option<Arc<ChainStatus>>,
    /// A slot, not a value: the delegated-subscription service exists only while the chain
    /// side is connected (it is filled on connect and emptied on each restart), and the REST
    /// API that reads it is started before the first connection.
    pub delegated: Option<DelegatedSlot>,
}

pub(super) fn spawn(
    config: &Config,
    jobs: &JobService,
    store: &SqliteStore,
    sup: &Supervisor,
) -> ChainSide {
    if !config.chain.enabled {
        return ChainSide::default();
    }
    let delegated = DelegatedSlot::default();
    let status =
        crate::chain::node::spawn(config, jobs.clone(), store.clone(), delegated.clone(), sup);
    ChainSide {
        status: Some(status),
        // SDK 0.x coordinators have no delegated subscriptions.
        delegated: (!config.chain.sdk0()).then_some(delegated),
    }
}
