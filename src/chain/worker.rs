//! One delivery attempt for (subscription, interval): chain checks, inputs, the container
//! pipeline, output encoding, then the signer. The scheduler decides what happens next.
use super::abi::BaseConsumer;
use super::client::{ChainClient, ChainError};
use super::encode::{encode_output, input_data};
use super::head::Head;
use super::msg::{CallReq, DeliverReq, Submitted, WorkResult};
use super::subscription::{Subscription, interval_key, node_key};
use crate::compute::ContainerState;
use crate::compute::pipeline::JobLocation;
use crate::jobs::{JobService, run_chain};
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
        match self.ledger.delivery(sub.id, interval).await {
            Ok(Some(rec)) if rec.state == DeliveryState::Confirmed => {
                return WorkResult::Confirmed(rec.tx_hash.unwrap_or_default());
            }
            Ok(Some(rec)) if rec.state.is_final() => {
                return WorkResult::Skipped(rec.reason.unwrap_or_else(|| "already handled".into()));
            }
            Ok(Some(rec)) if rec.state == DeliveryState::Sent => {
                return WorkResult::Sent(rec.tx_hash.unwrap_or_default());
            }
            Ok(_) => {}
            Err(e) => {
                return WorkResult::Failed {
                    reason: format!("store: {e}"),
                    transient: true,
                };
            }
        }
        let c = self.client.coordinator();
        match self
            .client
            .view(
                "Coordinator.nodeResponded",
                c.nodeResponded(node_key(sub.id, interval, self.node)),
            )
            .await
        {
            Ok(true) => return WorkResult::Confirmed("delivered (found on chain)".into()),
            Ok(false) => {}
            Err(e) => return failed(e),
        }
        match self
            .client
            .view(
                "Coordinator.redundancyCount",
                c.redundancyCount(interval_key(sub.id, interval)),
            )
            .await
        {
            Ok(n) if n >= sub.redundancy => {
                self.status.update(sub.id, |v| v.responses = Some(n));
                return WorkResult::Skipped(format!(
                    "redundancy met: {n} of {} nodes delivered interval {interval}",
                    sub.redundancy
                ));
            }
            Ok(n) => self.status.update(sub.id, |v| v.responses = Some(n)),
            Err(e) => return failed(e),
        }
        for id in containers.iter() {
            if let Some(st) = self.jobs.states().get(id)
                && st.state != ContainerState::Ready
            {
                return WorkResult::Failed {
                    reason: format!("container '{id}' is not ready"),
                    transient: true,
                };
            }
        }
        let Some(steps) = containers
            .iter()
            .map(|id| self.jobs.step(id).cloned())
            .collect::<Option<Vec<_>>>()
        else {
            return WorkResult::Skipped("Container-set not supported".into());
        };
        match super::payments::check(&self.client, &sub).await {
            Ok(Some(problem)) => return WorkResult::Skipped(problem.to_string()),
            Ok(None) => {}
            Err(e) => return failed(e),
        }
        if sub.requires_proof() && sub.provides_payment() {
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
                Ok(None) => {}
                Ok(Some(p)) => return WorkResult::Skipped(p.to_string()),
                Err(reason) => {
                    return WorkResult::Failed {
                        reason,
                        transient: true,
                    };
                }
            }
        }
        if let Err(e) = self
            .ledger
            .set_delivery(sub.id, interval, DeliveryState::Running, None, false)
            .await
        {
            return WorkResult::Failed {
                reason: format!("store: {e}"),
                transient: true,
            };
        }
        let consumer = BaseConsumer::new(sub.owner, self.client.provider().clone());
        let ts = u32::try_from(head.timestamp).unwrap_or(u32::MAX);
        let inputs: Bytes = match self
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
            Err(e) => return failed(e),
        };
        tracing::debug!(
            subscription = sub.id,
            interval,
            head = head.number,
            "inputs read; running the pipeline"
        );
        let outcome = run_chain(
            self.jobs.http(),
            &steps,
            JobLocation::Onchain,
            JobLocation::Onchain,
            input_data(&inputs),
            sub.requires_proof(),
        )
        .await;
        if !outcome.ok {
            let err = outcome
                .result
                .get("error")
                .and_then(|v| v.as_str())
                .unwrap_or("failed");
            let container = outcome
                .result
                .get("container")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            return WorkResult::Failed {
                reason: format!("container '{container}' failed: {err}"),
                transient: false,
            };
        }
        let output = outcome.result.get("output").cloned().unwrap_or_default();
        let payload = match encode_output(&output) {
            Ok(p) => p,
            Err(e) => {
                return WorkResult::Failed {
                    reason: e.to_string(),
                    transient: false,
                };
            }
        };
        tracing::debug!(
            subscription = sub.id,
            interval,
            "pipeline done; handing to the signer"
        );
        let (tx, rx) = oneshot::channel();
        let req = DeliverReq {
            sub: sub.clone(),
            interval,
            payload,
            reply: tx,
            delegation: None,
        };
        if self.signer.send(req).await.is_err() {
            return WorkResult::Failed {
                reason: "the node is stopping".into(),
                transient: true,
            };
        }
        match rx.await {
            Ok(Submitted::Sent(h)) => WorkResult::Sent(h),
            Ok(Submitted::RaceLost(r)) => WorkResult::Skipped(r),
            Ok(Submitted::Failed { reason, transient }) => WorkResult::Failed { reason, transient },
            Err(_) => WorkResult::Failed {
                reason: "the node is stopping".into(),
                transient: true,
            },
        }
    }
}
