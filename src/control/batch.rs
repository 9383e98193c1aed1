//! Token-event batching for the control plane (reference IPIP-0024): a batch goes out when it
//! holds 16 events, 250 ms after its first event, or at once for `meta`/`done`/`error`.
use std::time::{Duration, Instant};

pub const MAX_EVENTS: usize = 16;
pub const MAX_WAIT: Duration = Duration::from_millis(250);

/// A batch of `T` (the agent's `wire::jobs::JobEvent`).
#[derive(Debug)]
pub struct Batch<T> {
    items: Vec<T>,
    /// When the first event of the open batch arrived.
    opened: Option<Instant>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            opened: None,
        }
    }
}

impl<T> Batch<T> {
    /// Adds an event; true when the batch should be sent now (full, or `urgent`).
    pub fn push(&mut self, item: T, urgent: bool, now: Instant) -> bool {
        if self.items.is_empty() {
            self.opened = Some(now);
        }
        self.items.push(item);
        urgent || self.items.len() >= MAX_EVENTS
    }

    /// The latest time the open batch may wait until; None when it is empty.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + MAX_WAIT)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the batch for sending.
    pub fn take(&mut self) -> Vec<T> {
        self.opened = None;
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sixteen_events_or_250_ms_or_urgent() {
        let t0 = Instant::now();
        let mut b = Batch::default();
        assert_eq!(b.deadline(), None);
        for i in 0..15 {
            assert!(!b.push(json!(i), false, t0 + Duration::from_millis(i)));
        }
        // The clock started with the first event, not the last.
        assert_eq!(b.deadline(), Some(t0 + MAX_WAIT));
        assert!(b.push(json!(15), false, t0 + Duration::from_millis(15)));
        assert_eq!(b.take().len(), 16);
        assert!(b.is_empty() && b.deadline().is_none());
        // A lone token waits for the deadline; `done` goes at once with what is pending.
        let t1 = t0 + Duration::from_secs(1);
        assert!(!b.push(json!("tok"), false, t1));
        assert_eq!(b.deadline(), Some(t1 + MAX_WAIT));
        assert!(b.push(json!("done"), true, t1 + Duration::from_millis(3)));
        assert_eq!(b.take(), vec![json!("tok"), json!("done")]);
    }
}
