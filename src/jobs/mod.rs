//! Off-chain job lifecycle: guardian -> store `running` -> pipeline -> store `success|failed`.
mod stats;
mod step;

use crate::compute::pipeline::{JobLocation, error_result, output_result};
use crate::compute::{ContainerState, HttpContainers, StateTable};
use crate::guardian::{Guardian, Rejection};
use crate::store::{JobSource, JobStatus, NewJob, SqliteStore};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
pub use stats::{JobStats, PipelineStats};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
pub use step::{Step, chat_request, run_chain};
use tokio::sync::broadcast;
use tokio_util::task::TaskTracker;

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{}", .0.message())]
    Rejected(Rejection),
    #[error("container '{container}' is {state}: {reason}")]
    Unavailable {
        container: String,
        state: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Store(#[from] crate::store::Error),
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// Facts about jobs, for the engine's event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Started {
        id: String,
        containers: Vec<String>,
        stream: bool,
    },
    Finished {
        id: String,
        status: JobStatus,
        error: Option<String>,
    },
}

#[derive(Debug, Default)]
pub struct Counters {
    pub success: AtomicU64,
    pub failed: AtomicU64,
    pub running: AtomicU64,
}

/// A validated off-chain job request.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub containers: Vec<String>,
    pub data: Value,
    pub requires_proof: bool,
}

#[derive(Clone)]
pub struct JobService {
    inner: Arc<Inner>,
}

struct Inner {
    store: SqliteStore,
    guardian: Guardian,
    steps: HashMap<String, Step>,
    states: StateTable,
    http: HttpContainers,
    stream_idle: Duration,
    tracker: TaskTracker,
    events: broadcast::Sender<JobEvent>,
    counters: Counters,
    stats: JobStats,
    /// Bytes streamed so far by running streaming jobs (the TUI shows them live).
    streaming: std::sync::Mutex<HashMap<String, u64>>,
    /// Jobs whose end could not be stored (disk full): why, served by `GET` in place of the
    /// `running` row, so the client learns the job failed and the reason is not lost.
    unstored: std::sync::Mutex<std::collections::VecDeque<(String, String)>>,
}

/// Unstored job ends remembered (oldest forgotten first).
const UNSTORED_KEPT: usize = 4096;

impl JobService {
    pub fn new(
        store: SqliteStore,
        guardian: Guardian,
        steps: HashMap<String, Step>,
        states: StateTable,
        http: HttpContainers,
        stream_idle: Duration,
        events: broadcast::Sender<JobEvent>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                guardian,
                steps,
                states,
                http,
                stream_idle,
                tracker: TaskTracker::new(),
                events,
                counters: Counters::default(),
                stats: JobStats::default(),
                streaming: std::sync::Mutex::new(HashMap::new()),
                unstored: std::sync::Mutex::new(std::collections::VecDeque::new()),
            }),
        }
    }

    fn note_streamed(&self, id: &str, bytes: u64) {
        if let Ok(mut m) = self.inner.streaming.lock() {
            m.insert(id.to_string(), bytes);
        }
    }

    /// Bytes received so far per running streaming job.
    pub fn streaming(&self) -> HashMap<String, u64> {
        self.inner
            .streaming
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn store(&self) -> &SqliteStore {
        &self.inner.store
    }

    pub fn guardian(&self) -> &Guardian {
        &self.inner.guardian
    }

    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Finished jobs per pipeline, with latency (for `/metrics`).
    pub fn stats(&self) -> &JobStats {
        &self.inner.stats
    }

    pub fn states(&self) -> &StateTable {
        &self.inner.states
    }

    pub fn http(&self) -> &HttpContainers {
        &self.inner.http
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.inner.steps.get(id)
    }

    /// Guardian rules, then every container must be ready.
    fn admit(&self, req: &JobRequest, client: IpAddr) -> Result<Vec<Step>, SubmitError> {
        if self.inner.tracker.is_closed() {
            return Err(SubmitError::ShuttingDown);
        }
        self.inner
            .guardian
            .check_offchain(&req.containers, req.requires_proof, client)
            .map_err(SubmitError::Rejected)?;
        self.ready_steps(&req.containers)
    }

    /// The steps of a pipeline, when every container is configured and ready.
    pub fn ready_steps(&self, containers: &[String]) -> Result<Vec<Step>, SubmitError> {
        let mut eps = Vec::with_capacity(containers.len());
        for id in containers {
            if let Some(st) = self.inner.states.get(id)
                && st.state != ContainerState::Ready
            {
                let state = match st.state {
                    ContainerState::Starting => "starting",
                    ContainerState::Restarting => "restarting",
                    ContainerState::Stopped => "stopped",
                    _ => "unavailable",
                };
                return Err(SubmitError::Unavailable {
                    container: id.clone(),
                    state,
                    reason: st.reason.unwrap_or_else(|| "not ready yet".into()),
                });
            }
            match self.inner.steps.get(id) {
                Some(ep) => eps.push(ep.clone()),
                None => {
                    return Err(SubmitError::Rejected(Rejection::ContainerNotSupported {
                        container: id.clone(),
                    }));
                }
            }
        }
        Ok(eps)
    }

    async fn start_record(
        &self,
        id: &str,
        client: IpAddr,
        source: JobSource,
        containers: &[String],
        input: &Value,
    ) -> Result<(), SubmitError> {
        let client = client.to_string();
        self.inner
            .store
            .insert_running(NewJob {
                id,
                client: &client,
                source,
                containers,
                input: Some(input),
            })
            .await?;
        self.inner.counters.running.fetch_add(1, Ordering::Relaxed);
        self.inner.stats.started(id, containers);
        let _ = self.inner.events.send(JobEvent::Started {
            id: id.to_string(),
            containers: containers.to_vec(),
            stream: source == JobSource::Stream,
        });
        Ok(())
    }

    async fn finish_record(&self, id: &str, ok: bool, result: Value, intermediate: Vec<Value>) {
        let mut status = if ok {
            JobStatus::Success
        } else {
            JobStatus::Failed
        };
        let mut error = result
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Err(e) = self
            .inner
            .store
            .finish(id, status, Some(result), intermediate)
            .await
        {
            tracing::error!(job = %id, error = %e, "could not store the job result");
            // The result may be what does not fit: a short failure record may still. Either
            // way the job failed: its client can no longer get the result.
            let why = format!("the result could not be stored: {e}");
            status = JobStatus::Failed;
            error = Some(why.clone());
            let short = crate::compute::pipeline::error_result("", &why);
            if let Err(e2) = self
                .inner
                .store
                .finish(id, JobStatus::Failed, Some(short), Vec::new())
                .await
            {
                tracing::error!(job = %id, error = %e2, "could not store the job's failure either; kept in memory");
                if let Ok(mut u) = self.inner.unstored.lock() {
                    if u.len() >= UNSTORED_KEPT {
                        u.pop_front();
                    }
                    u.push_back((id.to_string(), why));
                }
            }
        }
        self.inner.counters.running.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut m) = self.inner.streaming.lock() {
            m.remove(id);
        }
        let counter = if status == JobStatus::Success {
            &self.inner.counters.success
        } else {
            &self.inner.counters.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.inner.stats.finished(id, status == JobStatus::Success);
        tracing::info!(job = %id, status = status.as_str(), "job finished");
        let _ = self.inner.events.send(JobEvent::Finished {
            id: id.to_string(),
            status,
            error,
        });
    }

    /// Records job `id` and runs it to the end, returning the outcome (the delegated path needs
    /// the output to deliver it). The guardian rules are the caller's.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_recorded(
        &self,
        id: &str,
        client: IpAddr,
        source: JobSource,
        containers: &[String],
        data: Value,
        destination: JobLocation,
        requires_proof: bool,
    ) -> Result<crate::compute::pipeline::ChainOutcome, SubmitError> {
        let steps = self.ready_steps(containers)?;
        self.start_record(id, client, source, containers, &data)
            .await?;
        let out = run_chain(
            &self.inner.http,
            &steps,
            JobLocation::Offchain,
            destination,
            data,
            requires_proof,
        )
        .await;
        self.finish_record(id, out.ok, out.result.clone(), out.intermediate.clone())
            .await;
        Ok(out)
    }

    /// Accepts a job and runs it in the background; the id is returned once it is stored.
    pub async fn submit(&self, req: JobRequest, client: IpAddr) -> Result<String, SubmitError> {
        let eps = self.admit(&req, client)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.start_record(&id, client, JobSource::Rest, &req.containers, &req.data)
            .await?;
        let this = self.clone();
        let job_id = id.clone();
        self.inner.tracker.spawn(async move {
            let out = run_chain(
                &this.inner.http,
                &eps,
                JobLocation::Offchain,
                JobLocation::Offchain,
                req.data,
                req.requires_proof,
            )
            .await;
            this.finish_record(&job_id, out.ok, out.result, out.intermediate)
                .await;
        });
        Ok(id)
    }

    /// A streaming job: earlier containers run normally, the last one streams. The returned
    /// stream yields `<job-id>\n` first, then the container's bytes as they arrive.
    pub async fn submit_stream(
        &self,
        req: JobRequest,
        client: IpAddr,
    ) -> Result<
        (
            String,
            impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        ),
        SubmitError,
    > {
        let eps = self.admit(&req, client)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.start_record(&id, client, JobSource::Stream, &req.containers, &req.data)
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
        let this = self.clone();
        let job_id = id.clone();
        self.inner.tracker.spawn(async move {
            let _ = tx.send(Ok(Bytes::from(format!("{job_id}\n")))).await;
            let (last, earlier) = match eps.split_last() {
                Some(x) => x,
                None => return,
            };
            let mut intermediate = Vec::new();
            let mut data = req.data;
            if !earlier.is_empty() {
                let out = run_chain(
                    &this.inner.http,
                    earlier,
                    JobLocation::Offchain,
                    JobLocation::Offchain,
                    data,
                    req.requires_proof,
                )
                .await;
                if !out.ok {
                    let mut inter = out.intermediate;
                    inter.push(out.result.clone());
                    let reason = out
                        .result
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    this.finish_record(
                        &job_id,
                        false,
                        error_result(last.id(), &format!("an earlier container failed: {reason}")),
                        inter,
                    )
                    .await;
                    return;
                }
                data = out.result.get("output").cloned().unwrap_or(Value::Null);
                intermediate = out.intermediate;
                intermediate.push(out.result);
            }
            let mut collected: Vec<u8> = Vec::new();
            let mut client_gone = false;
            let outcome = match last
                .stream(
                    &this.inner.http,
                    data,
                    req.requires_proof,
                    this.inner.stream_idle,
                )
                .await
            {
                Err(e) => Err(e.reason),
                Ok(stream) => {
                    let mut stream = Box::pin(stream);
                    let mut failure = None;
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(chunk) => {
                                collected.extend_from_slice(&chunk);
                                this.note_streamed(&job_id, collected.len() as u64);
                                if !client_gone && tx.send(Ok(chunk)).await.is_err() {
                                    // Keep collecting: the result is stored even if the client left.
                                    client_gone = true;
                                    tracing::debug!(job = %job_id, "stream client disconnected");
                                }
                            }
                            Err(e) => {
                                failure = Some(e.reason);
                                break;
                            }
                        }
                    }
                    match failure {
                        Some(f) => Err(f),
                        None => Ok(()),
                    }
                }
            };
            let text = String::from_utf8_lossy(&collected).into_owned();
            match outcome {
                Ok(()) => {
                    this.finish_record(
                        &job_id,
                        true,
                        output_result(last.id(), json!({"output": text})),
                        intermediate,
                    )
                    .await;
                }
                Err(reason) => {
                    let _ = tx.send(Err(std::io::Error::other(reason.clone()))).await;
                    this.finish_record(
                        &job_id,
                        false,
                        error_result(last.id(), &reason),
                        intermediate,
                    )
                    .await;
                }
            }
        });
        let mut rx = rx;
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok((id, stream))
    }

    /// `PUT /api/status` from an independent container.
    pub async fn record_status(
        &self,
        id: &str,
        client: IpAddr,
        status: JobStatus,
        containers: &[String],
    ) -> Result<(), crate::store::Error> {
        self.inner
            .store
            .record_status(id, &client.to_string(), status, containers)
            .await
    }

    pub async fn list(
        &self,
        client: IpAddr,
        pending: Option<bool>,
    ) -> Result<Vec<String>, crate::store::Error> {
        self.inner
            .store
            .list_ids(&client.to_string(), pending)
            .await
    }

    /// `client`'s results for `ids` within `max_bytes` of stored results (see
    /// [`crate::store::SqliteStore::get_bounded`]).
    pub async fn get(
        &self,
        client: IpAddr,
        ids: &[String],
        intermediate: bool,
        max_bytes: usize,
    ) -> Result<crate::store::Bounded, crate::store::Error> {
        let mut got = self
            .inner
            .store
            .get_bounded(Some(&client.to_string()), ids, intermediate, max_bytes)
            .await?;
        if let Ok(u) = self.inner.unstored.lock()
            && !u.is_empty()
        {
            for r in got
                .records
                .iter_mut()
                .filter(|r| r.status == JobStatus::Running)
            {
                if let Some((_, why)) = u.iter().rev().find(|(id, _)| *id == r.id) {
                    r.status = JobStatus::Failed;
                    r.result = Some(crate::compute::pipeline::error_result("", why));
                }
            }
        }
        Ok(got)
    }

    /// Stops accepting jobs and waits up to `grace` for running ones.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.inner.tracker.close();
        tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_ok()
    }
}
