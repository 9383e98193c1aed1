//! Every transition of the sync machine, driven event by event as the driver would.
use super::*;
use crate::chain::Head;
use std::time::{Duration, Instant};

const BLOCK: Duration = Duration::from_secs(1);

fn config(trail: u64) -> Config {
    Config {
        trail,
        batch_size: 3,
        starting_sub_id: 0,
        sync_period: Duration::from_secs(1),
    }
}

fn head(number: u64) -> Head {
    // One second per block.
    Head {
        number,
        timestamp: 1_000 + number,
        base_fee: None,
    }
}

fn log(block: u64, kind: LogKind) -> Log {
    Log { block, kind }
}

fn proof(id: u32) -> ProofVerdict {
    ProofVerdict {
        id,
        interval: 1,
        active: true,
        valid: true,
        verifier: "0xV".into(),
    }
}

fn following() -> Effect {
    Effect::Phase {
        phase: Phase::Following,
        error: None,
    }
}

fn persist(id: u32, block: u64) -> Effect {
    Effect::Persist(Cursor { id, block })
}

/// A machine and a clock that only moves when a test says so.
struct Drive {
    m: Sync,
    t0: Instant,
}

impl Drive {
    fn new(cfg: Config, stored: Option<Cursor>) -> Self {
        Self {
            m: Sync::new(cfg, stored),
            t0: Instant::now(),
        }
    }

    fn ev(&mut self, e: Event) -> Vec<Effect> {
        let out = self.m.handle(e, self.t0);
        // The driver's contract: at most one request, and it comes last.
        let requests = out.iter().filter(|e| e.is_request()).count();
        assert!(requests <= 1, "{out:?}");
        if requests == 1 {
            assert!(out.last().unwrap().is_request(), "{out:?}");
        }
        out
    }

    fn wait(&self, d: Duration) -> Effect {
        Effect::Wait { until: self.t0 + d }
    }

    /// The wait after an advancing step at 1 s blocks.
    fn next_block(&self) -> Effect {
        self.wait(BLOCK - Duration::from_millis(20))
    }

    /// A fresh machine (trail 0) that has read ids 1..=`ids` at block `at` and follows.
    fn following(ids: u32, at: u64) -> Self {
        let mut d = Self::new(config(0), Some(Cursor { id: ids, block: at }));
        d.ev(Event::Tick);
        d.ev(Event::Head(head(at)));
        d.ev(Event::NextId(ids + 1));
        assert_eq!(d.m.cursor(), (ids, Some(at)));
        d
    }

    fn fail(&mut self, failure: Failure, error: &str) -> Vec<Effect> {
        self.ev(Event::Failed {
            failure,
            error: error.into(),
        })
    }
}

// --- Fresh start ------------------------------------------------------------------------------

#[test]
fn a_fresh_start_reads_every_id_in_batches_then_follows() {
    let mut d = Drive::new(config(0), None);
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
    assert_eq!(
        d.ev(Event::Head(head(100))),
        vec![
            Effect::PublishHead(head(100)),
            Effect::ReadNextId { block: 100 }
        ]
    );
    assert_eq!(
        d.ev(Event::NextId(8)),
        vec![
            Effect::Progress {
                synced: 0,
                head_id: 7
            },
            Effect::Phase {
                phase: Phase::Syncing,
                error: None
            },
            Effect::ReadBatches {
                ranges: vec![(1, 4), (4, 7), (7, 8)],
                block: 100,
                head_time: 1_100
            },
        ]
    );
    // Each batch moves the stored cursor (a crash mid catch-up resumes after it).
    assert_eq!(
        d.ev(Event::BatchDone { end: 4 }),
        vec![
            persist(3, 100),
            Effect::Progress {
                synced: 3,
                head_id: 7
            }
        ]
    );
    assert_eq!(d.ev(Event::BatchDone { end: 7 }).len(), 2);
    assert_eq!(
        d.ev(Event::BatchDone { end: 8 }),
        vec![
            Effect::Progress {
                synced: 7,
                head_id: 7
            },
            persist(7, 100),
            following(),
            d.next_block(),
        ]
    );
    assert_eq!(d.m.cursor(), (7, Some(100)));
}

#[test]
fn a_fresh_start_without_subscriptions_follows_at_once() {
    let mut d = Drive::new(config(0), None);
    d.ev(Event::Tick);
    d.ev(Event::Head(head(5)));
    assert_eq!(
        d.ev(Event::NextId(1)),
        vec![
            Effect::Progress {
                synced: 0,
                head_id: 0
            },
            persist(0, 5),
            following(),
            d.next_block()
        ]
    );
}

#[test]
fn a_fresh_start_begins_after_starting_sub_id() {
    let cfg = Config {
        starting_sub_id: 5,
        ..config(0)
    };
    let mut d = Drive::new(cfg, None);
    d.ev(Event::Tick);
    d.ev(Event::Head(head(100)));
    let out = d.ev(Event::NextId(8));
    assert!(out.contains(&Effect::ReadBatches {
        ranges: vec![(6, 8)],
        block: 100,
        head_time: 1_100
    }));
}

// --- Restart ----------------------------------------------------------------------------------

#[test]
fn a_restart_scans_the_logs_since_the_stored_cursor_and_reads_id_once() {
    let mut d = Drive::new(config(0), Some(Cursor { id: 5, block: 90 }));
    // No batched request on the first pass: the cursor may be far behind.
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
    assert_eq!(
        d.ev(Event::Head(head(100))),
        vec![
            Effect::PublishHead(head(100)),
            Effect::ReadLogs { from: 91, to: 100 }
        ]
    );
    // A cancellation while the node was down is passed on; id() is read even without a
    // creation, so progress is accurate.
    assert_eq!(
        d.ev(Event::Logs(vec![log(95, LogKind::Cancelled(2))])),
        vec![Effect::Cancelled(2), Effect::ReadNextId { block: 100 }]
    );
    let out = d.ev(Event::NextId(9));
    // Already synced once: it follows while it reads the rest, no "syncing" phase.
    assert_eq!(
        out,
        vec![
            Effect::Progress {
                synced: 5,
                head_id: 8
            },
            Effect::ReadBatches {
                ranges: vec![(6, 9)],
                block: 100,
                head_time: 1_100
            },
        ]
    );
    let out = d.ev(Event::BatchDone { end: 9 });
    assert_eq!(
        out[out.len() - 3..],
        [persist(8, 100), following(), d.next_block()]
    );
}

#[test]
fn a_restart_on_an_rpc_behind_the_cursor_moves_the_cursor_back() {
    let mut d = Drive::new(config(0), Some(Cursor { id: 5, block: 120 }));
    d.ev(Event::Tick);
    // Nothing to scan: the head is before the cursor; id() at the head.
    assert_eq!(
        d.ev(Event::Head(head(100))),
        vec![
            Effect::PublishHead(head(100)),
            Effect::ReadNextId { block: 100 }
        ]
    );
    let out = d.ev(Event::NextId(6));
    assert!(out.contains(&persist(5, 100)), "{out:?}");
    assert_eq!(d.m.cursor(), (5, Some(100)));
}

#[test]
fn a_crash_mid_catch_up_resumes_after_the_last_stored_batch() {
    let mut d = Drive::new(config(0), None);
    d.ev(Event::Tick);
    d.ev(Event::Head(head(100)));
    d.ev(Event::NextId(8));
    let out = d.ev(Event::BatchDone { end: 4 });
    let stored = out
        .iter()
        .find_map(|e| match e {
            Effect::Persist(c) => Some(*c),
            _ => None,
        })
        .unwrap();
    // A new process starts from what was stored.
    let mut d = Drive::new(config(0), Some(stored));
    d.ev(Event::Tick);
    d.ev(Event::Head(head(101)));
    assert_eq!(
        d.ev(Event::Logs(vec![])),
        vec![Effect::ReadNextId { block: 101 }]
    );
    let out = d.ev(Event::NextId(8));
    assert!(out.contains(&Effect::ReadBatches {
        ranges: vec![(4, 7), (7, 8)],
        block: 101,
        head_time: 1_101
    }));
}

// --- Ranges -----------------------------------------------------------------------------------

#[test]
fn log_ranges_are_capped_and_cancellations_wait_for_the_whole_scan() {
    let mut d = Drive::new(
        config(0),
        Some(Cursor {
            id: 3,
            block: 1_000,
        }),
    );
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(5_500))).last(),
        Some(&Effect::ReadLogs {
            from: 1_001,
            to: 3_000
        })
    );
    // A proof is shown at once; a cancellation waits until the scan is whole.
    assert_eq!(
        d.ev(Event::Logs(vec![
            log(1_500, LogKind::Cancelled(1)),
            log(1_600, LogKind::Proof(proof(2))),
        ])),
        vec![
            Effect::Proof(proof(2)),
            Effect::ReadLogs {
                from: 3_001,
                to: 5_000
            }
        ]
    );
    assert_eq!(
        d.ev(Event::Logs(vec![log(4_000, LogKind::Created)])),
        vec![Effect::ReadLogs {
            from: 5_001,
            to: 5_500
        }]
    );
    assert_eq!(
        d.ev(Event::Logs(vec![log(5_400, LogKind::Cancelled(3))])),
        vec![
            Effect::Cancelled(1),
            Effect::Cancelled(3),
            Effect::ReadNextId { block: 5_500 }
        ]
    );
}

#[test]
fn following_without_creations_reads_no_ids() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(101),
            logs: vec![]
        }),
        vec![
            Effect::PublishHead(head(101)),
            persist(4, 101),
            following(),
            d.next_block()
        ]
    );
}

// --- Trailing the head ------------------------------------------------------------------------

#[test]
fn with_a_trail_it_reads_behind_the_head_in_separate_requests() {
    let mut d = Drive::new(config(2), None);
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(100))).last(),
        Some(&Effect::ReadNextId { block: 98 })
    );
    d.ev(Event::NextId(1));
    assert_eq!(d.m.cursor(), (0, Some(98)));
    // No batched request with a trail: the logs stop short of the head.
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
    assert_eq!(
        d.ev(Event::Head(head(101))),
        vec![
            Effect::PublishHead(head(101)),
            Effect::ReadLogs { from: 99, to: 99 }
        ]
    );
    assert_eq!(
        d.ev(Event::Logs(vec![log(99, LogKind::Created)])),
        vec![Effect::ReadNextId { block: 99 }]
    );
}

#[test]
fn a_head_that_stands_still_is_polled_again_soon() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    // Same head: nothing new, a fifth of a block until the next look.
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(100),
            logs: vec![]
        }),
        vec![d.wait(BLOCK / 5)]
    );
    // The wait never drops under 50 ms, nor exceeds sync_period.
    let cfg = Config {
        sync_period: Duration::from_millis(10),
        ..config(0)
    };
    let mut d = Drive::new(cfg, Some(Cursor { id: 0, block: 100 }));
    d.ev(Event::Tick);
    d.ev(Event::Head(head(100)));
    d.ev(Event::NextId(1));
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(100),
            logs: vec![]
        }),
        vec![d.wait(Duration::from_millis(50))]
    );
}

#[test]
fn the_poll_follows_the_block_time_seen() {
    let mut d = Drive::following(0, 100);
    d.ev(Event::Tick);
    // Two blocks in 24 s: 12 s blocks.
    let h = Head {
        number: 102,
        timestamp: 1_100 + 24,
        base_fee: None,
    };
    let out = d.ev(Event::HeadAndLogs {
        head: h,
        logs: vec![],
    });
    assert_eq!(
        out.last(),
        Some(&d.wait(Duration::from_millis(12_000 - 20)))
    );
    // Bounded: a chain paused for ten minutes is not taken for a 10-minute block time.
    d.ev(Event::Tick);
    let h = Head {
        number: 103,
        timestamp: h.timestamp + 600,
        base_fee: None,
    };
    let out = d.ev(Event::HeadAndLogs {
        head: h,
        logs: vec![],
    });
    assert_eq!(
        out.last(),
        Some(&d.wait(Duration::from_millis(30_000 - 20)))
    );
}

#[test]
fn following_the_tip_reads_head_and_logs_in_one_request() {
    let mut d = Drive::following(4, 100);
    assert_eq!(
        d.ev(Event::Tick),
        vec![Effect::ReadHeadAndLogs { from: 100 }]
    );
    // Block 100 was scanned already and 103 is past the header read: both seen elsewhere.
    let out = d.ev(Event::HeadAndLogs {
        head: head(102),
        logs: vec![
            log(100, LogKind::Cancelled(1)),
            log(101, LogKind::Cancelled(2)),
            log(101, LogKind::Proof(proof(3))),
            log(102, LogKind::Created),
            log(103, LogKind::Cancelled(4)),
        ],
    });
    assert_eq!(
        out,
        vec![
            Effect::Proof(proof(3)),
            Effect::PublishHead(head(102)),
            Effect::Cancelled(2),
            Effect::ReadNextId { block: 102 }
        ]
    );
    assert_eq!(
        d.ev(Event::NextId(6)).last(),
        Some(&Effect::ReadBatches {
            ranges: vec![(5, 6)],
            block: 102,
            head_time: 1_102
        })
    );
}

// --- Logs failing -----------------------------------------------------------------------------

#[test]
fn without_eth_get_logs_it_reads_id_every_block() {
    let mut d = Drive::new(config(0), Some(Cursor { id: 4, block: 90 }));
    d.ev(Event::Tick);
    d.ev(Event::Head(head(100)));
    assert_eq!(
        d.fail(Failure::Unsupported, "method not found"),
        vec![
            Effect::Degraded {
                what: Degraded::NoLogs,
                error: "method not found".into()
            },
            Effect::ReadNextId { block: 100 }
        ]
    );
    d.ev(Event::NextId(5));
    // From now on: the head alone (no batched logs), then id() on every new block.
    for n in 101..104 {
        assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
        assert_eq!(
            d.ev(Event::Head(head(n))),
            vec![
                Effect::PublishHead(head(n)),
                Effect::ReadNextId { block: n }
            ]
        );
        assert_eq!(
            d.ev(Event::NextId(5))[1..],
            [persist(4, n), following(), d.next_block()]
        );
    }
    // A head that stands still costs no id() read.
    d.ev(Event::Tick);
    assert_eq!(d.ev(Event::Head(head(103))), vec![d.wait(BLOCK / 5)]);
}

#[test]
fn a_transient_log_failure_retries_the_same_range() {
    let mut d = Drive::new(config(1), Some(Cursor { id: 4, block: 90 }));
    d.ev(Event::Tick);
    d.ev(Event::Head(head(101)));
    assert_eq!(
        d.fail(Failure::Transient, "timeout"),
        vec![
            Effect::Phase {
                phase: Phase::Following,
                error: Some("timeout".into())
            },
            Effect::Retry {
                failures: 1,
                error: "timeout".into()
            }
        ]
    );
    // Recovered: the same blocks, nothing lost; logs still in use.
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
    assert_eq!(
        d.ev(Event::Head(head(102))).last(),
        Some(&Effect::ReadLogs { from: 91, to: 101 })
    );
    // A refusal that is not "unsupported" is a failure too, not a fallback.
    let out = d.fail(Failure::Refused, "bad range");
    assert_eq!(
        out.last(),
        Some(&Effect::Retry {
            failures: 2,
            error: "bad range".into()
        })
    );
    d.ev(Event::Tick);
    d.ev(Event::Head(head(102)));
    assert_eq!(
        d.ev(Event::Logs(vec![])),
        vec![Effect::ReadNextId { block: 101 }]
    );
}

#[test]
fn a_refused_batch_falls_back_to_separate_requests_for_the_step() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    assert_eq!(
        d.fail(Failure::Refused, "batch not allowed"),
        vec![
            Effect::Degraded {
                what: Degraded::NoBatch,
                error: "batch not allowed".into()
            },
            Effect::ReadHead
        ]
    );
    assert_eq!(
        d.ev(Event::Head(head(101))).last(),
        Some(&Effect::ReadLogs { from: 101, to: 101 })
    );
    d.ev(Event::Logs(vec![]));
    // The next step tries the one request again.
    assert_eq!(
        d.ev(Event::Tick),
        vec![Effect::ReadHeadAndLogs { from: 101 }]
    );
}

#[test]
fn a_transient_batch_failure_backs_off_then_reads_separately() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    let out = d.fail(Failure::Transient, "connection refused");
    assert_eq!(
        out.last(),
        Some(&Effect::Retry {
            failures: 1,
            error: "connection refused".into()
        })
    );
    // After a failure (an outage may have left many blocks), logs are read in capped ranges.
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
    assert_eq!(
        d.ev(Event::Head(head(5_000))).last(),
        Some(&Effect::ReadLogs {
            from: 101,
            to: 2_100
        })
    );
}

// --- The head going back ----------------------------------------------------------------------

#[test]
fn a_head_going_back_moves_the_cursor_back_and_rescans() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    // A reorg (or an RPC behind the last): shown, the cursor follows it back and is stored.
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(97),
            logs: vec![]
        }),
        vec![
            Effect::PublishHead(head(97)),
            persist(4, 97),
            d.wait(BLOCK / 5)
        ]
    );
    assert_eq!(d.m.cursor(), (4, Some(97)));
    // The blocks that replaced 98..=100 are scanned: a cancellation in them is not missed.
    assert_eq!(
        d.ev(Event::Tick),
        vec![Effect::ReadHeadAndLogs { from: 97 }]
    );
    let out = d.ev(Event::HeadAndLogs {
        head: head(99),
        logs: vec![log(98, LogKind::Cancelled(3))],
    });
    assert!(out.contains(&Effect::Cancelled(3)), "{out:?}");
    assert_eq!(d.m.cursor(), (4, Some(99)));
}

#[test]
fn a_head_back_within_the_trail_changes_nothing() {
    let mut d = Drive::new(config(3), Some(Cursor { id: 0, block: 97 }));
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(100))),
        vec![
            Effect::PublishHead(head(100)),
            Effect::ReadNextId { block: 97 }
        ]
    );
    d.ev(Event::NextId(1));
    d.ev(Event::Tick);
    // Head 100 → 98 → 100 (a reorg shallower than the trail): block 97 stands.
    assert_eq!(
        d.ev(Event::Head(head(98))),
        vec![Effect::PublishHead(head(98)), d.wait(BLOCK / 5)]
    );
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(100))),
        vec![Effect::PublishHead(head(100)), d.wait(BLOCK / 5)]
    );
    assert_eq!(d.m.cursor(), (0, Some(97)));
    // Past the cursor (head 96): back to 93, trailing the new head.
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(96))),
        vec![
            Effect::PublishHead(head(96)),
            persist(0, 93),
            d.wait(BLOCK / 5)
        ]
    );
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::Head(head(97))).last(),
        Some(&Effect::ReadLogs { from: 94, to: 94 })
    );
}

// --- Failures and backoff ---------------------------------------------------------------------

#[test]
fn failures_in_a_row_back_off_longer_until_a_step_works() {
    let mut d = Drive::following(4, 100);
    for n in 1..=3 {
        d.ev(Event::Tick);
        let out = d.fail(Failure::Transient, "down");
        assert_eq!(
            out.last(),
            Some(&Effect::Retry {
                failures: n,
                error: "down".into()
            })
        );
    }
    d.ev(Event::Tick);
    d.ev(Event::Head(head(101)));
    d.ev(Event::Logs(vec![]));
    // Worked: the error is cleared and the count starts over.
    d.ev(Event::Tick);
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(102),
            logs: vec![]
        })[1..3],
        [persist(4, 102), following()]
    );
    d.ev(Event::Tick);
    assert_eq!(
        d.fail(Failure::Transient, "down").last(),
        Some(&Effect::Retry {
            failures: 1,
            error: "down".into()
        })
    );
}

#[test]
fn a_failure_mid_catch_up_keeps_the_batches_read() {
    let mut d = Drive::new(config(0), None);
    d.ev(Event::Tick);
    d.ev(Event::Head(head(100)));
    d.ev(Event::NextId(8));
    d.ev(Event::BatchDone { end: 4 });
    let out = d.fail(Failure::Transient, "timeout");
    assert_eq!(out.len(), 2);
    // Still a first pass (no cursor block yet): syncing again, from id 4.
    d.ev(Event::Tick);
    d.ev(Event::Head(head(101)));
    assert_eq!(
        d.ev(Event::NextId(8))[1..],
        [
            Effect::Phase {
                phase: Phase::Syncing,
                error: None
            },
            Effect::ReadBatches {
                ranges: vec![(4, 7), (7, 8)],
                block: 101,
                head_time: 1_101
            }
        ]
    );
}

#[test]
fn a_failed_cursor_write_fails_the_step() {
    let mut d = Drive::following(4, 100);
    d.ev(Event::Tick);
    let out = d.ev(Event::HeadAndLogs {
        head: head(101),
        logs: vec![],
    });
    assert_eq!(out.last(), Some(&d.next_block()));
    // The driver could not store the cursor: it drops the wait and reports.
    assert_eq!(
        d.fail(Failure::Refused, "store: disk full"),
        vec![
            Effect::Phase {
                phase: Phase::Following,
                error: Some("store: disk full".into())
            },
            Effect::Retry {
                failures: 1,
                error: "store: disk full".into()
            }
        ]
    );
    assert_eq!(d.ev(Event::Tick), vec![Effect::ReadHead]);
}

// --- Stray events -----------------------------------------------------------------------------

#[test]
fn events_a_step_does_not_wait_for_are_ignored() {
    let mut d = Drive::new(config(0), None);
    // A tick during a step does not start another.
    d.ev(Event::Tick);
    assert_eq!(d.ev(Event::Tick), vec![]);
    assert_eq!(d.ev(Event::NextId(3)), vec![]);
    assert_eq!(
        d.ev(Event::HeadAndLogs {
            head: head(1),
            logs: vec![]
        }),
        vec![],
        "no batched request was made"
    );
    d.ev(Event::Head(head(100)));
    d.ev(Event::NextId(8));
    // Out of order (never from the driver, which reports ranges in order): ignored.
    assert_eq!(d.ev(Event::BatchDone { end: 7 }), vec![]);
    assert_eq!(d.ev(Event::BatchDone { end: 4 }).len(), 2);
    assert_eq!(d.m.cursor(), (3, None));
    // Head and logs answers when idle are ignored too.
    let mut d = Drive::following(0, 10);
    assert_eq!(d.ev(Event::Head(head(11))), vec![]);
    assert_eq!(d.ev(Event::Logs(vec![])), vec![]);
}
