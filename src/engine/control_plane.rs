//! The control-plane agent when `control_plane.url` is set: it needs the node identity from
//! the config directory; without one the reason is shown in the snapshot instead.
use crate::backend::Backends;
use crate::config::Config;
use crate::control::agent::Agent;
use crate::control::status::ControlStatus;
use crate::supervise::Supervisor;
use std::sync::Arc;

/// The agent (for a graceful drain) and its status (for the snapshot); both `None` without a
/// control plane, only the status when the node has no identity.
pub(super) struct ControlSide {
    pub agent: Option<Arc<Agent>>,
    pub status: Option<Arc<ControlStatus>>,
}

pub(super) fn spawn(config: &Config, backends: &Backends, sup: &Supervisor) -> ControlSide {
    let cp = &config.control_plane;
    if cp.url.is_empty() {
        return ControlSide {
            agent: None,
            status: None,
        };
    }
    let env = |k: &str| std::env::var(k).ok();
    let key = crate::config::config_dir(&env)
        .ok_or_else(|| "no config directory (set HOME or XDG_CONFIG_HOME)".to_string())
        .and_then(|d| crate::control::client::NodeKey::load(&d));
    match key {
        Ok(key) => {
            let idle = std::time::Duration::from_secs_f64(config.jobs.stream_idle_timeout.max(0.1));
            let agent = Agent::spawn(cp, key, backends.clone(), &node_name(config), idle, sup);
            let status = agent.status.clone();
            ControlSide {
                agent: Some(agent),
                status: Some(status),
            }
        }
        Err(why) => ControlSide {
            agent: None,
            status: Some(Agent::unavailable(cp, &why)),
        },
    }
}

/// `ui.node_name`, else the host name.
fn node_name(config: &Config) -> String {
    if config.ui.node_name.is_empty() {
        sysinfo::System::host_name().unwrap_or_else(|| "infernet".into())
    } else {
        config.ui.node_name.clone()
    }
}
