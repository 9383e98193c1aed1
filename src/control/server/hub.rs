//! Live fan-out of job events to SSE readers: one broadcast channel per job that someone is
//! watching (the database stays the source of truth; readers replay from it first).
use super::store::StoredEvent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, broadcast};

#[derive(Debug, Clone)]
pub enum HubMsg {
    Event(StoredEvent),
    /// A node leased the job (`POST /api/chat` waits briefly for this to name the node).
    Claimed,
    /// The job reached a final state (the reader re-reads the row).
    Final,
}

#[derive(Debug, Default, Clone)]
pub struct Hub {
    jobs: Arc<Mutex<HashMap<String, broadcast::Sender<HubMsg>>>>,
    /// Woken when a job becomes claimable (created or re-queued): long polls re-check.
    pub work: Arc<Notify>,
    /// Long polls waiting for work now.
    waiting: Arc<AtomicUsize>,
}

/// Counts one long poll as waiting while it lives.
pub struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    /// A live receiver for `job`, unless it has `max` readers already.
    pub fn subscribe(&self, job: &str, max: usize) -> Option<broadcast::Receiver<HubMsg>> {
        let mut m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let tx = m
            .entry(job.to_string())
            .or_insert_with(|| broadcast::channel(1024).0);
        (tx.receiver_count() < max).then(|| tx.subscribe())
    }

    pub fn publish(&self, job: &str, msg: HubMsg) {
        let m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = m.get(job) {
            let _ = tx.send(msg);
        }
    }

    /// Drops the channel when its last reader has gone.
    pub fn release(&self, job: &str) {
        let mut m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(job).is_some_and(|tx| tx.receiver_count() == 0) {
            m.remove(job);
        }
    }

    pub fn wake_pollers(&self) {
        self.work.notify_waiters();
    }

    /// Marks a long poll as waiting until the guard drops.
    pub fn waiting(&self) -> Waiting {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(self.waiting.clone())
    }

    /// Long polls waiting for work now (a new job is likely claimed within milliseconds).
    pub fn pollers_waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}
