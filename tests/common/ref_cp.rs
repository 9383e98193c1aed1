//! A stand-in for the Infernet Protocol's own control plane, which cannot run here (a Next.js
//! app on Supabase): it answers the node tier as reference §6.1 documents, including what our
//! node must cope with: `register` keeps only the GPUs of the specs (served models arrive with
//! heartbeats), the poll never long-polls and hands the running job out again on every poll
//! until it completes. Signatures are not checked (the signing is tested against our own
//! control plane). It records what the node did, with times.
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Seen {
    pub registered_at: Option<Instant>,
    /// Each heartbeat's time and the models it carried.
    pub heartbeats: Vec<(Instant, Vec<String>)>,
    pub polls: Vec<Instant>,
    /// When the job was first handed out and when it completed.
    pub job_given: Option<Instant>,
    pub job_completed: Option<Instant>,
    pub completions: usize,
}

impl Seen {
    /// Counts, not every instant (a hot loop records thousands).
    pub fn summary(&self) -> String {
        format!(
            "registered: {}, heartbeats: {}, polls: {}, job given: {}, completions: {}",
            self.registered_at.is_some(),
            self.heartbeats.len(),
            self.polls.len(),
            self.job_given.is_some(),
            self.completions
        )
    }
}

#[derive(Clone)]
pub struct RefCp {
    pub seen: Arc<Mutex<Seen>>,
    pub changed: Arc<Notify>,
    job: Value,
}

impl RefCp {
    /// Serves on a loopback port; the job is handed out from the first poll on.
    pub async fn start(job_input: Value, model: &str) -> (Self, String) {
        let cp = RefCp {
            seen: Arc::default(),
            changed: Arc::default(),
            job: json!({
                "id": "job-1", "title": "hello", "type": "chat", "status": "assigned",
                "payment_offer": 0, "payment_coin": null, "model_name": model,
                "input_spec": job_input, "created_at": "2026-12-04T00:00:00Z"
            }),
        };
        let app = Router::new()
            .route("/api/v1/node/register", post(register))
            .route("/api/v1/node/heartbeat", post(heartbeat))
            .route(
                "/api/v1/node/me",
                post(|| async { Json(json!({"data": {"row": null}})) }),
            )
            .route("/api/v1/node/jobs/poll", post(poll))
            .route("/api/v1/node/jobs/{id}/events", post(events))
            .route("/api/v1/node/jobs/{id}/complete", post(complete))
            .route(
                "/api/v1/node/commands/poll",
                post(|| async { Json(json!({"data": {"commands": []}})) }),
            )
            .route("/api/peers", get(|| async { Json(json!({"data": []})) }))
            .with_state(cp.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (cp, url)
    }

    fn record(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen.lock().unwrap());
        self.changed.notify_waiters();
    }

    /// Waits (bounded) until `ok` holds for what was seen.
    pub async fn wait_for(&self, within: std::time::Duration, ok: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if ok(&self.seen.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "not seen within {within:?}: {}",
                    self.seen.lock().unwrap().summary()
                );
            }
        }
    }
}

async fn register(State(cp): State<RefCp>, Json(_b): Json<Value>) -> Json<Value> {
    // Theirs keeps gpus/gpu_count of the specs only: no served models from here.
    cp.record(|s| s.registered_at = Some(Instant::now()));
    Json(json!({"data": {"id": "prov-1", "node_id": "n"}}))
}

async fn heartbeat(State(cp): State<RefCp>, Json(b): Json<Value>) -> Json<Value> {
    let models: Vec<String> = b
        .pointer("/specs/served_models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    cp.record(|s| s.heartbeats.push((Instant::now(), models)));
    Json(json!({"data": {"id": "prov-1"}}))
}

async fn poll(State(cp): State<RefCp>) -> Json<Value> {
    let now = Instant::now();
    let mut give = false;
    cp.record(|s| {
        s.polls.push(now);
        give = s.job_completed.is_none();
        if give && s.job_given.is_none() {
            s.job_given = Some(now);
        }
    });
    let jobs = if give { vec![cp.job.clone()] } else { vec![] };
    Json(json!({"data": {"provider_id": "prov-1", "jobs": jobs}}))
}

async fn events(Path(_id): Path<String>, Json(b): Json<Value>) -> Json<Value> {
    let n = b["events"].as_array().map_or(0, Vec::len);
    Json(json!({"data": {"inserted": n}}))
}

async fn complete(State(cp): State<RefCp>, Path(id): Path<String>) -> Json<Value> {
    cp.record(|s| {
        s.completions += 1;
        s.job_completed.get_or_insert(Instant::now());
    });
    Json(json!({"data": {"id": id, "status": "completed"}}))
}
