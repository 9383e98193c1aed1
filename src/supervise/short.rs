//! Short-lived tasks (one request's stream, one connection, one UI action): too many and too
//! brief for the supervisor's table, but never fire-and-forget. A panic in one is logged as an
//! error naming the task and handed to `on_panic` (a UI shows it); on a tracker when the owner
//! waits for its work at stop.
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// Runs `fut`; a panic is logged and given to `on_panic`.
pub fn spawn_short<F, P>(
    tracker: Option<&TaskTracker>,
    what: &'static str,
    fut: F,
    on_panic: P,
) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
    P: FnOnce(String) + Send + 'static,
{
    let watched = async move {
        // The future is dropped on a panic and nothing of it is used again.
        if let Err(p) = AssertUnwindSafe(fut).catch_unwind().await {
            let why = super::panic_text(p);
            tracing::error!(task = what, panic = %why, "a task panicked");
            on_panic(why);
        }
    };
    match tracker {
        Some(t) => t.spawn(watched),
        None => tokio::spawn(watched),
    }
}

/// `spawn_short` with no tracker, where the log line is the report (a request's stream: its
/// client sees the stream end).
pub fn spawn_logged<F>(what: &'static str, fut: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    spawn_short(None, what, fut, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn a_panic_is_reported_and_the_tracker_waits_for_the_task() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let t = TaskTracker::new();
        let s = seen.clone();
        spawn_short(Some(&t), "test", async { panic!("boom") }, move |why| {
            s.lock().unwrap().push(why)
        });
        let s = seen.clone();
        spawn_short(Some(&t), "test", async {}, move |why| {
            s.lock().unwrap().push(why)
        });
        t.close();
        t.wait().await;
        assert_eq!(*seen.lock().unwrap(), vec!["boom".to_string()]);
    }

    #[tokio::test]
    async fn a_task_that_finishes_is_not_a_failure() {
        let h = spawn_logged("test", async {});
        assert!(h.await.is_ok());
        // A panic is caught inside: the handle itself completes normally.
        let h = spawn_logged("test", async { panic!("inside") });
        assert!(h.await.is_ok());
    }
}
