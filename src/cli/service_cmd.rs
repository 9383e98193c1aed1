//! `infernet service`: run the node as a systemd user service (start at boot with
//! `loginctl enable-linger`, restart on failure, logs in the journal).
use clap::Subcommand;
use infernet::config::{self, Source};
use infernet::daemon::unit::{UNIT_NAME, render, unit_path};
use std::path::Path;
use std::process::{Command, ExitCode};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write ~/.config/systemd/user/infernet.service and reload systemd
    Install {
        /// Also enable and start it now
        #[arg(long)]
        enable: bool,
    },
    /// Stop, disable and remove the unit
    Uninstall,
    /// Start now and at every login (boot, with lingering)
    Enable,
    /// Stop now and at login
    Disable,
    /// systemctl --user status infernet
    Status,
    /// The service's journal (follows)
    Logs {
        #[arg(long, short = 'n', default_value_t = 200)]
        lines: usize,
        /// Print and exit instead of following
        #[arg(long)]
        no_follow: bool,
    },
    /// Print the unit without installing it
    Unit,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The unit for this binary and config.
fn unit_text(flag: Option<&Path>) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let config = match config::locate(flag, &env).map_err(|e| e.to_string())? {
        Source::File(p) if p.exists() => Some(std::path::absolute(&p).unwrap_or(p)),
        Source::File(p) => return Err(format!("the config file '{}' does not exist", p.display())),
        Source::Defaults { .. } => None,
    };
    let xdg = env("XDG_CONFIG_HOME").filter(|x| !x.is_empty());
    Ok(render(&exe, config.as_deref(), xdg.as_deref()))
}

/// Runs systemctl/journalctl; the error says what to do when it cannot.
fn systemd(bin: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(bin).args(args).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "`{bin} {}` failed ({s}); a systemd user session is needed (log in over SSH or run `loginctl enable-linger $USER`)",
            args.join(" ")
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{bin} is not installed: this machine does not run systemd. Run the node with `infernet start` (background) or under your init system with `infernet start --foreground`"
        )),
        Err(e) => Err(format!("cannot run {bin}: {e}")),
    }
}

fn done(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(flag: Option<&Path>, cmd: ServiceCommand) -> ExitCode {
    let Some(path) = unit_path(&env) else {
        eprintln!("error: cannot find the home directory: set HOME");
        return ExitCode::from(2);
    };
    match cmd {
        ServiceCommand::Unit => match unit_text(flag) {
            Ok(t) => {
                out!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => done(Err(e)),
        },
        ServiceCommand::Install { enable } => {
            let text = match unit_text(flag) {
                Ok(t) => t,
                Err(e) => return done(Err(e)),
            };
            if let Some(dir) = path.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                return done(Err(format!("cannot create '{}': {e}", dir.display())));
            }
            if let Err(e) = std::fs::write(&path, text) {
                return done(Err(format!("cannot write '{}': {e}", path.display())));
            }
            outln!("wrote {}", path.display());
            if let Err(e) = systemd("systemctl", &["--user", "daemon-reload"]) {
                eprintln!("warning: the unit is written but systemd did not load it: {e}");
                return ExitCode::FAILURE;
            }
            if enable {
                if let Err(e) = systemd("systemctl", &["--user", "enable", "--now", UNIT_NAME]) {
                    return done(Err(e));
                }
                outln!("enabled and started {UNIT_NAME}");
            } else {
                outln!("start it: infernet service enable");
            }
            outln!(
                "to keep it running after you log out and start it at boot: loginctl enable-linger $USER"
            );
            ExitCode::SUCCESS
        }
        ServiceCommand::Uninstall => {
            if !path.exists() {
                outln!("not installed ({} does not exist)", path.display());
                return ExitCode::SUCCESS;
            }
            if let Err(e) = systemd("systemctl", &["--user", "disable", "--now", UNIT_NAME]) {
                eprintln!("warning: {e}");
            }
            if let Err(e) = std::fs::remove_file(&path) {
                return done(Err(format!("cannot remove '{}': {e}", path.display())));
            }
            let _ = systemd("systemctl", &["--user", "daemon-reload"]);
            outln!("removed {}", path.display());
            ExitCode::SUCCESS
        }
        ServiceCommand::Enable | ServiceCommand::Disable | ServiceCommand::Status
            if !path.exists() =>
        {
            done(Err(format!(
                "the service is not installed ({} does not exist): `infernet service install`",
                path.display()
            )))
        }
        ServiceCommand::Enable => done(systemd(
            "systemctl",
            &["--user", "enable", "--now", UNIT_NAME],
        )),
        ServiceCommand::Disable => done(systemd(
            "systemctl",
            &["--user", "disable", "--now", UNIT_NAME],
        )),
        ServiceCommand::Status => done(systemd(
            "systemctl",
            &["--user", "status", "--no-pager", UNIT_NAME],
        )),
        ServiceCommand::Logs { lines, no_follow } => {
            let n = lines.to_string();
            let mut args = vec!["--user", "-u", UNIT_NAME, "-n", &n, "--no-pager"];
            if !no_follow {
                args.push("-f");
            }
            done(systemd("journalctl", &args))
        }
    }
}
