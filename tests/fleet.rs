//! The fleet view over real OpenSSH: our own `sshd` on loopback (Debian's openssh-server, a
//! test host key and user key), two real daemons (`infernet start`) in separate config dirs
//! behind it, and the real `infernet tui --host … --host …` in tmux attaching to both through
//! `ssh -L`. One daemon is stopped and started again: the Fleet panel shows it reconnecting
//! and then up. `infernet status --host` answers for scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn sshd() -> Option<String> {
    match std::env::var("INFERNET_TEST_SSHD") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                !in_ci(),
                "CI=true but INFERNET_TEST_SSHD is not set: run ./scripts/test.sh"
            );
            eprintln!("SKIPPED: no sshd (run ./scripts/test.sh)");
            None
        }
    }
}

/// sshd on a loopback port, with an ssh config naming it `box1` and `box2`.
struct Sshd {
    child: Child,
    config: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success());
}

fn start_sshd(bin: &str, dir: &Path) -> Sshd {
    keygen(&dir.join("host_key"));
    keygen(&dir.join("user_key"));
    std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let cfg = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n\
         StrictModes no\nPermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\n\
         PidFile {d}/sshd.pid\nLogLevel ERROR\n",
        d = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), cfg).unwrap();
    let child = Command::new(bin)
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    wait_port(port, Duration::from_secs(20));
    let client = format!(
        "Host box1 box2\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
        d = dir.display()
    );
    let config = dir.join("ssh_config");
    std::fs::write(&config, client).unwrap();
    Sshd { child, config }
}

/// A node's home and config (its own config dir: its own daemon socket).
fn node(dir: &Path, name: &str, echo_url: &str) -> (PathBuf, PathBuf) {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("config.json");
    let cfg = serde_json::json!({
        "server": {"port": free_port(), "bind": "127.0.0.1"},
        "manage_containers": false,
        "containers": [{"id": "echo", "url": echo_url}],
        "log": {"path": home.join("node.log")},
        "store": {"path": home.join("infernet.db")},
        "ui": {"node_name": name},
    });
    std::fs::write(&config, cfg.to_string()).unwrap();
    (home, config)
}

fn infernet(home: &Path, config: &Path, args: &[&str], ssh: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infernet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("INFERNET_CONFIG_PATH")
        .env("XDG_CONFIG_HOME", home)
        .env("XDG_DATA_HOME", home)
        .env("INFERNET_SSH_CONFIG", ssh)
        .current_dir(home)
        .output()
        .unwrap()
}

fn tmux(name: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(name)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_screen(name: &str, want: impl Fn(&str) -> bool, what: &str, within: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let s = tmux(name, &["capture-pane", "-p", "-t", name]);
        if want(&s) {
            return s;
        }
        assert!(t0.elapsed() < within, "screen never showed {what}:\n{s}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

struct Tmux(String);
impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

#[test]
fn a_fleet_of_two_daemons_over_ssh_survives_one_restarting() {
    let Some(bin) = sshd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sshd = start_sshd(&bin, d);
    let echo = NativeEcho::start("echo");
    let (h1, c1) = node(d, "node-one", &echo.url());
    let (h2, c2) = node(d, "node-two", &echo.url());
    struct Stop(Vec<(PathBuf, PathBuf, PathBuf)>);
    impl Drop for Stop {
        fn drop(&mut self) {
            for (h, c, s) in &self.0 {
                let _ = infernet(h, c, &["stop", "--force", "--timeout", "10"], s);
            }
        }
    }
    let _stop = Stop(vec![
        (h1.clone(), c1.clone(), sshd.config.clone()),
        (h2.clone(), c2.clone(), sshd.config.clone()),
    ]);
    for (h, c) in [(&h1, &c1), (&h2, &c2)] {
        let o = infernet(h, c, &["start"], &sshd.config);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let box1 = format!("box1:{}", h1.join("infernet/daemon.sock").display());
    let box2 = format!("box2:{}", h2.join("infernet/daemon.sock").display());

    // For scripts: status of a box through ssh.
    let o = infernet(
        &h1,
        &c1,
        &["status", "--json", "--host", &box2],
        &sshd.config,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["daemon"]["node"]["name"], "node-two", "{v}");
    // A box that does not answer ssh: a clear error.
    let o = infernet(
        &h1,
        &c1,
        &["status", "--host", "nobox.invalid"],
        &sshd.config,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ssh to nobox.invalid"),
        "{o:?}"
    );

    let name = format!("infernet-fleet-{}", std::process::id());
    let _t = Tmux(name.clone());
    let cmd = format!(
        "cd {h} && env -u INFERNET_CONFIG_PATH XDG_CONFIG_HOME={h} XDG_DATA_HOME={h} INFERNET_SSH_CONFIG={s} TERM=xterm-256color {bin} tui --config {c} --refresh 300 --host {box1} --host {box2}; echo FLEET-EXIT=$?; sleep 60",
        h = h1.display(),
        s = sshd.config.display(),
        bin = env!("CARGO_BIN_EXE_infernet"),
        c = c1.display(),
    );
    let ok = Command::new("tmux")
        .args([
            "-L",
            &name,
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "120",
            "-y",
            "32",
            &cmd,
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let screen = wait_screen(
        &name,
        |s| s.contains("2/2 up"),
        "both boxes up",
        Duration::from_secs(60),
    );
    // Each box by its host and, once attached, its node's name.
    assert!(
        screen.contains("box1 · node-one") && screen.contains("box2 · node-two"),
        "{screen}"
    );

    // One daemon stops: its box reconnects; started again, it is up again by itself.
    let o = infernet(&h2, &c2, &["stop", "--timeout", "20"], &sshd.config);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_screen(
        &name,
        |s| s.contains("1/2 up") && s.contains("reconnecting"),
        "box2 reconnecting",
        Duration::from_secs(30),
    );
    let o = infernet(&h2, &c2, &["start"], &sshd.config);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_screen(
        &name,
        |s| s.contains("2/2 up"),
        "box2 back up",
        Duration::from_secs(60),
    );

    // Enter opens the selected box's dashboard; 9 comes back to the fleet.
    tmux(&name, &["send-keys", "-t", &name, "j"]);
    tmux(&name, &["send-keys", "-t", &name, "Enter"]);
    wait_screen(
        &name,
        |s| s.contains("node-two") && s.contains("box box2:"),
        "box2's dashboard",
        Duration::from_secs(20),
    );
    tmux(&name, &["send-keys", "-t", &name, "9"]);
    wait_screen(
        &name,
        |s| s.contains("2/2 up"),
        "the fleet again",
        Duration::from_secs(10),
    );
    tmux(&name, &["send-keys", "-t", &name, "q"]);
    wait_screen(
        &name,
        |s| s.contains("FLEET-EXIT=0"),
        "the TUI to quit",
        Duration::from_secs(20),
    );
}
