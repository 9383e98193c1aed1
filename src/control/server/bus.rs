//! Replicas on one PostgreSQL behave as one control plane: what a replica's hub does for its
//! own readers and long polls (a job's new events, its claim, its end; new work to claim) is
//! told to the other replicas with `NOTIFY`, and each replica `LISTEN`s on a connection of its
//! own and does the same for its readers. Payloads are tiny (`replica kind job`): the rows stay
//! the truth, so a reader that hears of new events replays them from the database after its
//! last id, without gaps or repeats. Notes are coalesced per job for a few milliseconds: a
//! streaming job makes one NOTIFY per batch, not one per token.
//!
//! A lost `LISTEN` connection is re-opened with backoff; after it every local reader and long
//! poll is woken once, since notifications sent meanwhile were missed.
use super::hub::{Hub, HubMsg};
use crate::retry::Backoff;
use futures::StreamExt;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The channel every replica listens on.
const CHANNEL: &str = "infernet_cp";
/// How long notes are gathered before they are sent.
const COALESCE: Duration = Duration::from_millis(5);

/// Notes sent in one NOTIFY at most (a line each; PostgreSQL's payload limit is 8000 bytes).
const NOTES_PER_PAYLOAD: usize = 96;

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// Notes were dropped (the sender fell behind): every reader and long poll re-reads.
    Resync,
    /// A job became claimable.
    Work,
    /// A job has new stored events.
    Events(String),
    Claimed(String),
    Final(String),
}

impl Note {
    fn encode(&self, replica: &str) -> String {
        match self {
            Note::Resync => format!("{replica} r -"),
            Note::Work => format!("{replica} w -"),
            Note::Events(j) => format!("{replica} e {j}"),
            Note::Claimed(j) => format!("{replica} c {j}"),
            Note::Final(j) => format!("{replica} f {j}"),
        }
    }

    /// `(sender, note)`; None for a payload that is not ours.
    fn decode(payload: &str) -> Option<(String, Note)> {
        let mut it = payload.splitn(3, ' ');
        let (from, kind, job) = (it.next()?, it.next()?, it.next()?);
        let note = match kind {
            "r" => Note::Resync,
            "w" => Note::Work,
            "e" => Note::Events(job.to_string()),
            "c" => Note::Claimed(job.to_string()),
            "f" => Note::Final(job.to_string()),
            _ => return None,
        };
        Some((from.to_string(), note))
    }
}

/// A NOTIFY payload: one note a line.
fn encode_all<'a>(notes: impl Iterator<Item = &'a Note>, replica: &str) -> String {
    notes
        .map(|n| n.encode(replica))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The notes of a payload, each with its sender; lines that are not ours are skipped.
fn decode_all(payload: &str) -> Vec<(String, Note)> {
    payload.lines().filter_map(Note::decode).collect()
}

/// The sending side, held by the hub.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: mpsc::Sender<Note>,
    /// Set when a note could not be queued: the next NOTIFY tells every replica to re-read.
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Bus {
    /// Never blocks a request: when the sender is far behind, the note is dropped and the
    /// other replicas are told to re-read everything instead (no wake-up is lost).
    pub fn send(&self, note: Note) {
        if self.tx.try_send(note).is_err() {
            self.dropped
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Starts the bus of a PostgreSQL control plane: the sender (through the pool) and the
/// listener (its own connection); both stop with `cancel`.
pub fn start(
    url: &str,
    db: crate::control::db::Db,
    hub: &Hub,
    sup: &crate::supervise::Supervisor,
) -> Bus {
    let replica = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = mpsc::channel::<Note>(4096);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let me = replica.clone();
    let flag = dropped.clone();
    sup.restart::<_, _, std::convert::Infallible>(
        "bus-notify",
        crate::supervise::Backoff::default(),
        move |cancel| {
            let (rx, db, me, flag) = (rx.clone(), db.clone(), me.clone(), flag.clone());
            async move {
                let mut rx = rx.lock().await;
                notify_loop(&mut rx, &db, &me, &flag, &cancel).await;
                Ok(())
            }
        },
    );
    let (url, hub2, me) = (url.to_string(), hub.clone(), replica);
    sup.restart::<_, _, std::convert::Infallible>(
        "bus-listen",
        crate::supervise::Backoff::default(),
        move |cancel| {
            let (url, hub, me) = (url.clone(), hub2.clone(), me.clone());
            async move {
                listen_loop(&url, &hub, &me, &cancel).await;
                Ok(())
            }
        },
    );
    Bus { tx, dropped }
}

/// Sends what was queued, gathered for COALESCE, deduplicated, many notes a NOTIFY (one
/// statement per batch, not per note: under load a NOTIFY per note falls behind).
async fn notify_loop(
    rx: &mut mpsc::Receiver<Note>,
    db: &crate::control::db::Db,
    me: &str,
    dropped: &std::sync::atomic::AtomicBool,
    cancel: &CancellationToken,
) {
    loop {
        let first = tokio::select! {
            n = rx.recv() => n,
            _ = cancel.cancelled() => return,
        };
        let Some(first) = first else { return };
        tokio::time::sleep(COALESCE).await;
        let mut notes = BTreeSet::from([first]);
        while let Ok(n) = rx.try_recv() {
            notes.insert(n);
        }
        if dropped.swap(false, std::sync::atomic::Ordering::Relaxed) {
            notes.insert(Note::Resync);
        }
        let notes: Vec<Note> = notes.into_iter().collect();
        for chunk in notes.chunks(NOTES_PER_PAYLOAD) {
            let payload = encode_all(chunk.iter(), me);
            if let Err(e) = db
                .exec(
                    "SELECT pg_notify($1, $2)",
                    &[CHANNEL.into(), payload.into()],
                )
                .await
            {
                tracing::warn!(error = %e, "cannot tell the other replicas (NOTIFY); they catch up from the database");
            }
        }
    }
}

async fn listen_loop(url: &str, hub: &Hub, me: &str, cancel: &CancellationToken) {
    let backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    let mut failures = 0u32;
    let mut missed = false;
    loop {
        match listen_once(url, hub, me, cancel, &mut missed).await {
            Ok(()) => return,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                missed = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.delay(failures)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// One LISTEN session; Ok when cancelled.
async fn listen_once(
    url: &str,
    hub: &Hub,
    me: &str,
    cancel: &CancellationToken,
    missed: &mut bool,
) -> Result<(), String> {
    let (client, mut conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    // The connection's driver forwards notifications, then why it ended.
    let (ntx, mut nrx) = mpsc::unbounded_channel::<Result<String, String>>();
    let driver = crate::supervise::spawn_logged("bus-listen-connection", async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if ntx.send(Ok(n.payload().to_string())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = ntx.send(Err(e.to_string()));
                    return;
                }
            }
        }
        let _ = ntx.send(Err("the connection closed".to_string()));
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    if std::mem::take(missed) {
        // Notifications sent while this replica was not listening are lost: wake everyone
        // once, they re-read the database.
        hub.wake_local();
        hub.poke_all_local();
    }
    let result = loop {
        let payload = tokio::select! {
            p = nrx.recv() => p,
            _ = cancel.cancelled() => break Ok(()),
        };
        let payload = match payload {
            Some(Ok(p)) => p,
            Some(Err(why)) => break Err(why),
            None => break Err("the LISTEN connection ended".to_string()),
        };
        for (from, note) in decode_all(&payload) {
            if from != me {
                heard(hub, note);
            }
        }
    };
    driver.abort();
    drop(client);
    result
}

/// What a note from another replica means here.
fn heard(hub: &Hub, note: Note) {
    match note {
        Note::Resync => {
            hub.wake_local();
            hub.poke_all_local();
        }
        Note::Work => hub.wake_local(),
        Note::Events(j) => hub.publish_local(&j, HubMsg::Poke),
        Note::Claimed(j) => hub.publish_local(&j, HubMsg::Claimed),
        Note::Final(j) => hub.publish_local(&j, HubMsg::Final),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_and_strangers_are_ignored() {
        for n in [
            Note::Resync,
            Note::Work,
            Note::Events("j1".into()),
            Note::Claimed("j-2".into()),
            Note::Final("x".into()),
        ] {
            assert_eq!(Note::decode(&n.encode("r1")), Some(("r1".into(), n)));
        }
        assert_eq!(Note::decode("r1 z j"), None);
        assert_eq!(Note::decode("garbage"), None);
    }

    #[test]
    fn many_notes_travel_in_one_payload_under_the_size_limit() {
        let notes: Vec<Note> = (0..NOTES_PER_PAYLOAD)
            .map(|i| Note::Events(uuid::Uuid::new_v4().to_string() + &i.to_string()))
            .chain([Note::Work, Note::Resync])
            .collect();
        let payload = encode_all(
            notes[..NOTES_PER_PAYLOAD].iter(),
            "0123456789abcdef0123456789abcdef",
        );
        assert!(payload.len() < 8000, "{} bytes", payload.len());
        let back: Vec<Note> = decode_all(&payload).into_iter().map(|(_, n)| n).collect();
        assert_eq!(back, notes[..NOTES_PER_PAYLOAD]);
        // A stranger's line among ours is skipped, the rest read.
        let mixed = format!("r1 w -\nnot ours\n{}", Note::Resync.encode("r2"));
        assert_eq!(
            decode_all(&mixed),
            [
                ("r1".to_string(), Note::Work),
                ("r2".to_string(), Note::Resync)
            ]
        );
    }
}
