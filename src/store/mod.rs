//! SQLite state (WAL, versioned forward-only migrations). One connection behind a mutex:
//! statements are microseconds long, and blocking work runs off the async workers.
mod job;
mod migrate;

pub use job::{JobRecord, JobSource, JobStatus, NewJob, PruneCounts};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the store directory '{path}': {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store '{path}': {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "store '{path}' has schema version {found}, newer than this infernet knows ({known}); upgrade infernet"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("stored JSON is corrupt: {0}")]
    Json(#[from] serde_json::Error),
}

/// Cheap-to-clone handle on the SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<rusqlite::Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating) the file, sets WAL and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Dir {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        let open_err = |e| Error::Open {
            path: path.to_path_buf(),
            source: e,
        };
        let mut conn = rusqlite::Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash
        // can lose the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrate::run(&mut conn, path)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection in the blocking pool.
    pub async fn with<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| Error::Task("store mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    /// Runs `f` on the connection on this thread (startup, shutdown, tests).
    pub fn with_sync<T>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| Error::Task("store mutex poisoned".into()))?;
        f(&mut guard)
    }

    /// Checkpoints the WAL into the main file (graceful shutdown).
    pub fn flush(&self) -> Result<(), Error> {
        self.with_sync(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }
}
