//! What a supervisor does when one of its tasks ends: pure, so every case is a unit test.
//! A critical task that ends for any reason but a node stop stops the node with the reason;
//! a restartable one is started again after a backoff that doubles per failure in a row
//! (reset once it ran `STABLE` without failing), and is done once it finishes on its own.
pub use crate::retry::Backoff;
use std::time::Duration;

/// What the node does without the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The node is not itself without it (the REST server): its end stops the node.
    Critical,
    /// Restarted after a failure; finishing on its own means its work is done.
    Restart,
}

/// A run at least this long resets the failure count: the task had recovered.
pub const STABLE: Duration = Duration::from_secs(60);

/// How a run of the task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Returned `Ok`.
    Finished,
    /// Returned an error.
    Failed(String),
    /// Panicked (the message, when it was a string).
    Panicked(String),
    /// The node is stopping.
    Cancelled,
}

/// The task's record across runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    /// Failures in a row (reset by a stable run).
    pub failures: u32,
    /// Every failure since the node started.
    pub total_failures: u64,
    pub started_ms: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing more to run.
    Done,
    /// Report the failure and start the task again after this long.
    Restart { after: Duration, reason: String },
    /// Report the failure and stop the node.
    StopNode { reason: String },
}

/// Decides what follows the end of a run that started at `state.started_ms`.
pub fn decide(
    name: &str,
    role: Role,
    backoff: &Backoff,
    state: &mut TaskState,
    exit: Exit,
    now_ms: i64,
) -> Decision {
    let reason = match exit {
        Exit::Cancelled => return Decision::Done,
        Exit::Finished if role == Role::Restart => return Decision::Done,
        Exit::Finished => format!("task '{name}' ended"),
        Exit::Failed(e) => format!("task '{name}' failed: {e}"),
        Exit::Panicked(m) => format!("task '{name}' panicked: {m}"),
    };
    let ran_ms = now_ms.saturating_sub(state.started_ms);
    if ran_ms >= STABLE.as_millis() as i64 {
        state.failures = 0;
    }
    state.failures = state.failures.saturating_add(1);
    state.total_failures += 1;
    state.last_error = Some(reason.clone());
    match role {
        Role::Critical => Decision::StopNode { reason },
        Role::Restart => Decision::Restart {
            after: backoff.delay(state.failures),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));

    fn started(at: i64) -> TaskState {
        TaskState {
            started_ms: at,
            ..Default::default()
        }
    }

    #[test]
    fn a_node_stop_ends_every_task_quietly() {
        for role in [Role::Critical, Role::Restart] {
            let mut s = started(0);
            assert_eq!(
                decide("t", role, &B, &mut s, Exit::Cancelled, 5),
                Decision::Done
            );
            assert_eq!(s, started(0), "nothing is counted");
        }
    }

    #[test]
    fn a_restartable_task_that_finishes_is_done() {
        let mut s = started(0);
        assert_eq!(
            decide("fetch", Role::Restart, &B, &mut s, Exit::Finished, 5),
            Decision::Done
        );
        assert_eq!(s.total_failures, 0);
    }

    #[test]
    fn a_critical_task_that_ends_or_fails_stops_the_node_with_the_reason() {
        let mut s = started(0);
        assert_eq!(
            decide("rest", Role::Critical, &B, &mut s, Exit::Finished, 5),
            Decision::StopNode {
                reason: "task 'rest' ended".into()
            }
        );
        let mut s = started(0);
        assert_eq!(
            decide(
                "rest",
                Role::Critical,
                &B,
                &mut s,
                Exit::Panicked("boom".into()),
                5
            ),
            Decision::StopNode {
                reason: "task 'rest' panicked: boom".into()
            }
        );
        assert_eq!(s.last_error.as_deref(), Some("task 'rest' panicked: boom"));
    }

    #[test]
    fn failures_in_a_row_double_the_wait_up_to_the_cap() {
        let mut s = started(0);
        let mut waits = Vec::new();
        for i in 0..6 {
            s.started_ms = i * 10; // each run fails at once
            match decide(
                "sync",
                Role::Restart,
                &B,
                &mut s,
                Exit::Failed("rpc".into()),
                i * 10 + 1,
            ) {
                Decision::Restart { after, reason } => {
                    assert_eq!(reason, "task 'sync' failed: rpc");
                    waits.push(after.as_secs());
                }
                d => panic!("expected a restart, got {d:?}"),
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert_eq!(s.failures, 6);
        assert_eq!(s.total_failures, 6);
    }

    #[test]
    fn a_stable_run_resets_the_backoff_but_not_the_total() {
        let mut s = started(0);
        for _ in 0..3 {
            decide(
                "sync",
                Role::Restart,
                &B,
                &mut s,
                Exit::Failed("x".into()),
                1,
            );
        }
        assert_eq!(s.failures, 3);
        s.started_ms = 1_000;
        let d = decide(
            "sync",
            Role::Restart,
            &B,
            &mut s,
            Exit::Panicked("y".into()),
            61_000,
        );
        assert_eq!(
            d,
            Decision::Restart {
                after: Duration::from_secs(1),
                reason: "task 'sync' panicked: y".into()
            }
        );
        assert_eq!((s.failures, s.total_failures), (1, 4));
    }

    #[test]
    fn the_delay_never_overflows() {
        assert_eq!(B.delay(0), Duration::from_secs(1));
        assert_eq!(B.delay(u32::MAX), Duration::from_secs(8));
    }
}
