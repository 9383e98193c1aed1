//! The engine's history for the TUI's plots: a task that runs while the node runs (whether or
//! not a TUI watches), reads each second's host/GPU sample, the job and chain counters, the
//! tokens each backend streamed and every job's duration, and records them into
//! `infernet_core::history` (fixed-size rings: memory does not grow with uptime).
use super::tasks::spawn_sampler;
use crate::engine::{EngineEvent, EngineHandle};
use crate::store::now_ms;
use crate::system::sample::{GpuSample, HostSample};
use infernet_core::history::{History, HistoryView, Kind, Window};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// The latest host and GPU sample.
pub type Sample = (HostSample, Result<Vec<GpuSample>, String>);

/// Jobs whose start is remembered for their latency; more running at once are not timed.
const MAX_TIMED: usize = 10_000;

pub struct Recorder {
    history: Mutex<History>,
    latest: watch::Sender<Sample>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            history: Mutex::new(History::default()),
            latest: watch::Sender::new((HostSample::default(), Err("sampling…".to_string()))),
        }
    }
}

/// Counters read last time, to record what changed.
#[derive(Debug, Default)]
struct Last {
    ok: Option<u64>,
    failed: Option<u64>,
    delivered: Option<u64>,
    gas: Option<u64>,
    head: Option<u64>,
    /// Deliveries seen since the head last moved.
    unplaced: u64,
    tokens: BTreeMap<String, u64>,
}

fn delta(last: &mut Option<u64>, now: u64) -> u64 {
    let d = last.map(|l| now.saturating_sub(l)).unwrap_or(0);
    *last = Some(now);
    d
}

impl Recorder {
    pub fn latest(&self) -> watch::Receiver<Sample> {
        self.latest.subscribe()
    }

    /// Every window of history, as the TUI receives it.
    pub fn views(&self, now: i64) -> Vec<HistoryView> {
        match self.history.lock() {
            Ok(h) => Window::ALL.iter().map(|&w| h.view(w, now)).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn with(&self, f: impl FnOnce(&mut History)) {
        if let Ok(mut h) = self.history.lock() {
            f(&mut h);
        }
    }

    /// Records until `cancel`.
    pub async fn run(self: Arc<Self>, handle: Arc<EngineHandle>, cancel: CancellationToken) {
        let mut samples = spawn_sampler();
        let mut events = handle.subscribe();
        let mut started: HashMap<String, i64> = HashMap::new();
        let mut last = Last::default();
        loop {
            tokio::select! {
                changed = samples.changed() => {
                    if changed.is_err() {
                        tracing::warn!("the system sampler stopped; history records no more host samples");
                        cancel.cancelled().await;
                        return;
                    }
                    let s = samples.borrow_and_update().clone();
                    self.tick(&s, &handle, &mut last, now_ms());
                    let _previous = self.latest.send_replace(s);
                }
                ev = events.recv() => match ev {
                    Ok(ev) => self.event(ev, &mut started, now_ms()),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "history missed engine events");
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        cancel.cancelled().await;
                        return;
                    }
                },
                _ = cancel.cancelled() => return,
            }
        }
    }

    fn event(&self, ev: EngineEvent, started: &mut HashMap<String, i64>, now: i64) {
        match ev {
            EngineEvent::JobStarted { id, .. } if started.len() < MAX_TIMED => {
                started.insert(id, now);
            }
            EngineEvent::JobCompleted { id } | EngineEvent::JobFailed { id, .. } => {
                if let Some(t0) = started.remove(&id) {
                    self.with(|h| h.latency((now - t0) as f64, now));
                }
            }
            _ => {}
        }
    }

    fn tick(&self, s: &Sample, handle: &EngineHandle, last: &mut Last, now: i64) {
        let (host, gpus) = s;
        let snap = handle.snapshot().borrow().clone();
        let tokens = crate::backend::meter::tokens();
        self.with(|h| {
            h.record("cpu", Kind::Gauge, f64::from(host.cpu_pct), now);
            if host.ram_total > 0 {
                let pct = host.ram_used as f64 * 100.0 / host.ram_total as f64;
                h.record("ram", Kind::Gauge, pct, now);
            }
            if let Ok(gpus) = gpus {
                for g in gpus {
                    let i = g.index;
                    h.record(
                        &format!("gpu{i}.util"),
                        Kind::Gauge,
                        f64::from(g.util_pct),
                        now,
                    );
                    if g.mem_total > 0 {
                        let pct = g.mem_used as f64 * 100.0 / g.mem_total as f64;
                        h.record(&format!("gpu{i}.vram"), Kind::Gauge, pct, now);
                    }
                    if let Some(t) = g.temp_c {
                        h.record(&format!("gpu{i}.temp"), Kind::Gauge, f64::from(t), now);
                    }
                    if let Some(p) = g.power_w {
                        h.record(&format!("gpu{i}.power"), Kind::Gauge, p, now);
                    }
                }
            }
            let ok = delta(&mut last.ok, snap.jobs_succeeded);
            let failed = delta(&mut last.failed, snap.jobs_failed);
            h.record("jobs.ok", Kind::Rate, ok as f64, now);
            h.record("jobs.failed", Kind::Rate, failed as f64, now);
            for (id, n) in &tokens {
                let before = last.tokens.insert(id.clone(), *n).unwrap_or(*n);
                h.record(
                    &format!("tokens.{id}"),
                    Kind::Rate,
                    n.saturating_sub(before) as f64,
                    now,
                );
            }
            if let Some(c) = &snap.chain {
                let delivered = delta(&mut last.delivered, c.delivered);
                let gas = delta(&mut last.gas, c.gas_used);
                if delivered > 0 {
                    let per = gas as f64 / delivered as f64;
                    h.record("chain.gas_per_delivery", Kind::Gauge, per, now);
                }
                last.unplaced += delivered;
                let blocks = delta(&mut last.head, c.head_block);
                if blocks > 0 {
                    let per_block = last.unplaced as f64 / blocks as f64;
                    h.record("chain.per_block", Kind::Gauge, per_block, now);
                    last.unplaced = 0;
                }
            }
        });
    }
}
