//! Command-line interface: one module per command group.

/// A line of a command's output on stdout (`println!` that does not panic): when the reader
/// has gone (`infernet status | head`) the command ends quietly with success, as Unix tools
/// do; any other write error is reported and exits 1.
macro_rules! outln {
    () => {
        $crate::cli::wrote(std::io::Write::write_all(&mut std::io::stdout().lock(), b"\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::wrote(std::io::Write::write_fmt(
            &mut std::io::stdout().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        ))
    };
}

/// `print!` as `outln!` is `println!`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::wrote(std::io::Write::write_fmt(
            &mut std::io::stdout().lock(),
            format_args!($($arg)*),
        ))
    };
}

/// The outcome of writing a command's output (see `outln!`).
pub(crate) fn wrote(r: std::io::Result<()>) {
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

mod backends_cmd;
mod chat;
mod config_cmd;
mod contracts;
mod control_cmd;
mod daemon_cmd;
mod diag_cmd;
mod firewall_cmd;
mod gpu_cmd;
mod init_cmd;
mod keys_cmd;
mod model;
pub(crate) use crate::term::{fetch_default_model, runtime};
mod node;
mod operator;
mod payout_cmd;
mod peers_cmd;
mod pubkey_cmd;
mod receipt_cmd;
mod registration_cmd;
mod remote_cmd;
mod run_cmd;
mod secret;
mod service_cmd;
mod setup;
mod tui_cmd;
mod wallet_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "infernet",
    version,
    about = "Infernet compute node: serves Ritual-compatible off-chain jobs with workflow containers",
    long_about = None,
)]
pub struct Cli {
    /// Config file (else INFERNET_CONFIG_PATH, ./config.json, $XDG_CONFIG_HOME/infernet/config.json)
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Guided, idempotent setup: hardware, Docker, LLM backend and model, chain, containers,
    /// config, firewall, identity, background node (`--yes` takes the defaults)
    Setup(setup::SetupArgs),
    /// The operator's dashboard: jobs, subscriptions, GPUs, containers, logs and chat; attached
    /// to the background node when one runs, else hosting it (the setup wizard when there is
    /// no config)
    Tui(tui_cmd::TuiArgs),
    /// Run the node in the background (REST API, workflow containers, chain, job store);
    /// `--foreground` for systemd
    Start(node::StartArgs),
    /// Stop the background node gracefully (running jobs finish, containers stop)
    Stop(daemon_cmd::StopArgs),
    /// Stop, then start the background node
    Restart(daemon_cmd::RestartArgs),
    /// Is the node running, and how is it doing (`--json`; exit 3 when not running)
    Status(daemon_cmd::StatusArgs),
    /// The running node's counters: jobs, containers, chain (`--json`)
    Stats(daemon_cmd::StatusArgs),
    /// The running node's c0mpute peers (p2p.enabled): models, GPU, last ad, bids
    Peers(peers_cmd::PeersArgs),
    /// One c0mpute infernet.inference workload from a spec (FILE or stdin) on this node's
    /// backends; the result as JSON (c0mpute's infernet plugin runs this)
    Run(run_cmd::RunArgs),
    /// The background node's log (`-f` to follow, `--lines N`)
    Logs(daemon_cmd::LogsArgs),
    /// Validate config.json and show the effective settings
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Chat with an LLM backend: `infernet chat "what is 2+2?"` (or just `infernet "…"`)
    Chat(chat::ChatArgs),
    /// List the configured LLM backends and probe every known endpoint
    Backends(backends_cmd::BackendsArgs),
    /// Models on a backend: list, show, use, pull, remove
    Model(model::ModelArgs),
    /// Create (or show) the node identity and store the chain wallet key in the OS keyring
    Init(init_cmd::InitArgs),
    /// This machine: CPU, RAM, GPUs (NVML, else lspci) and interconnects (`--json`)
    Gpu(gpu_cmd::GpuArgs),
    /// Print the commands that open the REST API port (ufw, firewalld, nftables, iptables)
    Firewall(firewall_cmd::FirewallArgs),
    /// Run the node as a systemd user service: install, uninstall, enable, disable, status, logs, unit
    #[command(subcommand)]
    Service(service_cmd::ServiceCommand),
    /// Check config, identity, Docker, containers, backends, chain, daemon and a job end to end
    /// (exit 1 when a check fails)
    Doctor(diag_cmd::DoctorArgs),
    /// A Markdown bundle for bug reports, with every secret redacted
    Debug(diag_cmd::DebugArgs),
    /// Secrets such as backend API keys: OS keyring, else a 0600 file
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Payment wallets: create (WalletFactory), balance, fund, approve, withdraw (`--json`)
    Wallet(wallet_cmd::WalletArgs),
    /// SDK 0.x node registration: register, activate (after the cooldown), deactivate, status
    Node(registration_cmd::NodeArgs),
    /// Infernet contracts: deploy the stack to a chain
    #[command(subcommand)]
    Contracts(contracts::ContractsCommand),
    /// Join the control plane in config (or --url): register this node and push its specs
    Register(control_cmd::RegisterArgs),
    /// Re-push this node's specs to the control plane (same as register)
    Update(control_cmd::RegisterArgs),
    /// Remove this node from the control plane (local files stay; install.sh --uninstall
    /// removes the binary)
    Remove(control_cmd::RemoveArgs),
    /// This node's payout addresses on the control plane: set COIN NETWORK ADDRESS
    /// [--default], list, remove COIN NETWORK
    Payout(payout_cmd::PayoutArgs),
    /// This node's payments ledger on the control plane (`--limit N`, `--json`)
    Payments(payout_cmd::PaymentsArgs),
    /// Job receipts signed by a control plane: `infernet receipt verify FILE|ID`
    #[command(subcommand)]
    Receipt(receipt_cmd::ReceiptCommand),
    /// This node's key on the control plane: show, link (to your account, for the dashboard
    /// and remote commands)
    #[command(subcommand)]
    Pubkey(pubkey_cmd::PubkeyCommand),
    /// Commands to a node of your account (after `infernet pubkey link`): install MODEL,
    /// remove MODEL, list
    #[command(name = "node-command")]
    Remote(remote_cmd::NodeCommandArgs),
    /// The control plane's web dashboard: `infernet dashboard login` prints a one-time link
    #[command(subcommand)]
    Dashboard(pubkey_cmd::DashboardCommand),
    /// A self-hostable control plane: `infernet control-plane serve`
    #[command(subcommand, name = "control-plane")]
    ControlPlane(control_cmd::ControlPlaneCommand),
    /// Local development helpers: `infernet dev chain`
    #[command(subcommand)]
    Dev(contracts::DevCommand),
}

/// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Tui(args) => tui_cmd::run(cli.config.as_deref(), args),
        Command::Setup(args) => setup::run(cli.config.as_deref(), args),
        Command::Start(args) => node::start(cli.config.as_deref(), args),
        Command::Stop(args) => daemon_cmd::stop(args),
        Command::Restart(args) => daemon_cmd::restart(cli.config.as_deref(), args),
        Command::Status(args) => daemon_cmd::status(args),
        Command::Stats(args) => daemon_cmd::stats(args),
        Command::Peers(args) => peers_cmd::run(args),
        Command::Run(args) => run_cmd::run(cli.config.as_deref(), args),
        Command::Logs(args) => daemon_cmd::logs(args),
        Command::Config(cmd) => config_cmd::run(cli.config.as_deref(), cmd),
        Command::Chat(args) => chat::run(cli.config.as_deref(), args),
        Command::Backends(args) => backends_cmd::run(cli.config.as_deref(), args),
        Command::Model(args) => model::run(cli.config.as_deref(), args),
        Command::Init(args) => init_cmd::run(args),
        Command::Gpu(args) => gpu_cmd::run(args),
        Command::Firewall(args) => firewall_cmd::run(cli.config.as_deref(), args),
        Command::Service(cmd) => service_cmd::run(cli.config.as_deref(), cmd),
        Command::Doctor(args) => diag_cmd::doctor(cli.config.as_deref(), args),
        Command::Debug(args) => diag_cmd::debug(cli.config.as_deref(), args),
        Command::Secret(cmd) => secret::run(cmd),
        Command::Wallet(args) => wallet_cmd::run(cli.config.as_deref(), args),
        Command::Node(args) => registration_cmd::run(cli.config.as_deref(), args),
        Command::Contracts(contracts::ContractsCommand::Deploy(args)) => contracts::deploy(args),
        Command::Dev(contracts::DevCommand::Chain(args)) => contracts::dev_chain(args),
        Command::Register(args) | Command::Update(args) => {
            control_cmd::register(cli.config.as_deref(), args)
        }
        Command::Remove(args) => control_cmd::remove(cli.config.as_deref(), args),
        Command::Payout(args) => payout_cmd::payout(cli.config.as_deref(), args),
        Command::Payments(args) => payout_cmd::payments(cli.config.as_deref(), args),
        Command::ControlPlane(cmd) => control_cmd::run(cmd),
        Command::Remote(a) => remote_cmd::run(cli.config.as_deref(), a),
        Command::Pubkey(cmd) => pubkey_cmd::pubkey(cli.config.as_deref(), cmd),
        Command::Dashboard(cmd) => pubkey_cmd::dashboard(cli.config.as_deref(), cmd),
        Command::Receipt(cmd) => receipt_cmd::run(cli.config.as_deref(), cmd),
    }
}

/// `infernet "what is 2+2?"` means `infernet chat "what is 2+2?"`: a first argument that is
/// not a command (nor `--help`/`--version`) starts a chat, flags included (`infernet --json …`).
pub fn with_chat_shorthand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let is_command = |s: &str| s == "help" || cmd.get_subcommands().any(|c| c.get_name() == s);
    // Skip leading global options (`-c FILE`, `--config FILE`, `--config=FILE`).
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        match a {
            "-c" | "--config" => i += 2,
            _ if a.starts_with("--config=") => i += 1,
            _ => break,
        }
    }
    const TOP_LEVEL_FLAGS: [&str; 4] = ["-h", "--help", "-V", "--version"];
    if let Some(first) = args.get(i).and_then(|a| a.to_str()) {
        let chat_flag = first.starts_with('-') && !TOP_LEVEL_FLAGS.contains(&first);
        if chat_flag || (!first.starts_with('-') && !is_command(first)) {
            args.insert(i, "chat".into());
        }
    }
    args
}
