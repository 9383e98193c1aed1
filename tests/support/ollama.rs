//! A schema-exact Ollama API test server in front of a real llama-server: `/api/chat` and
//! `/api/generate` stream NDJSON with real tokens, counts and durations; `/api/tags`,
//! `/api/show`, `/api/ps`, `/api/version`. Shapes follow Ollama's API documentation.
#![allow(dead_code)]

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;

pub const MODEL: &str = "smollm2:135m";
const SIZE: u64 = 98_362_432;
const DIGEST: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

#[derive(Clone)]
struct Upstream {
    url: String,
    http: reqwest::Client,
    /// Models that `/api/tags` lists: (name, size). Pulls add, deletes remove.
    models: std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>>,
}

/// Models `/api/pull` knows how to "download": (name, size of the weights layer).
pub const PULLABLE: &[(&str, u64)] = &[
    ("tinyllama:test", 4_000_000),
    ("huge:1t", 10_000_000_000_000),
];

pub struct OllamaTestServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OllamaTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn details() -> Value {
    json!({"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
           "parameter_size": "135M", "quantization_level": "Q4_1"})
}

fn now() -> String {
    infernet::backend::now_rfc3339()
}

impl OllamaTestServer {
    pub async fn start(llama_url: &str) -> Self {
        let models = std::sync::Arc::new(std::sync::Mutex::new(vec![(MODEL.to_string(), SIZE)]));
        let up = Upstream {
            url: llama_url.to_string(),
            http: reqwest::Client::new(),
            models,
        };
        let app = axum::Router::new()
            .route(
                "/api/version",
                get(|| async { Json(json!({"version": "0.5.7"})) }),
            )
            .route("/api/tags", get(tags))
            .route("/api/pull", post(pull))
            .route("/api/delete", axum::routing::delete(delete))
            .route("/api/ps", get(ps))
            .route("/api/show", post(show))
            .route("/api/chat", post(chat))
            .route("/api/generate", post(generate))
            .with_state(up);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, task }
    }
}

async fn tags(State(up): State<Upstream>) -> Json<Value> {
    let models = up.models.lock().map(|m| m.clone()).unwrap_or_default();
    let list: Vec<Value> = models
        .iter()
        .map(|(name, size)| {
            json!({"name": name, "model": name, "modified_at": "2025-02-07T00:00:00Z",
            "size": size, "digest": DIGEST, "details": details()})
        })
        .collect();
    Json(json!({"models": list}))
}

/// Progress lines as Ollama streams them: manifest, per-layer downloads, verify, write, success.
async fn pull(State(up): State<Upstream>, Json(body): Json<Value>) -> Response {
    let name = body["model"]
        .as_str()
        .or_else(|| body["name"].as_str())
        .unwrap_or("")
        .to_string();
    let Some(&(_, total)) = PULLABLE.iter().find(|(n, _)| *n == name) else {
        let line = json!({"error": "pull model manifest: file does not exist"});
        return Response::builder()
            .header("content-type", "application/x-ndjson")
            .body(Body::from(format!("{line}\n")))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(8);
    tokio::spawn(async move {
        let digest = format!("sha256:{DIGEST}");
        let mut lines = vec![json!({"status": "pulling manifest"})];
        for step in 0..=4u64 {
            lines.push(json!({"status": format!("pulling {}", &DIGEST[..12]), "digest": digest, "total": total, "completed": total / 4 * step}));
        }
        lines.push(json!({"status": "verifying sha256 digest"}));
        lines.push(json!({"status": "writing manifest"}));
        lines.push(json!({"status": "success"}));
        let n = lines.len();
        for (i, l) in lines.into_iter().enumerate() {
            if i + 1 == n
                && let Ok(mut m) = up.models.lock()
            {
                m.push((name.clone(), total));
            }
            // A client that hangs up stops the pull, as Ollama does.
            if tx.send(Ok(format!("{l}\n"))).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn delete(State(up): State<Upstream>, Json(body): Json<Value>) -> Response {
    let name = body["model"]
        .as_str()
        .or_else(|| body["name"].as_str())
        .unwrap_or("")
        .to_string();
    let removed = up.models.lock().map(|mut m| {
        let before = m.len();
        m.retain(|(n, _)| *n != name);
        before != m.len()
    });
    if removed.unwrap_or(false) {
        StatusCode::OK.into_response()
    } else {
        not_found(&name)
    }
}

async fn ps() -> Json<Value> {
    Json(
        json!({"models": [{"name": MODEL, "model": MODEL, "size": SIZE, "digest": DIGEST,
        "details": details(), "expires_at": "2099-01-01T00:00:00Z", "size_vram": 0}]}),
    )
}

fn not_found(model: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("model '{model}' not found")})),
    )
        .into_response()
}

async fn show(Json(body): Json<Value>) -> Response {
    let model = body["model"]
        .as_str()
        .or_else(|| body["name"].as_str())
        .unwrap_or("");
    if model != MODEL {
        return not_found(model);
    }
    Json(json!({"modelfile": format!("FROM {MODEL}"), "parameters": "", "template": "{{ .Prompt }}",
        "details": details(), "model_info": {"general.architecture": "llama", "general.parameter_count": 134515008}}))
    .into_response()
}

async fn chat(State(up): State<Upstream>, Json(body): Json<Value>) -> Response {
    relay(up, body, true).await
}

async fn generate(State(up): State<Upstream>, Json(mut body): Json<Value>) -> Response {
    let prompt = body["prompt"].as_str().unwrap_or("").to_string();
    body["messages"] = json!([{"role": "user", "content": prompt}]);
    relay(up, body, false).await
}

/// Turns llama-server's OpenAI SSE into Ollama NDJSON lines, token by token.
async fn relay(up: Upstream, body: Value, chat_shape: bool) -> Response {
    let model = body["model"].as_str().unwrap_or("").to_string();
    if model != MODEL {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("model \"{model}\" not found, try pulling it first")})),
        )
            .into_response();
    }
    let mut req = json!({"model": MODEL, "messages": body["messages"], "stream": true,
                         "stream_options": {"include_usage": true}});
    if let Some(t) = body.pointer("/options/temperature") {
        req["temperature"] = t.clone();
    }
    if let Some(n) = body.pointer("/options/num_predict") {
        req["max_tokens"] = n.clone();
    }
    let started = Instant::now();
    let resp = match up
        .http
        .post(format!("{}/v1/chat/completions", up.url))
        .json(&req)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    let mut upstream = resp.bytes_stream();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut buf = String::new();
        let (mut reason, mut prompt_n, mut eval_n) = ("stop".to_string(), 0u64, 0u64);
        let mut first_token: Option<Instant> = None;
        while let Some(Ok(chunk)) = upstream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(pos) = buf.find('\n') {
                let line: String = buf.drain(..=pos).collect();
                let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                    continue;
                };
                if data == "[DONE]" {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    prompt_n = u["prompt_tokens"].as_u64().unwrap_or(0);
                    eval_n = u["completion_tokens"].as_u64().unwrap_or(0);
                }
                if let Some(r) = v["choices"][0]["finish_reason"].as_str() {
                    reason = r.to_string();
                }
                if let Some(t) = v["choices"][0]["delta"]["content"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                {
                    first_token.get_or_insert_with(Instant::now);
                    let line = if chat_shape {
                        json!({"model": MODEL, "created_at": now(), "message": {"role": "assistant", "content": t}, "done": false})
                    } else {
                        json!({"model": MODEL, "created_at": now(), "response": t, "done": false})
                    };
                    // A client that went away ends the relay, which drops the upstream request.
                    if tx.send(Ok(format!("{line}\n"))).await.is_err() {
                        return;
                    }
                }
            }
        }
        let total = started.elapsed().as_nanos() as u64;
        let prompt_ns = first_token
            .map(|f| (f - started).as_nanos() as u64)
            .unwrap_or(total);
        let mut last = json!({"model": MODEL, "created_at": now(), "done": true, "done_reason": reason,
            "total_duration": total, "load_duration": 0, "prompt_eval_count": prompt_n,
            "prompt_eval_duration": prompt_ns, "eval_count": eval_n, "eval_duration": total - prompt_ns});
        if chat_shape {
            last["message"] = json!({"role": "assistant", "content": ""});
        } else {
            last["response"] = json!("");
        }
        let _ = tx.send(Ok(format!("{last}\n"))).await;
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
