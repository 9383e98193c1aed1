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

pub(super) fn spawn(st: AppState, job: Job, after: i64) -> mpsc::Receiver<Follow> {
    let (tx, rx) = mpsc::channel(256);
    let mut live = st.hub.subscribe(&job.id);
    tokio::spawn(async move {
        let id = job.id.clone();
        run(&st, job, after, &mut live, &tx).await;
        drop(live);
        st.hub.release(&id);
    });
    rx
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
    let mut last = after;
    // Replays from the database; true when a terminal event was sent.
    let replay = |job: Job, last: i64| async move {
        match st.store.events(&job, last).await {
            Ok(evs) => evs,
            Err(e) => {
                tracing::warn!(error = %e, job = %job.id, "could not replay job events");
                Vec::new()
            }
        }
    };
    for e in replay(job.clone(), last).await {
        last = e.id;
        let end = terminal(&e);
        if tx.send(Follow::Event(e)).await.is_err() || end {
            return;
        }
    }
    if job.is_final() {
        let _ = tx.send(Follow::End(Some(Box::new(job)))).await;
        return;
    }
    let deadline = tokio::time::Instant::now() + CAP;
    loop {
        let msg = tokio::select! {
            m = live.recv() => m,
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
                let end = terminal(&e);
                if tx.send(Follow::Event(e)).await.is_err() || end {
                    return;
                }
            }
            Ok(HubMsg::Final) | Err(broadcast::error::RecvError::Lagged(_)) => {
                // Catch up from the database (a slow reader, or the end).
                let Ok(Some(j)) = st.store.job(&job.id).await else {
                    let _ = tx.send(Follow::End(None)).await;
                    return;
                };
                for e in replay(j.clone(), last).await {
                    last = e.id;
                    let end = terminal(&e);
                    if tx.send(Follow::Event(e)).await.is_err() || end {
                        return;
                    }
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
