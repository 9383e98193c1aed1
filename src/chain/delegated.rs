//! Delegated (signed) subscriptions over REST (reference ritual-node §5.7, ritual-sdk §4):
//! everything is checked **before** answering — expiry, the container set, the guardian rules,
//! the EIP-712 signature against the owner's `getSigner()` — so a bad request gets a 4xx naming
//! the reason (Ritual answers 200 `{}` and only logs). An accepted request is stored, its first
//! interval runs as a job readable at `GET /api/jobs?id=`, and the output is delivered with
//! `deliverComputeDelegatee`, which creates the subscription in the same transaction. Later
//! intervals are served under the on-chain id like any subscription.
use super::client::{ChainClient, ChainError};
use super::containers::ContainerIndex;
use super::eip712;
use super::encode::encode_output;
use super::head::Head;
use super::msg::{Delegation, DeliverReq, Submitted, TxOutcome};
use super::subscription::{Subscription, container_set_hash, delegate_key};
use crate::compute::pipeline::JobLocation;
use crate::guardian::Guardian;
use crate::jobs::JobService;
use crate::store::{DelegatedRow, DelegatedStore, JobSource};
use alloy::primitives::{Address, B256, U256};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A delegated subscription request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct DelegatedRequest {
    pub sub: Subscription,
    pub nonce: u32,
    pub expiry: u32,
    pub v: u8,
    pub r: B256,
    pub s: B256,
    /// Input of the first container for the first interval.
    pub data: Value,
}

/// A refusal: HTTP status, Ritual-style message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub error: String,
    pub params: Value,
}

fn refuse(status: u16, error: impl Into<String>, params: Value) -> Refusal {
    Refusal {
        status,
        error: error.into(),
        params,
    }
}

/// What an accepted request answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The job running the first interval (None when the subscription already existed).
    pub job_id: Option<String>,
    /// The on-chain id, when the subscription exists already.
    pub subscription_id: Option<u32>,
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, Refusal> {
    v.pointer(path).filter(|x| !x.is_null()).ok_or_else(|| {
        refuse(
            400,
            "Invalid delegated subscription",
            json!({"field": path.trim_start_matches('/').replace('/', "."), "problem": "missing"}),
        )
    })
}

fn bad(path: &str, problem: impl Into<String>) -> Refusal {
    refuse(
        400,
        "Invalid delegated subscription",
        json!({"field": path.trim_start_matches('/').replace('/', "."), "problem": problem.into()}),
    )
}

/// A uint256 from a JSON integer of any size, or a decimal / 0x-hex string.
fn uint(v: &Value, path: &str) -> Result<U256, Refusal> {
    let text = match field(v, path)? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(bad(path, "expected an unsigned integer")),
    };
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => U256::from_str_radix(hex, 16),
        None => U256::from_str_radix(&text, 10),
    };
    parsed.map_err(|_| bad(path, format!("'{text}' is not an unsigned integer")))
}

fn small<T: TryFrom<U256>>(v: &Value, path: &str, what: &str) -> Result<T, Refusal> {
    T::try_from(uint(v, path)?).map_err(|_| bad(path, format!("does not fit in {what}")))
}

fn address(v: &Value, path: &str) -> Result<Address, Refusal> {
    match field(v, path)? {
        Value::String(s) => s
            .parse()
            .map_err(|_| bad(path, format!("'{s}' is not an address"))),
        _ => Err(bad(path, "expected an address string")),
    }
}

/// Parses the request body (reference ritual-node §2.2 shapes; integers up to 2^256).
pub fn parse(body: &Value) -> Result<DelegatedRequest, Refusal> {
    let containers = match field(body, "/subscription/containers")? {
        Value::String(s) => {
            let hex = s.strip_prefix("0x").unwrap_or(s);
            let bytes = alloy::hex::decode(hex)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    bad(
                        "/subscription/containers",
                        "expected the 32-byte container-set hash in hex",
                    )
                })?;
            B256::from_slice(&bytes)
        }
        _ => {
            return Err(bad(
                "/subscription/containers",
                "expected the 32-byte container-set hash in hex",
            ));
        }
    };
    let lazy = match body.pointer("/subscription/lazy") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("/subscription/lazy", "expected true or false")),
    };
    let zero = |p: &str| -> Result<Address, Refusal> {
        match body.pointer(p) {
            None | Some(Value::Null) => Ok(Address::ZERO),
            Some(_) => address(body, p),
        }
    };
    let sub = Subscription {
        id: 0,
        owner: address(body, "/subscription/owner")?,
        active_at: small(body, "/subscription/active_at", "uint32")?,
        period: small(body, "/subscription/period", "uint32")?,
        frequency: small(body, "/subscription/frequency", "uint32")?,
        redundancy: small(body, "/subscription/redundancy", "uint16")?,
        container_id: containers,
        lazy,
        verifier: zero("/subscription/verifier")?,
        payment_amount: match body.pointer("/subscription/payment_amount") {
            None | Some(Value::Null) => U256::ZERO,
            Some(_) => uint(body, "/subscription/payment_amount")?,
        },
        payment_token: zero("/subscription/payment_token")?,
        wallet: zero("/subscription/wallet")?,
        v0: None,
    };
    let data = match body.get("data") {
        Some(d @ Value::Object(_)) => d.clone(),
        None | Some(Value::Null) => json!({}),
        Some(_) => return Err(bad("/data", "must be a JSON object")),
    };
    Ok(DelegatedRequest {
        sub,
        nonce: small(body, "/signature/nonce", "uint32")?,
        expiry: small(body, "/signature/expiry", "uint32")?,
        v: small(body, "/signature/v", "uint8")?,
        r: B256::from(uint(body, "/signature/r")?),
        s: B256::from(uint(body, "/signature/s")?),
        data,
    })
}

pub struct DelegatedService {
    pub client: ChainClient,
    pub node: Address,
    pub index: Arc<ContainerIndex>,
    pub guardian: Guardian,
    pub store: DelegatedStore,
    pub jobs: JobService,
    pub signer: mpsc::Sender<DeliverReq>,
    pub head: watch::Receiver<Head>,
    pub tasks: TaskTracker,
    pub cancel: CancellationToken,
    /// Plain transactions (the proof stake approval) and the node's wallet.
    pub calls: Option<(mpsc::Sender<super::msg::CallReq>, Address)>,
    waiters: Mutex<HashMap<u32, oneshot::Sender<TxOutcome>>>,
}

/// Filled while the chain side is connected (emptied while it restarts); the REST API reads it.
#[derive(Clone, Default)]
pub struct DelegatedSlot(Arc<std::sync::RwLock<Option<Arc<DelegatedService>>>>);

impl DelegatedSlot {
    pub fn get(&self) -> Option<Arc<DelegatedService>> {
        self.0.read().ok().and_then(|s| s.clone())
    }

    pub fn set(&self, service: Option<Arc<DelegatedService>>) {
        if let Ok(mut s) = self.0.write() {
            *s = service;
        }
    }
}

impl DelegatedService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: ChainClient,
        node: Address,
        index: Arc<ContainerIndex>,
        guardian: Guardian,
        store: DelegatedStore,
        jobs: JobService,
        signer: mpsc::Sender<DeliverReq>,
        head: watch::Receiver<Head>,
        tasks: TaskTracker,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            client,
            node,
            index,
            guardian,
            store,
            jobs,
            signer,
            head,
            tasks,
            cancel,
            calls: None,
            waiters: Mutex::new(HashMap::new()),
        }
    }

    /// Lets proof-gated deliveries approve the node's wallet for the stake.
    pub fn with_calls(
        mut self,
        calls: mpsc::Sender<super::msg::CallReq>,
        node_wallet: Address,
    ) -> Self {
        self.calls = Some((calls, node_wallet));
        self
    }

    fn now(&self) -> u64 {
        let head = self.head.borrow().timestamp;
        let wall = crate::clock::now_s().max(0) as u64;
        if head > 0 { head } else { wall }
    }

    /// Checks a request and, when it is good, stores it and starts its first interval.
    pub async fn accept(
        self: &Arc<Self>,
        body: &Value,
        client: IpAddr,
    ) -> Result<Accepted, Refusal> {
        let req = parse(body)?;
        let now = self.now();
        if u64::from(req.expiry) <= now {
            return Err(refuse(
                400,
                "Signature expired",
                json!({"expiry": req.expiry, "now": now}),
            ));
        }
        let containers: Vec<String> = match self.index.lookup(&req.sub.container_id) {
            Some(c) => c.to_vec(),
            None => {
                return Err(refuse(
                    400,
                    "Container-set not supported",
                    json!({"containers_hash": req.sub.container_id.to_string()}),
                ));
            }
        };
        if let Err(skip) = self.guardian.check_delegated(
            Some(&containers),
            &req.sub.owner.to_string(),
            req.sub.requires_proof(),
            req.sub.payment().as_ref(),
        ) {
            return Err(refuse(
                403,
                skip.to_string(),
                json!({"containers": containers}),
            ));
        }
        let c = self.client.coordinator();
        let existing = self
            .client
            .view(
                "Coordinator.delegateCreatedIds",
                c.delegateCreatedIds(delegate_key(req.sub.owner, req.nonce)),
            )
            .await
            .map_err(unavailable)?;
        if existing != 0 {
            return Ok(Accepted {
                job_id: None,
                subscription_id: Some(existing),
            });
        }
        let v = match req.v {
            27 | 28 => req.v,
            0 | 1 => req.v + 27,
            other => {
                return Err(refuse(
                    400,
                    "Invalid signature",
                    json!({"v": other, "expected": "27 or 28"}),
                ));
            }
        };
        let domain = eip712::domain(self.client.chain_id, self.client.addresses.coordinator);
        let digest = eip712::digest(&domain, req.nonce, req.expiry, &req.sub);
        let sig = alloy::primitives::Signature::from_scalars_and_parity(req.r, req.s, v == 28);
        let recovered = sig
            .recover_address_from_prehash(&digest)
            .map_err(|e| refuse(400, "Invalid signature", json!({"problem": e.to_string()})))?;
        let delegator = super::abi::Delegator::new(req.sub.owner, self.client.provider().clone());
        let expected = match self
            .client
            .view("Delegator.getSigner", delegator.getSigner())
            .await
        {
            Ok(a) => a,
            Err(ChainError::Revert(_) | ChainError::BadAnswer { .. }) => Address::ZERO,
            Err(e) => return Err(unavailable(e)),
        };
        if expected == Address::ZERO {
            return Err(refuse(
                403,
                "Signer mismatch",
                json!({"recovered": recovered.to_string(), "problem": format!("the owner {} has no getSigner() (not a Delegator contract)", req.sub.owner)}),
            ));
        }
        if recovered != expected {
            return Err(refuse(
                403,
                "Signer mismatch",
                json!({"recovered": recovered.to_string(), "expected": expected.to_string()}),
            ));
        }
        // A subscription active now must be able to pay now; a future one is checked when due.
        if req.sub.interval_at(now).is_some() {
            match super::payments::check(&self.client, &req.sub).await {
                Ok(Some(p)) => return Err(refuse(400, p.kind, json!({"detail": p.detail}))),
                Ok(None) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        let owner = req.sub.owner.to_string();
        if let Ok(Some(row)) = self.store.find(owner.clone(), req.nonce).await {
            // The same signed request again: the same answer.
            return Ok(Accepted {
                job_id: Some(row.job_id),
                subscription_id: row.sub_id,
            });
        }
        let job_id = uuid::Uuid::new_v4().to_string();
        let seq = self
            .store
            .insert(
                owner.clone(),
                req.nonce,
                body.to_string(),
                job_id.clone(),
                client.to_string(),
            )
            .await
            .map_err(|e| {
                refuse(
                    503,
                    "Could not store the subscription",
                    json!({"problem": e.to_string()}),
                )
            })?;
        let Some(seq) = seq else {
            let row = self.store.find(owner, req.nonce).await.ok().flatten();
            return Ok(Accepted {
                job_id: row.as_ref().map(|r| r.job_id.clone()),
                subscription_id: row.and_then(|r| r.sub_id),
            });
        };
        tracing::info!(owner = %req.sub.owner, nonce = req.nonce, job = %job_id, "delegated subscription accepted");
        let row = DelegatedRow {
            seq,
            owner: req.sub.owner.to_string(),
            nonce: req.nonce,
            request: body.to_string(),
            job_id: job_id.clone(),
            client: client.to_string(),
            state: "waiting".into(),
            reason: None,
            sub_id: None,
            tx_hash: None,
        };
        let this = self.clone();
        self.tasks
            .spawn(async move { this.run(row, req, containers).await });
        Ok(Accepted {
            job_id: Some(job_id),
            subscription_id: None,
        })
    }

    /// Requests accepted before a restart and not finished: run again (or keep waiting for
    /// their transaction).
    pub async fn resume(self: &Arc<Self>) {
        let rows = match self.store.unfinished().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot read delegated subscriptions from the store");
                return;
            }
        };
        for row in rows {
            let Ok(body) = serde_json::from_str::<Value>(&row.request) else {
                continue;
            };
            let Ok(req) = parse(&body) else { continue };
            let Some(containers) = self
                .index
                .lookup(&req.sub.container_id)
                .map(<[String]>::to_vec)
            else {
                self.finish(
                    &row,
                    "failed",
                    Some("Container-set not supported".into()),
                    None,
                )
                .await;
                continue;
            };
            tracing::info!(owner = %row.owner, nonce = row.nonce, state = %row.state, "resuming a delegated subscription");
            let this = self.clone();
            self.tasks
                .spawn(async move { this.run(row, req, containers).await });
        }
    }

    /// The signer's final word on a delegated transaction (forwarded by the scheduler).
    pub fn resolved(&self, seq: u32, outcome: TxOutcome) {
        let waiter = self.waiters.lock().ok().and_then(|mut w| w.remove(&seq));
        match waiter {
            Some(tx) => {
                let _ = tx.send(outcome);
            }
            None => tracing::debug!(seq, "delegated outcome with no waiter"),
        }
    }

    async fn finish(
        &self,
        row: &DelegatedRow,
        state: &'static str,
        reason: Option<String>,
        sub_id: Option<u32>,
    ) {
        match state {
            "delivered" => {
                tracing::info!(owner = %row.owner, nonce = row.nonce, subscription = ?sub_id, "delegated subscription delivered")
            }
            _ => {
                tracing::warn!(owner = %row.owner, nonce = row.nonce, reason = reason.as_deref().unwrap_or(""), "delegated subscription not delivered")
            }
        }
        if let Err(e) = self
            .store
            .set_state(row.seq, state, reason, sub_id, None)
            .await
        {
            tracing::error!(error = %e, "cannot record a delegated subscription's state");
        }
    }

    async fn created_id(&self, req: &DelegatedRequest) -> Option<u32> {
        let c = self.client.coordinator();
        self.client
            .view(
                "Coordinator.delegateCreatedIds",
                c.delegateCreatedIds(delegate_key(req.sub.owner, req.nonce)),
            )
            .await
            .ok()
            .filter(|id| *id != 0)
    }

    async fn run(
        self: Arc<Self>,
        row: DelegatedRow,
        req: DelegatedRequest,
        containers: Vec<String>,
    ) {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(row.seq, tx);
        }
        if row.state != "sent" {
            match self.deliver(&row, &req, &containers).await {
                Ok(()) => {}
                Err(reason) => {
                    if let Ok(mut w) = self.waiters.lock() {
                        w.remove(&row.seq);
                    }
                    // Stopping is not failing: the request stays open and resumes at the next start.
                    if self.cancel.is_cancelled() {
                        tracing::info!(owner = %row.owner, nonce = row.nonce, "delegated subscription left for the next start");
                        return;
                    }
                    return self.finish(&row, "failed", Some(reason), None).await;
                }
            }
        } else if let Some(id) = self.created_id(&req).await {
            return self.finish(&row, "delivered", None, Some(id)).await;
        }
        let outcome = tokio::select! {
            o = rx => o,
            _ = self.cancel.cancelled() => return,
        };
        match outcome {
            Ok(TxOutcome::Confirmed(_)) => {
                let id = self.created_id(&req).await;
                self.finish(&row, "delivered", None, id).await;
            }
            Ok(TxOutcome::RaceLost(r)) | Ok(TxOutcome::Failed(r)) => {
                self.finish(&row, "failed", Some(r), None).await;
            }
            Err(_) => {}
        }
    }

    /// Waits for `activeAt`, runs the pipeline as job `row.job_id` and hands the output to the
    /// signer. Err is why nothing was sent.
    async fn deliver(
        &self,
        row: &DelegatedRow,
        req: &DelegatedRequest,
        containers: &[String],
    ) -> Result<(), String> {
        let mut head = self.head.clone();
        let interval = loop {
            let h = *head.borrow_and_update();
            if h.timestamp > 0
                && let Some(n) = req.sub.interval_at(h.timestamp)
            {
                break n;
            }
            tokio::select! {
                r = head.changed() => if r.is_err() { return Err("the node is stopping".into()) },
                _ = self.cancel.cancelled() => return Err("the node is stopping".into()),
            }
        };
        if interval > req.sub.last_interval() {
            return Err(format!(
                "Subscription expired: interval {interval} is past its last ({})",
                req.sub.last_interval()
            ));
        }
        if u64::from(req.expiry) <= head.borrow().timestamp {
            return Err("Signature expired before the subscription became active".into());
        }
        if let Some(p) = super::payments::check(&self.client, &req.sub)
            .await
            .map_err(|e| e.to_string())?
        {
            return Err(p.to_string());
        }
        if req.sub.requires_proof()
            && req.sub.provides_payment()
            && let Some((calls, wallet)) = &self.calls
            && let Some(p) = super::payments::ensure_stake(
                &self.client,
                calls,
                self.node,
                *wallet,
                req.sub.payment_token,
                req.sub.payment_amount,
            )
            .await?
        {
            return Err(p.to_string());
        }
        let _ = self
            .store
            .set_state(row.seq, "running", None, None, None)
            .await;
        let client: IpAddr = row.client.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let out = self
            .jobs
            .run_recorded(
                &row.job_id,
                client,
                JobSource::Delegated,
                containers,
                req.data.clone(),
                JobLocation::Onchain,
                req.sub.requires_proof(),
            )
            .await
            .map_err(|e| e.to_string())?;
        if !out.ok {
            let err = out
                .result
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("failed");
            return Err(format!("container failed: {err}"));
        }
        let output = out.result.get("output").cloned().unwrap_or_default();
        let payload = encode_output(&output).map_err(|e| e.to_string())?;
        let (tx, rx) = oneshot::channel();
        let r = DeliverReq {
            sub: req.sub.clone(),
            interval: row.seq,
            payload,
            reply: tx,
            delegation: Some(Delegation {
                nonce: req.nonce,
                expiry: req.expiry,
                v: if req.v < 27 { req.v + 27 } else { req.v },
                r: req.r,
                s: req.s,
                delivery_interval: interval,
            }),
        };
        self.signer
            .send(r)
            .await
            .map_err(|_| "the node is stopping".to_string())?;
        match rx.await {
            Ok(Submitted::Sent(h)) => {
                let _ = self
                    .store
                    .set_state(row.seq, "sent", None, None, Some(h))
                    .await;
                Ok(())
            }
            Ok(Submitted::RaceLost(r)) => Err(r),
            Ok(Submitted::Failed { reason, .. }) => Err(reason),
            Err(_) => Err("the node is stopping".into()),
        }
    }
}

fn unavailable(e: ChainError) -> Refusal {
    refuse(
        503,
        "The chain is not reachable right now; try again",
        json!({"problem": e.to_string()}),
    )
}

/// The hash a client puts in `subscription.containers` for a pipeline.
pub fn containers_hash(ids: &[String]) -> B256 {
    container_set_hash(ids)
}
