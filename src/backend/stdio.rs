//! Custom engines over stdio (reference infernet-protocol §7.3): one long-lived child process,
//! NDJSON v1 both ways. Out: `load{model}`, `generate{id, messages, …}`, `cancel{id}`,
//! `shutdown`. In: `ready`, `meta`, `token`, `done`, `error`, `log`. Events are routed by `id`,
//! so several chats share the process.
use super::openai::done;
use super::{
    BackendError, BackendKind, ChatBackend, ChatEvent, ChatRequest, DoneReason, ModelInfo,
    now_rfc3339,
};
use futures::stream::BoxStream;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const START_TIMEOUT: Duration = Duration::from_secs(60);

type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<ChatEvent>>>>;

struct Running {
    stdin: ChildStdin,
    routes: Routes,
    alive: Arc<std::sync::atomic::AtomicBool>,
    _child: Child,
}

#[derive(Debug, Clone)]
pub struct StdioBackend {
    id: String,
    program: Vec<String>,
    model: Option<String>,
    proc: Arc<tokio::sync::Mutex<Option<Running>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Running")
    }
}

fn event_from(v: &Value, backend: &str) -> Option<ChatEvent> {
    let id = v["id"].as_str().unwrap_or("").to_string();
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    Some(match v["type"].as_str()? {
        "meta" => ChatEvent::Meta {
            id,
            backend: backend.to_string(),
            model: s("model"),
            started_at: s("started_at"),
        },
        "token" => ChatEvent::Token {
            id,
            text: s("text"),
        },
        "done" => ChatEvent::Done {
            id,
            reason: match v["reason"].as_str() {
                Some("cancel") => DoneReason::Cancel,
                Some(r) => DoneReason::from_wire(r),
                None => DoneReason::Stop,
            },
            text: s("text"),
            usage: None,
            finished_at: s("finished_at"),
        },
        "error" => ChatEvent::Error {
            id,
            message: format!("engine: {}", s("message")),
        },
        _ => return None,
    })
}

impl StdioBackend {
    /// `program`: the engine binary and its arguments.
    pub fn new(id: &str, program: Vec<String>, model: Option<String>) -> Self {
        Self {
            id: id.into(),
            program,
            model,
            proc: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    fn label(&self) -> String {
        self.program.first().cloned().unwrap_or_default()
    }

    async fn start(&self) -> Result<Running, String> {
        let Some((bin, args)) = self.program.split_first() else {
            return Err(
                "no engine program: set INFERNET_ENGINE_BIN or the backend's 'command'".into(),
            );
        };
        let mut child = Command::new(bin)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start engine '{bin}': {e}; set INFERNET_ENGINE_BIN to the engine binary"
                )
            })?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(format!("engine '{bin}' has no stdio"));
        };
        let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (ready_tx, mut ready_rx) = mpsc::channel::<Option<String>>(4);
        let (r2, a2, backend, label) =
            (routes.clone(), alive.clone(), self.id.clone(), bin.clone());
        crate::supervise::spawn_logged("engine-reader", async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    tracing::warn!(engine = %label, line = %line, "engine wrote a non-JSON line");
                    continue;
                };
                if v["v"].as_u64() != Some(1) {
                    let id = v["id"].as_str().unwrap_or("").to_string();
                    let msg = format!(
                        "engine speaks protocol version {}, infernet speaks 1",
                        v["v"]
                    );
                    if let Some(tx) = r2.lock().ok().and_then(|r| r.get(&id).cloned()) {
                        let _ = tx.send(ChatEvent::Error { id, message: msg }).await;
                    } else {
                        tracing::error!(engine = %label, "{msg}");
                    }
                    continue;
                }
                match v["type"].as_str() {
                    Some("ready") => {
                        let _ = ready_tx.send(v["model"].as_str().map(str::to_string)).await;
                    }
                    Some("log") => {
                        let m = v["message"].as_str().unwrap_or("");
                        match v["level"].as_str() {
                            Some("error") => tracing::error!(engine = %label, "{m}"),
                            Some("warn") => tracing::warn!(engine = %label, "{m}"),
                            _ => tracing::info!(engine = %label, "{m}"),
                        }
                    }
                    _ => {
                        let Some(ev) = event_from(&v, &backend) else {
                            continue;
                        };
                        let id = v["id"].as_str().unwrap_or("").to_string();
                        let last = matches!(ev, ChatEvent::Done { .. } | ChatEvent::Error { .. });
                        let tx = r2.lock().ok().and_then(|mut r| {
                            if last {
                                r.remove(&id)
                            } else {
                                r.get(&id).cloned()
                            }
                        });
                        if let Some(tx) = tx {
                            let _ = tx.send(ev).await;
                        }
                    }
                }
            }
            // The engine is gone: every open chat ends with an error saying so.
            a2.store(false, std::sync::atomic::Ordering::SeqCst);
            let open: Vec<(String, mpsc::Sender<ChatEvent>)> = r2
                .lock()
                .map(|mut r| r.drain().collect())
                .unwrap_or_default();
            for (id, tx) in open {
                let _ = tx
                    .send(ChatEvent::Error {
                        id,
                        message: format!("engine '{label}' exited"),
                    })
                    .await;
            }
        });
        match tokio::time::timeout(START_TIMEOUT, ready_rx.recv()).await {
            Ok(Some(_)) => {}
            _ => {
                return Err(format!(
                    "engine '{bin}' did not say ready within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
        }
        if let Some(m) = &self.model {
            let line = format!("{}\n", json!({"v": 1, "type": "load", "model": m}));
            stdin
                .write_all(line.as_bytes())
                .await
                .map_err(|e| format!("engine '{bin}': {e}"))?;
            match tokio::time::timeout(START_TIMEOUT, ready_rx.recv()).await {
                Ok(Some(_)) => {}
                _ => {
                    return Err(format!(
                        "engine '{bin}' did not load '{m}' within {} s",
                        START_TIMEOUT.as_secs()
                    ));
                }
            }
        }
        Ok(Running {
            stdin,
            routes,
            alive,
            _child: child,
        })
    }

    /// Starts the engine when it is not running (first use, or after it exited).
    async fn ensure_started(&self) -> Result<(), String> {
        let mut guard = self.proc.lock().await;
        let stale = guard
            .as_ref()
            .is_some_and(|r| !r.alive.load(std::sync::atomic::Ordering::SeqCst));
        if guard.is_none() || stale {
            *guard = Some(self.start().await?);
        }
        Ok(())
    }

    async fn send(&self, line: Value) -> Result<(), String> {
        let mut guard = self.proc.lock().await;
        let Some(run) = guard.as_mut() else {
            return Err(format!("engine '{}' is not running", self.label()));
        };
        let text = format!("{line}\n");
        run.stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("engine '{}': {e}", self.label()))?;
        run.stdin
            .flush()
            .await
            .map_err(|e| format!("engine '{}': {e}", self.label()))
    }

    async fn register(&self, id: &str, tx: mpsc::Sender<ChatEvent>) {
        if let Some(run) = self.proc.lock().await.as_ref()
            && let Ok(mut r) = run.routes.lock()
        {
            r.insert(id.to_string(), tx);
        }
    }

    async fn run(self, req: ChatRequest, cancel: CancellationToken, tx: mpsc::Sender<ChatEvent>) {
        let id = req.id.clone();
        // Start the engine (if needed) before routing, then route before generating.
        if let Err(e) = self.ensure_started().await {
            let _ = tx.send(ChatEvent::Error { id, message: e }).await;
            return;
        }
        let (route_tx, mut route_rx) = mpsc::channel(64);
        self.register(&id, route_tx).await;
        let mut generate = json!({"v": 1, "type": "generate", "id": id, "messages": req.messages});
        if let Some(m) = req.model.clone().or_else(|| self.model.clone()) {
            generate["model"] = json!(m);
        }
        if let Some(t) = req.temperature {
            generate["temperature"] = json!(t);
        }
        if let Some(n) = req.max_tokens {
            generate["max_tokens"] = json!(n);
        }
        if let Err(e) = self.send(generate).await {
            let _ = tx.send(ChatEvent::Error { id, message: e }).await;
            return;
        }
        let mut cancel_sent = false;
        let mut text = String::new();
        loop {
            let ev = tokio::select! {
                ev = route_rx.recv() => ev,
                _ = cancel.cancelled(), if !cancel_sent => {
                    cancel_sent = true;
                    let _ = self.send(json!({"v": 1, "type": "cancel", "id": id})).await;
                    continue;
                }
            };
            let Some(mut ev) = ev else {
                let _ = tx.send(done(&id, DoneReason::Stop, text, None)).await;
                return;
            };
            if let ChatEvent::Token { text: t, .. } = &ev {
                text.push_str(t);
            }
            if let ChatEvent::Meta { started_at, .. } = &mut ev
                && started_at.is_empty()
            {
                *started_at = now_rfc3339();
            }
            let last = matches!(ev, ChatEvent::Done { .. } | ChatEvent::Error { .. });
            if tx.send(ev).await.is_err() && !cancel_sent {
                // The consumer left: stop the generation in the engine.
                let _ = self.send(json!({"v": 1, "type": "cancel", "id": id})).await;
                return;
            }
            if last {
                return;
            }
        }
    }
}

impl ChatBackend for StdioBackend {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> BackendKind {
        BackendKind::Engine
    }
    fn url(&self) -> &str {
        self.program.first().map(String::as_str).unwrap_or("")
    }
    fn default_model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    fn chat(&self, req: ChatRequest, cancel: CancellationToken) -> BoxStream<'static, ChatEvent> {
        let this = self.clone();
        super::spawned(move |tx| this.run(req, cancel, tx))
    }
    fn models(&self) -> futures::future::BoxFuture<'_, Result<Vec<ModelInfo>, BackendError>> {
        let m = self.model.clone();
        Box::pin(async move {
            Ok(m.into_iter()
                .map(|name| ModelInfo {
                    name,
                    size_bytes: None,
                })
                .collect())
        })
    }
}
