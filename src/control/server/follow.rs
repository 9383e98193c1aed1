//! Following one job: the stored events of its latest attempt first (after a reader's last
//! id), then live ones, without gaps or repeats; ends after `done`/`error`, a final state, or
//! the time cap. Used by the SSE stream and the OpenAI endpoint.
use super::AppState;
use super::hub::HubMsg;
use super::store::{Job, StoredEvent};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

pub(super) enum Follow {
    Event(StoredEvent),
    /// The job row when the follow ended without a terminal event (time cap, or a final row).
    End(Option<Box<Job>>),
}

/// Reader sessions end after this long even if the job does not (reference: 10 min).
const CAP: Duration = Duration::from_secs(600);

/// Events buffered per reader beyond the page being sent: a reader that stops reading holds
/// this many, not the whole job.
const BUFFER: usize = 32;

/// How often a reader behind a database outage tries to catch up again.
const RETRY: Duration = Duration::from_secs(1);

/// A reader that heard nothing this long re-reads its job from the database.
const QUIET: Duration = Duration::from_secs(10);

/// Follows `job` for one reader; `None` when the job has `max_readers_per_job` already.
pub(super) fn spawn(st: AppState, job: Job, after: i64) -> Option<mpsc::Receiver<Follow>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let Some(mut live) = st.hub.subscribe(&job.id, st.opts.max_readers_per_job) else {
        st.hub.release(&job.id);
        return None;
    };
    crate::supervise::spawn_logged("job-follow", async move {
        let id = job.id.clone();
        run(&st, job, after, &mut live, &tx).await;
        drop(live);
        st.hub.release(&id);
    });
    Some(rx)
}

/// What a replay ended with.
enum Replayed {
    /// Every stored event after the start was sent; the last one's id.
    Caught(i64),
    /// The database could not be read; the last id sent before it.
    Unread(i64),
    /// A terminal event was sent, or the reader left.
    Stop,
}

/// Sends the attempt's stored events after `last`, a page at a time (and the resets since
/// `*since`, the attempt of the last event sent, which it keeps up to date).
async fn replay(
    st: &AppState,
    job: &Job,
    mut last: i64,
    since: &mut Option<i64>,
    tx: &mpsc::Sender<Follow>,
) -> Replayed {
    loop {
        let page = match st
            .store
            .events(job, last, *since, st.opts.replay_page)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, job = %job.id, "could not replay job events");
                return Replayed::Unread(last);
            }
        };
        let full = page.len() as i64 >= st.opts.replay_page;
        for e in page {
            last = e.id;
            *since = Some(e.attempt);
            let end = terminal(&e);
            if tx.send(Follow::Event(e)).await.is_err() || end {
                return Replayed::Stop;
            }
        }
        if !full {
            return Replayed::Caught(last);
        }
    }
}

fn terminal(e: &StoredEvent) -> bool {
    e.kind == "done" || e.kind == "error"
}

async fn run(
    st: &AppState,
    job: Job,
    after: i64,
    live: &mut broadcast::Receiver<HubMsg>,
    tx: &mpsc::Sender<Follow>,
) {
    // Set while a catch-up could not read the database (an outage): tried again each
    // RETRY until it can, instead of ending the reader's stream.
    let mut behind = false;
    // The attempt of the last event sent (unknown for a reader that starts or resumes).
    let mut since: Option<i64> = None;
    let mut last = match replay(st, &job, after, &mut since, tx).await {
        Replayed::Caught(l) => l,
        Replayed::Unread(l) => {
            behind = true;
            l
        }
        Replayed::Stop => return,
    };
    if job.is_final() && !behind {
        let _ = tx.send(Follow::End(Some(Box::new(job)))).await;
        return;
    }
    let deadline = tokio::time::Instant::now() + CAP;
    loop {
        // Behind an outage: try again soon. Otherwise re-read after a long silence anyway,
        // so a notification lost between replicas delays a reader, never strands it.
        let recheck_at = tokio::time::Instant::now() + if behind { RETRY } else { QUIET };
        let msg = tokio::select! {
            m = live.recv() => m,
            _ = tokio::time::sleep_until(recheck_at) => Ok(HubMsg::Poke),
            _ = tokio::time::sleep_until(deadline) => {
                let _ = tx.send(Follow::End(None)).await;
                return;
            }
            _ = tx.closed() => return,
        };
        match msg {
            Ok(HubMsg::Event(e)) => {
                if e.id <= last {
                    continue;
                }
                last = e.id;
                since = Some(e.attempt);
                let end = terminal(&e);
                if tx.send(Follow::Event(e)).await.is_err() || end {
                    return;
                }
            }
            Ok(HubMsg::Claimed) => {}
            Ok(HubMsg::Final | HubMsg::Poke) | Err(broadcast::error::RecvError::Lagged(_)) => {
                // Catch up from the database (a slow reader, another replica's events, or
                // the end).
                let j = match st.store.job(&job.id).await {
                    Ok(Some(j)) => j,
                    Ok(None) => {
                        let _ = tx.send(Follow::End(None)).await;
                        return;
                    }
                    Err(e) => {
                        if !behind {
                            tracing::warn!(error = %e, job = %job.id, "reader waits for the database");
                        }
                        behind = true;
                        continue;
                    }
                };
                match replay(st, &j, last, &mut since, tx).await {
                    Replayed::Caught(l) => {
                        last = l;
                        behind = false;
                    }
                    Replayed::Unread(l) => {
                        last = l;
                        behind = true;
                        continue;
                    }
                    Replayed::Stop => return,
                }
                if j.is_final() {
                    let _ = tx.send(Follow::End(Some(Box::new(j)))).await;
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => {
                let _ = tx.send(Follow::End(None)).await;
                return;
            }
        }
    }
}
