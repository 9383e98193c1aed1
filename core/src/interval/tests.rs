use super::*;

const CFG: Config = Config {
    max_attempts: 3,
    retry_base: Duration::from_millis(100),
};

/// Subscription 7: active at 1000, a 10 s period, 3 intervals (1000, 1010, 1020; over at 1030).
const ID: u32 = 7;
const SCHED: Schedule = Schedule {
    active_at: 1000,
    period: 10,
    frequency: 3,
};

fn head(timestamp: u64) -> Head {
    Head {
        number: timestamp,
        timestamp,
        base_fee: None,
    }
}

fn track(id: u32, schedule: Schedule) -> Event {
    Event::Track {
        id,
        schedule,
        proof_and_payment: false,
    }
}

fn new(open: &[(u32, u32, DeliveryState)]) -> Scheduler {
    Scheduler::new(CFG, open.iter().copied(), Head::default())
}

/// A scheduler tracking `schedule` as `ID`.
fn tracking(schedule: Schedule, t: Instant) -> Scheduler {
    let mut s = new(&[]);
    assert!(s.handle(track(ID, schedule), t).is_empty());
    s
}

fn starts(fx: &[Effect]) -> Vec<(u32, u32)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::StartDelivery { id, interval, .. } => Some((*id, *interval)),
            _ => None,
        })
        .collect()
}

fn statuses(fx: &[Effect]) -> Vec<(u32, SubStatus, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SetSubStatus { id, status, reason } => Some((*id, *status, reason.clone())),
            _ => None,
        })
        .collect()
}

fn outcomes(fx: &[Effect]) -> Vec<(u32, DeliveryState, Option<String>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::RecordOutcome {
                interval,
                state,
                reason,
                ..
            } => Some((*interval, *state, reason.clone())),
            _ => None,
        })
        .collect()
}

fn shows(fx: &[Effect]) -> Vec<Show> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::ShowStatus { show, .. } => Some(show.clone()),
            _ => None,
        })
        .collect()
}

fn stopped(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| **e == Effect::DeliveryStopped).count()
}

fn done(id: u32, interval: u32, result: WorkResult) -> Event {
    Event::WorkDone {
        id,
        interval,
        result,
    }
}

fn recorded(interval: u32, attempts: u32, transient: bool) -> Event {
    Event::AttemptRecorded {
        id: ID,
        interval,
        reason: "boom".into(),
        transient,
        attempts,
        draw: 0.0,
    }
}

/// Tracks `ID` and fires its interval `n` at block time `ts`.
fn running(schedule: Schedule, ts: u64, n: u32, t: Instant) -> Scheduler {
    let mut s = tracking(schedule, t);
    let fx = s.handle(Event::Head(head(ts)), t);
    assert_eq!(starts(&fx), [(ID, n)]);
    s
}

// --- track -----------------------------------------------------------------------------------

#[test]
fn fresh_track_times_the_interval_current_at_the_head() {
    let t = Instant::now();
    let mut s = new(&[]);
    s.handle(Event::Head(head(1015)), t);
    assert!(
        s.handle(track(ID, SCHED), t).is_empty(),
        "Track alone fires nothing"
    );
    assert!(s.tracks(ID));
    assert_eq!(s.timers.get(&(1010, ID)), Some(&2));
    assert_eq!(s.entries[&ID].timer, Some((1010, ID)));
}

#[test]
fn fresh_track_before_any_head_times_interval_one() {
    let s = tracking(SCHED, Instant::now());
    assert_eq!(s.timers.get(&(1000, ID)), Some(&1));
}

#[test]
fn restart_with_a_sent_delivery_waits_for_the_signer() {
    let t = Instant::now();
    let mut s = new(&[(ID, 2, DeliveryState::Sent)]);
    s.handle(track(ID, SCHED), t);
    assert_eq!(s.entries[&ID].in_flight, Some(2));
    assert!(s.timers.is_empty());
    assert!(starts(&s.handle(Event::Head(head(1012)), t)).is_empty());
    let fx = s.handle(
        Event::TxResolved {
            id: ID,
            interval: 2,
            outcome: TxOutcome::Confirmed("0xabc".into()),
        },
        t,
    );
    assert_eq!(
        outcomes(&fx),
        [(2, DeliveryState::Confirmed, Some("0xabc".into()))]
    );
    assert_eq!(stopped(&fx), 1);
    assert!(shows(&fx).contains(&Show::Next {
        interval: 3,
        due: 1020
    }));
}

#[test]
fn restart_interrupted_mid_pipeline_runs_that_interval_again() {
    for state in [DeliveryState::Running, DeliveryState::Retrying] {
        let t = Instant::now();
        let mut s = new(&[(ID, 2, state)]);
        s.handle(track(ID, SCHED), t);
        assert_eq!(s.timers.get(&(0, ID)), Some(&2), "due at once");
        let fx = s.handle(Event::Head(head(1012)), t);
        assert_eq!(starts(&fx), [(ID, 2)], "{state:?}");
    }
}

#[test]
fn an_open_delivery_resumes_only_once() {
    let t = Instant::now();
    let mut s = new(&[(ID, 2, DeliveryState::Sent)]);
    s.handle(track(ID, SCHED), t);
    s.handle(Event::Cancelled(ID), t);
    s.handle(Event::Head(head(1001)), t);
    s.handle(track(ID, SCHED), t);
    assert_eq!(s.entries[&ID].in_flight, None, "tracked afresh");
    assert_eq!(s.timers.get(&(1000, ID)), Some(&1));
}

#[test]
fn a_second_track_is_ignored() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let other = Schedule {
        active_at: 5000,
        ..SCHED
    };
    assert!(s.handle(track(ID, other), t).is_empty());
    assert_eq!(s.entries[&ID].schedule, SCHED);
    assert_eq!(s.entries[&ID].in_flight, Some(1));
    assert!(s.timers.is_empty(), "no second timer");
}

// --- firing ------------------------------------------------------------------------------------

#[test]
fn heads_before_active_at_fire_nothing() {
    let t = Instant::now();
    let mut s = tracking(SCHED, t);
    assert!(s.handle(Event::Head(head(999)), t).is_empty());
    assert_eq!(starts(&s.handle(Event::Head(head(1000)), t)), [(ID, 1)]);
}

#[test]
fn nothing_fires_before_the_first_head() {
    let t = Instant::now();
    let mut s = new(&[(ID, 1, DeliveryState::Running)]);
    s.handle(track(ID, SCHED), t);
    assert!(s.handle(Event::Tick, t).is_empty(), "head number 0");
}

#[test]
fn a_due_interval_starts_once_with_its_head() {
    let t = Instant::now();
    let mut s = tracking(SCHED, t);
    let h = head(1003);
    let fx = s.handle(Event::Head(h), t);
    assert_eq!(
        fx,
        [
            Effect::ShowStatus {
                id: ID,
                show: Show::Running {
                    interval: 1,
                    text: "interval 1: running".into()
                }
            },
            Effect::StartDelivery {
                id: ID,
                interval: 1,
                head: h
            },
        ]
    );
    assert_eq!(s.entries[&ID].in_flight, Some(1));
    assert_eq!(s.entries[&ID].timer, None);
    assert!(s.handle(Event::Head(head(1004)), t).is_empty());
    assert!(s.handle(Event::Tick, t).is_empty());
}

#[test]
fn ticks_fire_timers_that_are_due_at_the_known_head() {
    let t = Instant::now();
    let mut s = new(&[]);
    s.handle(Event::Head(head(1005)), t);
    s.handle(track(ID, SCHED), t);
    assert_eq!(starts(&s.handle(Event::Tick, t)), [(ID, 1)]);
}

#[test]
fn an_in_flight_delivery_is_not_started_again() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    // A stale timer, or a retry racing an outcome: either way one delivery at a time.
    s.timers.insert((1000, ID), 1);
    s.retries.insert((t, ID), 1);
    let fx = s.handle(Event::Head(head(1011)), t);
    assert!(starts(&fx).is_empty());
    assert!(s.timers.is_empty() && s.retries.is_empty());
}

#[test]
fn behind_after_downtime_serves_the_current_interval() {
    let t = Instant::now();
    let mut s = tracking(SCHED, t);
    assert_eq!(starts(&s.handle(Event::Head(head(1025)), t)), [(ID, 3)]);
}

#[test]
fn past_the_last_interval_the_subscription_expires() {
    let t = Instant::now();
    let mut s = tracking(SCHED, t);
    let fx = s.handle(Event::Head(head(1030)), t);
    assert!(starts(&fx).is_empty());
    assert_eq!(
        statuses(&fx),
        [(
            ID,
            SubStatus::Expired,
            "Subscription expired: interval 3 was the last".into()
        )]
    );
    assert!(!s.tracks(ID));
}

// --- outcomes ----------------------------------------------------------------------------------

#[test]
fn sent_shows_the_transaction_and_keeps_it_in_flight() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(done(ID, 1, WorkResult::Sent("0x1".into())), t);
    assert_eq!(
        shows(&fx),
        [Show::Sent {
            text: "interval 1: sent".into(),
            tx: "0x1".into()
        }]
    );
    assert_eq!(fx.len(), 1);
    assert_eq!(s.entries[&ID].in_flight, Some(1));
}

#[test]
fn confirmation_advances_to_the_next_interval() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(
        Event::TxResolved {
            id: ID,
            interval: 1,
            outcome: TxOutcome::Confirmed("0xabc".into()),
        },
        t,
    );
    assert_eq!(
        fx,
        [
            Effect::RecordOutcome {
                id: ID,
                interval: 1,
                state: DeliveryState::Confirmed,
                reason: Some("0xabc".into())
            },
            Effect::ShowStatus {
                id: ID,
                show: Show::Outcome {
                    text: "interval 1: confirmed 0xabc".into(),
                    own_tx: Some("0xabc".into())
                }
            },
            Effect::DeliveryStopped,
            Effect::ShowStatus {
                id: ID,
                show: Show::Next {
                    interval: 2,
                    due: 1010
                }
            },
        ]
    );
    assert!(s.handle(Event::Head(head(1009)), t).is_empty());
    assert_eq!(starts(&s.handle(Event::Head(head(1010)), t)), [(ID, 2)]);
}

#[test]
fn found_delivered_on_chain_confirms_without_our_transaction() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let why = "delivered (found on chain)";
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed(why.into())), t);
    assert!(shows(&fx).contains(&Show::Outcome {
        text: format!("interval 1: confirmed {why}"),
        own_tx: None
    }));
}

#[test]
fn skips_advance_like_confirmations() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(done(ID, 1, WorkResult::Skipped("no inputs".into())), t);
    assert_eq!(
        outcomes(&fx),
        [(1, DeliveryState::Skipped, Some("no inputs".into()))]
    );
    assert!(shows(&fx).contains(&Show::Outcome {
        text: "interval 1: skipped (no inputs)".into(),
        own_tx: None
    }));
    assert_eq!(starts(&s.handle(Event::Head(head(1010)), t)), [(ID, 2)]);
    let fx = s.handle(
        Event::TxResolved {
            id: ID,
            interval: 2,
            outcome: TxOutcome::RaceLost("filled".into()),
        },
        t,
    );
    assert_eq!(
        outcomes(&fx),
        [(2, DeliveryState::Skipped, Some("filled".into()))]
    );
    assert!(shows(&fx).contains(&Show::Next {
        interval: 3,
        due: 1020
    }));
}

#[test]
fn an_outcome_late_in_the_schedule_moves_to_the_current_interval() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(Event::Head(head(1024)), t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert!(shows(&fx).contains(&Show::Next {
        interval: 3,
        due: 1020
    }));
    assert_eq!(starts(&s.handle(Event::Tick, t)), [(ID, 3)]);
}

#[test]
fn the_last_interval_completes_the_subscription() {
    let t = Instant::now();
    let mut s = running(SCHED, 1020, 3, t);
    let fx = s.handle(done(ID, 3, WorkResult::Confirmed("0x3".into())), t);
    assert_eq!(
        statuses(&fx),
        [(ID, SubStatus::Completed, "all 3 interval(s) served".into())]
    );
    assert!(!s.tracks(ID));
    assert!(s.timers.is_empty());
    // Done with interval 1 only after the schedule ran out: nothing is left either.
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(Event::Head(head(1031)), t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert_eq!(statuses(&fx).len(), 1);
    assert!(!s.tracks(ID));
}

#[test]
fn a_period_of_zero_completes_after_one_interval() {
    let t = Instant::now();
    let once = Schedule {
        active_at: 1000,
        period: 0,
        frequency: 5,
    };
    let mut s = running(once, 5000, 1, t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert_eq!(
        statuses(&fx),
        [(ID, SubStatus::Completed, "all 1 interval(s) served".into())]
    );
}

#[test]
fn a_subscription_ended_by_a_skip_or_give_up_says_so_and_why() {
    let t = Instant::now();
    let once = Schedule {
        active_at: 1000,
        period: 0,
        frequency: 1,
    };
    let mut s = running(once, 5000, 1, t);
    let fx = s.handle(
        done(ID, 1, WorkResult::Skipped("below minimum payment".into())),
        t,
    );
    assert_eq!(
        statuses(&fx),
        [(
            ID,
            SubStatus::Completed,
            "its interval was skipped: below minimum payment".into()
        )]
    );
    // The subscription's own fault: given up at once, no retry, no attempt counted.
    let mut s = running(once, 5000, 1, t);
    let fx = s.handle(done(ID, 1, WorkResult::GivenUp("no contract".into())), t);
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::RecordAttempt { .. }))
    );
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::RecordOutcome { state: DeliveryState::GivenUp, reason: Some(r), .. } if r == "no contract"
    )));
    assert_eq!(
        statuses(&fx),
        [(
            ID,
            SubStatus::Completed,
            "its interval was given up: no contract".into()
        )]
    );
    assert_eq!(s.next_retry(), None);
    // Recurring: the closing line counts each outcome and names the last fault.
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    s.handle(Event::Head(head(1010)), t);
    s.handle(Event::Tick, t);
    s.handle(done(ID, 2, WorkResult::GivenUp("no contract".into())), t);
    s.handle(Event::Head(head(1020)), t);
    s.handle(Event::Tick, t);
    let fx = s.handle(done(ID, 3, WorkResult::Skipped("too late".into())), t);
    assert_eq!(
        statuses(&fx),
        [(
            ID,
            SubStatus::Completed,
            "schedule over: 1 served, 1 skipped, 1 given up of 3 interval(s); last skipped: too late"
                .into()
        )]
    );
}

#[test]
fn a_confirmed_proof_with_payment_shows_the_locked_escrow() {
    let t = Instant::now();
    let mut s = new(&[]);
    s.handle(
        Event::Track {
            id: ID,
            schedule: SCHED,
            proof_and_payment: true,
        },
        t,
    );
    s.handle(Event::Head(head(1000)), t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    let pending = shows(&fx)
        .into_iter()
        .find(|s| matches!(s, Show::ProofPending { interval: 1, .. }));
    assert!(pending.is_some(), "{fx:?}");
    s.handle(Event::Head(head(1010)), t);
    let fx = s.handle(done(ID, 2, WorkResult::Skipped("x".into())), t);
    assert!(
        !shows(&fx)
            .iter()
            .any(|s| matches!(s, Show::ProofPending { .. }))
    );
    // Without proof and payment there is nothing locked to show.
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert!(
        !shows(&fx)
            .iter()
            .any(|s| matches!(s, Show::ProofPending { .. }))
    );
}

// --- failures ----------------------------------------------------------------------------------

#[test]
fn a_failure_is_recorded_before_anything_is_decided() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(
        done(
            ID,
            1,
            WorkResult::Failed {
                reason: "revert".into(),
                transient: true,
            },
        ),
        t,
    );
    assert_eq!(
        fx,
        [Effect::RecordAttempt {
            id: ID,
            interval: 1,
            reason: "revert".into(),
            transient: true
        }]
    );
    let fx = s.handle(
        Event::TxResolved {
            id: ID,
            interval: 1,
            outcome: TxOutcome::Failed("reverted".into()),
        },
        t,
    );
    assert_eq!(
        fx,
        [Effect::RecordAttempt {
            id: ID,
            interval: 1,
            reason: "reverted".into(),
            transient: false
        }]
    );
    assert_eq!(s.entries[&ID].in_flight, Some(1), "still in flight");
}

#[test]
fn a_failed_attempt_retries_after_its_backoff() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(recorded(1, 1, false), t);
    let wait = Duration::from_millis(200);
    assert_eq!(
        fx,
        [
            Effect::DeliveryStopped,
            Effect::RetryScheduled {
                id: ID,
                interval: 1,
                attempts: 1,
                transient: false,
                retry_in: wait,
                reason: "boom".into()
            },
            Effect::ShowStatus {
                id: ID,
                show: Show::Delivery("interval 1: retrying (boom)".into())
            },
        ]
    );
    assert_eq!(s.next_retry(), Some(t + wait));
    assert!(s.handle(Event::Tick, t + wait / 2).is_empty());
    assert_eq!(starts(&s.handle(Event::Tick, t + wait)), [(ID, 1)]);
    assert_eq!(s.next_retry(), None);
    // The second failure waits twice as long.
    let fx = s.handle(recorded(1, 2, false), t);
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::RetryScheduled { retry_in, .. } if *retry_in == wait * 2
    )));
}

#[test]
fn the_draw_jitters_the_wait_down() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let mut e = recorded(1, 1, false);
    if let Event::AttemptRecorded { draw, .. } = &mut e {
        *draw = 1.0;
    }
    s.handle(e, t);
    assert_eq!(s.next_retry(), Some(t + Duration::from_millis(100)));
}

#[test]
fn a_retry_waking_in_a_later_interval_serves_that_one() {
    let t = Instant::now();
    let mut s = running(SCHED, 1005, 1, t);
    s.handle(recorded(1, 1, false), t);
    // The head moves on while the retry waits: the old interval is gone.
    s.handle(Event::Head(head(1012)), t);
    let fx = s.handle(Event::Tick, t + Duration::from_secs(1));
    assert_eq!(starts(&fx), [(ID, 2)]);
}

#[test]
fn an_interval_is_given_up_after_its_attempts() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    let fx = s.handle(recorded(1, CFG.max_attempts, false), t);
    assert_eq!(
        outcomes(&fx),
        [(
            1,
            DeliveryState::GivenUp,
            Some("gave up after 3 failed attempts: boom".into())
        )]
    );
    assert_eq!(s.next_retry(), None);
    assert!(shows(&fx).contains(&Show::Next {
        interval: 2,
        due: 1010
    }));
    assert!(s.tracks(ID), "the subscription goes on");
}

#[test]
fn an_interval_is_given_up_when_its_window_ended() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(Event::Head(head(1010)), t);
    let fx = s.handle(recorded(1, 1, true), t);
    assert_eq!(
        outcomes(&fx),
        [(
            1,
            DeliveryState::GivenUp,
            Some("interval ended before it could be delivered: boom".into())
        )]
    );
    assert_eq!(s.next_retry(), None);
}

#[test]
fn a_period_of_zero_never_closes_its_window() {
    let t = Instant::now();
    let once = Schedule {
        active_at: 1000,
        period: 0,
        frequency: 1,
    };
    let mut s = running(once, 1000, 1, t);
    s.handle(Event::Head(head(99_999)), t);
    let fx = s.handle(recorded(1, 1, false), t);
    assert!(outcomes(&fx).is_empty());
    assert!(s.next_retry().is_some());
}

#[test]
fn transient_failures_do_not_use_up_attempts() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    // The stored count is past the limit, but RPC trouble does not count.
    let mut waits = Vec::new();
    for _ in 0..3 {
        let fx = s.handle(recorded(1, 5, true), t);
        assert!(outcomes(&fx).is_empty(), "{fx:?}");
        for e in fx {
            if let Effect::RetryScheduled { retry_in, .. } = e {
                waits.push(retry_in.as_millis());
            }
        }
        let at = s.next_retry().unwrap();
        assert_eq!(starts(&s.handle(Event::Tick, at)), [(ID, 1)]);
    }
    assert_eq!(waits, [200, 400, 800], "its own backoff count");
    // An outcome resets the transient count.
    s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert_eq!(s.entries[&ID].transient_failures, 0);
}

#[test]
fn an_unrecorded_attempt_retries_after_the_base_wait() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(recorded(1, 0, false), t);
    assert_eq!(s.next_retry(), Some(t + Duration::from_millis(200)));
}

#[test]
fn a_failure_of_an_untracked_subscription_only_ends_its_delivery() {
    let t = Instant::now();
    let mut s = new(&[]);
    assert_eq!(
        s.handle(recorded(1, 1, false), t),
        [Effect::DeliveryStopped]
    );
}

// --- cancellation and delegated deliveries -----------------------------------------------------

#[test]
fn cancelling_drops_the_timer_and_the_retries() {
    let t = Instant::now();
    let mut s = tracking(SCHED, t);
    assert!(s.handle(Event::Cancelled(ID), t).is_empty());
    assert!(!s.tracks(ID) && s.timers.is_empty());
    assert!(s.handle(Event::Head(head(1000)), t).is_empty());

    let mut s = running(SCHED, 1000, 1, t);
    s.handle(recorded(1, 1, false), t);
    s.handle(Event::Cancelled(ID), t);
    assert_eq!(s.next_retry(), None);
    assert!(s.handle(Event::Tick, t + Duration::from_secs(9)).is_empty());
}

#[test]
fn an_outcome_after_cancelling_is_recorded_but_schedules_nothing() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    s.handle(Event::Cancelled(ID), t);
    let fx = s.handle(done(ID, 1, WorkResult::Confirmed("0x1".into())), t);
    assert_eq!(outcomes(&fx).len(), 1);
    assert_eq!(stopped(&fx), 1);
    assert!(statuses(&fx).is_empty());
    assert!(!shows(&fx).iter().any(|s| matches!(s, Show::Next { .. })));
    assert!(s.timers.is_empty());
}

#[test]
fn delegated_outcomes_are_forwarded() {
    let t = Instant::now();
    let mut s = running(SCHED, 1000, 1, t);
    for outcome in [
        TxOutcome::Confirmed("0x9".into()),
        TxOutcome::RaceLost("r".into()),
        TxOutcome::Failed("f".into()),
    ] {
        let fx = s.handle(
            Event::TxResolved {
                id: 0,
                interval: 4,
                outcome: outcome.clone(),
            },
            t,
        );
        assert_eq!(
            fx,
            [Effect::ForwardDelegated {
                interval: 4,
                outcome
            }]
        );
    }
    assert_eq!(s.entries[&ID].in_flight, Some(1), "untouched");
}
