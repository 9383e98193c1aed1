//! A real HAProxy (Debian's, from scripts/provision-haproxy.sh) on loopback in front of
//! control-plane replicas: round robin, HTTP health checks on `/api/ready`, a refused
//! connection redispatched to another replica.
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Haproxy {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Haproxy {
    /// One in front of `replicas` (base URLs); `None` (skipped) without haproxy, failing
    /// under CI.
    pub fn start(replicas: &[&str]) -> Option<Self> {
        let bin = match std::env::var("INFERNET_TEST_HAPROXY") {
            Ok(b) if !b.is_empty() => b,
            _ => {
                assert!(
                    !super::in_ci(),
                    "CI=true but INFERNET_TEST_HAPROXY is not set: run ./scripts/test.sh"
                );
                eprintln!("SKIPPED: no haproxy (run ./scripts/test.sh)");
                return None;
            }
        };
        let port = super::free_port();
        let servers: String = replicas
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let addr = u.trim_start_matches("http://").trim_end_matches('/');
                format!("  server r{i} {addr}\n")
            })
            .collect();
        // Long client/server timeouts: SSE streams and node long polls stay open.
        let cfg = format!(
            "global
  maxconn 4000
defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 2s
  option redispatch
  retries 3
frontend cp
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /api/ready
  default-server check inter 300ms fall 1 rise 2
{servers}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).expect("haproxy.cfg");
        let log = std::fs::File::create(dir.path().join("haproxy.log")).expect("log");
        let child = Command::new(bin)
            .arg("-db") // foreground
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn haproxy");
        super::wait_port(port, Duration::from_secs(20));
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
