//! The operator lifecycle with real processes in a temporary config dir: background start,
//! status, stats, attach (IPC subscribe), logs, second start refused, stop, stale pid files,
//! and the IPC protocol's error paths.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::{free_port, infernet_cmd};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn run(home: &Path, args: &[&str]) -> Output {
    infernet_cmd(home)
        .env_remove("INFERNET_DAEMON_FOREGROUND")
        .args(args)
        .output()
        .expect("run infernet")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn dir(home: &Path) -> PathBuf {
    home.join("infernet")
}

fn write_config(home: &Path, port: u16) {
    std::fs::create_dir_all(dir(home)).unwrap();
    let cfg = json!({
        "server": {"port": port, "bind": "127.0.0.1"},
        "store": {"path": home.join("node.db").to_string_lossy()},
        "log": {"path": home.join("node.log").to_string_lossy()},
        "ui": {"node_name": "lifecycle-box"}
    });
    std::fs::write(dir(home).join("config.json"), cfg.to_string()).unwrap();
}

/// Stops whatever daemon the test left running, even when it failed half-way.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = infernet_cmd(&self.0)
            .args(["stop", "--force", "--timeout", "10"])
            .output();
    }
}

fn pid_of(home: &Path) -> u32 {
    std::fs::read_to_string(dir(home).join("daemon.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&o.stdout), text(&o.stderr)))
}

/// One request line, one reply line.
fn ask(sock: &Path, line: &str) -> Value {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s.write_all(b"\n").unwrap();
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("bad reply {reply:?}: {e}"))
}

#[test]
fn start_status_stats_attach_logs_stop_and_stale_pid() {
    let home = tempfile::tempdir().unwrap();
    let _cleanup = Cleanup(home.path().to_path_buf());
    let port = free_port();
    write_config(home.path(), port);

    let o = run(home.path(), &["start"]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = text(&o.stdout);
    let pid = pid_of(home.path());
    assert!(
        out.contains(&format!("running in the background (pid {pid})")),
        "{out}"
    );
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(alive(pid));
    // The REST API answers.
    let health = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(health.is_ok(), "REST port {port} is not open");

    use std::os::unix::fs::PermissionsExt;
    let sock = dir(home.path()).join("daemon.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let mode = std::fs::metadata(dir(home.path()).join("daemon.pid"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "pid file mode");

    let s = json_out(&run(home.path(), &["status", "--json"]));
    assert_eq!(s["running"], true);
    assert_eq!(s["daemon"]["pid"], pid);
    assert_eq!(s["daemon"]["rest"], format!("127.0.0.1:{port}"));
    assert_eq!(s["daemon"]["node"]["name"], "lifecycle-box");
    assert_eq!(s["daemon"]["managedBy"], "infernet start");
    let o = run(home.path(), &["status"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains(&format!("running (pid {pid}")),
        "{}",
        text(&o.stdout)
    );

    let st = json_out(&run(home.path(), &["stats", "--json"]));
    assert_eq!(st["pid"], pid);
    assert_eq!(st["stats"]["jobsCompleted"], 0);
    assert_eq!(st["stats"]["activeJobs"], 0);
    assert!(st["uptimeMs"].as_i64().unwrap() >= 0);

    // Attach: a subscriber gets the UI model, marked as attached.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"{\"cmd\":\"subscribe\"}\n").unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    r.read_line(&mut first).unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["data"]["pid"], pid);
    let t0 = Instant::now();
    let model = loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        if v["event"] == "model" {
            break v["data"].clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no model event");
    };
    assert_eq!(model["header"]["mode"], "Attached");
    assert_eq!(model["header"]["node_name"], "lifecycle-box");
    assert_eq!(model["header"]["rest_addr"], format!("127.0.0.1:{port}"));
    drop(r);
    drop(s);

    // A second start is refused with the reason, in both modes.
    let o = run(home.path(), &["start"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!("already running (pid {pid})")),
        "{}",
        text(&o.stderr)
    );
    let o = run(home.path(), &["start", "--foreground"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!("already running (pid {pid})")),
        "{}",
        text(&o.stderr)
    );

    let o = run(home.path(), &["logs", "--lines", "50"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("daemon ready"),
        "{}",
        text(&o.stdout)
    );

    // `logs -f` follows the live log: the stop's own lines arrive through it.
    let mut follow = infernet_cmd(home.path())
        .args(["logs", "-f", "--lines", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let follow_out = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(follow_out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    // It follows from the end of the file it found: a line appended once it runs comes through.
    let log = dir(home.path()).join("daemon.log");
    let marker = format!("lifecycle test: logs -f follows ({pid})");
    common::eventually_blocking(
        "`logs -f` to follow the log",
        Duration::from_secs(30),
        || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("open daemon.log");
            writeln!(f, "{marker}").expect("append to daemon.log");
            let until = Instant::now() + Duration::from_secs(1);
            while let Ok(l) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                if l.contains(&marker) {
                    return Some(());
                }
            }
            None
        },
    );
    let o = run(home.path(), &["stop"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains(&format!("stopped (pid {pid})")),
        "{}",
        text(&o.stdout)
    );
    let t0 = Instant::now();
    let mut followed = Vec::new();
    while !followed
        .iter()
        .any(|l: &String| l.contains("shutdown requested over IPC"))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "logs -f showed {followed:?}"
        );
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            followed.push(l);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(!alive(pid), "the daemon process is gone");
    assert!(!sock.exists() && !dir(home.path()).join("daemon.pid").exists());
    let o = run(home.path(), &["status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stdout).contains("not running"));
    let o = run(home.path(), &["logs"]);
    assert!(
        text(&o.stdout).contains("shutdown requested over IPC"),
        "{}",
        text(&o.stdout)
    );

    // A daemon killed with SIGKILL leaves its files behind: they are recognised as stale.
    let o = run(home.path(), &["start"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pid2 = pid_of(home.path());
    assert_ne!(pid, pid2);
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid2.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let t0 = Instant::now();
    while alive(pid2) {
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir(home.path()).join("daemon.pid").exists());
    let o = run(home.path(), &["status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o.stdout).contains(&format!("stale pid file for pid {pid2}")),
        "{}",
        text(&o.stdout)
    );
    // A stale pid file does not block a start.
    let o = run(home.path(), &["start"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pid3 = pid_of(home.path());
    assert!(run(home.path(), &["stop"]).status.success());
    assert!(!alive(pid3));

    // `stop --signal TERM` skips the socket and signals the pid.
    assert!(run(home.path(), &["start"]).status.success());
    let pid4 = pid_of(home.path());
    let o = run(home.path(), &["stop", "--signal", "TERM"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains(&format!("stopped (pid {pid4}, signal TERM)")),
        "{}",
        text(&o.stdout)
    );
    assert!(!alive(pid4));
    let o = run(home.path(), &["logs"]);
    assert!(
        text(&o.stdout).contains("SIGTERM received"),
        "{}",
        text(&o.stdout)
    );

    // `stop` cleans a stale pid file and says so.
    std::fs::write(dir(home.path()).join("daemon.pid"), "999999\n").unwrap();
    let o = run(home.path(), &["stop"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("removed a stale pid file for pid 999999"),
        "{}",
        text(&o.stdout)
    );
    assert!(!dir(home.path()).join("daemon.pid").exists());
    let o = run(home.path(), &["stop"]);
    assert!(text(&o.stdout).contains("not running"));
}

#[test]
fn ipc_answers_bad_lines_with_errors_and_keeps_the_connection() {
    let home = tempfile::tempdir().unwrap();
    let _cleanup = Cleanup(home.path().to_path_buf());
    let port = free_port();
    let echo = common::NativeEcho::start("echo");
    write_config(home.path(), port);
    let cfg = dir(home.path()).join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    c["manage_containers"] = json!(false);
    c["containers"] = json!([{"id": "echo", "url": echo.url()}]);
    std::fs::write(&cfg, c.to_string()).unwrap();
    let o = run(home.path(), &["start"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let sock = dir(home.path()).join("daemon.sock");

    let pong = ask(&sock, r#"{"cmd":"ping"}"#);
    assert_eq!(pong["ok"], true);
    assert!(pong["data"]["pong"].as_i64().unwrap() > 0);
    let r = ask(&sock, "{nope");
    assert_eq!(r["ok"], false);
    assert!(
        r["error"].as_str().unwrap().starts_with("bad-json: "),
        "{r}"
    );
    let r = ask(&sock, r#"{"payload": 1}"#);
    assert!(
        r["error"].as_str().unwrap().contains("missing field `cmd`"),
        "{r}"
    );
    let r = ask(&sock, r#"{"cmd":"frobnicate"}"#);
    assert_eq!(r, json!({"ok": false, "error": "unknown-cmd: frobnicate"}));
    let r = ask(&sock, r#"{"cmd":"intent","payload":"Quit"}"#);
    assert!(
        r["error"].as_str().unwrap().starts_with("not-subscribed"),
        "{r}"
    );
    let r = ask(&sock, r#"{"cmd":"status"}"#);
    assert_eq!(r["ok"], true);
    assert_eq!(r["data"]["pid"], pid_of(home.path()));

    // One connection: errors do not close it; intents are answered and their updates streamed.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let next = |r: &mut BufReader<UnixStream>, want: &dyn Fn(&Value) -> bool| -> Value {
        let t0 = Instant::now();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            if want(&v) {
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "nothing matched; last {v}"
            );
        }
    };
    let reply = |v: &Value| v.get("ok").is_some();
    s.write_all(b"garbage\n").unwrap();
    assert!(
        next(&mut r, &reply)["error"]
            .as_str()
            .unwrap()
            .starts_with("bad-json")
    );
    s.write_all(b"{\"cmd\":\"subscribe\"}\n").unwrap();
    assert_eq!(next(&mut r, &reply)["data"]["subscribed"], true);
    s.write_all(b"{\"cmd\":\"subscribe\"}\n").unwrap();
    assert_eq!(next(&mut r, &reply)["error"], "already subscribed");
    s.write_all(b"{\"cmd\":\"intent\",\"payload\":{\"Nope\":1}}\n")
        .unwrap();
    assert!(
        next(&mut r, &reply)["error"]
            .as_str()
            .unwrap()
            .starts_with("bad-intent")
    );
    s.write_all(b"{\"cmd\":\"intent\",\"payload\":{\"LoadJob\":{\"id\":\"no-such-job\"}}}\n")
        .unwrap();
    assert_eq!(next(&mut r, &reply)["data"]["accepted"], true);
    let u = next(&mut r, &|v: &Value| v["event"] == "update");
    let notice = &u["data"]["Notice"];
    assert_eq!(notice["level"], "Error", "{u}");
    assert!(
        notice["text"].as_str().unwrap().contains("no-such-job"),
        "{u}"
    );
    s.write_all(b"{\"cmd\":\"ping\"}\n").unwrap();
    assert_eq!(next(&mut r, &reply)["ok"], true);
    drop(r);
    drop(s);

    // A line over the limit is refused and that connection closed; the daemon carries on.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = vec![b'x'; 5 * 1024 * 1024];
    let _ = s.write_all(&big);
    let mut l = String::new();
    BufReader::new(s).read_line(&mut l).unwrap();
    assert!(l.contains("line-too-long"), "{l}");
    assert_eq!(ask(&sock, r#"{"cmd":"ping"}"#)["ok"], true);

    // Scripts can follow engine events alone.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"{\"cmd\":\"subscribe\",\"payload\":{\"model\":false}}\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(next(&mut r, &reply)["data"]["subscribed"], true);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let job: Value = rt.block_on(common::post_json(
        &format!("http://127.0.0.1:{port}/api/jobs"),
        &json!({"containers": ["echo"], "data": {"n": 1}}),
    ));
    let id = job["id"].as_str().unwrap().to_string();
    let started = next(&mut r, &|v: &Value| v["event"] != "model");
    assert_eq!(
        started["event"], "engine",
        "only events, no model: {started}"
    );
    assert_eq!(started["data"]["type"], "job_started");
    assert_eq!(started["data"]["id"], id.as_str());
    let done = next(&mut r, &|v: &Value| v["data"]["type"] == "job_completed");
    assert_eq!(done["data"]["id"], id.as_str());
    drop(r);
    drop(s);

    // shutdown over IPC stops it.
    let pid = pid_of(home.path());
    let r = ask(&sock, r#"{"cmd":"shutdown"}"#);
    assert_eq!(r["data"]["shuttingDown"], true);
    let t0 = Instant::now();
    while alive(pid) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "still running after shutdown"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
