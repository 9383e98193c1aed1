//! One delivery attempt for (subscription, interval): chain checks, inputs, the container
//! pipeline, output encoding, then the signer. The scheduler decides what happens next.
use super::abi::BaseConsumer;
use super::client::{ChainClient, ChainError};
use super::encode::{Payload, encode_output, input_data};
use super::head::Head;
use super::msg::{CallReq, DeliverReq, Submitted, WorkResult};
use super::subscription::{Subscription, interval_key, node_key};
use crate::compute::ContainerState;
use crate::compute::pipeline::JobLocation;
use crate::jobs::{JobService, Step as JobStep, run_chain};
use crate::store::{ChainLedger, DeliveryState};
use alloy::primitives::{Address, Bytes};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub struct Worker {
    pub client: ChainClient,
    pub node: Address,
    pub ledger: ChainLedger,
    pub jobs: JobService,
    pub signer: mpsc::Sender<DeliverReq>,
    /// Plain transactions (approving the node's wallet for proof escrow).
    pub calls: mpsc::Sender<CallReq>,
    /// `chain.wallet.payment_address` (zero when unset).
    pub node_wallet: Address,
    /// Where the redundancy seen on chain is shown (TUI: "1/2").
    pub status: Arc<super::view::ChainStatus>,
}

/// One phase of a delivery: `Err` ends the interval early with that result (skipped,
/// already confirmed, failed).
type Step<T> = Result<T, WorkResult>;

fn store_failed(e: impl std::fmt::Display) -> WorkResult {
    WorkResult::Failed {
        reason: format!("store: {e}"),
        transient: true,
    }
}

fn failed(e: ChainError) -> WorkResult {
    WorkResult::Failed {
        transient: e.is_transient(),
        reason: e.to_string(),
    }
}

impl Worker {
    pub async fn run(
        self: Arc<Self>,
        sub: Subscription,
        containers: Arc<[String]>,
        interval: u32,
        head: Head,
    ) -> WorkResult {
        match self.deliver(sub, &containers, interval, head).await {
            Ok(r) | Err(r) => r,
        }
    }

    /// The interval's phases in order; each may end it early (`Err` carries that result).
    async fn deliver(
        &self,
        sub: Subscription,
        containers: &[String],
        interval: u32,
        head: Head,
    ) -> Step<WorkResult> {
        self.not_handled_yet(sub.id, interval).await?;
        self.still_wanted(&sub, interval).await?;
        self.v0_rules(&sub, head).await?;
        let steps = self.pipeline(containers)?;
        self.payment_holds(&sub).await?;
        self.ledger
            .set_delivery(sub.id, interval, DeliveryState::Running, None, false)
            .await
            .map_err(store_failed)?;
        let inputs = self.inputs(&sub, interval, head).await?;
        let payload = self.compute(&steps, &inputs, &sub).await?;
        Ok(self.submit(sub, interval, payload).await)
    }

    /// A delivery the store already has an answer for (after a restart) is not run again.
    async fn not_handled_yet(&self, sub: u32, interval: u32) -> Step<()> {
        match self.ledger.delivery(sub, interval).await {
            Ok(Some(rec)) if rec.state == DeliveryState::Confirmed => {
                Err(WorkResult::Confirmed(rec.tx_hash.unwrap_or_default()))
            }
            Ok(Some(rec)) if rec.state.is_final() => Err(WorkResult::Skipped(
                rec.reason.unwrap_or_else(|| "already handled".into()),
            )),
            Ok(Some(rec)) if rec.state == DeliveryState::Sent => {
                Err(WorkResult::Sent(rec.tx_hash.unwrap_or_default()))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(store_failed(e)),
        }
    }

    /// Not delivered by this node already, and the redundancy not met by others.
    async fn still_wanted(&self, sub: &Subscription, interval: u32) -> Step<()> {
        let c = self.client.coordinator();
        let responded = self
            .client
            .view(
                "Coordinator.nodeResponded",
                c.nodeResponded(node_key(sub.id, interval, self.node)),
            )
            .await
            .map_err(failed)?;
        if responded {
            return Err(WorkResult::Confirmed("delivered (found on chain)".into()));
        }
        let n = self
            .client
            .view(
                "Coordinator.redundancyCount",
                c.redundancyCount(interval_key(sub.id, interval)),
            )
            .await
            .map_err(failed)?;
        self.status.update(sub.id, |v| v.responses = Some(n));
        if n >= sub.redundancy {
            return Err(WorkResult::Skipped(format!(
                "redundancy met: {n} of {} nodes delivered interval {interval}",
                sub.redundancy
            )));
        }
        Ok(())
    }

    /// SDK 0.x: only an active node may deliver, at a gas price the subscription accepts.
    async fn v0_rules(&self, sub: &Subscription, head: Head) -> Step<()> {
        let Some(terms) = &sub.v0 else {
            return Ok(());
        };
        if let Some(base) = head.base_fee
            && base > terms.max_gas_price
        {
            return Err(WorkResult::Skipped(format!(
                "GasPriceExceeded: the base fee ({base} wei) is above the subscription's maxGasPrice ({} wei)",
                terms.max_gas_price
            )));
        }
        let info = self
            .client
            .view(
                "Coordinator.nodeInfo",
                self.client.coordinator_v0().nodeInfo(self.node),
            )
            .await
            .map_err(failed)?;
        if info.status != super::registration::ACTIVE {
            return Err(WorkResult::Skipped(super::registration::not_active_reason(
                info.status,
                info.cooldownStart,
            )));
        }
        Ok(())
    }

    /// The containers' steps, when each is known here and ready.
    fn pipeline(&self, containers: &[String]) -> Step<Vec<JobStep>> {
        for id in containers {
            if let Some(st) = self.jobs.states().get(id)
                && st.state != ContainerState::Ready
            {
                return Err(WorkResult::Failed {
                    reason: format!("container '{id}' is not ready"),
                    transient: true,
                });
            }
        }
        containers
            .iter()
            .map(|id| self.jobs.step(id).cloned())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| WorkResult::Skipped("Container-set not supported".into()))
    }

    /// The subscription pays what this node asks, and a proof's stake is in place.
    async fn payment_holds(&self, sub: &Subscription) -> Step<()> {
        if let Some(problem) = super::payments::check(&self.client, sub)
            .await
            .map_err(failed)?
        {
            return Err(WorkResult::Skipped(problem.to_string()));
        }
        if !(sub.requires_proof() && sub.provides_payment()) {
            return Ok(());
        }
        match super::payments::ensure_stake(
            &self.client,
            &self.calls,
            self.node,
            self.node_wallet,
            sub.payment_token,
            sub.payment_amount,
        )
        .await
        {
            Ok(None) => Ok(()),
            Ok(Some(p)) => Err(WorkResult::Skipped(p.to_string())),
            Err(reason) => Err(WorkResult::Failed {
                reason,
                transient: true,
            }),
        }
    }

    /// The consumer's inputs for this interval.
    async fn inputs(&self, sub: &Subscription, interval: u32, head: Head) -> Step<Bytes> {
        // SDK 0.x callbacks carry their inputs in the subscription.
        if let Some(t) = sub.v0.as_ref().filter(|t| !t.inputs.is_empty()) {
            return Ok(t.inputs.clone());
        }
        let consumer = BaseConsumer::new(sub.owner, self.client.provider().clone());
        let ts = u32::try_from(head.timestamp).unwrap_or(u32::MAX);
        let inputs = match self
            .client
            .view(
                "getContainerInputs",
                consumer.getContainerInputs(sub.id, interval, ts, self.node),
            )
            .await
        {
            Ok(b) => b,
            // A consumer that reverts here gets empty input, as Ritual's node does.
            Err(ChainError::Revert(_)) => Bytes::new(),
            // No consumer there (an account without code answers `0x`): the subscription's
            // fault, never the RPC's; retrying cannot help.
            Err(ChainError::BadAnswer { answer, .. }) => {
                return Err(WorkResult::GivenUp(format!(
                    "the owner {} answered getContainerInputs with {answer}: it has no consumer contract, so this subscription cannot be served",
                    sub.owner
                )));
            }
            Err(e) => return Err(failed(e)),
        };
        tracing::debug!(
            subscription = sub.id,
            interval,
            head = head.number,
            "inputs read; running the pipeline"
        );
        Ok(inputs)
    }

    /// Runs the pipeline; the encoded output to deliver.
    async fn compute(
        &self,
        steps: &[JobStep],
        inputs: &Bytes,
        sub: &Subscription,
    ) -> Step<Payload> {
        let outcome = run_chain(
            self.jobs.http(),
            steps,
            JobLocation::Onchain,
            JobLocation::Onchain,
            input_data(inputs),
            sub.requires_proof(),
        )
        .await;
        if !outcome.ok {
            let text = |k: &str, or: &'static str| {
                outcome
                    .result
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or(or)
                    .to_string()
            };
            return Err(WorkResult::Failed {
                reason: format!(
                    "container '{}' failed: {}",
                    text("container", "?"),
                    text("error", "failed")
                ),
                transient: false,
            });
        }
        let output = outcome.result.get("output").cloned().unwrap_or_default();
        encode_output(&output).map_err(|e| WorkResult::Failed {
            reason: e.to_string(),
            transient: false,
        })
    }

    /// Hands the output to the signer and waits for what became of it.
    async fn submit(&self, sub: Subscription, interval: u32, payload: Payload) -> WorkResult {
        tracing::debug!(
            subscription = sub.id,
            interval,
            "pipeline done; handing to the signer"
        );
        let stopping = || WorkResult::Failed {
            reason: "the node is stopping".into(),
            transient: true,
        };
        let (tx, rx) = oneshot::channel();
        let req = DeliverReq {
            sub,
            interval,
            payload,
            reply: tx,
            delegation: None,
        };
        if self.signer.send(req).await.is_err() {
            return stopping();
        }
        match rx.await {
            Ok(Submitted::Sent(h)) => WorkResult::Sent(h),
            Ok(Submitted::RaceLost(r)) => WorkResult::Skipped(r),
            Ok(Submitted::Failed { reason, transient }) => WorkResult::Failed { reason, transient },
            Err(_) => stopping(),
        }
    }
}
