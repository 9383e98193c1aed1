//! `POST /v1/chat/completions` and `GET /v1/models`, OpenAI-compatible, over the same queue.
//! Unlike the reference, `usage` carries the backend's real counts, and a job re-run on another
//! node after its first node went silent continues the stream where the client is (the text
//! already sent is not sent twice).
use super::chat::{ChatInput, enqueue, json_event};
use super::follow::{self, Follow};
use super::hub::{Hub, SseKind};
use super::store::{StoredEvent, now_ms};
use super::{AppState, BodyError, DISPLAY_WINDOW_MS, read_body};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use infernet_core::continuity::Continuity;
use infernet_core::wire::WireError;
use infernet_core::wire::chat::ChatMessage;
use infernet_core::wire::events::{DoneData, ErrorData, MetaData, TokenData};
use infernet_core::wire::openai::{
    Choice, Chunk, ChunkChoice, Completion, CompletionBody, CompletionUsage, Delta, ErrorBody,
    ErrorDetail, Model, ModelList,
};
use serde::Deserialize;
use std::convert::Infallible;
use std::net::SocketAddr;

fn oai_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail::new(code, message),
    };
    (status, Json(body)).into_response()
}

fn completion_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("chatcmpl-{}", &u[..24])
}

pub(super) async fn completions(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let checked = match read_body::<CompletionBody>(&body) {
        Ok(b) => b.check(),
        Err(BodyError::Syntax(e)) => {
            return oai_error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("body is not valid JSON: {e}"),
            );
        }
        Err(BodyError::Data(e)) => {
            return oai_error(StatusCode::BAD_REQUEST, "invalid_value", e);
        }
    };
    let req = match checked {
        Ok(r) => r,
        Err(WireError::Messages(e)) => {
            return oai_error(StatusCode::BAD_REQUEST, "invalid_messages", e);
        }
        Err(WireError::Value(e)) => {
            return oai_error(StatusCode::BAD_REQUEST, "invalid_value", e);
        }
    };
    let include_usage = req.include_usage();
    let model = req.model;
    let input = ChatInput {
        messages: req.messages,
        model: Some(model.clone()),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
    };
    let caller = match super::clients::admit(&st, &headers, &peer.ip().to_string()).await {
        Ok(c) => c,
        Err(super::clients::Gate::Refused(r)) => {
            return r.with_retry_after(oai_error(r.status, r.code, r.message.clone()));
        }
        Err(super::clients::Gate::Failed(e)) => return e.into_response(),
    };
    let j = match enqueue(&st, &input, &caller.client_id()).await {
        Ok(Ok(j)) => j,
        Ok(Err((_, why))) => {
            let mut served: Vec<String> = st
                .store
                .live_providers(now_ms() - st.node_timeout_ms())
                .await
                .unwrap_or_default()
                .into_iter()
                .flat_map(|p| p.served_models)
                .collect();
            served.sort();
            served.dedup();
            return oai_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_provider",
                format!("{why}; models served now: [{}]", served.join(", ")),
            );
        }
        Err(e) => return e.into_response(),
    };
    let id = completion_id();
    let created = now_ms() / 1000;
    let Some(rx) = follow::spawn(st.clone(), j, 0) else {
        return oai_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_readers",
            "this job has as many readers as the control plane allows",
        );
    };
    if req.stream {
        stream_chunks(&st.hub, rx, id, created, model, include_usage)
    } else {
        whole(rx, id, created, model).await
    }
}

/// A stored event's data as `T`; data of another shape reads as the default.
fn data_of<'a, T: Deserialize<'a> + Default>(e: &'a StoredEvent) -> T {
    T::deserialize(&e.data).unwrap_or_default()
}

fn usage_of(done: &DoneData) -> CompletionUsage {
    let u = done.usage();
    CompletionUsage::new(u.prompt_tokens, u.completion_tokens)
}

fn finish(done: &DoneData) -> &'static str {
    match done.reason.as_deref() {
        Some("length") => "length",
        _ => "stop",
    }
}

async fn whole(
    mut rx: tokio::sync::mpsc::Receiver<Follow>,
    id: String,
    created: i64,
    model: String,
) -> Response {
    let mut text = String::new();
    let mut served_model = model;
    while let Some(item) = rx.recv().await {
        match item {
            Follow::Event(e) => match e.kind.as_str() {
                "reset" => text.clear(),
                "meta" => {
                    if let Some(m) = data_of::<MetaData>(&e).model {
                        served_model = m;
                    }
                }
                "token" => text.push_str(&data_of::<TokenData>(&e).text),
                "done" => {
                    let done: DoneData = data_of(&e);
                    let answer = Completion {
                        id,
                        object: "chat.completion".into(),
                        created,
                        model: served_model,
                        choices: vec![Choice {
                            index: 0,
                            message: ChatMessage::new(
                                "assistant",
                                done.text.as_deref().unwrap_or(&text),
                            ),
                            finish_reason: finish(&done).into(),
                        }],
                        usage: usage_of(&done),
                    };
                    return Json(answer).into_response();
                }
                "error" => {
                    let m = data_of::<ErrorData>(&e)
                        .message
                        .unwrap_or_else(|| "the job failed".into());
                    return oai_error(StatusCode::BAD_GATEWAY, "job_failed", m);
                }
                _ => {}
            },
            Follow::End(j) => {
                let m = j
                    .and_then(|j| j.error)
                    .unwrap_or_else(|| "the job did not finish in time".into());
                return oai_error(StatusCode::GATEWAY_TIMEOUT, "job_failed", m);
            }
        }
    }
    oai_error(
        StatusCode::BAD_GATEWAY,
        "job_failed",
        "the job's event stream ended",
    )
}

fn stream_chunks(
    hub: &Hub,
    mut rx: tokio::sync::mpsc::Receiver<Follow>,
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
) -> Response {
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(256);
    crate::supervise::spawn_logged("openai-stream", async move {
        let mut model = model;
        // One `chat.completion.chunk`: choices, then an error or usage when the stream ends.
        let frame = |model: &str, choices: Vec<ChunkChoice>| Chunk {
            id: id.clone(),
            object: "chat.completion.chunk".into(),
            created,
            model: model.to_string(),
            choices,
            error: None,
            usage: None,
        };
        let chunk = |model: &str, delta: Delta, finish: Option<&str>| {
            let c = frame(
                model,
                vec![ChunkChoice {
                    index: 0,
                    delta,
                    finish_reason: finish.map(str::to_string),
                }],
            );
            json_event(Event::default(), &c)
        };
        let send = |ev: Event| {
            let tx = tx.clone();
            async move { tx.send(Ok(ev)).await.is_ok() }
        };
        let first = Delta {
            role: Some("assistant".into()),
            content: Some(String::new()),
        };
        if !send(chunk(&model, first, None)).await {
            return;
        }
        let mut cont = Continuity::default();
        let error = |model: &str, m: &str| {
            let c = Chunk {
                error: Some(ErrorDetail::new("job_failed", m)),
                ..frame(model, vec![])
            };
            json_event(Event::default(), &c)
        };
        while let Some(item) = rx.recv().await {
            match item {
                Follow::Event(e) => match e.kind.as_str() {
                    "reset" => cont.reset(),
                    "meta" => {
                        if let Some(m) = data_of::<MetaData>(&e).model {
                            model = m;
                        }
                    }
                    "token" => {
                        let t = data_of::<TokenData>(&e).text;
                        match cont.token(&t) {
                            Ok(s) if s.is_empty() => {}
                            Ok(s) => {
                                let delta = Delta {
                                    role: None,
                                    content: Some(s),
                                };
                                if !send(chunk(&model, delta, None)).await {
                                    return;
                                }
                            }
                            Err(_) => {
                                send(error(&model, "the node running this job went silent and the retry's output differs from what was already sent")).await;
                                break;
                            }
                        }
                    }
                    "done" => {
                        let done: DoneData = data_of(&e);
                        if !send(chunk(&model, Delta::default(), Some(finish(&done)))).await {
                            return;
                        }
                        if include_usage {
                            let c = Chunk {
                                usage: Some(usage_of(&done)),
                                ..frame(&model, vec![])
                            };
                            if !send(json_event(Event::default(), &c)).await {
                                return;
                            }
                        }
                        break;
                    }
                    "error" => {
                        let m = data_of::<ErrorData>(&e)
                            .message
                            .unwrap_or_else(|| "the job failed".into());
                        send(error(&model, &m)).await;
                        break;
                    }
                    _ => {}
                },
                Follow::End(j) => {
                    let m = j
                        .and_then(|j| j.error)
                        .unwrap_or_else(|| "the job did not finish in time".into());
                    send(error(&model, &m)).await;
                    break;
                }
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(out);
    let mut resp = Sse::new(hub.counted(SseKind::OpenAi, body)).into_response();
    super::chat::sse_headers(&mut resp);
    resp
}

pub(super) async fn models(State(st): State<AppState>) -> Response {
    let live = match st.store.live_providers(now_ms() - DISPLAY_WINDOW_MS).await {
        Ok(l) => l,
        Err(e) => return super::ApiError::from(e).into_response(),
    };
    let mut names: Vec<String> = live.into_iter().flat_map(|p| p.served_models).collect();
    names.sort();
    names.dedup();
    let created = now_ms() / 1000;
    let data = names
        .into_iter()
        .map(|id| Model {
            id,
            object: "model".into(),
            created,
            owned_by: "infernet".into(),
        })
        .collect();
    Json(ModelList {
        object: "list".into(),
        data,
    })
    .into_response()
}
