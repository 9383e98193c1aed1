//! The one task that signs and sends deliveries: a local nonce, simulation before every send
//! (reverts decoded; `allowed_sim_errors` honoured), gas from estimation with a margin capped by
//! `max_gas_limit`, EIP-1559 fees (legacy gas price where the chain has no base fee), receipts
//! checked once per new block, stuck transactions replaced with bumped fees. Every signed
//! transaction is in the ledger before it is broadcast, so a restart resumes tracking it.
//!
//! What to do is decided by `infernet_core::tx` (the tracker, fees, gas); this driver reads the
//! chain, signs, writes the ledger and reports to the scheduler.
mod build;
mod track;

use super::client::ChainClient;
use super::client::ChainError;
use super::head::Head;
use super::msg::{CallReq, DeliverReq, SchedMsg, Submitted};
use crate::store::{ChainLedger, TxRecord};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use infernet_core::tx::{self, Event, Tracker, nonce_taken};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// How long a plain transaction (`CallReq`) is awaited until mined.
const CALL_WAIT: Duration = Duration::from_secs(60);

pub struct Signer {
    pub client: ChainClient,
    pub key: PrivateKeySigner,
    pub ledger: ChainLedger,
    pub sched: mpsc::Sender<SchedMsg>,
    pub max_gas_limit: u64,
    pub allowed_sim_errors: Vec<String>,
    pub replace_after_blocks: u64,
    /// Blocks on top of the one holding a delivery before it counts as confirmed.
    pub confirmations: u64,
    /// `chain.wallet.payment_address`: the node's Wallet that receives payments (zero if unset).
    pub node_wallet: Address,
    /// Where delivered gas is counted (the TUI's gas history reads it).
    pub status: std::sync::Arc<crate::chain::view::ChainStatus>,
}

impl Signer {
    fn node(&self) -> Address {
        self.key.address()
    }

    pub async fn run(
        self,
        mut rx: mpsc::Receiver<DeliverReq>,
        mut calls: mpsc::Receiver<CallReq>,
        mut head_rx: watch::Receiver<Head>,
        cancel: CancellationToken,
    ) {
        let mut tracker = self.restore().await;
        let mut head = *head_rx.borrow();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = head_rx.changed() => {
                    if r.is_err() { return; }
                    head = *head_rx.borrow_and_update();
                    if !tracker.is_idle() {
                        self.on_block(&head, &mut tracker).await;
                    }
                }
                c = calls.recv() => {
                    if let Some(c) = c {
                        let r = self.call(&c, &mut tracker, &head).await;
                        let _ = c.reply.send(r);
                    }
                }
                req = rx.recv() => {
                    let Some(req) = req else { return };
                    let verdict = if tracker.in_flight(req.sub.id, req.interval) {
                        Submitted::Sent("already in flight".into())
                    } else {
                        self.submit(&req, &mut tracker, &head).await
                    };
                    let _ = req.reply.send(verdict);
                }
            }
        }
    }

    /// Signs, records (before the broadcast, so a crash in between still tracks it), sends.
    /// A nonce taken by another sender of this key is read again from the chain and the
    /// delivery signed once more: that costs no attempt.
    async fn submit(&self, req: &DeliverReq, tracker: &mut Tracker, head: &Head) -> Submitted {
        let mut retried = false;
        loop {
            match self.submit_once(req, tracker, head).await {
                Err(e) if !retried && nonce_taken(&e.to_string()) => {
                    retried = true;
                    tracing::info!(error = %e, "another sender used this key's nonce (e.g. `infernet wallet …` while the node runs); signing again with the chain's next nonce");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "transaction refused by the RPC");
                    return Submitted::Failed {
                        reason: format!("transaction refused: {e}"),
                        transient: false,
                    };
                }
                Ok(verdict) => return verdict,
            }
        }
    }

    /// One signing and broadcast; Err: the RPC refused the broadcast for good (the nonce is
    /// read from the chain again next time).
    async fn submit_once(
        &self,
        req: &DeliverReq,
        tracker: &mut Tracker,
        head: &Head,
    ) -> Result<Submitted, ChainError> {
        let tx = self.base_tx(self.calldata(req));
        let cap = req.sub.v0.as_ref().map(|t| t.max_gas_price);
        let s = match self.sign_new(tx, tracker.nonce(), head, cap).await {
            Ok(s) => s,
            Err(verdict) => return Ok(verdict),
        };
        let (id, interval, hash) = (req.sub.id, req.interval, s.hash);
        let record = TxRecord {
            hash: hash.to_string(),
            sub_id: id,
            interval,
            nonce: s.nonce,
            raw: s.raw.clone(),
            sent_block: head.number,
        };
        if let Err(e) = self.ledger.record_tx(record).await {
            return Ok(Submitted::Failed {
                reason: format!("cannot record the transaction: {e}"),
                transient: true,
            });
        }
        tracker.handle(Event::Submitted(tx::Signed {
            sub: id,
            interval,
            nonce: s.nonce,
            hash: hash.0,
            raw: s.raw.clone(),
            block: head.number,
        }));
        match self.broadcast(&s.raw).await {
            Ok(()) => {}
            // It is recorded: the next block rebroadcasts it.
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, tx = %hash, "broadcast failed; will retry")
            }
            Err(e) => {
                tracker.handle(Event::Refused { nonce: s.nonce });
                let _ = self.ledger.close_txs(id, interval, "refused").await;
                return Err(e);
            }
        }
        match &req.delegation {
            // Id 0 never exists on chain: a delegated one is named by its owner and nonce, as
            // the delegated-subscription service logs it.
            Some(d) => {
                tracing::info!(owner = %req.sub.owner, nonce = d.nonce, tx = %hash, tx_nonce = s.nonce, "delegated delivery sent")
            }
            None => {
                tracing::info!(subscription = id, interval, tx = %hash, nonce = s.nonce, "delivery sent")
            }
        }
        Ok(Submitted::Sent(hash.to_string()))
    }

    /// A plain transaction, in nonce order with the deliveries, awaited until mined.
    async fn call(
        &self,
        c: &CallReq,
        tracker: &mut Tracker,
        head: &Head,
    ) -> Result<String, String> {
        let mut retried = false;
        let s = loop {
            let tx = self.base_tx(c.data.clone()).with_to(c.to);
            let s = match self.sign_new(tx, tracker.nonce(), head, None).await {
                Ok(s) => s,
                Err(Submitted::Sent(h)) => return Ok(h),
                Err(Submitted::Failed { reason, .. } | Submitted::RaceLost(reason)) => {
                    return Err(format!("{}: {reason}", c.what));
                }
            };
            match self.broadcast(&s.raw).await {
                Ok(()) => break s,
                Err(e) => {
                    tracker.handle(Event::CallRefused);
                    if retried || !nonce_taken(&e.to_string()) {
                        return Err(format!("{}: {e}", c.what));
                    }
                    retried = true;
                }
            }
        };
        tracker.handle(Event::CallSent { nonce: s.nonce });
        tracing::info!(tx = %s.hash, what = c.what, "transaction sent");
        self.mined(s.hash, c.what).await
    }

    async fn mined(&self, hash: B256, what: &str) -> Result<String, String> {
        let until = Instant::now() + CALL_WAIT;
        while Instant::now() < until {
            match self.client.provider().get_transaction_receipt(hash).await {
                Ok(Some(r)) if r.status() => return Ok(hash.to_string()),
                Ok(Some(_)) => return Err(format!("{what}: transaction {hash} reverted")),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        Err(format!(
            "{what}: transaction {hash} not mined within {} s",
            CALL_WAIT.as_secs()
        ))
    }
}
