//! The node side of a control plane (reference §3.2–§3.6, fixed as §12.1 asks): register,
//! heartbeat with specs and load (incl. `concurrency_cap`), long-poll for chat jobs and run
//! them concurrently on the local backends (events batched at 16 or 250 ms, in-flight ids
//! never run twice, `complete` retried idempotently), node commands with progress, jittered
//! intervals with backoff, and on stop: no new jobs, running ones finish, offline heartbeat.
mod commands;
mod jobs;
mod once;
mod runs;
mod specs;

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
pub use once::{Registration, register_once, remove_once};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
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
/// A backend stream's longest silence when the config names none.
const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(60);

/// The running jobs whose lease a heartbeat renews: those that made progress within
/// `window` (in id order). A job that stopped moving is left to expire and be re-queued.
fn renewable(progress: &HashMap<String, Instant>, now: Instant, window: Duration) -> Vec<String> {
    let mut ids: Vec<String> = progress
        .iter()
        .filter(|(_, at)| now.saturating_duration_since(**at) <= window)
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    ids
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
    /// The jobs running here (one run per job; a job leased again restarts).
    in_flight: Mutex<runs::Runs>,
    /// When each running job last made progress (an event from its backend): a heartbeat
    /// renews only the leases of jobs that moved within `stream_idle`, so a stuck job is
    /// re-queued even if this node keeps beating.
    progress: Mutex<HashMap<String, Instant>>,
    /// A backend stream silent this long is given up (`jobs.stream_idle_timeout`, as on the
    /// REST path).
    stream_idle: Duration,
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
            client: CpClient::replicas(&cfg.endpoints(), key),
            cfg: cfg.clone(),
            backends,
            role,
            node_id,
            name,
            status,
            life: Mutex::new(life::Agent::new(pace(cfg))),
            served: Mutex::new(Served::default()),
            gpu: Mutex::new(None),
            in_flight: Mutex::new(runs::Runs::default()),
            progress: Mutex::new(HashMap::new()),
            stream_idle: DEFAULT_STREAM_IDLE,
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
        stream_idle: Duration,
        sup: &crate::supervise::Supervisor,
    ) -> Arc<Agent> {
        let mut agent = Self::new(cfg, key, backends, default_name);
        agent.stream_idle = stream_idle;
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
            // The replica answering now (it moves when one stops answering).
            s.url = self.client.base().to_string();
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
            let progress = self
                .progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            body.jobs = Some(renewable(&progress, Instant::now(), self.stream_idle));
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

    // ---- node commands ----

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_that_moved_recently_have_their_lease_renewed() {
        let now = Instant::now();
        let w = Duration::from_secs(60);
        let mut p = HashMap::new();
        p.insert("b-moving".to_string(), now - Duration::from_secs(5));
        p.insert("a-just-started".to_string(), now);
        p.insert("c-stuck".to_string(), now - Duration::from_secs(61));
        assert_eq!(renewable(&p, now, w), ["a-just-started", "b-moving"]);
        assert!(renewable(&HashMap::new(), now, w).is_empty());
    }

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
