//! The queue's clock: re-queues jobs whose node went silent (lease expired), fails them after
//! `max_attempts`, fails jobs nobody claimed in time, and prunes the replay cache.
use super::AppState;
use super::hub::HubMsg;
use super::store::now_ms;
use crate::supervise::{Backoff, Never, Supervisor};
use serde_json::json;
use std::time::Duration;

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
                if let Err(e) = sweep(&st).await {
                    tracing::warn!(error = %e, "queue sweep failed; retrying");
                }
            }
        }
    });
}

async fn sweep(st: &AppState) -> Result<(), crate::control::db::DbError> {
    let now = now_ms();
    for j in st.store.expired(now).await? {
        let node = j.provider_id.clone().unwrap_or_default();
        if j.attempts >= j.max_attempts {
            let why = format!(
                "no node completed the job: attempt {} of {} lost its node (no sign of life for {} s)",
                j.attempts,
                j.max_attempts,
                st.opts.lease.as_secs()
            );
            if fail(st, &j, &why, now).await? {
                tracing::warn!(job = %j.id, node = %node, "job failed: retries exhausted");
            }
        } else if st.store.requeue(&j, now).await? {
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
    }
    let before = now - st.opts.pending_timeout.as_millis() as i64;
    let stale = st.store.stale_pending(before).await?;
    let live = if stale.is_empty() {
        Vec::new()
    } else {
        st.store.live_providers(now - st.node_timeout_ms()).await?
    };
    for j in stale {
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
        if fail(st, &j, &why, now).await? {
            tracing::warn!(job = %j.id, "job failed: nobody claimed it");
        }
    }
    st.store
        .prune_nonces(now - 2 * crate::control::auth::WINDOW_S * 1000)
        .await?;
    // A key that asked for admission and went quiet for a week asks again if it comes back.
    st.store
        .prune_admissions(now - 7 * 24 * 3600 * 1000)
        .await?;
    Ok(())
}

/// Fails a job with its reason, tells its readers (`error` event, then the end); false when it
/// had already ended.
async fn fail(
    st: &AppState,
    j: &super::store::Job,
    why: &str,
    now: i64,
) -> Result<bool, crate::control::db::DbError> {
    if !st.store.fail(&j.id, why, now).await? {
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
