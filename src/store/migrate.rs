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
    // 2: on-chain sync cursor, tracked subscriptions, the delivery ledger and its transactions.
    // `deployment` is "<chain id>:<coordinator>", so another chain or deployment starts afresh.
    "CREATE TABLE chain_cursor (
        deployment  TEXT PRIMARY KEY,
        last_sub_id INTEGER NOT NULL,
        last_block  INTEGER NOT NULL
     );
     CREATE TABLE chain_subscriptions (
        deployment TEXT NOT NULL,
        id         INTEGER NOT NULL,
        body       TEXT NOT NULL,
        containers TEXT NOT NULL,
        status     TEXT NOT NULL,
        reason     TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (deployment, id)
     );
     CREATE INDEX chain_subscriptions_by_status ON chain_subscriptions(deployment, status);
     CREATE TABLE deliveries (
        deployment TEXT NOT NULL,
        node       TEXT NOT NULL,
        sub_id     INTEGER NOT NULL,
        interval   INTEGER NOT NULL,
        state      TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        reason     TEXT,
        tx_hash    TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (deployment, node, sub_id, interval)
     );
     CREATE INDEX deliveries_by_state ON deliveries(deployment, node, state);
     CREATE TABLE chain_txs (
        hash       TEXT PRIMARY KEY,
        deployment TEXT NOT NULL,
        node       TEXT NOT NULL,
        sub_id     INTEGER NOT NULL,
        interval   INTEGER NOT NULL,
        nonce      INTEGER NOT NULL,
        raw        BLOB NOT NULL,
        state      TEXT NOT NULL,
        sent_block INTEGER NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE INDEX chain_txs_by_state ON chain_txs(deployment, node, state);",
    // v3: the job input (shown in the TUI job detail) and the recent-jobs listing.
    "ALTER TABLE jobs ADD COLUMN input TEXT;
     CREATE INDEX jobs_by_created ON jobs(created_at);",
    // v4: delegated (signed) subscriptions accepted over REST, until their first interval is
    // delivered (then they continue as on-chain subscriptions). `seq` keys their transactions.
    "CREATE TABLE delegated (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        deployment TEXT NOT NULL,
        owner      TEXT NOT NULL,
        nonce      INTEGER NOT NULL,
        request    TEXT NOT NULL,
        job_id     TEXT NOT NULL,
        client     TEXT NOT NULL,
        state      TEXT NOT NULL,
        reason     TEXT,
        sub_id     INTEGER,
        tx_hash    TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (deployment, owner, nonce)
     );
     CREATE INDEX delegated_by_state ON delegated(deployment, state);",
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
