//! The engine: owns the truth, has no UI. `Engine::start` wires store, containers, jobs and
//! the REST API; the returned handle exposes snapshots and events and shuts it all down.
mod command;
mod duties;
mod event;
mod snapshot;

pub use command::{CommandError, CommandReply, EngineCommand, JobDetail};
pub use event::EngineEvent;
pub use snapshot::NodeSnapshot;

use crate::api::{self, AppState, ratelimit::RateLimiter};
use crate::backend::Backends;
use crate::compute::container::endpoint_base;
use crate::compute::{
    ContainerState, ContainerStatus, DockerContainers, Endpoint, HttpContainers, StateTable,
};
use crate::config::{Config, validate::parse_net};
use crate::guardian::Guardian;
use crate::jobs::{JobEvent, JobService, Step};
use crate::store::SqliteStore;
use crate::supervise::Supervisor;
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
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (events, _) = broadcast::channel::<EngineEvent>(1024);
        let failures = events.clone();
        let sup = Supervisor::new(tasks.clone(), cancel.clone(), move |f| {
            let _ = failures.send(EngineEvent::from(f));
        });

        let store =
            SqliteStore::open_capped(&PathBuf::from(&config.store.path), config.store.max_size_mb)?;
        let interrupted = store.fail_running("node restarted").await?;
        if interrupted > 0 {
            tracing::warn!(
                jobs = interrupted,
                "jobs that were running when the node stopped are marked failed ('node restarted')"
            );
        }

        let managed = config.manage_containers;
        let states = StateTable::new(config.containers.iter().map(|c| ContainerStatus {
            id: c.id.clone(),
            state: if managed {
                ContainerState::Starting
            } else {
                ContainerState::Ready
            },
            reason: None,
            image: c.image.clone(),
            port: c.port,
            managed,
            restarts: 0,
            description: c.description.clone(),
            external: c.external,
        }));
        let default_timeout = secs(config.jobs.container_timeout);
        let mut steps: HashMap<String, Step> = config
            .containers
            .iter()
            .map(|c| {
                let base = endpoint_base(c, managed);
                let timeout = c.timeout.map(secs).unwrap_or(default_timeout);
                let bearer = if managed { "" } else { c.bearer.expose() };
                (
                    c.id.clone(),
                    Step::Container(Endpoint::new(&c.id, &base, bearer, timeout)),
                )
            })
            .collect();
        let resource_bases = config
            .containers
            .iter()
            .map(|c| (c.id.clone(), endpoint_base(c, managed)))
            .collect();

        let http = HttpContainers::new();
        let env = |k: &str| std::env::var(k).ok();
        let mut configured_backends = Backends::default();
        match Backends::from_config(&config.backends, &env, http.client().clone()) {
            Ok(backends) => {
                configured_backends = backends.clone();
                for b in backends.all() {
                    tracing::info!(backend = %b.id(), kind = b.kind().name(), url = %b.url(), "LLM backend configured");
                    steps.insert(
                        b.id().to_string(),
                        Step::Backend {
                            backend: b.clone(),
                            timeout: default_timeout,
                        },
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "LLM backends not usable"),
        }
        let (job_events, _) = broadcast::channel::<JobEvent>(1024);
        let jobs = JobService::new(
            store.clone(),
            Guardian::new(&config),
            steps,
            states.clone(),
            http.clone(),
            secs(config.jobs.stream_idle_timeout),
            job_events.clone(),
        );

        // The chain side connects and syncs in the background: REST is up meanwhile.
        let delegated: crate::chain::delegated::DelegatedSlot = Default::default();
        let chain = config.chain.enabled.then(|| {
            crate::chain::node::spawn(
                &config,
                jobs.clone(),
                store.clone(),
                delegated.clone(),
                &sup,
            )
        });

        let addr = format!("{}:{}", config.server.bind, config.server.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| Error::Listen {
                addr: addr.clone(),
                source: e,
            })?;
        let rest_addr = listener
            .local_addr()
            .map_err(|e| Error::Listen { addr, source: e })?;
        let app = api::router(AppState {
            jobs: jobs.clone(),
            states: states.clone(),
            http: http.client().clone(),
            resource_bases: Arc::new(resource_bases),
            limiter: Arc::new(RateLimiter::new(
                config.server.rate_limit.num_requests,
                secs(config.server.rate_limit.period),
            )),
            trusted_proxies: Arc::new(
                config
                    .server
                    .trusted_proxies
                    .iter()
                    .filter_map(|s| parse_net(s))
                    .collect(),
            ),
            max_body: usize::try_from(config.server.max_body_bytes).unwrap_or(usize::MAX),
            body_timeout: Duration::from_secs_f64(config.server.body_timeout_secs),
            max_get_ids: config.server.max_get_ids as usize,
            max_get_bytes: usize::try_from(config.server.max_get_bytes).unwrap_or(usize::MAX),
            chain: chain.clone(),
            delegated: config.chain.enabled.then_some(delegated),
        });
        let rest_cancel = cancel.child_token();
        let limits = crate::api::listener::Limits {
            max_connections: config.server.max_connections as usize,
            first_byte: Duration::from_secs_f64(config.server.header_timeout_secs),
        };
        // Without its REST API the node is not itself: its end stops the node.
        sup.critical("rest-api", async move {
            let listener = crate::api::listener::Guarded::new(listener, limits).with_connect_info();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(rest_cancel.cancelled_owned())
            .await
            .map_err(|e| format!("the REST server stopped: {e}"))
        });
        tracing::info!(address = %rest_addr, "REST API listening");

        let docker = (managed && !config.containers.is_empty())
            .then(|| duties::spawn_docker(&sup, &config, states.clone(), http.client().clone()));

        duties::spawn_pruner(&sup, store.clone(), &config);
        duties::spawn_default_model(&sup, &config);
        let (control, control_status) = spawn_control(&config, &configured_backends, &sup);
        let snapshot = snapshot::spawn(
            &sup,
            rest_addr,
            jobs.clone(),
            states.clone(),
            chain.clone(),
            control_status,
        );
        event::spawn_forwarders(&sup, job_events, states.subscribe(), events.clone());

        Ok(EngineHandle {
            cancel,
            tasks,
            sup,
            rest_addr,
            snapshot,
            events,
            jobs,
            docker,
            store,
            grace: secs(config.jobs.shutdown_grace),
            backends: configured_backends,
            control,
            managed: if managed {
                config.containers.iter().map(|c| c.id.clone()).collect()
            } else {
                Vec::new()
            },
        })
    }
}

/// The control-plane agent when `control_plane.url` is set: it needs the node identity from
/// the config directory; without one the reason is shown in the snapshot instead.
fn spawn_control(
    config: &Config,
    backends: &Backends,
    sup: &Supervisor,
) -> (
    Option<Arc<crate::control::agent::Agent>>,
    Option<Arc<crate::control::status::ControlStatus>>,
) {
    use crate::control::agent::Agent;
    let cp = &config.control_plane;
    if cp.url.is_empty() {
        return (None, None);
    }
    let env = |k: &str| std::env::var(k).ok();
    let key = crate::config::config_dir(&env)
        .ok_or_else(|| "no config directory (set HOME or XDG_CONFIG_HOME)".to_string())
        .and_then(|d| crate::control::client::NodeKey::load(&d));
    match key {
        Ok(key) => {
            let name = if config.ui.node_name.is_empty() {
                sysinfo::System::host_name().unwrap_or_else(|| "infernet".into())
            } else {
                config.ui.node_name.clone()
            };
            let agent = Agent::spawn(cp, key, backends.clone(), &name, sup);
            let status = agent.status.clone();
            (Some(agent), Some(status))
        }
        Err(why) => (None, Some(Agent::unavailable(cp, &why))),
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
    docker: Option<Arc<std::sync::OnceLock<DockerContainers>>>,
    store: SqliteStore,
    grace: Duration,
    backends: Backends,
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
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
