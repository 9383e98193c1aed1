//! `infernet start` without `--foreground`: re-runs this binary as
//! `infernet start --foreground --detached` in its own session (no terminal, so closing the SSH
//! session does not stop it), stdout/stderr appended to `daemon.out`, and waits until its
//! socket answers — or reports why it did not start.
use super::{Paths, ipc};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the daemon; returns its pid once it answers `ping`.
pub async fn detach(args: &[OsString], paths: &Paths, wait: Duration) -> Result<u32, String> {
    paths.ensure_dir()?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.out)
        .map_err(|e| format!("cannot open '{}': {e}", paths.out.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot open '{}': {e}", paths.out.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the daemon: {e}"))?;
    let pid = child.id();
    let deadline = Instant::now() + wait;
    loop {
        if ipc::alive(&paths.sock).await {
            // Reaped by init once we exit; the handle is not needed.
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the daemon exited during start-up ({status}):\n{}",
                why(paths)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the daemon (pid {pid}) did not answer within {}s; it may still be starting: `infernet status`, `infernet logs`\n{}",
                wait.as_secs(),
                why(paths)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last lines of the daemon's output and log: usually the reason it stopped.
fn why(paths: &Paths) -> String {
    let mut lines = super::logs::tail_file(&paths.out, 10);
    if lines.is_empty() {
        lines = super::logs::tail_file(&paths.log, 10);
    }
    if lines.is_empty() {
        return "(no output)".into();
    }
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
