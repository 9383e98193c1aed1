//! `/status`: the network at a glance (nodes online, models, jobs/s, tokens/s, recent
//! failures), public like `/api/overview`.
use super::html::{ago, card, empty, esc, table};
use crate::control::db::DbError;
use crate::control::server::AppState;
use crate::control::server::store::now_ms;

/// The window throughput is averaged over.
const WINDOW_MS: i64 = 5 * 60 * 1000;

/// The live part of `/status`.
pub async fn fragment(st: &AppState) -> Result<String, DbError> {
    let now = now_ms();
    let live = st.store.live_providers(now - st.node_timeout_ms()).await?;
    let registered = st.store.provider_count().await?;
    let mut models: Vec<&str> = live
        .iter()
        .flat_map(|p| p.served_models.iter().map(String::as_str))
        .collect();
    models.sort_unstable();
    models.dedup();
    let completed = st.store.completed_since(now - WINDOW_MS).await?;
    let tokens = st.store.tokens_since(now - WINDOW_MS).await?;
    let per_s = |n: i64| format!("{:.2}", n as f64 / (WINDOW_MS as f64 / 1000.0));
    let url = esc(&st.public_url);
    let mut out = String::from("<section class=\"cards\">");
    out += &card(
        "Nodes online",
        &live.len().to_string(),
        &if live.is_empty() {
            format!(
                "no node has sent a heartbeat lately: on a GPU machine, <code>infernet register --url {url}</code> then <code>infernet start</code>"
            )
        } else {
            format!("{registered} registered")
        },
        live.is_empty(),
    );
    out += &card(
        "Models served",
        &models.len().to_string(),
        &if models.is_empty() {
            "no model is served: <code>infernet model pull MODEL</code> on a node".to_string()
        } else {
            esc(&models.join(", "))
        },
        models.is_empty(),
    );
    out += &card(
        "Jobs / s",
        &per_s(completed),
        &if completed == 0 {
            format!(
                "no job completed in the last 5 min: <code>infernet chat --url {url} \"hello\"</code>"
            )
        } else {
            format!("{completed} completed in the last 5 min")
        },
        completed == 0,
    );
    out += &card(
        "Tokens / s",
        &per_s(tokens),
        &if tokens == 0 {
            "no tokens in the last 5 min".to_string()
        } else {
            format!("{tokens} tokens in the last 5 min")
        },
        tokens == 0,
    );
    out += "</section><h2>Recent failures</h2>";
    let failures = st.store.recent_failures(8).await?;
    if failures.is_empty() {
        out += "<p class=\"ok\">No failed jobs.</p>";
    } else {
        let rows: Vec<Vec<String>> = failures
            .iter()
            .map(|j| {
                vec![
                    ago(j.updated_at, now),
                    format!("<code>{}</code>", esc(&j.id)),
                    esc(j.model_name.as_deref().unwrap_or("any")),
                    format!(
                        "<span class=\"bad\">{}</span>",
                        esc(j.error.as_deref().unwrap_or("failed"))
                    ),
                ]
            })
            .collect();
        out += &table(&["When", "Job", "Model", "Why"], &rows);
    }
    if live.is_empty() && failures.is_empty() {
        out += &empty(
            "Nothing has run here yet. A node joins with",
            "infernet register --url URL",
        );
    }
    Ok(out)
}
