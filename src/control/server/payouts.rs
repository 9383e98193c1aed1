//! The node tier's payout addresses and payments ledger (reference §6.1): `payouts/set`,
//! `payouts/list`, `payouts/remove` (ours) and `payments/list`; and the outbound ledger row
//! a completed job earns. No payment gateway is called: rows stay `pending`.
use super::node::{Signed, me_row};
use super::store::{Job, LedgerParty, Outbound, Provider, now_ms};
use super::{ApiError, AppState, bad};
use crate::payout::{self, price};
use axum::Json;
use axum::extract::State;
use infernet_core::wire::events::DoneData;
use infernet_core::wire::payouts::{
    PaymentRow, PaymentsList, PayoutRemove, PayoutRemoved, PayoutRow, PayoutSaved, PayoutSet, Rows,
};
use infernet_core::wire::{Data, Role};
use serde::Deserialize;
use serde_json::Value;

type Reply<T> = Result<Json<Data<T>>, ApiError>;

fn data<T>(data: T) -> Reply<T> {
    Ok(Json(Data { data }))
}

pub(super) async fn set(State(st): State<AppState>, s: Signed<PayoutSet>) -> Reply<PayoutSaved> {
    let p = me_row(&st, &s.key).await?;
    let b = s.body;
    // The same checks as the CLI's: a direct call cannot store a malformed address.
    let checked = payout::check(&b.coin, &b.network, &b.address).map_err(|e| bad(e.to_string()))?;
    let row = st
        .store
        .set_payout(
            &p.id,
            &checked.coin,
            &checked.network,
            &checked.address,
            b.default == Some(true),
            now_ms(),
        )
        .await?
        .ok_or_else(|| bad("the payout address did not persist"))?;
    tracing::info!(node = %p.node_id, coin = %row.coin, network = %row.network, default = row.is_default, "payout address set");
    data(PayoutSaved { row })
}

pub(super) async fn list(State(st): State<AppState>, s: Signed<Value>) -> Reply<Rows<PayoutRow>> {
    let p = me_row(&st, &s.key).await?;
    data(Rows {
        rows: st.store.payouts(&p.id).await?,
    })
}

pub(super) async fn remove(
    State(st): State<AppState>,
    s: Signed<PayoutRemove>,
) -> Reply<PayoutRemoved> {
    let p = me_row(&st, &s.key).await?;
    let coin = s.body.coin.trim().to_ascii_uppercase();
    let network = s.body.network.trim().to_ascii_lowercase();
    if coin.is_empty() || network.is_empty() {
        return Err(bad("coin and network are required"));
    }
    let deleted = st.store.remove_payout(&p.id, &coin, &network).await?;
    data(PayoutRemoved { deleted })
}

pub(super) async fn payments(
    State(st): State<AppState>,
    s: Signed<PaymentsList>,
) -> Reply<Rows<PaymentRow>> {
    let limit = s.body.limit.unwrap_or(20).clamp(1, 100);
    let party = match s.body.role {
        Role::Provider => LedgerParty::Provider,
        Role::Client => LedgerParty::Client,
        // Aggregators are neither paid nor pay (reference: empty).
        Role::Aggregator => return data(Rows { rows: Vec::new() }),
    };
    let Some(me) = st
        .store
        .provider_by_key(&s.key, s.body.role.as_str())
        .await?
    else {
        return data(Rows { rows: Vec::new() });
    };
    data(Rows {
        rows: st.store.payments(party, &me.id, limit).await?,
    })
}

/// The outbound row of a job `p` completed: priced from the price `p` registered with and
/// the tokens of the job's `done` usage (else its token events), paid to `p`'s default
/// payout address (none set: no address). Written once per job.
pub(super) async fn record_completed(
    st: &AppState,
    j: &Job,
    p: &Provider,
    done: Option<&Value>,
    now: i64,
) -> Result<String, ApiError> {
    let usage = done
        .and_then(|d| DoneData::deserialize(d).ok())
        .and_then(|d| d.usage.flatten());
    let tokens = match usage {
        Some(u) => price::Tokens::Usage {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
        },
        None => {
            price::Tokens::Streamed(u64::try_from(st.store.token_events(j).await?).unwrap_or(0))
        }
    };
    let priced = price::price_job(p.price.as_deref(), tokens);
    let payouts = st.store.payouts(&p.id).await?;
    let default = payouts.iter().find(|r| r.is_default);
    let written = st
        .store
        .record_outbound(
            Outbound {
                job: j,
                provider_id: &p.id,
                amount_usd: &priced.amount_usd,
                metadata: &priced.metadata,
                payout: default,
            },
            now,
        )
        .await?;
    // A key's usage grows with the ledger row, once per job.
    if written && let Some(key) = super::clients::key_of(&j.client_ip) {
        st.store.key_tokens(key, tokens.count()).await?;
    }
    if written {
        tracing::info!(job = %j.id, node = %p.node_id, amount_usd = %priced.amount_usd, "ledger: outbound payment pending");
    }
    Ok(priced.amount_usd)
}
