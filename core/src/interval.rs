//! The interval scheduler's decisions: when each tracked subscription's next interval is due,
//! what follows a delivery outcome (confirm, skip, retry with backoff, give up) and when a
//! subscription is finished.
//!
//! A timer per tracked subscription is keyed by block time (what the contract checks) and
//! fired by heads; a failed attempt waits on a wall-clock deadline. The driver
//! (`infernet::chain::scheduler`) feeds events, executes the effects (start a worker, write
//! the ledger, update the view) and wakes at [`Scheduler::next_retry`].
use crate::chain::{DeliveryState, Head, Schedule, SubStatus};
use crate::retry::chain_delay;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What a delivery worker reports for one interval.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkResult {
    /// Handed to the signer; the outcome arrives as `TxResolved`.
    Sent(String),
    /// Already delivered by this node (found in the ledger or on chain).
    Confirmed(String),
    Skipped(String),
    /// The subscription's own fault (no consumer contract at its owner, …): retrying cannot
    /// help, so the interval is given up at once with this reason.
    GivenUp(String),
    Failed {
        reason: String,
        transient: bool,
    },
}

/// Final outcome of a sent delivery, reported by the signer.
#[derive(Debug, Clone, PartialEq)]
pub enum TxOutcome {
    Confirmed(String),
    RaceLost(String),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Failed attempts (reverts, container errors) allowed per interval.
    pub max_attempts: u32,
    /// Base of the retry wait ([`chain_delay`]).
    pub retry_base: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Serve a subscription. After a restart the ledger's open delivery for it decides where it
    /// resumes. A second `Track` for a tracked id is ignored.
    Track {
        id: u32,
        schedule: Schedule,
        /// Needs a proof and pays: a confirmed delivery leaves stake and escrow locked.
        proof_and_payment: bool,
    },
    Cancelled(u32),
    /// A new head: fires what is due.
    Head(Head),
    /// Fire what is due (after a burst of events, or when `next_retry` passed).
    Tick,
    WorkDone {
        id: u32,
        interval: u32,
        result: WorkResult,
    },
    TxResolved {
        id: u32,
        interval: u32,
        outcome: TxOutcome,
    },
    /// The answer to `Effect::RecordAttempt`: the interval's stored count of failed attempts
    /// (0 when it could not be stored), and a random draw in [0, 1) for the retry's jitter.
    AttemptRecorded {
        id: u32,
        interval: u32,
        reason: String,
        transient: bool,
        attempts: u32,
        draw: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run the delivery pipeline of `interval` as of `head`; its result comes back as
    /// `WorkDone` (one more delivery in flight).
    StartDelivery {
        id: u32,
        interval: u32,
        head: Head,
    },
    /// Store the interval's final state and count it in the node's totals.
    RecordOutcome {
        id: u32,
        interval: u32,
        state: DeliveryState,
        reason: Option<String>,
    },
    /// Store a failed attempt (it counts toward the limit unless transient); answer with
    /// `Event::AttemptRecorded`.
    RecordAttempt {
        id: u32,
        interval: u32,
        reason: String,
        transient: bool,
    },
    /// A failed attempt will be retried after `retry_in` (for the log).
    RetryScheduled {
        id: u32,
        interval: u32,
        attempts: u32,
        transient: bool,
        retry_in: Duration,
        reason: String,
    },
    /// One delivery fewer in flight.
    DeliveryStopped,
    /// The subscription needs no more work: store and show why.
    SetSubStatus {
        id: u32,
        status: SubStatus,
        reason: String,
    },
    ShowStatus {
        id: u32,
        show: Show,
    },
    /// A delegated delivery's outcome (keyed by id 0): for the delegated-subscription service.
    ForwardDelegated {
        interval: u32,
        outcome: TxOutcome,
    },
}

/// A change to a subscription's view.
#[derive(Debug, Clone, PartialEq)]
pub enum Show {
    /// A delivery of `interval` started: the view moves to it (the count of other nodes'
    /// responses resets when the interval changes) and `text` is the last delivery line.
    Running { interval: u32, text: String },
    /// Handed to the signer as transaction `tx`.
    Sent { text: String, tx: String },
    /// The interval's outcome line; `own_tx`, when confirmed by our transaction, is shown and
    /// counts toward the interval's redundancy.
    Outcome {
        text: String,
        own_tx: Option<String>,
    },
    /// The proof line, unless the verifier already settled `interval` (same block).
    ProofPending { interval: u32, text: String },
    /// The last delivery line.
    Delivery(String),
    /// The interval served next and the block time it opens.
    Next { interval: u32, due: u64 },
}

/// A timer: (block time due, subscription id).
type TimerKey = (u64, u32);

#[derive(Debug)]
struct Entry {
    schedule: Schedule,
    proof_and_payment: bool,
    /// Key of this subscription's timer in `timers`.
    timer: Option<TimerKey>,
    in_flight: Option<u32>,
    transient_failures: u32,
    /// Intervals finished in this run, by outcome, for the subscription's closing line.
    tally: Tally,
}

#[derive(Debug, Default)]
struct Tally {
    served: u32,
    skipped: u32,
    given_up: u32,
    /// The newest skipped or given-up interval's reason.
    last_fault: Option<(DeliveryState, String)>,
}

impl Tally {
    fn add(&mut self, state: DeliveryState, reason: Option<&str>) {
        match state {
            DeliveryState::Confirmed => self.served += 1,
            DeliveryState::Skipped => self.skipped += 1,
            DeliveryState::GivenUp => self.given_up += 1,
            _ => return,
        }
        if state != DeliveryState::Confirmed {
            self.last_fault = Some((state, reason.unwrap_or("no reason given").to_string()));
        }
    }

    /// Why the subscription needs no more work once its last interval is done.
    fn closing(&self, last: u32) -> String {
        let Some((state, reason)) = &self.last_fault else {
            return format!("all {last} interval(s) served");
        };
        let word = |s: &DeliveryState| match s {
            DeliveryState::Skipped => "skipped",
            _ => "given up",
        };
        if last <= 1 {
            return format!("its interval was {}: {reason}", word(state));
        }
        format!(
            "schedule over: {} served, {} skipped, {} given up of {last} interval(s); last {}: {reason}",
            self.served,
            self.skipped,
            self.given_up,
            word(state)
        )
    }
}

#[derive(Debug)]
pub struct Scheduler {
    config: Config,
    entries: HashMap<u32, Entry>,
    /// -> interval
    timers: BTreeMap<TimerKey, u32>,
    /// (deadline, subscription id) -> interval
    retries: BTreeMap<(Instant, u32), u32>,
    /// Deliveries left open by the previous run: id -> (interval, state).
    open: HashMap<u32, (u32, DeliveryState)>,
    head: Head,
}

impl Scheduler {
    /// `open`: the ledger's unfinished deliveries (subscription id, interval, state).
    pub fn new(
        config: Config,
        open: impl IntoIterator<Item = (u32, u32, DeliveryState)>,
        head: Head,
    ) -> Self {
        Self {
            config,
            entries: HashMap::new(),
            timers: BTreeMap::new(),
            retries: BTreeMap::new(),
            open: open.into_iter().map(|(id, n, s)| (id, (n, s))).collect(),
            head,
        }
    }

    /// When the earliest retry is due (the driver sends `Tick` then).
    pub fn next_retry(&self) -> Option<Instant> {
        self.retries.keys().next().map(|(t, _)| *t)
    }

    pub fn tracks(&self, id: u32) -> bool {
        self.entries.contains_key(&id)
    }

    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match event {
            Event::Track {
                id,
                schedule,
                proof_and_payment,
            } => self.track(id, schedule, proof_and_payment),
            Event::Cancelled(id) => self.forget(id),
            Event::Head(h) => {
                self.head = h;
                self.fire(now, &mut fx);
            }
            Event::Tick => self.fire(now, &mut fx),
            Event::WorkDone {
                id,
                interval,
                result,
            } => self.work_done(id, interval, result, &mut fx),
            Event::TxResolved {
                id: 0,
                interval,
                outcome,
            } => fx.push(Effect::ForwardDelegated { interval, outcome }),
            Event::TxResolved {
                id,
                interval,
                outcome,
            } => self.tx_resolved(id, interval, outcome, &mut fx),
            Event::AttemptRecorded {
                id,
                interval,
                reason,
                transient,
                attempts,
                draw,
            } => {
                let failure = Failure {
                    reason,
                    transient,
                    attempts,
                    draw,
                };
                self.failed(id, interval, failure, now, &mut fx)
            }
        }
        fx
    }

    fn track(&mut self, id: u32, schedule: Schedule, proof_and_payment: bool) {
        if self.entries.contains_key(&id) {
            return;
        }
        let mut e = Entry {
            schedule,
            proof_and_payment,
            timer: None,
            in_flight: None,
            transient_failures: 0,
            tally: Tally::default(),
        };
        match self.open.remove(&id) {
            // A transaction from before the restart: the signer resolves it.
            Some((n, DeliveryState::Sent)) => e.in_flight = Some(n),
            // Interrupted mid-pipeline: run that interval again (the chain says if it landed).
            Some((n, _)) => {
                e.timer = Some((0, id));
                self.timers.insert((0, id), n);
            }
            None => {
                let first = schedule.interval_at(self.head.timestamp).unwrap_or(1);
                let key = (schedule.interval_start(first), id);
                e.timer = Some(key);
                self.timers.insert(key, first);
            }
        }
        self.entries.insert(id, e);
    }

    /// Drops a subscription with its timer and retries.
    fn forget(&mut self, id: u32) {
        if let Some(e) = self.entries.remove(&id) {
            if let Some(k) = e.timer {
                self.timers.remove(&k);
            }
            self.retries.retain(|(_, i), _| *i != id);
        }
    }

    fn work_done(&mut self, id: u32, interval: u32, result: WorkResult, fx: &mut Vec<Effect>) {
        match result {
            WorkResult::Sent(tx) => fx.push(Effect::ShowStatus {
                id,
                show: Show::Sent {
                    text: format!("interval {interval}: sent"),
                    tx,
                },
            }),
            WorkResult::Confirmed(h) => {
                self.finish(id, interval, DeliveryState::Confirmed, Some(h), fx)
            }
            WorkResult::Skipped(r) => {
                self.finish(id, interval, DeliveryState::Skipped, Some(r), fx)
            }
            WorkResult::GivenUp(r) => {
                self.finish(id, interval, DeliveryState::GivenUp, Some(r), fx)
            }
            WorkResult::Failed { reason, transient } => fx.push(Effect::RecordAttempt {
                id,
                interval,
                reason,
                transient,
            }),
        }
    }

    fn tx_resolved(&mut self, id: u32, interval: u32, outcome: TxOutcome, fx: &mut Vec<Effect>) {
        match outcome {
            TxOutcome::Confirmed(h) => {
                self.finish(id, interval, DeliveryState::Confirmed, Some(h), fx)
            }
            TxOutcome::RaceLost(r) => {
                self.finish(id, interval, DeliveryState::Skipped, Some(r), fx)
            }
            TxOutcome::Failed(reason) => fx.push(Effect::RecordAttempt {
                id,
                interval,
                reason,
                transient: false,
            }),
        }
    }

    /// Starts every delivery whose interval has opened at the current head, and every retry
    /// whose wait is over.
    fn fire(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        // Nothing is known about the chain before the first head.
        if self.head.number == 0 {
            return;
        }
        let mut due: Vec<(Option<TimerKey>, u32, u32)> = Vec::new();
        while let Some((&(t, id), &n)) = self.timers.first_key_value() {
            if t > self.head.timestamp {
                break;
            }
            self.timers.remove(&(t, id));
            due.push((Some((t, id)), id, n));
        }
        while let Some((&(t, id), &n)) = self.retries.first_key_value() {
            if t > now {
                break;
            }
            self.retries.remove(&(t, id));
            due.push((None, id, n));
        }
        for (timer, id, n) in due {
            self.start(timer, id, n, fx);
        }
    }

    /// Starts interval `n` (or the current one, when behind) unless a delivery is in flight.
    fn start(&mut self, timer: Option<TimerKey>, id: u32, n: u32, fx: &mut Vec<Effect>) {
        let head = self.head;
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if timer.is_some() && e.timer == timer {
            e.timer = None;
        }
        if e.in_flight.is_some() {
            return;
        }
        // Behind (e.g. after downtime)? Serve the interval that is current now.
        let n = n.max(e.schedule.interval_at(head.timestamp).unwrap_or(n));
        let last = e.schedule.last_interval();
        if n > last {
            self.forget(id);
            fx.push(Effect::SetSubStatus {
                id,
                status: SubStatus::Expired,
                reason: format!("Subscription expired: interval {last} was the last"),
            });
            return;
        }
        e.in_flight = Some(n);
        let text = format!("interval {n}: running");
        fx.push(Effect::ShowStatus {
            id,
            show: Show::Running { interval: n, text },
        });
        fx.push(Effect::StartDelivery {
            id,
            interval: n,
            head,
        });
    }

    fn finish(
        &mut self,
        id: u32,
        interval: u32,
        state: DeliveryState,
        reason: Option<String>,
        fx: &mut Vec<Effect>,
    ) {
        fx.push(Effect::RecordOutcome {
            id,
            interval,
            state,
            reason: reason.clone(),
        });
        if let Some(e) = self.entries.get_mut(&id) {
            e.tally.add(state, reason.as_deref());
        }
        let confirmed = state == DeliveryState::Confirmed;
        if confirmed && self.entries.get(&id).is_some_and(|e| e.proof_and_payment) {
            let text = format!(
                "interval {interval}: proof submitted; the node's stake and the consumer's escrow are locked until the verifier settles"
            );
            fx.push(Effect::ShowStatus {
                id,
                show: Show::ProofPending { interval, text },
            });
        }
        let text = match (state, &reason) {
            (DeliveryState::Confirmed, Some(h)) => format!("interval {interval}: confirmed {h}"),
            (s, Some(r)) => format!("interval {interval}: {} ({r})", s.as_str()),
            (s, None) => format!("interval {interval}: {}", s.as_str()),
        };
        // "Confirmed" may also mean found delivered on chain, without a hash of ours.
        let own_tx = reason.filter(|h| confirmed && h.starts_with("0x"));
        fx.push(Effect::ShowStatus {
            id,
            show: Show::Outcome { text, own_tx },
        });
        self.advance(id, interval, fx);
    }

    fn failed(&mut self, id: u32, interval: u32, f: Failure, now: Instant, fx: &mut Vec<Effect>) {
        let head = self.head;
        let Some(e) = self.entries.get_mut(&id) else {
            fx.push(Effect::DeliveryStopped);
            return;
        };
        let open = e.schedule.period == 0
            || head.timestamp < e.schedule.interval_start(interval.saturating_add(1));
        let Failure {
            reason,
            transient,
            attempts,
            draw,
        } = f;
        if !transient && attempts >= self.config.max_attempts {
            let r = format!("gave up after {attempts} failed attempts: {reason}");
            return self.finish(id, interval, DeliveryState::GivenUp, Some(r), fx);
        }
        if !open {
            let r = format!("interval ended before it could be delivered: {reason}");
            return self.finish(id, interval, DeliveryState::GivenUp, Some(r), fx);
        }
        // RPC trouble waits on its own count: it says nothing about the delivery.
        let k = if transient {
            e.transient_failures += 1;
            e.transient_failures
        } else {
            attempts
        };
        e.in_flight = None;
        let wait = chain_delay(self.config.retry_base, k, draw);
        let text = format!("interval {interval}: retrying ({reason})");
        fx.push(Effect::DeliveryStopped);
        fx.push(Effect::RetryScheduled {
            id,
            interval,
            attempts,
            transient,
            retry_in: wait,
            reason,
        });
        fx.push(Effect::ShowStatus {
            id,
            show: Show::Delivery(text),
        });
        let at = now.checked_add(wait).unwrap_or(now);
        self.retries.insert((at, id), interval);
    }

    /// After an interval's outcome: schedule the next interval (the current one when behind),
    /// or finish the subscription when there is none.
    fn advance(&mut self, id: u32, interval: u32, fx: &mut Vec<Effect>) {
        let head = self.head;
        let Some(e) = self.entries.get_mut(&id) else {
            fx.push(Effect::DeliveryStopped);
            return;
        };
        if e.in_flight.take().is_some() {
            fx.push(Effect::DeliveryStopped);
        }
        e.transient_failures = 0;
        let s = e.schedule;
        let last = s.last_interval();
        let next = interval.saturating_add(1);
        let n = next.max(s.interval_at(head.timestamp).unwrap_or(next));
        if s.period == 0 || n > last {
            let reason = e.tally.closing(if s.period == 0 { 1 } else { last });
            self.forget(id);
            fx.push(Effect::SetSubStatus {
                id,
                status: SubStatus::Completed,
                reason,
            });
            return;
        }
        let key = (s.interval_start(n), id);
        // A stale timer must not start an interval already served.
        if let Some(old) = e.timer.replace(key) {
            self.timers.remove(&old);
        }
        self.timers.insert(key, n);
        fx.push(Effect::ShowStatus {
            id,
            show: Show::Next {
                interval: n,
                due: key.0,
            },
        });
    }
}

/// A failed attempt as recorded in the ledger.
struct Failure {
    reason: String,
    transient: bool,
    attempts: u32,
    draw: f64,
}

#[cfg(test)]
mod tests;
