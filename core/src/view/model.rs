//! The view model: everything a panel shows, as plain serialisable data. The engine bridge
//! (`src/tui.rs`) fills it in-process; a daemon sends the same structure over its socket.
//! Times are unix milliseconds; `now_ms` is the clock panels compute ages with (fixed in tests).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub now_ms: i64,
    pub header: Header,
    pub system: SystemView,
    pub jobs: JobsView,
    pub chain: ChainView,
    pub containers: Vec<ContainerRow>,
    pub backends: BackendsView,
    pub peers: PeersView,
    /// The newest log lines, oldest first (bounded by the bridge).
    pub logs: Vec<LogLine>,
    /// The engine's history, one entry per window (1 m, 15 m, 1 h); empty from a node that
    /// keeps none.
    #[serde(default)]
    pub history: Vec<crate::history::HistoryView>,
    /// Every box of a fleet view (`infernet tui --host …`), this one marked; empty otherwise.
    #[serde(default)]
    pub fleet: Vec<FleetRow>,
    /// This node in the c0mpute swarm, when `p2p.enabled`.
    #[serde(default)]
    pub swarm: Option<SwarmView>,
}

/// The c0mpute side of the Peers panel: this node's peer id and counters, and its peers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmView {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub connected: usize,
    pub ads_sent: u64,
    pub ads_taken: u64,
    pub refused: u64,
    pub last_refusal: Option<String>,
    pub bids_sent: u64,
    pub jobs_won: u64,
    pub receipts_verified: u64,
    pub receipts_failed: u64,
    pub peers: Vec<SwarmPeerRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SwarmPeerRow {
    pub peer_id: String,
    pub gpu: Option<String>,
    pub models: Vec<String>,
    /// When its latest ad arrived.
    pub last_ad_ms: i64,
    pub bids_won: u64,
    pub bids_lost: u64,
}

/// One box of a fleet, as the Fleet panel lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetRow {
    /// As given: `user@box`.
    pub name: String,
    pub state: BoxState,
    /// The box whose dashboard the other panels show.
    pub selected: bool,
    pub node_name: String,
    pub version: String,
    pub jobs_running: u64,
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    /// Mean GPU utilisation now, percent (none without a GPU).
    pub gpu_util: Option<f32>,
    /// Tokens per second over the last minute, all backends.
    pub tokens_s: Option<f32>,
    pub chain: String,
    pub control: String,
    pub last_error: Option<String>,
    /// When the box last sent a model.
    pub seen_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoxState {
    #[default]
    Connecting,
    Up,
    Reconnecting,
}

impl BoxState {
    pub fn label(self) -> &'static str {
        match self {
            BoxState::Connecting => "connecting",
            BoxState::Up => "up",
            BoxState::Reconnecting => "reconnecting",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[default]
    InProcess,
    Attached,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub node_name: String,
    pub version: String,
    pub started_ms: i64,
    pub rest_addr: String,
    pub mode: Mode,
    /// Where the config came from (a path, or "built-in defaults").
    pub config_source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemView {
    pub cpu_pct: f32,
    /// Recent CPU use, percent, oldest first.
    pub cpu_history: Vec<u64>,
    pub cores: usize,
    /// Each core's use now, percent.
    #[serde(default)]
    pub per_core: Vec<f32>,
    pub ram_used: u64,
    pub ram_total: u64,
    pub load: [f64; 3],
    pub gpus: Vec<GpuView>,
    /// Why no GPU is listed (e.g. no NVIDIA driver): shown instead of GPU rows.
    pub gpu_note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuView {
    pub index: u32,
    pub name: String,
    pub util_pct: u32,
    pub util_history: Vec<u64>,
    pub mem_used: u64,
    pub mem_total: u64,
    pub temp_c: Option<u32>,
    pub power_w: Option<f64>,
    pub power_limit_w: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    #[default]
    Running,
    Success,
    Failed,
}

impl JobState {
    pub fn label(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Success => "success",
            JobState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: String,
    /// rest | stream | status | chain
    pub source: String,
    pub containers: Vec<String>,
    pub state: JobState,
    pub created_ms: i64,
    /// Set once the job finished.
    pub finished_ms: Option<i64>,
    /// Bytes streamed so far (streaming jobs).
    pub streamed_bytes: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobsView {
    /// Newest first.
    pub rows: Vec<JobRow>,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
}

/// One job in full, loaded on demand (`Intent::LoadJob`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub id: String,
    pub state: JobState,
    pub containers: Vec<String>,
    pub input: Option<String>,
    pub intermediate: Vec<String>,
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChainView {
    /// `chain.enabled` is false: how to enable it.
    Disabled {
        how: String,
    },
    Enabled(Box<ChainStatusView>),
}

impl Default for ChainView {
    fn default() -> Self {
        ChainView::Disabled { how: String::new() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainStatusView {
    /// connecting | syncing | following
    pub phase: String,
    pub error: Option<String>,
    pub chain_id: u64,
    pub node: Option<String>,
    pub coordinator: Option<String>,
    pub head_block: u64,
    pub synced_sub_id: u32,
    pub head_sub_id: u32,
    pub rpc_ok: bool,
    pub rpc_calls: u64,
    pub rpc_errors: u64,
    pub rpc_last_error: Option<String>,
    pub tracked: usize,
    pub delivered: u64,
    pub skipped: u64,
    pub failed: u64,
    pub in_flight: u64,
    pub subscriptions: Vec<SubscriptionRow>,
    /// SDK 0.x: the node's registration with the coordinator ("registered: activate in 41m12s").
    #[serde(default)]
    pub registration: Option<String>,
    /// Whether that registration lets the node deliver (active).
    #[serde(default)]
    pub registration_ok: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: u32,
    pub owner: String,
    pub containers: Vec<String>,
    pub period: u32,
    pub frequency: u32,
    pub redundancy: u16,
    /// Nodes that delivered the current interval, when known.
    pub responses: Option<u16>,
    pub lazy: bool,
    /// tracked | ignored | cancelled | completed | expired
    pub status: String,
    pub reason: Option<String>,
    pub interval: Option<u32>,
    /// Unix seconds (block time) the interval opens.
    pub next_due: Option<u64>,
    pub last_delivery: Option<String>,
    pub last_tx: Option<String>,
    /// What it pays, when it pays.
    #[serde(default)]
    pub payment: Option<String>,
    /// Verifier and proof/escrow state, when it needs a proof.
    #[serde(default)]
    pub proof: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerRow {
    pub id: String,
    /// starting | ready | unavailable | stopped …
    pub state: String,
    pub reason: Option<String>,
    pub image: String,
    pub port: u16,
    pub managed: bool,
    pub restarts: u32,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendsView {
    pub rows: Vec<BackendRow>,
    /// Shown when nothing is configured (how to add one, what auto-detection found).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendRow {
    pub id: String,
    pub kind: String,
    pub url: String,
    /// checking | ready | unreachable
    pub state: String,
    pub error: Option<String>,
    pub default_model: Option<String>,
    pub models: Vec<ModelRow>,
    /// Set by the configuration (false for auto-detected servers).
    pub configured: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub name: String,
    pub size: Option<u64>,
    pub fits: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PeersView {
    /// No control plane is configured: how to configure one.
    NotConfigured { how: String },
    /// This node's link to its control plane and the nodes registered there.
    Connected(ControlView),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlView {
    pub url: String,
    /// connecting | online | offline | error | stopped
    pub state: String,
    pub node_id: String,
    pub heartbeats_ok: u64,
    pub heartbeats_failed: u64,
    pub last_heartbeat_ms: Option<i64>,
    pub last_error: Option<String>,
    pub jobs_active: u64,
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    pub served_models: Vec<String>,
    pub peers: Vec<PeerRow>,
}

impl Default for PeersView {
    fn default() -> Self {
        PeersView::NotConfigured { how: String::new() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub models: Vec<String>,
    pub last_seen_ms: i64,
    pub active_jobs: u64,
    /// This node.
    pub me: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub ts_ms: i64,
    pub level: Level,
    pub target: String,
    /// The message followed by its fields (`key=value`).
    pub text: String,
}
