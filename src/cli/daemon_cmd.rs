//! `infernet stop`, `restart`, `status`, `stats`, `logs`: the daemon seen from a terminal.
use super::node::{StartArgs, paths, start_background};
use clap::Args;
use infernet::daemon::lock::{self, PidState};
use infernet::daemon::{Paths, ipc, logs, signal, signal_number};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Send this signal (TERM, INT, HUP, QUIT, KILL) instead of asking over the socket
    #[arg(long, value_name = "NAME")]
    pub signal: Option<String>,
    /// SIGKILL the daemon if it has not stopped within --timeout
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for a graceful stop (running jobs finish, containers stop)
    #[arg(long, default_value_t = 90)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
    /// Ask the daemon on another box, over ssh: [user@]host[:/path/to/daemon.sock]
    #[arg(long, value_name = "BOX")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new lines (across rotation) until Ctrl-C
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How many lines to show first
    #[arg(long, short = 'n', default_value_t = 200)]
    pub lines: usize,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub stop: StopArgs,
    /// REST API port for the new process (overrides server.port)
    #[arg(long)]
    pub port: Option<u16>,
    /// REST API bind address for the new process (overrides server.bind)
    #[arg(long)]
    pub bind: Option<String>,
    /// Seconds to wait for the new process to answer
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

fn rt() -> Option<tokio::runtime::Runtime> {
    super::runtime(Some(1)).ok()
}

/// Whether process `pid` still runs (an exited one its parent has not reaped yet does not).
fn process_lives(pid: u32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0;
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false);
    exists && !zombie
}

/// Waits until the daemon has released its lock and its process has exited (the lock goes a
/// moment before the process does): "stopped" then means gone.
async fn wait_gone(paths: &Paths, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    let mut pid = None;
    while Instant::now() < until {
        match lock::inspect(&paths.pid) {
            PidState::Running(p) => pid = p.or(pid),
            _ => {
                if !pid.is_some_and(process_lives) {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Stops the daemon; Ok(message) when it is not running afterwards.
async fn stop_daemon(paths: &Paths, args: &StopArgs) -> Result<String, String> {
    let timeout = Duration::from_secs(args.timeout);
    let state = lock::inspect(&paths.pid);
    if let Some(name) = &args.signal {
        let sig = signal_number(name)
            .ok_or_else(|| format!("unknown signal '{name}' (TERM, INT, HUP, QUIT, KILL)"))?;
        let PidState::Running(Some(pid)) = state else {
            return Ok(clean_stale(paths, &state));
        };
        signal(pid, sig)?;
        return if wait_gone(paths, timeout).await {
            Ok(format!("stopped (pid {pid}, signal {name})"))
        } else {
            Err(format!(
                "pid {pid} is still running {}s after {name}",
                args.timeout
            ))
        };
    }
    let pid = match &state {
        PidState::Running(p) => *p,
        _ if ipc::alive(&paths.sock).await => None,
        _ => return Ok(clean_stale(paths, &state)),
    };
    let pid_text = pid
        .map(|p| format!("pid {p}"))
        .unwrap_or_else(|| "pid unknown".into());
    match ipc::call(&paths.sock, "shutdown", Value::Null, Duration::from_secs(5)).await {
        Ok(_) => {
            if wait_gone(paths, timeout).await {
                return Ok(format!("stopped ({pid_text})"));
            }
            eprintln!(
                "warning: the daemon acknowledged the stop but is still running after {}s",
                args.timeout
            );
        }
        Err(e) => eprintln!("warning: {e}; falling back to SIGTERM"),
    }
    let Some(pid) = pid else {
        return Err("the daemon does not stop and its pid is unknown".into());
    };
    signal(pid, libc::SIGTERM)?;
    if wait_gone(paths, Duration::from_secs(15)).await {
        return Ok(format!("stopped (pid {pid}, SIGTERM)"));
    }
    if args.force {
        signal(pid, libc::SIGKILL)?;
        if wait_gone(paths, Duration::from_secs(5)).await {
            let _ = std::fs::remove_file(&paths.sock);
            let _ = std::fs::remove_file(&paths.pid);
            return Ok(format!("killed (pid {pid}, SIGKILL)"));
        }
    }
    Err(format!(
        "pid {pid} is still running; `infernet stop --force` kills it"
    ))
}

fn clean_stale(paths: &Paths, state: &PidState) -> String {
    let _ = std::fs::remove_file(&paths.sock);
    match state {
        PidState::Stale(pid) => {
            let _ = std::fs::remove_file(&paths.pid);
            format!(
                "not running (removed a stale pid file{})",
                pid.map(|p| format!(" for pid {p}, which is gone"))
                    .unwrap_or_default()
            )
        }
        _ => "not running".into(),
    }
}

pub fn stop(args: StopArgs) -> ExitCode {
    let paths = match paths() {
        Ok(p) => p,
        Err(c) => return c,
    };
    let Some(rt) = rt() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(stop_daemon(&paths, &args)) {
        Ok(m) => {
            outln!("infernet: {m}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn restart(flag: Option<&Path>, args: RestartArgs) -> ExitCode {
    let paths = match paths() {
        Ok(p) => p,
        Err(c) => return c,
    };
    if let Err(e) = infernet::config::load(flag, &Default::default()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let Some(rt) = rt() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        if let Ok(s) = ipc::call(&paths.sock, "status", Value::Null, Duration::from_secs(3)).await
            && s.get("managedBy").and_then(Value::as_str) == Some("systemd")
        {
            eprintln!(
                "error: this daemon runs under systemd; restart it there: systemctl --user restart infernet"
            );
            return ExitCode::FAILURE;
        }
        match stop_daemon(&paths, &args.stop).await {
            Ok(m) => outln!("infernet: {m}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        let start = StartArgs {
            foreground: false,
            port: args.port,
            bind: args.bind.clone(),
            store: None,
            log_file: None,
            wait: args.wait,
            detached: false,
        };
        start_background(flag, &start, &paths).await
    })
}

fn not_running(paths: &Paths, json: bool) -> ExitCode {
    let state = lock::inspect(&paths.pid);
    let note = match &state {
        PidState::Stale(pid) => Some(format!(
            "stale pid file for pid {} (the daemon died without cleaning up; `infernet stop` removes it)",
            pid.map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into())
        )),
        PidState::Running(pid) => Some(format!(
            "pid {} holds the pid file but does not answer on {}",
            pid.map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
            paths.sock.display()
        )),
        PidState::Absent => None,
    };
    if json {
        outln!(
            "{}",
            json!({"running": false, "daemon": Value::Null, "note": note})
        );
    } else {
        outln!("infernet daemon: not running");
        if let Some(n) = note {
            outln!("  {n}");
        }
        outln!("  start it: infernet start   (or `infernet tui` to run the node in the dashboard)");
    }
    // As systemctl: 3 = not running.
    ExitCode::from(3)
}

/// `cmd` on the daemon of another box, through an ssh tunnel; `None` when it does not answer.
fn ask_remote(cmd: &str, spec: &str) -> Result<Option<Value>, ExitCode> {
    use infernet::daemon::tunnel::{Target, Tunnel, socket_dir};
    let target = Target::parse(spec).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let rt = rt().ok_or(ExitCode::FAILURE)?;
    rt.block_on(async {
        let dir = socket_dir().map_err(|e| {
            eprintln!("error: cannot make a directory for the ssh socket: {e}");
            ExitCode::FAILURE
        })?;
        let local = dir.join(format!("status-{}.sock", std::process::id()));
        let tunnel = Tunnel::open(&target, &local).await.map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })?;
        let answer = ipc::call(&tunnel.local, cmd, Value::Null, Duration::from_secs(10)).await;
        drop(tunnel);
        let _ = std::fs::remove_dir(&dir);
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(ipc::ClientError::Unreachable { .. }) => Ok(None),
            // Through a tunnel, a daemon that is not there closes the connection at once.
            Err(e) => {
                tracing::debug!(error = %e, "remote daemon did not answer");
                Ok(None)
            }
        }
    })
}

pub(super) fn ask(cmd: &str) -> Result<(Paths, Option<Value>), ExitCode> {
    let paths = paths()?;
    let rt = rt().ok_or(ExitCode::FAILURE)?;
    let v = rt.block_on(async {
        if !paths.sock.exists() {
            return Ok(None);
        }
        match ipc::call(&paths.sock, cmd, Value::Null, Duration::from_secs(3)).await {
            Ok(v) => Ok(Some(v)),
            Err(ipc::ClientError::Unreachable { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    });
    match v {
        Ok(v) => Ok((paths, v)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

pub fn fmt_uptime(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub fn status(args: StatusArgs) -> ExitCode {
    if let Some(host) = &args.host {
        return match ask_remote("status", host) {
            Ok(Some(v)) => print_status(&v, args.json),
            Ok(None) => {
                if args.json {
                    outln!("{}", json!({"running": false, "host": host}));
                } else {
                    outln!(
                        "infernet daemon on {host}: not running (the tunnel opened, no daemon answered)"
                    );
                }
                ExitCode::from(3)
            }
            Err(c) => c,
        };
    }
    let (paths, v) = match ask("status") {
        Ok(x) => x,
        Err(c) => return c,
    };
    let Some(v) = v else {
        return not_running(&paths, args.json);
    };
    print_status(&v, args.json)
}

/// A daemon's `status` answer, for people or as JSON.
fn print_status(v: &Value, json: bool) -> ExitCode {
    if json {
        outln!("{}", json!({"running": true, "daemon": v}));
        return ExitCode::SUCCESS;
    }
    let v = v.clone();
    let n = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    outln!(
        "infernet daemon: running (pid {}, up {}, version {})",
        n("pid"),
        fmt_uptime(n("uptimeMs")),
        s(&v, "version")
    );
    outln!("  config      {}", s(&v, "config"));
    outln!("  REST API    http://{}", s(&v, "rest"));
    let node = &v["node"];
    let key = node
        .get("publicKey")
        .and_then(Value::as_str)
        .map(|k| format!("identity {k}"))
        .unwrap_or_else(|| "no identity yet (`infernet init`)".into());
    outln!("  node        {} ({key})", s(node, "name"));
    let jobs = &v["jobs"];
    outln!(
        "  jobs        {} running, {} succeeded, {} failed",
        jobs["running"],
        jobs["succeeded"],
        jobs["failed"]
    );
    let containers: Vec<String> = v["containers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| match c.get("reason").and_then(Value::as_str) {
                    Some(r) => format!("{} {} ({r})", s(c, "id"), s(c, "state")),
                    None => format!("{} {}", s(c, "id"), s(c, "state")),
                })
                .collect()
        })
        .unwrap_or_default();
    outln!(
        "  containers  {}",
        if containers.is_empty() {
            "none configured".into()
        } else {
            containers.join(", ")
        }
    );
    let backends: Vec<String> = v["backends"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| format!("{} ({} {})", s(b, "id"), s(b, "kind"), s(b, "url")))
                .collect()
        })
        .unwrap_or_default();
    outln!(
        "  backends    {}",
        if backends.is_empty() {
            "none configured".into()
        } else {
            backends.join(", ")
        }
    );
    match v.get("chain").filter(|c| !c.is_null()) {
        None => outln!("  chain       disabled"),
        Some(c) => outln!(
            "  chain       {} at block {}, {} delivered, {} failed{}",
            s(c, "phase"),
            c["head_block"],
            c["delivered"],
            c["failed"],
            c.get("error")
                .and_then(Value::as_str)
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        ),
    }
    // SDK 0.x: whether the node may deliver, with the cooldown's time left.
    if let Some(r) = v
        .pointer("/chain/registration")
        .filter(|r| !r.is_null())
        .and_then(|r| serde_json::from_value::<RegistrationJson>(r.clone()).ok())
    {
        let now = (infernet::clock::now_s().max(0) as u64).max(
            v.pointer("/chain/head_time")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
        let reg = infernet::chain::registration::Registration::new(
            match r.status.as_str() {
                "active" => infernet::chain::registration::ACTIVE,
                "registered" => infernet::chain::registration::REGISTERED,
                _ => infernet::chain::registration::INACTIVE,
            },
            r.cooldown_start,
            r.cooldown_secs,
        );
        outln!("  node reg.   {}", reg.describe(now));
    }
    match v.get("controlPlane").filter(|c| !c.is_null()) {
        None => outln!("  control     none (control_plane.url not set)"),
        Some(c) => {
            outln!(
                "  control     {} {} as {}: {} heartbeats ok, {} failed; jobs {} done, {} failed, {} active; {} peers",
                s(c, "state"),
                s(c, "url"),
                s(c, "node_id"),
                c["heartbeats_ok"],
                c["heartbeats_failed"],
                c["jobs_completed"],
                c["jobs_failed"],
                c["active_jobs"].as_array().map(|a| a.len()).unwrap_or(0),
                c["peers"].as_array().map(|a| a.len()).unwrap_or(0),
            );
            if let Some(e) = c.get("last_error").and_then(Value::as_str) {
                outln!("              last error: {e}");
            }
        }
    }
    // Supervised tasks: all well in one line, else each task that failed with its last error.
    let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
    let troubled: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["failures"].as_u64().unwrap_or(0) > 0)
        .collect();
    if troubled.is_empty() {
        outln!("  tasks       {} supervised, no failures", tasks.len());
    } else {
        for t in troubled {
            outln!(
                "  task        {} {} ({} failures): {}",
                s(t, "name"),
                s(t, "state"),
                t["failures"],
                s(t, "last_error")
            );
        }
    }
    match v.get("logFile").and_then(Value::as_str) {
        Some(l) => outln!("  log         {l}"),
        None => outln!("  log         the service journal (`infernet service logs`)"),
    }
    ExitCode::SUCCESS
}

pub fn stats(args: StatusArgs) -> ExitCode {
    let v = if let Some(host) = &args.host {
        match ask_remote("stats", host) {
            Ok(Some(v)) => v,
            Ok(None) => {
                outln!("infernet daemon on {host}: not running");
                return ExitCode::from(3);
            }
            Err(c) => return c,
        }
    } else {
        let (paths, v) = match ask("stats") {
            Ok(x) => x,
            Err(c) => return c,
        };
        match v {
            Some(v) => v,
            None => return not_running(&paths, args.json),
        }
    };
    if args.json {
        outln!("{v}");
        return ExitCode::SUCCESS;
    }
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let st = &v["stats"];
    outln!("pid             {}", n(&v, "pid"));
    outln!(
        "started         {} ms since the epoch (up {})",
        n(&v, "startedAt"),
        fmt_uptime(n(&v, "uptimeMs"))
    );
    outln!("REST API        http://{}", s(&v, "rest"));
    outln!("jobs completed  {}", n(st, "jobsCompleted"));
    outln!("jobs failed     {}", n(st, "jobsFailed"));
    outln!("jobs active     {}", n(st, "activeJobs"));
    if let Some(ids) = st["activeJobIds"].as_array().filter(|a| !a.is_empty()) {
        let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
        outln!("active ids      {}", ids.join(", "));
    }
    match st["lastJobAt"].as_i64() {
        Some(t) => outln!(
            "last job        {} ago",
            fmt_uptime(infernet::store::now_ms() - t)
        ),
        None => outln!("last job        none yet"),
    }
    let c = &v["containers"];
    outln!(
        "containers      {} of {} ready",
        n(c, "ready"),
        n(c, "total")
    );
    if let Some(cp) = v.get("controlPlane").filter(|c| !c.is_null()) {
        outln!(
            "control plane   {} {}: heartbeats {} ok {} failed, jobs {} picked {} done {} failed {} lost",
            cp["state"].as_str().unwrap_or("?"),
            v["controlPlaneUrl"].as_str().unwrap_or(""),
            n(cp, "heartbeatsOk"),
            n(cp, "heartbeatsFailed"),
            n(cp, "jobsPicked"),
            n(cp, "jobsCompleted"),
            n(cp, "jobsFailed"),
            n(cp, "jobsLost")
        );
    }
    if let Some(ch) = v.get("chain").filter(|c| !c.is_null()) {
        outln!(
            "chain           block {}, {} tracked, {} delivered, {} skipped, {} failed, {} in flight",
            n(ch, "headBlock"),
            n(ch, "tracked"),
            n(ch, "delivered"),
            n(ch, "skipped"),
            n(ch, "failed"),
            n(ch, "inFlight")
        );
    }
    ExitCode::SUCCESS
}

pub fn logs(args: LogsArgs) -> ExitCode {
    let paths = match paths() {
        Ok(p) => p,
        Err(c) => return c,
    };
    if logs::files(&paths.log).is_empty() {
        eprintln!(
            "no daemon log at {} yet: the background daemon writes it (`infernet start`); under systemd the log is in the journal (`infernet service logs`)",
            paths.log.display()
        );
        if !args.follow {
            return ExitCode::FAILURE;
        }
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for l in logs::tail(&paths.log, args.lines) {
        if writeln!(out, "{l}").is_err() {
            return ExitCode::SUCCESS;
        }
    }
    let _ = out.flush();
    drop(out);
    if args.follow {
        let broken = std::sync::atomic::AtomicBool::new(false);
        let r = logs::follow(
            &paths.log,
            |l| {
                let mut o = std::io::stdout().lock();
                if writeln!(o, "{l}").and_then(|_| o.flush()).is_err() {
                    broken.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            },
            || broken.load(std::sync::atomic::Ordering::Relaxed),
        );
        if let Err(e) = r {
            eprintln!("error: reading {}: {e}", paths.log.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The chain snapshot's SDK 0.x registration, as the daemon reports it.
#[derive(serde::Deserialize)]
struct RegistrationJson {
    status: String,
    cooldown_start: u32,
    cooldown_secs: u32,
}
