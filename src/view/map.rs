//! NodeSnapshot and friends -> `ui::model::Model`: the one mapping from engine data to what
//! panels show.
use crate::chain::ChainSnapshot;
use crate::compute::ContainerStatus;
use crate::engine::NodeSnapshot;
use crate::logging::RingLine;
use crate::store::{JobStatus, JobSummary};
use crate::system::sample::{GpuSample, HostSample};
use infernet_core::view::model as ui;
use std::collections::HashMap;

/// How many samples the sparklines keep.
pub const HISTORY: usize = 240;
/// Log lines sent to the panel.
pub const LOG_LINES: usize = 2000;

/// snake_case wire name of an engine enum (`ready`, `following`, `stop`), as `/info` shows it.
pub fn wire_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn job_rows(jobs: &[JobSummary], streaming: &HashMap<String, u64>) -> Vec<ui::JobRow> {
    jobs.iter()
        .map(|j| {
            let state = match j.status {
                JobStatus::Running => ui::JobState::Running,
                JobStatus::Success => ui::JobState::Success,
                JobStatus::Failed => ui::JobState::Failed,
            };
            ui::JobRow {
                id: j.id.clone(),
                source: j.source.clone(),
                containers: j.containers.clone(),
                state,
                created_ms: j.created_at,
                finished_ms: (state != ui::JobState::Running).then_some(j.updated_at),
                streamed_bytes: streaming.get(&j.id).copied(),
                error: j.error.clone(),
            }
        })
        .collect()
}

pub fn containers(c: &[ContainerStatus]) -> Vec<ui::ContainerRow> {
    c.iter()
        .map(|s| ui::ContainerRow {
            id: s.id.clone(),
            state: wire_name(s.state),
            reason: s.reason.clone(),
            image: s.image.clone(),
            port: s.port,
            managed: s.managed && !s.external,
            restarts: s.restarts,
            description: (!s.description.is_empty()).then(|| s.description.clone()),
        })
        .collect()
}

pub fn chain(c: Option<&ChainSnapshot>) -> ui::ChainView {
    let Some(c) = c else {
        return ui::ChainView::Disabled {
            how: "The chain side is off: this node serves off-chain REST jobs only.\n\
                  To serve on-chain subscriptions set in config.json: chain.enabled = true, chain.rpc_url,\n\
                  chain.registry_address, and the wallet key (infernet secret set chain.wallet.private_key,\n\
                  or chain.wallet.private_key in the file), then restart. `infernet tui --setup` walks through it."
                .into(),
        };
    };
    ui::ChainView::Enabled(Box::new(ui::ChainStatusView {
        phase: wire_name(c.phase),
        error: c.error.clone(),
        chain_id: c.chain_id,
        node: c.node.clone(),
        coordinator: c.addresses.as_ref().map(|a| a.coordinator.to_string()),
        head_block: c.head_block,
        synced_sub_id: c.synced_sub_id,
        head_sub_id: c.head_sub_id,
        rpc_ok: c.rpc.ok,
        rpc_calls: c.rpc.calls,
        rpc_errors: c.rpc.errors,
        rpc_last_error: c.rpc.last_error.clone(),
        tracked: c.tracked,
        delivered: c.delivered,
        skipped: c.skipped,
        failed: c.failed,
        in_flight: c.in_flight,
        registration: c
            .registration
            // The chain's clock decides the cooldown (a test chain may run ahead of ours).
            .map(|r| r.describe((crate::clock::now_s().max(0) as u64).max(c.head_time))),
        registration_ok: c.registration.is_some_and(|r| r.status == "active"),
        subscriptions: c
            .subscriptions
            .iter()
            .map(|s| ui::SubscriptionRow {
                id: s.id,
                owner: s.owner.clone(),
                containers: s.containers.clone(),
                period: s.period,
                frequency: s.frequency,
                redundancy: s.redundancy,
                responses: s.responses,
                lazy: s.lazy,
                status: s.status.to_string(),
                reason: s.reason.clone(),
                interval: s.interval,
                next_due: s.next_due,
                last_delivery: s.last_delivery.clone(),
                last_tx: s.last_tx.clone(),
                payment: s.payment.clone(),
                proof: s.proof.clone(),
            })
            .collect(),
    }))
}

pub fn logs(lines: &[RingLine]) -> Vec<ui::LogLine> {
    let start = lines.len().saturating_sub(LOG_LINES);
    lines[start..]
        .iter()
        .map(|l| ui::LogLine {
            ts_ms: l.ts_ms,
            level: match l.level {
                tracing::Level::TRACE => ui::Level::Trace,
                tracing::Level::DEBUG => ui::Level::Debug,
                tracing::Level::INFO => ui::Level::Info,
                tracing::Level::WARN => ui::Level::Warn,
                tracing::Level::ERROR => ui::Level::Error,
            },
            target: l.target.clone(),
            text: l.text.clone(),
        })
        .collect()
}

/// CPU and GPU history for the sparklines.
#[derive(Debug, Default)]
pub struct SystemHistory {
    cpu: Vec<u64>,
    gpu: HashMap<u32, Vec<u64>>,
}

fn push(v: &mut Vec<u64>, x: u64) {
    if v.len() == HISTORY {
        v.remove(0);
    }
    v.push(x);
}

impl SystemHistory {
    pub fn view(
        &mut self,
        host: &HostSample,
        gpus: &Result<Vec<GpuSample>, String>,
    ) -> ui::SystemView {
        push(&mut self.cpu, host.cpu_pct.round() as u64);
        let (gpu_rows, note) = match gpus {
            Ok(g) if g.is_empty() => (
                Vec::new(),
                Some("no GPU detected: the NVIDIA driver lists no devices".to_string()),
            ),
            Ok(g) => (
                g.iter()
                    .map(|s| {
                        let h = self.gpu.entry(s.index).or_default();
                        push(h, s.util_pct as u64);
                        ui::GpuView {
                            index: s.index,
                            name: s.name.clone(),
                            util_pct: s.util_pct,
                            util_history: h.clone(),
                            mem_used: s.mem_used,
                            mem_total: s.mem_total,
                            temp_c: s.temp_c,
                            power_w: s.power_w,
                            power_limit_w: s.power_limit_w,
                        }
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.clone())),
        };
        ui::SystemView {
            cpu_pct: host.cpu_pct,
            cpu_history: self.cpu.clone(),
            cores: host.cores,
            per_core: host.per_core.clone(),
            ram_used: host.ram_used,
            ram_total: host.ram_total,
            load: host.load,
            gpus: gpu_rows,
            gpu_note: note,
        }
    }
}

pub fn header(s: &NodeSnapshot, name: &str, source: &str) -> ui::Header {
    ui::Header {
        node_name: name.to_string(),
        version: s.version.to_string(),
        started_ms: s
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
        rest_addr: s.rest_addr.to_string(),
        mode: ui::Mode::InProcess,
        config_source: source.to_string(),
    }
}

/// The peers panel: the control-plane link and its nodes, or how to join one.
pub fn peers(c: Option<&crate::control::status::ControlSnapshot>) -> ui::PeersView {
    let Some(c) = c else {
        return ui::PeersView::NotConfigured {
            how: "No control plane is configured, so there are no peers to show.\n\
                  Set control_plane.url in config.json (or INFERNET_CONTROL_PLANE) to join one:\n\
                  this node then registers, takes chat jobs for the models it serves, and lists\n\
                  the other nodes here. Run your own with `infernet control-plane serve`."
                .into(),
        };
    };
    ui::PeersView::Connected(ui::ControlView {
        url: c.url.clone(),
        state: c.state.to_string(),
        node_id: c.node_id.clone(),
        heartbeats_ok: c.heartbeats_ok,
        heartbeats_failed: c.heartbeats_failed,
        last_heartbeat_ms: c.last_heartbeat_ms,
        last_error: c.last_error.clone(),
        jobs_active: c.active_jobs.len() as u64,
        jobs_completed: c.jobs_completed,
        jobs_failed: c.jobs_failed,
        served_models: c.served_models.clone(),
        peers: c
            .peers
            .iter()
            .map(|p| ui::PeerRow {
                id: p.node_id.clone(),
                name: p.name.clone(),
                status: p.status.clone(),
                models: p.models.clone(),
                last_seen_ms: p.last_seen_ms,
                active_jobs: p.active_jobs,
                me: p.public_key == c.public_key,
            })
            .collect(),
    })
}

/// The c0mpute side of the Peers panel.
pub fn swarm(p: &crate::p2p::P2pPeers) -> ui::SwarmView {
    let v = &p.view;
    ui::SwarmView {
        peer_id: v.peer_id.clone(),
        listen: v.listen.clone(),
        connected: v.connected.len(),
        ads_sent: v.ads_sent,
        ads_taken: v.ads_taken,
        refused: v.refused,
        last_refusal: v.last_refusal.clone(),
        bids_sent: v.bids_sent,
        jobs_won: v.jobs_won,
        receipts_verified: v.receipts_verified,
        receipts_failed: v.receipts_failed,
        peers: p
            .peers
            .iter()
            .map(|e| ui::SwarmPeerRow {
                peer_id: e.peer_id.clone(),
                gpu: e.gpu.clone(),
                models: e.models.clone(),
                last_ad_ms: e.ad_received_ms,
                bids_won: e.bids_won,
                bids_lost: e.bids_lost,
            })
            .collect(),
    }
}

/// A stored job as the detail view shows it (JSON pretty-printed).
pub fn job_detail(d: crate::engine::JobDetail) -> ui::JobDetail {
    let pretty =
        |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    let rec = d.record;
    ui::JobDetail {
        id: rec.id,
        state: match rec.status {
            JobStatus::Running => ui::JobState::Running,
            JobStatus::Success => ui::JobState::Success,
            JobStatus::Failed => ui::JobState::Failed,
        },
        containers: rec.containers,
        input: d.input.as_ref().map(pretty),
        intermediate: rec.intermediate.iter().map(pretty).collect(),
        output: rec.result.as_ref().map(pretty),
    }
}
