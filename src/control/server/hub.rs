//! Live fan-out of job events to SSE readers: one broadcast channel per job that someone is
//! watching (the database stays the source of truth; readers replay from it first); and the
//! counts `/metrics` reads: long polls waiting, SSE responses open.
use super::store::StoredEvent;
use futures::Stream;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{Notify, broadcast};

#[derive(Debug, Clone)]
pub enum HubMsg {
    Event(StoredEvent),
    /// A node leased the job (`POST /api/chat` waits briefly for this to name the node).
    Claimed,
    /// The job reached a final state (the reader re-reads the row).
    Final,
    /// Another replica stored new events for the job: re-read them from the database.
    Poke,
}

#[derive(Debug, Default, Clone)]
pub struct Hub {
    jobs: Arc<Mutex<HashMap<String, broadcast::Sender<HubMsg>>>>,
    /// Woken when a job becomes claimable (created or re-queued): long polls re-check.
    pub work: Arc<Notify>,
    /// Long polls waiting for work now.
    waiting: Arc<AtomicUsize>,
    /// SSE responses open now, by [`SseKind`].
    readers: Arc<[AtomicUsize; SseKind::ALL.len()]>,
    /// The other replicas on the same PostgreSQL (none with SQLite: one box).
    bus: Arc<std::sync::OnceLock<super::bus::Bus>>,
}

/// The server's SSE streams, as `/metrics` labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseKind {
    /// `GET /api/chat/stream/{id}`.
    Chat,
    /// `GET /api/v1/jobs/{id}/stream`.
    Job,
    /// `POST /v1/chat/completions` with `stream: true`.
    OpenAi,
    /// `GET /status/events`.
    Status,
    /// `GET /dashboard/events`.
    Dashboard,
}

impl SseKind {
    pub const ALL: [SseKind; 5] = [
        SseKind::Chat,
        SseKind::Job,
        SseKind::OpenAi,
        SseKind::Status,
        SseKind::Dashboard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SseKind::Chat => "chat",
            SseKind::Job => "job",
            SseKind::OpenAi => "openai",
            SseKind::Status => "status",
            SseKind::Dashboard => "dashboard",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An SSE response body that counts as one open reader while it lives: the server drops it
/// when the client has gone (noticed at the next write, a keep-alive at the latest).
pub struct Counted<S> {
    inner: S,
    _open: Open,
}

impl<S: Stream + Unpin> Stream for Counted<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

/// Counts one SSE response as open until it drops.
pub struct Open {
    readers: Arc<[AtomicUsize; SseKind::ALL.len()]>,
    kind: SseKind,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(n) = self.readers.get(self.kind.index()) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
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

    /// Tells this replica's readers of `job`, and the other replicas.
    pub fn publish(&self, job: &str, msg: HubMsg) {
        if let Some(bus) = self.bus.get() {
            let note = match &msg {
                HubMsg::Event(_) | HubMsg::Poke => super::bus::Note::Events(job.to_string()),
                HubMsg::Claimed => super::bus::Note::Claimed(job.to_string()),
                HubMsg::Final => super::bus::Note::Final(job.to_string()),
            };
            bus.send(note);
            // With replicas a job's batches may arrive through several of them, and a later
            // batch here can overtake an earlier one's note from another: readers re-read
            // the stored events after their last id instead of taking this one's id as the
            // new mark (which would skip the earlier batch).
            if matches!(msg, HubMsg::Event(_)) {
                self.publish_local(job, HubMsg::Poke);
                return;
            }
        }
        self.publish_local(job, msg);
    }

    /// Tells this replica's readers of `job` only (what the bus heard from another replica).
    pub fn publish_local(&self, job: &str, msg: HubMsg) {
        let m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = m.get(job) {
            let _ = tx.send(msg);
        }
    }

    /// Every local reader re-reads its job (after a gap in what the bus heard).
    pub fn poke_all_local(&self) {
        let m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        for tx in m.values() {
            let _ = tx.send(HubMsg::Poke);
        }
    }

    /// Connects this hub to the other replicas (once).
    pub fn attach_bus(&self, bus: super::bus::Bus) {
        let _ = self.bus.set(bus);
    }

    /// Drops the channel when its last reader has gone.
    pub fn release(&self, job: &str) {
        let mut m = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(job).is_some_and(|tx| tx.receiver_count() == 0) {
            m.remove(job);
        }
    }

    /// Long polls here and on the other replicas re-check for work.
    pub fn wake_pollers(&self) {
        if let Some(bus) = self.bus.get() {
            bus.send(super::bus::Note::Work);
        }
        self.wake_local();
    }

    /// Long polls of this replica re-check for work.
    pub fn wake_local(&self) {
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

    /// Marks one SSE response of `kind` as open until the guard drops.
    pub fn open(&self, kind: SseKind) -> Open {
        if let Some(n) = self.readers.get(kind.index()) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Open {
            readers: self.readers.clone(),
            kind,
        }
    }

    /// `body` counted as one open SSE response of `kind` for as long as the server holds it.
    pub fn counted<S: Stream + Unpin>(&self, kind: SseKind, body: S) -> Counted<S> {
        Counted {
            inner: body,
            _open: self.open(kind),
        }
    }

    /// SSE responses of `kind` open now.
    pub fn open_streams(&self, kind: SseKind) -> usize {
        self.readers
            .get(kind.index())
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_counted_stream_is_open_until_dropped() {
        let hub = Hub::default();
        let body = futures::stream::iter([1, 2]);
        let mut s = hub.counted(SseKind::Job, body);
        let other = hub.open(SseKind::Chat);
        assert_eq!(hub.open_streams(SseKind::Job), 1);
        assert_eq!(hub.open_streams(SseKind::Chat), 1);
        assert_eq!(hub.open_streams(SseKind::Dashboard), 0);
        // Ending is not leaving: the server still holds the body until it drops it.
        assert_eq!(s.next().await, Some(1));
        assert_eq!(s.next().await, Some(2));
        assert_eq!(s.next().await, None);
        assert_eq!(hub.open_streams(SseKind::Job), 1);
        drop(s);
        drop(other);
        for k in SseKind::ALL {
            assert_eq!(hub.open_streams(k), 0, "{}", k.as_str());
        }
    }
}
