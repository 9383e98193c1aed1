//! `infernet config check`: validate and print the effective config, secrets redacted.
use clap::Subcommand;
use infernet::config::{self, Overrides, Source};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print the effective settings (flag > env > file > default)
    Check {
        /// Print only the effective config as JSON (no notes)
        #[arg(long)]
        json: bool,
    },
}

pub fn run(flag: Option<&Path>, cmd: ConfigCommand) -> ExitCode {
    let ConfigCommand::Check { json } = cmd;
    let loaded = match config::load(flag, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let effective = config::redacted(&loaded.config);
    let pretty = serde_json::to_string_pretty(&effective).unwrap_or_else(|e| format!("<{e}>"));
    if json {
        outln!("{pretty}");
        return ExitCode::SUCCESS;
    }
    match &loaded.source {
        Source::File(p) => eprintln!("config: {} (valid)", p.display()),
        Source::Defaults { searched } => {
            let list: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "config: no file found (searched {}); built-in defaults",
                list.join(", ")
            );
        }
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    outln!("{pretty}");
    ExitCode::SUCCESS
}
