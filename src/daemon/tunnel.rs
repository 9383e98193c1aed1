//! Reaching a daemon on another box through the system's OpenSSH client: `ssh -L` forwards a
//! local unix socket to the remote daemon's socket, so keys, agents and `~/.ssh/config` work as
//! usual and no port is opened on the box. `INFERNET_SSH_CONFIG` names another ssh config
//! file (`ssh -F`).
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// A box to reach: `[user@]host[:SOCKET]` (SOCKET: the daemon's socket there when it is not
/// in the remote user's default config dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub host: String,
    pub socket: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error("'{0}' is not a box: use [user@]host or [user@]host:/path/to/daemon.sock")]
    Spec(String),
    #[error("cannot run ssh: {0}")]
    Spawn(std::io::Error),
    #[error("ssh to {host}: {why}")]
    Ssh { host: String, why: String },
    #[error("ssh to {host} did not open the tunnel within {secs} s")]
    Timeout { host: String, secs: u64 },
}

impl Target {
    pub fn parse(spec: &str) -> Result<Target, TunnelError> {
        let spec = spec.trim();
        let (host, socket) = match spec.split_once(":/") {
            Some((h, path)) => (h, Some(format!("/{path}"))),
            None => (spec, None),
        };
        let bad = host.is_empty()
            || host.starts_with('-')
            || host.contains(char::is_whitespace)
            || host.ends_with('@');
        if bad {
            return Err(TunnelError::Spec(spec.to_string()));
        }
        Ok(Target {
            name: spec.to_string(),
            host: host.to_string(),
            socket,
        })
    }
}

fn ssh() -> Command {
    let mut c = Command::new("ssh");
    c.args([
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
    ]);
    if let Some(f) = std::env::var_os("INFERNET_SSH_CONFIG").filter(|f| !f.is_empty()) {
        c.arg("-F").arg(f);
    }
    c.stdin(Stdio::null()).kill_on_drop(true);
    c
}

/// The last lines ssh printed, as the reason it failed.
fn reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let tail = lines[lines.len().saturating_sub(2)..].join("; ");
    if tail.is_empty() {
        "ssh exited".into()
    } else {
        tail
    }
}

/// The daemon's socket on the box: as given, else the remote user's
/// `$XDG_CONFIG_HOME/infernet/daemon.sock` (asked over ssh: `~` is not expanded in `-L`).
pub async fn remote_socket(t: &Target) -> Result<String, TunnelError> {
    if let Some(s) = &t.socket {
        return Ok(s.clone());
    }
    let out = ssh()
        .arg(&t.host)
        .arg("printf '%s' \"${XDG_CONFIG_HOME:-$HOME/.config}/infernet/daemon.sock\"")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(TunnelError::Spawn)?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !path.starts_with('/') {
        return Err(TunnelError::Ssh {
            host: t.host.clone(),
            why: reason(&out.stderr),
        });
    }
    Ok(path)
}

/// A running `ssh -N -L local:remote host`; killed (and its socket removed) when dropped.
pub struct Tunnel {
    child: Child,
    pub local: PathBuf,
}

/// How long ssh has to open the forward.
const OPEN_WITHIN: Duration = Duration::from_secs(20);

impl Tunnel {
    /// Forwards `local` to the daemon's socket on the box; returns once `local` exists.
    pub async fn open(t: &Target, local: &Path) -> Result<Tunnel, TunnelError> {
        let remote = remote_socket(t).await?;
        let _ = std::fs::remove_file(local);
        let mut child = ssh()
            .args([
                "-N",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-L",
            ])
            .arg(format!("{}:{remote}", local.display()))
            .arg(&t.host)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(TunnelError::Spawn)?;
        let deadline = tokio::time::Instant::now() + OPEN_WITHIN;
        // ssh has no "forward ready" signal: the local socket appearing is the event.
        loop {
            if local.exists() {
                return Ok(Tunnel {
                    child,
                    local: local.to_path_buf(),
                });
            }
            if let Ok(Some(_)) = child.try_wait() {
                let mut err = Vec::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_end(&mut err).await;
                }
                return Err(TunnelError::Ssh {
                    host: t.host.clone(),
                    why: reason(&err),
                });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(TunnelError::Timeout {
                    host: t.host.clone(),
                    secs: OPEN_WITHIN.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for ssh to exit (the link dropped); why, from what it printed.
    pub async fn closed(&mut self) -> String {
        let mut err = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut err).await;
        }
        let status = self.child.wait().await;
        let why = reason(&err);
        match status {
            Ok(s) if why == "ssh exited" => format!("ssh exited ({s})"),
            _ => why,
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.local);
    }
}

/// A private directory for this process's local sockets (short: unix socket paths are
/// limited to about 100 bytes).
pub fn socket_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("infernet-fleet-{}", std::process::id()));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_a_host_with_an_optional_socket() {
        let t = Target::parse("op@gpu-1").unwrap();
        assert_eq!((t.host.as_str(), t.socket), ("op@gpu-1", None));
        let t = Target::parse("box:/srv/infernet/daemon.sock").unwrap();
        assert_eq!(
            (t.host.as_str(), t.socket.as_deref()),
            ("box", Some("/srv/infernet/daemon.sock"))
        );
        assert_eq!(t.name, "box:/srv/infernet/daemon.sock");
        for bad in ["", "-oProxyCommand=x", "a b", "op@"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_reason_is_what_ssh_said_last() {
        let e = b"Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\r\nssh: connect to host b port 22: Connection refused\r\n";
        assert_eq!(
            reason(e),
            "ssh: connect to host b port 22: Connection refused"
        );
        assert_eq!(reason(b""), "ssh exited");
    }
}
