//! The operator's client keys: `POST /api/v1/user/keys` (create: the key is in this answer
//! only), `GET /api/v1/user/keys` (with usage), `DELETE /api/v1/user/keys/{id}` (revoke).
use super::public::admin;
use super::store::now_ms;
use super::{ApiError, AppState, read_body};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use infernet_core::wire::keys::{KEY_PREFIX, KeyCreate, KeyCreated, KeyRow};
use infernet_core::wire::{Data, clean_text};

/// A new key's secret: our prefix and 32 random bytes in hex.
fn new_secret() -> String {
    format!(
        "{KEY_PREFIX}{}",
        alloy::hex::encode(rand::random::<[u8; 32]>())
    )
}

pub(super) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Data<KeyCreated>>), ApiError> {
    admin(&st, &headers)?;
    let b: KeyCreate = read_body(&body)?;
    let name = b
        .name
        .as_deref()
        .map(|n| clean_text(n, 80))
        .filter(|n| !n.is_empty());
    let per_hour = b.per_hour.unwrap_or(st.opts.key_per_hour);
    let id = format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let secret = new_secret();
    let row = st
        .store
        .create_key(&id, name.as_deref(), &secret, per_hour, now_ms())
        .await?;
    tracing::info!(key = %row.id, prefix = %row.prefix, per_hour, "client key created");
    Ok((
        StatusCode::CREATED,
        Json(Data {
            data: KeyCreated { key: secret, row },
        }),
    ))
}

pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Data<Vec<KeyRow>>>, ApiError> {
    admin(&st, &headers)?;
    Ok(Json(Data {
        data: st.store.keys().await?,
    }))
}

pub(super) async fn revoke(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Data<KeyRow>>, ApiError> {
    admin(&st, &headers)?;
    let row = st
        .store
        .revoke_key(&id, now_ms())
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no key '{id}'")))?;
    tracing::info!(key = %row.id, "client key revoked");
    Ok(Json(Data { data: row }))
}
