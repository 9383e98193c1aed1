//! A real llama.cpp `llama-server` with the SmolLM2-135M GGUF (both provided by
//! scripts/provision-llm.sh through INFERNET_TEST_LLAMA_SERVER / INFERNET_TEST_GGUF).
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One server decodes at a time: two at once on 2 cores slow each other to a crawl.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub struct LlamaServer {
    child: Child,
    pub url: String,
    pub port: u16,
    _turn: MutexGuard<'static, ()>,
}

impl LlamaServer {
    /// Starts one on an OS-chosen port; `None` (skipped) when not provided, failing under CI.
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// The same with extra llama-server arguments (e.g. `--api-key`).
    pub fn start_with(extra: &[&str]) -> Option<Self> {
        let (bin, model) = match (
            std::env::var("INFERNET_TEST_LLAMA_SERVER"),
            std::env::var("INFERNET_TEST_GGUF"),
        ) {
            (Ok(b), Ok(m)) if !b.is_empty() && !m.is_empty() => (b, m),
            _ => {
                assert!(
                    !super::in_ci(),
                    "CI=true but INFERNET_TEST_LLAMA_SERVER / INFERNET_TEST_GGUF are not set: run ./scripts/test.sh"
                );
                eprintln!("SKIPPED: no llama-server (run ./scripts/test.sh, which provides one)");
                return None;
            }
        };
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("llama.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(&bin)
            .args([
                "-m",
                &model,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "-t",
                "1",
                "-c",
                "2048",
                "--parallel",
                "2",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn llama-server");
        let start = Instant::now();
        let port = loop {
            let mut s = String::new();
            let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut s));
            if let Some(rest) = s.split("listening on http://127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(p) = digits.parse::<u16>() {
                    break p;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "llama-server did not start: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let url = format!("http://127.0.0.1:{port}");
        let server = LlamaServer {
            child,
            url,
            port,
            _turn: turn,
        };
        while !server.healthy() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "llama-server never became healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::mem::forget(dir); // the log stays for post-mortems; it is in the OS temp dir
        Some(server)
    }

    fn healthy(&self) -> bool {
        use std::io::Write;
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).is_ok() && &buf[9..12] == b"200"
    }

    /// True when no slot is generating.
    pub async fn idle(&self) -> bool {
        let v: serde_json::Value = match reqwest::get(format!("{}/slots", self.url)).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => return false,
        };
        v.as_array()
            .is_some_and(|a| a.iter().all(|s| s["is_processing"] == false))
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        // SIGTERM, then SIGKILL after 5 s (it can hang on the first SIGTERM).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
