//! Delegated subscriptions accepted over REST, kept until their first interval is delivered so
//! a restart resumes them (`waiting` → `running` → `sent` → `delivered` | `failed`).
use super::{Error, SqliteStore, now_ms};
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone, PartialEq)]
pub struct DelegatedRow {
    pub seq: u32,
    pub owner: String,
    pub nonce: u32,
    /// The request body as received (subscription, signature, data).
    pub request: String,
    pub job_id: String,
    pub client: String,
    pub state: String,
    pub reason: Option<String>,
    pub sub_id: Option<u32>,
    pub tx_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DelegatedStore {
    store: SqliteStore,
    deployment: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DelegatedRow> {
    Ok(DelegatedRow {
        seq: r.get(0)?,
        owner: r.get(1)?,
        nonce: r.get(2)?,
        request: r.get(3)?,
        job_id: r.get(4)?,
        client: r.get(5)?,
        state: r.get(6)?,
        reason: r.get(7)?,
        sub_id: r.get(8)?,
        tx_hash: r.get(9)?,
    })
}

const COLS: &str = "seq, owner, nonce, request, job_id, client, state, reason, sub_id, tx_hash";

impl DelegatedStore {
    pub fn new(store: SqliteStore, deployment: String) -> Self {
        Self { store, deployment }
    }

    /// Stores a new request; Ok(None) when (owner, nonce) is already known (its row is returned
    /// by `find`).
    pub async fn insert(
        &self,
        owner: String,
        nonce: u32,
        request: String,
        job_id: String,
        client: String,
    ) -> Result<Option<u32>, Error> {
        let d = self.deployment.clone();
        self.store
            .write(move |c| {
                let now = now_ms();
                let n = c.execute(
                    "INSERT OR IGNORE INTO delegated(deployment, owner, nonce, request, job_id, client, state, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'waiting', ?7, ?7)",
                    params![d, owner, nonce, request, job_id, client, now],
                )?;
                Ok((n == 1).then(|| c.last_insert_rowid() as u32))
            })
            .await
    }

    pub async fn find(&self, owner: String, nonce: u32) -> Result<Option<DelegatedRow>, Error> {
        let d = self.deployment.clone();
        self.store
            .read(move |c| {
                Ok(c.query_row(
                    &format!("SELECT {COLS} FROM delegated WHERE deployment = ?1 AND owner = ?2 AND nonce = ?3"),
                    params![d, owner, nonce],
                    row,
                )
                .optional()?)
            })
            .await
    }

    pub async fn set_state(
        &self,
        seq: u32,
        state: &'static str,
        reason: Option<String>,
        sub_id: Option<u32>,
        tx_hash: Option<String>,
    ) -> Result<(), Error> {
        self.store
            .write(move |c| {
                c.execute(
                    "UPDATE delegated SET state = ?2, reason = ?3, sub_id = COALESCE(?4, sub_id),
                     tx_hash = COALESCE(?5, tx_hash), updated_at = ?6 WHERE seq = ?1",
                    params![seq, state, reason, sub_id, tx_hash, now_ms()],
                )?;
                Ok(())
            })
            .await
    }

    /// Requests not yet delivered or given up, oldest first.
    pub async fn unfinished(&self) -> Result<Vec<DelegatedRow>, Error> {
        let d = self.deployment.clone();
        self.store
            .read(move |c| {
                let mut st = c.prepare(&format!(
                    "SELECT {COLS} FROM delegated WHERE deployment = ?1 AND state IN ('waiting','running','sent') ORDER BY seq"
                ))?;
                let rows = st
                    .query_map(params![d], row)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_unique_per_owner_and_nonce_and_resume_until_final() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let d = DelegatedStore::new(s, "31337:0xc".into());
        let seq = d
            .insert(
                "0xa".into(),
                7,
                "{}".into(),
                "job".into(),
                "127.0.0.1".into(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            d.insert(
                "0xa".into(),
                7,
                "{}".into(),
                "job2".into(),
                "127.0.0.1".into()
            )
            .await
            .unwrap(),
            None
        );
        assert_eq!(
            d.find("0xa".into(), 7).await.unwrap().unwrap().job_id,
            "job"
        );
        d.set_state(seq, "sent", None, None, Some("0xhash".into()))
            .await
            .unwrap();
        let open = d.unfinished().await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].tx_hash.as_deref(), Some("0xhash"));
        d.set_state(seq, "delivered", None, Some(3), None)
            .await
            .unwrap();
        assert!(d.unfinished().await.unwrap().is_empty());
        let r = d.find("0xa".into(), 7).await.unwrap().unwrap();
        assert_eq!(
            (r.state.as_str(), r.sub_id, r.tx_hash.as_deref()),
            ("delivered", Some(3), Some("0xhash"))
        );
    }
}
