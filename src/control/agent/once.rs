//! One-shot calls for the CLI: `infernet register`/`update` and `remove`.

use super::*;

/// What `infernet register` learned: the server's row, and the models this node offered.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The row as the server sent it (the reference's has more columns than ours).
    pub row: Value,
    /// The models the node's backends answered with, sent with the heartbeat.
    pub offered: Vec<String>,
}

impl Registration {
    /// The models the control plane stored for this node (its row's `specs.served_models`).
    pub fn stored(&self) -> Vec<String> {
        self.row
            .pointer("/specs/served_models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect()
    }
}

/// Registers (or re-registers, pushing fresh specs), sends one heartbeat (the reference's
/// control plane takes the served models only from heartbeats) and returns the server's row
/// (`infernet register` / `update`, the wizard's last step).
pub async fn register_once(
    cfg: &ControlPlaneConfig,
    key: NodeKey,
    backends: Backends,
    default_name: &str,
) -> Result<Registration, CpError> {
    let agent = Agent::new(cfg, key, backends, default_name);
    agent.register().await?;
    agent.heartbeat(false).await?;
    let me: Me<Value> = agent
        .client
        .call("/api/v1/node/me", &RoleBody { role: agent.role }, SHORT)
        .await?;
    Ok(Registration {
        row: me.row.unwrap_or(Value::Null),
        offered: agent.refresh_served(false).await.names(),
    })
}

/// Removes this node from the control plane (`infernet remove`).
pub async fn remove_once(cfg: &ControlPlaneConfig, key: NodeKey) -> Result<Value, CpError> {
    let role = Role::parse(&cfg.role).map_err(|e| CpError::Local(e.to_string()))?;
    CpClient::new(&cfg.url, key)
        .post("/api/v1/node/remove", &RoleBody { role }, SHORT)
        .await
}
