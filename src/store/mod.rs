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
pub use job::{Bounded, JobRecord, JobSource, JobStatus, JobSummary, NewJob, PruneCounts, now_ms};

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

/// Makes `path` readable by its owner only before SQLite opens it: the file holds prompts and
/// results, and SQLite gives its WAL and shared-memory files the database file's mode. A
/// database found open to others is tightened (and the operator told).
pub fn private_db_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::metadata(path) {
        Ok(m) => {
            if m.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                tracing::warn!(path = %path.display(), "database was readable by others; now 0600");
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map(drop)
            .or_else(|e| {
                // Another opener created it first: fine.
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        Err(e) => Err(e),
    }
}

/// Damage anywhere in the file is found at start (not when a write lands on it): the node
/// then refuses to run on it and says what to do, instead of serving while writes fail.
fn check_integrity(conn: &rusqlite::Connection, path: &Path) -> Result<(), Error> {
    let damaged = |message: String| Error::Open {
        path: path.to_path_buf(),
        message: format!(
            "the store is damaged ({message}); move it aside (its jobs are lost) or restore a backup, then start again"
        ),
    };
    let found: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| damaged(e.to_string()))?;
    if found != "ok" {
        return Err(damaged(found));
    }
    Ok(())
}

fn connect(path: &Path) -> Result<rusqlite::Connection, Error> {
    let open_err = |e: rusqlite::Error| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    private_db_file(path).map_err(|e| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
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
        Self::open_capped(path, 0)
    }

    /// `open`, with the file's growth stopped at `max_mb` MiB (0: no cap). SQLite then fails
    /// a write past it with "database or disk is full", the path a full disk takes.
    pub fn open_capped(path: &Path, max_mb: u64) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Dir {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let mut conn = connect(path)?;
        check_integrity(&conn, path)?;
        migrate::run(&mut conn, path)?;
        if max_mb > 0 {
            let page: u64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(|e| Error::Open {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            let pages = (max_mb.saturating_mul(1024 * 1024) / page.max(512)).max(1);
            // The pragma answers with the limit it set (never below the current size).
            let set: u64 = conn
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get(0)
                })
                .map_err(|e| Error::Open {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            tracing::info!(max_mb, pages = set, "store size capped");
        }
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

    /// Why writes fail now (disk full, I/O errors), if they do; `/health` reports it.
    pub fn write_failing(&self) -> Option<String> {
        self.writer.failing()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn databases_are_private_to_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        let _s = SqliteStore::open(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        // One left readable by an earlier version (or by hand) is tightened.
        let old = dir.path().join("old.db");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _s = SqliteStore::open(&old).unwrap();
        assert_eq!(mode(&old), 0o600);
    }

    #[tokio::test]
    async fn damage_in_the_middle_of_the_file_is_found_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.db");
        {
            let s = SqliteStore::open(&p).unwrap();
            s.write(|c| {
                c.execute_batch(
                    "CREATE TABLE filler (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
                     INSERT INTO filler SELECT randomblob(1000) FROM n;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
            s.write(|c| {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .unwrap();
        }
        // Garbage over a page in the middle (not the header): the file still opens.
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 4096] {
            *b = 0xA5;
        }
        std::fs::write(&p, &bytes).unwrap();
        let e = SqliteStore::open(&p).unwrap_err().to_string();
        assert!(e.contains("the store is damaged"), "{e}");
        assert!(e.contains("d.db"), "{e}");
    }
}
