//! One IPC connection's writer. Replies and events queue (bounded: a reader that stalls blocks
//! the sender, and the engine's broadcast reports what it skipped), but the UI model is never
//! queued: it is read from its watch channel and serialised only when the socket can take it,
//! so a subscriber that does not read holds at most the one model line being written, however
//! many models were published meanwhile (latest only).
use super::ipc::event_line;
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
    Model(watch::Receiver<Arc<M>>, Option<Duration>),
    /// The next model goes out without waiting for the interval (a refresh).
    Flush,
}

/// Writes until the channel closes or the peer goes away.
pub async fn write_out<M, W>(mut w: W, mut rx: mpsc::Receiver<Out<M>>)
where
    M: Serialize + Send + Sync,
    W: AsyncWrite + Unpin,
{
    let mut model: Option<watch::Receiver<Arc<M>>> = None;
    let mut every: Option<Duration> = None;
    let mut next_at: Option<Instant> = None;
    loop {
        let line = tokio::select! {
            // Replies first: a model frame never delays the answer to a request.
            biased;
            msg = rx.recv() => match msg {
                Some(Out::Line(l)) => l,
                Some(Out::Model(mut m, interval)) => {
                    m.mark_unchanged();
                    model = Some(m);
                    every = interval;
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
                    next_at = every.map(|e| Instant::now() + e);
                    event_line("model", &*m)
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
        tx.send(Out::Model(pub_rx, None)).await.unwrap();
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

    #[tokio::test]
    async fn the_latest_model_arrives_once_the_reader_catches_up() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = mpsc::channel(8);
        let (pub_tx, pub_rx) = watch::channel(Arc::new(json!({"v": 0})));
        tokio::spawn(write_out(server, rx));
        tx.send(Out::Model(pub_rx, None)).await.unwrap();
        let mut lines = BufReader::new(client).lines();
        tx.send(Out::Line("{\"sub\":1}\n".into())).await.unwrap();
        // The value from before the subscription is not sent; the next publication is.
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "{\"sub\":1}");
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
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = mpsc::channel(8);
        let (pub_tx, pub_rx) = watch::channel(Arc::new(json!({"v": 0})));
        tokio::spawn(write_out(server, rx));
        tx.send(Out::Model(pub_rx, Some(Duration::from_secs(2))))
            .await
            .unwrap();
        let mut lines = BufReader::new(client).lines();
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
}
