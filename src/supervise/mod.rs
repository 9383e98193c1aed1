//! One supervisor for the node's long-lived tasks. Each task is named and has a role
//! (`policy.rs` decides what its end means): a critical one that ends stops the node with the
//! reason, a restartable one starts again after a backoff. Every failure (an error or a panic)
//! is logged, handed to the owner's `on_failure` (the engine turns it into an `EngineEvent`)
//! and kept in `health()` (the snapshot, so `status` and the TUI show it).
pub mod policy;
mod short;

pub use policy::{Backoff, Role};
pub use short::{spawn_logged, spawn_short};
/// The error type of a task that only ends by finishing (or panicking).
pub type Never = std::convert::Infallible;
use policy::{Decision, Exit, TaskState, decide};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A task's state as `status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TaskHealth {
    pub name: String,
    /// `critical` or `restart`.
    pub role: &'static str,
    /// `running`, `restarting` (waiting out its backoff), `done`, or `stopped-node`.
    pub state: &'static str,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// A failure, as the owner is told of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TaskFailure {
    pub task: String,
    pub reason: String,
    /// When it starts again (restartable tasks).
    pub restart_in_ms: Option<u64>,
    /// The failure stopped the node.
    pub stops_node: bool,
}

type OnFailure = Arc<dyn Fn(TaskFailure) + Send + Sync>;

#[derive(Clone)]
pub struct Supervisor {
    tracker: TaskTracker,
    /// Cancelled when the node stops (by its owner, or by a critical task's end).
    cancel: CancellationToken,
    health: Arc<Mutex<BTreeMap<String, TaskHealth>>>,
    stopped_by: Arc<OnceLock<String>>,
    on_failure: OnFailure,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("tasks", &self.health())
            .finish()
    }
}

use crate::clock::now_ms;

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Critical => "critical",
        Role::Restart => "restart",
    }
}

/// A panic's message, when it was a string.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// How a run ended, from its join result.
fn exit_of<E: std::fmt::Display>(joined: Result<Result<(), E>, tokio::task::JoinError>) -> Exit {
    match joined {
        Ok(Ok(())) => Exit::Finished,
        Ok(Err(e)) => Exit::Failed(e.to_string()),
        Err(e) if e.is_panic() => Exit::Panicked(panic_text(e.into_panic())),
        Err(_) => Exit::Cancelled,
    }
}

/// For a group of loops in a `JoinSet` that should run until cancelled: which one ended
/// first, and how ("ended", "panicked: …", "was cancelled").
pub fn loop_ended(
    joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) -> (tokio::task::Id, String) {
    match joined {
        Ok((id, ())) => (id, "ended".into()),
        Err(e) if e.is_panic() => {
            let id = e.id();
            (id, format!("panicked: {}", panic_text(e.into_panic())))
        }
        Err(e) => (e.id(), "was cancelled".into()),
    }
}

impl Supervisor {
    pub fn new(
        tracker: TaskTracker,
        cancel: CancellationToken,
        on_failure: impl Fn(TaskFailure) + Send + Sync + 'static,
    ) -> Self {
        Self {
            tracker,
            cancel,
            health: Arc::default(),
            stopped_by: Arc::default(),
            on_failure: Arc::new(on_failure),
        }
    }

    /// Every task's state, by name.
    pub fn health(&self) -> Vec<TaskHealth> {
        self.health
            .lock()
            .map(|h| h.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Why a critical task stopped the node, if one did.
    pub fn stopped_by(&self) -> Option<String> {
        self.stopped_by.get().cloned()
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn set(&self, name: &str, role: Role, state: &'static str, s: &TaskState) {
        if let Ok(mut h) = self.health.lock() {
            h.insert(
                name.to_string(),
                TaskHealth {
                    name: name.to_string(),
                    role: role_name(role),
                    state,
                    failures: s.total_failures,
                    last_error: s.last_error.clone(),
                },
            );
        }
    }

    /// Runs a critical task once: its end (but for a node stop) stops the node.
    pub fn critical<Fut, E>(&self, name: &str, fut: Fut)
    where
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let mut once = Some(fut);
        self.run(name, Role::Critical, Backoff::default(), move |_| {
            let fut = once.take();
            async move {
                match fut {
                    Some(f) => f.await.map_err(|e| e.to_string()),
                    // A critical task runs once: the policy never restarts it.
                    None => Ok(()),
                }
            }
        });
    }

    /// Runs `make(token)` and starts it again after each failure, with `backoff`. `token` is
    /// cancelled when the node stops; a run that returns `Ok` is done.
    pub fn restart<F, Fut, E>(&self, name: &str, backoff: Backoff, make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.run(name, Role::Restart, backoff, make);
    }

    fn run<F, Fut, E>(&self, name: &str, role: Role, backoff: Backoff, mut make: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let me = self.clone();
        let name = name.to_string();
        self.set(&name, role, "running", &TaskState::default());
        self.tracker.spawn(async move {
            let mut state = TaskState::default();
            loop {
                state.started_ms = now_ms();
                me.set(&name, role, "running", &state);
                // Its own task, so a panic is caught here and not in the supervisor.
                let joined = me.tracker.spawn(make(me.cancel.child_token())).await;
                let exit = if me.cancel.is_cancelled() {
                    Exit::Cancelled
                } else {
                    exit_of(joined)
                };
                match decide(&name, role, &backoff, &mut state, exit, now_ms()) {
                    Decision::Done => {
                        me.set(&name, role, "done", &state);
                        return;
                    }
                    Decision::Restart { after, reason } => {
                        tracing::error!(task = %name, restart_in_s = after.as_secs_f64(), "{reason}; restarting");
                        me.set(&name, role, "restarting", &state);
                        (me.on_failure)(TaskFailure {
                            task: name.clone(),
                            reason,
                            restart_in_ms: Some(after.as_millis() as u64),
                            stops_node: false,
                        });
                        tokio::select! {
                            _ = tokio::time::sleep(after) => {}
                            _ = me.cancel.cancelled() => {
                                me.set(&name, role, "done", &state);
                                return;
                            }
                        }
                    }
                    Decision::StopNode { reason } => {
                        tracing::error!(task = %name, "{reason}; stopping the node");
                        me.set(&name, role, "stopped-node", &state);
                        let _ = me.stopped_by.set(reason.clone());
                        (me.on_failure)(TaskFailure {
                            task: name.clone(),
                            reason,
                            restart_in_ms: None,
                            stops_node: true,
                        });
                        me.cancel.cancel();
                        return;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn sup() -> (
        Supervisor,
        tokio::sync::mpsc::UnboundedReceiver<TaskFailure>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let s = Supervisor::new(TaskTracker::new(), CancellationToken::new(), move |f| {
            let _ = tx.send(f);
        });
        (s, rx)
    }

    const FAST: Backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(4));

    #[tokio::test]
    async fn a_panicking_task_is_reported_and_restarted_until_it_finishes() {
        let (s, mut failures) = sup();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        s.restart("flaky", FAST, move |_| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("first run breaks"),
                    1 => Err("second run fails".to_string()),
                    _ => Ok(()),
                }
            }
        });
        let first = failures.recv().await.unwrap();
        assert_eq!(first.task, "flaky");
        assert_eq!(first.reason, "task 'flaky' panicked: first run breaks");
        assert_eq!(first.restart_in_ms, Some(1));
        let second = failures.recv().await.unwrap();
        assert_eq!(second.reason, "task 'flaky' failed: second run fails");
        assert_eq!(second.restart_in_ms, Some(2));
        s.tracker.close();
        s.tracker.wait().await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let h = s.health();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].state, h[0].failures), ("done", 2));
        assert!(
            !s.cancel.is_cancelled(),
            "a restartable task never stops the node"
        );
    }

    #[tokio::test]
    async fn a_critical_task_that_ends_stops_the_node_with_the_reason() {
        let (s, mut failures) = sup();
        let node = s.cancel_token();
        s.critical("rest", async { Err::<(), _>("socket closed") });
        node.cancelled().await;
        let f = failures.recv().await.unwrap();
        assert!(f.stops_node);
        assert_eq!(
            s.stopped_by().as_deref(),
            Some("task 'rest' failed: socket closed")
        );
        s.tracker.close();
        s.tracker.wait().await;
        assert_eq!(s.health()[0].state, "stopped-node");
    }

    #[tokio::test]
    async fn a_node_stop_is_not_a_failure() {
        let (s, mut failures) = sup();
        s.critical("rest", {
            let c = s.cancel_token();
            async move {
                c.cancelled().await;
                Ok::<(), Never>(())
            }
        });
        s.restart("loop", FAST, |token| async move {
            token.cancelled().await;
            Ok::<(), Never>(())
        });
        s.cancel_token().cancel();
        s.tracker.close();
        s.tracker.wait().await;
        assert!(failures.try_recv().is_err(), "nothing was reported");
        assert_eq!(s.stopped_by(), None);
        assert!(
            s.health().iter().all(|h| h.state == "done"),
            "{:?}",
            s.health()
        );
    }
}
