//! The writer thread: takes every queued write, runs each in a savepoint inside one
//! transaction, commits once, then answers every caller with what really happened.
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
    health: Health,
}

impl Writer {
    pub fn spawn(conn: rusqlite::Connection) -> Result<Self, Error> {
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        let health = Health::default();
        let h = health.clone();
        std::thread::Builder::new()
            .name("infernet-store".into())
            .spawn(move || run(conn, rx, h))
            .map_err(|e| Error::Task(format!("cannot start the store thread: {e}")))?;
        Ok(Self { tx, health })
    }

    /// Why writes fail now, if they do.
    pub fn failing(&self) -> Option<String> {
        self.health.failing()
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

fn run(mut conn: rusqlite::Connection, rx: mpsc::Receiver<Job>, health: Health) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        apply(&mut conn, group, &health);
    }
}

/// Runs one group in one transaction, each write in its own savepoint (a failed write is
/// undone whole, and the others keep theirs), and answers every caller with what really
/// happened: when the commit fails, or SQLite rolls the whole transaction back by itself
/// (disk full, I/O error), every write of the group is reported failed and none of the rest
/// runs, so nothing commits outside the transaction while its caller hears "failed".
fn apply(conn: &mut rusqlite::Connection, group: Vec<Job>, health: &Health) {
    let mut results: Vec<(Output, tokio::sync::oneshot::Sender<Output>)> =
        Vec::with_capacity(group.len());
    let mut rest = group.into_iter();
    let committed = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction()?;
        for (op, done) in rest.by_ref() {
            let step = (|| {
                let sp = tx.savepoint()?;
                let out = op(&sp);
                if out.is_ok() {
                    sp.commit()?;
                }
                Ok::<_, rusqlite::Error>(out)
            })();
            let cause = match step {
                Ok(out) => {
                    let cause = out.as_ref().err().map(|e| e.to_string());
                    results.push((out, done));
                    cause
                }
                Err(e) => {
                    results.push((Err(Error::Sql(e.to_string())), done));
                    return Err(e);
                }
            };
            if tx.is_autocommit() {
                // Keep SQLite's own reason ("database or disk is full"): it says what to fix.
                let why = match cause {
                    Some(c) => format!("SQLite rolled the transaction back after: {c}"),
                    None => "SQLite rolled the transaction back".into(),
                };
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                    Some(why),
                ));
            }
        }
        tx.commit()
    })();
    match committed {
        Ok(()) => {
            health.set(None);
            for (out, done) in results {
                let _ = done.send(out);
            }
        }
        Err(e) => {
            let why = format!("the store could not write (disk full or failing?): {e}");
            tracing::error!(error = %e, writes = results.len() + rest.len(), "store commit failed");
            health.set(Some(why.clone()));
            for done in results
                .into_iter()
                .map(|(_, d)| d)
                .chain(rest.map(|(_, d)| d))
            {
                let _ = done.send(Err(Error::Sql(why.clone())));
            }
        }
    }
}

/// Whether the last group of writes committed; `/health` reports it.
#[derive(Clone, Default)]
pub struct Health(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl Health {
    fn set(&self, why: Option<String>) {
        if let Ok(mut g) = self.0.lock() {
            *g = why;
        }
    }

    /// The reason writes fail now, if they do.
    pub fn failing(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(
        f: impl FnOnce(&rusqlite::Connection) -> Result<(), Error> + Send + 'static,
    ) -> (Job, tokio::sync::oneshot::Receiver<Output>) {
        let (done, wait) = tokio::sync::oneshot::channel();
        let op: Op = Box::new(move |c| f(c).map(|v| Box::new(v) as Box<dyn Any + Send>));
        ((op, done), wait)
    }

    fn insert(v: &'static str) -> impl FnOnce(&rusqlite::Connection) -> Result<(), Error> {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
            Ok(())
        }
    }

    fn rows(c: &rusqlite::Connection) -> Vec<String> {
        let mut st = c.prepare("SELECT v FROM t ORDER BY rowid").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn conn() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v TEXT UNIQUE)").unwrap();
        c
    }

    #[test]
    fn a_failed_write_is_undone_whole_and_the_others_commit() {
        let mut c = conn();
        let health = Health::default();
        let (a, ra) = job(insert("a"));
        // Two statements, the second fails: the first must not stay behind.
        let (b, rb) = job(|c| {
            c.execute("INSERT INTO t (v) VALUES ('b')", [])?;
            c.execute("INSERT INTO t (v) VALUES ('a')", [])?;
            Ok(())
        });
        let (d, rd) = job(insert("d"));
        apply(&mut c, vec![a, b, d], &health);
        assert!(ra.blocking_recv().unwrap().is_ok());
        assert!(rb.blocking_recv().unwrap().is_err());
        assert!(rd.blocking_recv().unwrap().is_ok());
        assert_eq!(rows(&c), ["a", "d"]);
        assert_eq!(health.failing(), None);
    }

    #[test]
    fn a_transaction_sqlite_rolled_back_fails_every_write_and_runs_no_more() {
        let mut c = conn();
        let health = Health::default();
        let (a, ra) = job(insert("a"));
        // What SQLite does on a full disk or an I/O error: the whole transaction is undone.
        let (b, rb) = job(|c| {
            c.execute_batch("ROLLBACK")?;
            Ok(())
        });
        let (d, rd) = job(insert("d"));
        apply(&mut c, vec![a, b, d], &health);
        for r in [ra, rb, rd] {
            let e = r.blocking_recv().unwrap().unwrap_err();
            assert!(e.to_string().contains("could not write"), "{e}");
        }
        assert!(
            rows(&c).is_empty(),
            "nothing committed outside the transaction"
        );
        assert!(health.failing().is_some());
        // The next group commits again, and health recovers.
        let (e, re) = job(insert("e"));
        apply(&mut c, vec![e], &health);
        assert!(re.blocking_recv().unwrap().is_ok());
        assert_eq!(rows(&c), ["e"]);
        assert_eq!(health.failing(), None);
    }
}
