//! The `infernet` binary: the CLI and the terminal UI, over the `infernet` library (the engine)
//! and `infernet-ui`. The library never depends on either.
mod cli;
mod term;
mod tui;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::with_chat_shorthand(std::env::args_os().collect());
    cli::run(cli::Cli::parse_from(args))
}
