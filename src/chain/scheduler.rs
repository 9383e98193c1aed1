//! The scheduler: a timer per tracked subscription for its next interval, keyed by block time
//! (what the contract checks), fired by new heads. It starts delivery workers, and it alone
//! decides what follows an outcome: confirm, skip, retry (bounded per interval; RPC trouble does
//! not use up attempts) or give the interval up — the subscription goes on with its next one.
use super::head::Head;
use super::msg::{SchedMsg, TxOutcome, WorkResult};
use super::subscription::Subscription;
use super::sync::backoff;
use super::view::{ChainStatus, SubStatus};
use super::worker::Worker;
use crate::store::{ChainLedger, DeliveryState};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Entry {
    sub: Subscription,
    containers: Arc<[String]>,
    /// Key of this subscription's timer in `timers`.
    timer: Option<(u64, u32)>,
    in_flight: Option<u32>,
    transient_failures: u32,
}

pub struct Scheduler {
    pub worker: Arc<Worker>,
    pub ledger: ChainLedger,
    pub status: Arc<ChainStatus>,
    pub self_tx: mpsc::Sender<SchedMsg>,
    /// Failed attempts (reverts, container errors) allowed per interval.
    pub max_attempts: u32,
    pub concurrency: usize,
    pub retry_base: Duration,
    /// Where outcomes of delegated deliveries go (they are keyed by subscription id 0).
    pub delegated: Option<mpsc::Sender<(u32, TxOutcome)>>,
}

struct State {
    entries: HashMap<u32, Entry>,
    /// (block time due, subscription id) -> interval
    timers: BTreeMap<(u64, u32), u32>,
    /// (wall-clock instant, subscription id) -> interval
    retries: BTreeMap<(Instant, u32), u32>,
    /// Deliveries left open by the previous run: id -> (interval, state).
    open: HashMap<u32, (u32, DeliveryState)>,
    head: Head,
}

impl Scheduler {
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<SchedMsg>,
        mut head_rx: watch::Receiver<Head>,
        cancel: CancellationToken,
    ) {
        let tasks = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let open = match self.ledger.open_deliveries().await {
            Ok(v) => v
                .into_iter()
                .map(|d| (d.sub_id, (d.interval, d.state)))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read open deliveries; relying on the chain's nodeResponded");
                HashMap::new()
            }
        };
        let mut st = State {
            entries: HashMap::new(),
            timers: BTreeMap::new(),
            retries: BTreeMap::new(),
            open,
            head: *head_rx.borrow(),
        };
        loop {
            let next_retry = st.retries.keys().next().map(|(t, _)| *t);
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = head_rx.changed() => {
                    if r.is_err() { break; }
                    st.head = *head_rx.borrow_and_update();
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(&mut st, msg).await;
                    // Drain what is queued before firing timers (sync sends in bursts).
                    while let Ok(msg) = rx.try_recv() {
                        self.handle(&mut st, msg).await;
                    }
                }
                _ = async { match next_retry { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {}
            }
            self.fire(&mut st, &tasks, &permits);
        }
        tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    }

    async fn handle(&self, st: &mut State, msg: SchedMsg) {
        match msg {
            SchedMsg::Track { sub, containers } => self.track(st, sub, containers),
            SchedMsg::Cancelled(id) => {
                if let Some(e) = st.entries.remove(&id) {
                    if let Some(k) = e.timer {
                        st.timers.remove(&k);
                    }
                    st.retries.retain(|(_, i), _| *i != id);
                }
            }
            SchedMsg::WorkDone {
                id,
                interval,
                result,
            } => match result {
                WorkResult::Sent(hash) => {
                    self.status.update(id, |v| {
                        v.last_delivery = Some(format!("interval {interval}: sent"));
                        v.last_tx = Some(hash);
                    });
                }
                WorkResult::Confirmed(h) => {
                    self.finish(st, id, interval, DeliveryState::Confirmed, Some(h))
                        .await
                }
                WorkResult::Skipped(r) => {
                    self.finish(st, id, interval, DeliveryState::Skipped, Some(r))
                        .await
                }
                WorkResult::Failed { reason, transient } => {
                    self.fail(st, id, interval, reason, transient).await
                }
            },
            SchedMsg::TxResolved {
                id: 0,
                interval,
                outcome,
            } => {
                if let Some(d) = &self.delegated {
                    let _ = d.send((interval, outcome)).await;
                }
            }
            SchedMsg::TxResolved {
                id,
                interval,
                outcome,
            } => match outcome {
                TxOutcome::Confirmed(h) => {
                    self.finish(st, id, interval, DeliveryState::Confirmed, Some(h))
                        .await
                }
                TxOutcome::RaceLost(r) => {
                    self.finish(st, id, interval, DeliveryState::Skipped, Some(r))
                        .await
                }
                TxOutcome::Failed(r) => self.fail(st, id, interval, r, false).await,
            },
        }
    }

    fn track(&self, st: &mut State, sub: Subscription, containers: Vec<String>) {
        if st.entries.contains_key(&sub.id) {
            return;
        }
        let id = sub.id;
        let mut e = Entry {
            sub,
            containers: containers.into(),
            timer: None,
            in_flight: None,
            transient_failures: 0,
        };
        match st.open.remove(&id) {
            // A transaction from before the restart: the signer resolves it.
            Some((n, DeliveryState::Sent)) => e.in_flight = Some(n),
            // Interrupted mid-pipeline: run that interval again (the chain says if it landed).
            Some((n, _)) => {
                e.timer = Some((0, id));
                st.timers.insert((0, id), n);
            }
            None => {
                let first = e.sub.interval_at(st.head.timestamp).unwrap_or(1);
                let key = (e.sub.interval_start(first), id);
                e.timer = Some(key);
                st.timers.insert(key, first);
            }
        }
        st.entries.insert(id, e);
    }

    /// Starts every delivery whose interval has opened at the current head.
    fn fire(&self, st: &mut State, tasks: &TaskTracker, permits: &Arc<Semaphore>) {
        let now = Instant::now();
        let mut due: Vec<(u32, u32)> = Vec::new();
        while let Some((&(t, id), &n)) = st.timers.first_key_value() {
            if st.head.number == 0 || t > st.head.timestamp {
                break;
            }
            st.timers.remove(&(t, id));
            due.push((id, n));
        }
        while let Some((&(t, id), &n)) = st.retries.first_key_value() {
            if t > now || st.head.number == 0 {
                break;
            }
            st.retries.remove(&(t, id));
            due.push((id, n));
        }
        for (id, n) in due {
            let head = st.head;
            let Some(e) = st.entries.get_mut(&id) else {
                continue;
            };
            e.timer = None;
            if e.in_flight.is_some() {
                continue;
            }
            // Behind (e.g. after downtime)? Serve the interval that is current now.
            let cur = e.sub.interval_at(head.timestamp).unwrap_or(n);
            let n = n.max(cur);
            if n > e.sub.last_interval() {
                let (id, last) = (e.sub.id, e.sub.last_interval());
                st.entries.remove(&id);
                self.done(
                    id,
                    SubStatus::Expired,
                    format!("Subscription expired: interval {last} was the last"),
                );
                continue;
            }
            e.in_flight = Some(n);
            tracing::debug!(
                subscription = id,
                interval = n,
                head = head.number,
                "interval due; starting a delivery"
            );
            self.status.update(id, |v| {
                if v.interval != Some(n) {
                    v.responses = None;
                }
                v.interval = Some(n);
                v.next_due = None;
                v.last_delivery = Some(format!("interval {n}: running"));
            });
            self.status.in_flight.fetch_add(1, Ordering::Relaxed);
            let worker = self.worker.clone();
            let report = self.self_tx.clone();
            let sub = e.sub.clone();
            let containers = e.containers.clone();
            let permits = permits.clone();
            tasks.spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return;
                };
                let result = worker.run(sub, containers, n, head).await;
                let _ = report
                    .send(SchedMsg::WorkDone {
                        id,
                        interval: n,
                        result,
                    })
                    .await;
            });
        }
    }

    fn done(&self, id: u32, status: SubStatus, reason: String) {
        tracing::info!(subscription = id, status = status.as_str(), reason = %reason, "subscription finished");
        self.status.update(id, |v| {
            v.status = status;
            v.reason = Some(reason.clone());
            v.next_due = None;
        });
        let ledger = self.ledger.clone();
        let status = status.as_str();
        tokio::spawn(async move {
            if let Err(e) = ledger
                .set_subscription_status(id, status, Some(reason))
                .await
            {
                tracing::error!(error = %e, "cannot store a subscription status");
            }
        });
    }

    async fn finish(
        &self,
        st: &mut State,
        id: u32,
        interval: u32,
        state: DeliveryState,
        reason: Option<String>,
    ) {
        if let Err(e) = self
            .ledger
            .set_delivery(id, interval, state, reason.clone(), false)
            .await
        {
            tracing::error!(error = %e, "cannot record a delivery outcome");
        }
        let counter = match state {
            DeliveryState::Confirmed => &self.status.delivered,
            DeliveryState::GivenUp => &self.status.failed,
            _ => &self.status.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match state {
            DeliveryState::Confirmed => {
                tracing::info!(
                    subscription = id,
                    interval,
                    tx = reason.as_deref().unwrap_or(""),
                    "delivery confirmed"
                )
            }
            DeliveryState::GivenUp => {
                tracing::warn!(
                    subscription = id,
                    interval,
                    reason = reason.as_deref().unwrap_or(""),
                    "interval given up"
                )
            }
            _ => tracing::info!(
                subscription = id,
                interval,
                reason = reason.as_deref().unwrap_or(""),
                "interval skipped"
            ),
        }
        let text = match (&state, &reason) {
            (DeliveryState::Confirmed, Some(h)) => format!("interval {interval}: confirmed {h}"),
            (s, Some(r)) => format!("interval {interval}: {} ({r})", s.as_str()),
            (s, None) => format!("interval {interval}: {}", s.as_str()),
        };
        let proof_pending = state == DeliveryState::Confirmed
            && st
                .entries
                .get(&id)
                .is_some_and(|e| e.sub.requires_proof() && e.sub.provides_payment());
        self.status.update(id, |v| {
            // An atomic verifier's verdict (same block) may already be recorded.
            let settled = v
                .proof
                .as_deref()
                .is_some_and(|p| p.starts_with(&format!("interval {interval}:")));
            if proof_pending && !settled {
                v.proof = Some(format!(
                    "interval {interval}: proof submitted; the node's stake and the consumer's escrow are locked until the verifier settles"
                ));
            }
            v.last_delivery = Some(text);
            if state == DeliveryState::Confirmed
                && let Some(h) = reason.clone().filter(|h| h.starts_with("0x"))
            {
                v.last_tx = Some(h);
                // Our own delivery counts toward the interval's redundancy.
                v.responses = Some(v.responses.unwrap_or(0).saturating_add(1).min(v.redundancy));
            }
        });
        self.advance(st, id, interval);
    }

    async fn fail(&self, st: &mut State, id: u32, interval: u32, reason: String, transient: bool) {
        let attempts = match self
            .ledger
            .set_delivery(
                id,
                interval,
                DeliveryState::Retrying,
                Some(reason.clone()),
                !transient,
            )
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot record a failed attempt");
                0
            }
        };
        let head = st.head;
        let Some(e) = st.entries.get_mut(&id) else {
            self.status.dec_in_flight();
            return;
        };
        let open =
            e.sub.period == 0 || head.timestamp < e.sub.interval_start(interval.saturating_add(1));
        if !transient && attempts >= self.max_attempts {
            let r = format!("gave up after {attempts} failed attempts: {reason}");
            return self
                .finish(st, id, interval, DeliveryState::GivenUp, Some(r))
                .await;
        }
        if !open {
            let r = format!("interval ended before it could be delivered: {reason}");
            return self
                .finish(st, id, interval, DeliveryState::GivenUp, Some(r))
                .await;
        }
        let k = if transient {
            e.transient_failures += 1;
            e.transient_failures
        } else {
            attempts
        };
        e.in_flight = None;
        self.status.dec_in_flight();
        let wait = backoff(self.retry_base, k);
        tracing::warn!(subscription = id, interval, attempt = attempts, transient, retry_in_ms = wait.as_millis() as u64, reason = %reason, "delivery attempt failed");
        self.status.update(id, |v| {
            v.last_delivery = Some(format!("interval {interval}: retrying ({reason})"));
        });
        st.retries.insert((Instant::now() + wait, id), interval);
    }

    fn advance(&self, st: &mut State, id: u32, interval: u32) {
        let head = st.head;
        let Some(e) = st.entries.get_mut(&id) else {
            self.status.dec_in_flight();
            return;
        };
        if e.in_flight.take().is_some() {
            self.status.dec_in_flight();
        }
        e.transient_failures = 0;
        let last = e.sub.last_interval();
        let next = interval + 1;
        if next > last || e.sub.period == 0 {
            st.entries.remove(&id);
            self.done(
                id,
                SubStatus::Completed,
                format!("all {last} interval(s) served"),
            );
            return;
        }
        let n = next.max(e.sub.interval_at(head.timestamp).unwrap_or(next));
        if n > last {
            st.entries.remove(&id);
            self.done(
                id,
                SubStatus::Completed,
                format!("all {last} interval(s) served"),
            );
            return;
        }
        let key = (e.sub.interval_start(n), id);
        e.timer = Some(key);
        st.timers.insert(key, n);
        self.status.update(id, |v| {
            v.interval = Some(n);
            v.next_due = Some(key.0);
        });
    }
}
