//! The control plane's job lease: pending, assigned, running, completed or failed; renewal,
//! expiry and requeueing, decided from the job row and `now`.
//!
//! `pending` → (claim) `assigned` with a lease → (events) `running`, lease renewed →
//! `completed | failed`. Heartbeats renew the leases of the jobs a node says it holds; a lease
//! that runs out puts the job back to `pending` until `max_attempts` claims were made, then
//! fails it; a job nobody claims in time fails. Only the node holding the lease may post events
//! or complete, and completing an ended job is a no-op (a retry, or a node whose lease was lost
//! after the job ended). The store executes a [`Transition`] guarded on the row it read.
use serde::{Deserialize, Serialize};

/// Where a chat job stands. Stored and shown as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Queued: any node serving its model may claim it.
    Pending,
    /// Claimed: leased to a node that has not reported yet.
    Assigned,
    /// The node holding the lease posts events.
    Running,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "assigned" => Self::Assigned,
            "running" => Self::Running,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Nothing more will happen to the job.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    /// A node holds the job under a lease.
    pub fn is_leased(self) -> bool {
        matches!(self, Self::Assigned | Self::Running)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of a job row the lifecycle decides on (times in ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub status: JobStatus,
    /// The node that claimed it last (kept on a failed job, cleared on requeue).
    pub provider: Option<String>,
    /// Claims so far: the current attempt's number.
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_until: Option<i64>,
    /// When the job last moved (a pending job's age counts from here).
    pub updated_at: i64,
}

impl Lease {
    fn held_by(&self, node: &str) -> bool {
        self.provider.as_deref() == Some(node)
    }
}

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A node polling for work wants it.
    Claim { node: &'a str },
    /// A node posts stream events for it; `attempt`: the attempt they belong to, when the
    /// node says (ours do; reference nodes do not).
    Events { node: &'a str, attempt: Option<i64> },
    /// A node's heartbeat; `holds`: the node listed the job as one it runs (a node that does
    /// not list its jobs holds all of them).
    Heartbeat { node: &'a str, holds: bool },
    /// A node reports the outcome (of `attempt`, when it says).
    Complete {
        node: &'a str,
        ok: bool,
        attempt: Option<i64>,
    },
    /// The reaper found its lease run out.
    Expire,
    /// The reaper checks a pending job against the pending timeout.
    Stale { timeout_ms: i64 },
}

/// Why a job failed without a node's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCause {
    /// Every allowed attempt lost its node.
    Exhausted,
    /// Nobody claimed it within the pending timeout.
    Unclaimed,
}

/// What to write: `next` is the whole new lease; `step` says which other columns go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Leased to the claiming node, attempt counted (`assigned_at` is now).
    Assigned,
    /// Marked running, lease renewed.
    Running,
    /// Lease renewed only.
    Renewed,
    /// The holder's outcome (`result`, `error`, `completed_at`).
    Finished,
    /// Already ended: nothing is written (a retried or late complete).
    Unchanged,
    /// Back in the queue, nobody holds it.
    Requeued,
    /// Failed by the control plane (`error`, `completed_at`).
    Failed(FailCause),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub next: Lease,
    pub step: Step,
}

impl Transition {
    /// Whether the decision read `lease_until`, so the write must be guarded on it too (a
    /// renewal that lands between the read and the write cancels an expiry). Other steps are
    /// guarded on status, provider and attempts alone: each claim counts an attempt, so those
    /// three name one lease.
    pub fn depends_on_lease_until(&self) -> bool {
        matches!(
            self.step,
            Step::Requeued | Step::Failed(FailCause::Exhausted)
        )
    }
}

/// Why an event changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another node holds the job, or nobody does (HTTP 403).
    NotLeased,
    /// The holder's job is not leased any more: it is in this state (HTTP 409).
    Ended(JobStatus),
    /// A claim of a job that is not pending (someone else got it first).
    NotPending(JobStatus),
    /// A heartbeat from the holder that did not list the job: its lease is left to run out,
    /// so a node that restarted and forgot its jobs does not keep them forever. (Not released
    /// at once: a heartbeat racing the poll that leased a job would drop it.)
    NotHeld,
    /// Expiry of a lease that still runs (renewed since it was read) or of a job not leased.
    NotExpired,
    /// Stale check of a pending job younger than the timeout.
    NotStale,
    /// The holder's report for an earlier attempt: its lease ran out and the job was leased
    /// again (to the same node, still running the old attempt); the job is at `current`.
    Superseded { current: i64 },
}

impl Lease {
    /// A holder's report names `attempt`: refused unless it is the current one.
    fn current(&self, attempt: Option<i64>) -> Result<(), Refusal> {
        match attempt {
            Some(a) if a != self.attempts => Err(Refusal::Superseded {
                current: self.attempts,
            }),
            _ => Ok(()),
        }
    }
}

/// Decides what `event` does to the job in `lease` at `now`; `lease_ms` is the length of a
/// lease (claims, events and heartbeats renew to `now + lease_ms`).
pub fn handle(
    lease: &Lease,
    event: Event<'_>,
    now: i64,
    lease_ms: i64,
) -> Result<Transition, Refusal> {
    let s = lease.status;
    let to = |step: Step, next: Lease| Ok(Transition { next, step });
    match event {
        Event::Claim { node } => {
            if s != JobStatus::Pending {
                return Err(Refusal::NotPending(s));
            }
            to(
                Step::Assigned,
                Lease {
                    status: JobStatus::Assigned,
                    provider: Some(node.to_string()),
                    attempts: lease.attempts + 1,
                    lease_until: Some(now + lease_ms),
                    updated_at: now,
                    ..lease.clone()
                },
            )
        }
        // Who before what: another node's request is refused whatever the state.
        Event::Events { node, attempt } => {
            if !lease.held_by(node) {
                return Err(Refusal::NotLeased);
            }
            if !s.is_leased() {
                return Err(Refusal::Ended(s));
            }
            lease.current(attempt)?;
            to(
                Step::Running,
                Lease {
                    status: JobStatus::Running,
                    lease_until: Some(now + lease_ms),
                    updated_at: now,
                    ..lease.clone()
                },
            )
        }
        Event::Heartbeat { node, holds } => {
            if !lease.held_by(node) {
                return Err(Refusal::NotLeased);
            }
            if !s.is_leased() {
                return Err(Refusal::Ended(s));
            }
            if !holds {
                return Err(Refusal::NotHeld);
            }
            to(
                Step::Renewed,
                Lease {
                    lease_until: Some(now + lease_ms),
                    ..lease.clone()
                },
            )
        }
        // What before who: an ended job answers every node with its outcome.
        Event::Complete { node, ok, attempt } => {
            if s.is_final() {
                return to(Step::Unchanged, lease.clone());
            }
            if !lease.held_by(node) || !s.is_leased() {
                return Err(Refusal::NotLeased);
            }
            lease.current(attempt)?;
            to(
                Step::Finished,
                Lease {
                    status: if ok {
                        JobStatus::Completed
                    } else {
                        JobStatus::Failed
                    },
                    lease_until: None,
                    updated_at: now,
                    ..lease.clone()
                },
            )
        }
        Event::Expire => {
            if s.is_final() {
                return Err(Refusal::Ended(s));
            }
            match lease.lease_until {
                Some(until) if s.is_leased() && until < now => {}
                _ => return Err(Refusal::NotExpired),
            }
            if lease.attempts >= lease.max_attempts {
                return to(
                    Step::Failed(FailCause::Exhausted),
                    Lease {
                        status: JobStatus::Failed,
                        lease_until: None,
                        updated_at: now,
                        ..lease.clone()
                    },
                );
            }
            to(
                Step::Requeued,
                Lease {
                    status: JobStatus::Pending,
                    provider: None,
                    lease_until: None,
                    updated_at: now,
                    ..lease.clone()
                },
            )
        }
        Event::Stale { timeout_ms } => {
            if s.is_final() {
                return Err(Refusal::Ended(s));
            }
            if s != JobStatus::Pending {
                return Err(Refusal::NotPending(s));
            }
            if lease.updated_at >= now - timeout_ms {
                return Err(Refusal::NotStale);
            }
            to(
                Step::Failed(FailCause::Unclaimed),
                Lease {
                    status: JobStatus::Failed,
                    lease_until: None,
                    updated_at: now,
                    ..lease.clone()
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    const LEASE: i64 = 1_000;

    fn pending() -> Lease {
        Lease {
            status: Pending,
            provider: None,
            attempts: 0,
            max_attempts: 2,
            lease_until: None,
            updated_at: 0,
        }
    }

    fn with(status: JobStatus, provider: Option<&str>) -> Lease {
        Lease {
            status,
            provider: provider.map(str::to_string),
            attempts: 1,
            lease_until: status.is_leased().then_some(500),
            ..pending()
        }
    }

    /// The lease after `event`, which must be accepted.
    fn next(l: &Lease, event: Event<'_>, now: i64) -> (Lease, Step) {
        let t = handle(l, event, now, LEASE).unwrap();
        (t.next, t.step)
    }

    /// Events from `node` naming no attempt (as the reference's nodes send them).
    fn posted(node: &str) -> Event<'_> {
        Event::Events {
            node,
            attempt: None,
        }
    }

    /// `node`'s outcome, naming no attempt.
    fn outcome(node: &str, ok: bool) -> Event<'_> {
        Event::Complete {
            node,
            ok,
            attempt: None,
        }
    }

    fn claimed(node: &str, now: i64) -> Lease {
        next(&pending(), Event::Claim { node }, now).0
    }

    #[test]
    fn status_names_round_trip() {
        for s in [Pending, Assigned, Running, Completed, Failed] {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(JobStatus::parse("done"), None);
        assert!(Completed.is_final() && Failed.is_final() && !Running.is_final());
        assert!(Assigned.is_leased() && Running.is_leased() && !Pending.is_leased());
    }

    // ---- claim ----

    #[test]
    fn claim_leases_a_pending_job_and_counts_the_attempt() {
        let (l, step) = next(&pending(), Event::Claim { node: "a" }, 100);
        assert_eq!(step, Step::Assigned);
        assert_eq!(
            l,
            Lease {
                status: Assigned,
                provider: Some("a".into()),
                attempts: 1,
                max_attempts: 2,
                lease_until: Some(100 + LEASE),
                updated_at: 100,
            }
        );
    }

    #[test]
    fn claim_of_a_job_another_node_got_first_is_refused() {
        // Two nodes read the same pending row: the first write wins, the second re-decides.
        let a = claimed("a", 100);
        assert_eq!(
            handle(&a, Event::Claim { node: "b" }, 101, LEASE),
            Err(Refusal::NotPending(Assigned))
        );
        let running = next(&a, posted("a"), 102).0;
        assert_eq!(
            handle(&running, Event::Claim { node: "a" }, 103, LEASE),
            Err(Refusal::NotPending(Running))
        );
    }

    // ---- events ----

    #[test]
    fn events_by_the_holder_mark_running_and_renew() {
        let a = claimed("a", 100);
        let (l, step) = next(&a, posted("a"), 400);
        assert_eq!(step, Step::Running);
        assert_eq!(
            (l.status, l.lease_until, l.updated_at),
            (Running, Some(400 + LEASE), 400)
        );
        assert_eq!((l.provider.as_deref(), l.attempts), (Some("a"), 1));
        // And again while running.
        let (l, step) = next(&l, posted("a"), 900);
        assert_eq!(
            (step, l.status, l.lease_until),
            (Step::Running, Running, Some(900 + LEASE))
        );
    }

    #[test]
    fn events_by_another_node_or_on_a_requeued_job_are_refused() {
        let a = claimed("a", 100);
        assert_eq!(handle(&a, posted("b"), 200, LEASE), Err(Refusal::NotLeased));
        let requeued = next(&a, Event::Expire, 100 + LEASE + 1).0;
        assert_eq!(
            handle(&requeued, posted("a"), 2_000, LEASE),
            Err(Refusal::NotLeased)
        );
    }

    /// A node whose lease ran out while it was still running the job claims it again (attempt
    /// 2): what its first run still sends is refused, the new run's is taken.
    #[test]
    fn reports_of_a_superseded_attempt_by_the_same_node_are_refused() {
        let first = claimed("a", 100);
        let requeued = next(&first, Event::Expire, 100 + LEASE + 1).0;
        let again = next(&requeued, Event::Claim { node: "a" }, 1_200).0;
        assert_eq!(again.attempts, 2);
        let old = |ok| Event::Complete {
            node: "a",
            ok,
            attempt: Some(1),
        };
        assert_eq!(
            handle(
                &again,
                Event::Events {
                    node: "a",
                    attempt: Some(1)
                },
                1_300,
                LEASE
            ),
            Err(Refusal::Superseded { current: 2 })
        );
        for ok in [true, false] {
            assert_eq!(
                handle(&again, old(ok), 1_300, LEASE),
                Err(Refusal::Superseded { current: 2 })
            );
        }
        let (running, step) = next(
            &again,
            Event::Events {
                node: "a",
                attempt: Some(2),
            },
            1_300,
        );
        assert_eq!((step, running.status), (Step::Running, Running));
        let (l, step) = next(
            &running,
            Event::Complete {
                node: "a",
                ok: true,
                attempt: Some(2),
            },
            1_400,
        );
        assert_eq!((step, l.status), (Step::Finished, Completed));
        // Once ended, the old attempt's late complete gets the outcome, as any repeat does.
        assert_eq!(next(&l, old(false), 1_500).1, Step::Unchanged);
        // A node that names no attempt (the reference's) is taken as the holder.
        assert_eq!(next(&again, posted("a"), 1_300).1, Step::Running);
    }

    #[test]
    fn events_on_an_ended_job_are_a_conflict_for_the_holder_forbidden_for_others() {
        for end in [Completed, Failed] {
            let l = with(end, Some("a"));
            assert_eq!(
                handle(&l, posted("a"), 600, LEASE),
                Err(Refusal::Ended(end))
            );
            assert_eq!(handle(&l, posted("b"), 600, LEASE), Err(Refusal::NotLeased));
        }
    }

    // ---- heartbeat ----

    #[test]
    fn heartbeat_renews_only_the_lease() {
        let r = next(&claimed("a", 100), posted("a"), 200).0;
        let (l, step) = next(
            &r,
            Event::Heartbeat {
                node: "a",
                holds: true,
            },
            700,
        );
        assert_eq!(step, Step::Renewed);
        assert_eq!(
            l,
            Lease {
                lease_until: Some(700 + LEASE),
                ..r
            },
            "status and updated_at stay"
        );
    }

    #[test]
    fn heartbeat_that_does_not_list_the_job_lets_its_lease_run_out() {
        // A node that restarted forgot its jobs: its next heartbeat lists none of them.
        let a = claimed("a", 100);
        assert_eq!(
            handle(
                &a,
                Event::Heartbeat {
                    node: "a",
                    holds: false
                },
                300,
                LEASE
            ),
            Err(Refusal::NotHeld)
        );
        assert_eq!(next(&a, Event::Expire, 100 + LEASE + 1).1, Step::Requeued);
    }

    #[test]
    fn heartbeat_of_another_node_or_an_ended_job_renews_nothing() {
        let a = claimed("a", 100);
        assert_eq!(
            handle(
                &a,
                Event::Heartbeat {
                    node: "b",
                    holds: true
                },
                300,
                LEASE
            ),
            Err(Refusal::NotLeased)
        );
        assert_eq!(
            handle(
                &pending(),
                Event::Heartbeat {
                    node: "a",
                    holds: true
                },
                300,
                LEASE
            ),
            Err(Refusal::NotLeased)
        );
        assert_eq!(
            handle(
                &with(Completed, Some("a")),
                Event::Heartbeat {
                    node: "a",
                    holds: true
                },
                300,
                LEASE
            ),
            Err(Refusal::Ended(Completed))
        );
    }

    // ---- complete ----

    #[test]
    fn complete_by_the_holder_ends_the_job_and_drops_the_lease() {
        let r = next(&claimed("a", 100), posted("a"), 200).0;
        for (ok, end) in [(true, Completed), (false, Failed)] {
            let (l, step) = next(&r, outcome("a", ok), 300);
            assert_eq!(step, Step::Finished);
            assert_eq!(
                l,
                Lease {
                    status: end,
                    lease_until: None,
                    updated_at: 300,
                    ..r.clone()
                }
            );
        }
        // Straight from assigned (no events sent) too.
        let (l, _) = next(&claimed("a", 100), outcome("a", true), 150);
        assert_eq!(l.status, Completed);
    }

    #[test]
    fn duplicate_complete_is_idempotent() {
        let done = next(&claimed("a", 100), outcome("a", true), 300).0;
        for ok in [true, false] {
            let (l, step) = next(&done, outcome("a", ok), 400);
            assert_eq!((step, &l), (Step::Unchanged, &done));
        }
    }

    #[test]
    fn complete_after_the_lease_was_lost() {
        let a = claimed("a", 100);
        // Requeued: nobody holds it, the late node is refused (another will run it).
        let requeued = next(&a, Event::Expire, 100 + LEASE + 1).0;
        assert_eq!(
            handle(&requeued, outcome("a", true), 1_200, LEASE),
            Err(Refusal::NotLeased)
        );
        // Taken by another node: refused while it runs...
        let b = next(&requeued, Event::Claim { node: "b" }, 1_300).0;
        assert_eq!(b.attempts, 2);
        assert_eq!(
            handle(&b, outcome("a", true), 1_400, LEASE),
            Err(Refusal::NotLeased)
        );
        // ...and a no-op once it ended: the late node learns the outcome.
        let done = next(&b, outcome("b", true), 1_500).0;
        let (l, step) = next(&done, outcome("a", false), 1_600);
        assert_eq!(
            (step, l.status, l.provider.as_deref()),
            (Step::Unchanged, Completed, Some("b"))
        );
        // Failed by the reaper (retries exhausted) while the node was away: a no-op too.
        let lost = next(&b, Event::Expire, 1_300 + LEASE + 1).0;
        assert_eq!(lost.status, Failed);
        let (_, step) = next(&lost, outcome("b", true), 3_000);
        assert_eq!(step, Step::Unchanged);
    }

    // ---- expiry ----

    #[test]
    fn expiry_requeues_until_max_attempts_then_fails() {
        let mut l = pending();
        l.max_attempts = 3;
        let mut now = 0;
        for attempt in 1..=3 {
            now += 10;
            l = next(&l, Event::Claim { node: "a" }, now).0;
            assert_eq!(l.attempts, attempt);
            now += LEASE + 1;
            let t = handle(&l, Event::Expire, now, LEASE).unwrap();
            assert!(t.depends_on_lease_until());
            if attempt < 3 {
                assert_eq!(t.step, Step::Requeued);
                assert_eq!(
                    t.next,
                    Lease {
                        status: Pending,
                        provider: None,
                        lease_until: None,
                        updated_at: now,
                        ..l.clone()
                    },
                    "the attempt is counted at the next claim, not here"
                );
            } else {
                assert_eq!(t.step, Step::Failed(FailCause::Exhausted));
                assert_eq!(t.next.status, Failed);
                assert_eq!(t.next.provider.as_deref(), Some("a"), "who lost it last");
                assert_eq!((t.next.lease_until, t.next.updated_at), (None, now));
            }
            l = t.next;
        }
    }

    #[test]
    fn expiry_needs_a_lease_that_ran_out() {
        let a = claimed("a", 100);
        let until = 100 + LEASE;
        for now in [until - 1, until] {
            assert_eq!(
                handle(&a, Event::Expire, now, LEASE),
                Err(Refusal::NotExpired)
            );
        }
        // Read as expired, renewed before the write: the re-decision keeps it.
        let renewed = next(
            &a,
            Event::Heartbeat {
                node: "a",
                holds: true,
            },
            until,
        )
        .0;
        assert_eq!(
            handle(&renewed, Event::Expire, until + 1, LEASE),
            Err(Refusal::NotExpired)
        );
        assert_eq!(
            handle(&pending(), Event::Expire, 10_000, LEASE),
            Err(Refusal::NotExpired)
        );
    }

    // ---- stale pending ----

    #[test]
    fn stale_pending_job_fails_as_unclaimed() {
        let mut l = pending();
        l.updated_at = 1_000;
        let t = handle(&l, Event::Stale { timeout_ms: 500 }, 1_501, LEASE).unwrap();
        assert_eq!(t.step, Step::Failed(FailCause::Unclaimed));
        assert!(!t.depends_on_lease_until());
        assert_eq!((t.next.status, t.next.updated_at), (Failed, 1_501));
        assert_eq!(
            handle(&l, Event::Stale { timeout_ms: 500 }, 1_500, LEASE),
            Err(Refusal::NotStale)
        );
        // A requeued job's wait counts from its requeue.
        let requeued = next(&claimed("a", 100), Event::Expire, 100 + LEASE + 1).0;
        assert_eq!(
            handle(
                &requeued,
                Event::Stale { timeout_ms: 500 },
                100 + LEASE + 400,
                LEASE
            ),
            Err(Refusal::NotStale)
        );
    }

    #[test]
    fn stale_check_leaves_leased_jobs_alone() {
        let a = claimed("a", 100);
        assert_eq!(
            handle(&a, Event::Stale { timeout_ms: 0 }, 10_000, LEASE),
            Err(Refusal::NotPending(Assigned))
        );
    }

    // ---- final states ----

    #[test]
    fn final_states_reject_everything_but_a_repeated_complete() {
        for end in [Completed, Failed] {
            let l = with(end, Some("a"));
            for node in ["a", "b"] {
                let refused = [
                    Event::Claim { node },
                    posted(node),
                    Event::Heartbeat { node, holds: true },
                    Event::Expire,
                    Event::Stale { timeout_ms: 0 },
                ];
                for e in refused {
                    assert!(
                        handle(&l, e, 10_000, LEASE).is_err(),
                        "{end} accepted {e:?}"
                    );
                }
                let t = handle(&l, outcome(node, true), 10_000, LEASE).unwrap();
                assert_eq!((t.step, t.next), (Step::Unchanged, l.clone()));
            }
        }
    }

    // ---- a node that crashes mid-job ----

    #[test]
    fn crashed_node_loses_the_job_to_another_and_its_late_reports_change_nothing() {
        let a = next(&claimed("a", 0), posted("a"), 10).0;
        // `a` restarts: its heartbeat lists nothing, the lease runs out, `b` gets attempt 2.
        assert_eq!(
            handle(
                &a,
                Event::Heartbeat {
                    node: "a",
                    holds: false
                },
                20,
                LEASE
            ),
            Err(Refusal::NotHeld)
        );
        let q = next(&a, Event::Expire, 10 + LEASE + 1).0;
        let b = next(&q, Event::Claim { node: "b" }, 2_000).0;
        assert_eq!((b.attempts, b.provider.as_deref()), (2, Some("b")));
        assert_eq!(
            handle(&b, posted("a"), 2_001, LEASE),
            Err(Refusal::NotLeased)
        );
        assert_eq!(
            handle(
                &b,
                Event::Heartbeat {
                    node: "a",
                    holds: true
                },
                2_001,
                LEASE
            ),
            Err(Refusal::NotLeased)
        );
        let done = next(&b, outcome("b", true), 2_100).0;
        assert_eq!(done.status, Completed);
    }
}
