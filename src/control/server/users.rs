//! The user tier without passwords (reference §5.3, and §12.2's "pubkey-only" option): an
//! operator proves they hold a node key by signing `POST /api/v1/user/pubkey/link`; the first
//! link makes an account and answers its bearer token once; later links send that token.
//! The account then manages its nodes (`/api/v1/user/nodes/<pubkey>/commands`) and opens
//! the dashboard without the control plane's admin token.
use super::node::Signed;
use super::store::{LinkRefused, now_ms};
use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use infernet_core::wire::Data;
use infernet_core::wire::keys::{LinkBody, LinkRow};

/// What every account token starts with.
pub const TOKEN_PREFIX: &str = "ifu_";

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The account a request's bearer names: `None` without one, 401 for a token we never issued.
pub(super) async fn account(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(token) = bearer(headers).filter(|t| t.starts_with(TOKEN_PREFIX)) else {
        return Ok(None);
    };
    match st.store.user_by_token(token).await? {
        Some(u) => Ok(Some(u)),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "unknown account token".into(),
        )),
    }
}

pub(super) async fn link(
    State(st): State<AppState>,
    headers: HeaderMap,
    Signed { key, body }: Signed<LinkBody>,
) -> Result<Json<Data<LinkRow>>, ApiError> {
    let (role, label) = body.check()?;
    let now = now_ms();
    let (user, token) = match account(&st, &headers).await? {
        Some(u) => (u, None),
        None => {
            if st.store.link_of(&key, &role).await?.is_some() {
                return Err(ApiError(
                    StatusCode::CONFLICT,
                    format!(
                        "node key {key} ({role}) is already linked to an account: send that account's token (infernet pubkey link reads it from the secret store)"
                    ),
                ));
            }
            let user = format!("usr_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
            let token = format!(
                "{TOKEN_PREFIX}{}",
                alloy::hex::encode(rand::random::<[u8; 32]>())
            );
            st.store.create_user(&user, &token, now).await?;
            tracing::info!(user = %user, "account created by a pubkey link");
            (user, Some(token))
        }
    };
    match st
        .store
        .link(&user, &key, &role, label.as_deref(), now)
        .await?
    {
        Ok(row) => {
            tracing::info!(user = %user, pubkey = %key, role = %role, created = row.created, "pubkey linked");
            Ok(Json(Data {
                data: LinkRow { token, ..row },
            }))
        }
        Err(LinkRefused::Taken) => Err(ApiError(
            StatusCode::CONFLICT,
            format!("node key {key} ({role}) is linked to another account"),
        )),
    }
}

/// The admin token, or an account that holds `pubkey`.
pub(super) async fn admin_or_owner(
    st: &AppState,
    headers: &HeaderMap,
    pubkey: &str,
) -> Result<(), ApiError> {
    let pubkey = super::admission::normalise(pubkey);
    let pubkey = pubkey.as_str();
    if let Some(user) = account(st, headers).await? {
        if st.store.owner_of(pubkey).await?.as_deref() == Some(user.as_str()) {
            return Ok(());
        }
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "this account does not hold node key {pubkey}: run `infernet pubkey link` on that node"
            ),
        ));
    }
    super::public::admin(st, headers)
}
