//! Every query the control plane makes, written once for SQLite and PostgreSQL.
//! The job queue's lifecycle is decided by `infernet_core::lease`; the store reads a job, asks
//! it, and writes the transition guarded on the row it read.
use crate::backend::rfc3339_ms;
use crate::control::db::{Db, DbError, Row, Val};
use crate::control::specs;
use infernet_core::lease::{self, Event, Lease, Refusal, Step, Transition};
use serde_json::{Value, json};

pub use infernet_core::lease::JobStatus;

pub use crate::clock::now_ms;

fn t(r: &Row, i: usize) -> Option<String> {
    r.get(i).and_then(Val::text)
}
fn n(r: &Row, i: usize) -> Option<i64> {
    r.get(i).and_then(Val::int)
}
fn js(r: &Row, i: usize) -> Value {
    t(r, i)
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}
fn time(v: Option<i64>) -> Value {
    v.map(|ms| Value::String(rfc3339_ms(ms)))
        .unwrap_or(Value::Null)
}

/// A registered node (any role).
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: String,
    pub node_id: String,
    pub public_key: String,
    pub role: String,
    pub name: Option<String>,
    pub status: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub gpu_model: Option<String>,
    pub specs: Value,
    pub served_models: Vec<String>,
    pub concurrency_cap: i64,
    pub last_seen: i64,
    pub created_at: i64,
}

const PROVIDER_COLS: &str = "id, node_id, public_key, role, name, status, address, port, gpu_model, specs, served_models, concurrency_cap, last_seen, created_at";

fn provider(r: &Row) -> Provider {
    Provider {
        id: t(r, 0).unwrap_or_default(),
        node_id: t(r, 1).unwrap_or_default(),
        public_key: t(r, 2).unwrap_or_default(),
        role: t(r, 3).unwrap_or_default(),
        name: t(r, 4),
        status: t(r, 5).unwrap_or_default(),
        address: t(r, 6),
        port: n(r, 7),
        gpu_model: t(r, 8),
        specs: js(r, 9),
        served_models: serde_json::from_value(js(r, 10)).unwrap_or_default(),
        concurrency_cap: n(r, 11).unwrap_or(specs::DEFAULT_CAP),
        last_seen: n(r, 12).unwrap_or(0),
        created_at: n(r, 13).unwrap_or(0),
    }
}

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

const JOB_COLS: &str = "id, status, model_name, input_spec, provider_id, attempts, max_attempts, lease_until, result, error, created_at, updated_at, assigned_at, completed_at, client_ip";

/// A `job_events` row (`id, attempt, event_type, data`).
fn stored_event(r: &Row) -> StoredEvent {
    StoredEvent {
        id: n(r, 0).unwrap_or(0),
        attempt: n(r, 1).unwrap_or(0),
        kind: t(r, 2).unwrap_or_default(),
        data: js(r, 3),
    }
}

fn job(r: &Row) -> Job {
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
    fn moved(&self, t: &Transition, out: Outcome<'_>, now: i64) -> Job {
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

#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
}

/// Why a node request was refused (status code + message for `{"error"}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    NotFound(String),
    Forbidden(String),
    Conflict(String),
}

impl Refused {
    /// A lease refusal as the node tier answers it: another node's job is forbidden, the
    /// holder's job in the wrong state a conflict.
    fn lease(j: &Job, r: Refusal) -> Self {
        match r {
            Refusal::NotLeased => {
                Self::Forbidden(format!("job '{}' is not leased to this node", j.id))
            }
            _ => Self::Conflict(format!("job '{}' is {}", j.id, j.status)),
        }
    }
}

/// What an ending job stores besides its status: the node's result and error, or the control
/// plane's reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome<'a> {
    pub result: Option<&'a Value>,
    pub error: Option<&'a str>,
}

/// Writes that lose a race are decided again on the new row, this many times at most (each loss
/// means another writer moved the job on; a node request then usually gets a refusal).
const RACE_RETRIES: usize = 4;

impl Store {
    pub async fn open(target: &str) -> Result<Self, DbError> {
        let db = Db::open(target).await?;
        super::schema::migrate(&db).await?;
        Ok(Self { db })
    }

    /// Providers matching `cond` (SQL after WHERE).
    async fn providers_where(&self, cond: &str, params: &[Val]) -> Result<Vec<Provider>, DbError> {
        let sql = format!("SELECT {PROVIDER_COLS} FROM providers WHERE {cond}");
        Ok(self
            .db
            .query(&sql, params)
            .await?
            .iter()
            .map(provider)
            .collect())
    }

    /// Jobs matching `cond` (SQL after WHERE).
    async fn jobs_where(&self, cond: &str, params: &[Val]) -> Result<Vec<Job>, DbError> {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE {cond}");
        Ok(self.db.query(&sql, params).await?.iter().map(job).collect())
    }

    // ---- replay cache (survives restarts: it is a table) ----

    /// Records a nonce; false when it was seen before.
    pub async fn fresh_nonce(&self, nonce: &str, pubkey: &str, now: i64) -> Result<bool, DbError> {
        let n = self
            .db
            .exec(
                "INSERT INTO nonces (nonce, pubkey, seen_at) VALUES ($1, $2, $3) ON CONFLICT (nonce) DO NOTHING",
                &[nonce.into(), pubkey.into(), now.into()],
            )
            .await?;
        Ok(n == 1)
    }

    // ---- nodes ----

    pub async fn provider_by_key(
        &self,
        pubkey: &str,
        role: &str,
    ) -> Result<Option<Provider>, DbError> {
        Ok(self
            .providers_where(
                "public_key = $1 AND role = $2",
                &[pubkey.into(), role.into()],
            )
            .await?
            .into_iter()
            .next())
    }

    pub async fn provider_by_id(&self, id: &str) -> Result<Option<Provider>, DbError> {
        Ok(self
            .providers_where("id = $1", &[id.into()])
            .await?
            .into_iter()
            .next())
    }

    /// Upsert on `node_id`; refused when that node_id belongs to another key.
    #[allow(clippy::too_many_arguments)]
    pub async fn register(
        &self,
        pubkey: &str,
        role: &str,
        node_id: &str,
        name: Option<String>,
        address: Option<String>,
        port: Option<i64>,
        gpu_model: Option<String>,
        price: Option<String>,
        raw_specs: &Value,
        now: i64,
    ) -> Result<Result<Provider, Refused>, DbError> {
        let existing = self
            .providers_where("node_id = $1", &[node_id.into()])
            .await?;
        if let Some(p) = existing.first() {
            if p.public_key != pubkey {
                return Ok(Err(Refused::Forbidden(format!(
                    "node_id '{node_id}' belongs to another public key"
                ))));
            }
        } else if let Some(other) = self.provider_by_key(pubkey, role).await? {
            // Same key, new node_id (re-init): move the row rather than duplicate it.
            self.db
                .exec(
                    "DELETE FROM providers WHERE id = $1",
                    &[other.id.clone().into()],
                )
                .await?;
        }
        let clean = specs::sanitize(raw_specs);
        let models = json!(specs::models(clean.get("served_models"))).to_string();
        let cap = specs::concurrency_cap(&clean);
        let id = uuid::Uuid::new_v4().to_string();
        self.db
            .exec(
                "INSERT INTO providers (id, node_id, public_key, role, name, status, address, port, gpu_model, price, specs, served_models, concurrency_cap, last_seen, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'available', $6, $7, $8, $9, $10, $11, $12, $13, $13)
                 ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, name = excluded.name,
                   status = 'available', address = excluded.address, port = excluded.port,
                   gpu_model = excluded.gpu_model, price = excluded.price, specs = excluded.specs,
                   served_models = excluded.served_models, concurrency_cap = excluded.concurrency_cap,
                   last_seen = excluded.last_seen",
                &[
                    id.into(),
                    node_id.into(),
                    pubkey.into(),
                    role.into(),
                    name.into(),
                    address.into(),
                    port.into(),
                    gpu_model.into(),
                    price.into(),
                    clean.to_string().into(),
                    models.into(),
                    cap.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(self
            .providers_where("node_id = $1", &[node_id.into()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Refused::NotFound("registration did not persist".into())))
    }

    /// Heartbeat: status, endpoint, sanitised specs, `last_seen`; renews the leases of the
    /// node's jobs. `None` when the key has not registered.
    #[allow(clippy::too_many_arguments)]
    pub async fn heartbeat(
        &self,
        pubkey: &str,
        role: &str,
        offline: bool,
        address: Option<String>,
        port: Option<i64>,
        raw_specs: Option<&Value>,
        jobs: Option<&[String]>,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Provider>, DbError> {
        let Some(p) = self.provider_by_key(pubkey, role).await? else {
            return Ok(None);
        };
        let status = if offline { "offline" } else { "available" };
        let (specs_json, models, cap) = match raw_specs {
            Some(s) => {
                let clean = specs::sanitize(s);
                let models = json!(specs::models(clean.get("served_models"))).to_string();
                let cap = specs::concurrency_cap(&clean);
                (clean.to_string(), models, cap)
            }
            None => (
                p.specs.to_string(),
                json!(p.served_models).to_string(),
                p.concurrency_cap,
            ),
        };
        self.db
            .exec(
                "UPDATE providers SET status = $1, address = COALESCE($2, address), port = COALESCE($3, port),
                   specs = $4, served_models = $5, concurrency_cap = $6, last_seen = $7 WHERE id = $8",
                &[
                    status.into(),
                    address.into(),
                    port.into(),
                    specs_json.into(),
                    models.into(),
                    cap.into(),
                    now.into(),
                    p.id.clone().into(),
                ],
            )
            .await?;
        if !offline {
            self.renew_leases(&p.id, jobs, now, lease_ms).await?;
        }
        self.provider_by_id(&p.id).await
    }

    pub async fn remove(&self, pubkey: &str, role: &str) -> Result<Option<String>, DbError> {
        let Some(p) = self.provider_by_key(pubkey, role).await? else {
            return Ok(None);
        };
        self.db
            .exec(
                "DELETE FROM providers WHERE id = $1",
                &[p.id.clone().into()],
            )
            .await?;
        Ok(Some(p.id))
    }

    /// Nodes seen since `since` (ms) with status available.
    pub async fn live_providers(&self, since: i64) -> Result<Vec<Provider>, DbError> {
        self.providers_where(
            "status = 'available' AND last_seen >= $1 AND role = 'provider' ORDER BY last_seen DESC",
            &[since.into()],
        )
        .await
    }

    pub async fn provider_count(&self) -> Result<i64, DbError> {
        Ok(self
            .db
            .query_one("SELECT COUNT(*) FROM providers", &[])
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0))
    }

    // ---- jobs ----

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

    /// A heartbeat's renewals: the node's leased jobs it lists (all of them when it lists none:
    /// the reference's nodes do not). Our nodes list the jobs they run, so a node that restarted
    /// and forgot its jobs does not keep them leased forever.
    async fn renew_leases(
        &self,
        provider_id: &str,
        listed: Option<&[String]>,
        now: i64,
        lease_ms: i64,
    ) -> Result<(), DbError> {
        let held = self
            .jobs_where(
                "provider_id = $1 AND status IN ('assigned', 'running')",
                &[provider_id.into()],
            )
            .await?;
        for j in held {
            let holds = listed.is_none_or(|ids| ids.contains(&j.id));
            let renew = Event::Heartbeat {
                node: provider_id,
                holds,
            };
            // A lost write: the job moved on (completed, expired) since the read.
            if let Ok(t) = lease::handle(&j.lease(), renew, now, lease_ms) {
                self.apply(&j, &t, Outcome::default(), now).await?;
            }
        }
        Ok(())
    }

    /// Writes `t`, decided from `j`, guarded on the lease `j` was read with; the job as written,
    /// or `None` when the row moved meanwhile (nothing written).
    pub async fn apply(
        &self,
        j: &Job,
        t: &Transition,
        out: Outcome<'_>,
        now: i64,
    ) -> Result<Option<Job>, DbError> {
        if t.step == Step::Unchanged {
            return Ok(Some(j.clone()));
        }
        let moved = j.moved(t, out, now);
        let (sql, params) = cas_update(&written(t.step, &moved), &guard(j, t));
        Ok((self.db.exec(&sql, &params).await? == 1).then_some(moved))
    }

    /// Reads the job, decides `event` and writes the decision; a write that lost a race is
    /// decided again on the new row. The job as it is now, and the step taken.
    async fn transition(
        &self,
        job_id: &str,
        event: Event<'_>,
        out: Outcome<'_>,
        now: i64,
        lease_ms: i64,
    ) -> Result<Result<(Job, Step), Refused>, DbError> {
        for _ in 0..RACE_RETRIES {
            let Some(j) = self.job(job_id).await? else {
                return Ok(Err(Refused::NotFound(format!("no job '{job_id}'"))));
            };
            let t = match lease::handle(&j.lease(), event, now, lease_ms) {
                Ok(t) => t,
                Err(r) => return Ok(Err(Refused::lease(&j, r))),
            };
            if let Some(j) = self.apply(&j, &t, out, now).await? {
                return Ok(Ok((j, t.step)));
            }
        }
        Ok(Err(Refused::Conflict(format!(
            "job '{job_id}' kept changing while this request was applied; try again"
        ))))
    }

    /// The node's events for a job it holds: marks it running, renews its lease, stores them.
    pub async fn add_events(
        &self,
        job_id: &str,
        provider_id: &str,
        events: &[(String, Value)],
        now: i64,
        lease_ms: i64,
    ) -> Result<Result<(i64, Vec<StoredEvent>), Refused>, DbError> {
        let ran = Event::Events { node: provider_id };
        let j = match self
            .transition(job_id, ran, Outcome::default(), now, lease_ms)
            .await?
        {
            Ok((j, _)) => j,
            Err(r) => return Ok(Err(r)),
        };
        let mut stored = Vec::with_capacity(events.len());
        for (kind, data) in events {
            stored.push(
                self.insert_event(job_id, j.attempts, kind, data, now)
                    .await?,
            );
        }
        Ok(Ok((j.attempts, stored)))
    }

    pub async fn insert_event(
        &self,
        job_id: &str,
        attempt: i64,
        kind: &str,
        data: &Value,
        now: i64,
    ) -> Result<StoredEvent, DbError> {
        let id = self
            .db
            .query_one(
                "INSERT INTO job_events (job_id, attempt, event_type, data, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    job_id.into(),
                    attempt.into(),
                    kind.into(),
                    data.to_string().into(),
                    now.into(),
                ],
            )
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0);
        Ok(StoredEvent {
            id,
            attempt,
            kind: kind.to_string(),
            data: data.clone(),
        })
    }

    /// The latest attempt's events after `after` (an SSE `Last-Event-ID`), at most `limit` of
    /// them (readers page through a long job instead of holding all of it).
    pub async fn events(
        &self,
        j: &Job,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, DbError> {
        Ok(self
            .db
            .query(
                "SELECT id, attempt, event_type, data FROM job_events WHERE job_id = $1 AND attempt = $2 AND id > $3 ORDER BY id LIMIT $4",
                &[j.id.clone().into(), j.attempts.into(), after.into(), limit.into()],
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

    /// Completes a job the node holds. Idempotent: a retry, or a node whose lease was lost
    /// after the job ended, gets `noop` (true) and changes nothing.
    pub async fn complete(
        &self,
        job_id: &str,
        provider_id: &str,
        ok: bool,
        result: Option<&Value>,
        error: Option<&str>,
        now: i64,
    ) -> Result<Result<(Job, bool), Refused>, DbError> {
        let error = error.map(|e| e.chars().take(1024).collect::<String>());
        let out = Outcome {
            result,
            error: error.as_deref(),
        };
        let done = Event::Complete {
            node: provider_id,
            ok,
        };
        Ok(self
            .transition(job_id, done, out, now, 0)
            .await?
            .map(|(j, step)| (j, step == Step::Unchanged)))
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

    pub async fn prune_nonces(&self, before: i64) -> Result<u64, DbError> {
        self.db
            .exec("DELETE FROM nonces WHERE seen_at < $1", &[before.into()])
            .await
    }

    // ---- node admission (approval mode) ----

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
            Self::ADMISSION_COLS
        );
        Ok(self
            .db
            .query_one(&sql, &[pubkey.into()])
            .await?
            .map(|r| Self::admission_json(&r))
            .unwrap_or(Value::Null))
    }

    const ADMISSION_COLS: &str = "pubkey, status, node_id, name, first_seen, last_seen, decided_at";

    fn admission_json(r: &Row) -> Value {
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
                    Self::ADMISSION_COLS
                );
                self.db.query(&sql, &[s.into(), limit.into()]).await?
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM node_admissions ORDER BY last_seen DESC LIMIT $1",
                    Self::ADMISSION_COLS
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

    // ---- node commands ----

    pub async fn enqueue_command(
        &self,
        pubkey: &str,
        command: &str,
        args: &Value,
        now: i64,
    ) -> Result<Value, DbError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.db
            .exec(
                "INSERT INTO node_commands (id, pubkey, command, args, status, issued_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
                &[id.clone().into(), pubkey.into(), command.into(), args.to_string().into(), now.into()],
            )
            .await?;
        Ok(json!({"id": id, "command": command, "args": args, "status": "pending"}))
    }

    const CMD_COLS: &str =
        "id, command, args, status, result, error, progress, issued_at, started_at, completed_at";

    fn command_json(r: &Row) -> Value {
        json!({
            "id": t(r, 0), "command": t(r, 1), "args": js(r, 2), "status": t(r, 3),
            "result": js(r, 4), "error": t(r, 5), "progress": js(r, 6),
            "issued_at": time(n(r, 7)), "started_at": time(n(r, 8)), "completed_at": time(n(r, 9)),
        })
    }

    pub async fn commands(&self, pubkey: &str, limit: i64) -> Result<Vec<Value>, DbError> {
        let sql = format!(
            "SELECT {} FROM node_commands WHERE pubkey = $1 ORDER BY issued_at DESC LIMIT $2",
            Self::CMD_COLS
        );
        Ok(self
            .db
            .query(&sql, &[pubkey.into(), limit.into()])
            .await?
            .iter()
            .map(Self::command_json)
            .collect())
    }

    /// Moves up to `limit` pending commands to running, each guarded on its status.
    pub async fn poll_commands(
        &self,
        pubkey: &str,
        limit: i64,
        now: i64,
    ) -> Result<Vec<Value>, DbError> {
        let rows = self
            .db
            .query(
                "SELECT id, command, args FROM node_commands WHERE pubkey = $1 AND status = 'pending' ORDER BY issued_at LIMIT $2",
                &[pubkey.into(), limit.into()],
            )
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let id = t(&r, 0).unwrap_or_default();
            let got = self
                .db
                .exec(
                    "UPDATE node_commands SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'pending'",
                    &[now.into(), id.clone().into()],
                )
                .await?;
            if got == 1 {
                out.push(json!({"id": id, "command": t(&r, 1), "args": js(&r, 2)}));
            }
        }
        Ok(out)
    }

    /// Stores a progress snapshot; returns the command's status (so a node sees a cancel).
    pub async fn command_progress(
        &self,
        id: &str,
        pubkey: &str,
        progress: &Value,
    ) -> Result<Option<String>, DbError> {
        self.db
            .exec(
                "UPDATE node_commands SET progress = $1 WHERE id = $2 AND pubkey = $3",
                &[progress.to_string().into(), id.into(), pubkey.into()],
            )
            .await?;
        self.command_status(id, pubkey).await
    }

    /// A command's status, when it is this key's.
    async fn command_status(&self, id: &str, pubkey: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT status FROM node_commands WHERE id = $1 AND pubkey = $2",
                &[id.into(), pubkey.into()],
            )
            .await?
            .and_then(|r| t(&r, 0)))
    }

    /// Completes a running command; `None` when it is not this key's, `noop` when it was
    /// not running.
    pub async fn complete_command(
        &self,
        id: &str,
        pubkey: &str,
        ok: bool,
        result: Option<&Value>,
        error: Option<&str>,
        now: i64,
    ) -> Result<Option<(String, bool)>, DbError> {
        let n = self
            .db
            .exec(
                "UPDATE node_commands SET status = $1, result = $2, error = $3, completed_at = $4
                 WHERE id = $5 AND pubkey = $6 AND status = 'running'",
                &[
                    (if ok { "completed" } else { "failed" }).into(),
                    result.map(|r| r.to_string()).into(),
                    error
                        .map(|e| strip_ansi(e).chars().take(2000).collect::<String>())
                        .into(),
                    now.into(),
                    id.into(),
                    pubkey.into(),
                ],
            )
            .await?;
        Ok(self.command_status(id, pubkey).await?.map(|s| (s, n == 0)))
    }
}

/// Removes ANSI escape sequences (spinners in captured output).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The columns `step` writes, from the row after it.
fn written(step: Step, m: &Job) -> Vec<(&'static str, Val)> {
    let mut cols: Vec<(&'static str, Val)> = vec![
        ("status", m.status.as_str().into()),
        ("provider_id", m.provider_id.clone().into()),
        ("attempts", m.attempts.into()),
        ("lease_until", m.lease_until.into()),
        ("updated_at", m.updated_at.into()),
    ];
    match step {
        Step::Assigned => cols.push(("assigned_at", m.assigned_at.into())),
        Step::Finished | Step::Failed(_) => {
            if step == Step::Finished {
                let result = (!m.result.is_null()).then(|| m.result.to_string());
                cols.push(("result", result.into()));
            }
            cols.push(("error", m.error.clone().into()));
            cols.push(("completed_at", m.completed_at.into()));
        }
        Step::Running | Step::Renewed | Step::Requeued | Step::Unchanged => {}
    }
    cols
}

/// The lease `j` was read with, for the compare-and-set: status, holder and attempt name one
/// lease; `lease_until` too when the decision read it (an expiry).
fn guard(j: &Job, t: &Transition) -> Vec<(&'static str, Val)> {
    let mut cols: Vec<(&'static str, Val)> = vec![
        ("id", j.id.clone().into()),
        ("status", j.status.as_str().into()),
        ("attempts", j.attempts.into()),
        ("provider_id", j.provider_id.clone().into()),
    ];
    if t.depends_on_lease_until() {
        cols.push(("lease_until", j.lease_until.into()));
    }
    cols
}

/// `UPDATE jobs SET … WHERE …` with its parameters; a NULL in the guard is matched with
/// `IS NULL` (`=` never matches it), which both dialects read the same.
fn cas_update(set: &[(&str, Val)], guard: &[(&str, Val)]) -> (String, Vec<Val>) {
    let mut params = Vec::new();
    let mut bind = |v: &Val| {
        params.push(v.clone());
        format!("${}", params.len())
    };
    let set: Vec<String> = set
        .iter()
        .map(|(c, v)| format!("{c} = {}", bind(v)))
        .collect();
    let guard: Vec<String> = guard
        .iter()
        .map(|(c, v)| match v {
            Val::I(None) | Val::T(None) => format!("{c} IS NULL"),
            v => format!("{c} = {}", bind(v)),
        })
        .collect();
    let sql = format!(
        "UPDATE jobs SET {} WHERE {}",
        set.join(", "),
        guard.join(" AND ")
    );
    (sql, params)
}

/// Round-robin across clients, keeping each client's jobs oldest first (`jobs` arrive oldest
/// first).
fn fair_order(jobs: &mut Vec<Job>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_take_turns_between_clients_and_quotas_count_pending() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
            .await
            .unwrap();
        let spec = json!({"messages": []});
        let mut t = 1_000;
        // Client A floods first; B's one job comes last.
        for _ in 0..300 {
            t += 1;
            s.create_job(
                Some("m:1"),
                &spec,
                "10.0.0.1",
                3,
                JobStatus::Pending,
                None,
                t,
            )
            .await
            .unwrap();
        }
        let b = s
            .create_job(
                Some("m:1"),
                &spec,
                "10.0.0.2",
                3,
                JobStatus::Pending,
                None,
                t + 1,
            )
            .await
            .unwrap();
        assert_eq!(s.pending_for_client("10.0.0.1").await.unwrap(), 300);
        assert_eq!(s.pending_for_client("10.0.0.2").await.unwrap(), 1);
        let p = s
            .register(
                "ab",
                "provider",
                "provider-fair",
                None,
                None,
                None,
                None,
                None,
                &json!({"served_models": ["m:1"]}),
                t,
            )
            .await
            .unwrap()
            .unwrap();
        let got = s.claim(&p, 2, t + 2, 60_000).await.unwrap();
        let clients: Vec<&str> = got.iter().map(|j| j.client_ip.as_str()).collect();
        assert_eq!(
            clients,
            ["10.0.0.1", "10.0.0.2"],
            "B's job is not behind A's 300"
        );
        assert_eq!(got[1].id, b.id);
        assert_eq!(s.pending_for_client("10.0.0.2").await.unwrap(), 0);
    }

    async fn node(s: &Store, key: &str, now: i64) -> Provider {
        s.register(
            key,
            "provider",
            &format!("provider-{key}"),
            None,
            None,
            None,
            None,
            None,
            &json!({"served_models": ["m:1"]}),
            now,
        )
        .await
        .unwrap()
        .unwrap()
    }

    /// The lease's writes on SQLite (the control-plane tests run them on PostgreSQL too).
    #[tokio::test]
    async fn lease_writes_are_guarded_on_the_row_they_were_decided_from() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
            .await
            .unwrap();
        let (a, b) = (node(&s, "aa", 0).await, node(&s, "bb", 0).await);
        let spec = json!({"messages": []});
        let j = s
            .create_job(Some("m:1"), &spec, "ip", 2, JobStatus::Pending, None, 0)
            .await
            .unwrap();
        let got = s.claim(&a, 5, 1_000, 500).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].status, got[0].attempts, got[0].lease_until),
            (JobStatus::Assigned, 1, Some(1_500))
        );
        assert_eq!(
            s.job(&j.id).await.unwrap().as_ref(),
            Some(&got[0]),
            "as stored"
        );
        assert!(s.claim(&b, 5, 1_001, 500).await.unwrap().is_empty());

        let forbidden = Refused::Forbidden(format!("job '{}' is not leased to this node", j.id));
        let ev = [("token".to_string(), json!({"text": "x"}))];
        assert_eq!(
            s.add_events(&j.id, &b.id, &ev, 1_100, 500).await.unwrap(),
            Err(forbidden.clone())
        );
        let (attempt, stored) = s
            .add_events(&j.id, &a.id, &ev, 1_100, 500)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((attempt, stored.len()), (1, 1));

        // An expiry decided on a read that a heartbeat renewal overtook writes nothing.
        let read = s.job(&j.id).await.unwrap().unwrap();
        assert_eq!(
            (read.status, read.lease_until),
            (JobStatus::Running, Some(1_600))
        );
        s.heartbeat(
            "aa",
            "provider",
            false,
            None,
            None,
            None,
            Some(std::slice::from_ref(&j.id)),
            1_500,
            500,
        )
        .await
        .unwrap();
        let t = lease::handle(&read.lease(), Event::Expire, 1_700, 500).unwrap();
        assert_eq!(t.step, Step::Requeued);
        assert_eq!(
            s.apply(&read, &t, Outcome::default(), 1_700).await.unwrap(),
            None
        );
        assert_eq!(
            s.job(&j.id).await.unwrap().unwrap().lease_until,
            Some(2_000)
        );

        let result = json!({"text": "x"});
        let (done, noop) = s
            .complete(&j.id, &a.id, true, Some(&result), None, 1_800)
            .await
            .unwrap()
            .unwrap();
        assert!(!noop);
        assert_eq!(
            s.job(&j.id).await.unwrap().as_ref(),
            Some(&done),
            "as stored"
        );
        assert_eq!(
            (
                done.status,
                done.lease_until,
                done.completed_at,
                &done.result
            ),
            (JobStatus::Completed, None, Some(1_800), &result)
        );
        for who in [&a.id, &b.id] {
            let again = s
                .complete(&j.id, who, false, None, Some("late"), 1_900)
                .await;
            assert_eq!(again.unwrap().unwrap(), (done.clone(), true));
        }
        assert_eq!(
            s.add_events(&j.id, &a.id, &ev, 2_000, 500).await.unwrap(),
            Err(Refused::Conflict(format!("job '{}' is completed", j.id)))
        );
        assert_eq!(
            s.complete("nope", &a.id, true, None, None, 2_000)
                .await
                .unwrap(),
            Err(Refused::NotFound("no job 'nope'".into()))
        );
    }

    #[tokio::test]
    async fn expiry_requeues_then_fails_and_the_late_node_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("cp.db").to_str().unwrap())
            .await
            .unwrap();
        let a = node(&s, "aa", 0).await;
        let spec = json!({"messages": []});
        let j = s
            .create_job(Some("m:1"), &spec, "ip", 2, JobStatus::Pending, None, 0)
            .await
            .unwrap();
        s.claim(&a, 1, 100, 500).await.unwrap();
        // The node's heartbeat does not list the job: its lease is not renewed.
        s.heartbeat(
            "aa",
            "provider",
            false,
            None,
            None,
            None,
            Some(&[]),
            400,
            500,
        )
        .await
        .unwrap();
        assert!(s.expired(600).await.unwrap().is_empty());
        let gone = s.expired(601).await.unwrap();
        assert_eq!(gone.len(), 1);
        let t = lease::handle(&gone[0].lease(), Event::Expire, 601, 500).unwrap();
        let q = s
            .apply(&gone[0], &t, Outcome::default(), 601)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.job(&j.id).await.unwrap().as_ref(), Some(&q), "as stored");
        assert_eq!(
            (q.status, q.provider_id.as_deref()),
            (JobStatus::Pending, None)
        );
        assert_eq!(
            s.complete(&j.id, &a.id, true, None, None, 700)
                .await
                .unwrap(),
            Err(Refused::Forbidden(format!(
                "job '{}' is not leased to this node",
                j.id
            )))
        );
        // Second and last attempt lost too: failed with the reason.
        s.claim(&a, 1, 800, 500).await.unwrap();
        let gone = s.expired(1_301).await.unwrap();
        let t = lease::handle(&gone[0].lease(), Event::Expire, 1_301, 500).unwrap();
        let why = Outcome {
            result: None,
            error: Some("lost"),
        };
        let f = s.apply(&gone[0], &t, why, 1_301).await.unwrap().unwrap();
        assert_eq!(s.job(&j.id).await.unwrap().as_ref(), Some(&f), "as stored");
        assert_eq!(
            (f.status, f.attempts, f.error.as_deref()),
            (JobStatus::Failed, 2, Some("lost"))
        );
        // Written once: the same decision again finds the row moved.
        assert_eq!(s.apply(&gone[0], &t, why, 1_302).await.unwrap(), None);
    }

    #[test]
    fn guarded_update_matches_nulls_with_is_null() {
        let (sql, params) = cas_update(
            &[("status", "pending".into()), ("provider_id", Val::T(None))],
            &[
                ("id", "j".into()),
                ("provider_id", Val::T(None)),
                ("attempts", 1.into()),
            ],
        );
        assert_eq!(
            sql,
            "UPDATE jobs SET status = $1, provider_id = $2 WHERE id = $3 AND provider_id IS NULL AND attempts = $4"
        );
        assert_eq!(
            params,
            vec!["pending".into(), Val::T(None), "j".into(), 1.into()]
        );
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\u{1b}[31mfailed\u{1b}[0m: x"), "failed: x");
    }
}
