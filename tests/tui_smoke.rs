//! Smoke test of the real `infernet tui` in tmux: it starts a real node (REST + the echo
//! container as a native process), shows a real job, switches every panel, opens a job's
//! detail and the chat pane, quits — and the terminal is restored (also after SIGTERM).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Session {
    name: String,
}

impl Session {
    fn start(name: &str, cmd: &str) -> Self {
        let ok = Command::new("tmux")
            .args([
                "-L",
                name,
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "110",
                "-y",
                "32",
                cmd,
            ])
            .status()
            .expect("tmux runs");
        assert!(ok.success(), "tmux new-session failed");
        Session { name: name.into() }
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.name, "capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["-L", &self.name, "send-keys", "-t", &self.name, k])
                .status()
                .expect("send-keys");
            assert!(ok.success());
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    fn alternate_on(&self) -> bool {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.name,
                "display",
                "-p",
                "-t",
                &self.name,
                "#{alternate_on}",
            ])
            .output()
            .expect("display");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Waits (bounded) until the screen contains `text`.
    fn wait_for(&self, text: &str, within: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.capture();
            if s.contains(text) {
                return s;
            }
            assert!(t0.elapsed() < within, "screen never showed '{text}':\n{s}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Each test has its own tmux server (-L): killing it ends only this test's session.
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
    }
}

fn write_config(home: &Path, port: u16, echo_url: &str) -> std::path::PathBuf {
    let path = home.join("config.json");
    let cfg = serde_json::json!({
        "server": {"port": port, "bind": "127.0.0.1"},
        "manage_containers": false,
        "containers": [{"id": "echo", "url": echo_url}],
        "log": {"path": home.join("node.log")},
        "store": {"path": home.join("infernet.db")},
        "ui": {"node_name": "smoke-node", "theme": "ansi16"}
    });
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    path
}

fn command_line(home: &Path, config: &Path, marker: &str) -> String {
    format!(
        "cd {h} && env -u INFERNET_CONFIG_PATH XDG_CONFIG_HOME={h} XDG_DATA_HOME={h} TERM=xterm-256color {bin} tui --config {c}; echo {marker}=$?; sleep 120",
        h = home.display(),
        bin = env!("CARGO_BIN_EXE_infernet"),
        c = config.display(),
    )
}

/// Sends a job to the echo container and waits for it to finish; returns its id.
async fn echo_job(base: &str, greeting: &str) -> String {
    let r: serde_json::Value = http()
        .post(format!("{base}/api/jobs"))
        .json(&serde_json::json!({"containers": ["echo"], "data": {"greeting": greeting}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().expect("job id").to_string();
    wait_job(base, &id, Duration::from_secs(20)).await;
    id
}

/// The real binary with this test's config dir and config file.
fn run_in(home: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_infernet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", home)
        .env("XDG_DATA_HOME", home)
        .current_dir(home)
        .output()
        .unwrap()
}

fn require_tmux() -> bool {
    if tmux_available() {
        return true;
    }
    assert!(!in_ci(), "tmux is missing (scripts/test.sh installs it)");
    eprintln!("skipping: tmux is not installed");
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn tui_shows_a_real_job_switches_every_panel_and_restores_the_terminal() {
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let config = write_config(dir.path(), port, &echo.url());
    let name = format!("infernet-smoke-{}", std::process::id());
    let s = Session::start(&name, &command_line(dir.path(), &config, "TUI-EXIT"));
    let screen = s.wait_for(&format!("REST 127.0.0.1:{port}"), Duration::from_secs(30));
    assert!(screen.contains("smoke-node"), "{screen}");
    assert!(s.alternate_on(), "the TUI runs on the alternate screen");

    // A real job through the node's REST API shows up in the Jobs panel.
    let base = format!("http://127.0.0.1:{port}");
    let id = echo_job(&base, "from-the-smoke-test").await;
    s.wait_for(&id[..7], Duration::from_secs(10));
    s.wait_for("1 ok", Duration::from_secs(10));

    s.keys(&["2"]);
    s.wait_for(&id, Duration::from_secs(5));
    s.keys(&["Enter"]);
    s.wait_for("from-the-smoke-test", Duration::from_secs(10));
    s.keys(&["Escape", "3"]);
    s.wait_for("The chain side is off", Duration::from_secs(5));
    s.keys(&["4"]);
    s.wait_for("external :", Duration::from_secs(5));
    s.keys(&["5"]);
    s.wait_for("No control plane is configured", Duration::from_secs(5));
    s.keys(&["6"]);
    s.wait_for("REST API listening", Duration::from_secs(5));
    s.keys(&["7"]);
    s.wait_for("message · Enter sends", Duration::from_secs(5));
    s.keys(&["/model smol", "Enter"]);
    s.wait_for("model: smol", Duration::from_secs(5));
    s.keys(&["Escape", "?"]);
    s.wait_for("Help", Duration::from_secs(5));
    s.keys(&["x", "1", "q"]);
    let end = s.wait_for("TUI-EXIT=0", Duration::from_secs(30));
    assert!(!s.alternate_on(), "the alternate screen is left on exit");
    assert!(
        !end.contains("Dashboard"),
        "the TUI's screen is gone after exit:\n{end}"
    );
    // The node stopped gracefully with the TUI.
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    assert!(log.contains("\"stopped\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_restores_the_terminal_and_stops_the_node() {
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let config = write_config(dir.path(), port, &echo.url());
    let name = format!("infernet-smoke-term-{}", std::process::id());
    let s = Session::start(&name, &command_line(dir.path(), &config, "TUI-EXIT"));
    s.wait_for(&format!("REST 127.0.0.1:{port}"), Duration::from_secs(30));
    // Only the TUI process itself (not the shell tmux runs it in).
    let pattern = format!(
        "^{} tui --config {}",
        env!("CARGO_BIN_EXE_infernet"),
        config.display()
    );
    let ok = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status()
        .expect("pkill");
    assert!(ok.success(), "no infernet tui process to signal");
    s.wait_for("TUI-EXIT=0", Duration::from_secs(30));
    assert!(!s.alternate_on());
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    assert!(log.contains("\"stopped\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_wizard_writes_the_config_and_starts_the_node() {
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("infernet").join("config.json");
    let port = free_port();
    let name = format!("infernet-smoke-wizard-{}", std::process::id());
    let s = Session::start(&name, &command_line(dir.path(), &config, "TUI-EXIT"));
    s.wait_for("No config.json was found", Duration::from_secs(20));
    // Until the node runs nothing else wakes the UI: every key must be seen on its own.
    s.keys(&["Enter"]);
    s.wait_for("enter a server by hand", Duration::from_secs(10));
    s.keys(&["Down"]);
    s.wait_for("● no LLM backend for now", Duration::from_secs(5));
    s.keys(&["Enter"]);
    s.wait_for("Workflow containers", Duration::from_secs(5));
    s.keys(&["bad-entry", "Enter"]);
    s.wait_for("'bad-entry' is not id=image@port", Duration::from_secs(5));
    s.keys(&["C-u", "Enter"]);
    s.wait_for("serve on-chain subscriptions", Duration::from_secs(5));
    s.keys(&["Enter"]);
    s.wait_for("REST port", Duration::from_secs(5));
    s.keys(&[
        "Tab",
        "Tab",
        "C-u",
        &port.to_string(),
        "Tab",
        "Tab",
        "C-u",
        "wizard-node",
        "Enter",
    ]);
    s.wait_for("Review and start", Duration::from_secs(5));
    s.keys(&["Enter"]);
    s.wait_for(&format!("REST 0.0.0.0:{port}"), Duration::from_secs(30));
    s.wait_for("wizard-node", Duration::from_secs(5));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(written["server"]["port"], port);
    assert_eq!(written["ui"]["node_name"], "wizard-node");
    assert_eq!(written["chain"]["enabled"], false);
    let health = http()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    s.keys(&["q"]);
    s.wait_for("TUI-EXIT=0", Duration::from_secs(30));
    assert!(!s.alternate_on());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_terminal_stops_the_tui_and_the_node() {
    // An SSH session that drops takes the terminal away: the TUI must stop (not spin) and
    // shut the node down gracefully.
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let config = write_config(dir.path(), port, &echo.url());
    let name = format!("infernet-smoke-hup-{}", std::process::id());
    let s = Session::start(&name, &command_line(dir.path(), &config, "TUI-EXIT"));
    s.wait_for(&format!("REST 127.0.0.1:{port}"), Duration::from_secs(30));
    let pattern = format!(
        "^{} tui --config {}",
        env!("CARGO_BIN_EXE_infernet"),
        config.display()
    );
    let running = || {
        Command::new("pgrep")
            .args(["-f", &pattern])
            .status()
            .is_ok_and(|st| st.success())
    };
    assert!(running());
    let ok = Command::new("tmux")
        .args(["-L", &name, "kill-server"])
        .status()
        .expect("tmux");
    assert!(ok.success());
    let t0 = Instant::now();
    while running() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "infernet tui outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    assert!(log.contains("\"stopped\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tui_attaches_to_the_running_daemon_and_leaves_it_running() {
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let config = write_config(h, port, &echo.url());
    let infernet = |args: &[&str]| run_in(h, &config, args);
    struct Stop<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["stop", "--force", "--timeout", "10"]);
        }
    }
    let o = infernet(&["start"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _stop = Stop(&infernet);

    let name = format!("infernet-attach-{}", std::process::id());
    let s = Session::start(&name, &command_line(h, &config, "TUI-EXIT"));
    let screen = s.wait_for("attached", Duration::from_secs(30));
    assert!(
        screen.contains(&format!("REST 127.0.0.1:{port}")),
        "{screen}"
    );
    // The daemon's log lines reach the attached Logs panel.
    s.keys(&["6"]);
    s.wait_for("daemon ready", Duration::from_secs(10));
    s.keys(&["1"]);
    // A job sent to the daemon appears live in the attached TUI.
    let base = format!("http://127.0.0.1:{port}");
    let id = echo_job(&base, "over-the-socket").await;
    s.wait_for(&id[..7], Duration::from_secs(10));
    // Job detail is an intent carried out by the daemon.
    s.keys(&["2"]);
    s.wait_for(&id, Duration::from_secs(5));
    s.keys(&["Enter"]);
    s.wait_for("over-the-socket", Duration::from_secs(10));
    s.keys(&["Escape", "q"]);
    s.wait_for("TUI-EXIT=0", Duration::from_secs(20));
    // Quitting an attached TUI leaves the node running.
    let o = infernet(&["status", "--json"]);
    assert!(
        o.status.success(),
        "the daemon still runs after the TUI quits"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["daemon"]["jobs"]["succeeded"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_hosted_by_the_tui_answers_status_and_stops_with_infernet_stop() {
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let echo = NativeEcho::start("echo");
    let port = free_port();
    let config = write_config(h, port, &echo.url());
    let infernet = |args: &[&str]| run_in(h, &config, args);
    let name = format!("infernet-hosted-{}", std::process::id());
    let s = Session::start(&name, &command_line(h, &config, "TUI-EXIT"));
    s.wait_for(&format!("REST 127.0.0.1:{port}"), Duration::from_secs(30));
    let t0 = std::time::Instant::now();
    let v: serde_json::Value = loop {
        let o = infernet(&["status", "--json"]);
        if o.status.success() {
            break serde_json::from_slice(&o.stdout).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "status never saw the TUI's node"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(v["daemon"]["managedBy"], "infernet tui", "{v}");
    assert_eq!(v["daemon"]["rest"], format!("127.0.0.1:{port}"));
    // A background start is refused: this config dir's node already runs.
    let o = infernet(&["start"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already running"));
    // `infernet stop` stops the node and the TUI leaves the screen cleanly.
    let o = infernet(&["stop"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.wait_for("TUI-EXIT=0", Duration::from_secs(30));
    assert!(!s.alternate_on());
    assert_eq!(infernet(&["status"]).status.code(), Some(3));
}

/// A TUI-hosted node joins a real control plane: the header and the Peers panel show the link
/// and the other node, the chat pane talks through the control plane, `status` shows it, and
/// quitting says goodbye (offline: no longer listed).
#[tokio::test(flavor = "multi_thread")]
async fn peers_panel_and_chat_pane_through_the_control_plane() {
    use common::control::{ControlPlane, Db, Node};
    if !require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let cp = ControlPlane::start(&Db::Sqlite(h.join("cp.db")), &[], &[]);
    let stub = serde_json::json!([{"id": "stub", "kind": "stub"}]);
    let _peer = Node::start("peer-one", &cp.url, stub.clone());
    let port = free_port();
    let config = h.join("config.json");
    let cfg = serde_json::json!({
        "server": {"port": port, "bind": "127.0.0.1"},
        "manage_containers": false,
        "backends": stub,
        "log": {"path": h.join("node.log")},
        "store": {"path": h.join("infernet.db")},
        "ui": {"node_name": "smoke-node", "theme": "ansi16"},
        "control_plane": {"url": cp.url, "heartbeat_interval": 0.5},
    });
    std::fs::write(&config, cfg.to_string()).unwrap();
    assert!(run_in(h, &config, &["init"]).status.success());
    let name = format!("infernet-cp-{}", std::process::id());
    let s = Session::start(&name, &command_line(h, &config, "TUI-EXIT"));
    s.wait_for("control plane online", Duration::from_secs(30));
    cp.wait_peers(&["peer-one", "smoke-node"], Duration::from_secs(30))
        .await;
    s.keys(&["5"]);
    s.wait_for("smoke-node (this node)", Duration::from_secs(20));
    s.wait_for("peer-one", Duration::from_secs(20));
    let o = run_in(h, &config, &["status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("control     online"), "{out}");
    s.keys(&["7"]);
    s.keys(&["/backend control-plane", "Enter"]);
    s.keys(&["hi plane", "Enter"]);
    let screen = s.wait_for("You said: hi plane", Duration::from_secs(30));
    assert!(screen.contains("remote:"), "{screen}");
    s.keys(&["Escape", "q"]);
    s.wait_for("TUI-EXIT=0", Duration::from_secs(30));
    eventually(
        "smoke-node to leave /api/peers",
        Duration::from_secs(5),
        || async { (!cp.peer_names().await.iter().any(|n| n == "smoke-node")).then_some(()) },
    )
    .await;
}
