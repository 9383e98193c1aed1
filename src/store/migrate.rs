//! Forward-only migrations keyed by `PRAGMA user_version`.
use super::Error;
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    // 1: off-chain jobs and their results.
    "CREATE TABLE jobs (
        id           TEXT PRIMARY KEY,
        client       TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('running','success','failed')),
        source       TEXT NOT NULL,
        containers   TEXT NOT NULL,
        result       TEXT,
        intermediate TEXT NOT NULL DEFAULT '[]',
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
     );
     CREATE INDEX jobs_by_client ON jobs(client, status);
     CREATE INDEX jobs_by_age ON jobs(status, updated_at);",
];

pub fn run(conn: &mut rusqlite::Connection, path: &Path) -> Result<(), Error> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store migrated");
    }
    Ok(())
}
