//! Job lease transitions: decided by `infernet_core::lease`, written guarded on the row they
//! were decided from (compare-and-set), retried on a lost race.
use super::*;

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
            Refusal::Superseded { current } => Self::Conflict(format!(
                "job '{}' was leased again (it is at attempt {current}): this report is for an earlier attempt whose lease ran out",
                j.id
            )),
            _ => Self::Conflict(format!("job '{}' is {}", j.id, j.status)),
        }
    }
}

/// The node a report comes from, and the attempt it says the report is for (ours name it;
/// the reference's nodes do not, and are taken as the current holder).
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub provider: &'a str,
    pub attempt: Option<i64>,
}

impl<'a> Holder<'a> {
    /// A report that names no attempt.
    pub fn any(provider: &'a str) -> Self {
        Self {
            provider,
            attempt: None,
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
pub(super) const RACE_RETRIES: usize = 4;

/// The columns `step` writes, from the row after it.
pub(super) fn written(step: Step, m: &Job) -> Vec<(&'static str, Val)> {
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
pub(super) fn guard(j: &Job, t: &Transition) -> Vec<(&'static str, Val)> {
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
pub(super) fn cas_update(set: &[(&str, Val)], guard: &[(&str, Val)]) -> (String, Vec<Val>) {
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

impl Store {
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
    pub(super) async fn transition(
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

    /// Completes a job the node holds. Idempotent: a retry, or a node whose lease was lost
    /// after the job ended, gets `noop` (true) and changes nothing.
    pub async fn complete(
        &self,
        job_id: &str,
        by: Holder<'_>,
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
            node: by.provider,
            ok,
            attempt: by.attempt,
        };
        Ok(self
            .transition(job_id, done, out, now, 0)
            .await?
            .map(|(j, step)| (j, step == Step::Unchanged)))
    }
}
