//! The daemon's IPC server: `ping`, `status`, `stats`, `shutdown`, `subscribe` (a stream of UI
//! models and updates for attached TUIs) and `intent` (what an attached TUI asks for).
use super::Paths;
use super::ipc::{MAX_LINE, err_line, event_line, ok_line, parse};
use super::outbox::{ModelOpts, Out, write_out};
use crate::engine::{CommandReply, EngineCommand, EngineEvent};
use crate::store::now_ms;
use crate::view::{Host, Session};
use infernet_core::view::intent::{Intent, Update};
use infernet_core::view::model as ui;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

/// What the socket serves.
pub struct Daemon {
    pub host: Arc<Host>,
    pub paths: Paths,
    pub started_at_ms: i64,
    /// Cancelled by `shutdown` (and by signals): the daemon then stops gracefully.
    pub shutdown: CancellationToken,
    /// The UI model, published only while a TUI is attached.
    pub model: watch::Sender<Arc<ui::Model>>,
    pub public_key: Option<String>,
    /// Log lines go here (None under systemd: the journal has them).
    pub log_file: Option<String>,
    /// Who hosts the node: "infernet start", "foreground", "systemd", "infernet tui".
    pub managed_by: String,
}

/// How a foreground node is run: under systemd (it sets INVOCATION_ID) or by hand.
pub fn foreground_manager() -> String {
    if std::env::var_os("INVOCATION_ID").is_some() {
        "systemd".into()
    } else {
        "foreground".into()
    }
}

/// Binds the socket (0600). The caller holds the pid lock, so a socket file left behind is
/// stale and is replaced.
pub fn bind(sock: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    if sock.as_os_str().len() >= 104 {
        return Err(format!(
            "the socket path '{}' is too long for a Unix socket (limit about 100 bytes); use a shorter XDG_CONFIG_HOME",
            sock.display()
        ));
    }
    let _ = std::fs::remove_file(sock);
    let l = UnixListener::bind(sock)
        .map_err(|e| format!("cannot listen on '{}': {e}", sock.display()))?;
    std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict '{}' to 0600: {e}", sock.display()))?;
    Ok(l)
}

/// Serves the socket under the engine's supervisor: a panic or a lost listener restarts it
/// (binding the socket again) instead of leaving a node nobody can reach or stop.
pub fn supervise(sup: &crate::supervise::Supervisor, listener: UnixListener, d: Arc<Daemon>) {
    let mut first = Some(listener);
    sup.restart("ipc", crate::retry::Backoff::default(), move |_| {
        let (l, d) = (first.take(), d.clone());
        async move {
            let l = match l {
                Some(l) => l,
                None => bind(&d.paths.sock)?,
            };
            serve(l, d).await;
            Ok::<(), String>(())
        }
    });
}

pub async fn serve(listener: UnixListener, d: Arc<Daemon>) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    crate::supervise::spawn_logged("ipc-connection", connection(stream, d.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "IPC accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            _ = d.shutdown.cancelled() => break,
        }
    }
    let _ = std::fs::remove_file(&d.paths.sock);
}

async fn connection(stream: UnixStream, d: Arc<Daemon>) {
    let (r, w) = stream.into_split();
    let (out, out_rx) = mpsc::channel::<Out<ui::Model>>(64);
    let writer = crate::supervise::spawn_logged("ipc-writer", write_out(w, out_rx));
    let mut reader = BufReader::new(r);
    let mut session: Option<(Session, CancellationToken)> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE {
            let _ = out
                .send(Out::Line(err_line(format!(
                    "line-too-long: over {MAX_LINE} bytes"
                ))))
                .await;
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        if line.trim().is_empty() {
            continue;
        }
        let reply = match parse(line.trim()) {
            Err(e) => err_line(e),
            Ok(req) => match req.cmd.as_str() {
                "ping" => ok_line(json!({"pong": now_ms()})),
                "status" => ok_line(status(&d).await),
                "stats" => ok_line(stats(&d).await),
                "shutdown" => {
                    tracing::info!("shutdown requested over IPC");
                    let _ = out
                        .send(Out::Line(ok_line(json!({"shuttingDown": true}))))
                        .await;
                    d.shutdown.cancel();
                    continue;
                }
                "subscribe" if session.is_some() => err_line("already subscribed"),
                "subscribe" => {
                    let (tx, rx) = mpsc::channel::<Update>(256);
                    let stop = CancellationToken::new();
                    // {"model": false} for scripts that only want the events.
                    let want_model =
                        req.payload.get("model").and_then(Value::as_bool) != Some(false);
                    let _ = out
                        .send(Out::Line(ok_line(json!({
                            "subscribed": true,
                            "pid": std::process::id(),
                            "version": env!("CARGO_PKG_VERSION"),
                        }))))
                        .await;
                    // {"refresh_ms": N}: at most one model every N ms (a TUI's --refresh).
                    let every = req
                        .payload
                        .get("refresh_ms")
                        .and_then(Value::as_u64)
                        .map(|ms| std::time::Duration::from_millis(ms.clamp(100, 60_000)));
                    // {"delta": true}: after the first model, only what changed.
                    let delta = req.payload.get("delta").and_then(Value::as_bool) == Some(true);
                    if want_model {
                        let opts = ModelOpts { every, delta };
                        let _ = out.send(Out::Model(d.model.subscribe(), opts)).await;
                    }
                    crate::supervise::spawn_logged(
                        "ipc-forward",
                        forward(d.host.handle.subscribe(), rx, out.clone(), stop.clone()),
                    );
                    session = Some((Session::new(tx), stop));
                    continue;
                }
                "intent" => match &mut session {
                    None => err_line("not-subscribed: send {\"cmd\":\"subscribe\"} first"),
                    Some((s, _)) => match serde_json::from_value::<Intent>(req.payload) {
                        Ok(i) => {
                            // `r`: this connection's next model goes out at once.
                            if matches!(i, Intent::Refresh) {
                                let _ = out.send(Out::Flush).await;
                            }
                            d.host.intent(i, s).await;
                            ok_line(json!({"accepted": true}))
                        }
                        Err(e) => err_line(format!("bad-intent: {e}")),
                    },
                },
                other => err_line(format!("unknown-cmd: {other}")),
            },
        };
        if out.send(Out::Line(reply)).await.is_err() {
            break;
        }
    }
    if let Some((_, stop)) = session {
        stop.cancel();
    }
    drop(out);
    // The writer is this connection's own task and ends with it (a panic in it is logged).
    let _ = writer.await;
}

/// Streams engine events and this session's updates (the model goes to the writer directly).
async fn forward(
    mut events: broadcast::Receiver<EngineEvent>,
    mut updates: mpsc::Receiver<Update>,
    out: mpsc::Sender<Out<ui::Model>>,
    stop: CancellationToken,
) {
    loop {
        let line = tokio::select! {
            e = events.recv() => match e {
                Ok(e) => event_line("engine", &e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    event_line("lagged", &json!({"skipped": n}))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            u = updates.recv() => match u {
                Some(u) => event_line("update", &u),
                None => return,
            },
            _ = stop.cancelled() => return,
        };
        if out.send(Out::Line(line)).await.is_err() {
            return;
        }
    }
}

fn uptime(d: &Daemon) -> i64 {
    now_ms() - d.started_at_ms
}

fn node(d: &Daemon) -> Value {
    json!({"name": d.host.node_name, "publicKey": d.public_key})
}

async fn active_jobs(d: &Daemon) -> (Vec<String>, Option<i64>) {
    let recent = d
        .host
        .handle
        .command(EngineCommand::RecentJobs { limit: 200 })
        .await;
    match recent {
        Ok(CommandReply::Jobs(rows)) => (
            rows.iter()
                .filter(|j| j.status == crate::store::JobStatus::Running)
                .map(|j| j.id.clone())
                .collect(),
            rows.iter().map(|j| j.created_at).max(),
        ),
        Ok(other) => {
            tracing::error!(reply = ?other, "unexpected reply to RecentJobs");
            (Vec::new(), None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read recent jobs");
            (Vec::new(), None)
        }
    }
}

/// Everything `infernet status` shows.
pub async fn status(d: &Daemon) -> Value {
    let snap = d.host.handle.snapshot().borrow().clone();
    let backends: Vec<Value> = d
        .host
        .handle
        .backends()
        .all()
        .iter()
        .map(|b| json!({"id": b.id(), "kind": b.kind().name(), "url": b.url(), "model": b.default_model()}))
        .collect();
    json!({
        "pid": std::process::id(),
        "startedAt": d.started_at_ms,
        "uptimeMs": uptime(d),
        "version": snap.version,
        "config": d.host.source,
        "node": node(d),
        "controlPlaneUrl": snap.control.as_ref().map(|c| c.url.clone()),
        "rest": snap.rest_addr.to_string(),
        "logFile": d.log_file,
        "managedBy": d.managed_by,
        "jobLog": (!d.host.config.log.path.is_empty()).then(|| d.host.config.log.path.clone()),
        "store": d.host.config.store.path,
        "jobs": {
            "running": snap.jobs_running,
            "succeeded": snap.jobs_succeeded,
            "failed": snap.jobs_failed,
        },
        "containers": snap.containers,
        "backends": backends,
        "chain": snap.chain,
        "controlPlane": snap.control,
        "tasks": snap.tasks,
    })
}

/// Counters (`infernet stats`), shaped like the reference daemon's snapshot where it applies.
pub async fn stats(d: &Daemon) -> Value {
    let snap = d.host.handle.snapshot().borrow().clone();
    let (active, last) = active_jobs(d).await;
    json!({
        "pid": std::process::id(),
        "startedAt": d.started_at_ms,
        "uptimeMs": uptime(d),
        "node": node(d),
        "controlPlaneUrl": snap.control.as_ref().map(|c| c.url.clone()),
        "rest": snap.rest_addr.to_string(),
        "stats": {
            "jobsCompleted": snap.jobs_succeeded,
            "jobsFailed": snap.jobs_failed,
            "activeJobs": snap.jobs_running,
            "activeJobIds": active,
            "lastJobAt": last,
            "heartbeatsOk": snap.control.as_ref().map(|c| c.heartbeats_ok),
            "heartbeatsFailed": snap.control.as_ref().map(|c| c.heartbeats_failed),
            "lastError": snap.control.as_ref().and_then(|c| c.last_error.clone()),
            "polls": snap.control.as_ref().map(|c| c.polls),
        },
        "controlPlane": snap.control.as_ref().map(|c| json!({
            "state": c.state,
            "nodeId": c.node_id,
            "heartbeatsOk": c.heartbeats_ok,
            "heartbeatsFailed": c.heartbeats_failed,
            "lastHeartbeatAt": c.last_heartbeat_ms,
            "jobsPicked": c.jobs_picked,
            "jobsCompleted": c.jobs_completed,
            "jobsFailed": c.jobs_failed,
            "jobsLost": c.jobs_lost,
            "activeJobIds": c.active_jobs,
            "peers": c.peers.len(),
        })),
        "containers": {
            "total": snap.containers.len(),
            "ready": snap.containers.iter().filter(|c| c.state == crate::compute::ContainerState::Ready).count(),
        },
        "chain": snap.chain.as_ref().map(|c| json!({
            "headBlock": c.head_block,
            "tracked": c.tracked,
            "delivered": c.delivered,
            "skipped": c.skipped,
            "failed": c.failed,
            "inFlight": c.in_flight,
        })),
    })
}
