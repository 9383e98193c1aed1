//! Admission requests (who may join) and their decisions.
use super::*;

const ADMISSION_COLS: &str = "pubkey, status, node_id, name, first_seen, last_seen, decided_at";

impl Store {
    /// The key's recorded status; an unknown key is recorded as `pending` (with what it said
    /// about itself), unless `max_pending` keys already wait (then `None`).
    pub async fn request_admission(
        &self,
        pubkey: &str,
        node_id: Option<String>,
        name: Option<String>,
        now: i64,
        max_pending: i64,
    ) -> Result<Option<String>, DbError> {
        let known = self
            .db
            .query_one(
                "SELECT status FROM node_admissions WHERE pubkey = $1",
                &[pubkey.into()],
            )
            .await?
            .and_then(|r| t(&r, 0));
        if let Some(status) = known {
            self.db
                .exec(
                    "UPDATE node_admissions SET last_seen = $2, node_id = COALESCE($3, node_id), name = COALESCE($4, name) WHERE pubkey = $1",
                    &[pubkey.into(), now.into(), node_id.into(), name.into()],
                )
                .await?;
            return Ok(Some(status));
        }
        let waiting = self
            .db
            .query_one(
                "SELECT COUNT(*) FROM node_admissions WHERE status = 'pending'",
                &[],
            )
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0);
        if waiting >= max_pending {
            return Ok(None);
        }
        self.db
            .exec(
                "INSERT INTO node_admissions (pubkey, status, node_id, name, first_seen, last_seen)
                 VALUES ($1, 'pending', $2, $3, $4, $4) ON CONFLICT (pubkey) DO NOTHING",
                &[pubkey.into(), node_id.into(), name.into(), now.into()],
            )
            .await?;
        tracing::info!(
            pubkey,
            "node asks to be admitted; awaiting the operator's approval"
        );
        Ok(Some("pending".into()))
    }

    /// Records the operator's decision (`approved` / `denied`), for a key seen or not.
    pub async fn decide_admission(
        &self,
        pubkey: &str,
        status: &str,
        now: i64,
    ) -> Result<Value, DbError> {
        self.db
            .exec(
                "INSERT INTO node_admissions (pubkey, status, first_seen, last_seen, decided_at)
                 VALUES ($1, $2, $3, $3, $3)
                 ON CONFLICT (pubkey) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at",
                &[pubkey.into(), status.into(), now.into()],
            )
            .await?;
        let sql = format!(
            "SELECT {} FROM node_admissions WHERE pubkey = $1",
            ADMISSION_COLS
        );
        Ok(self
            .db
            .query_one(&sql, &[pubkey.into()])
            .await?
            .map(|r| Self::admission_json(&r))
            .unwrap_or(Value::Null))
    }

    pub(super) fn admission_json(r: &Row) -> Value {
        json!({
            "pubkey": t(r, 0), "status": t(r, 1), "node_id": t(r, 2), "name": t(r, 3),
            "first_seen": time(n(r, 4)), "last_seen": time(n(r, 5)), "decided_at": time(n(r, 6)),
        })
    }

    /// Recorded keys (optionally of one status), most recently seen first.
    pub async fn admissions(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Value>, DbError> {
        let rows = match status {
            Some(s) => {
                let sql = format!(
                    "SELECT {} FROM node_admissions WHERE status = $1 ORDER BY last_seen DESC LIMIT $2",
                    ADMISSION_COLS
                );
                self.db.query(&sql, &[s.into(), limit.into()]).await?
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM node_admissions ORDER BY last_seen DESC LIMIT $1",
                    ADMISSION_COLS
                );
                self.db.query(&sql, &[limit.into()]).await?
            }
        };
        Ok(rows.iter().map(Self::admission_json).collect())
    }

    /// Forgets requests nobody decided that stopped asking before `before`.
    pub async fn prune_admissions(&self, before: i64) -> Result<u64, DbError> {
        self.db
            .exec(
                "DELETE FROM node_admissions WHERE status = 'pending' AND last_seen < $1",
                &[before.into()],
            )
            .await
    }
}
