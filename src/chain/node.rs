//! Wires the chain side of a running node: connect (retrying until the RPC answers and the
//! registry checks out), then the sync, scheduler and signer tasks. The REST API and everything
//! else are already up; chain trouble shows in the status, never stops the node.
use super::client::ChainClient;
use super::containers::ContainerIndex;
use super::delegated::{DelegatedService, DelegatedSlot};
use super::deploy::parse_key;
use super::head::Head;
use super::scheduler::{SchedMsg, Scheduler};
use super::signer::Signer;
use super::subscription::Subscription;
use super::sync::{Sync, backoff};
use super::view::{ChainPhase, ChainStatus, SubscriptionView};
use super::worker::Worker;
use crate::config::Config;
use crate::guardian::Guardian;
use crate::jobs::JobService;
use crate::store::{ChainLedger, DelegatedStore, SqliteStore};
use alloy::primitives::Address;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Failed attempts (reverts, container errors) per interval before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

pub fn spawn(
    config: &Config,
    jobs: JobService,
    store: SqliteStore,
    delegated: DelegatedSlot,
    tasks: &TaskTracker,
    cancel: &CancellationToken,
) -> Arc<ChainStatus> {
    let status = Arc::new(ChainStatus::default());
    let st = status.clone();
    let cfg = config.clone();
    let cancel = cancel.clone();
    let inner_tasks = tasks.clone();
    tasks.spawn(async move {
        if let Err(e) = run(cfg, jobs, store, st.clone(), delegated, inner_tasks, cancel).await {
            tracing::error!(error = %e, "the chain side is not running");
            st.set_phase(ChainPhase::Connecting, Some(e));
        }
    });
    status
}

async fn run(
    config: Config,
    jobs: JobService,
    store: SqliteStore,
    status: Arc<ChainStatus>,
    delegated: DelegatedSlot,
    tasks: TaskTracker,
    cancel: CancellationToken,
) -> Result<(), String> {
    let chain = &config.chain;
    let key = chain
        .wallet
        .private_key
        .as_ref()
        .ok_or("chain.wallet.private_key is not set")
        .and_then(|k| {
            parse_key(k.expose())
                .map_err(|_| "chain.wallet.private_key: not a valid secp256k1 private key")
        })?;
    let rpc_url = chain.rpc_url.clone().ok_or("chain.rpc_url is not set")?;
    let registry: Address = chain
        .registry_address
        .as_deref()
        .ok_or("chain.registry_address is not set")?
        .parse()
        .map_err(|_| "chain.registry_address is not an address")?;
    let retry_base = secs(chain.snapshot_sync.sleep).max(Duration::from_millis(200));
    let node_wallet: Address = match chain.wallet.payment_address.as_deref() {
        None | Some("") => Address::ZERO,
        Some(a) => a
            .parse()
            .map_err(|_| "chain.wallet.payment_address is not an address")?,
    };

    let mut attempt = 0;
    let client = loop {
        match ChainClient::connect(&rpc_url, registry).await {
            Ok(c) => break c,
            Err(e) => {
                attempt += 1;
                let wait = backoff(retry_base, attempt);
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "chain not reachable yet");
                status.set_phase(ChainPhase::Connecting, Some(e.to_string()));
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    };
    let node = key.address();
    status.set_rpc(client.health().clone());
    status.set_identity(client.chain_id, node.to_string(), client.addresses);
    status.set_phase(ChainPhase::Syncing, None);
    tracing::info!(chain_id = client.chain_id, coordinator = %client.addresses.coordinator, node = %node, "chain connected");

    let deployment = format!("{}:{}", client.chain_id, client.addresses.coordinator);
    let delegated_store = DelegatedStore::new(store.clone(), deployment.clone());
    let ledger = ChainLedger::new(store, deployment, node.to_string());
    let ids: Vec<String> = config
        .containers
        .iter()
        .map(|c| c.id.clone())
        .chain(config.backends.iter().map(|b| b.id.clone()))
        .collect();
    let index = Arc::new(ContainerIndex::new(&ids));
    let (head_tx, head_rx) = watch::channel(Head::default());
    let (sched_tx, sched_rx) = mpsc::channel::<SchedMsg>(4096);
    let (signer_tx, signer_rx) = mpsc::channel(256);
    let (calls_tx, calls_rx) = mpsc::channel(16);

    // Subscriptions tracked before a restart come back from the store, not from the chain.
    match ledger.subscriptions_with_status("tracked").await {
        Ok(rows) => {
            if !rows.is_empty() {
                tracing::info!(
                    subscriptions = rows.len(),
                    "resuming tracked subscriptions from the store"
                );
            }
            for row in rows {
                let Ok(sub) = serde_json::from_str::<Subscription>(&row.body) else {
                    continue;
                };
                status.upsert(SubscriptionView {
                    id: sub.id,
                    owner: sub.owner.to_string(),
                    containers: row.containers.clone(),
                    period: sub.period,
                    frequency: sub.frequency,
                    redundancy: sub.redundancy,
                    responses: None,
                    lazy: sub.lazy,
                    status: "tracked".into(),
                    reason: None,
                    interval: None,
                    next_due: None,
                    last_delivery: None,
                    last_tx: None,
                    payment: sub.payment_text(),
                    proof: sub.proof_text(),
                });
                let _ = sched_tx
                    .send(SchedMsg::Track {
                        sub,
                        containers: row.containers,
                    })
                    .await;
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read tracked subscriptions from the store"),
    }

    let signer = Signer {
        client: client.clone(),
        key,
        ledger: ledger.clone(),
        sched: sched_tx.clone(),
        max_gas_limit: chain.wallet.max_gas_limit,
        allowed_sim_errors: chain.wallet.allowed_sim_errors.clone(),
        replace_after_blocks: chain.wallet.replace_after_blocks,
        confirmations: chain.trail_head_blocks,
        node_wallet,
    };
    let (outcomes_tx, mut outcomes_rx) = mpsc::channel::<(u32, super::signer::TxOutcome)>(256);
    let service = Arc::new(
        DelegatedService::new(
            client.clone(),
            node,
            index.clone(),
            Guardian::new(&config),
            delegated_store,
            jobs.clone(),
            signer_tx.clone(),
            head_rx.clone(),
            tasks.clone(),
            cancel.child_token(),
        )
        .with_calls(calls_tx.clone(), node_wallet),
    );
    let _ = delegated.set(service.clone());
    let svc = service.clone();
    tasks.spawn(async move {
        while let Some((seq, outcome)) = outcomes_rx.recv().await {
            svc.resolved(seq, outcome);
        }
    });
    let worker = Arc::new(Worker {
        client: client.clone(),
        node,
        ledger: ledger.clone(),
        jobs,
        signer: signer_tx,
        calls: calls_tx,
        node_wallet,
        status: status.clone(),
    });
    let scheduler = Scheduler {
        worker,
        ledger: ledger.clone(),
        status: status.clone(),
        self_tx: sched_tx.clone(),
        max_attempts: MAX_ATTEMPTS,
        concurrency: 32,
        retry_base,
        delegated: Some(outcomes_tx),
    };
    let sync = Sync {
        client,
        ledger,
        index,
        guardian: Guardian::new(&config),
        status,
        sched: sched_tx,
        head_tx,
        trail: chain.trail_head_blocks,
        batch_size: chain.snapshot_sync.batch_size,
        starting_sub_id: chain.snapshot_sync.starting_sub_id,
        sync_period: secs(chain.snapshot_sync.sync_period),
        retry_base,
        node,
    };
    tasks.spawn(signer.run(signer_rx, calls_rx, head_rx.clone(), cancel.child_token()));
    tasks.spawn(scheduler.run(sched_rx, head_rx, cancel.child_token()));
    tasks.spawn(sync.run(cancel.child_token()));
    service.resume().await;
    Ok(())
}
