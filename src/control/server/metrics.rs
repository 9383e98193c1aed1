//! `GET /metrics`: the control plane's series in the Prometheus text format, computed at scrape
//! time from aggregate queries (a few rows each, however many jobs the table holds) and the
//! server's in-memory counts (SSE responses open, long polls waiting). Public like
//! `/api/health` and `/api/overview`: counts only, nothing about a job's content or a client.
use super::AppState;
use super::hub::SseKind;
use super::store::{JobGroup, now_ms};
use crate::telemetry::prom::{self, Exposition, Kind};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Model label values per family at most (clients name models freely, and a request for a
/// model nobody serves is recorded as a failed job); the least used of the rest are summed
/// under [`OTHER`].
const MAX_MODELS: usize = 100;
/// The model label of jobs that named no model (any node serving one may take them).
const ANY: &str = "any";
/// The model label summing the models beyond [`MAX_MODELS`].
const OTHER: &str = "(other)";

pub(super) async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, prom::CONTENT_TYPE)],
        render(&st).await,
    )
        .into_response()
}

/// What the database says, read for one scrape.
#[derive(Debug, Default)]
struct FromStore {
    online: i64,
    offline: i64,
    jobs: Vec<JobGroup>,
    /// The models of each node that can take a job now.
    serving: Vec<Vec<String>>,
}

async fn read_store(st: &AppState) -> Result<FromStore, crate::control::db::DbError> {
    // Online as the queue sees it: a node seen within the node timeout takes jobs.
    let since = now_ms() - st.node_timeout_ms();
    let (online, offline) = st.store.node_states(since).await?;
    Ok(FromStore {
        online,
        offline,
        jobs: st.store.jobs_by_status_and_model().await?,
        serving: st.store.served_models_live(since).await?,
    })
}

async fn render(st: &AppState) -> String {
    let mut e = Exposition::new();
    e.single(
        "infernet_cp_up",
        Kind::Gauge,
        "1 while the control plane serves.",
        1.0,
    );
    e.family(
        "infernet_cp_build_info",
        Kind::Gauge,
        "The control plane's version (value is always 1).",
    )
    .sample(
        "infernet_cp_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    let db = read_store(st).await;
    if let Err(e) = &db {
        tracing::warn!(error = %e, "/metrics could not read the database");
    }
    e.single(
        "infernet_cp_database_up",
        Kind::Gauge,
        "1 when the database answered this scrape, else 0 (the series read from it are then left out).",
        f64::from(u8::from(db.is_ok())),
    );
    if let Ok(s) = &db {
        store_series(&mut e, s);
    }
    e.family(
        "infernet_cp_sse_readers",
        Kind::Gauge,
        "SSE responses open now, by stream (chat: /api/chat/stream, job: /api/v1/jobs/{id}/stream, openai: streamed /v1/chat/completions, status and dashboard: the web pages' live updates).",
    );
    for k in SseKind::ALL {
        e.sample(
            "infernet_cp_sse_readers",
            &[("stream", k.as_str())],
            st.hub.open_streams(k) as f64,
        );
    }
    e.single(
        "infernet_cp_node_polls_waiting",
        Kind::Gauge,
        "Nodes' long polls (jobs/poll with wait_ms) waiting for a job now.",
        st.hub.pollers_waiting() as f64,
    );
    e.finish()
}

/// The model label of `model`: itself when kept, [`ANY`] for none, else [`OTHER`].
fn label<'a>(model: Option<&'a str>, kept: &BTreeSet<&str>) -> &'a str {
    match model {
        None => ANY,
        Some(m) if kept.contains(m) => m,
        Some(_) => OTHER,
    }
}

/// The [`MAX_MODELS`] models with the most weight (ties: by name).
fn keep<'a>(weights: &HashMap<&'a str, i64>) -> BTreeSet<&'a str> {
    let mut all: Vec<(&str, i64)> = weights.iter().map(|(m, w)| (*m, *w)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    all.into_iter().take(MAX_MODELS).map(|(m, _)| m).collect()
}

fn store_series(e: &mut Exposition, s: &FromStore) {
    e.family(
        "infernet_cp_nodes",
        Kind::Gauge,
        "Registered nodes by state: online (available and seen within the node timeout, so it gets jobs) or offline.",
    )
    .sample("infernet_cp_nodes", &[("state", "online")], s.online as f64)
    .sample("infernet_cp_nodes", &[("state", "offline")], s.offline as f64);

    // Online nodes per model they serve.
    let mut serving: HashMap<&str, i64> = HashMap::new();
    for models in &s.serving {
        let distinct: BTreeSet<&str> = models.iter().map(String::as_str).collect();
        for m in distinct {
            *serving.entry(m).or_default() += 1;
        }
    }
    let kept = keep(&serving);
    let mut nodes: BTreeMap<&str, i64> = BTreeMap::new();
    for (m, n) in &serving {
        *nodes.entry(label(Some(m), &kept)).or_default() += n;
    }
    e.family(
        "infernet_cp_model_nodes",
        Kind::Gauge,
        "Online nodes serving each model.",
    );
    for (m, n) in &nodes {
        e.sample("infernet_cp_model_nodes", &[("model", m)], *n as f64);
    }

    // The queue: every served model (0 when nothing waits for it) and every model waiting.
    let mut waiting: HashMap<&str, i64> = HashMap::new();
    for g in s.jobs.iter().filter(|g| g.status == "pending") {
        *waiting
            .entry(g.model.as_deref().unwrap_or(ANY))
            .or_default() += g.count;
    }
    for m in serving.keys() {
        waiting.entry(m).or_default();
    }
    let kept = keep(&waiting);
    let mut depth: BTreeMap<&str, i64> = BTreeMap::new();
    for (m, n) in &waiting {
        let m = if *m == ANY { None } else { Some(*m) };
        *depth.entry(label(m, &kept)).or_default() += n;
    }
    e.family(
        "infernet_cp_queue_depth",
        Kind::Gauge,
        "Jobs waiting for a node to take them, by the model they asked for (any: none named).",
    );
    for (m, n) in &depth {
        e.sample("infernet_cp_queue_depth", &[("model", m)], *n as f64);
    }

    let leased: i64 = s
        .jobs
        .iter()
        .filter(|g| g.status == "assigned" || g.status == "running")
        .map(|g| g.count)
        .sum();
    e.single(
        "infernet_cp_leases_active",
        Kind::Gauge,
        "Jobs leased to a node now (assigned or running).",
        leased as f64,
    );

    // Finished jobs: both statuses for every model that has any.
    const FINAL: [&str; 2] = ["completed", "failed"];
    let finished: Vec<&JobGroup> = s
        .jobs
        .iter()
        .filter(|g| FINAL.contains(&g.status.as_str()))
        .collect();
    let mut weights: HashMap<&str, i64> = HashMap::new();
    for g in &finished {
        if let Some(m) = g.model.as_deref() {
            *weights.entry(m).or_default() += g.count;
        }
    }
    let kept = keep(&weights);
    let mut totals: BTreeMap<&str, [i64; 2]> = BTreeMap::new();
    for g in &finished {
        let slot = totals.entry(label(g.model.as_deref(), &kept)).or_default();
        if let Some(i) = FINAL.iter().position(|f| *f == g.status) {
            slot[i] += g.count;
        }
    }
    e.family(
        "infernet_cp_jobs_total",
        Kind::Counter,
        "Jobs finished, by the model they asked for (any: none named) and status (completed or failed; a request no live node can serve fails at once). Read from the database: it counts every job the database holds, across restarts.",
    );
    for (m, counts) in &totals {
        for (status, n) in FINAL.iter().zip(counts) {
            e.sample(
                "infernet_cp_jobs_total",
                &[("model", m), ("status", status)],
                *n as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: &str, model: Option<&str>, count: i64) -> JobGroup {
        JobGroup {
            status: status.into(),
            model: model.map(str::to_string),
            count,
        }
    }

    fn text(s: &FromStore) -> String {
        let mut e = Exposition::new();
        store_series(&mut e, s);
        e.finish()
    }

    fn value(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(str::to_string)
    }

    #[test]
    fn queue_leases_nodes_and_finished_jobs() {
        let s = FromStore {
            online: 2,
            offline: 1,
            jobs: vec![
                group("pending", Some("m:1"), 3),
                group("pending", None, 1),
                group("assigned", Some("m:1"), 1),
                group("running", Some("m:2"), 2),
                group("completed", Some("m:1"), 7),
                group("failed", Some("nope"), 2),
                group("completed", None, 4),
            ],
            serving: vec![vec!["m:1".into(), "m:2".into()], vec!["m:2".into()]],
        };
        let t = text(&s);
        let v = |series: &str| value(&t, series).unwrap_or_else(|| panic!("{series}: {t}"));
        assert_eq!(v(r#"infernet_cp_nodes{state="online"}"#), "2");
        assert_eq!(v(r#"infernet_cp_nodes{state="offline"}"#), "1");
        assert_eq!(v(r#"infernet_cp_model_nodes{model="m:1"}"#), "1");
        assert_eq!(v(r#"infernet_cp_model_nodes{model="m:2"}"#), "2");
        assert_eq!(v(r#"infernet_cp_queue_depth{model="m:1"}"#), "3");
        assert_eq!(v(r#"infernet_cp_queue_depth{model="any"}"#), "1");
        // Served, nothing waiting: 0 rather than absent.
        assert_eq!(v(r#"infernet_cp_queue_depth{model="m:2"}"#), "0");
        assert_eq!(v("infernet_cp_leases_active"), "3");
        assert_eq!(
            v(r#"infernet_cp_jobs_total{model="m:1",status="completed"}"#),
            "7"
        );
        assert_eq!(
            v(r#"infernet_cp_jobs_total{model="m:1",status="failed"}"#),
            "0"
        );
        assert_eq!(
            v(r#"infernet_cp_jobs_total{model="nope",status="failed"}"#),
            "2"
        );
        assert_eq!(
            v(r#"infernet_cp_jobs_total{model="any",status="completed"}"#),
            "4"
        );
        // Running jobs are not finished ones.
        assert!(
            value(
                &t,
                r#"infernet_cp_jobs_total{model="m:2",status="completed"}"#
            )
            .is_none()
        );
        assert!(t.contains("# TYPE infernet_cp_jobs_total counter\n"), "{t}");
    }

    #[test]
    fn models_beyond_the_cap_are_summed_under_other() {
        let mut jobs: Vec<JobGroup> = (0..MAX_MODELS + 5)
            .map(|i| group("failed", Some(&format!("junk-{i:03}")), 1))
            .collect();
        jobs.push(group("completed", Some("real"), 50));
        let t = text(&FromStore {
            jobs,
            ..Default::default()
        });
        let labels = t
            .lines()
            .filter(|l| l.starts_with("infernet_cp_jobs_total{") && l.contains("status=\"failed\""))
            .count();
        assert_eq!(labels, MAX_MODELS + 1, "{MAX_MODELS} kept and (other)");
        // The most used model keeps its label; six of the ones seen once are summed.
        assert_eq!(
            value(
                &t,
                r#"infernet_cp_jobs_total{model="real",status="completed"}"#
            )
            .as_deref(),
            Some("50")
        );
        assert_eq!(
            value(
                &t,
                r#"infernet_cp_jobs_total{model="(other)",status="failed"}"#
            )
            .as_deref(),
            Some("6")
        );
    }

    #[test]
    fn an_empty_store_still_says_zero_nodes_and_leases() {
        let t = text(&FromStore::default());
        assert_eq!(
            value(&t, r#"infernet_cp_nodes{state="online"}"#).as_deref(),
            Some("0")
        );
        assert_eq!(value(&t, "infernet_cp_leases_active").as_deref(), Some("0"));
        assert!(t.contains("# TYPE infernet_cp_queue_depth gauge\n"), "{t}");
    }
}
