//! On-chain state that must survive `kill -9`: the sync cursor, tracked subscriptions, the
//! delivery ledger keyed by (subscription, interval) and the signed transactions behind it.
use super::{Error, SqliteStore};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::clock::now_s as now;

/// Where a delivery stands. `Sent` has a signed transaction in `chain_txs` awaiting its receipt.
pub use infernet_core::chain::DeliveryState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub sub_id: u32,
    pub interval: u32,
    pub state: DeliveryState,
    pub attempts: u32,
    pub reason: Option<String>,
    pub tx_hash: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    pub hash: String,
    pub sub_id: u32,
    pub interval: u32,
    pub nonce: u64,
    pub raw: Vec<u8>,
    pub sent_block: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedRow {
    pub id: u32,
    pub body: String,
    pub containers: Vec<String>,
    pub status: String,
    pub reason: Option<String>,
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    let state: String = r.get(2)?;
    Ok(DeliveryRecord {
        sub_id: r.get(0)?,
        interval: r.get(1)?,
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Retrying),
        attempts: r.get(3)?,
        reason: r.get(4)?,
        tx_hash: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// The ledger of one (deployment, node).
#[derive(Debug, Clone)]
pub struct ChainLedger {
    store: SqliteStore,
    deployment: String,
    node: String,
}

impl ChainLedger {
    pub fn new(store: SqliteStore, deployment: String, node: String) -> Self {
        Self {
            store,
            deployment,
            node,
        }
    }

    pub async fn cursor(&self) -> Result<Option<(u32, u64)>, Error> {
        let d = self.deployment.clone();
        self.store
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT last_sub_id, last_block FROM chain_cursor WHERE deployment = ?1",
                    params![d],
                    |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as u64)),
                )
                .optional()?)
            })
            .await
    }

    pub async fn set_cursor(&self, last_sub_id: u32, last_block: u64) -> Result<(), Error> {
        let d = self.deployment.clone();
        self.store
            .write(move |c| {
                c.execute(
                    "INSERT INTO chain_cursor(deployment, last_sub_id, last_block) VALUES (?1, ?2, ?3)
                     ON CONFLICT(deployment) DO UPDATE SET last_sub_id = ?2, last_block = ?3",
                    params![d, last_sub_id, last_block as i64],
                )?;
                Ok(())
            })
            .await
    }

    /// Stores (or updates) subscriptions with their status ('tracked', 'ignored', 'done', …).
    pub async fn put_subscriptions(&self, rows: Vec<TrackedRow>) -> Result<(), Error> {
        let d = self.deployment.clone();
        self.store
            .write(move |c| {
                let mut st = c.prepare_cached(
                    "INSERT INTO chain_subscriptions(deployment, id, body, containers, status, reason, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(deployment, id) DO UPDATE SET body = ?3, containers = ?4, status = ?5,
                        reason = ?6, updated_at = ?7",
                )?;
                let t = now();
                for r in rows {
                    st.execute(params![
                        d,
                        r.id,
                        r.body,
                        serde_json::to_string(&r.containers)?,
                        r.status,
                        r.reason,
                        t
                    ])?;
                }
                Ok(())
            })
            .await
    }

    pub async fn set_subscription_status(
        &self,
        id: u32,
        status: &str,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let d = self.deployment.clone();
        let status = status.to_string();
        self.store
            .write(move |c| {
                c.execute(
                    "UPDATE chain_subscriptions SET status = ?3, reason = ?4, updated_at = ?5
                     WHERE deployment = ?1 AND id = ?2",
                    params![d, id, status, reason, now()],
                )?;
                Ok(())
            })
            .await
    }

    pub async fn subscriptions_with_status(&self, status: &str) -> Result<Vec<TrackedRow>, Error> {
        let d = self.deployment.clone();
        let status = status.to_string();
        self.store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT id, body, containers, status, reason FROM chain_subscriptions
                     WHERE deployment = ?1 AND status = ?2 ORDER BY id",
                )?;
                let rows = st.query_map(params![d, status], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, body, containers, status, reason) = row?;
                    out.push(TrackedRow {
                        id,
                        body,
                        containers: serde_json::from_str(&containers)?,
                        status,
                        reason,
                    });
                }
                Ok(out)
            })
            .await
    }

    pub async fn delivery(
        &self,
        sub_id: u32,
        interval: u32,
    ) -> Result<Option<DeliveryRecord>, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT sub_id, interval, state, attempts, reason, tx_hash, updated_at FROM deliveries
                     WHERE deployment = ?1 AND node = ?2 AND sub_id = ?3 AND interval = ?4",
                    params![d, n, sub_id, interval],
                    delivery_row,
                )
                .optional()?)
            })
            .await
    }

    /// Sets the state of (sub, interval); `bump` counts a failed attempt.
    pub async fn set_delivery(
        &self,
        sub_id: u32,
        interval: u32,
        state: DeliveryState,
        reason: Option<String>,
        bump: bool,
    ) -> Result<u32, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .write(move |c| {
                c.execute(
                    "INSERT INTO deliveries(deployment, node, sub_id, interval, state, attempts, reason, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(deployment, node, sub_id, interval) DO UPDATE SET state = ?5,
                        attempts = attempts + ?6, reason = ?7, updated_at = ?8",
                    params![d, n, sub_id, interval, state.as_str(), bump as i64, reason, now()],
                )?;
                Ok(c.query_row(
                    "SELECT attempts FROM deliveries WHERE deployment = ?1 AND node = ?2 AND sub_id = ?3 AND interval = ?4",
                    params![d, n, sub_id, interval],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    /// Records a signed transaction before it is broadcast (so a crash right after sending
    /// still knows about it) and marks the delivery `sent`.
    pub async fn record_tx(&self, tx: TxRecord) -> Result<(), Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .write(move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO chain_txs(hash, deployment, node, sub_id, interval, nonce, raw, state, sent_block, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)",
                    params![tx.hash, d, n, tx.sub_id, tx.interval, tx.nonce as i64, tx.raw, tx.sent_block as i64, now()],
                )?;
                c.execute(
                    "INSERT INTO deliveries(deployment, node, sub_id, interval, state, attempts, tx_hash, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'sent', 0, ?5, ?6)
                     ON CONFLICT(deployment, node, sub_id, interval) DO UPDATE SET state = 'sent', tx_hash = ?5,
                        reason = NULL, updated_at = ?6",
                    params![d, n, tx.sub_id, tx.interval, tx.hash, now()],
                )?;
                Ok(())
            })
            .await
    }

    /// Marks every pending transaction of (sub, interval) with a final state.
    pub async fn close_txs(&self, sub_id: u32, interval: u32, state: &str) -> Result<(), Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        let state = state.to_string();
        self.store
            .write(move |c| {
                c.execute(
                    "UPDATE chain_txs SET state = ?5 WHERE deployment = ?1 AND node = ?2 AND sub_id = ?3
                     AND interval = ?4 AND state = 'pending'",
                    params![d, n, sub_id, interval, state],
                )?;
                Ok(())
            })
            .await
    }

    /// Transactions still waiting for a receipt, oldest nonce first.
    pub async fn pending_txs(&self) -> Result<Vec<TxRecord>, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT hash, sub_id, interval, nonce, raw, sent_block FROM chain_txs
                     WHERE deployment = ?1 AND node = ?2 AND state = 'pending' ORDER BY nonce, created_at",
                )?;
                let rows = st.query_map(params![d, n], |r| {
                    Ok(TxRecord {
                        hash: r.get(0)?,
                        sub_id: r.get(1)?,
                        interval: r.get(2)?,
                        nonce: r.get::<_, i64>(3)? as u64,
                        raw: r.get(4)?,
                        sent_block: r.get::<_, i64>(5)? as u64,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    /// Deliveries not final yet (to resume after a restart).
    pub async fn open_deliveries(&self) -> Result<Vec<DeliveryRecord>, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT sub_id, interval, state, attempts, reason, tx_hash, updated_at FROM deliveries
                     WHERE deployment = ?1 AND node = ?2 AND state IN ('running','retrying','sent')",
                )?;
                let rows = st.query_map(params![d, n], delivery_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    /// The newest `limit` subscriptions of any status (newest id first), each with its latest
    /// interval's delivery record: what `/info` lists after a restart.
    pub async fn recent_subscriptions(
        &self,
        limit: u32,
    ) -> Result<Vec<(TrackedRow, Option<DeliveryRecord>)>, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .read(move |c| {
                let mut subs = c.prepare(
                    "SELECT id, body, containers, status, reason FROM chain_subscriptions
                     WHERE deployment = ?1 ORDER BY id DESC LIMIT ?2",
                )?;
                let mut last = c.prepare(
                    "SELECT sub_id, interval, state, attempts, reason, tx_hash, updated_at FROM deliveries
                     WHERE deployment = ?1 AND node = ?2 AND sub_id = ?3 ORDER BY interval DESC LIMIT 1",
                )?;
                let rows = subs.query_map(params![d, limit], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, body, containers, status, reason) = row?;
                    let delivery = last
                        .query_row(params![d, n, id], delivery_row)
                        .optional()?;
                    let row = TrackedRow {
                        id,
                        body,
                        containers: serde_json::from_str(&containers)?,
                        status,
                        reason,
                    };
                    out.push((row, delivery));
                }
                Ok(out)
            })
            .await
    }

    /// The most recently changed deliveries, newest first.
    pub async fn recent_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, Error> {
        let (d, n) = (self.deployment.clone(), self.node.clone());
        self.store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT sub_id, interval, state, attempts, reason, tx_hash, updated_at FROM deliveries
                     WHERE deployment = ?1 AND node = ?2 ORDER BY updated_at DESC, sub_id DESC LIMIT ?3",
                )?;
                let rows = st.query_map(params![d, n, limit], delivery_row)?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }
}
