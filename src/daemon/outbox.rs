//! One IPC connection's writer. Replies and events queue (bounded: a reader that stalls blocks
//! the sender, and the engine's broadcast reports what it skipped), but the UI model is never
//! queued: it is read from its watch channel and serialised only when the socket can take it,
//! so a subscriber that does not read holds at most the one model line being written, however
//! many models were published meanwhile (latest only).
use super::ipc::event_line;
use infernet_core::wire::delta;
use serde::Serialize;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};

/// What the connection's writer is handed.
pub enum Out<M> {
    /// A reply or an event line, written in order.
    Line(String),
    /// Stream this model (latest only) from its next publication: the publisher publishes
    /// every 500 ms while anyone subscribes, so a stale value is never sent. With an
    /// interval, at most one model per interval (the latest when it is due).
    Model(watch::Receiver<Arc<M>>, ModelOpts),
    /// The next model goes out without waiting for the interval (a refresh).
    Flush,
}

/// How a subscriber wants its models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelOpts {
    /// At most one model per interval (a TUI's `--refresh`).
    pub every: Option<Duration>,
    /// After the first full model, only what changed (`model_delta` frames, see
    /// `infernet_core::wire::delta`); an unchanged model sends nothing.
    pub delta: bool,
}

/// Writes until the channel closes or the peer goes away.
pub async fn write_out<M, W>(mut w: W, mut rx: mpsc::Receiver<Out<M>>)
where
    M: Serialize + Send + Sync,
    W: AsyncWrite + Unpin,
{
    let mut model: Option<watch::Receiver<Arc<M>>> = None;
    let mut opts = ModelOpts::default();
    // The last model sent, for deltas.
    let mut sent: Option<serde_json::Value> = None;
    let mut next_at: Option<Instant> = None;
    loop {
        let line = tokio::select! {
            // Replies first: a model frame never delays the answer to a request.
            biased;
            msg = rx.recv() => match msg {
                Some(Out::Line(l)) => l,
                Some(Out::Model(mut m, o)) => {
                    m.mark_unchanged();
                    model = Some(m);
                    opts = o;
                    sent = None;
                    continue;
                }
                Some(Out::Flush) => {
                    next_at = None;
                    continue;
                }
                None => return,
            },
            changed = async {
                match model.as_mut() {
                    Some(m) => {
                        let r = m.changed().await;
                        // Not before it is due; the newest value then (dropped and retried
                        // unread if a reply comes first).
                        if let Some(t) = next_at {
                            tokio::time::sleep_until(t).await;
                        }
                        r.map(|_| m.borrow_and_update().clone())
                    }
                    None => std::future::pending().await,
                }
            } => match changed {
                Ok(m) => {
                    next_at = opts.every.map(|e| Instant::now() + e);
                    if !opts.delta {
                        event_line("model", &*m)
                    } else {
                        match frame(&*m, &mut sent) {
                            Some(l) => l,
                            None => continue,
                        }
                    }
                }
                // The publisher is gone (the daemon is stopping): no more models.
                Err(_) => {
                    model = None;
                    continue;
                }
            },
        };
        if w.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The full model the first time, then the delta against what was sent; None when nothing
/// changed.
fn frame<M: Serialize>(m: &M, sent: &mut Option<serde_json::Value>) -> Option<String> {
    let now = match serde_json::to_value(m) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise the model");
            return None;
        }
    };
    let line = match sent.as_ref() {
        None => event_line("model", &now),
        Some(before) => event_line("model_delta", &delta::diff(before, &now)?),
    };
    *sent = Some(now);
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[tokio::test]
    async fn a_slow_reader_gets_the_latest_model_not_a_queue_of_them() {
        // A 1 KiB pipe the reader does not drain while 500 large models are published.
        let (client, server) = tokio::io::duplex(1024);
        let (tx, rx) = mpsc::channel(64);
        let (pub_tx, pub_rx) = watch::channel(Arc::new(json!({"v": 0, "pad": ""})));
        let writer = tokio::spawn(write_out(server, rx));
        tx.send(Out::Line("{\"ok\":true}\n".into())).await.unwrap();
        tx.send(Out::Model(pub_rx, ModelOpts::default()))
            .await
            .unwrap();
        let pad = "p".repeat(64 * 1024);
        for v in 1..=500 {
            pub_tx.send_replace(Arc::new(json!({"v": v, "pad": pad})));
            tokio::task::yield_now().await;
        }
        tx.send(Out::Line("{\"done\":true}\n".into()))
            .await
            .unwrap();
        drop(tx);
        // Now read everything that was written.
        let mut lines = BufReader::new(client).lines();
        let mut versions = Vec::new();
        let mut saw_done = false;
        while let Ok(Some(l)) = lines.next_line().await {
            let v: Value = serde_json::from_str(&l).unwrap();
            if v["event"] == "model" {
                versions.push(v["data"]["v"].as_i64().unwrap());
            }
            if v["done"] == true {
                saw_done = true;
                break;
            }
        }
        writer.abort();
        assert!(saw_done, "replies still arrive");
        // The first frame may be any version; the reader never sees hundreds queued.
        assert!(
            versions.len() <= 3,
            "{} model frames for 500 publications: {versions:?}",
            versions.len()
        );
    }

    type Lines = tokio::io::Lines<BufReader<tokio::io::DuplexStream>>;

    /// A writer with a model subscription in place (the reply line after it has come out, so
    /// from here on every publication counts): its queue, the publisher and the reader.
    async fn subscribed(
        first: Value,
        opts: ModelOpts,
    ) -> (mpsc::Sender<Out<Value>>, watch::Sender<Arc<Value>>, Lines) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = mpsc::channel(8);
        let (pub_tx, pub_rx) = watch::channel(Arc::new(first));
        tokio::spawn(write_out(server, rx));
        tx.send(Out::Model(pub_rx, opts)).await.unwrap();
        let mut lines = BufReader::new(client).lines();
        tx.send(Out::Line("{\"sub\":1}\n".into())).await.unwrap();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"sub\":1}");
        (tx, pub_tx, lines)
    }

    #[tokio::test]
    async fn the_latest_model_arrives_once_the_reader_catches_up() {
        let (tx, pub_tx, mut lines) = subscribed(json!({"v": 0}), ModelOpts::default()).await;
        // The value from before the subscription is not sent; the next publication is.
        pub_tx.send_replace(Arc::new(json!({"v": 7})));
        let next: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(next, json!({"event": "model", "data": {"v": 7}}));
        // The publisher going away ends the models, not the connection.
        drop(pub_tx);
        tx.send(Out::Line("{\"still\":1}\n".into())).await.unwrap();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"still\":1}");
    }

    /// `--refresh`: at most one model per interval (the newest when it is due), and a flush
    /// (`r`) sends the next one at once. Virtual time: nothing waits for real.
    #[tokio::test(start_paused = true)]
    async fn an_interval_spaces_models_and_a_flush_skips_the_wait() {
        let opts = ModelOpts {
            every: Some(Duration::from_secs(2)),
            delta: false,
        };
        let (tx, pub_tx, mut lines) = subscribed(json!({"v": 0}), opts).await;
        let mut next = async || -> i64 {
            let l = lines.next_line().await.unwrap().unwrap();
            serde_json::from_str::<Value>(&l).unwrap()["data"]["v"]
                .as_i64()
                .unwrap()
        };
        pub_tx.send_replace(Arc::new(json!({"v": 1})));
        let t0 = Instant::now();
        assert_eq!(next().await, 1);
        // Published at once, sent only when due: the newest of them.
        pub_tx.send_replace(Arc::new(json!({"v": 2})));
        pub_tx.send_replace(Arc::new(json!({"v": 3})));
        assert_eq!(next().await, 3);
        assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
        // A flush: the next model goes out without the wait.
        let t1 = Instant::now();
        tx.send(Out::Flush).await.unwrap();
        pub_tx.send_replace(Arc::new(json!({"v": 4})));
        assert_eq!(next().await, 4);
        assert!(t1.elapsed() < Duration::from_secs(2), "{:?}", t1.elapsed());
    }

    /// `delta`: the first model whole, then patches that rebuild it exactly; a publication
    /// that changes nothing sends nothing.
    #[tokio::test]
    async fn deltas_rebuild_the_model_and_an_unchanged_one_sends_nothing() {
        let logs = |n: usize| (0..n).map(|i| format!("line {i}")).collect::<Vec<_>>();
        let opts = ModelOpts {
            every: None,
            delta: true,
        };
        let (_tx, pub_tx, mut lines) = subscribed(json!({"v": 0, "logs": logs(100)}), opts).await;
        let mut next = async || -> Value {
            serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap()
        };
        let first = json!({"v": 1, "logs": logs(100)});
        pub_tx.send_replace(Arc::new(first.clone()));
        let f = next().await;
        assert_eq!(f["event"], "model");
        let mut base = f["data"].clone();
        assert_eq!(base, first);
        // Unchanged: nothing goes out; the next change does, as a small delta.
        pub_tx.send_replace(Arc::new(first.clone()));
        let mut more = logs(101);
        more.remove(0);
        let second = json!({"v": 2, "logs": more});
        pub_tx.send_replace(Arc::new(second.clone()));
        let d = next().await;
        assert_eq!(d["event"], "model_delta");
        assert!(d.to_string().len() < 120, "{d}");
        delta::apply(&mut base, &d["data"]).unwrap();
        assert_eq!(base, second);
    }
}
