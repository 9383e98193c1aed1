//! `infernet control-plane serve` and the node's `register` / `update` / `remove`.
use super::operator::OperatorArgs;
use clap::{Args, Subcommand};
use infernet::config::{self, Overrides, Secret};
use infernet::control::agent;
use infernet::control::client::NodeKey;
use infernet::control::server::{self, ServeOptions};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum ControlPlaneCommand {
    /// Run a control plane: nodes register and take chat jobs; clients use /api/chat (SSE) and
    /// the OpenAI-compatible /v1/chat/completions
    Serve(ServeArgs),
    /// List the node keys that asked to be admitted (approval mode) and the decisions made
    Admissions(AdmissionsArgs),
    /// Admit a node key: it may register and take users' prompts (approval mode)
    Approve(DecideArgs),
    /// Refuse a node key; a registered node with it is removed and gets no new jobs
    Deny(DecideArgs),
    /// Client API keys for /api/chat, /api/v1/jobs and /v1/*: create, list (with usage), revoke
    #[command(subcommand)]
    Keys(super::keys_cmd::KeysCommand),
}

#[derive(Debug, Args)]
pub struct AdmissionsArgs {
    /// Only keys with this status: pending, approved or denied
    #[arg(long)]
    pub status: Option<String>,
    #[command(flatten)]
    pub op: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The node's public key (64 hex characters, as `infernet control-plane admissions` shows)
    pub pubkey: String,
    #[command(flatten)]
    pub op: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:4010", env = "INFERNET_CP_LISTEN")]
    pub listen: String,
    /// Where clients reach this control plane (names it in receipts: did:web); default: the
    /// listen address
    #[arg(long, env = "INFERNET_CP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SQLite file, or a PostgreSQL URL (postgres://user:pass@host/db); default:
    /// $XDG_DATA_HOME/infernet/control-plane.db
    #[arg(long, alias = "database", env = "INFERNET_CP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seconds a node may hold a job without a sign of life before it is re-queued
    #[arg(long, default_value_t = 90.0)]
    pub lease_secs: f64,
    /// Times a job is leased before it fails
    #[arg(long, default_value_t = 3)]
    pub max_attempts: i64,
    /// Seconds since a node's last heartbeat after which it gets no new jobs
    #[arg(long, default_value_t = 120.0)]
    pub node_timeout_secs: f64,
    /// Seconds a job may wait for a node before it fails (no_provider)
    #[arg(long, default_value_t = 120.0)]
    pub pending_timeout_secs: f64,
    /// Seconds between SSE keep-alive comments
    #[arg(long, default_value_t = 15.0)]
    pub ping_secs: f64,
    /// Readers one job may have at once (SSE and OpenAI streams); more get 429
    #[arg(long, default_value_t = 64)]
    pub max_readers_per_job: usize,
    /// Stored events read per database page when a reader replays a job
    #[arg(long, default_value_t = 256)]
    pub replay_page: i64,
    /// Connections at once; one more is answered 503 and closed
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a new connection has to start its request
    #[arg(long, default_value_t = 10.0)]
    pub header_timeout_secs: f64,
    /// Jobs one client (IP) may have waiting for a node; more get 429
    #[arg(long, default_value_t = 256)]
    pub max_pending_per_client: i64,
    /// Chat requests an hour one address may make without an API key (the reference allows
    /// 20); 0 requires a key
    #[arg(long, default_value_t = 20, env = "INFERNET_CP_ANONYMOUS_PER_HOUR")]
    pub anonymous_per_hour: u32,
    /// Requests an hour of a key created without --per-hour
    #[arg(long, default_value_t = 1000)]
    pub key_per_hour: u32,
    /// Which nodes may register and take users' prompts: open (any key that signs),
    /// allowlist (only --allow-node keys) or approval (--allow-node keys, and keys the
    /// operator approves with `infernet control-plane approve`). Default: allowlist when
    /// --allow-node is given, else open
    #[arg(long, env = "INFERNET_CP_ADMISSION", value_name = "MODE")]
    pub admission: Option<String>,
    /// Admit this node public key (hex; repeatable, or comma-separated in
    /// INFERNET_CP_ALLOW_NODES)
    #[arg(
        long = "allow-node",
        value_name = "PUBKEY",
        env = "INFERNET_CP_ALLOW_NODES",
        value_delimiter = ','
    )]
    pub allow_node: Vec<String>,
}

fn d(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.01))
}

pub fn run(cmd: ControlPlaneCommand) -> ExitCode {
    match cmd {
        ControlPlaneCommand::Serve(a) => serve(a),
        ControlPlaneCommand::Admissions(a) => {
            let q = a.status.map(|s| format!("?status={s}")).unwrap_or_default();
            operator_call(
                &a.op,
                reqwest::Method::GET,
                &format!("/api/v1/user/admissions{q}"),
                None,
            )
        }
        ControlPlaneCommand::Approve(a) => decide(a, "approve"),
        ControlPlaneCommand::Deny(a) => decide(a, "deny"),
        ControlPlaneCommand::Keys(k) => super::keys_cmd::run(k),
    }
}

fn decide(a: DecideArgs, decision: &str) -> ExitCode {
    let key = infernet::control::server::admission_key(&a.pubkey);
    operator_call(
        &a.op,
        reqwest::Method::POST,
        &format!("/api/v1/user/admissions/{key}"),
        Some(serde_json::json!({ "decision": decision })),
    )
}

/// An admissions call: prints the rows (or the JSON), or the server's error.
fn operator_call(
    op: &OperatorArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> ExitCode {
    let v = match super::operator::call(op, method, path, body) {
        Ok(v) => v,
        Err(c) => return c,
    };
    if op.json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let rows = match &v["data"] {
        serde_json::Value::Array(rows) => rows.clone(),
        row => vec![row.clone()],
    };
    if let Some(policy) = v["policy"].as_str() {
        outln!("admission policy: {policy}");
    }
    if rows.is_empty() {
        outln!("no node keys recorded");
    }
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
        outln!(
            "{:<9} {}  node_id={} name={} last_seen={}",
            s("status"),
            s("pubkey"),
            s("node_id"),
            s("name"),
            s("last_seen")
        );
    }
    ExitCode::SUCCESS
}

/// Name of the control plane's receipt-signing key in the secret store.
const RECEIPT_KEY: &str = "control_plane.receipt_key";

/// The receipt key from the secret store (keyring, else a 0600 file), made on first start.
fn receipt_key(env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
    let dir = config::config_dir(env).ok_or("no config directory (set HOME or XDG_CONFIG_HOME)")?;
    let secrets = infernet::identity::Secrets::new(&dir);
    match secrets.get(RECEIPT_KEY) {
        Ok(Some((k, at))) => {
            tracing::info!(location = %at, "receipt key loaded");
            Ok(k)
        }
        Ok(None) => {
            let (_, hex) = infernet::control::receipt::ReceiptKey::generate();
            let k = Secret::new(hex);
            let at = secrets
                .set(RECEIPT_KEY, &k)
                .map_err(|e| format!("cannot store the receipt key: {e}"))?;
            tracing::info!(location = %at, "receipt key created");
            Ok(k)
        }
        Err(e) => Err(format!("cannot read the receipt key: {e}")),
    }
}

fn serve(a: ServeArgs) -> ExitCode {
    if let Err(e) = infernet::logging::init(&config::LogConfig::default(), false) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let env = |k: &str| std::env::var(k).ok();
    let database = a.database_url.clone().unwrap_or_else(|| {
        config::data_dir(&env)
            .join("control-plane.db")
            .to_string_lossy()
            .into_owned()
    });
    let admission = match server::AdmissionPolicy::from_args(a.admission.as_deref(), &a.allow_node)
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let admin_token = env("INFERNET_ADMIN_TOKEN")
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    if matches!(admission, server::AdmissionPolicy::Approval(_)) && admin_token.is_none() {
        eprintln!(
            "error: --admission approval needs INFERNET_ADMIN_TOKEN: the operator approves nodes with it (infernet control-plane approve KEY)"
        );
        return ExitCode::from(2);
    }
    let receipt_key = match receipt_key(&env) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = ServeOptions {
        receipt_key: Some(receipt_key),
        public_url: a.public_url.clone(),
        listen: a.listen.clone(),
        database,
        lease: d(a.lease_secs),
        max_attempts: a.max_attempts.max(1),
        node_timeout: d(a.node_timeout_secs),
        pending_timeout: d(a.pending_timeout_secs),
        ping: d(a.ping_secs),
        max_readers_per_job: a.max_readers_per_job.max(1),
        replay_page: a.replay_page.max(1),
        max_connections: a.max_connections.max(1),
        header_timeout: d(a.header_timeout_secs),
        max_pending_per_client: a.max_pending_per_client.max(1),
        anonymous_per_hour: a.anonymous_per_hour,
        key_per_hour: a.key_per_hour,
        admission,
        admin_token,
        ..Default::default()
    };
    let rt = match super::runtime(None) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async move {
        let label = infernet::control::db::redact_url(&opts.database);
        let srv = match server::start(opts).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "control plane listening on http://{} (database: {label})",
            srv.addr
        );
        let cancel = srv.cancel_token();
        tokio::select! {
            _ = super::node::wait_for_signal() => cancel.cancel(),
            _ = cancel.cancelled() => {}
        }
        match srv.wait().await {
            Some(reason) => {
                eprintln!("error: the control plane stopped: {reason}");
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        }
    })
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Control plane URL (else control_plane.url, INFERNET_CONTROL_PLANE)
    #[arg(long)]
    pub url: Option<String>,
    /// Display name on the control plane
    #[arg(long)]
    pub name: Option<String>,
    /// Advertised address for peers
    #[arg(long)]
    pub address: Option<String>,
    /// Advertised port for peers
    #[arg(long)]
    pub port: Option<u16>,
    /// Print the server's row as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Control plane URL (else control_plane.url, INFERNET_CONTROL_PLANE)
    #[arg(long)]
    pub url: Option<String>,
    /// Required when stdin is not a terminal
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

pub(super) fn cp_config(
    flag: Option<&Path>,
    url: Option<&str>,
) -> Result<(config::Config, NodeKey), ExitCode> {
    let loaded = config::load(flag, &Overrides::default()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let mut cfg = loaded.config;
    if let Some(u) = url {
        cfg.control_plane.url = u.to_string();
    }
    if cfg.control_plane.url.is_empty() {
        eprintln!(
            "error: no control plane: pass --url, set control_plane.url in config.json, or INFERNET_CONTROL_PLANE"
        );
        return Err(ExitCode::from(2));
    }
    let env = |k: &str| std::env::var(k).ok();
    let key = config::config_dir(&env)
        .ok_or_else(|| "no config directory (set HOME or XDG_CONFIG_HOME)".to_string())
        .and_then(|d| NodeKey::load(&d))
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })?;
    Ok((cfg, key))
}

/// `register` and `update` (same call: it re-pushes the specs).
pub fn register(flag: Option<&Path>, a: RegisterArgs) -> ExitCode {
    let (mut cfg, key) = match cp_config(flag, a.url.as_deref()) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if let Some(n) = a.name {
        cfg.control_plane.name = n;
    }
    if let Some(addr) = a.address {
        cfg.control_plane.address = addr;
    }
    if a.port.is_some() {
        cfg.control_plane.port = a.port;
    }
    let rt = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async move {
        let env = |k: &str| std::env::var(k).ok();
        let backends =
            infernet::backend::Backends::from_config(&cfg.backends, &env, reqwest::Client::new())
                .unwrap_or_default();
        let name = if cfg.ui.node_name.is_empty() {
            sysinfo::System::host_name().unwrap_or_else(|| "infernet".into())
        } else {
            cfg.ui.node_name.clone()
        };
        match agent::register_once(&cfg.control_plane, key, backends, &name).await {
            Ok(reg) => {
                let row = &reg.row;
                if a.json {
                    outln!("{}", serde_json::to_string_pretty(row).unwrap_or_default());
                } else {
                    outln!(
                        "registered with {} as {} (id {})",
                        cfg.control_plane.url,
                        row["node_id"].as_str().unwrap_or("?"),
                        row["id"].as_str().unwrap_or("?")
                    );
                    outln!("serving: {}", serving_line(&reg));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// What the control plane will route here, and whose doing it is when nothing.
fn serving_line(reg: &agent::Registration) -> String {
    let stored = reg.stored();
    match (stored.is_empty(), reg.offered.is_empty()) {
        (false, _) => stored.join(", "),
        (true, true) => "no models (no backend answered: `infernet backends`)".into(),
        (true, false) => format!(
            "no models stored by the control plane, though this node offered {} ({}); it may not read heartbeat specs",
            reg.offered.len(),
            reg.offered.join(", ")
        ),
    }
}

pub fn remove(flag: Option<&Path>, a: RemoveArgs) -> ExitCode {
    use std::io::IsTerminal;
    let (cfg, key) = match cp_config(flag, a.url.as_deref()) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: removing the node from the control plane needs --yes when not on a terminal"
            );
            return ExitCode::from(2);
        }
        let ok = inquire::Confirm::new(&format!(
            "Remove this node from {}? (local files stay)",
            cfg.control_plane.url
        ))
        .with_default(false)
        .prompt()
        .unwrap_or(false);
        if !ok {
            eprintln!("not removed");
            return ExitCode::from(1);
        }
    }
    let rt = match super::runtime(Some(1)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async move {
        match agent::remove_once(&cfg.control_plane, key).await {
            Ok(v) => {
                if a.json {
                    outln!("{v}");
                } else if v["deleted"].as_bool() == Some(true) {
                    outln!("removed from {}", cfg.control_plane.url);
                } else {
                    outln!("{} had no record of this node", cfg.control_plane.url);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
