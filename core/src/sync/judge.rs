//! How sync judges what it reads from the chain, before the guardian's rules: which ids to read
//! in which batches, which subscriptions need their response count, and the statuses the chain
//! alone decides.
use crate::chain::{Schedule, SubStatus};

/// [start, end) ranges of at most `batch` ids covering (synced, head_id].
pub fn batches(synced: u32, head_id: u32, batch: u32) -> Vec<(u32, u32)> {
    let batch = batch.max(1);
    let end = head_id.saturating_add(1);
    let mut out = Vec::new();
    let mut a = synced.saturating_add(1);
    while a < end {
        let b = a.saturating_add(batch).min(end);
        out.push((a, b));
        a = b;
    }
    out
}

/// The halves of [start, end) to read instead when the RPC cannot execute it (a gas cap, a
/// response size limit, a timeout); None for a single id.
pub fn split(start: u32, end: u32) -> Option<((u32, u32), (u32, u32))> {
    (end.saturating_sub(start) > 1).then(|| {
        let mid = start + (end - start) / 2;
        ((start, mid), (mid, end))
    })
}

/// A live subscription on its last interval at `head_time` may already have all its responses:
/// its count for that interval is read before it is judged.
pub fn needs_count(s: &Schedule, head_time: u64) -> bool {
    !s.cancelled() && s.interval_at(head_time) == Some(s.last_interval())
}

/// The status the chain alone decides, with its reason; None: live, the guardian decides.
/// `complete`: its last interval has all the responses it asked for.
pub fn settled(s: &Schedule, complete: bool, head_time: u64) -> Option<(SubStatus, &'static str)> {
    if s.cancelled() {
        Some((SubStatus::Cancelled, "Subscription cancelled"))
    } else if complete {
        Some((SubStatus::Completed, "Subscription completed"))
    } else if s
        .interval_at(head_time)
        .is_some_and(|n| n > s.last_interval())
    {
        Some((
            SubStatus::Expired,
            "Subscription expired: its last interval has passed",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::CANCELLED;

    #[test]
    fn batches_cover_the_new_ids_exactly() {
        assert_eq!(batches(0, 7, 3), vec![(1, 4), (4, 7), (7, 8)]);
        assert_eq!(batches(0, 6, 3), vec![(1, 4), (4, 7)]);
        assert_eq!(batches(5, 5, 3), vec![]);
        assert_eq!(batches(6, 5, 3), vec![]);
        // A batch size of 0 reads one id at a time rather than none.
        assert_eq!(batches(2, 4, 0), vec![(3, 4), (4, 5)]);
        // No overflow at the top of the id space.
        let top = u32::MAX - 1;
        assert_eq!(
            batches(top - 3, top, 2),
            vec![(top - 2, top), (top, u32::MAX)]
        );
    }

    #[test]
    fn a_range_splits_in_halves_down_to_one_id() {
        assert_eq!(split(0, 10), Some(((0, 5), (5, 10))));
        assert_eq!(split(4, 7), Some(((4, 5), (5, 7))));
        assert_eq!(split(4, 5), None);
        assert_eq!(split(5, 5), None);
    }

    #[test]
    fn the_chain_decides_cancelled_then_completed_then_expired() {
        let s = Schedule {
            active_at: 100,
            period: 10,
            frequency: 3,
        };
        // Interval 3 (the last) opens at 120; 130 is past it.
        assert!(!needs_count(&s, 119));
        assert!(needs_count(&s, 120));
        assert!(!needs_count(&s, 130));
        assert_eq!(settled(&s, false, 125), None);
        assert_eq!(settled(&s, true, 125).unwrap().0, SubStatus::Completed);
        assert_eq!(settled(&s, false, 130).unwrap().0, SubStatus::Expired);
        // Completion wins over expiry: the work was done.
        assert_eq!(settled(&s, true, 130).unwrap().0, SubStatus::Completed);
        let gone = Schedule {
            active_at: CANCELLED,
            ..s
        };
        assert!(!needs_count(&gone, 120));
        assert_eq!(
            settled(&gone, true, 130),
            Some((SubStatus::Cancelled, "Subscription cancelled"))
        );
        // Not yet active: live, the guardian decides.
        assert_eq!(settled(&s, false, 0), None);
    }
}
