//! What sync does with what it read: a catch-up's batches are judged (the chain's verdict from
//! `infernet_core::sync`, then the guardian's rules), stored, shown, and the tracked ones handed
//! to the scheduler; cancellations and proof verdicts update the view and the store.
use super::Sync;
use crate::chain::client::ChainError;
use crate::chain::msg::SchedMsg;
use crate::chain::subscription::Subscription;
use crate::chain::view::{SubStatus, SubscriptionView};
use crate::store::TrackedRow;
use alloy::eips::BlockId;
use futures::StreamExt;
use futures::stream::BoxStream;
use infernet_core::sync::{Event, ProofVerdict, needs_count, settled};
use std::collections::HashSet;

/// Batches read concurrently during a catch-up.
const IN_FLIGHT: usize = 4;

/// A catch-up in flight: batch reads, answered in order as (end of the range, subscriptions).
pub(super) struct CatchUp<'a> {
    reads: BoxStream<'a, (u32, Result<Vec<Subscription>, ChainError>)>,
    block: u64,
    head_time: u64,
}

impl Sync {
    pub(super) fn read_batches(
        &self,
        ranges: Vec<(u32, u32)>,
        block: u64,
        head_time: u64,
    ) -> CatchUp<'_> {
        let reads = futures::stream::iter(ranges)
            .map(move |(a, b)| async move { (b, self.read_range(a, b, block).await) })
            .buffered(IN_FLIGHT)
            .boxed();
        CatchUp {
            reads,
            block,
            head_time,
        }
    }

    /// The next batch, judged and handed over (one at a time, in order: the cursor stored
    /// after a batch covers every id before it).
    pub(super) async fn next_batch(&self, c: &mut CatchUp<'_>) -> Event {
        let Some((end, read)) = c.reads.next().await else {
            return super::failed(&ChainError::Setup("chain sync: a catch-up ran dry".into()));
        };
        match read {
            Ok(subs) => match self.accept(subs, c.block, c.head_time).await {
                Ok(()) => Event::BatchDone { end },
                Err(e) => super::failed(&e),
            },
            Err(e) => super::failed(&e),
        }
    }

    /// Judges, stores and shows `subs`; tracked ones go to the scheduler.
    async fn accept(
        &self,
        subs: Vec<Subscription>,
        block: u64,
        head_time: u64,
    ) -> Result<(), ChainError> {
        let complete = self.complete(&subs, block, head_time).await?;
        let mut rows = Vec::with_capacity(subs.len());
        for s in subs.into_iter().filter(Subscription::exists) {
            let containers = self.index.lookup(&s.container_id).map(<[String]>::to_vec);
            let (status, reason) = self.judge(&s, containers.as_deref(), &complete, head_time);
            let containers = containers.unwrap_or_default();
            if status == SubStatus::Ignored {
                tracing::info!(
                    subscription = s.id,
                    reason = reason.as_deref().unwrap_or(""),
                    "ignored subscription"
                );
            }
            self.status
                .upsert(view(&s, containers.clone(), status, reason.clone()));
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
                // The scheduler is gone: the node is stopping.
                return Ok(());
            }
        }
        self.ledger
            .put_subscriptions(rows)
            .await
            .map_err(store_error)
    }

    /// The ids among `subs` whose last interval already has all its responses (one batched
    /// read for those on their last interval).
    async fn complete(
        &self,
        subs: &[Subscription],
        block: u64,
        head_time: u64,
    ) -> Result<HashSet<u32>, ChainError> {
        let last: Vec<&Subscription> = subs
            .iter()
            .filter(|s| s.exists() && needs_count(&s.schedule(), head_time))
            .collect();
        if last.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<u32> = last.iter().map(|s| s.id).collect();
        let intervals: Vec<u32> = last.iter().map(|s| s.last_interval()).collect();
        if self.client.sdk0 {
            // No Reader: one redundancyCount read per subscription on its last interval.
            let c = self.client.coordinator();
            let mut done = HashSet::new();
            for s in &last {
                let key = crate::chain::subscription::interval_key(s.id, s.last_interval());
                let call = c.redundancyCount(key).block(BlockId::number(block));
                if self
                    .client
                    .view("Coordinator.redundancyCount", call)
                    .await?
                    >= s.redundancy
                {
                    done.insert(s.id);
                }
            }
            return Ok(done);
        }
        let reader = self.client.reader();
        let call = reader
            .readRedundancyCountBatch(ids, intervals)
            .block(BlockId::number(block));
        let counts = self
            .client
            .view("Reader.readRedundancyCountBatch", call)
            .await?;
        Ok(last
            .iter()
            .zip(counts)
            .filter(|(s, n)| *n >= s.redundancy)
            .map(|(s, _)| s.id)
            .collect())
    }

    /// The chain's verdict first (cancelled, completed, expired), then the guardian's rules.
    fn judge(
        &self,
        s: &Subscription,
        containers: Option<&[String]>,
        complete: &HashSet<u32>,
        head_time: u64,
    ) -> (SubStatus, Option<String>) {
        if let Some((status, reason)) = settled(&s.schedule(), complete.contains(&s.id), head_time)
        {
            return (status, Some(reason.into()));
        }
        match self.guardian.check_onchain(
            containers,
            &s.owner.to_string(),
            s.requires_proof(),
            s.payment().as_ref(),
        ) {
            Ok(()) => (SubStatus::Tracked, None),
            Err(skip) => (SubStatus::Ignored, Some(skip.to_string())),
        }
    }

    /// Marks `id` cancelled; the scheduler hears of it when it was tracked.
    pub(super) async fn cancelled(&self, id: u32) {
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

    /// This node's proof was settled: escrow released, paid, or the stake slashed.
    pub(super) fn proof(&self, v: &ProofVerdict) {
        if v.slashed() {
            tracing::warn!(
                subscription = v.id,
                interval = v.interval,
                "proof rejected: stake slashed"
            );
        } else {
            tracing::info!(
                subscription = v.id,
                interval = v.interval,
                valid = v.valid,
                "proof settled"
            );
        }
        let text = v.text();
        self.status.update(v.id, |s| s.proof = Some(text));
    }
}

fn view(
    s: &Subscription,
    containers: Vec<String>,
    status: SubStatus,
    reason: Option<String>,
) -> SubscriptionView {
    SubscriptionView {
        id: s.id,
        owner: s.owner.to_string(),
        containers,
        period: s.period,
        frequency: s.frequency,
        redundancy: s.redundancy,
        responses: None,
        lazy: s.lazy,
        status,
        reason,
        interval: None,
        next_due: None,
        last_delivery: None,
        last_tx: None,
        payment: s.payment_text(),
        proof: s.proof_text(),
    }
}

pub(super) fn store_error(e: crate::store::Error) -> ChainError {
    ChainError::Setup(format!("store: {e}"))
}
