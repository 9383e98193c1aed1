//! Command-line interface: one module per command group.
mod config_cmd;
mod node;

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
    /// Run the node: REST API, workflow containers, job store
    Start(node::StartArgs),
    /// Validate config.json and show the effective settings
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
}

/// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Start(args) => node::start(cli.config.as_deref(), args),
        Command::Config(cmd) => config_cmd::run(cli.config.as_deref(), cmd),
    }
}
