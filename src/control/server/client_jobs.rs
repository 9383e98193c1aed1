//! The client job API (`/api/v1/jobs`): submit, read, and stream the answer as plain
//! `{"text"}` frames ending with `[DONE]` (seed 004). Same queue, limits and routing as
//! `/api/chat`; the stream is always coherent across a re-run (these clients know no `reset`).
use super::chat::{ChatInput, job_or_404, json_event, sse_headers, submit};
use super::coherent::{Coherent, Pass};
use super::follow::{self, Follow};
use super::hub::SseKind;
use super::store::{JobStatus, StoredEvent};
use super::views::title;
use super::{ApiError, AppState, read_body};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use infernet_core::wire::chat::ChatSubmitBody;
use infernet_core::wire::client_jobs::{JobCreated, JobState, JobText};
use infernet_core::wire::events::ErrorData;
use infernet_core::wire::jobs::ChatResult;
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;

/// `prompt` stands for one user message when `messages` is absent.
fn with_prompt(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut()
        && !o.contains_key("messages")
        && let Some(p) = o.remove("prompt")
    {
        o.insert(
            "messages".into(),
            serde_json::json!([{"role": "user", "content": p}]),
        );
    }
    body
}

pub(super) async fn create(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let v: Value = read_body(&body).map_err(ApiError::from)?;
    let b = ChatSubmitBody::deserialize(with_prompt(v))
        .map_err(|e| super::bad(format!("invalid body: {e}")))?;
    let input: ChatInput = b.check()?.into();
    let caller = match super::clients::admit(&st, &headers, &peer.ip().to_string()).await {
        Ok(c) => c,
        Err(g) => return Ok(g.into_response()),
    };
    let (j, provider) = match submit(&st, &input, &caller.client_id()).await? {
        Ok(taken) => taken,
        Err(refused) => return Ok(refused),
    };
    let created = JobCreated {
        stream_url: format!("/api/v1/jobs/{}/stream", j.id),
        id: j.id,
        status: j.status.as_str().into(),
        model: j.model_name,
        provider,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub(super) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobState>, ApiError> {
    let j = job_or_404(&st, &id).await?;
    let result = ChatResult::deserialize(&j.result).ok();
    let t = crate::backend::rfc3339_ms;
    Ok(Json(JobState {
        title: title(&j.input_spec),
        status: j.status.as_str().into(),
        text: result.as_ref().and_then(|r| r.text.clone()),
        usage: result.and_then(|r| r.usage),
        id: j.id,
        model: j.model_name,
        provider_id: j.provider_id,
        attempt: j.attempts,
        error: j.error,
        created_at: t(j.created_at),
        updated_at: t(j.updated_at),
        completed_at: j.completed_at.map(t),
    }))
}

/// What one stored event becomes on this stream: a `{"text"}` or `{"error"}` frame, nothing,
/// or the end.
enum Out {
    Frame(JobText),
    Nothing,
    End(Option<JobText>),
}

fn out(coherent: &mut Coherent, e: StoredEvent) -> Out {
    match coherent.pass(e) {
        Pass::Skip => Out::Nothing,
        Pass::Diverged(why) => Out::End(Some(JobText::Error { error: why })),
        Pass::Send(e) => match e.kind.as_str() {
            "token" => match e.data.get("text").and_then(Value::as_str) {
                Some(t) => Out::Frame(JobText::Text { text: t.into() }),
                None => Out::Nothing,
            },
            "done" => Out::End(None),
            "error" => {
                let m = ErrorData::deserialize(&e.data).ok().and_then(|d| d.message);
                Out::End(Some(JobText::Error {
                    error: m.unwrap_or_else(|| "the job failed".into()),
                }))
            }
            _ => Out::Nothing,
        },
    }
}

pub(super) async fn stream(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let j = job_or_404(&st, &id).await?;
    let max = st.opts.max_readers_per_job;
    let mut rx = follow::spawn(st.clone(), j, 0).ok_or_else(|| {
        ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("job '{id}' has {max} readers already; try again when one has left"),
        )
    })?;
    let (tx, events) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    crate::supervise::spawn_logged("client-job-stream", async move {
        let send = |t: &JobText| json_event(Event::default(), t);
        let mut coherent = Coherent::default();
        let last = loop {
            let item = tokio::select! {
                i = rx.recv() => i,
                _ = tx.closed() => return,
            };
            let frame = match item {
                Some(Follow::Event(e)) => match out(&mut coherent, e) {
                    Out::Nothing => continue,
                    Out::Frame(t) => send(&t),
                    Out::End(t) => break t,
                },
                Some(Follow::End(Some(j))) if j.status == JobStatus::Completed => break None,
                Some(Follow::End(Some(j))) => {
                    break Some(JobText::Error {
                        error: j.error.unwrap_or_else(|| "the job failed".into()),
                    });
                }
                Some(Follow::End(None)) | None => {
                    break Some(JobText::Error {
                        error: "stream closed before the job finished; open it again to resume"
                            .into(),
                    });
                }
            };
            if tx.send(Ok(frame)).await.is_err() {
                return;
            }
        };
        if let Some(t) = last
            && tx.send(Ok(send(&t))).await.is_err()
        {
            return;
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(events);
    let sse = Sse::new(st.hub.counted(SseKind::Job, body))
        .keep_alive(KeepAlive::new().interval(st.opts.ping).text("ping"));
    let mut resp = sse.into_response();
    sse_headers(&mut resp);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_prompt_stands_for_one_user_message() {
        assert_eq!(
            with_prompt(json!({"prompt": "hi", "model": "m"})),
            json!({"messages": [{"role": "user", "content": "hi"}], "model": "m"})
        );
        // `messages` wins; the prompt is left for the checks to ignore.
        let both = json!({"prompt": "x", "messages": []});
        assert_eq!(with_prompt(both.clone()), both);
    }

    #[test]
    fn events_become_text_frames_and_an_error_ends_the_stream() {
        let ev = |kind: &str, data: Value| StoredEvent {
            id: 1,
            attempt: 1,
            kind: kind.into(),
            data,
        };
        let mut c = Coherent::default();
        assert!(matches!(
            out(&mut c, ev("token", json!({"text": "Hi"}))),
            Out::Frame(JobText::Text { ref text }) if text == "Hi"
        ));
        assert!(matches!(out(&mut c, ev("meta", json!({}))), Out::Nothing));
        assert!(matches!(out(&mut c, ev("done", json!({}))), Out::End(None)));
        assert!(matches!(
            out(&mut c, ev("error", json!({"message": "boom"}))),
            Out::End(Some(JobText::Error { ref error })) if error == "boom"
        ));
    }
}
