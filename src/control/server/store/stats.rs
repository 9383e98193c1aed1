//! What the web pages and `/metrics` summarise: recent throughput, failures, a node's earnings
//! and jobs, the queue and the nodes. The `/metrics` reads are aggregates: a few rows each,
//! however many jobs the table holds.
use super::*;

/// Jobs with one status and model (`None`: the job named no model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobGroup {
    pub status: String,
    pub model: Option<String>,
    pub count: i64,
}

impl Store {
    /// Job counts by status and model (one aggregate row per pair; the
    /// `jobs_status_model` index covers it).
    pub async fn jobs_by_status_and_model(&self) -> Result<Vec<JobGroup>, DbError> {
        Ok(self
            .db
            .query(
                "SELECT status, model_name, COUNT(*) FROM jobs GROUP BY status, model_name",
                &[],
            )
            .await?
            .iter()
            .map(|r| JobGroup {
                status: t(r, 0).unwrap_or_default(),
                model: t(r, 1),
                count: n(r, 2).unwrap_or(0),
            })
            .collect())
    }

    /// Registered nodes (role `provider`): how many can take a job now (available, seen since
    /// `since` ms), and how many cannot.
    pub async fn node_states(&self, since: i64) -> Result<(i64, i64), DbError> {
        let row = self
            .db
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'available' AND last_seen >= $1 THEN 1 ELSE 0 END), 0)
                 FROM providers WHERE role = 'provider'",
                &[since.into()],
            )
            .await?;
        let all = row.as_ref().and_then(|r| n(r, 0)).unwrap_or(0);
        let online = row.as_ref().and_then(|r| n(r, 1)).unwrap_or(0);
        Ok((online, all - online))
    }

    /// The models each node that can take a job now serves (one column of one row per node).
    pub async fn served_models_live(&self, since: i64) -> Result<Vec<Vec<String>>, DbError> {
        Ok(self
            .db
            .query(
                "SELECT served_models FROM providers WHERE role = 'provider' AND status = 'available' AND last_seen >= $1",
                &[since.into()],
            )
            .await?
            .iter()
            .map(|r| serde_json::from_value(js(r, 0)).unwrap_or_default())
            .collect())
    }

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
