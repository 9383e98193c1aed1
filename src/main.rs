use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    infernet::cli::run(infernet::cli::Cli::parse())
}
