//! A local anvil chain for `infernet dev chain` and the tests: finds the binary, starts it on
//! loopback and waits until it answers.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// anvil's well-known dev accounts (mnemonic "test test … junk"), index 0..=3.
pub const DEV_KEYS: [&str; 4] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/// Where anvil is looked for: `INFERNET_ANVIL_BIN`, `PATH`, then the npm package
/// `@foundry-rs/anvil` under ./node_modules or the test command's cache.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("INFERNET_ANVIL_BIN") {
        return Some(PathBuf::from(p));
    }
    let native = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("anvil")).collect())
        .unwrap_or_default();
    candidates.push(PathBuf::from(native));
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(
            PathBuf::from(home)
                .join(".cache/infernet-ci/npm")
                .join(native),
        );
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A running anvil; killed on drop.
pub struct Anvil {
    child: Child,
    pub port: u16,
}

impl Anvil {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts anvil on 127.0.0.1 (`port` 0 picks a free one). `block_time` 0 = mine per tx.
    pub fn start(
        bin: &std::path::Path,
        port: u16,
        block_time: u64,
        extra: &[&str],
    ) -> Result<Self, String> {
        // Port 0: anvil binds a free port itself and says which (picking one here and passing
        // it on raced with other processes doing the same).
        let mut cmd = Command::new(bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        if port != 0 {
            cmd.arg("--silent");
        }
        if block_time > 0 {
            cmd.args(["--block-time", &block_time.to_string()]);
        }
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(if port == 0 {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start '{}': {e}", bin.display()))?;
        let mut this = Anvil { child, port };
        if port == 0 {
            this.port = this.announced_port()?;
        }
        let port = this.port;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(this);
            }
            if let Some(e) = this.exited() {
                return Err(e);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "anvil did not listen on 127.0.0.1:{port} within 20 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        let mut err = String::new();
        if let Some(mut s) = self.child.stderr.take() {
            use std::io::Read;
            let _ = s.read_to_string(&mut err);
        }
        Some(format!("anvil exited ({status}): {}", err.trim()))
    }

    /// Reads "Listening on 127.0.0.1:PORT" from anvil's output, then keeps draining it.
    fn announced_port(&mut self) -> Result<u16, String> {
        use std::io::BufRead;
        let out = self
            .child
            .stdout
            .take()
            .ok_or("anvil's output is not captured")?;
        let mut lines = std::io::BufReader::new(out).lines();
        for line in lines.by_ref() {
            let line = line.map_err(|e| format!("reading anvil's output: {e}"))?;
            if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                let port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| format!("anvil said '{line}'"))?;
                std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
                return Ok(port);
            }
        }
        Err(self
            .exited()
            .unwrap_or_else(|| "anvil closed its output before listening".into()))
    }

    /// Waits until the process exits (e.g. after Ctrl-C reached it too).
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
