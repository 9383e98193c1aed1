//! SDK 0.x node registration (`chain.sdk: "0.x"`): a node is registered by anyone, activates
//! itself once the coordinator's cooldown since registration has passed, and only an active
//! node may deliver. The status is read for the TUI (with the cooldown's countdown) and
//! `infernet node status`; `infernet node register|activate|deactivate` send the transactions.
use super::client::{ChainClient, ChainError};
use alloy::primitives::Address;
use serde::Serialize;

/// `nodeInfo(node).status` values.
pub const INACTIVE: u8 = 0;
pub const REGISTERED: u8 = 1;
pub const ACTIVE: u8 = 2;

/// Where this node stands with an SDK 0.x coordinator.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Registration {
    /// inactive | registered | active
    pub status: &'static str,
    /// Unix seconds the cooldown began (registration); 0 when never registered.
    pub cooldown_start: u32,
    /// The coordinator's cooldown, seconds.
    pub cooldown_secs: u32,
}

impl Registration {
    pub fn new(status: u8, cooldown_start: u32, cooldown_secs: u32) -> Self {
        Self {
            status: super::errors::node_status_name(status),
            cooldown_start,
            cooldown_secs,
        }
    }

    /// Unix seconds from which `activateNode` succeeds (registered nodes only).
    pub fn activatable_at(&self) -> Option<u64> {
        (self.status == "registered")
            .then(|| u64::from(self.cooldown_start) + u64::from(self.cooldown_secs))
    }

    /// Seconds left of the cooldown at `now` (0 once it has passed); None unless registered.
    pub fn cooldown_left(&self, now: u64) -> Option<u64> {
        self.activatable_at().map(|t| t.saturating_sub(now))
    }

    /// "active", "registered: activate in 41m12s", "registered: activate now",
    /// "not registered".
    pub fn describe(&self, now: u64) -> String {
        match (self.status, self.cooldown_left(now)) {
            ("active", _) => "active".into(),
            ("registered", Some(0)) => {
                "registered: cooldown over, run `infernet node activate`".into()
            }
            ("registered", Some(left)) => format!("registered: activate in {}", countdown(left)),
            _ => "not registered: run `infernet node register`".into(),
        }
    }
}

/// `1h02m03s`, `41m12s`, `9s`.
pub fn countdown(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// Why an inactive node does not deliver, with the fix.
pub fn not_active_reason(status: u8, cooldown_start: u32) -> String {
    if status == REGISTERED {
        format!(
            "NodeNotActive: this node is registered but not active yet (cooldown began at unix time {cooldown_start}): `infernet node activate` once it has passed (`infernet node status` shows the time left)"
        )
    } else {
        "NodeNotActive: this node is not registered with the SDK 0.x coordinator: `infernet node register`, then `infernet node activate` once the cooldown has passed".into()
    }
}

/// Reads `node`'s registration and the coordinator's cooldown.
pub async fn read(client: &ChainClient, node: Address) -> Result<Registration, ChainError> {
    let c = client.coordinator_v0();
    let info = client
        .view("Coordinator.nodeInfo", c.nodeInfo(node))
        .await?;
    let cooldown = client.view("Coordinator.cooldown", c.cooldown()).await?;
    Ok(Registration::new(info.status, info.cooldownStart, cooldown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_and_each_state() {
        let r = Registration::new(REGISTERED, 1_000, 3_600);
        assert_eq!(r.activatable_at(), Some(4_600));
        assert_eq!(r.cooldown_left(1_000), Some(3_600));
        assert_eq!(r.describe(1_000), "registered: activate in 1h00m00s");
        assert_eq!(r.describe(2_128), "registered: activate in 41m12s");
        assert_eq!(r.describe(4_591), "registered: activate in 9s");
        assert_eq!(
            r.describe(9_999),
            "registered: cooldown over, run `infernet node activate`"
        );
        let a = Registration::new(ACTIVE, 1_000, 3_600);
        assert_eq!((a.describe(0), a.cooldown_left(0)), ("active".into(), None));
        let i = Registration::new(INACTIVE, 0, 3_600);
        assert_eq!(
            i.describe(0),
            "not registered: run `infernet node register`"
        );
        assert!(not_active_reason(INACTIVE, 0).contains("infernet node register"));
        assert!(not_active_reason(REGISTERED, 5).contains("infernet node activate"));
    }
}
