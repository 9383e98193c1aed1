//! The messages the chain side's tasks exchange (sync and worker → scheduler → worker →
//! signer → scheduler), in one leaf module so no task module imports another for its types.
use super::encode::Payload;
use super::subscription::Subscription;
use alloy::primitives::{Address, Bytes};
use tokio::sync::oneshot;

/// A worker's result and a sent delivery's final outcome: the scheduler's inputs, defined
/// with its state machine.
pub use infernet_core::interval::{TxOutcome, WorkResult};

#[derive(Debug)]
pub enum SchedMsg {
    Track {
        sub: Subscription,
        containers: Vec<String>,
    },
    Cancelled(u32),
    WorkDone {
        id: u32,
        interval: u32,
        result: WorkResult,
    },
    TxResolved {
        id: u32,
        interval: u32,
        outcome: TxOutcome,
    },
}

#[derive(Debug)]
pub struct DeliverReq {
    pub sub: Subscription,
    pub interval: u32,
    pub payload: Payload,
    pub reply: oneshot::Sender<Submitted>,
    /// A delegated subscription's signature: delivered with `deliverComputeDelegatee`, which
    /// creates the subscription in the same transaction. `sub.id` is then 0 (id 0 never exists
    /// on chain) and the ledger keys the transaction by (0, `key`).
    pub delegation: Option<Delegation>,
}

/// A plain transaction from the node's key (approving its own wallet for proof escrow), sent in
/// nonce order with the deliveries and awaited until mined. Replies with the transaction hash.
pub struct CallReq {
    pub to: Address,
    pub data: Bytes,
    pub what: &'static str,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The signed parts of a delegated subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub nonce: u32,
    pub expiry: u32,
    pub v: u8,
    pub r: alloy::primitives::B256,
    pub s: alloy::primitives::B256,
    /// The interval to deliver (the transaction's ledger key is `sub.id`/`interval` = 0/seq).
    pub delivery_interval: u32,
}

/// What happened to a delivery handed to the signer.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    Sent(String),
    /// Simulation says another node filled the interval or it moved on.
    RaceLost(String),
    Failed {
        reason: String,
        transient: bool,
    },
}
