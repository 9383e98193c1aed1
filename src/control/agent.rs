//! The node side of a control plane (reference §3.2–§3.6, fixed as §12.1 asks): register,
//! heartbeat with specs and load (incl. `concurrency_cap`), long-poll for chat jobs and run
//! them concurrently on the local backends (events batched at 16 or 250 ms, in-flight ids
//! never run twice, `complete` retried idempotently), node commands with progress, jittered
//! intervals with backoff, and on stop: no new jobs, running ones finish, offline heartbeat.
use super::client::{CpClient, CpError, NodeKey};
use super::status::{ControlSnapshot, ControlStatus, PeerInfo};
use crate::backend::{Backends, ChatBackend, ChatEvent, ChatRequest, DoneReason, Message};
use crate::config::ControlPlaneConfig;
use futures::StreamExt;
use infernet_core::agent::{self as life, Effect, Event, Pace};
use infernet_core::wire::Role;
use infernet_core::wire::chat::ChatMessage;
use infernet_core::wire::commands::{
    CommandAck, CommandPoll, CommandResult, Commands, Installed, NodeCommand, Progress,
    RemovedModel,
};
use infernet_core::wire::events::{DoneData, ErrorData, MetaData, TokenData, Usage};
use infernet_core::wire::jobs::{
    AssignedJob, ChatResult, CompleteAck, Completion, EventsAck, InputSpec, JobEvent, JobEvents,
    JobPoll, Jobs,
};
use infernet_core::wire::node::{
    Availability, Heartbeat, HeartbeatAck, Me, Register, Registered, RoleBody,
};
use infernet_core::wire::public::Peer;
use infernet_core::wire::specs::{self as wspecs, NodeSpecs};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const SHORT: Duration = Duration::from_secs(15);

/// The peer list is refreshed every 10 s, ±10 % (it drives no lifecycle, only the panel).
const PEERS_EVERY: crate::retry::Backoff =
    crate::retry::Backoff::new(Duration::from_secs(10), Duration::from_secs(10))
        .with_jitter(crate::retry::Jitter::Around(0.1));

/// A job's event batches and its `complete` are retried sooner than the lifecycle's calls:
/// the lease runs while they wait.
const EVENTS_RETRY: crate::retry::Backoff =
    crate::retry::Backoff::new(Duration::from_secs(2), Duration::from_secs(5))
        .with_jitter(crate::retry::Jitter::Around(0.1));
const COMPLETE_RETRY: crate::retry::Backoff =
    crate::retry::Backoff::new(Duration::from_secs(2), Duration::from_secs(10))
        .with_jitter(crate::retry::Jitter::Around(0.1));

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.05))
}

fn pace(cfg: &ControlPlaneConfig) -> Pace {
    Pace {
        heartbeat: secs(cfg.heartbeat_interval),
        poll_interval: secs(cfg.poll_interval),
        poll_wait: secs(cfg.poll_wait),
        command_interval: secs(cfg.command_interval),
    }
}

/// The wait the machine asked one loop for, if it asked (none while draining: the loop ends).
fn register_wait(fx: &[Effect]) -> Option<Duration> {
    fx.iter().find_map(|e| match e {
        Effect::Register { after } => Some(*after),
        _ => None,
    })
}
fn heartbeat_wait(fx: &[Effect]) -> Option<Duration> {
    fx.iter().find_map(|e| match e {
        Effect::Heartbeat { after } => Some(*after),
        _ => None,
    })
}
fn poll_wait(fx: &[Effect]) -> Option<Duration> {
    fx.iter().find_map(|e| match e {
        Effect::Poll { after } => Some(*after),
        _ => None,
    })
}
fn commands_wait(fx: &[Effect]) -> Option<Duration> {
    fx.iter().find_map(|e| match e {
        Effect::PollCommands { after } => Some(*after),
        _ => None,
    })
}

/// The first waits of the three paced loops, from the registration's effects.
#[derive(Debug, Clone, Copy)]
struct FirstWaits {
    heartbeat: Duration,
    poll: Duration,
    commands: Duration,
}

/// What the node serves: model name → backend that serves it.
#[derive(Debug, Default, Clone)]
struct Served {
    by_model: Vec<(String, Arc<dyn ChatBackend>)>,
    at: Option<Instant>,
}

impl Served {
    fn names(&self) -> Vec<String> {
        self.by_model.iter().map(|(m, _)| m.clone()).collect()
    }
    fn backend(&self, model: Option<&str>) -> Option<(String, Arc<dyn ChatBackend>)> {
        match model {
            Some(m) => self.by_model.iter().find(|(n, _)| n == m).cloned(),
            None => self.by_model.first().cloned(),
        }
    }
}

pub struct Agent {
    cfg: ControlPlaneConfig,
    client: CpClient,
    backends: Backends,
    role: Role,
    node_id: String,
    name: String,
    pub status: Arc<ControlStatus>,
    /// The lifecycle: every wait and every status change below is its decision.
    life: Mutex<life::Agent>,
    served: Mutex<Served>,
    gpu: Mutex<Option<(Instant, crate::system::gpu::Report)>>,
    in_flight: Mutex<HashSet<String>>,
    slots: Arc<Semaphore>,
    /// Stops taking jobs and commands (drain); the loops end.
    intake: CancellationToken,
    /// Stops everything (after the drain).
    stop: CancellationToken,
    /// Cancels running jobs when the drain's grace ran out.
    abort_jobs: CancellationToken,
    beat_now: Notify,
    jobs: TaskTracker,
    bench: Mutex<Vec<f64>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("url", &self.client.base())
            .field("node_id", &self.node_id)
            .finish()
    }
}

/// `<role>-<first 8 hex of the public key>`, stable for an identity.
pub fn default_node_id(role: &str, public_key: &str) -> String {
    format!("{role}-{}", &public_key[..8.min(public_key.len())])
}

impl Agent {
    fn new(
        cfg: &ControlPlaneConfig,
        key: NodeKey,
        backends: Backends,
        default_name: &str,
    ) -> Agent {
        let public_key = key.public_key();
        let node_id = if cfg.node_id.is_empty() {
            default_node_id(&cfg.role, &public_key)
        } else {
            cfg.node_id.clone()
        };
        let name = if cfg.name.is_empty() {
            default_name.to_string()
        } else {
            cfg.name.clone()
        };
        // The config's checks admit only the three roles; a role that slipped past them is
        // reported, and the node joins as a provider.
        let role = Role::parse(&cfg.role).unwrap_or_else(|e| {
            tracing::error!(error = %e, "control_plane.role; joining as a provider");
            Role::Provider
        });
        let status = Arc::new(ControlStatus::new(ControlSnapshot {
            url: cfg.url.clone(),
            node_id: node_id.clone(),
            public_key,
            state: life::Phase::Connecting,
            concurrency_cap: cfg.concurrency_cap,
            ..Default::default()
        }));
        Agent {
            client: CpClient::new(&cfg.url, key),
            cfg: cfg.clone(),
            backends,
            role,
            node_id,
            name,
            status,
            life: Mutex::new(life::Agent::new(pace(cfg))),
            served: Mutex::new(Served::default()),
            gpu: Mutex::new(None),
            in_flight: Mutex::new(HashSet::new()),
            slots: Arc::new(Semaphore::new(cfg.concurrency_cap.max(1) as usize)),
            intake: CancellationToken::new(),
            stop: CancellationToken::new(),
            abort_jobs: CancellationToken::new(),
            beat_now: Notify::new(),
            jobs: TaskTracker::new(),
            bench: Mutex::new(Vec::new()),
        }
    }

    /// Starts the loops (registration retries with backoff until it succeeds or the node
    /// stops).
    pub fn spawn(
        cfg: &ControlPlaneConfig,
        key: NodeKey,
        backends: Backends,
        default_name: &str,
        sup: &crate::supervise::Supervisor,
    ) -> Arc<Agent> {
        let mut agent = Self::new(cfg, key, backends, default_name);
        // The engine's cancel (a dropped handle) ends the loops too.
        agent.intake = sup.cancel_token().child_token();
        let agent = Arc::new(agent);
        let a = agent.clone();
        sup.restart(
            "control-plane-agent",
            crate::supervise::Backoff::default(),
            move |_| a.clone().run(),
        );
        agent
    }

    /// The failure that keeps a node from joining (no identity): shown, never a crash.
    pub fn unavailable(cfg: &ControlPlaneConfig, why: &str) -> Arc<ControlStatus> {
        tracing::error!(url = %cfg.url, "control plane not joined: {why}");
        Arc::new(ControlStatus::new(ControlSnapshot {
            url: cfg.url.clone(),
            state: life::Phase::Error,
            last_error: Some(why.to_string()),
            ..Default::default()
        }))
    }

    /// Feeds the lifecycle one event, shows its view in the status, and returns what to do.
    fn decide(&self, event: Event) -> Vec<Effect> {
        let mut m = self.life.lock().unwrap_or_else(|e| e.into_inner());
        let fx = m.handle(event, rand::random::<f64>());
        let v = m.view().clone();
        drop(m);
        self.status.update(|s| {
            s.state = v.phase;
            s.registered = v.registered;
            s.draining = v.draining;
            s.last_error = v.last_error;
            s.heartbeats_ok = v.heartbeats_ok;
            s.heartbeats_failed = v.heartbeats_failed;
            s.last_heartbeat_ms = v.last_heartbeat_ms;
            s.polls = v.polls;
        });
        fx
    }

    /// Sleeps `d`; false when the intake closed first (the loop ends).
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.intake.cancelled() => false,
        }
    }

    /// Registers, then runs the four loops until the node stops. A loop that ends or panics
    /// before that stops the others and is the run's error: the supervisor starts the agent
    /// again (registering anew) after a backoff. Jobs in flight live on, in `self.jobs`.
    async fn run(self: Arc<Self>) -> Result<(), String> {
        let fx = self.registration(self.decide(Event::Start)).await;
        if !fx.contains(&Effect::StartLoops) {
            return Ok(());
        }
        let first = FirstWaits {
            heartbeat: heartbeat_wait(&fx).unwrap_or_default(),
            poll: poll_wait(&fx).unwrap_or_default(),
            commands: commands_wait(&fx).unwrap_or_default(),
        };
        let (a, b, c, d) = (self.clone(), self.clone(), self.clone(), self.clone());
        let mut loops = tokio::task::JoinSet::new();
        let mut names = HashMap::new();
        names.insert(
            loops
                .spawn(async move { a.heartbeat_loop(first.heartbeat).await })
                .id(),
            "heartbeat",
        );
        names.insert(
            loops
                .spawn(async move { b.job_loop(first.poll).await })
                .id(),
            "job",
        );
        names.insert(
            loops
                .spawn(async move { c.command_loop(first.commands).await })
                .id(),
            "command",
        );
        names.insert(
            loops.spawn(async move { d.peers_loop().await }).id(),
            "peers",
        );
        let Some(first) = loops.join_next_with_id().await else {
            return Ok(());
        };
        if self.intake.is_cancelled() {
            while loops.join_next().await.is_some() {}
            return Ok(());
        }
        let (id, how) = crate::supervise::loop_ended(first);
        let name = names.get(&id).copied().unwrap_or("agent").to_string();
        let mut failed = None;
        for e in self.decide(Event::LoopEnded { name, how }) {
            match e {
                Effect::CloseIntake => loops.abort_all(),
                Effect::Fail(why) => failed = Some(why),
                _ => {}
            }
        }
        while loops.join_next().await.is_some() {}
        failed.map_or(Ok(()), Err)
    }

    /// Carries out registrations while the machine asks for them; returns the effects of the
    /// last outcome (empty when the node stopped first).
    async fn registration(&self, mut fx: Vec<Effect>) -> Vec<Effect> {
        while let Some(after) = register_wait(&fx) {
            if !self.pause(after).await {
                return Vec::new();
            }
            fx = match self.register().await {
                Ok(()) => self.decide(Event::RegisterOk {
                    at_ms: crate::store::now_ms(),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "control-plane registration failed; retrying");
                    self.decide(Event::RegisterFailed(e.to_string()))
                }
            };
        }
        fx
    }

    // ---- registration and heartbeat ----

    async fn refresh_served(&self, force: bool) -> Served {
        {
            let s = self.served.lock().unwrap_or_else(|e| e.into_inner());
            if !force && s.at.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                return s.clone();
            }
        }
        let mem = crate::system::Memory::probe();
        let mut by_model: Vec<(String, Arc<dyn ChatBackend>)> = Vec::new();
        for b in self.backends.all() {
            let mut names: Vec<String> = Vec::new();
            match tokio::time::timeout(Duration::from_secs(5), b.models()).await {
                Ok(Ok(models)) => {
                    for m in models {
                        // Only what fits this box (unknown sizes pass).
                        if mem.fits(m.size_bytes) != Some(false) {
                            names.push(m.name);
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(backend = %b.id(), error = %e, "backend lists no models")
                }
                Err(_) => tracing::debug!(backend = %b.id(), "backend model list timed out"),
            }
            // Only what the backend itself lists: a configured name it does not list (or a
            // backend that does not answer) would take jobs that then fail.
            for n in names {
                if !by_model.iter().any(|(m, _)| *m == n) {
                    by_model.push((n, b.clone()));
                }
            }
        }
        let served = Served {
            by_model,
            at: Some(Instant::now()),
        };
        let changed = {
            let mut s = self.served.lock().unwrap_or_else(|e| e.into_inner());
            let changed = s.names() != served.names();
            *s = served.clone();
            changed
        };
        if changed {
            self.status.update(|s| s.served_models = served.names());
        }
        served
    }

    async fn gpu_report(&self) -> Option<crate::system::gpu::Report> {
        if let Some((t, r)) = self.gpu.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && t.elapsed() < Duration::from_secs(300)
        {
            return Some(r.clone());
        }
        let r = tokio::task::spawn_blocking(crate::system::gpu::probe)
            .await
            .ok()?;
        *self.gpu.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), r.clone()));
        Some(r)
    }

    async fn specs(&self, force_models: bool) -> NodeSpecs {
        let served = self.refresh_served(force_models).await;
        let active = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let mut specs = NodeSpecs::default();
        if let Some(r) = self.gpu_report().await {
            hardware_specs(&mut specs, &r);
        }
        let load = sysinfo::System::load_average();
        specs.load.active_jobs = active as u64;
        specs.load.concurrency_cap = self.cfg.concurrency_cap;
        specs.load.load_avg_1m = load.one;
        specs.load.measured_at = crate::backend::now_rfc3339();
        specs.served_models = served.names();
        specs.cli_version = Some(env!("CARGO_PKG_VERSION").to_string());
        let bench = self.bench.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !bench.is_empty() {
            specs.bench = Some(wspecs::Bench {
                tokens_per_second_avg: bench.iter().sum::<f64>() / bench.len() as f64,
                samples: bench.len() as u64,
            });
        }
        specs
    }

    /// The advertised address (none when empty: outbound only) and port.
    fn endpoint(&self) -> (Option<String>, Option<i64>) {
        let address = (!self.cfg.address.is_empty()).then(|| self.cfg.address.clone());
        (address, self.cfg.port.map(i64::from))
    }

    async fn register(&self) -> Result<(), CpError> {
        let (address, port) = self.endpoint();
        let body = Register {
            role: self.role,
            node_id: self.node_id.clone(),
            name: Some(self.name.clone()),
            address,
            port,
            specs: Some(self.specs(true).await),
            gpu_model: None,
            price: self.cfg.price.map(serde_json::Value::from),
        };
        let data: Registered = self
            .client
            .call("/api/v1/node/register", &body, SHORT)
            .await?;
        let id = (!data.id.is_empty()).then_some(data.id);
        tracing::info!(url = %self.client.base(), node_id = %self.node_id, "registered with the control plane");
        self.status.update(|s| s.provider_id = id);
        Ok(())
    }

    async fn heartbeat(&self, offline: bool) -> Result<(), CpError> {
        let (address, port) = self.endpoint();
        let mut body = Heartbeat {
            role: self.role,
            address,
            port,
            status: Some(Availability::Offline),
            specs: None,
            jobs: None,
        };
        if !offline {
            body.status = Some(Availability::Available);
            body.specs = Some(self.specs(false).await);
            let running: Vec<String> = self
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            body.jobs = Some(running);
        }
        self.client
            .call::<_, HeartbeatAck>("/api/v1/node/heartbeat", &body, SHORT)
            .await
            .map(|_| ())
    }

    async fn heartbeat_loop(&self, mut wait: Duration) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.beat_now.notified() => {}
                _ = self.intake.cancelled() => return,
            }
            let fx = match self.heartbeat(false).await {
                Ok(()) => self.decide(Event::HeartbeatOk {
                    at_ms: crate::store::now_ms(),
                }),
                // The server forgot us (removed, or a new database): register again.
                Err(e) if e.status() == Some(404) => self.decide(Event::Forgotten),
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    self.decide(Event::HeartbeatFailed(e.to_string()))
                }
            };
            match heartbeat_wait(&self.registration(fx).await) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    // ---- jobs ----

    async fn job_loop(self: &Arc<Self>, mut wait: Duration) {
        let wait_ms = (self.cfg.poll_wait * 1000.0) as u64;
        loop {
            if !self.pause(wait).await {
                return;
            }
            // Wait for a free slot before asking for work.
            let permit = tokio::select! {
                p = self.slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = self.intake.cancelled() => return,
            };
            let free = self.slots.available_permits() + 1;
            drop(permit);
            let started = Instant::now();
            let body = JobPoll {
                limit: Some(free as i64),
                wait_ms: Some(wait_ms),
            };
            let timeout = Duration::from_millis(wait_ms) + SHORT;
            let r = tokio::select! {
                r = self.client.call::<_, Jobs<AssignedJob>>("/api/v1/node/jobs/poll", &body, timeout) => r,
                _ = self.intake.cancelled() => return,
            };
            let event = match r {
                Ok(data) => {
                    let mut new = 0;
                    for j in data.jobs {
                        new += usize::from(self.start_job(j).await);
                    }
                    // Only jobs started here count: a job the server hands out again while
                    // it runs is no reason to ask again at once.
                    Event::Polled {
                        jobs: new,
                        waited: started.elapsed(),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "job poll failed");
                    Event::PollFailed(e.to_string())
                }
            };
            match poll_wait(&self.decide(event)) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    /// Starts `job` unless it is already running here; true when it started.
    async fn start_job(self: &Arc<Self>, job: AssignedJob) -> bool {
        if job.id.is_empty() {
            return false;
        }
        let id = job.id.clone();
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone())
        {
            tracing::debug!(job = %id, "job already running here; not started twice");
            return false;
        }
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return false;
        };
        self.status.update(|s| {
            s.jobs_picked += 1;
            s.active_jobs.push(id.clone());
        });
        let a = self.clone();
        self.jobs.spawn(async move {
            let ok = a.run_job(&id, &job).await;
            drop(permit);
            a.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            a.status.update(|s| {
                s.active_jobs.retain(|j| j != &id);
                match ok {
                    Some(true) => s.jobs_completed += 1,
                    Some(false) => s.jobs_failed += 1,
                    None => s.jobs_lost += 1,
                }
            });
        });
        true
    }

    /// Runs one chat job: Some(true) completed, Some(false) failed, None when the lease was
    /// lost (another node has it now) or the node stopped first.
    async fn run_job(&self, id: &str, job: &AssignedJob) -> Option<bool> {
        let spec = match InputSpec::deserialize(&job.input_spec) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .fail(id, &format!("the job's input_spec is malformed: {e}"))
                    .await;
            }
        };
        let model = job.model_name.clone();
        let served = self.refresh_served(false).await;
        let Some((model_name, backend)) = served.backend(model.as_deref()) else {
            let msg = format!(
                "this node does not serve '{}' (serves: {})",
                model.as_deref().unwrap_or("any model"),
                served.names().join(", ")
            );
            return self.fail(id, &msg).await;
        };
        if spec.messages.is_empty() {
            return self.fail(id, "the job has no messages").await;
        }
        let req = ChatRequest {
            id: id.to_string(),
            messages: spec
                .messages
                .iter()
                .map(|m: &ChatMessage| Message::new(&m.role, &m.content))
                .collect(),
            model: Some(model_name.clone()),
            temperature: spec.temperature,
            max_tokens: spec.max_tokens().map(|n| n.min(u32::MAX as u64) as u32),
        };
        let cancel = self.abort_jobs.child_token();
        let mut stream = backend.chat(req, cancel.clone());
        let started = Instant::now();
        let path = format!("/api/v1/node/jobs/{id}/events");
        let mut batch = super::batch::Batch::default();
        let mut tokens = 0u64;
        let mut outcome: Option<Result<ChatResult, String>> = None;
        loop {
            let due = batch.deadline();
            let flush_at = tokio::time::Instant::from_std(due.unwrap_or_else(Instant::now));
            let ev = tokio::select! {
                ev = stream.next() => ev,
                _ = tokio::time::sleep_until(flush_at), if due.is_some() => {
                    if !self.flush(&path, batch.take(), &cancel).await { return None; }
                    continue;
                }
            };
            let Some(ev) = ev else { break };
            if matches!(ev, ChatEvent::Token { .. }) {
                tokens += 1;
            }
            let (event, urgent, end) = self.job_event(ev, tokens, started);
            if end.is_some() {
                outcome = end;
            }
            if batch.push(event, urgent, Instant::now())
                && !self.flush(&path, batch.take(), &cancel).await
            {
                return None;
            }
        }
        if !batch.is_empty() && !self.flush(&path, batch.take(), &cancel).await {
            return None;
        }
        if cancel.is_cancelled() {
            // Stopped before the end: the lease runs out and another node runs it.
            return None;
        }
        let outcome =
            outcome.unwrap_or_else(|| Err("the backend ended the stream without a result".into()));
        if outcome.is_ok() {
            let secs = started.elapsed().as_secs_f64();
            if tokens > 0 && secs > 0.0 {
                let mut b = self.bench.lock().unwrap_or_else(|e| e.into_inner());
                b.push(tokens as f64 / secs);
                let n = b.len();
                if n > 32 {
                    b.drain(..n - 32);
                }
            }
        }
        let body = match outcome {
            Ok(result) => Completion::completed(result),
            Err(e) => Completion::failed(e),
        };
        self.complete(id, &body).await
    }

    /// A backend's event as the job event to post (true: post it now), and the job's
    /// outcome when the event ends it.
    fn job_event(
        &self,
        ev: ChatEvent,
        tokens: u64,
        started: Instant,
    ) -> (JobEvent, bool, Option<Result<ChatResult, String>>) {
        match ev {
            ChatEvent::Meta {
                model,
                backend,
                started_at,
                ..
            } => {
                let meta = MetaData {
                    provider_node_id: Some(self.node_id.clone()),
                    provider_name: Some(self.name.clone()),
                    model: Some(model),
                    started_at: Some(started_at),
                    engine: Some(backend),
                };
                (JobEvent::Meta(meta), true, None)
            }
            ChatEvent::Token { text, .. } => (JobEvent::Token(TokenData { text }), false, None),
            ChatEvent::Done {
                reason,
                text,
                usage,
                finished_at,
                ..
            } => {
                let usage = usage.map(|u| Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                });
                let result = ChatResult {
                    kind: "chat".into(),
                    text: Some(text.clone()),
                    token_count: usage.map(|u| u.completion_tokens).unwrap_or(tokens),
                    duration_ms: started.elapsed().as_millis() as u64,
                    completed_by: self.node_id.clone(),
                    usage,
                };
                let done = DoneData {
                    text: Some(text),
                    reason: Some(reason_name(reason).to_string()),
                    finished_at: Some(finished_at),
                    // Sent as null when the backend reported none.
                    usage: Some(usage),
                };
                (JobEvent::Done(done), true, Some(Ok(result)))
            }
            ChatEvent::Error { message, .. } => {
                let data = ErrorData {
                    message: Some(message.clone()),
                };
                (JobEvent::Error(data), true, Some(Err(message)))
            }
        }
    }

    /// Posts a batch of events; false when the job is no longer ours (lease lost: the
    /// backend is cancelled) or the node is stopping.
    async fn flush(&self, path: &str, events: Vec<JobEvent>, cancel: &CancellationToken) -> bool {
        let body = JobEvents { events };
        let mut failures = 0;
        loop {
            match self.client.call::<_, EventsAck>(path, &body, SHORT).await {
                Ok(_) => return true,
                Err(e) if e.retryable() && failures < 5 && !cancel.is_cancelled() => {
                    failures += 1;
                    tracing::warn!(error = %e, "could not post job events; retrying");
                    tokio::time::sleep(EVENTS_RETRY.delay(failures)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "job events refused; the job was given to another node");
                    cancel.cancel();
                    return false;
                }
            }
        }
    }

    async fn fail(&self, id: &str, msg: &str) -> Option<bool> {
        let path = format!("/api/v1/node/jobs/{id}/events");
        let ev = JobEvents {
            events: vec![JobEvent::Error(ErrorData {
                message: Some(msg.to_string()),
            })],
        };
        let _ = self.client.call::<_, EventsAck>(&path, &ev, SHORT).await;
        self.complete(id, &Completion::failed(msg.to_string()))
            .await
    }

    /// `complete`, retried on transport errors; the server makes repeats no-ops.
    async fn complete(&self, id: &str, body: &Completion<ChatResult>) -> Option<bool> {
        let path = format!("/api/v1/node/jobs/{id}/complete");
        let ok = body.status.is_ok();
        let mut failures = 0;
        loop {
            match self.client.call::<_, CompleteAck>(&path, body, SHORT).await {
                Ok(_) => return Some(ok),
                Err(e) if e.retryable() && failures < 8 && !self.stop.is_cancelled() => {
                    failures += 1;
                    tracing::warn!(job = %id, error = %e, "complete failed; retrying");
                    tokio::time::sleep(COMPLETE_RETRY.delay(failures)).await;
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "complete refused");
                    return None;
                }
            }
        }
    }

    // ---- node commands ----

    async fn command_loop(self: &Arc<Self>, mut wait: Duration) {
        loop {
            if !self.pause(wait).await {
                return;
            }
            let poll = CommandPoll { limit: Some(5) };
            let event = match self
                .client
                .call::<_, Commands>("/api/v1/node/commands/poll", &poll, SHORT)
                .await
            {
                Ok(data) => {
                    for c in data.commands {
                        // Commands run side by side, not blocking each other or the poll.
                        let a = self.clone();
                        self.jobs.spawn(async move { a.run_command(c).await });
                    }
                    Event::CommandsPolled
                }
                Err(e) => {
                    tracing::debug!(error = %e, "command poll failed");
                    Event::CommandsFailed(e.to_string())
                }
            };
            match commands_wait(&self.decide(event)) {
                Some(w) => wait = w,
                None => return,
            }
        }
    }

    async fn run_command(&self, c: NodeCommand) {
        let NodeCommand { id, command, args } = c;
        let model = args.model;
        tracing::info!(command = %command, model = %model, "node command received");
        let backend = self
            .backends
            .all()
            .iter()
            .find(|b| b.kind() == crate::backend::BackendKind::Ollama)
            .or_else(|| self.backends.all().first())
            .cloned();
        let result: Result<CommandResult, String> = match (command.as_str(), backend) {
            (_, None) => Err("this node has no LLM backend configured".into()),
            ("model_install", Some(b)) => self.install(&id, &model, b).await,
            ("model_remove", Some(b)) => b
                .remove(&model)
                .await
                .map(|_| {
                    CommandResult::Removed(RemovedModel {
                        removed: model.clone(),
                        backend: b.id().to_string(),
                    })
                })
                .map_err(|e| e.to_string()),
            (v, _) => Err(format!("unknown command '{v}'")),
        };
        let ok = result.is_ok();
        let body = match result {
            Ok(r) => Completion::completed(r),
            Err(e) => Completion::failed(e),
        };
        if let Err(e) = self
            .client
            .call::<_, CompleteAck>(
                &format!("/api/v1/node/commands/{id}/complete"),
                &body,
                SHORT,
            )
            .await
        {
            tracing::warn!(error = %e, "could not report the command's result");
        }
        self.status.update(|s| s.commands_run += 1);
        if ok {
            // Capabilities changed: tell the server now, not at the next beat.
            self.refresh_served(true).await;
            self.beat_now.notify_one();
        }
    }

    /// Pulls through the backend, posting progress at most every 2 s (and on phase changes);
    /// a `cancelled` status echoed by the server stops it.
    async fn install(
        &self,
        id: &str,
        model: &str,
        b: Arc<dyn ChatBackend>,
    ) -> Result<CommandResult, String> {
        let path = format!("/api/v1/node/commands/{id}/progress");
        let mut stream = b.pull(model);
        let mut last: Option<(Instant, String)> = None;
        let mem = crate::system::Memory::probe();
        while let Some(p) = stream.next().await {
            let p = p.map_err(|e| e.to_string())?;
            // Refuse what cannot load here (the reference's installs OOMed on load).
            if mem.fits(p.total) == Some(false) {
                return Err(format!(
                    "'{model}' does not fit this node: {} is more than {} ({})",
                    crate::system::gb(p.total.unwrap_or(0)),
                    crate::system::gb(mem.fit_limit_bytes()),
                    mem.rule()
                ));
            }
            let due = last.as_ref().is_none_or(|(t, phase)| {
                t.elapsed() >= Duration::from_secs(2) || *phase != p.status
            });
            if due {
                let pct = match (p.completed, p.total) {
                    (Some(c), Some(t)) if t > 0 => Some((c as f64 / t as f64 * 100.0).round()),
                    _ => None,
                };
                let body = Progress {
                    status: "running".into(),
                    phase: p.status.clone(),
                    total: p.total,
                    completed: p.completed,
                    pct,
                };
                if let Ok(r) = self.client.call::<_, CommandAck>(&path, &body, SHORT).await
                    && r.status == "cancelled"
                {
                    return Err("cancelled by the operator".into());
                }
                last = Some((Instant::now(), p.status.clone()));
            }
        }
        Ok(CommandResult::Installed(Installed {
            installed: model.to_string(),
            backend: b.id().to_string(),
        }))
    }

    // ---- peers ----

    async fn peers_loop(&self) {
        loop {
            // Entry by entry: one the server describes oddly does not hide the others.
            if let Ok(list) = self
                .client
                .get::<Vec<Value>>("/api/peers?limit=100", SHORT)
                .await
            {
                let peers: Vec<PeerInfo> = list
                    .iter()
                    .filter_map(|p| Peer::deserialize(p).ok())
                    .map(|p| PeerInfo {
                        public_key: p.pubkey,
                        node_id: p.node_id,
                        name: p.name.unwrap_or_default(),
                        status: p.status,
                        last_seen_ms: p.last_seen_ms,
                        models: p.served_models,
                        active_jobs: p.active_jobs,
                    })
                    .collect();
                self.status.update(|s| s.peers = peers);
            }
            if !self.pause(PEERS_EVERY.delay(1)).await {
                return;
            }
        }
    }

    // ---- stop ----

    /// Stops taking jobs, lets running ones finish within `grace` (then cancels them: their
    /// leases lapse and other nodes re-run them), and says goodbye with an offline heartbeat.
    pub async fn drain(&self, grace: Duration) {
        if self.decide(Event::Drain).contains(&Effect::CloseIntake) {
            self.intake.cancel();
        }
        self.jobs.close();
        if tokio::time::timeout(grace, self.jobs.wait()).await.is_err() {
            tracing::warn!(
                "control-plane jobs still running after the grace period; cancelled (they will be re-run elsewhere)"
            );
            self.abort_jobs.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), self.jobs.wait()).await;
        }
        self.stop.cancel();
        if self.decide(Event::Drained).contains(&Effect::SendOffline) {
            match tokio::time::timeout(Duration::from_secs(5), self.heartbeat(true)).await {
                Ok(Ok(())) => tracing::info!("offline heartbeat sent"),
                Ok(Err(e)) => tracing::warn!(error = %e, "offline heartbeat failed"),
                Err(_) => tracing::warn!("offline heartbeat timed out"),
            }
        }
    }
}

/// Registers (or re-registers, pushing fresh specs) once and returns the server's row
/// (`infernet register` / `update`).
pub async fn register_once(
    cfg: &ControlPlaneConfig,
    key: NodeKey,
    backends: Backends,
    default_name: &str,
) -> Result<Value, CpError> {
    let agent = Agent::new(cfg, key, backends, default_name);
    agent.register().await?;
    // The row as the server sent it (the reference's has more columns than ours).
    let me: Me<Value> = agent
        .client
        .call("/api/v1/node/me", &RoleBody { role: agent.role }, SHORT)
        .await?;
    Ok(me.row.unwrap_or(Value::Null))
}

/// Removes this node from the control plane (`infernet remove`).
pub async fn remove_once(cfg: &ControlPlaneConfig, key: NodeKey) -> Result<Value, CpError> {
    let role = Role::parse(&cfg.role).map_err(|e| CpError::Local(e.to_string()))?;
    CpClient::new(&cfg.url, key)
        .post("/api/v1/node/remove", &RoleBody { role }, SHORT)
        .await
}

/// The hardware part of the specs, coarsened (VRAM tiers, GB to one decimal).
fn hardware_specs(specs: &mut NodeSpecs, r: &crate::system::gpu::Report) {
    let gpus: Vec<wspecs::Gpu> = r
        .gpus
        .iter()
        .map(|g| wspecs::Gpu {
            vendor: g.vendor.to_ascii_lowercase(),
            vram_tier: g.vram_tier.clone(),
            model: g.model.clone(),
        })
        .collect();
    let vram_total: u64 = r.gpus.iter().filter_map(|g| g.vram_total).sum();
    let vram_used: u64 = r.gpus.iter().filter_map(|g| g.vram_used).sum();
    let gb = |b: u64| (b as f64 / 1e9 * 10.0).round() / 10.0;
    specs.cpu = Some(wspecs::Cpu {
        vendor: r.host.cpu_vendor.clone().unwrap_or_else(|| "other".into()),
        arch: r.host.arch.clone(),
        cores: r.host.logical_cores as u64,
        groups: 1,
        ram_gb: (r.host.ram_total as f64 / 1e9).round(),
    });
    specs.gpu_count = Some(gpus.len() as u64);
    specs.gpus = Some(gpus);
    let link = |l: &crate::system::gpu::Link| wspecs::Link {
        available: l.available,
        topology: l.topology.clone(),
        link_count: l.link_count,
    };
    let ic = &r.interconnects;
    specs.interconnects = Some(wspecs::Interconnects {
        nvlink: link(&ic.nvlink),
        xgmi: link(&ic.xgmi),
        infiniband: wspecs::Ports {
            available: ic.infiniband.available,
            active_port_count: ic.infiniband.active_port_count,
        },
        efa: wspecs::Adapters {
            available: ic.efa.available,
            adapter_count: ic.efa.adapter_count,
        },
        rdma_capable: ic.rdma_capable,
    });
    specs.load.ram = Some(wspecs::Memory {
        total_gb: gb(r.host.ram_total),
        free_gb: gb(r.host.ram_available),
    });
    specs.load.vram = Some(wspecs::Memory {
        total_gb: gb(vram_total),
        free_gb: gb(vram_total.saturating_sub(vram_used)),
    });
    // With a probe the field is sent, null when no GPU reported its utilisation.
    specs.load.gpu_utilization_max = Some(r.gpus.iter().filter_map(|g| g.utilization_pct).max());
}

/// A done event's `reason` on the wire.
fn reason_name(r: DoneReason) -> &'static str {
    match r {
        DoneReason::Stop => "stop",
        DoneReason::Length => "length",
        DoneReason::Cancel => "cancel",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_and_pace_come_from_the_config() {
        assert_eq!(
            default_node_id("provider", "87a14033603222f8"),
            "provider-87a14033"
        );
        let cfg = ControlPlaneConfig {
            heartbeat_interval: 30.0,
            poll_interval: 0.0,
            ..Default::default()
        };
        let p = pace(&cfg);
        assert_eq!(p.heartbeat, Duration::from_secs(30));
        // A zero interval would spin: the floor is 50 ms.
        assert_eq!(p.poll_interval, Duration::from_millis(50));
    }

    #[test]
    fn each_loop_reads_only_its_own_wait() {
        let fx = vec![
            Effect::StartLoops,
            Effect::Heartbeat {
                after: Duration::from_secs(3),
            },
            Effect::Poll {
                after: Duration::ZERO,
            },
        ];
        assert_eq!(heartbeat_wait(&fx), Some(Duration::from_secs(3)));
        assert_eq!(poll_wait(&fx), Some(Duration::ZERO));
        assert_eq!(commands_wait(&fx), None);
        assert_eq!(register_wait(&fx), None);
    }
}
