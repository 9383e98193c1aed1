//! `POST /v1/chat/completions` and `GET /v1/models`, OpenAI-compatible, over the same queue.
//! Unlike the reference, `usage` carries the backend's real counts, and a job re-run on another
//! node after its first node went silent continues the stream where the client is (the text
//! already sent is not sent twice).
use super::chat::{ChatInput, enqueue, parse_messages, parse_sampling};
use super::follow::{self, Follow};
use super::store::now_ms;
use super::{AppState, DISPLAY_WINDOW_MS};
use crate::control::continuity::Continuity;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;

fn oai_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"message": message.into(), "type": "infernet_error", "code": code}})),
    )
        .into_response()
}

fn completion_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("chatcmpl-{}", &u[..24])
}

pub(super) async fn completions(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Response {
    let b: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return oai_error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("body is not valid JSON: {e}"),
            );
        }
    };
    let messages = match parse_messages(b.get("messages")) {
        Ok(m) => m,
        Err(e) => return oai_error(StatusCode::BAD_REQUEST, "invalid_messages", e),
    };
    let model = b
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (max_tokens, temperature) =
        match parse_sampling(&b, &["max_completion_tokens", "max_tokens"], None) {
            Ok(s) => s,
            Err(e) => return oai_error(StatusCode::BAD_REQUEST, "invalid_value", e),
        };
    let stream = b.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = b
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let input = ChatInput {
        messages,
        model: Some(model.clone()),
        max_tokens,
        temperature,
    };
    let j = match enqueue(&st, &input, &peer.ip().to_string()).await {
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
    if stream {
        stream_chunks(rx, id, created, model, include_usage)
    } else {
        whole(rx, id, created, model).await
    }
}

fn usage_of(data: &Value) -> Value {
    let p = data
        .pointer("/usage/prompt_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let c = data
        .pointer("/usage/completion_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})
}

fn finish(data: &Value) -> &'static str {
    match data.get("reason").and_then(Value::as_str) {
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
                    if let Some(m) = e.data.get("model").and_then(Value::as_str) {
                        served_model = m.to_string();
                    }
                }
                "token" => text.push_str(e.data.get("text").and_then(Value::as_str).unwrap_or("")),
                "done" => {
                    let content = e
                        .data
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or(text);
                    return Json(json!({
                        "id": id, "object": "chat.completion", "created": created, "model": served_model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                     "finish_reason": finish(&e.data)}],
                        "usage": usage_of(&e.data),
                    }))
                    .into_response();
                }
                "error" => {
                    let m = e
                        .data
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("the job failed");
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
    mut rx: tokio::sync::mpsc::Receiver<Follow>,
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
) -> Response {
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(256);
    tokio::spawn(async move {
        let mut model = model;
        // One `chat.completion.chunk` with `fields` (choices, error or usage) added.
        let frame = |model: &str, fields: Value| {
            let mut v = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model});
            if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
                o.extend(f);
            }
            Event::default().data(v.to_string())
        };
        let chunk = |model: &str, delta: Value, finish: Value| {
            frame(
                model,
                json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
        };
        let send = |ev: Event| {
            let tx = tx.clone();
            async move { tx.send(Ok(ev)).await.is_ok() }
        };
        if !send(chunk(
            &model,
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ))
        .await
        {
            return;
        }
        let mut cont = Continuity::default();
        let error = |model: &str, m: &str| {
            frame(
                model,
                json!({"choices": [], "error": {"message": m, "type": "infernet_error", "code": "job_failed"}}),
            )
        };
        while let Some(item) = rx.recv().await {
            match item {
                Follow::Event(e) => match e.kind.as_str() {
                    "reset" => cont.reset(),
                    "meta" => {
                        if let Some(m) = e.data.get("model").and_then(Value::as_str) {
                            model = m.to_string();
                        }
                    }
                    "token" => {
                        let t = e.data.get("text").and_then(Value::as_str).unwrap_or("");
                        match cont.token(t) {
                            Ok(s) if s.is_empty() => {}
                            Ok(s) => {
                                if !send(chunk(&model, json!({"content": s}), Value::Null)).await {
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
                        if !send(chunk(&model, json!({}), json!(finish(&e.data)))).await {
                            return;
                        }
                        if include_usage {
                            let ev =
                                frame(&model, json!({"choices": [], "usage": usage_of(&e.data)}));
                            if !send(ev).await {
                                return;
                            }
                        }
                        break;
                    }
                    "error" => {
                        let m = e
                            .data
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("the job failed");
                        send(error(&model, m)).await;
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
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(out)).into_response()
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
    let data: Vec<Value> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "infernet"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
