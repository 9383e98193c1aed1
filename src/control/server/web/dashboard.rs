//! `/dashboard`: a linked operator's nodes (health, GPUs, models, earnings), their recent
//! jobs and the commands sent to them, with progress. Only nodes whose keys the account
//! proved (`infernet pubkey link`) appear.
use super::html::{ago, card, empty, esc, table};
use crate::control::db::DbError;
use crate::control::server::AppState;
use crate::control::server::store::{Job, Provider, now_ms};
use crate::payout::price::Decimal;
use infernet_core::wire::commands::CommandRow;
use serde::Deserialize;

/// A node of the account, with what the page shows about it.
struct Node {
    pubkey: String,
    label: Option<String>,
    row: Option<Provider>,
    earned: Option<Decimal>,
    jobs: Vec<Job>,
    commands: Vec<CommandRow>,
}

fn gpus(p: &Provider) -> String {
    let listed: Vec<String> = p
        .specs
        .get("gpus")
        .and_then(|g| g.as_array())
        .map(|gs| {
            gs.iter()
                .filter_map(|g| g.get("name").or_else(|| g.get("model")))
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    match (listed.is_empty(), &p.gpu_model) {
        (false, _) => listed.join(", "),
        (true, Some(m)) if !m.is_empty() => m.clone(),
        _ => {
            let cpu = p.specs.get("cpu");
            let num = |k: &str| cpu.and_then(|c| c.get(k)).and_then(|v| v.as_f64());
            match (num("cores"), num("ram_gb")) {
                (Some(c), Some(r)) => format!("no GPU (CPU: {c} cores, {r} GB RAM)"),
                _ => "no GPU reported".into(),
            }
        }
    }
}

fn health(p: &Provider, now: i64, timeout_ms: i64) -> String {
    let seen = ago(p.last_seen, now);
    if p.status == "offline" {
        format!("<span class=\"warn\">offline</span> · {seen}")
    } else if now - p.last_seen > timeout_ms {
        format!("<span class=\"bad\">silent</span> · last heartbeat {seen}")
    } else {
        format!("<span class=\"ok\">online</span> · heartbeat {seen}")
    }
}

fn progress(c: &CommandRow) -> String {
    let pct = c.progress.get("pct").and_then(|p| p.as_f64());
    let phase = c
        .progress
        .get("phase")
        .and_then(|p| p.as_str())
        .unwrap_or("");
    match pct {
        Some(p) => format!(
            "<span class=\"bar\"><span style=\"width:{:.0}%\"></span></span> {:.0}% {}",
            p.clamp(0.0, 100.0),
            p,
            esc(phase)
        ),
        None => esc(phase),
    }
}

/// A command's status, with the node's reason when it failed.
fn command_status(c: &CommandRow) -> String {
    match (c.status.as_str(), c.error.as_deref()) {
        ("failed", Some(why)) => format!("<span class=\"bad\">failed: {}</span>", esc(why)),
        ("failed" | "cancelled", None) => format!("<span class=\"bad\">{}</span>", esc(&c.status)),
        ("completed", _) => "<span class=\"ok\">completed</span>".into(),
        (s, _) => format!("<span class=\"warn\">{}</span>", esc(s)),
    }
}

async fn gather(st: &AppState, user: &str) -> Result<Vec<Node>, DbError> {
    let mut out = Vec::new();
    for link in st.store.linked_keys(user).await? {
        if link.role != "provider" {
            continue;
        }
        let row = st.store.provider_by_key(&link.pubkey, "provider").await?;
        let (earned, jobs) = match &row {
            Some(p) => {
                let amounts = st.store.earnings(&p.id).await?;
                (
                    Decimal::sum(amounts.iter().map(String::as_str)),
                    st.store.jobs_of(&p.id, 8).await?,
                )
            }
            None => (None, Vec::new()),
        };
        let commands = st
            .store
            .commands(&link.pubkey, 5)
            .await?
            .into_iter()
            .filter_map(|v| CommandRow::deserialize(v).ok())
            .collect();
        out.push(Node {
            pubkey: link.pubkey,
            label: link.label,
            row,
            earned,
            jobs,
            commands,
        });
    }
    Ok(out)
}

/// The live part of `/dashboard` for `user`.
pub async fn fragment(st: &AppState, user: &str) -> Result<String, DbError> {
    let now = now_ms();
    let nodes = gather(st, user).await?;
    let timeout = st.node_timeout_ms();
    let online = nodes
        .iter()
        .filter_map(|n| n.row.as_ref())
        .filter(|p| p.status != "offline" && now - p.last_seen <= timeout)
        .count();
    let total = Decimal::sum(
        nodes
            .iter()
            .filter_map(|n| n.earned.map(|d| d.to_string()))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    let jobs: usize = nodes.iter().map(|n| n.jobs.len()).sum();
    let mut out = String::from("<section class=\"cards\">");
    out += &card(
        "Your nodes",
        &nodes.len().to_string(),
        &if nodes.is_empty() {
            "no node linked: run <code>infernet pubkey link</code> on each node".to_string()
        } else {
            format!("{online} online")
        },
        nodes.is_empty(),
    );
    let earned = total.filter(|t| !t.is_zero());
    out += &card(
        "Earnings (USD)",
        &earned.map(|t| t.to_string()).unwrap_or_else(|| "0".into()),
        &if earned.is_none() {
            "nothing earned yet: set a price (<code>control_plane.price</code> in config.json) and <code>infernet payout set COIN NETWORK ADDRESS</code>".to_string()
        } else {
            "completed jobs, priced from each node's advertised price and real token usage".into()
        },
        earned.is_none(),
    );
    out += &card(
        "Recent jobs",
        &jobs.to_string(),
        &if jobs == 0 {
            format!(
                "no job ran on your nodes yet: <code>infernet chat --url {} \"hello\"</code>",
                esc(&st.public_url)
            )
        } else {
            "the newest jobs of each node".into()
        },
        jobs == 0,
    );
    out += "</section>";
    for n in &nodes {
        out += &node_section(n, now, timeout);
    }
    Ok(out)
}

fn node_section(n: &Node, now: i64, timeout: i64) -> String {
    let title = n
        .label
        .clone()
        .or_else(|| n.row.as_ref().and_then(|p| p.name.clone()))
        .or_else(|| n.row.as_ref().map(|p| p.node_id.clone()))
        .unwrap_or_else(|| n.pubkey.chars().take(16).collect());
    let mut out = format!("<h2>{}</h2>", esc(&title));
    let Some(p) = &n.row else {
        return out
            + &empty(
                "Linked, but this key has not registered as a provider. On that node:",
                "infernet register",
            );
    };
    let models = if p.served_models.is_empty() {
        "<span class=\"empty\">none: <code>infernet model pull MODEL</code></span>".to_string()
    } else {
        esc(&p.served_models.join(", "))
    };
    out += &table(
        &["Health", "GPUs", "Models", "Earned (USD)", "Key"],
        &[vec![
            health(p, now, timeout),
            esc(&gpus(p)),
            models,
            n.earned
                .map(|d| d.to_string())
                .unwrap_or_else(|| "0".into()),
            format!("<code>{}…</code>", esc(&n.pubkey[..n.pubkey.len().min(16)])),
        ]],
    );
    if n.jobs.is_empty() {
        out += &empty(
            "No jobs on this node yet.",
            "infernet chat --remote \"hello\"",
        );
    } else {
        let rows: Vec<Vec<String>> = n
            .jobs
            .iter()
            .map(|j| {
                let class = match j.status.as_str() {
                    "completed" => "ok",
                    "failed" => "bad",
                    _ => "warn",
                };
                vec![
                    ago(j.updated_at, now),
                    format!("<code>{}</code>", esc(&j.id)),
                    esc(j.model_name.as_deref().unwrap_or("any")),
                    format!("<span class=\"{class}\">{}</span>", esc(j.status.as_str())),
                ]
            })
            .collect();
        out += &table(&["When", "Job", "Model", "Status"], &rows);
    }
    if n.commands.is_empty() {
        out += &empty(
            "No commands sent to this node. Install a model on it from anywhere with",
            &format!("infernet node-command install MODEL --node {}", n.pubkey),
        );
    } else {
        let rows: Vec<Vec<String>> = n
            .commands
            .iter()
            .map(|c| {
                vec![
                    esc(c.issued_at.as_deref().unwrap_or("")),
                    esc(&c.command),
                    esc(c.args.get("model").and_then(|m| m.as_str()).unwrap_or("")),
                    command_status(c),
                    progress(c),
                ]
            })
            .collect();
        out += &table(&["Issued", "Command", "Model", "Status", "Progress"], &rows);
    }
    out
}
