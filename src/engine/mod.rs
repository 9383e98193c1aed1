//! The engine: owns the truth, has no UI. `Engine::start` wires store, containers, jobs and
//! the REST API, one phase at a time; the returned handle exposes snapshots and events and
//! shuts it all down.
mod chain_side;
mod command;
mod control_plane;
mod docker;
mod duties;
mod event;
mod p2p_side;
mod rest;
mod snapshot;
mod targets;

pub use command::{CommandError, CommandReply, EngineCommand, JobDetail};
pub use event::EngineEvent;
pub use snapshot::NodeSnapshot;

use crate::backend::Backends;
use crate::compute::{HttpContainers, StateTable};
use crate::config::Config;
use crate::guardian::Guardian;
use crate::jobs::{JobEvent, JobService, Step};
use crate::store::SqliteStore;
use crate::supervise::Supervisor;
use docker::DockerSlot;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("cannot listen on {addr}: {source}; choose another 'server.port' or stop what uses it")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

pub struct Engine;

impl Engine {
    /// Starts every part of the node. The REST API is listening when this returns;
    /// containers come up in the background (their state is in the snapshot and `/info`).
    pub async fn start(config: Config) -> Result<EngineHandle, Error> {
        // What can fail comes first, before any task runs: a start that fails leaves nothing
        // behind (the guard stops whatever was started if a later step fails all the same).
        let store = open_store(&config).await?;
        let listener = rest::bind(&config).await?;
        let run = Run::new();
        let stop_on_failure = run.cancel.clone().drop_guard();
        let sup = &run.sup;
        let http = HttpContainers::new();
        let targets = targets::build(&config, &http);
        let (jobs, job_events) =
            job_service(&config, &store, targets.steps, &targets.states, &http);
        let chain = chain_side::spawn(&config, &jobs, &store, sup);
        let control = control_plane::spawn(&config, &targets.backends, sup);
        let p2p = p2p_side::spawn(&config, &targets.backends, sup);
        let backends_view = duties::spawn_backend_probe(sup, &targets.backends);
        let metrics = crate::telemetry::node::NodeMetrics {
            jobs: jobs.clone(),
            states: targets.states.clone(),
            chain: chain.status.clone(),
            control: control.status.clone(),
            backends: backends_view.clone(),
            store: store.clone(),
            sup: sup.clone(),
        };
        crate::telemetry::push::spawn(sup, &config.telemetry, metrics.clone());
        let parts = rest::Parts {
            jobs: &jobs,
            states: &targets.states,
            http: http.client(),
            resource_bases: targets.resource_bases,
            chain: &chain,
            metrics,
            p2p: p2p.clone(),
        };
        let rest_addr = rest::serve(&config, listener, parts, sup, &run.cancel);
        let docker = docker::spawn(sup, &config, &targets.states, http.client());
        duties::spawn_pruner(sup, store.clone(), &config);
        duties::spawn_default_model(sup, &config);
        let snapshot = snapshot::spawn(
            sup,
            rest_addr,
            jobs.clone(),
            targets.states.clone(),
            chain.status,
            control.status,
            match &p2p {
                crate::api::p2p_routes::P2pState::On(h) => Some(h.clone()),
                _ => None,
            },
        );
        event::spawn_forwarders(
            sup,
            job_events,
            targets.states.subscribe(),
            run.events.clone(),
        );
        stop_on_failure.disarm();
        Ok(EngineHandle {
            rest_addr,
            snapshot,
            jobs,
            docker,
            store,
            grace: secs(config.jobs.shutdown_grace),
            backends: match &p2p {
                crate::api::p2p_routes::P2pState::On(h) => {
                    targets.backends.with(std::sync::Arc::new(h.clone()))
                }
                _ => targets.backends,
            },
            backends_view,
            control: control.agent,
            managed: managed_ids(&config),
            cancel: run.cancel,
            tasks: run.tasks,
            sup: run.sup,
            events: run.events,
        })
    }
}

/// What every task runs under: one cancel token, one tracker, one supervisor whose task
/// failures are published as engine events.
struct Run {
    cancel: CancellationToken,
    tasks: TaskTracker,
    events: broadcast::Sender<EngineEvent>,
    sup: Supervisor,
}

impl Run {
    fn new() -> Self {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (events, _) = broadcast::channel::<EngineEvent>(1024);
        let failures = events.clone();
        let sup = Supervisor::new(tasks.clone(), cancel.clone(), move |f| {
            let _ = failures.send(EngineEvent::from(f));
        });
        Self {
            cancel,
            tasks,
            events,
            sup,
        }
    }
}

/// Opens the store; jobs it says are running were cut off by the last stop and are marked failed.
async fn open_store(config: &Config) -> Result<SqliteStore, Error> {
    let store =
        SqliteStore::open_capped(&PathBuf::from(&config.store.path), config.store.max_size_mb)?;
    let interrupted = store.fail_running("node restarted").await?;
    if interrupted > 0 {
        tracing::warn!(
            jobs = interrupted,
            "jobs that were running when the node stopped are marked failed ('node restarted')"
        );
    }
    Ok(store)
}

fn job_service(
    config: &Config,
    store: &SqliteStore,
    steps: HashMap<String, Step>,
    states: &StateTable,
    http: &HttpContainers,
) -> (JobService, broadcast::Sender<JobEvent>) {
    let (job_events, _) = broadcast::channel::<JobEvent>(1024);
    let jobs = JobService::new(
        store.clone(),
        Guardian::new(config),
        steps,
        states.clone(),
        http.clone(),
        secs(config.jobs.stream_idle_timeout),
        job_events.clone(),
    );
    (jobs, job_events)
}

/// Ids of the containers this node runs in Docker.
fn managed_ids(config: &Config) -> Vec<String> {
    if config.manage_containers {
        config.containers.iter().map(|c| c.id.clone()).collect()
    } else {
        Vec::new()
    }
}

/// A running engine. Dropping it cancels every task; `shutdown` does it gracefully.
pub struct EngineHandle {
    cancel: CancellationToken,
    tasks: TaskTracker,
    sup: Supervisor,
    rest_addr: SocketAddr,
    snapshot: watch::Receiver<Arc<NodeSnapshot>>,
    events: broadcast::Sender<EngineEvent>,
    jobs: JobService,
    docker: DockerSlot,
    store: SqliteStore,
    grace: Duration,
    backends: Backends,
    /// The configured backends' state, probed every 15 s.
    backends_view: watch::Receiver<infernet_core::view::model::BackendsView>,
    /// The control-plane side, when one is configured and the node has an identity.
    control: Option<Arc<crate::control::agent::Agent>>,
    /// Ids of the containers this node runs in Docker.
    managed: Vec<String>,
}

impl EngineHandle {
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// Resolves with the reason when a critical task stopped the node (never on a normal
    /// stop): the process then exits with an error instead of serving half a node.
    pub async fn failed(&self) -> String {
        self.cancel.cancelled().await;
        match self.sup.stopped_by() {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }

    /// Where the daemon and the TUI start their long-lived tasks (IPC server, UI publisher),
    /// so their failures are seen and they restart like the engine's own.
    pub fn supervisor(&self) -> &Supervisor {
        &self.sup
    }

    /// The supervised tasks' states.
    pub fn tasks(&self) -> Vec<crate::supervise::TaskHealth> {
        self.sup.health()
    }

    pub fn snapshot(&self) -> watch::Receiver<Arc<NodeSnapshot>> {
        self.snapshot.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &SqliteStore {
        &self.store
    }

    pub fn jobs(&self) -> &JobService {
        &self.jobs
    }

    /// The configured LLM backends (chat, model listing).
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The configured backends' state (up, models, last error), probed every 15 s.
    pub fn backends_view(&self) -> watch::Receiver<infernet_core::view::model::BackendsView> {
        self.backends_view.clone()
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ContainerConfig;

    #[test]
    fn managed_ids_are_empty_when_containers_are_not_managed() {
        let mut c = Config {
            containers: vec![ContainerConfig {
                id: "a".into(),
                ..ContainerConfig::default()
            }],
            ..Config::default()
        };
        assert_eq!(managed_ids(&c), vec!["a".to_string()]);
        c.manage_containers = false;
        assert!(managed_ids(&c).is_empty());
    }
}
