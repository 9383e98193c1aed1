//! The node's `/metrics`: jobs by status and pipeline with latency histograms, containers and
//! backends up, tokens generated per backend, the chain side (head and its lag, deliveries,
//! gas, RPC calls and errors), the control-plane link, supervised task failures and the
//! store's size. Everything is read at scrape time from state the node keeps anyway.
use super::prom::{Exposition, Kind};
use crate::chain::ChainStatus;
use crate::compute::{ContainerState, StateTable};
use crate::control::status::ControlStatus;
use crate::jobs::JobService;
use crate::store::SqliteStore;
use crate::supervise::Supervisor;
use infernet_core::view::model::BackendsView;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// Where the node's series come from.
#[derive(Clone)]
pub struct NodeMetrics {
    pub jobs: JobService,
    pub states: StateTable,
    pub chain: Option<Arc<ChainStatus>>,
    pub control: Option<Arc<ControlStatus>>,
    pub backends: watch::Receiver<BackendsView>,
    pub store: SqliteStore,
    pub sup: Supervisor,
}

impl NodeMetrics {
    /// The exposition text, as of now.
    pub fn render(&self) -> String {
        let mut e = Exposition::new();
        e.single("infernet_up", Kind::Gauge, "1 while the node serves.", 1.0);
        e.family(
            "infernet_build_info",
            Kind::Gauge,
            "The node's version (value is always 1).",
        )
        .sample(
            "infernet_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        self.jobs(&mut e);
        self.containers(&mut e);
        self.backends(&mut e);
        if let Some(c) = &self.chain {
            chain(&mut e, c);
        }
        if let Some(c) = &self.control {
            control(&mut e, c);
        }
        self.tasks(&mut e);
        let bytes = store_bytes(&self.store);
        e.single(
            "infernet_store_bytes",
            Kind::Gauge,
            "Size of the node's SQLite store on disk (database and write-ahead log).",
            bytes as f64,
        );
        e.finish()
    }

    fn jobs(&self, e: &mut Exposition) {
        let running = self.jobs.counters().running.load(Ordering::Relaxed);
        e.single(
            "infernet_jobs_running",
            Kind::Gauge,
            "Jobs running now.",
            running as f64,
        );
        let stats = self.jobs.stats().snapshot();
        e.family(
            "infernet_jobs_total",
            Kind::Counter,
            "Jobs finished since the node started, by status and container (a pipeline's ids joined by commas).",
        );
        for (pipeline, s) in &stats {
            for (status, n) in [("success", s.success), ("failed", s.failed)] {
                e.sample(
                    "infernet_jobs_total",
                    &[("status", status), ("container", pipeline)],
                    n as f64,
                );
            }
        }
        e.family(
            "infernet_job_duration_seconds",
            Kind::Histogram,
            "Time from a job's start to its end, by container.",
        );
        for (pipeline, s) in &stats {
            e.histogram(
                "infernet_job_duration_seconds",
                &[("container", pipeline)],
                &s.latency,
            );
        }
    }

    fn containers(&self, e: &mut Exposition) {
        e.family(
            "infernet_container_up",
            Kind::Gauge,
            "1 when the container answers and takes jobs, else 0.",
        );
        let all = self.states.all();
        for c in &all {
            let up = c.state == ContainerState::Ready;
            e.sample(
                "infernet_container_up",
                &[("container", &c.id)],
                f64::from(u8::from(up)),
            );
        }
        e.family(
            "infernet_container_restarts_total",
            Kind::Counter,
            "Times the node restarted a managed container.",
        );
        for c in &all {
            e.sample(
                "infernet_container_restarts_total",
                &[("container", &c.id)],
                f64::from(c.restarts),
            );
        }
    }

    fn backends(&self, e: &mut Exposition) {
        let view = self.backends.borrow().clone();
        e.family(
            "infernet_backend_up",
            Kind::Gauge,
            "1 when the LLM backend answered its last probe (every 15 s), else 0.",
        );
        for b in &view.rows {
            e.sample(
                "infernet_backend_up",
                &[("backend", &b.id), ("kind", &b.kind)],
                f64::from(u8::from(b.state == "ready")),
            );
        }
        e.family(
            "infernet_backend_tokens_total",
            Kind::Counter,
            "Tokens generated per backend since the node started (rate() gives tokens/s).",
        );
        for (id, n) in crate::backend::meter::tokens() {
            e.sample(
                "infernet_backend_tokens_total",
                &[("backend", &id)],
                n as f64,
            );
        }
    }

    fn tasks(&self, e: &mut Exposition) {
        e.family(
            "infernet_task_failures_total",
            Kind::Counter,
            "Failures of the node's supervised tasks (each is restarted or stops the node).",
        );
        let mut tasks = self.sup.health();
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        for t in &tasks {
            e.sample(
                "infernet_task_failures_total",
                &[("task", &t.name)],
                t.failures as f64,
            );
        }
    }
}

fn chain(e: &mut Exposition, c: &ChainStatus) {
    let s = c.snapshot();
    let now = crate::clock::now_s().max(0) as u64;
    e.single(
        "infernet_chain_head_block",
        Kind::Gauge,
        "The newest block the node has seen.",
        s.head_block as f64,
    );
    // No head yet: the lag is unknown, not huge.
    let lag = if s.head_time == 0 {
        f64::NAN
    } else {
        now.saturating_sub(s.head_time) as f64
    };
    e.single(
        "infernet_chain_head_lag_seconds",
        Kind::Gauge,
        "Seconds between now and the newest block's timestamp.",
        lag,
    );
    e.single(
        "infernet_chain_subscriptions_tracked",
        Kind::Gauge,
        "Subscriptions this node serves.",
        s.tracked as f64,
    );
    e.family(
        "infernet_chain_deliveries_total",
        Kind::Counter,
        "Intervals finished since the node started, by outcome.",
    );
    for (outcome, n) in [
        ("delivered", s.delivered),
        ("skipped", s.skipped),
        ("given_up", s.failed),
    ] {
        e.sample(
            "infernet_chain_deliveries_total",
            &[("outcome", outcome)],
            n as f64,
        );
    }
    e.single(
        "infernet_chain_deliveries_in_flight",
        Kind::Gauge,
        "Deliveries between start and final outcome.",
        s.in_flight as f64,
    );
    e.single(
        "infernet_chain_gas_used_total",
        Kind::Counter,
        "Gas used by this node's mined deliveries (confirmed and reverted).",
        s.gas_used as f64,
    );
    e.single(
        "infernet_chain_rpc_calls_total",
        Kind::Counter,
        "RPC calls made.",
        s.rpc.calls as f64,
    );
    e.single(
        "infernet_chain_rpc_errors_total",
        Kind::Counter,
        "RPC calls that failed (unreachable, timed out); reverts are answers, not errors.",
        s.rpc.errors as f64,
    );
    e.single(
        "infernet_chain_rpc_up",
        Kind::Gauge,
        "1 while the RPC endpoint answers.",
        f64::from(u8::from(s.rpc.ok)),
    );
}

fn control(e: &mut Exposition, c: &ControlStatus) {
    let s = c.get();
    e.single(
        "infernet_control_plane_online",
        Kind::Gauge,
        "1 while the node is registered and heartbeating with its control plane.",
        f64::from(u8::from(s.state == infernet_core::agent::Phase::Online)),
    );
    e.family(
        "infernet_control_plane_heartbeats_total",
        Kind::Counter,
        "Heartbeats sent to the control plane, by result.",
    )
    .sample(
        "infernet_control_plane_heartbeats_total",
        &[("result", "ok")],
        s.heartbeats_ok as f64,
    )
    .sample(
        "infernet_control_plane_heartbeats_total",
        &[("result", "failed")],
        s.heartbeats_failed as f64,
    );
    e.family(
        "infernet_control_plane_jobs_total",
        Kind::Counter,
        "Control-plane jobs this node took, by outcome.",
    );
    for (outcome, n) in [
        ("picked", s.jobs_picked),
        ("completed", s.jobs_completed),
        ("failed", s.jobs_failed),
        ("lost", s.jobs_lost),
    ] {
        e.sample(
            "infernet_control_plane_jobs_total",
            &[("outcome", outcome)],
            n as f64,
        );
    }
}

/// The database file and its write-ahead log (absent files count 0).
fn store_bytes(store: &SqliteStore) -> u64 {
    let p = store.path();
    let wal = {
        let mut s = p.as_os_str().to_owned();
        s.push("-wal");
        std::path::PathBuf::from(s)
    };
    [p.to_path_buf(), wal]
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}
