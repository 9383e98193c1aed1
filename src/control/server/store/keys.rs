//! Client API keys (stored as SHA-256 hashes) and the persistent request limits (one GCRA
//! arrival time per subject, decided by `infernet_core::ratelimit`).
use super::*;
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

/// How many times a limit check retries when another replica changed the row between its
/// read and its write.
const CAS_TRIES: usize = 8;

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

    /// One request by `subject` under `limit`: reads its arrival time, decides, and writes
    /// the new one guarded on what it read (so concurrent requests, from any replica, are
    /// each counted once).
    pub async fn take_rate(
        &self,
        subject: &str,
        limit: Limit,
        now: i64,
    ) -> Result<Decision, DbError> {
        let _one_at_a_time = self.rates.lock().await;
        for _ in 0..CAS_TRIES {
            let stored = self
                .db
                .query_one(
                    "SELECT tat FROM rate_limits WHERE subject = $1",
                    &[subject.into()],
                )
                .await?
                .and_then(|r| n(&r, 0));
            let d = ratelimit::decide(limit, stored, now);
            let Decision::Allow { tat } = d else {
                return Ok(d);
            };
            let written = match stored {
                None => {
                    self.db
                        .exec(
                            "INSERT INTO rate_limits (subject, tat) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING",
                            &[subject.into(), tat.into()],
                        )
                        .await?
                }
                Some(old) => {
                    self.db
                        .exec(
                            "UPDATE rate_limits SET tat = $2 WHERE subject = $1 AND tat = $3",
                            &[subject.into(), tat.into(), old.into()],
                        )
                        .await?
                }
            };
            if written == 1 {
                return Ok(d);
            }
        }
        // Always losing to other replicas means heavy contention on one subject: refuse this
        // one, briefly.
        Ok(Decision::Deny {
            retry_after_ms: 1000,
        })
    }

    /// Forgets subjects whose burst is whole again (their row means the same as none).
    pub async fn prune_rates(&self, now: i64) -> Result<u64, DbError> {
        self.db
            .exec("DELETE FROM rate_limits WHERE tat <= $1", &[now.into()])
            .await
    }
}
