//! Subscription discovery and head tracking.
//!
//! Start: read `id()` at `head - trail_head_blocks` and fetch every id after the persisted cursor
//! with `Reader.readSubscriptionBatch` (several batches in flight; a batch the RPC cannot execute
//! is split in half). Then follow the chain with one `eth_getLogs` per new block for
//! `SubscriptionCreated`/`SubscriptionCancelled` (new ids are read in batches again; cancellations
//! go straight to the scheduler). Idle cost is one header read plus one log query per block,
//! independent of the number of tracked subscriptions. Every RPC failure is retried with backoff
//! and jitter; the cursor is persisted so a restart resumes where it stopped.
use super::abi::EIP712Coordinator;
use super::client::{ChainClient, ChainError};
use super::containers::ContainerIndex;
use super::errors::Revert;
use super::head::{Head, head_of};
use super::msg::SchedMsg;
use super::subscription::Subscription;
use super::view::{ChainPhase, ChainStatus, SubStatus, SubscriptionView};
use crate::guardian::Guardian;
use crate::store::{ChainLedger, TrackedRow};
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Batches read concurrently during a catch-up.
const IN_FLIGHT: usize = 4;
/// Widest block range per `eth_getLogs` (public RPCs cap ranges).
const MAX_LOG_RANGE: u64 = 2_000;

pub struct Sync {
    pub client: ChainClient,
    pub ledger: ChainLedger,
    pub index: Arc<ContainerIndex>,
    pub guardian: Guardian,
    pub status: Arc<ChainStatus>,
    pub sched: mpsc::Sender<SchedMsg>,
    pub head_tx: watch::Sender<Head>,
    pub trail: u64,
    pub batch_size: u32,
    pub starting_sub_id: u32,
    pub sync_period: Duration,
    pub retry_base: Duration,
    /// This node: its proof verdicts (`ProofVerified`) are recorded in the view.
    pub node: alloy::primitives::Address,
}

/// Exponential backoff from 2·`base`, capped at 5 s (an outage is noticed to end within
/// 5 s), jittered down by up to half.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    infernet_core::retry::chain_delay(base, attempt, rand::random())
}

impl Sync {
    async fn head(&self) -> Result<Head, ChainError> {
        let block = self
            .client
            .rpc(
                "eth_getBlockByNumber",
                self.client
                    .provider()
                    .get_block_by_number(BlockNumberOrTag::Latest),
            )
            .await?
            .ok_or(ChainError::Rpc {
                what: "eth_getBlockByNumber",
                message: "the node returned no latest block".into(),
            })?;
        Ok(head_of(&block))
    }

    /// The latest header and the coordinator's created/cancelled logs since `from`, in one HTTP
    /// request (a JSON-RPC batch): an idle block costs one request.
    async fn head_and_logs(
        &self,
        from: u64,
    ) -> Result<(Head, Vec<alloy::rpc::types::Log>), ChainError> {
        // From `from` itself (already scanned, filtered out below): a range starting past the
        // tip is an error on some nodes (anvil: BlockOutOfRangeError).
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
        let block =
            self.client
                .rpc("eth_getBlockByNumber", head)
                .await?
                .ok_or(ChainError::Rpc {
                    what: "eth_getBlockByNumber",
                    message: "the node returned no latest block".into(),
                })?;
        let logs: Vec<alloy::rpc::types::Log> = self.client.rpc("eth_getLogs", logs).await?;
        let logs = logs
            .into_iter()
            .filter(|l| l.block_number.is_some_and(|n| n > from))
            .collect();
        Ok((head_of(&block), logs))
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

    /// (any created?, cancelled ids) from coordinator logs; this node's proof verdicts go to
    /// the view and the log (escrow released, paid, or the stake slashed).
    fn scan(&self, logs: &[alloy::rpc::types::Log]) -> (bool, Vec<u32>) {
        for log in logs {
            let Ok(p) = log.log_decode::<EIP712Coordinator::ProofVerified>() else {
                continue;
            };
            let e = p.inner.data;
            if e.node != self.node {
                continue;
            }
            let text = match (e.active, e.valid) {
                (true, true) => format!(
                    "interval {}: proof valid (verifier {}); escrow paid to the node wallet, stake released",
                    e.interval, e.verifier
                ),
                (true, false) => format!(
                    "interval {}: proof INVALID (verifier {}); the node's stake was slashed to the consumer",
                    e.interval, e.verifier
                ),
                (false, _) => format!(
                    "interval {}: proof window expired; settled by {} and paid to the node wallet",
                    e.interval, e.verifier
                ),
            };
            if e.active && !e.valid {
                tracing::warn!(
                    subscription = e.id,
                    interval = e.interval,
                    "proof rejected: stake slashed"
                );
            } else {
                tracing::info!(
                    subscription = e.id,
                    interval = e.interval,
                    valid = e.valid,
                    "proof settled"
                );
            }
            self.status.update(e.id, |v| v.proof = Some(text));
        }
        let created = EIP712Coordinator::SubscriptionCreated::SIGNATURE_HASH;
        let cancelled = EIP712Coordinator::SubscriptionCancelled::SIGNATURE_HASH;
        let mut any_created = false;
        let mut ids = Vec::new();
        for log in logs {
            let topics = log.topics();
            match (topics.first(), topics.get(1)) {
                (Some(t0), _) if *t0 == created => any_created = true,
                (Some(t0), Some(id)) if *t0 == cancelled => ids.push(topic_u32(id)),
                _ => {}
            }
        }
        (any_created, ids)
    }

    async fn next_id_at(&self, block: u64) -> Result<u32, ChainError> {
        self.client
            .view(
                "Coordinator.id",
                self.client.coordinator().id().block(BlockId::number(block)),
            )
            .await
    }

    /// Reads [start, end) at `block`, halving the range when the RPC cannot execute it.
    async fn read_range(
        &self,
        start: u32,
        end: u32,
        block: u64,
    ) -> Result<Vec<Subscription>, ChainError> {
        let mut out = Vec::with_capacity((end - start) as usize);
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
                Ok(subs) => {
                    out.extend(
                        subs.into_iter()
                            .zip(a..b)
                            .map(|(s, id)| Subscription::from((id, s))),
                    );
                }
                Err(e) if b - a > 1 && too_big(&e) => {
                    // Likely the eth_call gas cap: split.
                    let mid = a + (b - a) / 2;
                    stack.push((mid, b));
                    stack.push((a, mid));
                }
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|s| s.id);
        Ok(out)
    }

    /// Reads, judges and hands over every id in (from, to], persisting the cursor as it goes.
    async fn catch_up(
        &self,
        from: u32,
        to: u32,
        block: u64,
        head_time: u64,
        cancel: &CancellationToken,
    ) -> Result<u32, ChainError> {
        let batch = self.batch_size.max(1);
        let ranges: Vec<(u32, u32)> = (from + 1..=to)
            .step_by(batch as usize)
            .map(|a| (a, a.saturating_add(batch).min(to + 1)))
            .collect();
        let mut done = from;
        let mut reads = futures::stream::iter(
            ranges
                .into_iter()
                .map(|(a, b)| async move { (b, self.read_range(a, b, block).await) }),
        )
        .buffered(IN_FLIGHT);
        while let Some((end, result)) = reads.next().await {
            if cancel.is_cancelled() {
                break;
            }
            let subs = result?;
            self.accept(subs, block, head_time).await?;
            done = end - 1;
            self.ledger
                .set_cursor(done, block)
                .await
                .map_err(|e| ChainError::Setup(format!("store: {e}")))?;
            self.status.set_sync(done, to);
        }
        Ok(done)
    }

    /// Guardian and completion checks; tracked ones go to the scheduler.
    async fn accept(
        &self,
        subs: Vec<Subscription>,
        block: u64,
        head_time: u64,
    ) -> Result<(), ChainError> {
        // Subscriptions on their last interval may already be complete: one batched read.
        let last: Vec<&Subscription> = subs
            .iter()
            .filter(|s| {
                s.exists() && !s.cancelled() && s.interval_at(head_time) == Some(s.last_interval())
            })
            .collect();
        let mut complete = std::collections::HashSet::new();
        if !last.is_empty() {
            let ids: Vec<u32> = last.iter().map(|s| s.id).collect();
            let intervals: Vec<u32> = last.iter().map(|s| s.last_interval()).collect();
            let reader = self.client.reader();
            let call = reader
                .readRedundancyCountBatch(ids.clone(), intervals)
                .block(BlockId::number(block));
            let counts = self
                .client
                .view("Reader.readRedundancyCountBatch", call)
                .await?;
            for ((s, id), n) in last.iter().zip(ids).zip(counts) {
                if n >= s.redundancy {
                    complete.insert(id);
                }
            }
        }
        let mut rows = Vec::with_capacity(subs.len());
        for s in subs {
            if !s.exists() {
                continue;
            }
            let containers = self.index.lookup(&s.container_id).map(<[String]>::to_vec);
            let (status, reason) = if s.cancelled() {
                (
                    SubStatus::Cancelled,
                    Some("Subscription cancelled".to_string()),
                )
            } else if complete.contains(&s.id) {
                (
                    SubStatus::Completed,
                    Some("Subscription completed".to_string()),
                )
            } else if s
                .interval_at(head_time)
                .is_some_and(|n| n > s.last_interval())
            {
                (
                    SubStatus::Expired,
                    Some("Subscription expired: its last interval has passed".to_string()),
                )
            } else {
                match self.guardian.check_onchain(
                    containers.as_deref(),
                    &s.owner.to_string(),
                    s.requires_proof(),
                    s.payment().as_ref(),
                ) {
                    Ok(()) => (SubStatus::Tracked, None),
                    Err(skip) => (SubStatus::Ignored, Some(skip.to_string())),
                }
            };
            let containers = containers.unwrap_or_default();
            if status == SubStatus::Ignored {
                tracing::info!(
                    subscription = s.id,
                    reason = reason.as_deref().unwrap_or(""),
                    "ignored subscription"
                );
            }
            self.status.upsert(SubscriptionView {
                id: s.id,
                owner: s.owner.to_string(),
                containers: containers.clone(),
                period: s.period,
                frequency: s.frequency,
                redundancy: s.redundancy,
                responses: None,
                lazy: s.lazy,
                status,
                reason: reason.clone(),
                interval: None,
                next_due: None,
                last_delivery: None,
                last_tx: None,
                payment: s.payment_text(),
                proof: s.proof_text(),
            });
            rows.push(TrackedRow {
                id: s.id,
                body: serde_json::to_string(&s).unwrap_or_default(),
                containers: containers.clone(),
                status: status.as_str().into(),
                reason,
            });
            if status == SubStatus::Tracked
                && self
                    .sched
                    .send(SchedMsg::Track { sub: s, containers })
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
        self.ledger
            .put_subscriptions(rows)
            .await
            .map_err(|e| ChainError::Setup(format!("store: {e}")))
    }

    /// Created/cancelled logs in (from, to]; returns (new ids seen?, cancelled ids).
    async fn logs(&self, from: u64, to: u64) -> Result<(bool, Vec<u32>), ChainError> {
        let mut any_created = false;
        let mut ids = Vec::new();
        let mut a = from + 1;
        while a <= to {
            let b = (a + MAX_LOG_RANGE - 1).min(to);
            let filter = self.log_filter().from_block(a).to_block(b);
            let logs = self
                .client
                .rpc("eth_getLogs", self.client.provider().get_logs(&filter))
                .await?;
            let (c, mut cancelled) = self.scan(&logs);
            any_created |= c;
            ids.append(&mut cancelled);
            a = b + 1;
        }
        Ok((any_created, ids))
    }

    /// Runs until cancelled; never returns an error (every failure is retried).
    pub async fn run(self, cancel: CancellationToken) {
        let (mut synced, mut last_block) = match self.ledger.cursor().await {
            Ok(Some((id, block))) => {
                tracing::info!(
                    last_sub_id = id,
                    last_block = block,
                    "resuming chain sync from the stored cursor"
                );
                (id, Some(block))
            }
            Ok(None) => (self.starting_sub_id, None),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the sync cursor; starting from chain.snapshot_sync.starting_sub_id");
                (self.starting_sub_id, None)
            }
        };
        let mut failures = 0u32;
        let mut block_time = Duration::from_secs(1);
        let mut last_head: Option<Head> = None;
        let mut logs_ok = true;
        loop {
            let step = async {
                // Following the tip with trail 0: header and logs in one request.
                let mut batched: Option<(bool, Vec<u32>)> = None;
                let head = match last_block.filter(|b| {
                    logs_ok
                        && self.trail == 0
                        && last_head.is_some_and(|h| h.number.saturating_sub(*b) < MAX_LOG_RANGE)
                }) {
                    Some(from) => match self.head_and_logs(from).await {
                        Ok((head, logs)) => {
                            // Logs past the header (a block mined in between) are seen again next time.
                            let upto: Vec<_> = logs
                                .into_iter()
                                .filter(|l| l.block_number.is_none_or(|n| n <= head.number))
                                .collect();
                            batched = Some(self.scan(&upto));
                            head
                        }
                        Err(e) if e.is_transient() => return Err(e),
                        Err(e) => {
                            tracing::warn!(error = %e, "batched head+logs request refused; using separate requests");
                            self.head().await?
                        }
                    },
                    None => self.head().await?,
                };
                if last_head.map(|h| h.number) != Some(head.number) {
                    if let Some(prev) = last_head {
                        let blocks = head.number.saturating_sub(prev.number).max(1);
                        let dt = head.timestamp.saturating_sub(prev.timestamp);
                        if dt > 0 {
                            block_time = Duration::from_secs_f64(
                                (dt as f64 / blocks as f64).clamp(0.2, 30.0),
                            );
                        }
                    }
                    tracing::debug!(block = head.number, time = head.timestamp, "new head");
                    self.status.set_head(head.number, head.timestamp);
                    let _ = self.head_tx.send(head);
                }
                let target = head.number.saturating_sub(self.trail);
                let advanced = last_head.is_none() || last_block.is_none_or(|b| target > b);
                if advanced {
                    // The first pass always reads id(): progress is accurate after a restart too.
                    let mut read_ids = last_head.is_none() || last_block.is_none() || !logs_ok;
                    if let Some((created, cancelled)) = batched.take() {
                        read_ids |= created;
                        for id in cancelled {
                            self.cancelled(id).await;
                        }
                    } else if let Some(from) = last_block.filter(|_| logs_ok) {
                        match self.logs(from.min(target), target).await {
                            Ok((created, cancelled)) => {
                                read_ids |= created;
                                for id in cancelled {
                                    self.cancelled(id).await;
                                }
                            }
                            Err(e) if !unsupported(&e) => return Err(e),
                            Err(e) => {
                                tracing::warn!(error = %e, "eth_getLogs not usable on this RPC; polling id() every block instead");
                                logs_ok = false;
                                read_ids = true;
                            }
                        }
                    }
                    if read_ids {
                        let head_id = self.next_id_at(target).await?.saturating_sub(1);
                        self.status.set_sync(synced, head_id);
                        if head_id > synced {
                            if last_block.is_none() {
                                self.status.set_phase(ChainPhase::Syncing, None);
                            }
                            synced = self
                                .catch_up(synced, head_id, target, head.timestamp, &cancel)
                                .await?;
                        }
                    }
                    last_block = Some(target);
                    self.ledger
                        .set_cursor(synced, target)
                        .await
                        .map_err(|e| ChainError::Setup(format!("store: {e}")))?;
                    self.status.set_phase(ChainPhase::Following, None);
                }
                last_head = Some(head);
                Ok::<bool, ChainError>(advanced)
            };
            let wait = tokio::select! {
                _ = cancel.cancelled() => return,
                r = step => match r {
                    // Poll once per block, aimed slightly early so the phase drifts towards the
                    // moment blocks appear; a miss re-polls soon. Idle cost: about one request
                    // per block, and new heads are seen within a fraction of a block.
                    Ok(true) => {
                        failures = 0;
                        block_time.saturating_sub(Duration::from_millis(20)).max(Duration::from_millis(50))
                    }
                    Ok(false) => {
                        failures = 0;
                        self.sync_period
                            .min(block_time / 5)
                            .max(Duration::from_millis(50))
                    }
                    Err(e) => {
                        failures += 1;
                        let d = backoff(self.retry_base, failures);
                        tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "chain sync step failed");
                        self.status.set_phase(ChainPhase::Following, Some(e.to_string()));
                        d
                    }
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn cancelled(&self, id: u32) {
        let tracked = self
            .status
            .subscription(id)
            .is_some_and(|v| v.status == SubStatus::Tracked);
        self.status.update(id, |v| {
            v.status = SubStatus::Cancelled;
            v.reason = Some("Subscription cancelled".into());
            v.next_due = None;
        });
        if let Err(e) = self
            .ledger
            .set_subscription_status(
                id,
                SubStatus::Cancelled.as_str(),
                Some("Subscription cancelled".into()),
            )
            .await
        {
            tracing::error!(error = %e, "cannot store a cancellation");
        }
        if tracked {
            tracing::info!(
                subscription = id,
                "subscription cancelled; no further deliveries"
            );
            let _ = self.sched.send(SchedMsg::Cancelled(id)).await;
        }
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
