//! Dashboard login without passwords: `infernet dashboard login` signs a one-time link with
//! the node key; the link's key must be linked to an account (`infernet pubkey link`), its
//! nonce is used once, and it expires within minutes. The session is a random cookie stored
//! hashed.
use super::html::{empty, esc};
use crate::control::auth::LoginLink;
use crate::control::server::AppState;
use crate::control::server::store::now_ms;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;

const COOKIE: &str = "infernet_session";
/// How long a login link may last (the CLI makes 10-minute links).
const MAX_LINK_S: i64 = 15 * 60;
/// How long a session lasts.
const SESSION_MS: i64 = 12 * 3600 * 1000;

pub(super) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:system-ui;background:#0f1419;color:#e6e6e6;padding:28px\"><h1 style=\"font-size:20px\">{t}</h1>{body}<p><a style=\"color:#7fd1b9\" href=\"/status\">network status</a></p></body></html>",
            t = esc(title)
        )),
    )
        .into_response()
}

/// `/dashboard` without a session: how to get one.
pub(super) fn needed(_st: &AppState) -> Response {
    page(
        StatusCode::UNAUTHORIZED,
        "Log in to see your nodes",
        &empty(
            "On one of your nodes, link its key once, then print a login link:",
            "infernet pubkey link && infernet dashboard login",
        ),
    )
}

fn refused(why: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        "This login link does not work",
        &format!(
            "<p>{}</p>{}",
            esc(why),
            empty("Print a new one on your node:", "infernet dashboard login")
        ),
    )
}

/// `GET /dashboard/login?key&exp&nonce&sig`.
pub(in crate::control::server) async fn login(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    let link = LoginLink {
        pubkey: field("key").to_ascii_lowercase(),
        exp_s: field("exp").parse().unwrap_or(0),
        nonce: field("nonce"),
        sig: field("sig"),
    };
    let now = now_ms();
    if let Err(e) = link.verify(now / 1000, MAX_LINK_S) {
        tracing::info!(error = %e, "dashboard login refused");
        return refused(&format!("The link was refused: {e}."));
    }
    // Kept as seen until the link's own expiry has passed (the sweep drops nonces older
    // than two minutes), so it cannot be used twice.
    match st
        .store
        .fresh_nonce(&link.nonce, &link.pubkey, link.exp_s * 1000)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refused("The link was used already."),
        Err(e) => return super::failed(&e),
    }
    let user = match st.store.owner_of(&link.pubkey).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return page(
                StatusCode::FORBIDDEN,
                "This node key is not linked to an account",
                &empty("On that node, link it first:", "infernet pubkey link"),
            );
        }
        Err(e) => return super::failed(&e),
    };
    let token = alloy::hex::encode(rand::random::<[u8; 32]>());
    if let Err(e) = st
        .store
        .create_session(&token, &user, now + SESSION_MS)
        .await
    {
        return super::failed(&e);
    }
    tracing::info!(user = %user, pubkey = %link.pubkey, "dashboard login");
    let secure = if st.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SESSION_MS / 1000
    );
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/dashboard")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; infernet_session=abc; b=2"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        assert_eq!(cookie(&HeaderMap::new()), None);
    }
}
