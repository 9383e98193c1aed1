//! Versioned, forward-only migrations for both dialects: the same tables and columns, only
//! the auto-increment key differs. Times are Unix milliseconds (BIGINT); JSON is TEXT.
use crate::control::db::{Db, DbError, Dialect, Val};

/// Migration `i` (1-based) for each dialect.
fn migrations(d: Dialect) -> Vec<String> {
    let serial = match d {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    vec![
        format!(
            "CREATE TABLE providers (
            id TEXT PRIMARY KEY,
            node_id TEXT NOT NULL UNIQUE,
            public_key TEXT NOT NULL,
            role TEXT NOT NULL,
            name TEXT,
            status TEXT NOT NULL,
            address TEXT,
            port BIGINT,
            gpu_model TEXT,
            price TEXT,
            specs TEXT NOT NULL,
            served_models TEXT NOT NULL,
            concurrency_cap BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX providers_key_role ON providers (public_key, role);
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            model_name TEXT,
            input_spec TEXT NOT NULL,
            provider_id TEXT,
            attempts BIGINT NOT NULL,
            max_attempts BIGINT NOT NULL,
            lease_until BIGINT,
            result TEXT,
            error TEXT,
            client_ip TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            assigned_at BIGINT,
            completed_at BIGINT
        );
        CREATE INDEX jobs_status_created ON jobs (status, created_at);
        CREATE INDEX jobs_provider ON jobs (provider_id, status);
        CREATE TABLE job_events (
            id {serial},
            job_id TEXT NOT NULL,
            attempt BIGINT NOT NULL,
            event_type TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE INDEX job_events_job ON job_events (job_id, id);
        CREATE TABLE nonces (
            nonce TEXT PRIMARY KEY,
            pubkey TEXT NOT NULL,
            seen_at BIGINT NOT NULL
        );
        CREATE INDEX nonces_seen ON nonces (seen_at);
        CREATE TABLE node_commands (
            id TEXT PRIMARY KEY,
            pubkey TEXT NOT NULL,
            command TEXT NOT NULL,
            args TEXT NOT NULL,
            status TEXT NOT NULL,
            result TEXT,
            error TEXT,
            progress TEXT,
            issued_at BIGINT NOT NULL,
            started_at BIGINT,
            completed_at BIGINT
        );
        CREATE INDEX node_commands_key ON node_commands (pubkey, status, issued_at);"
        ),
        // 2: claims take turns between clients, and each client's pending jobs are counted.
        "CREATE INDEX jobs_status_client ON jobs (status, client_ip, created_at);".to_string(),
        // 3: node admission by operator approval.
        "CREATE TABLE node_admissions (
            pubkey TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            node_id TEXT,
            name TEXT,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            decided_at BIGINT
        );
        CREATE INDEX node_admissions_status ON node_admissions (status, last_seen);"
            .to_string(),
        // 4: payout addresses and the payments ledger (reference §6.5). Booleans are 0/1,
        // amounts exact decimal text; one ledger row per job and direction.
        "CREATE TABLE provider_payouts (
            id TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL,
            coin TEXT NOT NULL,
            network TEXT NOT NULL,
            address TEXT NOT NULL,
            is_default BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX provider_payouts_address ON provider_payouts (provider_id, coin, address);
        CREATE TABLE payment_transactions (
            id TEXT PRIMARY KEY,
            direction TEXT NOT NULL,
            job_id TEXT,
            provider_id TEXT,
            client_id TEXT,
            coin TEXT,
            network TEXT,
            amount TEXT,
            amount_usd TEXT,
            address TEXT,
            tx_hash TEXT,
            invoice_id TEXT,
            status TEXT NOT NULL,
            provider_gateway TEXT,
            metadata TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            confirmed_at BIGINT
        );
        CREATE UNIQUE INDEX payment_transactions_job ON payment_transactions (job_id, direction);
        CREATE INDEX payment_transactions_provider ON payment_transactions (provider_id, created_at);
        CREATE INDEX payment_transactions_client ON payment_transactions (client_id, created_at);"
            .to_string(),
        // 5: signed receipts, one per finished job.
        "CREATE TABLE receipts (
            receipt_id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );"
        .to_string(),
        // 6: client API keys (hashed), persistent request limits, and the user tier: accounts
        // (a hashed bearer), their node-key links and dashboard sessions.
        "CREATE TABLE client_keys (
            id TEXT PRIMARY KEY,
            name TEXT,
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            per_hour BIGINT NOT NULL,
            requests BIGINT NOT NULL,
            tokens BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            last_used_at BIGINT,
            revoked_at BIGINT
        );
        CREATE TABLE rate_limits (
            subject TEXT PRIMARY KEY,
            tat BIGINT NOT NULL
        );
        CREATE INDEX rate_limits_tat ON rate_limits (tat);
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE pubkey_links (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            pubkey TEXT NOT NULL,
            role TEXT NOT NULL,
            label TEXT,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX pubkey_links_key_role ON pubkey_links (pubkey, role);
        CREATE INDEX pubkey_links_user ON pubkey_links (user_id);
        CREATE TABLE dashboard_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        );"
        .to_string(),
        // 7: `/metrics` counts jobs by status and model from this index alone.
        "CREATE INDEX jobs_status_model ON jobs (status, model_name);".to_string(),
        // 8: a node's numbered event batch sent twice (answer lost, or sent again through
        // another replica) is stored once; events without a number (NULL) never collide.
        "ALTER TABLE job_events ADD COLUMN seq BIGINT;
        CREATE UNIQUE INDEX job_events_seq ON job_events (job_id, attempt, seq);"
            .to_string(),
    ]
}

/// Brings the database to the newest schema; returns the version.
pub async fn migrate(db: &Db) -> Result<i64, DbError> {
    db.batch("CREATE TABLE IF NOT EXISTS cp_schema (version BIGINT NOT NULL)")
        .await?;
    let current = db
        .query_one("SELECT MAX(version) FROM cp_schema", &[])
        .await?
        .and_then(|r| r.first().and_then(Val::int))
        .unwrap_or(0);
    let all = migrations(db.dialect());
    for (i, sql) in all.iter().enumerate() {
        let v = i as i64 + 1;
        if v <= current {
            continue;
        }
        db.batch(sql).await?;
        db.exec("INSERT INTO cp_schema (version) VALUES ($1)", &[v.into()])
            .await?;
        tracing::info!(version = v, db = %db.label, "control-plane schema migrated");
    }
    Ok(all.len() as i64)
}
