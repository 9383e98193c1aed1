//! The `specs` a node uploads with register and heartbeat (reference §3.3, §4.3), as our
//! agent builds them. The server reads specs as free-form JSON and sanitises them (any node
//! may send more or less than this), so these types are the sender's.
use serde::{Deserialize, Serialize};

/// What a node says about itself. The hardware parts are left out when the node could not
/// probe its hardware.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeSpecs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<Gpu>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interconnects: Option<Interconnects>,
    #[serde(default)]
    pub load: Load,
    #[serde(default)]
    pub served_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli_version: Option<String>,
    /// Rolling tokens per second over the last completed jobs; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<Bench>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    /// intel, amd, apple, aws, ampere or other.
    pub vendor: String,
    pub arch: String,
    /// Logical cores.
    pub cores: u64,
    pub groups: u64,
    /// Rounded to whole GB.
    pub ram_gb: f64,
}

/// One GPU, coarsened: the vendor (lowercase), a VRAM tier instead of the exact size, and
/// the model name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Gpu {
    pub vendor: String,
    pub vram_tier: String,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Interconnects {
    pub nvlink: Link,
    pub xgmi: Link,
    pub infiniband: Ports,
    pub efa: Adapters,
    pub rdma_capable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    pub available: bool,
    /// Sent as `null` when unknown.
    pub topology: Option<String>,
    pub link_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ports {
    pub available: bool,
    pub active_port_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Adapters {
    pub available: bool,
    pub adapter_count: u32,
}

/// Recomputed for every heartbeat. `ram`, `vram` and `gpu_utilization_max` come with the
/// hardware probe; `gpu_utilization_max` is then sent even when unknown (`null`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Load {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vram: Option<Memory>,
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub gpu_utilization_max: Option<Option<u32>>,
    #[serde(default)]
    pub active_jobs: u64,
    /// Jobs this node runs at once (the reference's daemon never sent it; the server then
    /// assumed 4).
    #[serde(default)]
    pub concurrency_cap: u32,
    #[serde(default)]
    pub load_avg_1m: f64,
    #[serde(default)]
    pub measured_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    pub total_gb: f64,
    pub free_gb: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bench {
    pub tokens_per_second_avg: f64,
    pub samples: u64,
}
