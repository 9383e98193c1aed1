//! Node commands (reference §3.6, §6.1, §6.2): the operator queues `model_install` or
//! `model_remove` for a node; the node polls, reports progress and completes them.
use super::WireError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The verbs a command may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    ModelInstall,
    ModelRemove,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::ModelInstall => "model_install",
            Verb::ModelRemove => "model_remove",
        }
    }

    pub fn parse(s: &str) -> Option<Verb> {
        match s {
            "model_install" => Some(Verb::ModelInstall),
            "model_remove" => Some(Verb::ModelRemove),
            _ => None,
        }
    }
}

/// A command's arguments (both verbs name a model).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandArgs {
    #[serde(default)]
    pub model: String,
}

/// `POST /api/v1/user/nodes/{pubkey}/commands` (operator).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Enqueue {
    #[serde(default)]
    pub command: String,
    #[serde(default, deserialize_with = "super::null_default")]
    pub args: CommandArgs,
}

impl Enqueue {
    /// The verb, and a model name of 1 to 256 bytes.
    pub fn validate(&self) -> Result<(Verb, &str), WireError> {
        let verb = Verb::parse(&self.command).ok_or_else(|| {
            WireError::Value(format!(
                "command '{}' is not one of model_install, model_remove",
                self.command
            ))
        })?;
        let model = self.args.model.as_str();
        if !(1..=256).contains(&model.len()) {
            return Err(WireError::Value(
                "args.model must be a model name of 1 to 256 characters".into(),
            ));
        }
        Ok((verb, model))
    }
}

/// The queued command, as the enqueue answers it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Queued {
    pub id: String,
    pub command: String,
    pub args: Value,
    pub status: String,
}

/// A command as the operator's list shows it. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandRow {
    pub id: String,
    pub command: String,
    pub args: Value,
    /// pending, running, completed, failed or cancelled.
    pub status: String,
    pub result: Value,
    pub error: Option<String>,
    /// The node's latest [`Progress`], as sent.
    pub progress: Value,
    pub issued_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

/// `POST /api/v1/node/commands/poll`: `limit` is 1..=10 (default 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandPoll {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The poll's answer: the commands now `running` for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Commands {
    #[serde(default)]
    pub commands: Vec<NodeCommand>,
}

/// One command for the node. The verb stays text: a node reports a verb it does not know
/// as failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeCommand {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub command: String,
    #[serde(default, deserialize_with = "super::null_default")]
    pub args: CommandArgs,
}

/// `POST /api/v1/node/commands/{id}/progress`: the latest snapshot of a pull. The server
/// stores the body as sent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// `running`.
    #[serde(default)]
    pub status: String,
    /// The backend's phase (`pulling manifest`, `downloading`, …).
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub completed: Option<u64>,
    #[serde(default)]
    pub pct: Option<f64>,
}

/// `{id, status}`: the command's status after a progress report; `cancelled` tells the node
/// to stop.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandAck {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
}

/// What a finished `model_install` reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Installed {
    pub installed: String,
    pub backend: String,
}

/// What a finished `model_remove` reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemovedModel {
    pub removed: String,
    pub backend: String,
}

/// A command's result as the node sends it (the server stores any JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum CommandResult {
    Installed(Installed),
    Removed(RemovedModel),
}
