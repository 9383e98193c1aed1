//! Every query the control plane makes, written once for SQLite and PostgreSQL.
//! The job queue's lifecycle is decided by `infernet_core::lease`; the store reads a job, asks
//! it, and writes the transition guarded on the row it read.

mod admissions;
mod commands;
mod delivered;
mod jobs;
mod keys;
mod payments;
mod providers;
mod receipts;
mod stats;
mod transitions;
mod users;

use crate::backend::rfc3339_ms;
pub use crate::clock::now_ms;
use crate::control::db::{Db, DbError, Row, Val};
use crate::control::specs;
pub use infernet_core::lease::JobStatus;
use infernet_core::lease::{self, Event, Lease, Refusal, Step, Transition};
use serde_json::{Value, json};

use jobs::*;
use providers::*;

pub use commands::strip_ansi;
pub use jobs::{Job, StoredEvent};
pub use keys::{KeyLookup, secret_hash};
pub use payments::{LedgerParty, Outbound};
pub use providers::Provider;
pub use stats::JobGroup;
pub use transitions::{Holder, Outcome, Refused};
pub use users::LinkRefused;

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

#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
}

impl Store {
    pub async fn open(target: &str) -> Result<Self, DbError> {
        let db = Db::open(target).await?;
        super::schema::migrate(&db).await?;
        Ok(Self { db })
    }

    /// Providers matching `cond` (SQL after WHERE).
    pub(super) async fn providers_where(
        &self,
        cond: &str,
        params: &[Val],
    ) -> Result<Vec<Provider>, DbError> {
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
    pub(super) async fn jobs_where(&self, cond: &str, params: &[Val]) -> Result<Vec<Job>, DbError> {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE {cond}");
        Ok(self.db.query(&sql, params).await?.iter().map(job).collect())
    }

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

    pub async fn prune_nonces(&self, before: i64) -> Result<u64, DbError> {
        self.db
            .exec("DELETE FROM nonces WHERE seen_at < $1", &[before.into()])
            .await
    }
}

#[cfg(test)]
mod tests;
