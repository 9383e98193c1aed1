//! The web dashboard served by `infernet control-plane serve`: `/status` (public) and
//! `/dashboard` (a linked operator, after `infernet dashboard login`), server-rendered, each
//! with an SSE stream (`…/events`) that sends the page's live part again when it changes.
mod dashboard;
mod html;
mod login;
mod status;

pub(super) use login::login;

use super::AppState;
use super::hub::SseKind;
use super::store::now_ms;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;

/// How often a page's live part is rendered again for its stream.
const REFRESH: Duration = Duration::from_secs(2);

fn nav() -> &'static str {
    "<a href=\"/status\">Network</a><a href=\"/dashboard\">Your nodes</a>"
}

fn failed(e: &crate::control::db::DbError) -> Response {
    tracing::error!(error = %e, "a dashboard page could not be read");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(format!(
            "<!doctype html><p>database unavailable: {}</p>",
            html::esc(&e.to_string())
        )),
    )
        .into_response()
}

pub(super) async fn status_page(State(st): State<AppState>) -> Response {
    match status::fragment(&st).await {
        Ok(live) => {
            Html(html::page("network status", nav(), &live, "/status/events")).into_response()
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn status_events(State(st): State<AppState>) -> Response {
    live(st.clone(), SseKind::Status, move |st| {
        Box::pin(async move { status::fragment(&st).await })
    })
}

/// The account of the request's session cookie.
async fn session(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = login::cookie(headers)?;
    match st.store.session_user(&token, now_ms()).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a dashboard session");
            None
        }
    }
}

pub(super) async fn dashboard_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(user) = session(&st, &headers).await else {
        return login::needed(&st).into_response();
    };
    match dashboard::fragment(&st, &user).await {
        Ok(live) => {
            Html(html::page("your nodes", nav(), &live, "/dashboard/events")).into_response()
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn dashboard_events(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(user) = session(&st, &headers).await else {
        return (StatusCode::UNAUTHORIZED, "log in: infernet dashboard login").into_response();
    };
    live(st.clone(), SseKind::Dashboard, move |st| {
        let user = user.clone();
        Box::pin(async move { dashboard::fragment(&st, &user).await })
    })
}

type Render = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<String, crate::control::db::DbError>> + Send>,
>;

/// An SSE stream of `update` events: the fragment `render` makes, sent when it changed.
fn live(
    st: AppState,
    kind: SseKind,
    render: impl Fn(AppState) -> Render + Send + Sync + 'static,
) -> Response {
    let ping = st.opts.ping;
    let hub = st.hub.clone();
    let stream = hub.counted(kind, Box::pin(updates(st, render)));
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(ping).text("ping"))
        .into_response();
    r.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("keep-alive"),
    );
    r
}

fn updates(
    st: AppState,
    render: impl Fn(AppState) -> Render + Send + Sync + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(
        (st, render, None::<String>),
        |(st, render, last)| async move {
            loop {
                if last.is_some() {
                    tokio::time::sleep(REFRESH).await;
                }
                match render(st.clone()).await {
                    Ok(html) if last.as_deref() != Some(html.as_str()) => {
                        let ev = Event::default().event("update").data(html.clone());
                        return Some((Ok(ev), (st, render, Some(html))));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "a live page could not be rendered");
                        if last.is_none() {
                            tokio::time::sleep(REFRESH).await;
                        }
                    }
                }
            }
        },
    )
}

/// `/` goes to the network page.
pub(super) async fn home() -> Redirect {
    Redirect::to("/status")
}
