//! What the node's control-plane side is doing, for `status`, the TUI header and peers panel.
use serde::Serialize;
use std::sync::Mutex;

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PeerInfo {
    pub public_key: String,
    pub node_id: String,
    pub name: String,
    pub status: String,
    pub last_seen_ms: i64,
    pub models: Vec<String>,
    pub active_jobs: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ControlSnapshot {
    pub url: String,
    pub node_id: String,
    pub public_key: String,
    pub provider_id: Option<String>,
    pub registered: bool,
    /// connecting | online | offline | error | stopped (the agent lifecycle's phase).
    pub state: infernet_core::agent::Phase,
    pub last_error: Option<String>,
    pub heartbeats_ok: u64,
    pub heartbeats_failed: u64,
    pub last_heartbeat_ms: Option<i64>,
    pub polls: u64,
    pub jobs_picked: u64,
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    /// Jobs given to another node because this one lost the lease (or stopped).
    pub jobs_lost: u64,
    pub active_jobs: Vec<String>,
    pub concurrency_cap: u32,
    pub commands_run: u64,
    pub served_models: Vec<String>,
    pub peers: Vec<PeerInfo>,
    pub draining: bool,
}

#[derive(Debug, Default)]
pub struct ControlStatus(Mutex<ControlSnapshot>);

impl ControlStatus {
    pub fn new(s: ControlSnapshot) -> Self {
        Self(Mutex::new(s))
    }
    pub fn get(&self) -> ControlSnapshot {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn update(&self, f: impl FnOnce(&mut ControlSnapshot)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
