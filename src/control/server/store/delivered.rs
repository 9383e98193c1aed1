//! What a reader already has of a job, for one that resumes with `Last-Event-ID`.
use super::*;

impl Store {
    /// The token text of the attempt event `through` belongs to, up to that event.
    pub async fn text_through(&self, job_id: &str, through: i64) -> Result<String, DbError> {
        let rows = self
            .db
            .query(
                "SELECT data FROM job_events WHERE job_id = $1 AND event_type = 'token' AND id <= $2 AND attempt = (SELECT attempt FROM job_events WHERE job_id = $1 AND id = $2) ORDER BY id",
                &[job_id.into(), through.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                js(r, 0)
                    .get("text")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect())
    }
}
