//! `infernet pubkey show|link` and `infernet dashboard login`: the user tier without
//! passwords. `link` proves this node's key to the control plane (a signed request); the first
//! link makes an account whose token is kept in the secret store, so later links (from other
//! nodes too, given the same token) and `infernet node-commands` act as that account.
use super::payout_cmd::Target;
use clap::{Args, Subcommand};
use infernet::config::{self, Secret};
use infernet::control::client::{CpClient, CpError};
use infernet_core::wire::keys::{LinkBody, LinkRow};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The account token's name in the secret store.
pub const USER_TOKEN: &str = "control_plane.user_token";

#[derive(Debug, Subcommand)]
pub enum PubkeyCommand {
    /// This node's public key (what the control plane knows it by)
    Show,
    /// Prove to the control plane that you hold this node's key and link it to your account
    /// (the first link makes the account; its token goes to the secret store)
    Link(LinkArgs),
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// provider, aggregator or client
    #[arg(long, default_value = "provider")]
    pub role: String,
    /// A label for this node on the dashboard (at most 80 characters)
    #[arg(long)]
    pub label: Option<String>,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Print a one-time link that opens the control plane's dashboard as this node's account
    /// (signed by the node key; valid for 10 minutes)
    Login(LoginArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Control plane URL (else control_plane.url, INFERNET_CONTROL_PLANE)
    #[arg(long)]
    pub url: Option<String>,
}

/// How long a login link lasts; the control plane refuses longer ones.
const LOGIN_TTL_S: i64 = 600;

fn secrets() -> Result<infernet::identity::Secrets, ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    config::config_dir(&env)
        .map(|d| infernet::identity::Secrets::new(&d))
        .ok_or_else(|| {
            eprintln!("error: no config directory (set HOME or XDG_CONFIG_HOME)");
            ExitCode::from(2)
        })
}

pub fn pubkey(flag: Option<&Path>, cmd: PubkeyCommand) -> ExitCode {
    match cmd {
        PubkeyCommand::Show => {
            let env = |k: &str| std::env::var(k).ok();
            let key = config::config_dir(&env)
                .ok_or_else(|| "no config directory (set HOME or XDG_CONFIG_HOME)".to_string())
                .and_then(|d| infernet::control::client::NodeKey::load(&d));
            match key {
                Ok(k) => {
                    outln!("{}", k.public_key());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        PubkeyCommand::Link(a) => link(flag, a).unwrap_or_else(|c| c),
    }
}

fn link(flag: Option<&Path>, a: LinkArgs) -> Result<ExitCode, ExitCode> {
    let (cfg, key) = super::control_cmd::cp_config(flag, a.target.url.as_deref())?;
    let secrets = secrets()?;
    let token = match secrets.get(USER_TOKEN) {
        Ok(t) => t.map(|(t, _)| t),
        Err(e) => {
            eprintln!("error: cannot read the account token: {e}");
            return Err(ExitCode::FAILURE);
        }
    };
    let body = LinkBody {
        role: a.role.clone(),
        label: a.label.clone(),
    };
    if let Err(e) = body.check() {
        eprintln!("error: {}", e.message());
        return Err(ExitCode::from(2));
    }
    let rt = super::runtime(Some(1))?;
    let client = CpClient::new(&cfg.control_plane.url, key);
    let answer: Result<LinkRow, CpError> = rt.block_on(client.call_as(
        "/api/v1/user/pubkey/link",
        &body,
        token.as_ref(),
        Duration::from_secs(15),
    ));
    let row = answer.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })?;
    let mut stored_at = None;
    if let Some(t) = &row.token {
        let at = secrets
            .set(USER_TOKEN, &Secret::new(t.clone()))
            .map_err(|e| {
                eprintln!("error: linked, but the account token could not be stored: {e}");
                ExitCode::FAILURE
            })?;
        stored_at = Some(at);
    }
    if a.target.json {
        // The token stays out of the output: it is in the secret store.
        let shown = LinkRow {
            token: None,
            ..row.clone()
        };
        outln!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if row.created {
        "linked"
    } else {
        "already linked"
    };
    outln!(
        "{verb}: node key {} ({}) → account {} on {}",
        row.pubkey,
        row.role,
        row.user_id,
        cfg.control_plane.url
    );
    if let Some(at) = stored_at {
        outln!("new account; its token is stored in {at} as {USER_TOKEN}");
    }
    outln!("open the dashboard: infernet dashboard login");
    Ok(ExitCode::SUCCESS)
}

pub fn dashboard(flag: Option<&Path>, cmd: DashboardCommand) -> ExitCode {
    let DashboardCommand::Login(a) = cmd;
    let (cfg, key) = match super::control_cmd::cp_config(flag, a.url.as_deref()) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match CpClient::new(&cfg.control_plane.url, key).login_link(LOGIN_TTL_S) {
        Ok(link) => {
            outln!("{link}");
            eprintln!("open it within 10 minutes; it works once");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
