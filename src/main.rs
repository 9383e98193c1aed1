use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = infernet::cli::with_chat_shorthand(std::env::args_os().collect());
    infernet::cli::run(infernet::cli::Cli::parse_from(args))
}
