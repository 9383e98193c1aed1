//! The `jobs` table: off-chain job records (`running` -> `success` | `failed`).
use super::{Error, SqliteStore};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Success,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Success => "success",
            JobStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "success" => Some(Self::Success),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Where a job came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSource {
    Rest,
    Stream,
    /// Recorded by a container through `PUT /api/status`.
    Status,
    /// The first interval of a delegated (signed) subscription.
    Delegated,
}

impl JobSource {
    fn as_str(self) -> &'static str {
        match self {
            JobSource::Rest => "rest",
            JobSource::Stream => "stream",
            JobSource::Status => "status",
            JobSource::Delegated => "delegated",
        }
    }
}

pub struct NewJob<'a> {
    pub id: &'a str,
    pub client: &'a str,
    pub source: JobSource,
    pub containers: &'a [String],
    /// The request's `data` (kept for the job detail view).
    pub input: Option<&'a Value>,
}

/// A stored job as the REST API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub client: String,
    pub status: JobStatus,
    pub source: String,
    pub containers: Vec<String>,
    pub result: Option<Value>,
    pub intermediate: Vec<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A job in the recent list: what the TUI's table shows.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub id: String,
    pub source: String,
    pub status: JobStatus,
    pub containers: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub error: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneCounts {
    pub expired_running: usize,
    pub deleted_finished: usize,
}

pub use crate::clock::now_ms;

fn row_to_record(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(JobRecord, String, Option<String>, String)> {
    let status: String = r.get(2)?;
    Ok((
        JobRecord {
            id: r.get(0)?,
            client: r.get(1)?,
            status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
            source: r.get(3)?,
            containers: Vec::new(),
            result: None,
            intermediate: Vec::new(),
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
        },
        r.get::<_, String>(4)?,
        r.get::<_, Option<String>>(5)?,
        r.get::<_, String>(6)?,
    ))
}

const COLUMNS: &str =
    "id, client, status, source, containers, result, intermediate, created_at, updated_at";

fn decode(parts: (JobRecord, String, Option<String>, String)) -> Result<JobRecord, Error> {
    let (mut rec, containers, result, intermediate) = parts;
    rec.containers = serde_json::from_str(&containers)?;
    rec.result = match result {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    };
    rec.intermediate = serde_json::from_str(&intermediate)?;
    Ok(rec)
}

/// Records read under a byte budget ([`SqliteStore::get_bounded`]).
#[derive(Debug, Default)]
pub struct Bounded {
    pub records: Vec<JobRecord>,
    /// Records were left out to stay within the budget.
    pub over: bool,
}

impl SqliteStore {
    /// Records a new job as `running`.
    pub async fn insert_running(&self, job: NewJob<'_>) -> Result<(), Error> {
        let (id, client, source) = (
            job.id.to_string(),
            job.client.to_string(),
            job.source.as_str(),
        );
        let containers = serde_json::to_string(job.containers)?;
        let input = job.input.map(serde_json::to_string).transpose()?;
        self.write(move |c| {
            let now = now_ms();
            c.prepare_cached(
                "INSERT INTO jobs (id, client, status, source, containers, created_at, updated_at, input)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET status = 'running', result = NULL,
                   intermediate = '[]', updated_at = ?5, input = ?6",
            )?
            .execute(params![id, client, source, containers, now, input])?;
            Ok(())
        })
        .await
    }

    /// Finishes a job with its final and intermediate results.
    pub async fn finish(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<Value>,
        intermediate: Vec<Value>,
    ) -> Result<(), Error> {
        let id = id.to_string();
        let result = result.map(|r| serde_json::to_string(&r)).transpose()?;
        let intermediate = serde_json::to_string(&intermediate)?;
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE jobs SET status = ?2, result = ?3, intermediate = ?4, updated_at = ?5 WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), result, intermediate, now_ms()])?;
            Ok(())
        })
        .await
    }

    /// `PUT /api/status`: updates a known job, or records one reported by a container.
    pub async fn record_status(
        &self,
        id: &str,
        client: &str,
        status: JobStatus,
        containers: &[String],
    ) -> Result<(), Error> {
        let (id, client) = (id.to_string(), client.to_string());
        let containers = serde_json::to_string(containers)?;
        self.write(move |c| {
            let now = now_ms();
            let updated = c.execute(
                "UPDATE jobs SET status = ?2, containers = ?3, result = NULL, intermediate = '[]', updated_at = ?4
                 WHERE id = ?1",
                params![id, status.as_str(), containers, now],
            )?;
            if updated == 0 {
                c.execute(
                    "INSERT INTO jobs (id, client, status, source, containers, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'status', ?4, ?5, ?5)",
                    params![id, client, status.as_str(), containers, now],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Job ids of one client; `pending` = Some(true) running only, Some(false) finished only.
    pub async fn list_ids(
        &self,
        client: &str,
        pending: Option<bool>,
    ) -> Result<Vec<String>, Error> {
        let client = client.to_string();
        self.read(move |c| {
            let sql = match pending {
                Some(true) => "SELECT id FROM jobs WHERE client = ?1 AND status = 'running' ORDER BY created_at",
                Some(false) => "SELECT id FROM jobs WHERE client = ?1 AND status != 'running' ORDER BY created_at",
                None => "SELECT id FROM jobs WHERE client = ?1 ORDER BY created_at",
            };
            let mut st = c.prepare_cached(sql)?;
            let ids = st.query_map(params![client], |r| r.get::<_, String>(0))?;
            Ok(ids.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Jobs by id, scoped to `client` (None: any client); unknown ids are skipped.
    pub async fn get_many(
        &self,
        client: Option<&str>,
        ids: &[String],
    ) -> Result<Vec<JobRecord>, Error> {
        Ok(self
            .get_bounded(client, ids, true, usize::MAX)
            .await?
            .records)
    }

    /// `client`'s records for `ids`, in order, stopping before the stored result text (and the
    /// intermediate results, when `intermediate`) would pass `max_bytes`; the first record is
    /// always read, so any single job can be fetched. `over` says that some were left out.
    pub async fn get_bounded(
        &self,
        client: Option<&str>,
        ids: &[String],
        intermediate: bool,
        max_bytes: usize,
    ) -> Result<Bounded, Error> {
        let client = client.map(str::to_string);
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?;
            let mut out = Bounded::default();
            let mut bytes = 0usize;
            for id in &ids {
                let Some((rec, containers, result, inter)) =
                    st.query_row(params![id], row_to_record).optional()?
                else {
                    continue;
                };
                if client.as_deref().is_some_and(|cl| cl != rec.client) {
                    continue;
                }
                let size = result.as_ref().map_or(0, String::len)
                    + if intermediate { inter.len() } else { 0 };
                bytes = bytes.saturating_add(size);
                if bytes > max_bytes && !out.records.is_empty() {
                    out.over = true;
                    break;
                }
                let inter = if intermediate { inter } else { "[]".into() };
                out.records.push(decode((rec, containers, result, inter))?);
            }
            Ok(out)
        })
        .await
    }

    /// The newest `limit` jobs, without their results (the TUI's live table).
    pub async fn recent(&self, limit: u32) -> Result<Vec<JobSummary>, Error> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, source, status, containers, created_at, updated_at,
                        CASE WHEN status = 'failed' AND json_valid(result) THEN json_extract(result, '$.error') END
                 FROM jobs ORDER BY created_at DESC LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, source, status, containers, created_at, updated_at, error) = row?;
                out.push(JobSummary {
                    id,
                    source,
                    status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
                    containers: serde_json::from_str(&containers).unwrap_or_default(),
                    created_at,
                    updated_at,
                    error,
                });
            }
            Ok(out)
        })
        .await
    }

    /// The stored input of a job (None when unknown or recorded without one).
    pub async fn job_input(&self, id: &str) -> Result<Option<Value>, Error> {
        let id = id.to_string();
        self.read(move |c| {
            let text: Option<Option<String>> = c
                .prepare_cached("SELECT input FROM jobs WHERE id = ?1")?
                .query_row(params![id], |r| r.get(0))
                .optional()?;
            match text.flatten() {
                Some(t) => Ok(Some(serde_json::from_str(&t)?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Marks every `running` job as failed with `reason` (after a restart); returns how many.
    pub async fn fail_running(&self, reason: &str) -> Result<usize, Error> {
        let result = serde_json::to_string(&serde_json::json!({"container": "", "error": reason}))?;
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE jobs SET status = 'failed', result = ?1, updated_at = ?2 WHERE status = 'running'",
                params![result, now_ms()],
            )?)
        })
        .await
    }

    /// Fails `running` jobs older than `pending_ttl_ms` and deletes finished ones older than
    /// `retention_ms` (0 keeps them forever).
    pub async fn prune(
        &self,
        pending_ttl_ms: i64,
        retention_ms: i64,
    ) -> Result<PruneCounts, Error> {
        self.write(move |c| {
            let now = now_ms();
            let result = serde_json::to_string(&serde_json::json!({
                "container": "",
                "error": format!("job did not finish within the pending TTL ({} s)", pending_ttl_ms / 1000)
            }))?;
            let expired_running = c.execute(
                "UPDATE jobs SET status = 'failed', result = ?1, updated_at = ?2
                 WHERE status = 'running' AND updated_at < ?3",
                params![result, now, now - pending_ttl_ms],
            )?;
            let deleted_finished = if retention_ms > 0 {
                c.execute(
                    "DELETE FROM jobs WHERE status != 'running' AND updated_at < ?1",
                    params![now - retention_ms],
                )?
            } else {
                0
            };
            Ok(PruneCounts { expired_running, deleted_finished })
        })
        .await
    }

    /// Number of `running` jobs, all clients.
    pub async fn count_running(&self) -> Result<u64, Error> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE status = 'running'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        (dir, s)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn lifecycle_scoping_and_restart() {
        let (dir, s) = store();
        let c = ids(&["echo"]);
        s.insert_running(NewJob {
            id: "j1",
            client: "127.0.0.1",
            source: JobSource::Rest,
            containers: &c,
            input: None,
        })
        .await
        .unwrap();
        s.insert_running(NewJob {
            id: "j2",
            client: "::1",
            source: JobSource::Rest,
            containers: &c,
            input: None,
        })
        .await
        .unwrap();
        s.finish(
            "j1",
            JobStatus::Success,
            Some(json!({"container": "echo", "output": {"a": 1}})),
            vec![],
        )
        .await
        .unwrap();
        // Scoped: an IPv6 client's ids are its own (Ritual's ':'-split key broke on these).
        assert_eq!(s.list_ids("::1", None).await.unwrap(), ids(&["j2"]));
        assert_eq!(
            s.list_ids("127.0.0.1", Some(false)).await.unwrap(),
            ids(&["j1"])
        );
        assert!(
            s.get_many(Some("::1"), &ids(&["j1"]))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.count_running().await.unwrap(), 1);
        drop(s);
        let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(s.fail_running("node restarted").await.unwrap(), 1);
        let got = s.get_many(None, &ids(&["j1", "j2"])).await.unwrap();
        assert_eq!(got[0].status, JobStatus::Success);
        assert_eq!(got[1].status, JobStatus::Failed);
        assert_eq!(
            got[1].result,
            Some(json!({"container": "", "error": "node restarted"}))
        );
    }

    #[tokio::test]
    async fn bounded_reads_stop_at_the_byte_budget_but_always_return_one() {
        let (_dir, s) = store();
        let c = ids(&["echo"]);
        let big = "x".repeat(1000);
        for id in ["a", "b", "c"] {
            s.insert_running(NewJob {
                id,
                client: "127.0.0.1",
                source: JobSource::Rest,
                containers: &c,
                input: None,
            })
            .await
            .unwrap();
            s.finish(
                id,
                JobStatus::Success,
                Some(json!({"output": big})),
                vec![json!({"step": big})],
            )
            .await
            .unwrap();
        }
        let all = ids(&["a", "b", "c"]);
        // ~1 KB of result each: two fit in 2,100 bytes, the third is left out.
        let b = s.get_bounded(None, &all, false, 2100).await.unwrap();
        assert_eq!(b.records.len(), 2);
        assert!(b.over);
        assert!(b.records[0].intermediate.is_empty(), "not asked for");
        // Intermediate results count when asked for: only one fits, and one is always given.
        let b = s.get_bounded(None, &all, true, 2100).await.unwrap();
        assert_eq!(b.records.len(), 1);
        assert!(b.over);
        assert_eq!(b.records[0].intermediate.len(), 1);
        let b = s.get_bounded(None, &all, true, 10).await.unwrap();
        assert_eq!((b.records.len(), b.over), (1, true));
        let b = s.get_bounded(None, &all, true, usize::MAX).await.unwrap();
        assert_eq!((b.records.len(), b.over), (3, false));
    }

    #[tokio::test]
    async fn recent_lists_newest_first_with_errors_and_inputs() {
        let (_dir, s) = store();
        let c = ids(&["echo", "llm"]);
        let input = serde_json::json!({"prompt": "hi"});
        for id in ["a", "b", "c"] {
            s.insert_running(NewJob {
                id,
                client: "127.0.0.1",
                source: JobSource::Stream,
                containers: &c,
                input: Some(&input),
            })
            .await
            .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        s.finish(
            "b",
            JobStatus::Failed,
            Some(serde_json::json!({"container": "llm", "error": "boom"})),
            vec![],
        )
        .await
        .unwrap();
        let r = s.recent(2).await.unwrap();
        assert_eq!(
            r.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["c", "b"]
        );
        assert_eq!(r[1].status, JobStatus::Failed);
        assert_eq!(r[1].error.as_deref(), Some("boom"));
        assert_eq!(r[0].containers, c);
        assert_eq!(r[0].source, "stream");
        assert_eq!(s.job_input("a").await.unwrap(), Some(input));
        assert_eq!(s.job_input("nope").await.unwrap(), None);
    }

    #[tokio::test]
    async fn prune_expires_stale_running_and_old_results() {
        let (_dir, s) = store();
        let c = ids(&["echo"]);
        for id in ["old-run", "old-done", "new-done"] {
            s.insert_running(NewJob {
                id,
                client: "1.2.3.4",
                source: JobSource::Rest,
                containers: &c,
                input: None,
            })
            .await
            .unwrap();
        }
        s.finish("old-done", JobStatus::Success, None, vec![])
            .await
            .unwrap();
        s.finish("new-done", JobStatus::Success, None, vec![])
            .await
            .unwrap();
        let hour = 3_600_000;
        s.write(move |c| {
            c.execute(
                "UPDATE jobs SET updated_at = updated_at - ?1 WHERE id IN ('old-run', 'old-done')",
                [2 * hour],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let n = s.prune(hour, hour).await.unwrap();
        assert_eq!(
            n,
            PruneCounts {
                expired_running: 1,
                deleted_finished: 1
            }
        );
        let left = s
            .get_many(None, &ids(&["old-run", "old-done", "new-done"]))
            .await
            .unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].status, JobStatus::Failed);
        let err = left[0].result.as_ref().unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(err, "job did not finish within the pending TTL (3600 s)");
        // Retention 0 keeps finished results forever.
        assert_eq!(s.prune(hour, 0).await.unwrap().deleted_finished, 0);
    }

    #[test]
    fn newer_schema_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        drop(SqliteStore::open(&p).unwrap());
        let c = rusqlite::Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = SqliteStore::open(&p).unwrap_err().to_string();
        assert!(
            e.contains(
                "has schema version 99, newer than this infernet knows (4); upgrade infernet"
            ),
            "{e}"
        );
    }
}
