//! Payout addresses (`provider_payouts`) and the payments ledger (`payment_transactions`).
use super::*;
use infernet_core::wire::payouts::{PaymentRow, PayoutRow};

const PAYOUT_COLS: &str = "id, provider_id, coin, network, address, is_default, created_at";
const PAYMENT_COLS: &str = "id, direction, job_id, provider_id, client_id, coin, network, amount, amount_usd, address, tx_hash, invoice_id, status, provider_gateway, metadata, created_at, confirmed_at";

fn payout(r: &Row) -> PayoutRow {
    PayoutRow {
        id: t(r, 0).unwrap_or_default(),
        provider_id: t(r, 1).unwrap_or_default(),
        coin: t(r, 2).unwrap_or_default(),
        network: t(r, 3).unwrap_or_default(),
        address: t(r, 4).unwrap_or_default(),
        is_default: n(r, 5) == Some(1),
        created_at: rfc3339_ms(n(r, 6).unwrap_or(0)),
    }
}

fn payment(r: &Row) -> PaymentRow {
    let decimal = |i| t(r, i).and_then(|s| s.parse::<f64>().ok());
    PaymentRow {
        id: t(r, 0).unwrap_or_default(),
        direction: t(r, 1).unwrap_or_default(),
        job_id: t(r, 2),
        provider_id: t(r, 3),
        client_id: t(r, 4),
        coin: t(r, 5),
        network: t(r, 6),
        amount: decimal(7),
        amount_usd: decimal(8),
        address: t(r, 9),
        tx_hash: t(r, 10),
        invoice_id: t(r, 11),
        status: t(r, 12).unwrap_or_default(),
        provider_gateway: t(r, 13),
        metadata: js(r, 14),
        created_at: rfc3339_ms(n(r, 15).unwrap_or(0)),
        confirmed_at: n(r, 16).map(rfc3339_ms),
    }
}

/// An outbound ledger row for a completed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound<'a> {
    pub job: &'a Job,
    pub provider_id: &'a str,
    pub amount_usd: &'a str,
    pub metadata: &'a Value,
    /// The provider's default payout, when it set one.
    pub payout: Option<&'a PayoutRow>,
}

impl Store {
    /// The provider's addresses, the default first, then newest first.
    pub async fn payouts(&self, provider_id: &str) -> Result<Vec<PayoutRow>, DbError> {
        let sql = format!(
            "SELECT {PAYOUT_COLS} FROM provider_payouts WHERE provider_id = $1 ORDER BY is_default DESC, created_at DESC, id"
        );
        Ok(self
            .db
            .query(&sql, &[provider_id.into()])
            .await?
            .iter()
            .map(payout)
            .collect())
    }

    /// Upserts on (provider, coin, address). It becomes the default when asked to, when the
    /// provider has none, or when it already was; the old default is then demoted.
    pub async fn set_payout(
        &self,
        provider_id: &str,
        coin: &str,
        network: &str,
        address: &str,
        make_default: bool,
        now: i64,
    ) -> Result<Option<PayoutRow>, DbError> {
        let current = self.payouts(provider_id).await?;
        let old_default = current.iter().find(|p| p.is_default);
        let is_default =
            make_default || old_default.is_none_or(|d| d.coin == coin && d.address == address);
        if is_default {
            self.db
                .exec(
                    "UPDATE provider_payouts SET is_default = 0 WHERE provider_id = $1 AND NOT (coin = $2 AND address = $3)",
                    &[provider_id.into(), coin.into(), address.into()],
                )
                .await?;
        }
        self.db
            .exec(
                "INSERT INTO provider_payouts (id, provider_id, coin, network, address, is_default, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (provider_id, coin, address) DO UPDATE SET network = excluded.network,
                   is_default = excluded.is_default",
                &[
                    uuid::Uuid::new_v4().to_string().into(),
                    provider_id.into(),
                    coin.into(),
                    network.into(),
                    address.into(),
                    i64::from(is_default).into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(self
            .payouts(provider_id)
            .await?
            .into_iter()
            .find(|p| p.coin == coin && p.address == address))
    }

    /// Deletes the provider's addresses of `coin` on `network`; when the default went, the
    /// newest remaining address becomes the default. The number deleted.
    pub async fn remove_payout(
        &self,
        provider_id: &str,
        coin: &str,
        network: &str,
    ) -> Result<u64, DbError> {
        let deleted = self
            .db
            .exec(
                "DELETE FROM provider_payouts WHERE provider_id = $1 AND coin = $2 AND network = $3",
                &[provider_id.into(), coin.into(), network.into()],
            )
            .await?;
        let rest = self.payouts(provider_id).await?;
        if deleted > 0
            && !rest.iter().any(|p| p.is_default)
            && let Some(newest) = rest.iter().max_by_key(|p| (&p.created_at, &p.id))
        {
            self.db
                .exec(
                    "UPDATE provider_payouts SET is_default = 1 WHERE id = $1",
                    &[newest.id.clone().into()],
                )
                .await?;
        }
        Ok(deleted)
    }

    /// Ledger rows of a provider (`provider_id`) or a client (`client_id`), newest first.
    pub async fn payments(
        &self,
        column: LedgerParty,
        id: &str,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, DbError> {
        let col = match column {
            LedgerParty::Provider => "provider_id",
            LedgerParty::Client => "client_id",
        };
        let sql = format!(
            "SELECT {PAYMENT_COLS} FROM payment_transactions WHERE {col} = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        Ok(self
            .db
            .query(&sql, &[id.into(), limit.into()])
            .await?
            .iter()
            .map(payment)
            .collect())
    }

    /// Writes the outbound row of a completed job, once: a second call for the same job adds
    /// nothing (unique on job and direction). True when a row was written.
    pub async fn record_outbound(&self, o: Outbound<'_>, now: i64) -> Result<bool, DbError> {
        let n = self
            .db
            .exec(
                "INSERT INTO payment_transactions (id, direction, job_id, provider_id, client_id, coin, network, amount, amount_usd, address, status, metadata, created_at)
                 VALUES ($1, 'outbound', $2, $3, $4, $5, $6, NULL, $7, $8, 'pending', $9, $10)
                 ON CONFLICT (job_id, direction) DO NOTHING",
                &[
                    uuid::Uuid::new_v4().to_string().into(),
                    o.job.id.clone().into(),
                    o.provider_id.into(),
                    (!o.job.client_ip.is_empty())
                        .then(|| o.job.client_ip.clone())
                        .into(),
                    o.payout.map(|p| p.coin.clone()).into(),
                    o.payout.map(|p| p.network.clone()).into(),
                    o.amount_usd.into(),
                    o.payout.map(|p| p.address.clone()).into(),
                    o.metadata.to_string().into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Token events a job's attempt streamed (the count when the node reported no usage).
    pub async fn token_events(&self, j: &Job) -> Result<i64, DbError> {
        Ok(self
            .db
            .query_one(
                "SELECT COUNT(*) FROM job_events WHERE job_id = $1 AND attempt = $2 AND event_type = 'token'",
                &[j.id.clone().into(), j.attempts.into()],
            )
            .await?
            .and_then(|r| n(&r, 0))
            .unwrap_or(0))
    }
}

/// Whose ledger rows: the provider's (paid to it) or the client's (paid by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerParty {
    Provider,
    Client,
}
