//! `infernet node-command install|remove MODEL` and `infernet node-command list`: commands
//! to a node of your account (linked with `infernet pubkey link`), sent with the account
//! token from the secret store, no admin token needed. The node runs them on its next
//! command poll and reports progress.
use super::pubkey_cmd::USER_TOKEN;
use clap::{Args, Subcommand};
use infernet::config::{self, Secret};
use infernet_core::wire::Data;
use infernet_core::wire::commands::{CommandArgs, CommandRow, Enqueue, Queued};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct NodeCommandArgs {
    #[command(subcommand)]
    pub command: NodeCommand,
    /// The node's public key (default: this node's)
    #[arg(long, global = true)]
    pub node: Option<String>,
    /// Control plane URL (else control_plane.url, INFERNET_CONTROL_PLANE)
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Print the server's answer as JSON
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Have the node pull a model onto its backend
    Install { model: String },
    /// Have the node remove a model from its backend
    Remove { model: String },
    /// The newest commands sent to the node, with their status and progress
    List,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

pub fn run(flag: Option<&Path>, a: NodeCommandArgs) -> ExitCode {
    let (cfg, key) = match super::control_cmd::cp_config(flag, a.url.as_deref()) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let env = |k: &str| std::env::var(k).ok();
    let Some(dir) = config::config_dir(&env) else {
        return fail(2, "no config directory (set HOME or XDG_CONFIG_HOME)");
    };
    let token: Secret = match infernet::identity::Secrets::new(&dir).get(USER_TOKEN) {
        Ok(Some((t, _))) => t,
        Ok(None) => {
            return fail(
                2,
                "no account token: link this node first (infernet pubkey link)",
            );
        }
        Err(e) => return fail(1, format!("cannot read the account token: {e}")),
    };
    let node = a.node.clone().unwrap_or_else(|| key.public_key());
    let url = format!(
        "{}/api/v1/user/nodes/{}/commands",
        cfg.control_plane.url.trim_end_matches('/'),
        node.trim()
    );
    let rt = match super::runtime(Some(1)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let http = reqwest::Client::new();
    let req = match &a.command {
        NodeCommand::Install { model } | NodeCommand::Remove { model } => {
            let verb = if matches!(a.command, NodeCommand::Install { .. }) {
                "model_install"
            } else {
                "model_remove"
            };
            http.post(&url).json(&Enqueue {
                command: verb.into(),
                args: CommandArgs {
                    model: model.clone(),
                },
            })
        }
        NodeCommand::List => http.get(&url),
    };
    let answer = rt.block_on(async move {
        let r = req
            .bearer_auth(token.expose())
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| format!("no answer from {url}: {e}"))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if status.is_success() {
            Ok(v)
        } else {
            Err(format!(
                "the control plane answered {status}: {}",
                v["error"].as_str().unwrap_or("(no reason given)")
            ))
        }
    });
    let v = match answer {
        Ok(v) => v,
        Err(e) => return fail(1, e),
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    match a.command {
        NodeCommand::List => match serde_json::from_value::<Data<Vec<CommandRow>>>(v) {
            Ok(d) if d.data.is_empty() => outln!("no commands sent to {node}"),
            Ok(d) => {
                for c in d.data {
                    let pct = c.progress.get("pct").and_then(|p| p.as_f64());
                    outln!(
                        "{}  {:<13} {:<30} {:<9} {}",
                        c.issued_at.as_deref().unwrap_or("-"),
                        c.command,
                        c.args["model"].as_str().unwrap_or("-"),
                        c.status,
                        pct.map(|p| format!("{p:.0}%")).unwrap_or_default()
                    );
                }
            }
            Err(e) => return fail(1, format!("unexpected answer: {e}")),
        },
        _ => match serde_json::from_value::<Data<Queued>>(v) {
            Ok(q) => outln!(
                "queued {} {} for {node} (id {}); follow it with infernet node-command list",
                q.data.command,
                q.data.args["model"].as_str().unwrap_or("-"),
                q.data.id
            ),
            Err(e) => return fail(1, format!("unexpected answer: {e}")),
        },
    }
    ExitCode::SUCCESS
}
