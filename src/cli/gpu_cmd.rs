//! `infernet gpu`: this machine's CPUs, RAM, GPUs and interconnects (never uploaded).
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct GpuArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: GpuArgs) -> ExitCode {
    let r = infernet::system::gpu::probe();
    if args.json {
        match serde_json::to_string_pretty(&r) {
            Ok(s) => outln!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        out!("{}", infernet::system::gpu::render(&r));
    }
    ExitCode::SUCCESS
}
