//! The scheduler's driver. Its decisions (a timer per tracked subscription keyed by block
//! time, fired by heads; confirm, skip, retry with backoff or give up; when a subscription is
//! finished) live in `infernet_core::interval`. Here: feed it messages and heads, start the
//! delivery workers, write the ledger and the view as its effects say.
use super::head::Head;
use super::msg::{SchedMsg, TxOutcome};
use super::subscription::Subscription;
use super::view::{ChainStatus, SubscriptionView};
use super::worker::Worker;
use crate::store::{ChainLedger, DeliveryState};
use infernet_core::interval::{self, Config, Effect, Event, Show};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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

/// What a tracked subscription's workers need (the state machine has no alloy types).
struct Tracked {
    sub: Subscription,
    containers: Arc<[String]>,
}

/// The driver's state while it runs.
struct Run {
    machine: interval::Scheduler,
    subs: HashMap<u32, Tracked>,
    tasks: TaskTracker,
    permits: Arc<Semaphore>,
}

impl Scheduler {
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<SchedMsg>,
        mut head_rx: watch::Receiver<Head>,
        cancel: CancellationToken,
    ) {
        let config = Config {
            max_attempts: self.max_attempts,
            retry_base: self.retry_base,
        };
        let head = *head_rx.borrow();
        let mut run = Run {
            machine: interval::Scheduler::new(config, self.open_deliveries().await, head),
            subs: HashMap::new(),
            tasks: TaskTracker::new(),
            permits: Arc::new(Semaphore::new(self.concurrency.max(1))),
        };
        loop {
            let next_retry = run.machine.next_retry().map(Instant::from_std);
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = head_rx.changed() => {
                    if r.is_err() { break; }
                    let head = *head_rx.borrow_and_update();
                    self.step(&mut run, Event::Head(head)).await;
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.receive(&mut run, msg).await;
                    // Drain what is queued before firing timers (sync sends in bursts).
                    while let Ok(msg) = rx.try_recv() {
                        self.receive(&mut run, msg).await;
                    }
                    self.step(&mut run, Event::Tick).await;
                }
                _ = async { match next_retry { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                    self.step(&mut run, Event::Tick).await;
                }
            }
        }
        run.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), run.tasks.wait()).await;
    }

    /// Deliveries the previous run left open: where tracked subscriptions resume.
    async fn open_deliveries(&self) -> Vec<(u32, u32, DeliveryState)> {
        match self.ledger.open_deliveries().await {
            Ok(v) => v
                .into_iter()
                .map(|d| (d.sub_id, d.interval, d.state))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read open deliveries; relying on the chain's nodeResponded");
                Vec::new()
            }
        }
    }

    async fn receive(&self, run: &mut Run, msg: SchedMsg) {
        let event = match msg {
            SchedMsg::Track { sub, containers } => {
                let event = Event::Track {
                    id: sub.id,
                    schedule: sub.schedule(),
                    proof_and_payment: sub.requires_proof() && sub.provides_payment(),
                };
                if !run.machine.tracks(sub.id) {
                    let containers = containers.into();
                    run.subs.insert(sub.id, Tracked { sub, containers });
                }
                event
            }
            SchedMsg::Cancelled(id) => {
                run.subs.remove(&id);
                Event::Cancelled(id)
            }
            SchedMsg::WorkDone {
                id,
                interval,
                result,
            } => Event::WorkDone {
                id,
                interval,
                result,
            },
            SchedMsg::TxResolved {
                id,
                interval,
                outcome,
            } => Event::TxResolved {
                id,
                interval,
                outcome,
            },
        };
        self.step(run, event).await;
    }

    /// Hands `event` to the state machine and executes its effects, in order; an effect whose
    /// result the machine needs (a ledger count) comes back as the next event.
    async fn step(&self, run: &mut Run, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let now = Instant::now().into_std();
            for effect in run.machine.handle(event, now) {
                if let Some(next) = self.execute(run, effect).await {
                    queue.push_back(next);
                }
            }
        }
    }

    async fn execute(&self, run: &mut Run, effect: Effect) -> Option<Event> {
        match effect {
            Effect::StartDelivery { id, interval, head } => self.start(run, id, interval, head),
            Effect::RecordOutcome {
                id,
                interval,
                state,
                reason,
            } => self.record_outcome(id, interval, state, reason).await,
            Effect::RecordAttempt {
                id,
                interval,
                reason,
                transient,
            } => return Some(self.record_attempt(id, interval, reason, transient).await),
            Effect::RetryScheduled { .. } => log_retry(&effect),
            Effect::DeliveryStopped => self.status.dec_in_flight(),
            Effect::SetSubStatus { id, status, reason } => {
                run.subs.remove(&id);
                self.finished(id, status, reason).await;
            }
            Effect::ShowStatus { id, show } => self.status.update(id, |v| apply(v, show)),
            Effect::ForwardDelegated { interval, outcome } => {
                if let Some(d) = &self.delegated {
                    let _ = d.send((interval, outcome)).await;
                }
            }
        }
        None
    }

    /// Runs the delivery of `interval` on a worker (at most `concurrency` at a time); its
    /// result comes back as `WorkDone`.
    fn start(&self, run: &Run, id: u32, interval: u32, head: Head) {
        let Some(t) = run.subs.get(&id) else {
            return;
        };
        tracing::debug!(
            subscription = id,
            interval,
            head = head.number,
            "interval due; starting a delivery"
        );
        self.status.in_flight.fetch_add(1, Ordering::Relaxed);
        let worker = self.worker.clone();
        let report = self.self_tx.clone();
        let (sub, containers) = (t.sub.clone(), t.containers.clone());
        let permits = run.permits.clone();
        run.tasks.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let result = worker.run(sub, containers, interval, head).await;
            let _ = report
                .send(SchedMsg::WorkDone {
                    id,
                    interval,
                    result,
                })
                .await;
        });
    }

    async fn record_outcome(
        &self,
        id: u32,
        interval: u32,
        state: DeliveryState,
        reason: Option<String>,
    ) {
        let why = reason.clone().unwrap_or_default();
        if let Err(e) = self
            .ledger
            .set_delivery(id, interval, state, reason, false)
            .await
        {
            tracing::error!(error = %e, "cannot record a delivery outcome");
        }
        match state {
            DeliveryState::Confirmed => {
                self.status.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::info!(subscription = id, interval, tx = %why, "delivery confirmed");
            }
            DeliveryState::GivenUp => {
                self.status.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(subscription = id, interval, reason = %why, "interval given up");
            }
            _ => {
                self.status.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::info!(subscription = id, interval, reason = %why, "interval skipped");
            }
        }
    }

    /// Stores a failed attempt and answers with the interval's count of failed attempts (0
    /// when it cannot be stored: the interval then retries until its window ends).
    async fn record_attempt(
        &self,
        id: u32,
        interval: u32,
        reason: String,
        transient: bool,
    ) -> Event {
        let why = Some(reason.clone());
        let attempts = match self
            .ledger
            .set_delivery(id, interval, DeliveryState::Retrying, why, !transient)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot record a failed attempt");
                0
            }
        };
        Event::AttemptRecorded {
            id,
            interval,
            reason,
            transient,
            attempts,
            draw: rand::random(),
        }
    }

    async fn finished(&self, id: u32, status: super::view::SubStatus, reason: String) {
        tracing::info!(subscription = id, status = status.as_str(), reason = %reason, "subscription finished");
        self.status.update(id, |v| {
            v.status = status;
            v.reason = Some(reason.clone());
            v.next_due = None;
        });
        if let Err(e) = self
            .ledger
            .set_subscription_status(id, status.as_str(), Some(reason))
            .await
        {
            tracing::error!(error = %e, "cannot store a subscription status");
        }
    }
}

fn log_retry(effect: &Effect) {
    if let Effect::RetryScheduled {
        id,
        interval,
        attempts,
        transient,
        retry_in,
        reason,
    } = effect
    {
        tracing::warn!(subscription = id, interval, attempt = attempts, transient, retry_in_ms = retry_in.as_millis() as u64, reason = %reason, "delivery attempt failed");
    }
}

/// Applies one of the state machine's view changes.
fn apply(v: &mut SubscriptionView, show: Show) {
    match show {
        Show::Running { interval, text } => {
            if v.interval != Some(interval) {
                v.responses = None;
            }
            v.interval = Some(interval);
            v.next_due = None;
            v.last_delivery = Some(text);
        }
        Show::Sent { text, tx } => {
            v.last_delivery = Some(text);
            v.last_tx = Some(tx);
        }
        Show::Outcome { text, own_tx } => {
            v.last_delivery = Some(text);
            if let Some(tx) = own_tx {
                v.last_tx = Some(tx);
                // Our own delivery counts toward the interval's redundancy.
                v.responses = Some(v.responses.unwrap_or(0).saturating_add(1).min(v.redundancy));
            }
        }
        Show::ProofPending { interval, text } => {
            // An atomic verifier's verdict (same block) may already be recorded.
            let prefix = format!("interval {interval}:");
            if !v.proof.as_deref().is_some_and(|p| p.starts_with(&prefix)) {
                v.proof = Some(text);
            }
        }
        Show::Delivery(text) => v.last_delivery = Some(text),
        Show::Next { interval, due } => {
            v.interval = Some(interval);
            v.next_due = Some(due);
        }
    }
}
