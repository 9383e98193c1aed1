//! The pid file doubles as the single-instance lock: the daemon holds an exclusive `flock` on
//! it for its whole life. The kernel drops the lock when the process dies, so "is a daemon
//! running?" never depends on a pid that may have been reused.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held while the daemon runs; removes the pid file on drop.
#[derive(Debug)]
pub struct PidLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("a daemon is already running (pid {})", pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()))]
    Held { pid: Option<u32> },
    #[error("pid file '{path}': {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

fn try_flock(f: &File, op: i32) -> std::io::Result<bool> {
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

fn read_pid_from(f: &mut File) -> Option<u32> {
    let mut s = String::new();
    f.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

impl PidLock {
    /// Takes the lock and writes our pid, or says who holds it.
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = open(path).map_err(io)?;
        if !try_flock(&f, libc::LOCK_EX).map_err(io)? {
            return Err(LockError::Held {
                pid: read_pid_from(&mut f),
            });
        }
        f.set_len(0).map_err(io)?;
        f.rewind().map_err(io)?;
        writeln!(f, "{}", std::process::id()).map_err(io)?;
        f.flush().map_err(io)?;
        Ok(Self {
            _file: f,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the pid file says about a daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidState {
    /// No pid file.
    Absent,
    /// Locked: a daemon lives (its pid, when readable).
    Running(Option<u32>),
    /// A pid file nobody holds: the daemon died without cleaning up.
    Stale(Option<u32>),
}

pub fn inspect(path: &Path) -> PidState {
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(_) => return PidState::Absent,
    };
    let pid = read_pid_from(&mut f);
    match try_flock(&f, libc::LOCK_SH) {
        Ok(false) => PidState::Running(pid),
        // Our shared lock is released when `f` closes.
        _ => PidState::Stale(pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_stale_file_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.pid");
        assert_eq!(inspect(&p), PidState::Absent);
        let lock = PidLock::acquire(&p).unwrap();
        let me = std::process::id();
        assert_eq!(inspect(&p), PidState::Running(Some(me)));
        match PidLock::acquire(&p) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(me)),
            other => panic!("second acquire: {other:?}"),
        }
        drop(lock);
        assert_eq!(inspect(&p), PidState::Absent, "the pid file is removed");
        std::fs::write(&p, "999999\n").unwrap();
        assert_eq!(inspect(&p), PidState::Stale(Some(999_999)));
        let again = PidLock::acquire(&p).unwrap();
        assert_eq!(inspect(&p), PidState::Running(Some(me)));
        drop(again);
    }
}
