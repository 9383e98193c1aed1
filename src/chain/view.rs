//! What the node shows about the chain side (engine snapshot, `GET /info`, later the TUI):
//! connection and sync progress, RPC health, and every subscription with its status and the
//! reason for each skip or failure.
use super::client::{Addresses, RpcHealth, RpcHealthView};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Subscriptions listed in a snapshot (newest ids first); counters cover all of them.
pub(crate) const LISTED: usize = 200;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChainPhase {
    #[default]
    Connecting,
    Syncing,
    Following,
}

pub use infernet_core::chain::SubStatus;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubscriptionView {
    pub id: u32,
    pub owner: String,
    pub containers: Vec<String>,
    pub period: u32,
    pub frequency: u32,
    pub redundancy: u16,
    /// Nodes that delivered the interval being worked on, as last read from the chain.
    pub responses: Option<u16>,
    pub lazy: bool,
    pub status: SubStatus,
    pub reason: Option<String>,
    /// The interval being (or next to be) delivered.
    pub interval: Option<u32>,
    /// Block time at which `interval` opens.
    pub next_due: Option<u64>,
    pub last_delivery: Option<String>,
    pub last_tx: Option<String>,
    /// What it pays (amount, token, from which wallet), when it pays.
    pub payment: Option<String>,
    /// Its verifier and the proof/escrow state, when it needs a proof.
    pub proof: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ChainSnapshot {
    pub phase: ChainPhase,
    pub error: Option<String>,
    pub chain_id: u64,
    pub node: Option<String>,
    pub addresses: Option<Addresses>,
    pub head_block: u64,
    pub head_time: u64,
    /// Highest subscription id read so far, and the chain's highest id.
    pub synced_sub_id: u32,
    pub head_sub_id: u32,
    pub rpc: RpcHealthView,
    pub tracked: usize,
    pub delivered: u64,
    pub skipped: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub gas_used: u64,
    pub subscriptions: Vec<SubscriptionView>,
    /// SDK 0.x: the node's registration with the coordinator.
    pub registration: Option<super::registration::Registration>,
}

#[derive(Debug, Default)]
struct Inner {
    phase: ChainPhase,
    error: Option<String>,
    chain_id: u64,
    node: Option<String>,
    addresses: Option<Addresses>,
    head_block: u64,
    head_time: u64,
    synced_sub_id: u32,
    head_sub_id: u32,
    subs: BTreeMap<u32, SubscriptionView>,
    registration: Option<super::registration::Registration>,
}

/// Shared, cheap-to-update status; the engine's snapshot task reads it.
#[derive(Debug, Default)]
pub struct ChainStatus {
    inner: Mutex<Inner>,
    rpc: Mutex<Option<Arc<RpcHealth>>>,
    pub delivered: AtomicU64,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    /// Deliveries between start and final outcome.
    pub in_flight: AtomicU64,
    /// Gas used by this node's mined deliveries (confirmed and reverted) since start.
    pub gas_used: AtomicU64,
}

impl ChainStatus {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        self.inner.lock().ok().map(|mut g| f(&mut g))
    }

    /// Saturating decrement (deliveries restored after a restart were never counted up).
    pub fn dec_in_flight(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
    }

    pub fn set_rpc(&self, h: Arc<RpcHealth>) {
        if let Ok(mut g) = self.rpc.lock() {
            *g = Some(h);
        }
    }

    pub fn set_phase(&self, phase: ChainPhase, error: Option<String>) {
        self.with(|i| {
            i.phase = phase;
            // Errors quote the RPC URL, whose path may hold a key.
            i.error = error.map(|e| crate::config::scrub::scrub(&e).into_owned());
        });
    }

    pub fn set_identity(&self, chain_id: u64, node: String, addresses: Addresses) {
        self.with(|i| {
            i.chain_id = chain_id;
            i.node = Some(node);
            i.addresses = Some(addresses);
        });
    }

    pub fn set_head(&self, block: u64, time: u64) {
        self.with(|i| {
            i.head_block = block;
            i.head_time = time;
        });
    }

    pub fn set_sync(&self, synced: u32, head_id: u32) {
        self.with(|i| {
            i.synced_sub_id = synced;
            i.head_sub_id = head_id;
        });
    }

    pub fn set_registration(&self, r: super::registration::Registration) {
        self.with(|i| i.registration = Some(r));
    }

    pub fn upsert(&self, v: SubscriptionView) {
        self.with(|i| {
            i.subs.insert(v.id, v);
        });
    }

    /// Changes one subscription's entry in place (no-op for unknown ids).
    pub fn update(&self, id: u32, f: impl FnOnce(&mut SubscriptionView)) {
        self.with(|i| {
            if let Some(v) = i.subs.get_mut(&id) {
                f(v);
            }
        });
    }

    pub fn subscription(&self, id: u32) -> Option<SubscriptionView> {
        self.with(|i| i.subs.get(&id).cloned()).flatten()
    }

    pub fn snapshot(&self) -> ChainSnapshot {
        let rpc = self
            .rpc
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|h| h.view()))
            .unwrap_or_default();
        self.with(|i| ChainSnapshot {
            phase: i.phase,
            error: i.error.clone(),
            chain_id: i.chain_id,
            node: i.node.clone(),
            addresses: i.addresses,
            head_block: i.head_block,
            head_time: i.head_time,
            synced_sub_id: i.synced_sub_id,
            head_sub_id: i.head_sub_id,
            rpc: rpc.clone(),
            tracked: i
                .subs
                .values()
                .filter(|s| s.status == SubStatus::Tracked)
                .count(),
            delivered: self.delivered.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            gas_used: self.gas_used.load(Ordering::Relaxed),
            subscriptions: i.subs.values().rev().take(LISTED).cloned().collect(),
            registration: i.registration,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_status_keeps_its_wire_names() {
        for s in [
            SubStatus::Tracked,
            SubStatus::Ignored,
            SubStatus::Cancelled,
            SubStatus::Completed,
            SubStatus::Expired,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(SubStatus::Tracked.as_str(), "tracked");
    }
}
