//! What a reader already has of a job, for one that resumes with `Last-Event-ID`.
use super::*;

impl Store {
    /// The attempt event `through` belongs to, and that attempt's token text up to it; `None`
    /// when there is no such event.
    pub async fn text_through(
        &self,
        job_id: &str,
        through: i64,
    ) -> Result<Option<(i64, String)>, DbError> {
        let rows = self
            .db
            .query(
                "SELECT attempt FROM job_events WHERE job_id = $1 AND id = $2",
                &[job_id.into(), through.into()],
            )
            .await?;
        let Some(attempt) = rows.first().and_then(|r| n(r, 0)) else {
            return Ok(None);
        };
        let rows = self
            .db
            .query(
                "SELECT data FROM job_events WHERE job_id = $1 AND attempt = $2 AND event_type = 'token' AND id <= $3 ORDER BY id",
                &[job_id.into(), attempt.into(), through.into()],
            )
            .await?;
        let text = rows
            .iter()
            .filter_map(|r| {
                js(r, 0)
                    .get("text")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        Ok(Some((attempt, text)))
    }
}
