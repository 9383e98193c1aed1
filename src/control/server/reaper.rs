//! The queue's clock: re-queues jobs whose node went silent (lease expired), fails them after
//! `max_attempts`, fails jobs nobody claimed in time, and prunes the replay cache.
use super::AppState;
use super::hub::HubMsg;
use super::store::{Job, Outcome, now_ms};
use crate::supervise::{Backoff, Never, Supervisor};
use infernet_core::lease::{self, Event, Step, Transition};
use serde_json::json;
use std::time::Duration;

/// The advisory lock that makes one replica sweep at a time ("infernet reaper" in ASCII).
const REAPER_LOCK: i64 = 0x696e_6672_6561_7072;

pub(super) fn spawn(st: AppState, sup: &Supervisor) {
    let tick = (st.opts.lease / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    sup.restart::<_, _, Never>("queue-reaper", Backoff::default(), move |cancel| {
        let st = st.clone();
        async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = cancel.cancelled() => return Ok(()),
                }
                // One replica sweeps at a time; the others skip this tick.
                let swept = st.store.db.exclusively(REAPER_LOCK, || sweep(&st)).await;
                if let Err(e) = swept {
                    tracing::warn!(error = %e, "queue sweep failed; retrying");
                }
            }
        }
    });
}

async fn sweep(st: &AppState) -> Result<(), crate::control::db::DbError> {
    let now = now_ms();
    expire(st, now).await?;
    fail_stale(st, now).await?;
    st.store
        .prune_nonces(now - 2 * crate::control::auth::WINDOW_S * 1000)
        .await?;
    st.store.prune_rates(now).await?;
    st.store.prune_sessions(now).await?;
    // A key that asked for admission and went quiet for a week asks again if it comes back.
    st.store
        .prune_admissions(now - 7 * 24 * 3600 * 1000)
        .await?;
    Ok(())
}

/// Leases that ran out: the job goes back to the queue, or fails after its last attempt.
async fn expire(st: &AppState, now: i64) -> Result<(), crate::control::db::DbError> {
    for j in st.store.expired(now).await? {
        // Decided again on the row as read; the write is guarded on it, so a renewal that
        // lands in between keeps the job where it is.
        let Ok(t) = lease::handle(&j.lease(), Event::Expire, now, st.lease_ms()) else {
            continue;
        };
        let node = j.provider_id.clone().unwrap_or_default();
        if t.step != Step::Requeued {
            let why = format!(
                "no node completed the job: attempt {} of {} lost its node (no sign of life for {} s)",
                j.attempts,
                j.max_attempts,
                st.opts.lease.as_secs()
            );
            if fail(st, &j, &t, &why, now).await? {
                tracing::warn!(job = %j.id, node = %node, "job failed: retries exhausted");
            }
            continue;
        }
        if st
            .store
            .apply(&j, &t, Outcome::default(), now)
            .await?
            .is_none()
        {
            continue;
        }
        let e = st
            .store
            .insert_event(
                &j.id,
                j.attempts,
                "reset",
                &json!({"attempt": j.attempts, "reason": "the node running the job went silent; the job is queued again"}),
                now,
            )
            .await?;
        st.hub.publish(&j.id, HubMsg::Event(e));
        st.hub.wake_pollers();
        tracing::warn!(job = %j.id, node = %node, attempt = j.attempts, "lease expired; job re-queued");
    }
    Ok(())
}

/// Pending jobs nobody claimed within the pending timeout fail, saying whether nodes serving
/// the model were there (busy) or not.
async fn fail_stale(st: &AppState, now: i64) -> Result<(), crate::control::db::DbError> {
    let timeout_ms = st.opts.pending_timeout.as_millis() as i64;
    let stale = st.store.stale_pending(now - timeout_ms).await?;
    let live = if stale.is_empty() {
        Vec::new()
    } else {
        st.store.live_providers(now - st.node_timeout_ms()).await?
    };
    for j in stale {
        let unclaimed = Event::Stale { timeout_ms };
        let Ok(t) = lease::handle(&j.lease(), unclaimed, now, st.lease_ms()) else {
            continue;
        };
        let model = j.model_name.as_deref();
        let serving = live
            .iter()
            .filter(|p| match model {
                Some(m) => p.served_models.iter().any(|s| s == m),
                None => !p.served_models.is_empty(),
            })
            .count();
        // Busy nodes and absent ones need different fixes: say which it was.
        let why = if serving > 0 {
            format!(
                "no_capacity: {serving} live node(s) serve '{}' but none took the job within {} s (all busy, or not polling); try again or add capacity",
                model.unwrap_or("any model"),
                st.opts.pending_timeout.as_secs()
            )
        } else {
            format!(
                "no_provider: no node serving '{}' took the job within {} s",
                model.unwrap_or("any model"),
                st.opts.pending_timeout.as_secs()
            )
        };
        if fail(st, &j, &t, &why, now).await? {
            tracing::warn!(job = %j.id, "job failed: nobody claimed it");
        }
    }
    Ok(())
}

/// Writes the failure `t` decided for `j` with its reason and tells its readers (`error` event,
/// then the end); false when the job moved on since it was read.
async fn fail(
    st: &AppState,
    j: &Job,
    t: &Transition,
    why: &str,
    now: i64,
) -> Result<bool, crate::control::db::DbError> {
    let out = Outcome {
        result: None,
        error: Some(why),
    };
    if st.store.apply(j, t, out, now).await?.is_none() {
        return Ok(false);
    }
    let e = st
        .store
        .insert_event(&j.id, j.attempts, "error", &json!({"message": why}), now)
        .await?;
    st.hub.publish(&j.id, HubMsg::Event(e));
    st.hub.publish(&j.id, HubMsg::Final);
    Ok(true)
}
