//! `infernet tui` attached to a running daemon: the daemon builds the model and carries out
//! intents; this side subscribes over the socket, hands models and updates to the UI and sends
//! its intents back. A lost connection is retried (the last model stays on screen).
use infernet::daemon::ipc::{self, Request};
use infernet_core::wire::delta;
use infernet_ui::intent::{Intent, Update};
use infernet_ui::model::{self as ui, Level};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

/// Whether a daemon answers on `sock` (blocking; used before the runtime starts).
pub fn daemon_answers(sock: &std::path::Path) -> bool {
    use std::io::{BufRead, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"{\"cmd\":\"ping\"}\n").is_err() {
        return false;
    }
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).is_ok() && ipc::reply_data(&line).is_ok()
}

enum End {
    Quit,
    Lost(String),
}

/// Runs until the UI quits.
pub async fn drive(
    sock: PathBuf,
    refresh: Duration,
    model: watch::Sender<Arc<ui::Model>>,
    updates: mpsc::Sender<Update>,
    mut intents: mpsc::Receiver<Intent>,
) {
    let notice = |level, text: String| {
        let _ = updates.try_send(Update::Notice { level, text });
    };
    // Reconnects: 0.5 s, 1 s, 2 s … 5 s; after a session that worked, from 0.5 s again.
    let retry = infernet::retry::Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    let mut failures = 0;
    let mut was_connected = false;
    let mut lost = false;
    loop {
        match session(
            &sock,
            refresh,
            &model,
            &updates,
            &mut intents,
            &mut was_connected,
            &mut lost,
        )
        .await
        {
            End::Quit => return,
            End::Lost(why) => {
                tracing::warn!(reason = %why, "daemon connection lost");
                notice(
                    Level::Error,
                    format!("lost the daemon ({why}); reconnecting… (q quits)"),
                );
            }
        }
        lost = true;
        if was_connected {
            failures = 0;
            was_connected = false;
        }
        failures += 1;
        // Wait before reconnecting, but quit at once when asked.
        let sleep = tokio::time::sleep(retry.delay(failures));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                i = intents.recv() => match i {
                    None | Some(Intent::Quit) => return,
                    Some(_) => notice(Level::Warn, "not connected to the daemon; try again in a moment".into()),
                },
            }
        }
    }
}

async fn session(
    sock: &std::path::Path,
    refresh: Duration,
    model: &watch::Sender<Arc<ui::Model>>,
    updates: &mpsc::Sender<Update>,
    intents: &mut mpsc::Receiver<Intent>,
    was_connected: &mut bool,
    lost: &mut bool,
) -> End {
    let stream = match ipc::connect(sock).await {
        Ok(s) => s,
        Err(e) => return End::Lost(e.to_string()),
    };
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let send = |cmd: &str, payload: Value| {
        let mut s = serde_json::to_string(&Request {
            cmd: cmd.into(),
            payload,
        })
        .unwrap_or_default();
        s.push('\n');
        s
    };
    // The daemon sends a model at most every `refresh` (and at once after `r`).
    // Deltas: after the first model only what changed travels (a slow ssh link stays usable).
    let sub = serde_json::json!({"refresh_ms": refresh.as_millis() as u64, "delta": true});
    let mut base: Option<Value> = None;
    if let Err(e) = w.write_all(send("subscribe", sub).as_bytes()).await {
        return End::Lost(e.to_string());
    }
    loop {
        tokio::select! {
            l = lines.next_line() => match l {
                Ok(Some(l)) => {
                    let Ok(v) = serde_json::from_str::<Value>(&l) else {
                        return End::Lost("the daemon sent a line that is not JSON".into());
                    };
                    match v.get("event").and_then(Value::as_str) {
                        Some(kind @ ("model" | "model_delta")) => {
                            let data = v.get("data").cloned().unwrap_or(Value::Null);
                            let whole = match (kind, base.as_mut()) {
                                ("model", _) => data,
                                (_, Some(b)) => {
                                    if let Err(e) = delta::apply(b, &data) {
                                        return End::Lost(e.to_string());
                                    }
                                    b.clone()
                                }
                                (_, None) => return End::Lost("the daemon sent a model delta before a model".into()),
                            };
                            base = Some(whole.clone());
                            match serde_json::from_value::<ui::Model>(whole) {
                            Ok(mut m) => {
                                // The host may be a TUI (in-process there); here it is attached.
                                m.header.mode = ui::Mode::Attached;
                                *was_connected = true;
                                if std::mem::take(lost) {
                                    let _ = updates.try_send(Update::Notice {
                                        level: Level::Info,
                                        text: "reconnected to the daemon".into(),
                                    });
                                }
                                model.send_replace(Arc::new(m));
                            }
                            Err(e) => return End::Lost(format!("the daemon's model does not match this version ({e}); run the same infernet version, or `infernet tui --in-process`")),
                            }
                        }
                        Some("update") => {
                            if let Ok(u) = serde_json::from_value::<Update>(v["data"].clone()) {
                                let _ = updates.send(u).await;
                            }
                        }
                        _ => {
                            if let Err(e) = ipc::reply_data(&l) {
                                let _ = updates.try_send(Update::Notice {
                                    level: Level::Error,
                                    text: format!("daemon: {e}"),
                                });
                            }
                        }
                    }
                }
                Ok(None) => return End::Lost("the daemon closed the connection".into()),
                Err(e) => return End::Lost(e.to_string()),
            },
            i = intents.recv() => match i {
                None | Some(Intent::Quit) => return End::Quit,
                Some(Intent::FinishWizard(_)) => {
                    let _ = updates.try_send(Update::Notice {
                        level: Level::Warn,
                        text: "a daemon is running; stop it to use the setup wizard".into(),
                    });
                }
                Some(i) => {
                    let payload = serde_json::to_value(&i).unwrap_or(Value::Null);
                    if let Err(e) = w.write_all(send("intent", payload).as_bytes()).await {
                        return End::Lost(e.to_string());
                    }
                }
            },
        }
    }
}
