//! Signed receipts, one per finished job.
use super::*;

impl Store {
    /// Stores `body` for `job_id` unless the job has one already (a repeated `complete`).
    pub async fn add_receipt(
        &self,
        receipt_id: &str,
        job_id: &str,
        body: &str,
        now: i64,
    ) -> Result<bool, DbError> {
        let n = self
            .db
            .exec(
                "INSERT INTO receipts (receipt_id, job_id, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING",
                &[receipt_id.into(), job_id.into(), body.into(), now.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// A receipt by its id or its job's id.
    pub async fn receipt(&self, id: &str) -> Result<Option<Value>, DbError> {
        let rows = self
            .db
            .query(
                "SELECT body FROM receipts WHERE receipt_id = $1 OR job_id = $1",
                &[id.into()],
            )
            .await?;
        Ok(rows.first().map(|r| js(r, 0)))
    }
}
