//! The RPC reads sync asks for, their answers decoded into the machine's plain terms, and how
//! their errors are classified.
use super::Sync;
use crate::chain::abi::EIP712Coordinator;
use crate::chain::client::ChainError;
use crate::chain::errors::Revert;
use crate::chain::head::{Head, head_of};
use crate::chain::subscription::Subscription;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use infernet_core::sync::{Failure, Log, LogKind, ProofVerdict, split};

impl Sync {
    pub(super) async fn head(&self) -> Result<Head, ChainError> {
        let block = self
            .client
            .rpc(
                "eth_getBlockByNumber",
                self.client
                    .provider()
                    .get_block_by_number(BlockNumberOrTag::Latest),
            )
            .await?
            .ok_or(no_block())?;
        Ok(head_of(&block))
    }

    /// The latest header and the coordinator's logs from `from` on, in one HTTP request (a
    /// JSON-RPC batch): an idle block costs one request.
    pub(super) async fn head_and_logs(&self, from: u64) -> Result<(Head, Vec<Log>), ChainError> {
        let filter = self
            .log_filter()
            .from_block(from)
            .to_block(BlockNumberOrTag::Latest);
        let mut batch = alloy::rpc::client::BatchRequest::new(self.client.provider().client());
        let prep = |e: alloy::transports::TransportError| ChainError::from_rpc("batch", e);
        let head = batch
            .add_call::<_, Option<alloy::rpc::types::Block>>(
                "eth_getBlockByNumber",
                &(BlockNumberOrTag::Latest, false),
            )
            .map_err(prep)?;
        let logs = batch
            .add_call::<_, Vec<alloy::rpc::types::Log>>("eth_getLogs", &(filter,))
            .map_err(prep)?;
        self.client
            .rpc("batch(eth_getBlockByNumber, eth_getLogs)", batch.send())
            .await?;
        let block = self
            .client
            .rpc("eth_getBlockByNumber", head)
            .await?
            .ok_or(no_block())?;
        let logs: Vec<alloy::rpc::types::Log> = self.client.rpc("eth_getLogs", logs).await?;
        Ok((head_of(&block), self.decode(&logs)))
    }

    /// The coordinator's logs in blocks [from, to].
    pub(super) async fn logs(&self, from: u64, to: u64) -> Result<Vec<Log>, ChainError> {
        let filter = self.log_filter().from_block(from).to_block(to);
        let logs = self
            .client
            .rpc("eth_getLogs", self.client.provider().get_logs(&filter))
            .await?;
        Ok(self.decode(&logs))
    }

    fn log_filter(&self) -> Filter {
        Filter::new()
            .address(self.client.addresses.coordinator)
            .event_signature(vec![
                EIP712Coordinator::SubscriptionCreated::SIGNATURE_HASH,
                EIP712Coordinator::SubscriptionCancelled::SIGNATURE_HASH,
                EIP712Coordinator::ProofVerified::SIGNATURE_HASH,
            ])
    }

    /// Creations, cancellations and this node's proof verdicts, with their blocks (logs not in
    /// a block yet are left for when they are).
    fn decode(&self, logs: &[alloy::rpc::types::Log]) -> Vec<Log> {
        let created = EIP712Coordinator::SubscriptionCreated::SIGNATURE_HASH;
        let cancelled = EIP712Coordinator::SubscriptionCancelled::SIGNATURE_HASH;
        let kind = |log: &alloy::rpc::types::Log| {
            let topics = log.topics();
            match (topics.first(), topics.get(1)) {
                (Some(t0), _) if *t0 == created => return Some(LogKind::Created),
                (Some(t0), Some(id)) if *t0 == cancelled => {
                    return Some(LogKind::Cancelled(topic_u32(id)));
                }
                _ => {}
            }
            let e = log
                .log_decode::<EIP712Coordinator::ProofVerified>()
                .ok()?
                .inner
                .data;
            (e.node == self.node).then(|| {
                LogKind::Proof(ProofVerdict {
                    id: e.id,
                    interval: e.interval,
                    active: e.active,
                    valid: e.valid,
                    verifier: e.verifier.to_string(),
                })
            })
        };
        logs.iter()
            .filter_map(|log| {
                Some(Log {
                    block: log.block_number?,
                    kind: kind(log)?,
                })
            })
            .collect()
    }

    pub(super) async fn next_id_at(&self, block: u64) -> Result<u32, ChainError> {
        self.client
            .view(
                "Coordinator.id",
                self.client.coordinator().id().block(BlockId::number(block)),
            )
            .await
    }

    /// Reads [start, end) at `block`, halving the range when the RPC cannot execute it.
    pub(super) async fn read_range(
        &self,
        start: u32,
        end: u32,
        block: u64,
    ) -> Result<Vec<Subscription>, ChainError> {
        if self.client.sdk0 {
            return self.read_range_v0(start, end, block).await;
        }
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let mut stack = vec![(start, end)];
        while let Some((a, b)) = stack.pop() {
            if a >= b {
                continue;
            }
            let reader = self.client.reader();
            let call = reader
                .readSubscriptionBatch(a, b)
                .block(BlockId::number(block));
            match self.client.view("Reader.readSubscriptionBatch", call).await {
                Ok(subs) => out.extend(
                    subs.into_iter()
                        .zip(a..b)
                        .map(|(s, id)| Subscription::from((id, s))),
                ),
                Err(e) => match split(a, b).filter(|_| too_big(&e)) {
                    Some((low, high)) => stack.extend([high, low]),
                    None => return Err(e),
                },
            }
        }
        out.sort_by_key(|s| s.id);
        Ok(out)
    }
}

impl Sync {
    /// SDK 0.x has no Reader: one `subscriptions(id)` per id (a cancelled one reads back
    /// zeroed, as the contract deletes it).
    async fn read_range_v0(
        &self,
        start: u32,
        end: u32,
        block: u64,
    ) -> Result<Vec<Subscription>, ChainError> {
        let c = self.client.coordinator_v0();
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        for id in start..end {
            let s = self
                .client
                .view(
                    "Coordinator.subscriptions",
                    c.subscriptions(id).block(BlockId::number(block)),
                )
                .await?;
            out.push(Subscription::from((id, s)));
        }
        Ok(out)
    }
}

fn no_block() -> ChainError {
    ChainError::Rpc {
        what: "eth_getBlockByNumber",
        message: "the node returned no latest block".into(),
    }
}

/// How the machine is to take an error: an endpoint without the method at all, a passing
/// trouble, or a refusal.
pub(super) fn failure(e: &ChainError) -> Failure {
    if unsupported(e) {
        Failure::Unsupported
    } else if e.is_transient() {
        Failure::Transient
    } else {
        Failure::Refused
    }
}

/// The endpoint does not offer the method at all (not a passing refusal).
fn unsupported(e: &ChainError) -> bool {
    match e {
        ChainError::Refused { message, .. } => {
            let m = message.to_ascii_lowercase();
            m.contains("-32601")
                || m.contains("not found") && m.contains("method")
                || m.contains("not supported")
        }
        _ => false,
    }
}

/// An error that smaller batches avoid (gas caps, response size limits, execution timeouts).
fn too_big(e: &ChainError) -> bool {
    match e {
        ChainError::Revert(Revert::Empty) => true,
        ChainError::Rpc { message, .. } | ChainError::Refused { message, .. } => {
            let m = message.to_ascii_lowercase();
            ["gas", "too large", "limit", "exceed", "timeout", "size"]
                .iter()
                .any(|k| m.contains(k))
        }
        _ => false,
    }
}

fn topic_u32(t: &B256) -> u32 {
    let b = t.as_slice();
    u32::from_be_bytes([b[28], b[29], b[30], b[31]])
}
