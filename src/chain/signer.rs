//! The one task that signs and sends deliveries: a local nonce, simulation before every send
//! (reverts decoded; `allowed_sim_errors` honoured), gas from estimation with a margin capped by
//! `max_gas_limit`, EIP-1559 fees (legacy gas price where the chain has no base fee), receipts
//! checked once per new block, stuck transactions replaced with bumped fees. Every signed
//! transaction is in the ledger before it is broadcast, so a restart resumes tracking it.
use super::abi::EIP712Coordinator;
use super::client::{ChainClient, ChainError};
use super::head::Head;
use super::msg::{CallReq, DeliverReq, SchedMsg, Submitted, TxOutcome};
use super::subscription::node_key;
use crate::store::{ChainLedger, TxRecord};
use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use std::collections::BTreeMap;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Gas margin over the estimate, in percent.
const GAS_MARGIN_PCT: u64 = 25;
/// Fee bump for a replacement, in percent (nodes require at least 10).
const BUMP_PCT: u128 = 25;

struct Pending {
    sub_id: u32,
    interval: u32,
    nonce: u64,
    /// Every signed version (replacements), newest last.
    versions: Vec<(B256, Vec<u8>)>,
    sent_block: u64,
    broadcast_block: u64,
}

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
}

impl Signer {
    fn node(&self) -> Address {
        self.key.address()
    }

    fn calldata(&self, req: &DeliverReq) -> Bytes {
        let (sub, interval, p) = (&req.sub, req.interval, &req.payload);
        if let Some(d) = &req.delegation {
            return EIP712Coordinator::deliverComputeDelegateeCall {
                nonce: d.nonce,
                expiry: d.expiry,
                sub: sub.to_abi(),
                v: d.v,
                r: d.r,
                s: d.s,
                deliveryInterval: d.delivery_interval,
                input: p.input.clone(),
                output: p.output.clone(),
                proof: p.proof.clone(),
                nodeWallet: self.node_wallet,
            }
            .abi_encode()
            .into();
        }
        EIP712Coordinator::deliverComputeCall {
            subscriptionId: sub.id,
            deliveryInterval: interval,
            input: p.input.clone(),
            output: p.output.clone(),
            proof: p.proof.clone(),
            nodeWallet: self.node_wallet,
        }
        .abi_encode()
        .into()
    }

    fn base_tx(&self, data: Bytes) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(self.node())
            .with_to(self.client.addresses.coordinator)
            .with_input(data)
    }

    /// Simulates, then picks the gas limit. Err carries the Submitted verdict.
    async fn prepare(&self, tx: &TransactionRequest) -> Result<u64, Submitted> {
        let sim = self
            .client
            .eth_call("eth_call (simulate deliverCompute)", tx.clone())
            .await;
        let mut bypass = false;
        match sim {
            Ok(_) => {}
            Err(ChainError::Revert(r)) => {
                let msg = r.message();
                if r.is_race_lost() {
                    return Err(Submitted::RaceLost(msg));
                }
                let lower = msg.to_ascii_lowercase();
                if self
                    .allowed_sim_errors
                    .iter()
                    .any(|a| !a.is_empty() && lower.contains(&a.to_ascii_lowercase()))
                {
                    tracing::info!(reason = %msg, "simulation error allowed by chain.wallet.allowed_sim_errors; sending with max_gas_limit");
                    bypass = true;
                } else {
                    return Err(Submitted::Failed {
                        reason: format!("simulation failed: {msg}"),
                        transient: false,
                    });
                }
            }
            Err(e) => {
                return Err(Submitted::Failed {
                    reason: e.to_string(),
                    transient: e.is_transient(),
                });
            }
        }
        if bypass {
            return Ok(self.max_gas_limit);
        }
        let est = self
            .client
            .rpc(
                "eth_estimateGas",
                self.client.provider().estimate_gas(tx.clone()),
            )
            .await
            .map_err(|e| Submitted::Failed {
                reason: format!("gas estimation failed: {e}"),
                transient: e.is_transient(),
            })?;
        let gas = est.saturating_add(est * GAS_MARGIN_PCT / 100);
        if est > self.max_gas_limit {
            return Err(Submitted::Failed {
                reason: format!(
                    "delivery needs {est} gas, more than chain.wallet.max_gas_limit {}",
                    self.max_gas_limit
                ),
                transient: false,
            });
        }
        Ok(gas.min(self.max_gas_limit))
    }

    async fn with_fees(
        &self,
        tx: TransactionRequest,
        head: &Head,
        bump: u32,
    ) -> Result<TransactionRequest, ChainError> {
        let factor = |v: u128| {
            let mut v = v;
            for _ in 0..bump {
                v = v + v * BUMP_PCT / 100 + 1;
            }
            v
        };
        match head.base_fee {
            Some(base) => {
                let tip = match self
                    .client
                    .rpc(
                        "eth_maxPriorityFeePerGas",
                        self.client.provider().get_max_priority_fee_per_gas(),
                    )
                    .await
                {
                    Ok(t) => t,
                    Err(e) if e.is_transient() => return Err(e),
                    Err(_) => 1_000_000_000,
                };
                let tip = factor(tip.max(1));
                let max_fee = factor(u128::from(base) * 2) + tip;
                tracing::debug!(base_fee = base, tip, max_fee, "fees");
                Ok(tx.max_fee_per_gas(max_fee).max_priority_fee_per_gas(tip))
            }
            None => {
                let price = self
                    .client
                    .rpc("eth_gasPrice", self.client.provider().get_gas_price())
                    .await?;
                Ok(tx.with_gas_price(factor(price)))
            }
        }
    }

    async fn sign(&self, tx: TransactionRequest) -> Result<(B256, Vec<u8>), String> {
        let wallet = EthereumWallet::from(self.key.clone());
        let env: TxEnvelope = <TransactionRequest as NetworkTransactionBuilder<
            alloy::network::Ethereum,
        >>::build(tx, &wallet)
        .await
        .map_err(|e| format!("cannot sign: {e}"))?;
        Ok((*env.tx_hash(), env.encoded_2718()))
    }

    async fn broadcast(&self, raw: &[u8]) -> Result<(), ChainError> {
        match self
            .client
            .rpc(
                "eth_sendRawTransaction",
                self.client.provider().send_raw_transaction(raw),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Already in the pool (geth/erigon "already known", anvil "already imported").
            Err(ChainError::Refused { message, .. } | ChainError::Rpc { message, .. })
                if [
                    "already known",
                    "already imported",
                    "alreadyknown",
                    "known transaction",
                ]
                .iter()
                .any(|k| message.to_ascii_lowercase().contains(k)) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn next_nonce(&self) -> Result<u64, ChainError> {
        self.client
            .rpc(
                "eth_getTransactionCount",
                self.client
                    .provider()
                    .get_transaction_count(self.node())
                    .pending(),
            )
            .await
    }

    async fn submit(
        &self,
        req: &DeliverReq,
        nonce: &mut Option<u64>,
        head: &Head,
        pending: &mut BTreeMap<u64, Pending>,
    ) -> Submitted {
        let data = self.calldata(req);
        let tx = self.base_tx(data);
        let gas = match self.prepare(&tx).await {
            Ok(g) => g,
            Err(verdict) => return verdict,
        };
        let n = match *nonce {
            Some(n) => n,
            None => match self.next_nonce().await {
                Ok(n) => n,
                Err(e) => {
                    return Submitted::Failed {
                        reason: e.to_string(),
                        transient: true,
                    };
                }
            },
        };
        let tx = tx
            .with_nonce(n)
            .with_gas_limit(gas)
            .with_chain_id(self.client.chain_id);
        let tx = match self.with_fees(tx, head, 0).await {
            Ok(t) => t,
            Err(e) => {
                return Submitted::Failed {
                    reason: e.to_string(),
                    transient: e.is_transient(),
                };
            }
        };
        let (hash, raw) = match self.sign(tx).await {
            Ok(x) => x,
            Err(e) => {
                return Submitted::Failed {
                    reason: e,
                    transient: false,
                };
            }
        };
        let record = TxRecord {
            hash: hash.to_string(),
            sub_id: req.sub.id,
            interval: req.interval,
            nonce: n,
            raw: raw.clone(),
            sent_block: head.number,
        };
        if let Err(e) = self.ledger.record_tx(record).await {
            return Submitted::Failed {
                reason: format!("cannot record the transaction: {e}"),
                transient: true,
            };
        }
        *nonce = Some(n + 1);
        pending.insert(
            n,
            Pending {
                sub_id: req.sub.id,
                interval: req.interval,
                nonce: n,
                versions: vec![(hash, raw.clone())],
                sent_block: head.number,
                broadcast_block: head.number,
            },
        );
        match self.broadcast(&raw).await {
            Ok(()) => {}
            Err(e) if e.is_transient() => {
                // It is recorded: the next block rebroadcasts it.
                tracing::warn!(error = %e, tx = %hash, "broadcast failed; will retry");
            }
            Err(e) => {
                tracing::warn!(error = %e, tx = %hash, "transaction refused by the RPC");
                pending.remove(&n);
                *nonce = None;
                let _ = self
                    .ledger
                    .close_txs(req.sub.id, req.interval, "refused")
                    .await;
                return Submitted::Failed {
                    reason: format!("transaction refused: {e}"),
                    transient: false,
                };
            }
        }
        tracing::info!(subscription = req.sub.id, interval = req.interval, tx = %hash, nonce = n, "delivery sent");
        Submitted::Sent(hash.to_string())
    }

    /// Receipt checks, replacement of stuck transactions and rebroadcasts, once per block.
    async fn on_block(
        &self,
        head: &Head,
        pending: &mut BTreeMap<u64, Pending>,
        nonce: &mut Option<u64>,
    ) {
        let mut resolved = Vec::new();
        // Read before the receipts: a transaction mined between the two reads then shows up as
        // a receipt, never as "nonce used but no receipt" (dropped).
        let mined_nonce = match self
            .client
            .rpc(
                "eth_getTransactionCount",
                self.client
                    .provider()
                    .get_transaction_count(self.node())
                    .latest(),
            )
            .await
        {
            Ok(v) => v,
            Err(_) => return,
        };
        for (n, p) in pending.iter_mut() {
            let mut found = None;
            for (hash, _) in p.versions.iter().rev() {
                match self
                    .client
                    .rpc(
                        "eth_getTransactionReceipt",
                        self.client.provider().get_transaction_receipt(*hash),
                    )
                    .await
                {
                    Ok(Some(r)) => {
                        found = Some((*hash, r.status(), r.block_number.unwrap_or(head.number)));
                        break;
                    }
                    Ok(None) => {}
                    Err(_) => return, // RPC trouble: try again next block
                }
            }
            if let Some((hash, ok, mined_at)) = found {
                // Final only `confirmations` blocks deep (chain.trail_head_blocks): a delivery in
                // a block that gets reorged out is still pending, and is re-sent if it vanishes.
                if head.number < mined_at + self.confirmations {
                    continue;
                }
                resolved.push((*n, hash, ok));
                continue;
            }
            // Not mined, yet its nonce was used: another version or transaction took it.
            if mined_nonce > p.nonce {
                resolved.push((*n, B256::ZERO, false));
                continue;
            }
            if head.number.saturating_sub(p.sent_block) >= self.replace_after_blocks {
                if let Err(e) = self.replace(p, head).await {
                    tracing::warn!(error = %e, nonce = p.nonce, "could not replace a stuck transaction");
                }
            } else if head.number > p.broadcast_block + 1
                && let Some((_, raw)) = p.versions.last()
                && self.broadcast(raw).await.is_ok()
            {
                p.broadcast_block = head.number;
            }
        }
        for (n, hash, ok) in resolved {
            let Some(p) = pending.remove(&n) else {
                continue;
            };
            let outcome = if hash == B256::ZERO {
                // Dropped: the chain tells whether our delivery landed some other way.
                match self.responded(p.sub_id, p.interval).await {
                    Some(true) => TxOutcome::Confirmed("delivered (found on chain)".into()),
                    _ => {
                        *nonce = None;
                        TxOutcome::Failed("transaction dropped before it was mined".into())
                    }
                }
            } else if ok {
                TxOutcome::Confirmed(hash.to_string())
            } else {
                self.revert_reason(p.sub_id, p.interval, &p.versions).await
            };
            let state = match &outcome {
                TxOutcome::Confirmed(_) => "confirmed",
                _ => "failed",
            };
            let _ = self.ledger.close_txs(p.sub_id, p.interval, state).await;
            if self
                .sched
                .send(SchedMsg::TxResolved {
                    id: p.sub_id,
                    interval: p.interval,
                    outcome,
                })
                .await
                .is_err()
            {
                return;
            }
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
    async fn revert_reason(
        &self,
        id: u32,
        interval: u32,
        versions: &[(B256, Vec<u8>)],
    ) -> TxOutcome {
        let Some((_, raw)) = versions.last() else {
            return TxOutcome::Failed("reverted on chain".into());
        };
        let Ok(env) = TxEnvelope::decode_2718(&mut raw.as_slice()) else {
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
                tracing::debug!(
                    subscription = id,
                    interval,
                    "reverted on chain; the replay did not revert"
                );
                TxOutcome::Failed("reverted on chain (out of gas or state changed since)".into())
            }
        }
    }

    async fn replace(&self, p: &mut Pending, head: &Head) -> Result<(), String> {
        let Some((_, raw)) = p.versions.last() else {
            return Ok(());
        };
        let env = TxEnvelope::decode_2718(&mut raw.as_slice()).map_err(|e| e.to_string())?;
        let bumps = p.versions.len() as u32;
        let tx = TransactionRequest::from_transaction(env);
        let tx = self
            .with_fees(tx, head, bumps)
            .await
            .map_err(|e| e.to_string())?;
        let (hash, raw) = self.sign(tx).await?;
        self.ledger
            .record_tx(TxRecord {
                hash: hash.to_string(),
                sub_id: p.sub_id,
                interval: p.interval,
                nonce: p.nonce,
                raw: raw.clone(),
                sent_block: head.number,
            })
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(nonce = p.nonce, tx = %hash, replacement = bumps, "replacing a stuck transaction with higher fees");
        p.versions.push((hash, raw.clone()));
        p.sent_block = head.number;
        p.broadcast_block = head.number;
        self.broadcast(&raw).await.map_err(|e| e.to_string())
    }

    async fn call(
        &self,
        c: &CallReq,
        nonce: &mut Option<u64>,
        head: &Head,
    ) -> Result<String, String> {
        let tx = self.base_tx(c.data.clone()).with_to(c.to);
        let gas = match self.prepare(&tx).await {
            Ok(g) => g,
            Err(Submitted::Failed { reason, .. }) | Err(Submitted::RaceLost(reason)) => {
                return Err(format!("{}: {reason}", c.what));
            }
            Err(Submitted::Sent(h)) => return Ok(h),
        };
        let n = match *nonce {
            Some(n) => n,
            None => self.next_nonce().await.map_err(|e| e.to_string())?,
        };
        let tx = tx
            .with_nonce(n)
            .with_gas_limit(gas)
            .with_chain_id(self.client.chain_id);
        let tx = self
            .with_fees(tx, head, 0)
            .await
            .map_err(|e| e.to_string())?;
        let (hash, raw) = self.sign(tx).await?;
        if let Err(e) = self.broadcast(&raw).await {
            *nonce = None;
            return Err(format!("{}: {e}", c.what));
        }
        *nonce = Some(n + 1);
        tracing::info!(tx = %hash, what = c.what, "transaction sent");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < until {
            match self.client.provider().get_transaction_receipt(hash).await {
                Ok(Some(r)) if r.status() => return Ok(hash.to_string()),
                Ok(Some(_)) => return Err(format!("{}: transaction {hash} reverted", c.what)),
                _ => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        }
        Err(format!(
            "{}: transaction {hash} not mined within 60 s",
            c.what
        ))
    }

    async fn restore(&self) -> BTreeMap<u64, Pending> {
        let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
        match self.ledger.pending_txs().await {
            Ok(txs) => {
                for t in txs {
                    let Ok(hash) = t.hash.parse::<B256>() else {
                        continue;
                    };
                    let e = pending.entry(t.nonce).or_insert(Pending {
                        sub_id: t.sub_id,
                        interval: t.interval,
                        nonce: t.nonce,
                        versions: Vec::new(),
                        sent_block: t.sent_block,
                        broadcast_block: 0,
                    });
                    e.versions.push((hash, t.raw));
                    e.sent_block = e.sent_block.max(t.sent_block);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read pending transactions from the store")
            }
        }
        if !pending.is_empty() {
            tracing::info!(
                transactions = pending.len(),
                "resuming transactions sent before the restart"
            );
        }
        pending
    }

    pub async fn run(
        self,
        mut rx: mpsc::Receiver<DeliverReq>,
        mut calls: mpsc::Receiver<CallReq>,
        mut head_rx: watch::Receiver<Head>,
        cancel: CancellationToken,
    ) {
        let mut pending = self.restore().await;
        let mut nonce: Option<u64> = None;
        let mut head = *head_rx.borrow();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = head_rx.changed() => {
                    if r.is_err() { return; }
                    head = *head_rx.borrow_and_update();
                    if !pending.is_empty() {
                        self.on_block(&head, &mut pending, &mut nonce).await;
                    }
                }
                c = calls.recv() => {
                    if let Some(c) = c {
                        let r = self.call(&c, &mut nonce, &head).await;
                        let _ = c.reply.send(r);
                    }
                }
                req = rx.recv() => {
                    let Some(req) = req else { return };
                    if pending.values().any(|p| p.sub_id == req.sub.id && p.interval == req.interval) {
                        let _ = req.reply.send(Submitted::Sent("already in flight".into()));
                        continue;
                    }
                    let verdict = self.submit(&req, &mut nonce, &head, &mut pending).await;
                    let _ = req.reply.send(verdict);
                }
            }
        }
    }
}
