//! The writer thread: takes every queued write, runs each in a savepoint inside one
//! transaction, commits once, then answers every caller.
use super::Error;
use std::any::Any;
use std::sync::mpsc;

type Output = Result<Box<dyn Any + Send>, Error>;
type Op = Box<dyn FnOnce(&rusqlite::Connection) -> Output + Send>;
type Job = (Op, tokio::sync::oneshot::Sender<Output>);

const MAX_GROUP: usize = 512;

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::SyncSender<Job>,
}

impl Writer {
    pub fn spawn(conn: rusqlite::Connection) -> Result<Self, Error> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        std::thread::Builder::new()
            .name("infernet-store".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| Error::Task(format!("cannot start the store thread: {e}")))?;
        Ok(Self { tx })
    }

    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        let (done, wait) = tokio::sync::oneshot::channel();
        let op: Op = Box::new(move |c| f(c).map(|v| Box::new(v) as Box<dyn Any + Send>));
        let sender = self.tx.clone();
        // A full queue blocks briefly; keep that off the async workers.
        match sender.try_send((op, done)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                tokio::task::spawn_blocking(move || sender.send(job))
                    .await
                    .map_err(|e| Error::Task(e.to_string()))?
                    .map_err(|_| Error::Task("store thread stopped".into()))?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(Error::Task("store thread stopped".into()));
            }
        }
        let out = wait
            .await
            .map_err(|_| Error::Task("store thread stopped".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Task("store result type mismatch".into()))
    }
}

fn run(mut conn: rusqlite::Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let mut results: Vec<(Output, tokio::sync::oneshot::Sender<Output>)> =
            Vec::with_capacity(group.len());
        let committed = (|| -> Result<(), rusqlite::Error> {
            let tx = conn.transaction()?;
            // Each write is one or two statements; SQLite undoes a failed statement by itself,
            // so a failing write does not spoil the others in the group.
            for (op, done) in group.drain(..) {
                let out = op(&tx);
                results.push((out, done));
            }
            tx.commit()
        })();
        match committed {
            Ok(()) => {
                for (out, done) in results {
                    let _ = done.send(out);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, writes = results.len(), "store commit failed");
                for (_, done) in results {
                    let _ = done.send(Err(Error::Sql(e.to_string())));
                }
            }
        }
    }
}
