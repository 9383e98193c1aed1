//! `config.json`: Ritual's schema (same keys, meanings and defaults) plus our own sections.
use super::{Secret, lenient};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub containers: Vec<ContainerConfig>,
    pub chain: ChainConfig,
    /// Registry credentials for image pulls; both fields required when present.
    pub docker: Option<DockerCredentialsConfig>,
    /// Ritual telemetry switch. Accepted for compatibility; infernet sends no telemetry.
    #[serde(deserialize_with = "lenient::bool")]
    pub forward_stats: bool,
    pub log: LogConfig,
    /// Pre-1.1 name of `log.path`; honoured when `log.path` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    #[serde(deserialize_with = "lenient::bool")]
    pub manage_containers: bool,
    /// Ritual's job store. Accepted for compatibility; infernet stores jobs in SQLite (`store.path`).
    pub redis: RedisConfig,
    pub server: ServerConfig,
    /// Seconds to wait for managed containers to answer after starting them.
    #[serde(deserialize_with = "lenient::f64")]
    pub startup_wait: f64,
    /// Pre-1.0 top-level location of `chain.snapshot_sync`; accepted and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_sync: Option<serde_json::Value>,
    // --- infernet's own sections ---
    /// LLM backends (Ollama, vLLM, SGLang, llama.cpp, MAX, any OpenAI-compatible server);
    /// each id can be named as a container in jobs.
    pub backends: Vec<BackendConfig>,
    pub jobs: JobsConfig,
    pub store: StoreConfig,
    pub ui: UiConfig,
    /// A control plane that routes chat jobs to this node (`infernet control-plane serve`, or
    /// a compatible one); `controlPlane` (the Infernet Protocol CLI's key) is accepted too.
    #[serde(alias = "controlPlane")]
    pub control_plane: ControlPlaneConfig,
    /// `/metrics` is always served; pushing the same series somewhere is opt-in.
    pub telemetry: TelemetryConfig,
    /// The c0mpute peer-to-peer substrate (libp2p); off unless enabled.
    pub p2p: P2pConfig,
}

/// Joining the c0mpute swarm: where to listen, whom to ask first, what to bid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct P2pConfig {
    #[serde(deserialize_with = "lenient::bool")]
    pub enabled: bool,
    /// libp2p listen addresses (multiaddrs).
    pub listen: Vec<String>,
    /// Peers to join through: multiaddrs ending in `/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// What this node asks per job, USD (its bid).
    #[serde(deserialize_with = "lenient::f64")]
    pub price_usd: f64,
    /// Seconds between capability ads (c0mpute ignores ads older than 5 min).
    #[serde(deserialize_with = "lenient::f64")]
    pub ad_interval: f64,
    /// Seconds a buyer collects bids (c0mpute: 8).
    #[serde(deserialize_with = "lenient::f64")]
    pub bid_window: f64,
    /// Seconds the winning bidder has to start streaming before the job is offered again
    /// without it.
    #[serde(deserialize_with = "lenient::f64")]
    pub stream_wait: f64,
    /// The most this node pays per job it buys, USD (its offers' `max_price_usd`).
    #[serde(deserialize_with = "lenient::f64")]
    pub max_price_usd: f64,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            // The Infernet Protocol's P2P port.
            listen: vec!["/ip4/0.0.0.0/tcp/46337".into()],
            bootstrap: Vec::new(),
            price_usd: 0.0,
            ad_interval: 60.0,
            bid_window: 8.0,
            stream_wait: 20.0,
            max_price_usd: 1.0,
        }
    }
}

/// Opt-in push of the `/metrics` series (Ritual's `forward_stats` stays off).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TelemetryConfig {
    /// Where to POST the Prometheus text (e.g. a Pushgateway's
    /// `http://127.0.0.1:9091/metrics/job/infernet/instance/box1`); empty: no push.
    pub push_url: String,
    /// Seconds between pushes.
    #[serde(deserialize_with = "lenient::f64")]
    pub push_interval: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            push_url: String::new(),
            push_interval: 15.0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            containers: Vec::new(),
            chain: ChainConfig::default(),
            docker: None,
            forward_stats: true,
            log: LogConfig::default(),
            log_path: None,
            manage_containers: true,
            redis: RedisConfig::default(),
            server: ServerConfig::default(),
            startup_wait: 5.0,
            snapshot_sync: None,
            backends: Vec::new(),
            jobs: JobsConfig::default(),
            store: StoreConfig::default(),
            ui: UiConfig::default(),
            control_plane: ControlPlaneConfig::default(),
            telemetry: TelemetryConfig::default(),
            p2p: P2pConfig::default(),
        }
    }
}

/// The node side of a control plane: register, heartbeat, take chat jobs, run commands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ControlPlaneConfig {
    /// Base URL (e.g. `http://127.0.0.1:4010`); empty: no control plane (env
    /// `INFERNET_CONTROL_PLANE`, which may list several, comma-separated).
    pub url: String,
    /// Further replicas of the same control plane (one PostgreSQL behind them), tried in
    /// turn when the current one does not answer. One URL in front of a load balancer
    /// needs none.
    pub urls: Vec<String>,
    /// provider (takes jobs), aggregator or client.
    pub role: String,
    /// Stable id on the control plane; empty: `<role>-<first 8 hex of the public key>`.
    #[serde(alias = "nodeId")]
    pub node_id: String,
    /// Display name; empty: `ui.node_name`, else the host name.
    pub name: String,
    /// Advertised address and port for peers; empty: outbound only.
    pub address: String,
    pub port: Option<u16>,
    /// Seconds between heartbeats (jittered ±10 %).
    #[serde(deserialize_with = "lenient::f64")]
    pub heartbeat_interval: f64,
    /// Seconds a job poll may wait on the server for a job (long poll; servers without it
    /// answer at once and the node polls again after `poll_interval`).
    #[serde(deserialize_with = "lenient::f64")]
    pub poll_wait: f64,
    #[serde(deserialize_with = "lenient::f64")]
    pub poll_interval: f64,
    /// Seconds between command polls (`model_install`, `model_remove`).
    #[serde(deserialize_with = "lenient::f64")]
    pub command_interval: f64,
    /// Chat jobs run at once; advertised to the server as `load.concurrency_cap`.
    #[serde(deserialize_with = "lenient::u32")]
    pub concurrency_cap: u32,
    /// Advertised price, USD per 1,000 tokens (prompt + completion); the control plane's
    /// ledger prices each completed job with it. None: not advertised (jobs are priced 0).
    pub price: Option<f64>,
}

impl ControlPlaneConfig {
    /// Every replica to try, `url` first, each once; empty: no control plane.
    pub fn endpoints(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for u in std::iter::once(&self.url).chain(&self.urls) {
            let u = u.trim().trim_end_matches('/').to_string();
            if !u.is_empty() && !all.contains(&u) {
                all.push(u);
            }
        }
        all
    }
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            urls: Vec::new(),
            role: "provider".into(),
            node_id: String::new(),
            name: String::new(),
            address: String::new(),
            port: None,
            heartbeat_interval: 30.0,
            poll_wait: 20.0,
            poll_interval: 15.0,
            command_interval: 30.0,
            concurrency_cap: 4,
            price: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContainerConfig {
    pub id: String,
    pub image: String,
    pub url: String,
    pub bearer: Secret,
    #[serde(deserialize_with = "lenient::u16")]
    pub port: u16,
    #[serde(deserialize_with = "lenient::bool")]
    pub external: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub gpu: bool,
    /// token address -> minimum amount (uint256, decimal digits).
    #[serde(deserialize_with = "lenient::uint256_map")]
    pub accepted_payments: BTreeMap<String, String>,
    pub allowed_ips: Vec<String>,
    pub allowed_addresses: Vec<String>,
    pub allowed_delegate_addresses: Vec<String>,
    pub description: String,
    pub command: String,
    pub env: BTreeMap<String, String>,
    #[serde(deserialize_with = "lenient::bool")]
    pub generates_proofs: bool,
    pub volumes: Vec<String>,
    // --- infernet extensions ---
    /// Host address the container port is published on (managed containers).
    pub host_ip: String,
    /// Per-container override of `jobs.container_timeout` (seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            image: String::new(),
            url: String::new(),
            bearer: Secret::default(),
            port: 3000,
            external: true,
            gpu: false,
            accepted_payments: BTreeMap::new(),
            allowed_ips: Vec::new(),
            allowed_addresses: Vec::new(),
            allowed_delegate_addresses: Vec::new(),
            description: String::new(),
            command: String::new(),
            env: BTreeMap::new(),
            generates_proofs: false,
            volumes: Vec::new(),
            host_ip: "127.0.0.1".into(),
            timeout: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChainConfig {
    #[serde(deserialize_with = "lenient::bool")]
    pub enabled: bool,
    pub rpc_url: Option<String>,
    #[serde(deserialize_with = "lenient::u64")]
    pub trail_head_blocks: u64,
    pub registry_address: Option<String>,
    /// The coordinator of an SDK 0.x deployment (`sdk: "0.x"`, which has no Registry); with
    /// SDK 1.x a pre-1.0 key, replaced by `registry_address`, accepted and ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinator_address: Option<String>,
    pub wallet: WalletConfig,
    pub snapshot_sync: SnapshotSyncConfig,
    /// Ours: which Infernet SDK the contracts are: "1.x" (Registry, payments, proofs; the
    /// default) or "0.x" (v0.1.0: node registration, gas-metered deliveries).
    pub sdk: String,
}

impl ChainConfig {
    /// Running against SDK v0.1.0 contracts.
    pub fn sdk0(&self) -> bool {
        self.sdk == "0.x"
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            rpc_url: None,
            trail_head_blocks: 1,
            registry_address: None,
            coordinator_address: None,
            wallet: WalletConfig::default(),
            snapshot_sync: SnapshotSyncConfig::default(),
            sdk: "1.x".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WalletConfig {
    #[serde(deserialize_with = "lenient::u64")]
    pub max_gas_limit: u64,
    pub private_key: Option<Secret>,
    pub payment_address: Option<String>,
    pub allowed_sim_errors: Vec<String>,
    /// Ours: blocks a delivery may wait unmined before it is re-sent with higher fees.
    #[serde(deserialize_with = "lenient::u64")]
    pub replace_after_blocks: u64,
}

impl Default for WalletConfig {
    fn default() -> Self {
        Self {
            max_gas_limit: 5_000_000,
            private_key: None,
            payment_address: None,
            allowed_sim_errors: Vec::new(),
            replace_after_blocks: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SnapshotSyncConfig {
    #[serde(deserialize_with = "lenient::f64")]
    pub sleep: f64,
    #[serde(deserialize_with = "lenient::u32")]
    pub batch_size: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub starting_sub_id: u32,
    #[serde(deserialize_with = "lenient::f64")]
    pub sync_period: f64,
}

impl Default for SnapshotSyncConfig {
    fn default() -> Self {
        Self {
            sleep: 1.0,
            batch_size: 500,
            starting_sub_id: 0,
            sync_period: 0.5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DockerCredentialsConfig {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LogConfig {
    pub path: String,
    #[serde(deserialize_with = "lenient::u64")]
    pub max_file_size: u64,
    #[serde(deserialize_with = "lenient::u32")]
    pub backup_count: u32,
    /// Console level (the file always gets debug and up).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            path: "infernet_node.log".into(),
            max_file_size: 1 << 30,
            backup_count: 2,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RedisConfig {
    pub host: String,
    #[serde(deserialize_with = "lenient::u16")]
    pub port: u16,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            host: "redis".into(),
            port: 6379,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    #[serde(deserialize_with = "lenient::u16")]
    pub port: u16,
    pub rate_limit: RateLimitConfig,
    // --- infernet extensions ---
    /// Address the REST API binds to.
    pub bind: String,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDRs). Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Networks besides loopback allowed to call `PUT /api/status` (IPs or CIDRs).
    pub status_allowed_ips: Vec<String>,
    /// Largest accepted request body, bytes (413 beyond).
    #[serde(deserialize_with = "lenient::u64")]
    pub max_body_bytes: u64,
    /// Most `id`s one `GET /api/jobs` may name (400 beyond).
    #[serde(deserialize_with = "lenient::u32")]
    pub max_get_ids: u32,
    /// Most stored result bytes one `GET /api/jobs` returns (413 beyond; one job always fits).
    #[serde(deserialize_with = "lenient::u64")]
    pub max_get_bytes: u64,
    /// Connections at once; one more is answered 503 and closed.
    #[serde(deserialize_with = "lenient::u32")]
    pub max_connections: u32,
    /// Seconds a new connection has to start its request (hyper bounds a started head at 30 s).
    #[serde(deserialize_with = "lenient::f64")]
    pub header_timeout_secs: f64,
    /// Seconds a request body may take to arrive in full (408 beyond).
    #[serde(deserialize_with = "lenient::f64")]
    pub body_timeout_secs: f64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: 4000,
            rate_limit: RateLimitConfig::default(),
            bind: "0.0.0.0".into(),
            trusted_proxies: Vec::new(),
            status_allowed_ips: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_get_ids: 500,
            max_get_bytes: 64 * 1024 * 1024,
            max_connections: 512,
            header_timeout_secs: 10.0,
            body_timeout_secs: 30.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RateLimitConfig {
    #[serde(deserialize_with = "lenient::u32")]
    pub num_requests: u32,
    #[serde(deserialize_with = "lenient::f64")]
    pub period: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            num_requests: 60,
            period: 60.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct JobsConfig {
    /// Seconds one container call may take (Ritual: 180).
    #[serde(deserialize_with = "lenient::f64")]
    pub container_timeout: f64,
    /// Seconds a stream may stay silent before it is cut (no overall cap).
    #[serde(deserialize_with = "lenient::f64")]
    pub stream_idle_timeout: f64,
    /// Seconds a `running` job may stay unfinished before it is marked failed (Ritual: 900).
    #[serde(deserialize_with = "lenient::f64")]
    pub pending_ttl: f64,
    /// Seconds finished results are kept (Ritual: forever). 0 keeps them forever.
    #[serde(deserialize_with = "lenient::f64")]
    pub completed_retention: f64,
    /// Seconds a graceful shutdown waits for running jobs.
    #[serde(deserialize_with = "lenient::f64")]
    pub shutdown_grace: f64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            container_timeout: 180.0,
            stream_idle_timeout: 60.0,
            pending_ttl: 900.0,
            completed_retention: 7.0 * 24.0 * 3600.0,
            shutdown_grace: 10.0,
        }
    }
}

/// `infernet tui`: theme, keybindings, header name, mouse.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UiConfig {
    /// dark | light | high-contrast | ansi16, or a user theme `<config dir>/themes/NAME.toml`.
    pub theme: String,
    /// Action name -> keys, e.g. `{"quit": ["q", "ctrl-q"]}` (`infernet tui --help` lists them).
    pub keys: BTreeMap<String, Vec<String>>,
    /// Shown in the header; empty: the host name.
    pub node_name: String,
    /// Mouse capture (click and wheel); off keeps the terminal's own text selection.
    #[serde(deserialize_with = "lenient::bool")]
    pub mouse: bool,
    /// Boxes `infernet tui --fleet` watches over ssh: `[user@]host[:/path/to/daemon.sock]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fleet: Vec<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            keys: BTreeMap::new(),
            node_name: String::new(),
            mouse: true,
            fleet: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct StoreConfig {
    /// SQLite file; empty means `$XDG_DATA_HOME/infernet/infernet.db`.
    pub path: String,
    /// The store stops growing at this size (MiB; 0: only the disk limits it). A write past
    /// it fails as on a full disk: the job is reported failed with the reason, `/health`
    /// says unhealthy, and space freed by pruning is used again.
    #[serde(deserialize_with = "lenient::u64")]
    pub max_size_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct BackendConfig {
    pub id: String,
    /// ollama | vllm | sglang | llamacpp | max | openai
    pub kind: String,
    /// Empty: the kind's host variable (`OLLAMA_HOST`, `VLLM_HOST`, …) or its default port.
    pub url: String,
    pub api_key: Secret,
    /// Variable holding the API key (default: the kind's, e.g. `VLLM_API_KEY`).
    pub api_key_env: String,
    /// Name of a stored secret holding the API key (`infernet secret set NAME`: OS keyring,
    /// else a 0600 file).
    pub api_key_secret: String,
    /// Default model (else the kind's model variable, else the first the server lists).
    pub model: String,
    /// `engine` kind: the engine program and its arguments (else `INFERNET_ENGINE_BIN`).
    pub command: String,
    /// Ollama `num_thread` (else `OLLAMA_NUM_THREAD`).
    pub num_thread: Option<u32>,
    /// Clients allowed to use this backend in jobs (IPs or CIDRs); empty: everyone.
    pub allowed_ips: Vec<String>,
}
