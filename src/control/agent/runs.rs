//! The control-plane jobs running here, one run per job id. Ours hands out only pending
//! jobs and numbers each lease (`attempt`), so a job that comes back at a new attempt while
//! it still runs here was re-queued: its lease ran out (this node was slow to report, or cut
//! off) and the control plane leased it to us again. The old run is cancelled (the server
//! refuses what it still sends for its attempt) and the job starts over under the new
//! attempt, numbering its events from the start. A control plane that does not number
//! leases (the reference's) hands a running job out again on every poll: that is the same
//! run, never a restart.
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// One run: which lease it works for, how to stop it, and which run it is (for cleanup).
#[derive(Debug)]
struct Run {
    attempt: Option<i64>,
    cancel: CancellationToken,
    serial: u64,
}

/// What a new run needs: its stop token and its serial number (to finish it).
#[derive(Debug, Clone)]
pub(super) struct Ticket {
    pub cancel: CancellationToken,
    pub serial: u64,
}

#[derive(Debug)]
pub(super) enum Claimed {
    /// Not running here: start it.
    Start(Ticket),
    /// Running here under an earlier lease (`old`): that run was cancelled; start this one.
    Restart { ticket: Ticket, old: Option<i64> },
    /// The same lease handed out twice: already running, nothing to do.
    Duplicate,
}

#[derive(Debug, Default)]
pub(super) struct Runs {
    runs: HashMap<String, Run>,
    serials: u64,
}

impl Runs {
    /// A poll handed out job `id` at `attempt` (None: the control plane does not say).
    pub(super) fn claim(
        &mut self,
        id: &str,
        attempt: Option<i64>,
        parent: &CancellationToken,
    ) -> Claimed {
        let old = match self.runs.get(id) {
            Some(r) if attempt.is_none() || r.attempt.is_none() || r.attempt == attempt => {
                return Claimed::Duplicate;
            }
            Some(r) => {
                r.cancel.cancel();
                Some(r.attempt)
            }
            None => None,
        };
        self.serials += 1;
        let ticket = Ticket {
            cancel: parent.child_token(),
            serial: self.serials,
        };
        self.runs.insert(
            id.to_string(),
            Run {
                attempt,
                cancel: ticket.cancel.clone(),
                serial: ticket.serial,
            },
        );
        match old {
            Some(old) => Claimed::Restart { ticket, old },
            None => Claimed::Start(ticket),
        }
    }

    /// Run `serial` of `id` ended; true when it was the job's current run (a cancelled older
    /// run ending leaves its successor in place).
    pub(super) fn finish(&mut self, id: &str, serial: u64) -> bool {
        if self.runs.get(id).is_some_and(|r| r.serial == serial) {
            self.runs.remove(id);
            return true;
        }
        false
    }

    pub(super) fn len(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(c: Claimed) -> Ticket {
        match c {
            Claimed::Start(t) | Claimed::Restart { ticket: t, .. } => t,
            Claimed::Duplicate => panic!("expected a run to start"),
        }
    }

    #[test]
    fn a_new_job_starts_and_ends() {
        let parent = CancellationToken::new();
        let mut runs = Runs::default();
        let t = match runs.claim("j", Some(1), &parent) {
            Claimed::Start(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(runs.len(), 1);
        assert!(!t.cancel.is_cancelled());
        assert!(runs.finish("j", t.serial));
        assert_eq!(runs.len(), 0);
        // Stopping the node stops its runs.
        let t = ticket(runs.claim("k", Some(1), &parent));
        parent.cancel();
        assert!(t.cancel.is_cancelled());
    }

    #[test]
    fn the_same_lease_twice_is_not_run_twice() {
        let parent = CancellationToken::new();
        let mut runs = Runs::default();
        let t = ticket(runs.claim("j", Some(2), &parent));
        assert!(matches!(
            runs.claim("j", Some(2), &parent),
            Claimed::Duplicate
        ));
        assert!(!t.cancel.is_cancelled());
        assert_eq!(runs.len(), 1);
    }

    #[test]
    fn a_job_leased_again_cancels_the_old_run_and_starts_over() {
        let parent = CancellationToken::new();
        let mut runs = Runs::default();
        let first = ticket(runs.claim("j", Some(1), &parent));
        let second = match runs.claim("j", Some(2), &parent) {
            Claimed::Restart { ticket, old } => {
                assert_eq!(old, Some(1));
                ticket
            }
            other => panic!("{other:?}"),
        };
        assert!(first.cancel.is_cancelled(), "the old run is stopped");
        assert!(!second.cancel.is_cancelled());
        // The old run ending does not end the new one.
        assert!(!runs.finish("j", first.serial));
        assert_eq!(runs.len(), 1);
        assert!(runs.finish("j", second.serial));
        assert_eq!(runs.len(), 0);
    }

    #[test]
    fn without_attempt_numbers_a_job_handed_out_again_is_the_same_run() {
        // The reference's control plane hands a running job out again on every poll and
        // names no attempt: nothing tells a new lease apart, so the run goes on.
        let parent = CancellationToken::new();
        let mut runs = Runs::default();
        let first = ticket(runs.claim("j", None, &parent));
        for _ in 0..3 {
            assert!(matches!(runs.claim("j", None, &parent), Claimed::Duplicate));
        }
        assert!(!first.cancel.is_cancelled());
        assert_eq!(runs.len(), 1);
    }
}
