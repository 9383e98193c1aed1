//! Per new block: read what the chain says about the pending deliveries, hand it to the
//! tracker, and carry out its verdicts (resolve, replace, rebroadcast). Also the restart path.
use super::Signer;
use crate::chain::client::ChainError;
use crate::chain::head::Head;
use crate::chain::msg::{SchedMsg, TxOutcome};
use crate::chain::subscription::node_key;
use crate::store::TxRecord;
use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use infernet_core::tx::{self, Config, Effect, Event, Outcome, Receipt, Tracker};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;

impl Signer {
    /// A tracker holding the transactions the ledger still has pending (sent before a restart).
    pub(super) async fn restore(&self) -> Tracker {
        let mut tracker = Tracker::new(Config {
            confirmations: self.confirmations,
            replace_after_blocks: self.replace_after_blocks,
        });
        let rows = match self.ledger.pending_txs().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot read pending transactions from the store");
                return tracker;
            }
        };
        let signed = rows.into_iter().filter_map(|t| {
            Some(tx::Signed {
                hash: t.hash.parse::<B256>().ok()?.0,
                sub: t.sub_id,
                interval: t.interval,
                nonce: t.nonce,
                raw: t.raw,
                block: t.sent_block,
            })
        });
        tracker.handle(Event::Restored(signed.collect()));
        if !tracker.is_idle() {
            tracing::info!(
                transactions = tracker.pending().count(),
                "resuming transactions sent before the restart"
            );
        }
        tracker
    }

    /// Receipt checks, replacement of stuck transactions and rebroadcasts, once per block.
    pub(super) async fn on_block(&self, head: &Head, tracker: &mut Tracker) {
        let Some(event) = self.observe(head, tracker).await else {
            return; // RPC trouble: try again next block
        };
        let mut effects: VecDeque<Effect> = tracker.handle(event).into();
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Resolve {
                    sub,
                    interval,
                    outcome,
                } => {
                    if !self.resolve(sub, interval, outcome).await {
                        return; // the scheduler is gone: shutting down
                    }
                }
                // Dropped: the chain tells whether our delivery landed some other way.
                Effect::CheckResponded { sub, interval } => {
                    let responded = self.responded(sub, interval).await;
                    let next = tracker.handle(Event::DroppedChecked {
                        sub,
                        interval,
                        responded,
                    });
                    next.into_iter().rev().for_each(|e| effects.push_front(e));
                }
                Effect::Replace {
                    sub,
                    interval,
                    nonce,
                    bumps,
                    raw,
                } => {
                    let at = (sub, interval, nonce);
                    if let Err(e) = self.replace(tracker, at, bumps, &raw, head).await {
                        tracing::warn!(error = %e, nonce, "could not replace a stuck transaction");
                    }
                }
                Effect::Rebroadcast { nonce, raw } => {
                    if self.broadcast(&raw).await.is_ok() {
                        tracker.handle(Event::Rebroadcast {
                            nonce,
                            block: head.number,
                        });
                    }
                }
            }
        }
    }

    /// The account's mined nonce, then per pending nonce the receipt of its newest mined
    /// version. The nonce is read first: a transaction mined between the two reads then shows
    /// up as a receipt, never as "nonce used but no receipt" (dropped). None on an RPC error.
    async fn observe(&self, head: &Head, tracker: &Tracker) -> Option<Event> {
        let count = self
            .client
            .provider()
            .get_transaction_count(self.node())
            .latest();
        let mined_nonce = self
            .client
            .rpc("eth_getTransactionCount", count)
            .await
            .ok()?;
        let mut receipts = BTreeMap::new();
        for p in tracker.pending() {
            for hash in p.hashes_newest_first() {
                let ask = self
                    .client
                    .provider()
                    .get_transaction_receipt(B256::from(*hash));
                if let Some(r) = self
                    .client
                    .rpc("eth_getTransactionReceipt", ask)
                    .await
                    .ok()?
                {
                    let mined_at = r.block_number.unwrap_or(head.number);
                    let (hash, ok) = (*hash, r.status());
                    receipts.insert(p.nonce, Receipt { hash, ok, mined_at });
                    break;
                }
            }
        }
        Some(Event::Block {
            head: *head,
            mined_nonce,
            receipts,
        })
    }

    /// Closes the ledger rows and tells the scheduler; false when the scheduler is gone.
    async fn resolve(&self, id: u32, interval: u32, outcome: Outcome) -> bool {
        match &outcome {
            Outcome::Confirmed(hash) => self.count_gas(B256::from(*hash)).await,
            Outcome::Reverted { raw } => {
                if let Ok(env) = TxEnvelope::decode_2718(&mut &raw[..]) {
                    self.count_gas(*env.tx_hash()).await;
                }
            }
            Outcome::FoundOnChain | Outcome::Dropped => {}
        }
        let outcome = match outcome {
            Outcome::Confirmed(hash) => TxOutcome::Confirmed(B256::from(hash).to_string()),
            Outcome::FoundOnChain => TxOutcome::Confirmed("delivered (found on chain)".into()),
            Outcome::Dropped => TxOutcome::Failed("transaction dropped before it was mined".into()),
            Outcome::Reverted { raw } => self.revert_reason(id, interval, &raw).await,
        };
        let state = match &outcome {
            TxOutcome::Confirmed(_) => "confirmed",
            _ => "failed",
        };
        let _ = self.ledger.close_txs(id, interval, state).await;
        let msg = SchedMsg::TxResolved {
            id,
            interval,
            outcome,
        };
        self.sched.send(msg).await.is_ok()
    }

    /// Adds a mined delivery's gas to the status (reverted ones spend gas too). Best effort:
    /// an RPC error leaves the figure short, never the delivery unresolved.
    async fn count_gas(&self, hash: B256) {
        let ask = self.client.provider().get_transaction_receipt(hash);
        if let Ok(Some(r)) = self.client.rpc("eth_getTransactionReceipt", ask).await {
            self.status
                .gas_used
                .fetch_add(r.gas_used, Ordering::Relaxed);
        }
    }

    async fn responded(&self, id: u32, interval: u32) -> Option<bool> {
        let c = self.client.coordinator();
        self.client
            .view(
                "Coordinator.nodeResponded",
                c.nodeResponded(node_key(id, interval, self.node())),
            )
            .await
            .ok()
    }

    /// A reverted delivery's reason: replay the same call at the latest block.
    async fn revert_reason(&self, id: u32, interval: u32, raw: &[u8]) -> TxOutcome {
        let Ok(env) = TxEnvelope::decode_2718(&mut &raw[..]) else {
            return TxOutcome::Failed("reverted on chain".into());
        };
        let data = Bytes::copy_from_slice(alloy::consensus::Transaction::input(&env));
        match self
            .client
            .eth_call("eth_call (revert reason)", self.base_tx(data))
            .await
        {
            Err(ChainError::Revert(r)) if r.is_race_lost() => TxOutcome::RaceLost(r.message()),
            Err(ChainError::Revert(r)) => {
                TxOutcome::Failed(format!("reverted on chain: {}", r.message()))
            }
            _ => {
                if id == 0 {
                    tracing::debug!(
                        seq = interval,
                        "delegated delivery reverted on chain; the replay did not revert"
                    );
                } else {
                    tracing::debug!(
                        subscription = id,
                        interval,
                        "reverted on chain; the replay did not revert"
                    );
                }
                TxOutcome::Failed("reverted on chain (out of gas or state changed since)".into())
            }
        }
    }

    /// Re-signs `raw` with bumped fees, records it (before the broadcast), then sends it.
    async fn replace(
        &self,
        tracker: &mut Tracker,
        (sub_id, interval, nonce): (u32, u32, u64),
        bumps: u32,
        raw: &[u8],
        head: &Head,
    ) -> Result<(), String> {
        let env = TxEnvelope::decode_2718(&mut &raw[..]).map_err(|e| e.to_string())?;
        let tx = TransactionRequest::from_transaction(env);
        let tx = self
            .with_fees(tx, head, bumps)
            .await
            .map_err(|e| e.to_string())?;
        let (hash, raw) = self.sign(tx).await?;
        let record = TxRecord {
            hash: hash.to_string(),
            sub_id,
            interval,
            nonce,
            raw: raw.clone(),
            sent_block: head.number,
        };
        self.ledger
            .record_tx(record)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(nonce, tx = %hash, replacement = bumps, "replacing a stuck transaction with higher fees");
        tracker.handle(Event::Replaced {
            nonce,
            hash: hash.0,
            raw: raw.clone(),
            block: head.number,
        });
        self.broadcast(&raw).await.map_err(|e| e.to_string())
    }
}
