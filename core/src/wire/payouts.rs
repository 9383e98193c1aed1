//! Payout addresses and the payments ledger on the node tier (reference §6.1, tables §6.5):
//! `payouts/set`, `payouts/list`, `payouts/remove` (ours) and `payments/list`. All signed
//! POSTs; answers come wrapped in [`super::Data`].
use super::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/node/payouts/set`: upserts on (provider, coin, address). The first address,
/// or one sent with `default: true`, becomes the default (the old one is demoted).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PayoutSet {
    #[serde(default)]
    pub coin: String,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// `POST /api/v1/node/payouts/remove` (ours): every address of `coin` on `network`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PayoutRemove {
    #[serde(default)]
    pub coin: String,
    #[serde(default)]
    pub network: String,
}

/// `payouts/remove`'s answer: rows deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PayoutRemoved {
    #[serde(default)]
    pub deleted: u64,
}

/// A `provider_payouts` row.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PayoutRow {
    pub id: String,
    pub provider_id: String,
    pub coin: String,
    pub network: String,
    pub address: String,
    pub is_default: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// `payouts/set`'s answer: the row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PayoutSaved {
    #[serde(default)]
    pub row: PayoutRow,
}

/// `{rows: […]}`: the answer of `payouts/list` (default first) and `payments/list` (newest
/// first).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
pub struct Rows<R> {
    #[serde(default = "Vec::new")]
    pub rows: Vec<R>,
}

/// `POST /api/v1/node/payments/list`: the caller's ledger rows as `role`; `limit` 1–100
/// (default 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentsList {
    #[serde(default)]
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A `payment_transactions` row. Amounts are decimal numbers (`amount` in the coin, `null`
/// until a payment fixes it; `amount_usd` from the job's price and tokens).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentRow {
    pub id: String,
    /// `inbound` (client → platform) or `outbound` (platform → provider).
    pub direction: String,
    pub job_id: Option<String>,
    pub provider_id: Option<String>,
    pub client_id: Option<String>,
    pub coin: Option<String>,
    pub network: Option<String>,
    #[serde(deserialize_with = "decimal")]
    pub amount: Option<f64>,
    #[serde(deserialize_with = "decimal")]
    pub amount_usd: Option<f64>,
    pub address: Option<String>,
    pub tx_hash: Option<String>,
    pub invoice_id: Option<String>,
    /// `pending`, `confirmed` or `failed`.
    pub status: String,
    pub provider_gateway: Option<String>,
    pub metadata: Value,
    /// RFC 3339.
    pub created_at: String,
    pub confirmed_at: Option<String>,
}

/// A decimal sent as a number or as a numeric string (PostgreSQL `numeric` through some
/// APIs); `null` or anything else reads as none.
fn decimal<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use std::fmt::Debug;

    fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T, wire: &str) {
        assert_eq!(serde_json::to_string(value).unwrap(), wire);
        assert_eq!(&serde_json::from_str::<T>(wire).unwrap(), value);
    }

    #[test]
    fn payout_requests_as_the_cli_and_the_reference_send_them() {
        let mut set = PayoutSet {
            coin: "ETH".into(),
            network: "ethereum".into(),
            address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
            default: None,
        };
        // The reference's body has no `default`.
        same(
            &set,
            r#"{"coin":"ETH","network":"ethereum","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}"#,
        );
        set.default = Some(true);
        same(
            &set,
            r#"{"coin":"ETH","network":"ethereum","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","default":true}"#,
        );
        same(
            &PayoutRemove {
                coin: "BTC".into(),
                network: "bitcoin".into(),
            },
            r#"{"coin":"BTC","network":"bitcoin"}"#,
        );
        same(&PayoutRemoved { deleted: 2 }, r#"{"deleted":2}"#);
        // Missing fields read as empty (the server then refuses them by name).
        assert_eq!(
            serde_json::from_str::<PayoutSet>("{}").unwrap(),
            PayoutSet::default()
        );
    }

    #[test]
    fn payout_rows() {
        let row = PayoutRow {
            id: "p1".into(),
            provider_id: "prov".into(),
            coin: "BTC".into(),
            network: "bitcoin".into(),
            address: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into(),
            is_default: true,
            created_at: "2026-01-01T00:00:00.000Z".into(),
        };
        same(
            &PayoutSaved { row: row.clone() },
            r#"{"row":{"id":"p1","provider_id":"prov","coin":"BTC","network":"bitcoin","address":"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa","is_default":true,"created_at":"2026-01-01T00:00:00.000Z"}}"#,
        );
        // The reference's row (a uuid id, more columns) reads too.
        let theirs: Rows<PayoutRow> = serde_json::from_str(
            r#"{"rows":[{"id":"0b6c","provider_id":"prov","coin":"BTC","network":"bitcoin","address":"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa","is_default":true,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(theirs.rows[0].address, row.address);
        assert_eq!(
            serde_json::from_str::<Rows<PayoutRow>>("{}").unwrap().rows,
            vec![]
        );
    }

    #[test]
    fn payments_list_and_rows() {
        same(&PaymentsList::default(), r#"{"role":"provider"}"#);
        same(
            &PaymentsList {
                role: Role::Client,
                limit: Some(5),
            },
            r#"{"role":"client","limit":5}"#,
        );
        let row = PaymentRow {
            id: "t1".into(),
            direction: "outbound".into(),
            job_id: Some("j1".into()),
            provider_id: Some("prov".into()),
            client_id: Some("127.0.0.1".into()),
            coin: Some("ETH".into()),
            network: Some("ethereum".into()),
            amount: None,
            amount_usd: Some(0.0037),
            address: Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into()),
            tx_hash: None,
            invoice_id: None,
            status: "pending".into(),
            provider_gateway: None,
            metadata: serde_json::json!({"tokens": 37}),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            confirmed_at: None,
        };
        same(
            &Rows { rows: vec![row] },
            r#"{"rows":[{"id":"t1","direction":"outbound","job_id":"j1","provider_id":"prov","client_id":"127.0.0.1","coin":"ETH","network":"ethereum","amount":null,"amount_usd":0.0037,"address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","tx_hash":null,"invoice_id":null,"status":"pending","provider_gateway":null,"metadata":{"tokens":37},"created_at":"2026-01-01T00:00:00.000Z","confirmed_at":null}]}"#,
        );
        // The reference's ledger row (pending-payout address, numeric amounts).
        let theirs: PaymentRow = serde_json::from_str(
            r#"{"id":"u","direction":"outbound","job_id":"j","provider_id":"p","amount":"0.5","amount_usd":1.25,"address":"pending-payout","status":"pending","metadata":null,"created_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!((theirs.amount, theirs.amount_usd), (Some(0.5), Some(1.25)));
        assert_eq!(theirs.address.as_deref(), Some("pending-payout"));
    }
}
