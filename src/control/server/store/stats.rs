//! What the web pages summarise: recent throughput, failures, a node's earnings and jobs.
use super::*;

impl Store {
    /// Jobs completed since `since` (ms).
    pub async fn completed_since(&self, since: i64) -> Result<i64, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT COUNT(*) FROM jobs WHERE status = 'completed' AND completed_at >= $1",
                &[since.into()],
            )
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0))
    }

    /// Tokens the ledger priced since `since` (ms), from each row's metadata.
    pub async fn tokens_since(&self, since: i64) -> Result<i64, DbError> {
        Ok(self
            .db
            .query(
                "SELECT metadata FROM payment_transactions WHERE created_at >= $1",
                &[since.into()],
            )
            .await?
            .iter()
            .filter_map(|r| js(r, 0).get("tokens").and_then(Value::as_i64))
            .sum())
    }

    /// The newest failed jobs.
    pub async fn recent_failures(&self, limit: i64) -> Result<Vec<Job>, DbError> {
        self.jobs_where(
            "status = 'failed' ORDER BY updated_at DESC, id DESC LIMIT $1",
            &[limit.into()],
        )
        .await
    }

    /// The newest jobs a provider held.
    pub async fn jobs_of(&self, provider_id: &str, limit: i64) -> Result<Vec<Job>, DbError> {
        self.jobs_where(
            "provider_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2",
            &[provider_id.into(), limit.into()],
        )
        .await
    }

    /// The amounts (exact decimal text) credited to a provider, and how many rows.
    pub async fn earnings(&self, provider_id: &str) -> Result<Vec<String>, DbError> {
        Ok(self
            .db
            .query(
                "SELECT amount_usd FROM payment_transactions WHERE provider_id = $1 AND direction = 'outbound'",
                &[provider_id.into()],
            )
            .await?
            .iter()
            .filter_map(|r| t(r, 0))
            .collect())
    }
}
