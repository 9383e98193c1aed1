//! Subscription discovery and head tracking: the driver of `infernet_core::sync`, which decides
//! (the block cursor, logs or `id()` reads, batches, the head going back, backoff, phases).
//!
//! Start: read `id()` at `head - trail_head_blocks` and fetch every id after the persisted cursor
//! with `Reader.readSubscriptionBatch` (several batches in flight; a batch the RPC cannot execute
//! is split in half). Then follow the chain with one `eth_getLogs` per new block for
//! `SubscriptionCreated`/`SubscriptionCancelled` (new ids are read in batches again; cancellations
//! go straight to the scheduler). Idle cost is one header read plus one log query per block,
//! independent of the number of tracked subscriptions. Every RPC failure is retried with backoff
//! and jitter; the cursor is persisted so a restart resumes where it stopped.
//!
//! Here: `reads` performs the RPC reads and decodes their answers into the machine's events,
//! `accept` judges what a catch-up read and hands tracked subscriptions to the scheduler, and
//! `run` loops: execute the effects, feed back what was observed.
mod accept;
mod reads;

use super::client::{ChainClient, ChainError};
use super::containers::ContainerIndex;
use super::head::Head;
use super::msg::SchedMsg;
use super::view::{ChainPhase, ChainStatus};
use crate::guardian::Guardian;
use crate::store::ChainLedger;
use accept::CatchUp;
use infernet_core::sync::{self as decide, Cursor, Degraded, Effect, Event, Phase};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

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
    /// Runs until cancelled; never returns an error (every failure is retried).
    pub async fn run(self, cancel: CancellationToken) {
        let config = decide::Config {
            trail: self.trail,
            batch_size: self.batch_size,
            starting_sub_id: self.starting_sub_id,
            sync_period: self.sync_period,
        };
        let mut machine = decide::Sync::new(config, self.stored_cursor().await);
        let mut queue = VecDeque::from(machine.handle(Event::Tick, Instant::now()));
        let mut catch_up = None;
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return,
                event = self.next_event(&mut queue, &mut catch_up) => event,
            };
            let effects = machine.handle(event, Instant::now());
            if effects.iter().any(Effect::is_request) {
                // The step ended or failed: batches still in flight are not wanted.
                catch_up = None;
            }
            queue.extend(effects);
        }
    }

    async fn stored_cursor(&self) -> Option<Cursor> {
        match self.ledger.cursor().await {
            Ok(Some((id, block))) => {
                tracing::info!(
                    last_sub_id = id,
                    last_block = block,
                    "resuming chain sync from the stored cursor"
                );
                Some(Cursor { id, block })
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the sync cursor; starting from chain.snapshot_sync.starting_sub_id");
                None
            }
        }
    }

    /// Executes queued effects until one yields an event: a request's answer, or the failure of
    /// an action (what was queued after it is dropped). With nothing queued, a catch-up's next
    /// batch is the answer.
    async fn next_event<'a>(
        &'a self,
        queue: &mut VecDeque<Effect>,
        catch_up: &mut Option<CatchUp<'a>>,
    ) -> Event {
        while let Some(effect) = queue.pop_front() {
            let request = effect.is_request();
            if let Some(event) = self.execute(effect, catch_up).await {
                if !request {
                    queue.clear();
                }
                return event;
            }
        }
        match catch_up {
            Some(c) => self.next_batch(c).await,
            // The machine always leaves a request in flight; should it not, it fails the step
            // and retries rather than stalling.
            None => Event::Failed {
                failure: decide::Failure::Refused,
                error: "chain sync: nothing to wait for".into(),
            },
        }
    }

    /// Performs one effect; Some(event) for what the machine is to learn from it.
    async fn execute<'a>(
        &'a self,
        effect: Effect,
        catch_up: &mut Option<CatchUp<'a>>,
    ) -> Option<Event> {
        match effect {
            Effect::ReadHead => Some(answer(self.head().await.map(Event::Head))),
            Effect::ReadHeadAndLogs { from } => Some(answer(
                self.head_and_logs(from)
                    .await
                    .map(|(head, logs)| Event::HeadAndLogs { head, logs }),
            )),
            Effect::ReadLogs { from, to } => {
                Some(answer(self.logs(from, to).await.map(Event::Logs)))
            }
            Effect::ReadNextId { block } => {
                Some(answer(self.next_id_at(block).await.map(Event::NextId)))
            }
            Effect::ReadBatches {
                ranges,
                block,
                head_time,
            } => {
                *catch_up = Some(self.read_batches(ranges, block, head_time));
                None
            }
            Effect::Wait { until } => {
                tokio::time::sleep_until(until.into()).await;
                Some(Event::Tick)
            }
            Effect::Retry { failures, error } => {
                let d = backoff(self.retry_base, failures);
                tracing::warn!(error = %error, retry_in_ms = d.as_millis() as u64, "chain sync step failed");
                tokio::time::sleep(d).await;
                Some(Event::Tick)
            }
            Effect::PublishHead(head) => {
                tracing::debug!(block = head.number, time = head.timestamp, "new head");
                self.status.set_head(head.number, head.timestamp);
                let _ = self.head_tx.send(head);
                None
            }
            Effect::Cancelled(id) => {
                self.cancelled(id).await;
                None
            }
            Effect::Proof(verdict) => {
                self.proof(&verdict);
                None
            }
            Effect::Progress { synced, head_id } => {
                self.status.set_sync(synced, head_id);
                None
            }
            Effect::Persist(c) => self
                .ledger
                .set_cursor(c.id, c.block)
                .await
                .err()
                .map(|e| failed(&accept::store_error(e))),
            Effect::Phase { phase, error } => {
                self.status.set_phase(shown(phase), error);
                None
            }
            Effect::Degraded { what, error } => {
                degraded(what, &error);
                None
            }
        }
    }
}

/// The machine's event for a read's outcome.
fn answer(read: Result<Event, ChainError>) -> Event {
    read.unwrap_or_else(|e| failed(&e))
}

fn failed(e: &ChainError) -> Event {
    Event::Failed {
        failure: reads::failure(e),
        error: e.to_string(),
    }
}

fn shown(phase: Phase) -> ChainPhase {
    match phase {
        Phase::Syncing => ChainPhase::Syncing,
        Phase::Following => ChainPhase::Following,
    }
}

fn degraded(what: Degraded, error: &str) {
    match what {
        Degraded::NoBatch => {
            tracing::warn!(error = %error, "batched head+logs request refused; using separate requests")
        }
        Degraded::NoLogs => tracing::warn!(
            error = %error,
            "eth_getLogs not usable on this RPC; polling id() every block instead"
        ),
    }
}
