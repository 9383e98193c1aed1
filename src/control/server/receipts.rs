//! Receipts for finished jobs (reference §8.2, signed here): built when a node completes a
//! job, stored once per job, served at `/api/v1/receipts/:id`, with the key in
//! `/.well-known/did.json`.
use super::store::Job;
use super::{ApiError, AppState, Secret};
use crate::control::receipt::{self, ReceiptError, ReceiptKey};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use infernet_core::wire::jobs::ChatResult;
use infernet_core::wire::receipt::Receipt;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug)]
pub(crate) struct Signer {
    key: ReceiptKey,
    did: String,
}

impl Signer {
    pub(crate) fn new(key: Option<&Secret>, public_url: &str) -> Result<Self, ReceiptError> {
        let key = match key {
            Some(k) => ReceiptKey::from_secret(k.expose())?,
            None => {
                tracing::warn!(
                    "receipts are signed with a key that lives only as long as this process; `infernet control-plane serve` keeps one in the secret store"
                );
                ReceiptKey::generate().0
            }
        };
        let did = receipt::did_web(public_url);
        tracing::info!(did = %did, key = %key.public_hex(), "receipts are signed");
        Ok(Self { key, did })
    }

    fn method(&self) -> String {
        format!("{}#receipts", self.did)
    }
}

/// Builds, signs and stores the receipt of a job that just finished (once per job).
/// `amount`: the job's price in USD, as the ledger recorded it.
pub(super) async fn issue(st: &AppState, j: &Job, node_pubkey: &str, amount: &str, now: i64) {
    let text = ChatResult::deserialize(&j.result)
        .ok()
        .and_then(|r| r.text)
        .unwrap_or_default();
    let s = &st.receipts;
    let mut r = Receipt {
        receipt_id: uuid::Uuid::new_v4().to_string(),
        task_id: j.id.clone(),
        agent_did: format!("did:nostr:{node_pubkey}"),
        buyer_did: format!("{}:anon:{}", s.did, j.id),
        platform_did: s.did.clone(),
        category: "inference:chat".into(),
        amount: amount.into(),
        currency: "USD".into(),
        escrow_tx: None,
        sla: None,
        outcome: if j.status == super::store::JobStatus::Completed {
            "accepted"
        } else {
            "rejected"
        }
        .into(),
        dispute: false,
        artifact_hash: receipt::artifact_hash(&text),
        created_at: crate::backend::rfc3339_ms(now),
        proof: None,
    };
    let stored = async {
        s.key.sign(&mut r, &s.method()).map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&r).map_err(|e| e.to_string())?;
        st.store
            .add_receipt(&r.receipt_id, &j.id, &body, now)
            .await
            .map_err(|e| e.to_string())
    };
    match stored.await {
        Ok(true) => tracing::info!(job = %j.id, receipt = %r.receipt_id, "receipt issued"),
        Ok(false) => {}
        // The job's result stands; a missing receipt is logged, and the job is not failed.
        Err(e) => tracing::error!(job = %j.id, error = %e, "could not issue the job's receipt"),
    }
}

pub(super) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.store
        .receipt(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no receipt for '{id}'")))
}

pub(super) async fn did(State(st): State<AppState>) -> Json<Value> {
    let s = &st.receipts;
    Json(receipt::did_document(&s.did, &s.key.public_hex()))
}
