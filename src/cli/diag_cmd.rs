//! `infernet doctor` and `infernet debug`.
use clap::Args;
use infernet::diag::{bundle, doctor};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// One JSON document: {"ok": bool, "checks": [{name, status, detail, fix}]}
    #[arg(long)]
    pub json: bool,
    /// Do not send a test job through the running node
    #[arg(long)]
    pub skip_e2e: bool,
}

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// How many daemon log lines to include
    #[arg(long, default_value_t = 60)]
    pub log_lines: usize,
    /// Write the bundle to this file instead of stdout (mode 0600)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn rt() -> Option<tokio::runtime::Runtime> {
    super::runtime(Some(2)).ok()
}

pub fn doctor(flag: Option<&Path>, args: DoctorArgs) -> ExitCode {
    let Some(rt) = rt() else {
        return ExitCode::FAILURE;
    };
    let checks = rt.block_on(doctor::run(
        flag,
        &doctor::Options {
            skip_e2e: args.skip_e2e,
        },
    ));
    let failed = checks.iter().any(|c| c.status == doctor::Status::Fail);
    if args.json {
        outln!("{}", serde_json::json!({"ok": !failed, "checks": checks}));
    } else {
        for c in &checks {
            let mark = match c.status {
                doctor::Status::Ok => "ok  ",
                doctor::Status::Warn => "warn",
                doctor::Status::Fail => "FAIL",
                doctor::Status::Skip => "skip",
            };
            outln!("[{mark}] {:<18} {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                outln!("       {:<18} fix: {f}", "");
            }
        }
        let n = |s| checks.iter().filter(|c| c.status == s).count();
        outln!(
            "\n{} ok, {} warnings, {} failed, {} skipped",
            n(doctor::Status::Ok),
            n(doctor::Status::Warn),
            n(doctor::Status::Fail),
            n(doctor::Status::Skip)
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

pub fn debug(flag: Option<&Path>, args: DebugArgs) -> ExitCode {
    let Some(rt) = rt() else {
        return ExitCode::FAILURE;
    };
    let md = rt.block_on(bundle::build(
        flag,
        &bundle::Options {
            log_lines: args.log_lines,
        },
    ));
    match args.output {
        None => {
            out!("{md}");
            ExitCode::SUCCESS
        }
        Some(p) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let r = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&p)
                .and_then(|mut f| f.write_all(md.as_bytes()));
            match r {
                Ok(()) => {
                    outln!("wrote {} (review it before sharing)", p.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot write '{}': {e}", p.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}
