//! SQLite state (WAL, versioned forward-only migrations). One writer thread commits queued
//! writes in groups (one transaction for everything waiting), so many concurrent jobs cost
//! one commit instead of one each; a separate connection serves reads, which WAL lets run
//! beside the writer.
mod chain;
mod delegated;
mod job;
mod migrate;
mod writer;

pub use chain::{ChainLedger, DeliveryRecord, DeliveryState, TrackedRow, TxRecord};
pub use delegated::{DelegatedRow, DelegatedStore};
pub use job::{JobRecord, JobSource, JobStatus, JobSummary, NewJob, PruneCounts, now_ms};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("cannot create the store directory '{path}': {message}")]
    Dir { path: PathBuf, message: String },
    #[error("cannot open the store '{path}': {message}")]
    Open { path: PathBuf, message: String },
    #[error(
        "store '{path}' has schema version {found}, newer than this infernet knows ({known}); upgrade infernet"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("store query failed: {0}")]
    Sql(String),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("stored JSON is corrupt: {0}")]
    Json(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e.to_string())
    }
}

/// Cheap-to-clone handle on the SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    reader: Arc<Mutex<rusqlite::Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn connect(path: &Path) -> Result<rusqlite::Connection, Error> {
    let open_err = |e: rusqlite::Error| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let conn = rusqlite::Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err)?;
    // NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash can
    // lose the last transactions.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating) the file, sets WAL and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Dir {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let mut conn = connect(path)?;
        migrate::run(&mut conn, path)?;
        let reader = connect(path)?;
        Ok(Self {
            writer: writer::Writer::spawn(conn)?,
            reader: Arc::new(Mutex::new(reader)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write; resolves once its group is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Runs a read on the reader connection in the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        let conn = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| Error::Task("store reader lock poisoned".into()))?;
            f(&guard)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    /// Waits for queued writes and checkpoints the WAL into the main file (graceful shutdown).
    pub async fn flush(&self) -> Result<(), Error> {
        self.write(|c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}
