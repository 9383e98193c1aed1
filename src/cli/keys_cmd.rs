//! `infernet control-plane keys create|list|revoke`: client API keys (admin token).
use super::operator::{self, OperatorArgs};
use clap::{Args, Subcommand};
use infernet_core::wire::Data;
use infernet_core::wire::keys::{KeyCreated, KeyRow};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue a key; it is printed once (the control plane keeps only its hash)
    Create(CreateArgs),
    /// Every key with its limit and usage (requests, tokens, last use)
    List(OperatorArgsOnly),
    /// Revoke a key: requests with it are refused (401) from now on
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the key by
    #[arg(long)]
    pub name: Option<String>,
    /// Requests an hour (default: the control plane's --key-per-hour)
    #[arg(long)]
    pub per_hour: Option<u32>,
    #[command(flatten)]
    pub op: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct OperatorArgsOnly {
    #[command(flatten)]
    pub op: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key's id (key_…, as `keys list` shows)
    pub id: String,
    #[command(flatten)]
    pub op: OperatorArgs,
}

fn read<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ExitCode> {
    serde_json::from_value::<Data<T>>(v)
        .map(|d| d.data)
        .map_err(|e| {
            eprintln!("error: unexpected answer from the control plane: {e}");
            ExitCode::FAILURE
        })
}

fn line(k: &KeyRow) -> String {
    let state = if k.revoked_at.is_some() {
        "revoked"
    } else {
        "active"
    };
    format!(
        "{:<16} {:<7} {:<14} {:>6}/h  requests={} tokens={} last_used={} name={}",
        k.id,
        state,
        format!("{}…", k.prefix),
        k.per_hour,
        k.requests,
        k.tokens,
        k.last_used_at.as_deref().unwrap_or("-"),
        k.name.as_deref().unwrap_or("-")
    )
}

pub fn run(cmd: KeysCommand) -> ExitCode {
    match go(cmd) {
        Ok(c) | Err(c) => c,
    }
}

fn go(cmd: KeysCommand) -> Result<ExitCode, ExitCode> {
    match cmd {
        KeysCommand::Create(a) => {
            let mut body = serde_json::json!({});
            if let Some(n) = &a.name {
                body["name"] = n.clone().into();
            }
            if let Some(p) = a.per_hour {
                body["per_hour"] = p.into();
            }
            let v = operator::call(
                &a.op,
                reqwest::Method::POST,
                "/api/v1/user/keys",
                Some(body),
            )?;
            if a.op.json {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            let c: KeyCreated = read(v)?;
            outln!("{}", c.key);
            eprintln!(
                "created {} ({} requests an hour); the key above is shown only now: clients send it as Authorization: Bearer <key>",
                c.row.id, c.row.per_hour
            );
        }
        KeysCommand::List(a) => {
            let v = operator::call(&a.op, reqwest::Method::GET, "/api/v1/user/keys", None)?;
            if a.op.json {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<KeyRow> = read(v)?;
            if rows.is_empty() {
                outln!("no keys: infernet control-plane keys create --name NAME");
            }
            for k in &rows {
                outln!("{}", line(k));
            }
        }
        KeysCommand::Revoke(a) => {
            let path = format!("/api/v1/user/keys/{}", a.id.trim());
            let v = operator::call(&a.op, reqwest::Method::DELETE, &path, None)?;
            if a.op.json {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(ExitCode::SUCCESS);
            }
            let k: KeyRow = read(v)?;
            outln!("{}", line(&k));
        }
    }
    Ok(ExitCode::SUCCESS)
}
