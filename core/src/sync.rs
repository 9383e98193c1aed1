//! The chain sync's decisions: the cursor over blocks and logs, when to fall back from logs to
//! reading ids, and which subscriptions to (re)read.
//!
//! One step per poll. Read the head (with the coordinator's logs since the cursor in the same
//! request when following the tip), scan the logs of the new blocks (cancellations go to the
//! scheduler; a creation means new ids), read `id()` at the target block (`head - trail`) when new
//! ids may exist, read those ids in batches, then move the cursor to the target and wait about a
//! block. The driver (`infernet::chain::sync`) performs each read this machine asks for and feeds
//! back what it observed; every RPC failure ends the step and is retried with backoff.
mod judge;
mod logs;
#[cfg(test)]
mod tests;

pub use judge::{batches, needs_count, settled, split};
pub use logs::{Log, LogKind, ProofVerdict};

use crate::chain::Head;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Widest block range per `eth_getLogs` (public RPCs cap ranges).
pub const MAX_LOG_RANGE: u64 = 2_000;
/// Shortest wait between two polls.
const MIN_WAIT: Duration = Duration::from_millis(50);
/// A poll aims this much before the next block is expected, so it drifts towards the moment
/// blocks appear; a miss re-polls soon.
const EARLY: Duration = Duration::from_millis(20);
/// Block time assumed until two heads have been seen.
const FIRST_BLOCK_TIME: Duration = Duration::from_secs(1);
/// Bounds of the block time estimate (ms).
const BLOCK_TIME_MS: (u64, u64) = (200, 30_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Blocks kept between the head and the block read at (`trail_head_blocks`).
    pub trail: u64,
    /// Ids per `readSubscriptionBatch`.
    pub batch_size: u32,
    /// Reading starts after this id when no cursor is stored.
    pub starting_sub_id: u32,
    /// Longest wait between polls while the head stands still.
    pub sync_period: Duration,
}

/// Every id up to `id` read at block `block`. Stored, so a restart resumes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub id: u32,
    pub block: u64,
}

/// How a read failed, as the driver classifies its RPC error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying as is (connection, timeout, rate limit).
    Transient,
    /// Refused for good (a store error counts here too).
    Refused,
    /// The endpoint does not offer the method at all.
    Unsupported,
}

/// What the driver observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The wait is over: start a step.
    Tick,
    Head(Head),
    /// The answer to `ReadHeadAndLogs`: the head and the logs from `from` on.
    HeadAndLogs {
        head: Head,
        logs: Vec<Log>,
    },
    /// The answer to `ReadLogs`.
    Logs(Vec<Log>),
    /// `Coordinator.id()` at the target block: the id the next subscription will get.
    NextId(u32),
    /// The range of `ReadBatches` ending at `end` (exclusive) was read, judged and handed over.
    BatchDone {
        end: u32,
    },
    /// The request in flight failed, or an action of the step did (a cursor write).
    Failed {
        failure: Failure,
        error: String,
    },
}

/// The phase shown for the chain side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the subscriptions that exist (a fresh start).
    Syncing,
    /// Following new blocks.
    Following,
}

/// A cheaper path the endpoint cannot take, and what is done instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degraded {
    /// The batched head+logs request was refused: separate requests this step.
    NoBatch,
    /// `eth_getLogs` is not offered: `id()` is read every block from now on.
    NoLogs,
}

/// What the driver does. The requests (`Read*`, `Wait`, `Retry`) come last in a reply, at most
/// one; the driver answers it with an event (`ReadBatches`: one `BatchDone` per range, in order;
/// `Wait` and `Retry`: `Tick`).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    ReadHead,
    /// The latest header and the coordinator's logs from `from` to the latest block, in one
    /// request (`from` itself: a range starting past the tip is an error on some nodes).
    ReadHeadAndLogs {
        from: u64,
    },
    /// The coordinator's logs in blocks [from, to].
    ReadLogs {
        from: u64,
        to: u64,
    },
    ReadNextId {
        block: u64,
    },
    /// Read ids [start, end) of each range at `block`, judge them at block time `head_time` and
    /// hand the tracked ones to the scheduler. Ranges may be read concurrently; each is reported
    /// in order.
    ReadBatches {
        ranges: Vec<(u32, u32)>,
        block: u64,
        head_time: u64,
    },
    /// Sleep until `until`, then `Tick`.
    Wait {
        until: Instant,
    },
    /// The step failed: sleep the retry policy's wait after `failures` failures in a row.
    Retry {
        failures: u32,
        error: String,
    },
    /// A new head: show it and pass it to the scheduler and signer.
    PublishHead(Head),
    /// Mark the subscription cancelled; tell the scheduler when it was tracked.
    Cancelled(u32),
    /// This node's proof was settled.
    Proof(ProofVerdict),
    /// Sync progress for the view: ids read up to `synced` of `head_id`.
    Progress {
        synced: u32,
        head_id: u32,
    },
    Persist(Cursor),
    Phase {
        phase: Phase,
        error: Option<String>,
    },
    Degraded {
        what: Degraded,
        error: String,
    },
}

impl Effect {
    /// The driver answers it with an event (the others are done and forgotten).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Effect::ReadHead
                | Effect::ReadHeadAndLogs { .. }
                | Effect::ReadLogs { .. }
                | Effect::ReadNextId { .. }
                | Effect::ReadBatches { .. }
                | Effect::Wait { .. }
                | Effect::Retry { .. }
        )
    }
}

/// What an advancing step works towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    head: Head,
    /// `head - trail`: where ids and logs are read up to.
    block: u64,
    /// `id()` must be read (a first pass, no logs, or a creation seen).
    read_ids: bool,
}

/// The logs of an advancing step, read range by range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scan {
    at: Target,
    /// The last block to scan.
    to: u64,
    created: bool,
    cancelled: Vec<u32>,
}

/// What the step in flight waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// For `Tick` (or a failed action of the step just finished).
    Idle,
    Head {
        batched_from: Option<u64>,
    },
    Logs {
        scan: Scan,
        /// The range asked for.
        from: u64,
        upto: u64,
    },
    NextId {
        at: Target,
    },
    Batches {
        at: Target,
        head_id: u32,
        left: VecDeque<(u32, u32)>,
    },
}

#[derive(Debug)]
pub struct Sync {
    cfg: Config,
    /// Ids read up to here.
    synced: u32,
    /// Logs scanned and ids read up to this block; None before the first pass completes on a
    /// fresh start.
    block: Option<u64>,
    /// The head of the last completed step; None until one completes (the first pass).
    head: Option<Head>,
    /// Whether `eth_getLogs` works on this endpoint.
    logs_ok: bool,
    block_time: Duration,
    /// Failed steps in a row.
    failures: u32,
    step: Step,
}

impl Sync {
    /// A machine resuming from the stored cursor, if any. Its first `Tick` starts a step.
    pub fn new(cfg: Config, stored: Option<Cursor>) -> Self {
        Self {
            cfg,
            synced: stored.map_or(cfg.starting_sub_id, |c| c.id),
            block: stored.map(|c| c.block),
            head: None,
            logs_ok: true,
            block_time: FIRST_BLOCK_TIME,
            failures: 0,
            step: Step::Idle,
        }
    }

    /// Where reading stands (what a restart would resume from).
    pub fn cursor(&self) -> (u32, Option<u64>) {
        (self.synced, self.block)
    }

    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        use Failure::{Refused, Unsupported};
        let mut out = Vec::new();
        let o = &mut out;
        match (std::mem::replace(&mut self.step, Step::Idle), event) {
            (Step::Idle, Event::Tick) => self.begin(o),
            (Step::Head { batched_from }, Event::HeadAndLogs { head, logs }) => {
                match batched_from {
                    Some(from) => self.got_head_and_logs(from, head, logs, now, o),
                    // No batched request was made.
                    None => self.step = Step::Head { batched_from },
                }
            }
            (Step::Head { .. }, Event::Head(head)) => self.got_head(head, None, now, o),
            (Step::Head { batched_from }, Event::Failed { failure, error })
                if batched_from.is_some() && matches!(failure, Refused | Unsupported) =>
            {
                self.batch_refused(error, o)
            }
            (Step::Logs { scan, from, upto }, Event::Logs(logs)) => {
                self.got_logs(scan, from..=upto, logs, now, o);
            }
            (
                Step::Logs { scan, .. },
                Event::Failed {
                    failure: Unsupported,
                    error,
                },
            ) => self.logs_unsupported(scan, error, now, o),
            (Step::NextId { at }, Event::NextId(next)) => self.got_next_id(at, next, now, o),
            (Step::Batches { at, head_id, left }, Event::BatchDone { end }) => {
                self.batch_done(at, head_id, left, end, now, o);
            }
            (_, Event::Failed { error, .. }) => self.fail(error, o),
            // Not what the step waits for (a `Tick` during a step): nothing to do.
            (step, _) => self.step = step,
        }
        out
    }

    fn got_head_and_logs(
        &mut self,
        from: u64,
        head: Head,
        logs: Vec<Log>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        // Logs past the header (a block mined in between) are seen again next time.
        let logs = logs
            .into_iter()
            .filter(|l| l.block > from && l.block <= head.number);
        self.got_head(head, Some(logs.collect()), now, out);
    }

    fn batch_refused(&mut self, error: String, out: &mut Vec<Effect>) {
        out.push(Effect::Degraded {
            what: Degraded::NoBatch,
            error,
        });
        self.step = Step::Head { batched_from: None };
        out.push(Effect::ReadHead);
    }

    fn logs_unsupported(&mut self, scan: Scan, error: String, now: Instant, out: &mut Vec<Effect>) {
        self.logs_ok = false;
        out.push(Effect::Degraded {
            what: Degraded::NoLogs,
            error,
        });
        let at = Target {
            read_ids: true,
            ..scan.at
        };
        self.after_logs(at, scan.cancelled, now, out);
    }

    fn got_logs(
        &mut self,
        mut scan: Scan,
        range: std::ops::RangeInclusive<u64>,
        logs: Vec<Log>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let next = range.end().saturating_add(1);
        let (created, mut ids) =
            self::scan(logs.into_iter().filter(|l| range.contains(&l.block)), out);
        scan.created |= created;
        scan.cancelled.append(&mut ids);
        self.read_logs(scan, next, now, out);
    }

    /// One range of a catch-up was handed over (ignored unless it is the next one).
    fn batch_done(
        &mut self,
        at: Target,
        head_id: u32,
        mut left: VecDeque<(u32, u32)>,
        end: u32,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        if left.front().map(|r| r.1) != Some(end) {
            self.step = Step::Batches { at, head_id, left };
            return;
        }
        left.pop_front();
        self.synced = end - 1;
        let progress = Effect::Progress {
            synced: self.synced,
            head_id,
        };
        if left.is_empty() {
            out.push(progress);
            return self.finish_advance(at, now, out);
        }
        // Stored as it goes: a crash mid catch-up resumes after this batch.
        out.push(Effect::Persist(Cursor {
            id: self.synced,
            block: at.block,
        }));
        out.push(progress);
        self.step = Step::Batches { at, head_id, left };
    }

    fn begin(&mut self, out: &mut Vec<Effect>) {
        // Following the tip with trail 0: header and logs in one request. Not on a first pass
        // nor after a failure: an outage may have left more blocks than one log query may span,
        // which separate requests read in capped ranges.
        let batched_from = self.block.filter(|_| {
            self.logs_ok && self.cfg.trail == 0 && self.head.is_some() && self.failures == 0
        });
        self.step = Step::Head { batched_from };
        out.push(match batched_from {
            Some(from) => Effect::ReadHeadAndLogs { from },
            None => Effect::ReadHead,
        });
    }

    fn got_head(
        &mut self,
        head: Head,
        logs: Option<Vec<Log>>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let scanned = logs.map(|logs| scan(logs.into_iter(), out));
        let prev = self.head;
        if prev.map(|h| h.number) != Some(head.number) {
            if let Some(prev) = prev {
                self.estimate_block_time(prev, head);
            }
            out.push(Effect::PublishHead(head));
        }
        let target = head.number.saturating_sub(self.cfg.trail);
        let first = prev.is_none();
        if !first && self.block.is_some_and(|b| target <= b) {
            self.rewind(head, target, out);
            return self.finish(head, false, now, out);
        }
        // The first pass always reads id(): progress is accurate after a restart too.
        let mut at = Target {
            head,
            block: target,
            read_ids: first || self.block.is_none() || !self.logs_ok,
        };
        match (scanned, self.block.filter(|_| self.logs_ok)) {
            (Some((created, cancelled)), _) => {
                at.read_ids |= created;
                self.after_logs(at, cancelled, now, out);
            }
            // A cursor past the target (restarted on an RPC behind the last one) rewinds.
            (None, Some(from)) => {
                let scan = Scan {
                    at,
                    to: target,
                    created: false,
                    cancelled: Vec::new(),
                };
                self.read_logs(scan, from.min(target).saturating_add(1), now, out);
            }
            (None, None) => self.after_logs(at, Vec::new(), now, out),
        }
    }

    /// A head back past the cursor (a reorg deeper than the trail, or an RPC behind the last
    /// one) moves the cursor back to trail it: the blocks that replace the scanned ones are
    /// scanned when the head passes them again. Within the trail, scanned blocks stand.
    fn rewind(&mut self, head: Head, target: u64, out: &mut Vec<Effect>) {
        if self.block.is_some_and(|b| head.number < b) {
            self.block = Some(target);
            out.push(Effect::Persist(Cursor {
                id: self.synced,
                block: target,
            }));
        }
    }

    /// Asks for the logs of blocks [next, scan.to] in ranges of at most `MAX_LOG_RANGE`;
    /// cancellations are passed on once all are read.
    fn read_logs(&mut self, mut scan: Scan, next: u64, now: Instant, out: &mut Vec<Effect>) {
        if next > scan.to {
            scan.at.read_ids |= scan.created;
            return self.after_logs(scan.at, scan.cancelled, now, out);
        }
        let upto = next.saturating_add(MAX_LOG_RANGE - 1).min(scan.to);
        out.push(Effect::ReadLogs {
            from: next,
            to: upto,
        });
        self.step = Step::Logs {
            scan,
            from: next,
            upto,
        };
    }

    fn after_logs(&mut self, at: Target, cancelled: Vec<u32>, now: Instant, out: &mut Vec<Effect>) {
        out.extend(cancelled.into_iter().map(Effect::Cancelled));
        if at.read_ids {
            out.push(Effect::ReadNextId { block: at.block });
            self.step = Step::NextId { at };
        } else {
            self.finish_advance(at, now, out);
        }
    }

    fn got_next_id(&mut self, at: Target, next: u32, now: Instant, out: &mut Vec<Effect>) {
        let head_id = next.saturating_sub(1);
        out.push(Effect::Progress {
            synced: self.synced,
            head_id,
        });
        if head_id <= self.synced {
            return self.finish_advance(at, now, out);
        }
        if self.block.is_none() {
            out.push(Effect::Phase {
                phase: Phase::Syncing,
                error: None,
            });
        }
        let ranges = batches(self.synced, head_id, self.cfg.batch_size);
        out.push(Effect::ReadBatches {
            ranges: ranges.clone(),
            block: at.block,
            head_time: at.head.timestamp,
        });
        self.step = Step::Batches {
            at,
            head_id,
            left: ranges.into(),
        };
    }

    fn finish_advance(&mut self, at: Target, now: Instant, out: &mut Vec<Effect>) {
        self.block = Some(at.block);
        out.push(Effect::Persist(Cursor {
            id: self.synced,
            block: at.block,
        }));
        out.push(Effect::Phase {
            phase: Phase::Following,
            error: None,
        });
        self.finish(at.head, true, now, out);
    }

    /// Ends a step that worked: poll again in about a block when it advanced, soon otherwise
    /// (a new head is seen within a fraction of a block; idle cost about one request per block).
    fn finish(&mut self, head: Head, advanced: bool, now: Instant, out: &mut Vec<Effect>) {
        self.head = Some(head);
        self.failures = 0;
        let wait = if advanced {
            self.block_time.saturating_sub(EARLY)
        } else {
            self.cfg.sync_period.min(self.block_time / 5)
        };
        out.push(Effect::Wait {
            until: now + wait.max(MIN_WAIT),
        });
    }

    fn fail(&mut self, error: String, out: &mut Vec<Effect>) {
        self.failures = self.failures.saturating_add(1);
        out.push(Effect::Phase {
            phase: Phase::Following,
            error: Some(error.clone()),
        });
        out.push(Effect::Retry {
            failures: self.failures,
            error,
        });
    }

    /// Seconds per block from two heads, bounded (a chain paused for a minute is not a slow one).
    fn estimate_block_time(&mut self, prev: Head, head: Head) {
        let blocks = head.number.saturating_sub(prev.number).max(1);
        let dt = head.timestamp.saturating_sub(prev.timestamp);
        if dt > 0 {
            let ms = (dt.saturating_mul(1000) / blocks).clamp(BLOCK_TIME_MS.0, BLOCK_TIME_MS.1);
            self.block_time = Duration::from_millis(ms);
        }
    }
}

/// (any created?, cancelled ids) of some logs; proof verdicts become effects at once.
fn scan(logs: impl Iterator<Item = Log>, out: &mut Vec<Effect>) -> (bool, Vec<u32>) {
    let mut created = false;
    let mut cancelled = Vec::new();
    for log in logs {
        match log.kind {
            LogKind::Created => created = true,
            LogKind::Cancelled(id) => cancelled.push(id),
            LogKind::Proof(v) => out.push(Effect::Proof(v)),
        }
    }
    (created, cancelled)
}
