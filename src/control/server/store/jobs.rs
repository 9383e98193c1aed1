//! The job queue: creating, reading, claiming (fair across clients) and job events.
use super::*;

/// A chat job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub status: JobStatus,
    pub model_name: Option<String>,
    pub input_spec: Value,
    pub provider_id: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_until: Option<i64>,
    pub result: Value,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub assigned_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// Who asked (claims take turns between clients).
    pub client_ip: String,
}

pub(super) const JOB_COLS: &str = "id, status, model_name, input_spec, provider_id, attempts, max_attempts, lease_until, result, error, created_at, updated_at, assigned_at, completed_at, client_ip";

/// A `job_events` row (`id, attempt, event_type, data`).
pub(super) fn stored_event(r: &Row) -> StoredEvent {
    StoredEvent {
        id: n(r, 0).unwrap_or(0),
        attempt: n(r, 1).unwrap_or(0),
        kind: t(r, 2).unwrap_or_default(),
        data: js(r, 3),
    }
}

pub(super) fn job(r: &Row) -> Job {
    Job {
        id: t(r, 0).unwrap_or_default(),
        // Only this module writes the column, with `JobStatus` names.
        status: t(r, 1)
            .and_then(|s| JobStatus::parse(&s))
            .unwrap_or(JobStatus::Failed),
        model_name: t(r, 2),
        input_spec: js(r, 3),
        provider_id: t(r, 4),
        attempts: n(r, 5).unwrap_or(0),
        max_attempts: n(r, 6).unwrap_or(1),
        lease_until: n(r, 7),
        result: js(r, 8),
        error: t(r, 9),
        created_at: n(r, 10).unwrap_or(0),
        updated_at: n(r, 11).unwrap_or(0),
        assigned_at: n(r, 12),
        completed_at: n(r, 13),
        client_ip: t(r, 14).unwrap_or_default(),
    }
}

impl Job {
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// The columns the lease lifecycle decides on.
    pub fn lease(&self) -> Lease {
        Lease {
            status: self.status,
            provider: self.provider_id.clone(),
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            lease_until: self.lease_until,
            updated_at: self.updated_at,
        }
    }

    /// The row after `t`: the lease's columns, and what the step stores with them.
    pub(super) fn moved(&self, t: &Transition, out: Outcome<'_>, now: i64) -> Job {
        let next = &t.next;
        let mut m = Job {
            status: next.status,
            provider_id: next.provider.clone(),
            attempts: next.attempts,
            lease_until: next.lease_until,
            updated_at: next.updated_at,
            ..self.clone()
        };
        match t.step {
            Step::Assigned => m.assigned_at = Some(now),
            Step::Finished | Step::Failed(_) => {
                if t.step == Step::Finished {
                    m.result = out.result.cloned().unwrap_or(Value::Null);
                }
                m.error = out.error.map(str::to_string);
                m.completed_at = Some(now);
            }
            Step::Running | Step::Renewed | Step::Requeued | Step::Unchanged => {}
        }
        m
    }
}

/// One stored job event.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub attempt: i64,
    pub kind: String,
    pub data: Value,
}

/// Round-robin across clients, keeping each client's jobs oldest first (`jobs` arrive oldest
/// first).
pub(super) fn fair_order(jobs: &mut Vec<Job>) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut ranked: Vec<(usize, usize, Job)> = jobs
        .drain(..)
        .enumerate()
        .map(|(i, j)| {
            let rank = seen.entry(j.client_ip.clone()).or_insert(0);
            *rank += 1;
            (*rank, i, j)
        })
        .collect();
    ranked.sort_by_key(|(rank, i, _)| (*rank, *i));
    jobs.extend(ranked.into_iter().map(|(_, _, j)| j));
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_job(
        &self,
        model: Option<&str>,
        input_spec: &Value,
        client_ip: &str,
        max_attempts: i64,
        status: JobStatus,
        error: Option<&str>,
        now: i64,
    ) -> Result<Job, DbError> {
        let id = uuid::Uuid::new_v4().to_string();
        let done = status.is_final().then_some(now);
        self.db
            .exec(
                "INSERT INTO jobs (id, status, model_name, input_spec, provider_id, attempts, max_attempts, lease_until, result, error, client_ip, created_at, updated_at, assigned_at, completed_at)
                 VALUES ($1, $2, $3, $4, NULL, 0, $5, NULL, NULL, $6, $7, $8, $8, NULL, $9)",
                &[
                    id.clone().into(),
                    status.as_str().into(),
                    model.map(str::to_string).into(),
                    input_spec.to_string().into(),
                    max_attempts.into(),
                    error.map(str::to_string).into(),
                    client_ip.into(),
                    now.into(),
                    done.into(),
                ],
            )
            .await?;
        self.job(&id)
            .await?
            .ok_or_else(|| DbError::Worker("job insert did not persist".into()))
    }

    /// Jobs `client_ip` has waiting for a node (its quota counts these).
    pub async fn pending_for_client(&self, client_ip: &str) -> Result<i64, DbError> {
        Ok(self
            .db
            .query(
                "SELECT COUNT(*) FROM jobs WHERE status = 'pending' AND client_ip = $1",
                &[client_ip.into()],
            )
            .await?
            .first()
            .and_then(|r| n(r, 0))
            .unwrap_or(0))
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>, DbError> {
        Ok(self
            .jobs_where("id = $1", &[id.into()])
            .await?
            .into_iter()
            .next())
    }

    /// Jobs this node holds (assigned or running).
    pub async fn active_count(&self, provider_id: &str) -> Result<i64, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT COUNT(*) FROM jobs WHERE provider_id = $1 AND status IN ('assigned', 'running')",
                &[provider_id.into()],
            )
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0))
    }

    /// Leases up to `limit` pending jobs this node can serve (a model it serves, or no model
    /// named). Each claim is guarded on `status = 'pending'`, so two nodes never get the same
    /// job, in either database.
    pub async fn claim(
        &self,
        p: &Provider,
        limit: i64,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>, DbError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        if self.db.dialect() == crate::control::db::Dialect::Postgres {
            return self.claim_skip_locked(p, limit, now, lease_ms).await;
        }
        // Fair across clients: each client's oldest pending job first, then each one's second,
        // and so on, so one client's thousand queued jobs do not starve another's one.
        let mut pending = self
            .jobs_where(
                "id IN (SELECT id FROM (SELECT id, created_at, ROW_NUMBER() OVER (PARTITION BY client_ip ORDER BY created_at, id) AS rk
                                         FROM jobs WHERE status = 'pending') AS q
                        ORDER BY rk, created_at, id LIMIT 200)
                 ORDER BY created_at, id",
                &[],
            )
            .await?;
        fair_order(&mut pending);
        let mut out = Vec::new();
        for j in pending {
            if out.len() as i64 >= limit {
                break;
            }
            let serves = match &j.model_name {
                None => !p.served_models.is_empty(),
                Some(m) => p.served_models.iter().any(|s| s == m),
            };
            if !serves {
                continue;
            }
            // A lost write means another node got it first.
            if let Ok(t) = lease::handle(&j.lease(), Event::Claim { node: &p.id }, now, lease_ms)
                && let Some(j) = self.apply(&j, &t, Outcome::default(), now).await?
            {
                out.push(j);
            }
        }
        Ok(out)
    }

    /// PostgreSQL: the claim as one statement. Pending jobs this node serves, in the same fair
    /// order (each client's oldest first), are locked with `SKIP LOCKED` (replicas and nodes
    /// claiming at once take different rows instead of racing on the same ones) and leased as
    /// the lease machine decides a claim: the columns it changes, from the decision on a
    /// pending lease.
    async fn claim_skip_locked(
        &self,
        p: &Provider,
        limit: i64,
        now: i64,
        lease_ms: i64,
    ) -> Result<Vec<Job>, DbError> {
        if p.served_models.is_empty() {
            return Ok(Vec::new());
        }
        let template = Lease {
            status: JobStatus::Pending,
            provider: None,
            attempts: 0,
            lease_until: None,
            updated_at: 0,
            max_attempts: i64::MAX,
        };
        let Ok(t) = lease::handle(&template, Event::Claim { node: &p.id }, now, lease_ms) else {
            return Ok(Vec::new());
        };
        let next = &t.next;
        let models = serde_json::to_string(&p.served_models).unwrap_or_else(|_| "[]".into());
        let sql = format!(
            "WITH ranked AS (
               SELECT id, created_at, ROW_NUMBER() OVER (PARTITION BY client_ip ORDER BY created_at, id) AS rk
               FROM (SELECT id, created_at, client_ip FROM jobs
                     WHERE status = 'pending'
                       AND (model_name IS NULL OR model_name IN (SELECT jsonb_array_elements_text(($1::text)::jsonb)))
                     ORDER BY created_at, id LIMIT 1000) AS q
             ), picked AS (
               SELECT j.id FROM jobs j JOIN ranked r ON r.id = j.id
               WHERE j.status = 'pending'
               ORDER BY r.rk, r.created_at, r.id
               LIMIT $2
               FOR UPDATE OF j SKIP LOCKED
             )
             UPDATE jobs SET status = $3, provider_id = $4, attempts = attempts + $5,
                             lease_until = $6, updated_at = $7, assigned_at = $8
             WHERE id IN (SELECT id FROM picked) AND status = 'pending'
             RETURNING {JOB_COLS}"
        );
        let rows = self
            .db
            .query(
                &sql,
                &[
                    models.into(),
                    limit.into(),
                    next.status.as_str().into(),
                    next.provider.clone().into(),
                    (next.attempts - template.attempts).into(),
                    next.lease_until.into(),
                    next.updated_at.into(),
                    now.into(),
                ],
            )
            .await?;
        let mut jobs: Vec<Job> = rows.iter().map(job).collect();
        jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        fair_order(&mut jobs);
        Ok(jobs)
    }

    /// A heartbeat's renewals: the node's leased jobs it lists (all of them when it lists none:
    /// the reference's nodes do not). Our nodes list the jobs they run, so a node that restarted
    /// and forgot its jobs does not keep them leased forever.
    pub(super) async fn renew_leases(
        &self,
        provider_id: &str,
        listed: Option<&[String]>,
        now: i64,
        lease_ms: i64,
    ) -> Result<(), DbError> {
        // One statement for all of them, writing what the lease machine decides for a
        // renewal (a new `lease_until`), on the rows it would accept (held by this node, still
        // leased, listed).
        let template = Lease {
            status: JobStatus::Running,
            provider: Some(provider_id.to_string()),
            attempts: 1,
            max_attempts: i64::MAX,
            lease_until: Some(0),
            updated_at: 0,
        };
        let renew = Event::Heartbeat {
            node: provider_id,
            holds: true,
        };
        let Ok(t) = lease::handle(&template, renew, now, lease_ms) else {
            return Ok(());
        };
        let mut params: Vec<Val> = vec![t.next.lease_until.into(), provider_id.into()];
        let listed_only = match listed {
            None => "",
            Some(ids) => {
                params.push(
                    serde_json::to_string(ids)
                        .unwrap_or_else(|_| "[]".into())
                        .into(),
                );
                match self.db.dialect() {
                    crate::control::db::Dialect::Postgres => {
                        " AND id IN (SELECT jsonb_array_elements_text(($3::text)::jsonb))"
                    }
                    crate::control::db::Dialect::Sqlite => {
                        " AND id IN (SELECT value FROM json_each($3))"
                    }
                }
            }
        };
        let sql = format!(
            "UPDATE jobs SET lease_until = $1
             WHERE provider_id = $2 AND status IN ('assigned', 'running'){listed_only}"
        );
        self.db.exec(&sql, &params).await?;
        Ok(())
    }

    /// The node's events for a job it holds: marks it running, renews its lease, stores them.
    /// Stores a node's events for the job it holds (renewing its lease). Numbered events
    /// (`first_seq`: the first one's number in the attempt) already stored are skipped, so a
    /// batch sent again stores and publishes nothing twice.
    pub async fn add_events(
        &self,
        job_id: &str,
        by: Holder<'_>,
        events: &[(String, Value)],
        first_seq: Option<u64>,
        now: i64,
        lease_ms: i64,
    ) -> Result<Result<(i64, Vec<StoredEvent>), Refused>, DbError> {
        let ran = Event::Events {
            node: by.provider,
            attempt: by.attempt,
        };
        let j = match self
            .transition(job_id, ran, Outcome::default(), now, lease_ms)
            .await?
        {
            Ok((j, _)) => j,
            Err(r) => return Ok(Err(r)),
        };
        let stored = self
            .insert_batch(job_id, j.attempts, events, first_seq, now)
            .await?;
        Ok(Ok((j.attempts, stored)))
    }

    /// A batch of events in one statement (one round trip per batch, not per event); the
    /// numbered ones already stored are skipped. Returned in the batch's order.
    async fn insert_batch(
        &self,
        job_id: &str,
        attempt: i64,
        events: &[(String, Value)],
        first_seq: Option<u64>,
        now: i64,
    ) -> Result<Vec<StoredEvent>, DbError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let seq_of =
            |i: usize| first_seq.map(|f| f.saturating_add(i as u64).min(i64::MAX as u64) as i64);
        let mut sql = String::from(
            "INSERT INTO job_events (job_id, attempt, event_type, data, created_at, seq) VALUES ",
        );
        let mut params: Vec<Val> = vec![job_id.into(), attempt.into(), now.into()];
        for (i, (kind, data)) in events.iter().enumerate() {
            let k = params.len();
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, $2, ${}, ${}, $3, ${})", k + 1, k + 2, k + 3));
            params.push(kind.as_str().into());
            params.push(data.to_string().into());
            params.push(seq_of(i).into());
        }
        sql.push_str(" ON CONFLICT (job_id, attempt, seq) DO NOTHING RETURNING id, seq");
        let mut rows: Vec<(i64, Option<i64>)> = self
            .db
            .query(&sql, &params)
            .await?
            .iter()
            .filter_map(|r| Some((n(r, 0)?, n(r, 1))))
            .collect();
        // Ids are given in the batch's order; RETURNING's own order is not promised.
        rows.sort_unstable();
        let index = |pos: usize, seq: Option<i64>| match (first_seq, seq) {
            (Some(f), Some(s)) => usize::try_from(s - f as i64).ok(),
            _ => Some(pos),
        };
        Ok(rows
            .into_iter()
            .enumerate()
            .filter_map(|(pos, (id, seq))| {
                let (kind, data) = events.get(index(pos, seq)?)?;
                Some(StoredEvent {
                    id,
                    attempt,
                    kind: kind.clone(),
                    data: data.clone(),
                })
            })
            .collect())
    }

    pub async fn insert_event(
        &self,
        job_id: &str,
        attempt: i64,
        kind: &str,
        data: &Value,
        now: i64,
    ) -> Result<StoredEvent, DbError> {
        let e = self
            .insert_numbered(job_id, attempt, kind, data, None, now)
            .await?;
        Ok(e.unwrap_or_else(|| StoredEvent {
            id: 0,
            attempt,
            kind: kind.to_string(),
            data: data.clone(),
        }))
    }

    /// One event; `None` when its number was stored already.
    async fn insert_numbered(
        &self,
        job_id: &str,
        attempt: i64,
        kind: &str,
        data: &Value,
        seq: Option<i64>,
        now: i64,
    ) -> Result<Option<StoredEvent>, DbError> {
        let row = self
            .db
            .query_one(
                "INSERT INTO job_events (job_id, attempt, event_type, data, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, attempt, seq) DO NOTHING RETURNING id",
                &[
                    job_id.into(),
                    attempt.into(),
                    kind.into(),
                    data.to_string().into(),
                    now.into(),
                    seq.into(),
                ],
            )
            .await?;
        Ok(row.and_then(|r| n(&r, 0)).map(|id| StoredEvent {
            id,
            attempt,
            kind: kind.to_string(),
            data: data.clone(),
        }))
    }

    /// The latest attempt's events after `after` (an SSE `Last-Event-ID`), at most `limit` of
    /// them (readers page through a long job instead of holding all of it). A reader that was
    /// following attempt `since` also gets the `reset` events from that attempt on: one
    /// stored just after the next attempt began would otherwise be skipped, and a reader
    /// that handles resets would keep the old attempt's partial text.
    pub async fn events(
        &self,
        j: &Job,
        after: i64,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, DbError> {
        let since = since.unwrap_or(j.attempts).min(j.attempts);
        Ok(self
            .db
            .query(
                "SELECT id, attempt, event_type, data FROM job_events WHERE job_id = $1 AND id > $3 AND (attempt = $2 OR (event_type = 'reset' AND attempt >= $5)) ORDER BY id LIMIT $4",
                &[
                    j.id.clone().into(),
                    j.attempts.into(),
                    after.into(),
                    limit.into(),
                    since.into(),
                ],
            )
            .await?
            .iter()
            .map(stored_event)
            .collect())
    }

    /// The latest attempt's newest event of one of `kinds` (one row, not the whole attempt).
    pub async fn last_event_of(
        &self,
        j: &Job,
        kinds: &[&str],
    ) -> Result<Option<StoredEvent>, DbError> {
        let mut params = vec![j.id.clone().into(), j.attempts.into()];
        let mut marks = Vec::new();
        for (i, k) in kinds.iter().enumerate() {
            params.push((*k).into());
            marks.push(format!("${}", i + 3));
        }
        let sql = format!(
            "SELECT id, attempt, event_type, data FROM job_events WHERE job_id = $1 AND attempt = $2 AND event_type IN ({}) ORDER BY id DESC LIMIT 1",
            marks.join(", ")
        );
        Ok(self
            .db
            .query(&sql, &params)
            .await?
            .first()
            .map(stored_event))
    }

    /// Jobs whose lease ran out (their node went silent).
    pub async fn expired(&self, now: i64) -> Result<Vec<Job>, DbError> {
        self.jobs_where(
            "status IN ('assigned', 'running') AND lease_until < $1",
            &[now.into()],
        )
        .await
    }

    /// Pending jobs created before `before`.
    pub async fn stale_pending(&self, before: i64) -> Result<Vec<Job>, DbError> {
        self.jobs_where("status = 'pending' AND updated_at < $1", &[before.into()])
            .await
    }

    /// Job counts by status.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, DbError> {
        Ok(self
            .db
            .query(
                "SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status",
                &[],
            )
            .await?
            .iter()
            .map(|r| (t(r, 0).unwrap_or_default(), n(r, 1).unwrap_or(0)))
            .collect())
    }
}
