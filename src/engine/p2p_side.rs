//! The c0mpute swarm when `p2p.enabled`: it needs the node identity (its libp2p key is the
//! node key); without one, or with an address that cannot be used, the reason is what the
//! API and the log show.
use crate::api::p2p_routes::P2pState;
use crate::backend::Backends;
use crate::config::Config;
use crate::supervise::Supervisor;

pub(super) fn spawn(config: &Config, backends: &Backends, sup: &Supervisor) -> P2pState {
    if !config.p2p.enabled {
        return P2pState::Off;
    }
    let env = |k: &str| std::env::var(k).ok();
    let started = crate::config::config_dir(&env)
        .ok_or_else(|| "no config directory (set HOME or XDG_CONFIG_HOME)".to_string())
        .and_then(|d| crate::control::client::NodeKey::load(&d))
        .and_then(|key| crate::p2p::spawn(&config.p2p, &key, backends.clone(), sup));
    match started {
        Ok(h) => P2pState::On(h),
        Err(why) => {
            tracing::error!("p2p not started: {why}");
            P2pState::Failed(why)
        }
    }
}
