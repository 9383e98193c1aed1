//! A PostgreSQL cluster of a test's own, for tests that stop and start it.
/// A PostgreSQL cluster of this test's own (initdb in a temp dir, loopback port), so it can
/// be stopped and started without disturbing the other tests' database.
pub struct OwnPostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn as_pg(&self, prog: &str) -> std::process::Command {
        let exe = self.bin.join(prog);
        // PostgreSQL refuses to run as root: as the `postgres` user the package made.
        if nix_is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        }
    }

    pub fn new() -> Option<Self> {
        let bin = match std::env::var("INFERNET_TEST_PG_BIN") {
            Ok(b) if !b.is_empty() => std::path::PathBuf::from(b),
            _ => {
                assert!(
                    !super::in_ci(),
                    "CI=true but INFERNET_TEST_PG_BIN is not set: run ./scripts/test.sh"
                );
                eprintln!("SKIPPED: no PostgreSQL binaries (run ./scripts/test.sh)");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        if nix_is_root() {
            let ok = std::process::Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let pg = Self {
            bin,
            port: super::free_port(),
            dir,
        };
        let data = pg.dir.path().join("data");
        let ok = pg
            .as_pg("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "infernet", "--auth=trust", "-E", "UTF8"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "initdb");
        pg.start();
        Some(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://infernet@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start(&self) {
        let ok = self
            .as_pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-h 127.0.0.1 -p {} -k {} -c fsync=off",
                self.port,
                self.dir.path().display()
            ))
            .arg("start")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "pg_ctl start");
    }

    pub fn stop(&self) {
        let _ = self
            .as_pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
