//! Wires the chain side of a running node: connect (retrying until the RPC answers and the
//! registry checks out), then the sync, scheduler and signer tasks. The REST API and everything
//! else are already up; chain trouble shows in the status, never stops the node. The chain side
//! is one supervised task: when any of its loops ends or panics, the others are stopped and the
//! whole side starts again after a backoff, resuming from the store (tracked subscriptions,
//! sent transactions, delegated requests), with the reason in the status meanwhile.
use super::client::ChainClient;
use super::containers::ContainerIndex;
use super::delegated::{DelegatedService, DelegatedSlot};
use super::deploy::parse_key;
use super::head::Head;
use super::msg::SchedMsg;
use super::scheduler::Scheduler;
use super::signer::Signer;
use super::subscription::Subscription;
use super::sync::{Sync, backoff};
use super::view::{ChainPhase, ChainStatus, LISTED, SubStatus, SubscriptionView};
use super::worker::Worker;
use crate::config::Config;
use crate::guardian::Guardian;
use crate::jobs::JobService;
use crate::store::{ChainLedger, DelegatedStore, SqliteStore, TrackedRow};
use crate::supervise::{Backoff, Supervisor};
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

/// Why the chain side stopped: a config error (restarting cannot help) or one of its loops.
enum Stop {
    Config(String),
    Loop(String),
}

impl From<&str> for Stop {
    fn from(e: &str) -> Self {
        Stop::Config(e.to_string())
    }
}

pub fn spawn(
    config: &Config,
    jobs: JobService,
    store: SqliteStore,
    delegated: DelegatedSlot,
    sup: &Supervisor,
) -> Arc<ChainStatus> {
    let status = Arc::new(ChainStatus::default());
    let st = status.clone();
    let cfg = config.clone();
    let backoff = Backoff {
        base: secs(cfg.chain.snapshot_sync.sleep).max(Duration::from_secs(1)),
        ..Backoff::default()
    };
    sup.restart("chain", backoff, move |cancel| {
        let (cfg, jobs, store, st, delegated) = (
            cfg.clone(),
            jobs.clone(),
            store.clone(),
            st.clone(),
            delegated.clone(),
        );
        async move {
            let result = run(cfg, jobs, store, st.clone(), delegated.clone(), cancel).await;
            delegated.set(None);
            match result {
                Ok(()) => Ok(()),
                Err(Stop::Config(e)) => {
                    tracing::error!(error = %e, "the chain side is not running");
                    st.set_phase(ChainPhase::Connecting, Some(e));
                    Ok(())
                }
                Err(Stop::Loop(e)) => {
                    st.set_phase(
                        ChainPhase::Connecting,
                        Some(format!("restarting the chain side: {e}")),
                    );
                    Err(e)
                }
            }
        }
    });
    status
}

/// The chain settings, checked: what a restart cannot fix is a `Stop::Config`.
struct Settings {
    key: alloy::signers::local::PrivateKeySigner,
    rpc_url: String,
    /// The Registry (SDK 1.x) or the coordinator (SDK 0.x).
    target: Target,
    retry_base: Duration,
    node_wallet: Address,
}

fn settings(config: &Config) -> Result<Settings, Stop> {
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
    let rpc_url = chain
        .rpc_url
        .clone()
        .ok_or(Stop::Config("chain.rpc_url is not set".into()))?;
    let target = if chain.sdk0() {
        Target::Coordinator0(
            chain
                .coordinator_address
                .as_deref()
                .ok_or("chain.coordinator_address is not set (chain.sdk is 0.x)")?
                .parse()
                .map_err(|_| "chain.coordinator_address is not an address")?,
        )
    } else {
        Target::Registry(
            chain
                .registry_address
                .as_deref()
                .ok_or("chain.registry_address is not set")?
                .parse()
                .map_err(|_| "chain.registry_address is not an address")?,
        )
    };
    let node_wallet: Address = match chain.wallet.payment_address.as_deref() {
        None | Some("") => Address::ZERO,
        Some(a) => a
            .parse()
            .map_err(|_| "chain.wallet.payment_address is not an address")?,
    };
    Ok(Settings {
        key,
        rpc_url,
        target,
        retry_base: secs(chain.snapshot_sync.sleep).max(Duration::from_millis(200)),
        node_wallet,
    })
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Registry(Address),
    Coordinator0(Address),
}

/// Connects, retrying with backoff until the RPC answers; `None` when the node stops first.
async fn connect(
    s: &Settings,
    status: &ChainStatus,
    cancel: &CancellationToken,
) -> Option<ChainClient> {
    let mut attempt = 0;
    loop {
        let connected = match s.target {
            Target::Registry(r) => ChainClient::connect(&s.rpc_url, r).await,
            Target::Coordinator0(c) => ChainClient::connect_v0(&s.rpc_url, c).await,
        };
        match connected {
            Ok(c) => return Some(c),
            Err(e) => {
                attempt += 1;
                let wait = backoff(s.retry_base, attempt);
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "chain not reachable yet");
                status.set_phase(ChainPhase::Connecting, Some(e.to_string()));
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Subscriptions tracked before a restart come back from the store, not from the chain; the
/// newest ones of every status are shown again with their last delivery, so `/info` after a
/// restart lists what the node did before it.
async fn resume_tracked(
    ledger: &ChainLedger,
    status: &ChainStatus,
    sched: &mpsc::Sender<SchedMsg>,
) {
    let rows = match ledger
        .subscriptions_with_status(SubStatus::Tracked.as_str())
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read tracked subscriptions from the store");
            return;
        }
    };
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
        status.upsert(stored_view(&sub, &row, SubStatus::Tracked));
        let _ = sched
            .send(SchedMsg::Track {
                sub,
                containers: row.containers,
            })
            .await;
    }
    let recent = match ledger.recent_subscriptions(LISTED as u32).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read past subscriptions from the store");
            return;
        }
    };
    for (row, last) in recent {
        let Ok(sub) = serde_json::from_str::<Subscription>(&row.body) else {
            continue;
        };
        let st = SubStatus::parse(&row.status).unwrap_or(SubStatus::Ignored);
        let last = last.map(|d| {
            let text = match &d.reason {
                Some(r) => format!("interval {}: {} ({r})", d.interval, d.state.as_str()),
                None => format!("interval {}: {}", d.interval, d.state.as_str()),
            };
            (text, d.tx_hash)
        });
        if st == SubStatus::Tracked {
            status.update(sub.id, |v| {
                if let Some((text, tx)) = last {
                    v.last_delivery.get_or_insert(text);
                    if v.last_tx.is_none() {
                        v.last_tx = tx;
                    }
                }
            });
            continue;
        }
        let mut v = stored_view(&sub, &row, st);
        if let Some((text, tx)) = last {
            v.last_delivery = Some(text);
            v.last_tx = tx;
        }
        status.upsert(v);
    }
}

/// A stored subscription's row in the view, as it stood when stored.
fn stored_view(sub: &Subscription, row: &TrackedRow, st: SubStatus) -> SubscriptionView {
    SubscriptionView {
        id: sub.id,
        owner: sub.owner.to_string(),
        containers: row.containers.clone(),
        period: sub.period,
        frequency: sub.frequency,
        redundancy: sub.redundancy,
        responses: None,
        lazy: sub.lazy,
        status: st,
        reason: if st == SubStatus::Tracked {
            None
        } else {
            row.reason.clone()
        },
        interval: None,
        next_due: None,
        last_delivery: None,
        last_tx: None,
        payment: sub.payment_text(),
        proof: sub.proof_text(),
    }
}

/// SDK 0.x: keeps the node's registration (and the cooldown's start) in the status, for the
/// TUI's countdown and `/info`. A failed read keeps the last known state.
async fn watch_registration(
    client: ChainClient,
    node: Address,
    status: Arc<ChainStatus>,
    cancel: CancellationToken,
) {
    let mut last = None;
    loop {
        match super::registration::read(&client, node).await {
            Ok(r) => {
                if last != Some(r.status) {
                    tracing::info!(node = %node, status = r.status, "SDK 0.x node registration");
                    last = Some(r.status);
                }
                status.set_registration(r);
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the node's registration"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// The loops of one run of the chain side, by name; they stop together.
struct Loops {
    set: tokio::task::JoinSet<()>,
    names: std::collections::HashMap<tokio::task::Id, &'static str>,
    /// Delegated requests in flight.
    local: TaskTracker,
    inner: CancellationToken,
}

impl Loops {
    fn spawn(
        &mut self,
        name: &'static str,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let id = self.set.spawn(fut).id();
        self.names.insert(id, name);
    }

    /// Runs until one loop ends (a fault of the whole side) or the node stops; then stops the
    /// rest (what they hold is in the store for the next start).
    async fn until_one_ends(mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        let ended = tokio::select! {
            j = self.set.join_next_with_id() => j,
            _ = cancel.cancelled() => None,
        };
        self.inner.cancel();
        let fault = ended.map(|j| {
            let (id, how) = crate::supervise::loop_ended(j);
            let name = self.names.get(&id).copied().unwrap_or("chain");
            format!("the {name} loop {how}")
        });
        let drain = async {
            while self.set.join_next().await.is_some() {}
            self.local.close();
            self.local.wait().await;
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("chain loops did not stop within 10 s");
        }
        fault.map_or(Ok(()), |f| Err(Stop::Loop(f)))
    }
}

async fn run(
    config: Config,
    jobs: JobService,
    store: SqliteStore,
    status: Arc<ChainStatus>,
    delegated: DelegatedSlot,
    cancel: CancellationToken,
) -> Result<(), Stop> {
    let chain = &config.chain;
    let set = settings(&config)?;
    let Some(client) = connect(&set, &status, &cancel).await else {
        return Ok(());
    };
    let (key, retry_base, node_wallet) = (set.key, set.retry_base, set.node_wallet);
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
    resume_tracked(&ledger, &status, &sched_tx).await;

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
        status: status.clone(),
    };
    let (outcomes_tx, mut outcomes_rx) = mpsc::channel::<(u32, super::msg::TxOutcome)>(256);
    let mut loops = Loops {
        set: tokio::task::JoinSet::new(),
        names: std::collections::HashMap::new(),
        local: TaskTracker::new(),
        inner: cancel.child_token(),
    };
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
            loops.local.clone(),
            loops.inner.child_token(),
        )
        .with_calls(calls_tx.clone(), node_wallet),
    );
    // Delegated subscriptions are an SDK 1.x feature (EIP712Coordinator).
    if !client.sdk0 {
        delegated.set(Some(service.clone()));
    } else {
        let (client, status, cancel) = (client.clone(), status.clone(), loops.inner.clone());
        loops.spawn(
            "registration",
            watch_registration(client, node, status, cancel),
        );
    }
    let svc = service.clone();
    loops.spawn("delegated-outcomes", async move {
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
    let t = loops.inner.clone();
    loops.spawn(
        "signer",
        signer.run(signer_rx, calls_rx, head_rx.clone(), t.child_token()),
    );
    loops.spawn(
        "scheduler",
        scheduler.run(sched_rx, head_rx, t.child_token()),
    );
    loops.spawn("sync", sync.run(t.child_token()));
    service.resume().await;
    loops.until_one_ends(&cancel).await
}
