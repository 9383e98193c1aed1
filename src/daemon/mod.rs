//! The background node, one per config directory. Its files there: `daemon.pid` (0600, held
//! with an exclusive lock while the daemon lives, so a stale pid file never blocks a start and
//! two daemons can never run), `daemon.sock` (the IPC socket, 0600), `daemon.log` (+ `.1`…`.N`,
//! rotated) and `daemon.out` (whatever escapes logging, e.g. a crash message).
pub mod ipc;
pub mod lock;
pub mod logs;
pub mod outbox;
pub mod server;
pub mod spawn;
pub mod tunnel;
pub mod unit;

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub pid: PathBuf,
    pub sock: PathBuf,
    pub log: PathBuf,
    pub out: PathBuf,
}

impl Paths {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            pid: dir.join("daemon.pid"),
            sock: dir.join("daemon.sock"),
            log: dir.join("daemon.log"),
            out: dir.join("daemon.out"),
        }
    }

    /// The user's config directory (`$XDG_CONFIG_HOME/infernet`, else `~/.config/infernet`).
    pub fn from_env() -> Result<Self, String> {
        let env = |k: &str| std::env::var(k).ok();
        crate::config::config_dir(&env)
            .map(|d| Self::new(&d))
            .ok_or_else(|| {
                "cannot find the config directory: set HOME or XDG_CONFIG_HOME".to_string()
            })
    }

    /// Creates the directory (0700).
    pub fn ensure_dir(&self) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create '{}': {e}", self.dir.display()))?;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        Ok(())
    }
}

/// Whether a process with this pid exists (signal 0).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) -> Result<(), String> {
    let p = i32::try_from(pid).map_err(|_| format!("bad pid {pid}"))?;
    // SAFETY: plain kill(2) on a pid read from our own pid file.
    if unsafe { libc::kill(p, sig) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot signal pid {pid}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Signal names accepted by `infernet stop --signal`.
pub fn signal_number(name: &str) -> Option<i32> {
    let n = name.trim_start_matches("SIG").to_ascii_uppercase();
    Some(match n.as_str() {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "KILL" => libc::SIGKILL,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        _ => return None,
    })
}
