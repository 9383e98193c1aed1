//! Building a transaction: calldata, simulation, gas limit, nonce and fees, signature and
//! broadcast. The limits and fee arithmetic are `infernet_core::tx::{gas, fees}`.
use super::Signer;
use crate::chain::abi::EIP712Coordinator;
use crate::chain::client::ChainError;
use crate::chain::head::Head;
use crate::chain::msg::{DeliverReq, Submitted};
use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use infernet_core::tx::{already_known, fees, gas};

/// A new transaction, signed and not yet sent.
pub(super) struct SignedTx {
    pub nonce: u64,
    pub hash: B256,
    pub raw: Vec<u8>,
}

fn failed(e: ChainError) -> Submitted {
    Submitted::Failed {
        reason: e.to_string(),
        transient: e.is_transient(),
    }
}

impl Signer {
    pub(super) fn calldata(&self, req: &DeliverReq) -> Bytes {
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
        if sub.v0.is_some() {
            return super::super::abi::V0Coordinator::deliverComputeCall {
                subscriptionId: sub.id,
                deliveryInterval: interval,
                input: p.input.clone(),
                output: p.output.clone(),
                proof: p.proof.clone(),
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

    pub(super) fn base_tx(&self, data: Bytes) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(self.node())
            .with_to(self.client.addresses.coordinator)
            .with_input(data)
    }

    /// Simulates, then signs with the gas limit, `nonce` (read from the chain when None) and
    /// today's fees. Err carries the Submitted verdict.
    pub(super) async fn sign_new(
        &self,
        tx: TransactionRequest,
        nonce: Option<u64>,
        head: &Head,
        max_gas_price: Option<u64>,
    ) -> Result<SignedTx, Submitted> {
        let gas = self.prepare(&tx).await?;
        let nonce = match nonce {
            Some(n) => n,
            None => self.next_nonce().await.map_err(|e| Submitted::Failed {
                reason: e.to_string(),
                transient: true,
            })?,
        };
        let tx = tx
            .with_nonce(nonce)
            .with_gas_limit(gas)
            .with_chain_id(self.client.chain_id);
        let tx = self.with_fees(tx, head, 0).await.map_err(failed)?;
        let tx = match max_gas_price {
            Some(cap) => capped(tx, cap),
            None => tx,
        };
        let (hash, raw) = self.sign(tx).await.map_err(|reason| Submitted::Failed {
            reason,
            transient: false,
        })?;
        Ok(SignedTx { nonce, hash, raw })
    }

    /// The gas limit: `max_gas_limit` for an allowed simulation error, else estimate + margin.
    async fn prepare(&self, tx: &TransactionRequest) -> Result<u64, Submitted> {
        if self.simulate(tx).await? {
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
        gas::limit(est, self.max_gas_limit).map_err(|e| Submitted::Failed {
            reason: e.to_string(),
            transient: false,
        })
    }

    /// Ok(true): the simulation reverted with an error `allowed_sim_errors` lets through.
    async fn simulate(&self, tx: &TransactionRequest) -> Result<bool, Submitted> {
        let sim = self
            .client
            .eth_call("eth_call (simulate deliverCompute)", tx.clone())
            .await;
        match sim {
            Ok(_) => Ok(false),
            Err(ChainError::Revert(r)) if r.is_race_lost() => Err(Submitted::RaceLost(r.message())),
            Err(ChainError::Revert(r)) => {
                let msg = r.message();
                if !gas::sim_error_allowed(&self.allowed_sim_errors, &msg) {
                    return Err(Submitted::Failed {
                        reason: format!("simulation failed: {msg}"),
                        transient: false,
                    });
                }
                tracing::info!(reason = %msg, "simulation error allowed by chain.wallet.allowed_sim_errors; sending with max_gas_limit");
                Ok(true)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Fees bumped `bumps` times (a replacement's count of versions already sent).
    pub(super) async fn with_fees(
        &self,
        tx: TransactionRequest,
        head: &Head,
        bumps: u32,
    ) -> Result<TransactionRequest, ChainError> {
        let Some(base) = head.base_fee else {
            let price = self
                .client
                .rpc("eth_gasPrice", self.client.provider().get_gas_price())
                .await?;
            return Ok(tx.with_gas_price(fees::legacy(price, bumps)));
        };
        let tip = match self
            .client
            .rpc(
                "eth_maxPriorityFeePerGas",
                self.client.provider().get_max_priority_fee_per_gas(),
            )
            .await
        {
            Ok(t) => Some(t),
            Err(e) if e.is_transient() => return Err(e),
            Err(_) => None,
        };
        let f = fees::dynamic(base, tip, bumps);
        tracing::debug!(base_fee = base, tip = f.tip, max_fee = f.max_fee, "fees");
        Ok(tx
            .max_fee_per_gas(f.max_fee)
            .max_priority_fee_per_gas(f.tip))
    }

    pub(super) async fn sign(&self, tx: TransactionRequest) -> Result<(B256, Vec<u8>), String> {
        let wallet = EthereumWallet::from(self.key.clone());
        let env: TxEnvelope = <TransactionRequest as NetworkTransactionBuilder<
            alloy::network::Ethereum,
        >>::build(tx, &wallet)
        .await
        .map_err(|e| format!("cannot sign: {e}"))?;
        Ok((*env.tx_hash(), env.encoded_2718()))
    }

    /// Sends a signed transaction; one the pool already holds counts as sent.
    pub(super) async fn broadcast(&self, raw: &[u8]) -> Result<(), ChainError> {
        match self
            .client
            .rpc(
                "eth_sendRawTransaction",
                self.client.provider().send_raw_transaction(raw),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(ChainError::Refused { message, .. } | ChainError::Rpc { message, .. })
                if already_known(&message) =>
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
}

/// Fees never above `cap` (an SDK 0.x subscription's maxGasPrice: the coordinator reverts with
/// GasPriceExceeded when `tx.gasprice` is higher).
fn capped(tx: TransactionRequest, cap: u64) -> TransactionRequest {
    let cap = u128::from(cap);
    let mut tx = tx;
    if let Some(p) = tx.gas_price {
        tx.gas_price = Some(p.min(cap));
    }
    if let Some(f) = tx.max_fee_per_gas {
        tx.max_fee_per_gas = Some(f.min(cap));
    }
    if let Some(t) = tx.max_priority_fee_per_gas {
        tx.max_priority_fee_per_gas = Some(t.min(cap));
    }
    tx
}
