//! Client API keys (stored as SHA-256 hashes) and the persistent request limits (one GCRA
//! arrival time per subject, decided by `infernet_core::ratelimit`).
use super::*;
use crate::control::db::Dialect;
use infernet_core::ratelimit::{self, Decision, Limit};
use infernet_core::wire::keys::KeyRow;

const KEY_COLS: &str =
    "id, name, prefix, per_hour, requests, tokens, created_at, last_used_at, revoked_at";

fn key_row(r: &Row) -> KeyRow {
    let when = |i| n(r, i).map(rfc3339_ms);
    KeyRow {
        id: t(r, 0).unwrap_or_default(),
        name: t(r, 1),
        prefix: t(r, 2).unwrap_or_default(),
        per_hour: n(r, 3).and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        requests: n(r, 4).and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        tokens: n(r, 5).and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        created_at: when(6).unwrap_or_default(),
        last_used_at: when(7),
        revoked_at: when(8),
    }
}

/// SHA-256 hex of a secret: what is stored for keys, user tokens and sessions.
pub fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    alloy::hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A key found by its secret, with whether it was revoked.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLookup {
    pub row: KeyRow,
    pub revoked: bool,
}

impl Store {
    pub async fn create_key(
        &self,
        id: &str,
        name: Option<&str>,
        secret: &str,
        per_hour: u32,
        now: i64,
    ) -> Result<KeyRow, DbError> {
        let prefix: String = secret.chars().take(12).collect();
        self.db
            .exec(
                "INSERT INTO client_keys (id, name, key_hash, prefix, per_hour, requests, tokens, created_at) VALUES ($1, $2, $3, $4, $5, 0, 0, $6)",
                &[
                    id.into(),
                    name.map(str::to_string).into(),
                    secret_hash(secret).into(),
                    prefix.into(),
                    i64::from(per_hour).into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(self.key(id).await?.unwrap_or_default())
    }

    pub async fn key(&self, id: &str) -> Result<Option<KeyRow>, DbError> {
        let sql = format!("SELECT {KEY_COLS} FROM client_keys WHERE id = $1");
        Ok(self
            .db
            .query_one(&sql, &[id.into()])
            .await?
            .map(|r| key_row(&r)))
    }

    /// Every key, newest first (revoked ones too, marked).
    pub async fn keys(&self) -> Result<Vec<KeyRow>, DbError> {
        let sql = format!("SELECT {KEY_COLS} FROM client_keys ORDER BY created_at DESC, id DESC");
        Ok(self
            .db
            .query(&sql, &[])
            .await?
            .iter()
            .map(key_row)
            .collect())
    }

    pub async fn key_by_secret(&self, secret: &str) -> Result<Option<KeyLookup>, DbError> {
        let sql = format!("SELECT {KEY_COLS} FROM client_keys WHERE key_hash = $1");
        Ok(self
            .db
            .query_one(&sql, &[secret_hash(secret).into()])
            .await?
            .map(|r| {
                let row = key_row(&r);
                KeyLookup {
                    revoked: row.revoked_at.is_some(),
                    row,
                }
            }))
    }

    /// Revokes a key (once: the first revocation time stays); `None` when there is no such key.
    pub async fn revoke_key(&self, id: &str, now: i64) -> Result<Option<KeyRow>, DbError> {
        self.db
            .exec(
                "UPDATE client_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                &[id.into(), now.into()],
            )
            .await?;
        self.key(id).await
    }

    pub async fn key_used(&self, id: &str, now: i64) -> Result<(), DbError> {
        self.db
            .exec(
                "UPDATE client_keys SET requests = requests + 1, last_used_at = $2 WHERE id = $1",
                &[id.into(), now.into()],
            )
            .await?;
        Ok(())
    }

    pub async fn key_tokens(&self, id: &str, tokens: i64) -> Result<(), DbError> {
        self.db
            .exec(
                "UPDATE client_keys SET tokens = tokens + $2 WHERE id = $1",
                &[id.into(), tokens.into()],
            )
            .await?;
        Ok(())
    }

    /// One request by `subject` under `limit`, decided and counted in one statement (the
    /// GCRA of `ratelimit::decide` as an upsert guarded on the stored arrival time), so
    /// concurrent requests from any replica are each counted once and none is refused for
    /// losing a race. A refusal reads the arrival time once more for its `Retry-After`.
    pub async fn take_rate(
        &self,
        subject: &str,
        limit: Limit,
        now: i64,
    ) -> Result<Decision, DbError> {
        let Some((interval, tolerance)) = ratelimit::cell(limit) else {
            return Ok(ratelimit::decide(limit, None, now));
        };
        let greatest = match self.db.dialect() {
            Dialect::Postgres => "GREATEST",
            Dialect::Sqlite => "MAX",
        };
        let sql = format!(
            "INSERT INTO rate_limits (subject, tat) VALUES ($1, $2) \
             ON CONFLICT (subject) DO UPDATE SET tat = {greatest}(rate_limits.tat, $3) + $4 \
             WHERE {greatest}(rate_limits.tat, $3) - $5 <= $3 RETURNING tat"
        );
        let row = self
            .db
            .query_one(
                &sql,
                &[
                    subject.into(),
                    (now + interval).into(),
                    now.into(),
                    interval.into(),
                    tolerance.into(),
                ],
            )
            .await?;
        if let Some(tat) = row.and_then(|r| n(&r, 0)) {
            return Ok(Decision::Allow { tat });
        }
        let stored = self
            .db
            .query_one(
                "SELECT tat FROM rate_limits WHERE subject = $1",
                &[subject.into()],
            )
            .await?
            .and_then(|r| n(&r, 0));
        Ok(match ratelimit::decide(limit, stored, now) {
            // Freed between the two statements: say "now", the client retries at once.
            Decision::Allow { .. } => Decision::Deny { retry_after_ms: 1 },
            d => d,
        })
    }

    /// Forgets subjects whose burst is whole again (their row means the same as none).
    pub async fn prune_rates(&self, now: i64) -> Result<u64, DbError> {
        self.db
            .exec("DELETE FROM rate_limits WHERE tat <= $1", &[now.into()])
            .await
    }
}
