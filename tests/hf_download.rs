//! `infernet model pull hf:…` from a local hub (HF_ENDPOINT on loopback): picks the GGUF,
//! shows it in `model list`, and resumes with an HTTP Range after the server cuts the connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use axum::body::Body;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::process::Command;
use std::sync::{Arc, Mutex};

const SIZE: usize = 3 * 1024 * 1024 + 17;

#[derive(Clone, Default)]
struct Hub {
    /// Range headers seen, in order ("" when none).
    ranges: Arc<Mutex<Vec<String>>>,
}

fn content() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 31 % 251) as u8).collect()
}

async fn repo_info() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"id": "acme/tiny-GGUF", "siblings": [
        {"rfilename": "README.md"}, {"rfilename": "tiny-Q8_0.gguf"}, {"rfilename": "tiny-Q4_K_M.gguf"}]}))
}

/// The first full download is cut halfway (Content-Length promised, then the connection drops);
/// ranged requests get 206 with the rest.
async fn resolve(
    State(hub): State<Hub>,
    AxPath((_org, _repo, file)): AxPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if file != "tiny-Q4_K_M.gguf" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let data = content();
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    hub.ranges.lock().unwrap().push(range.clone());
    if let Some(from) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok())
    {
        let rest = data[from..].to_vec();
        return Response::builder()
            .status(206)
            .header("content-length", rest.len())
            .header(
                "content-range",
                format!("bytes {from}-{}/{}", SIZE - 1, SIZE),
            )
            .body(Body::from(rest))
            .unwrap();
    }
    let half = data[..SIZE / 2].to_vec();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "cut",
        )),
    ];
    Response::builder()
        .status(200)
        .header("content-length", SIZE)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hf_pull_picks_the_gguf_and_resumes_after_a_cut() {
    let hub = Hub::default();
    let app = axum::Router::new()
        .route("/api/models/{org}/{repo}", get(repo_info))
        .route(
            "/{org}/{repo}/resolve/main/{file}",
            get(resolve).head(|| async { ([("content-length", SIZE.to_string())], "") }),
        )
        .with_state(hub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let data_home = tempfile::tempdir().unwrap();
    let dh = data_home.path().to_path_buf();
    let ep = endpoint.clone();
    let run = move |args: Vec<&'static str>| {
        let (dh, ep) = (dh.clone(), ep.clone());
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_infernet"))
                .env_remove("INFERNET_CONFIG_PATH")
                .env("XDG_CONFIG_HOME", dh.join("cfg"))
                .env("XDG_DATA_HOME", &dh)
                .env("HF_ENDPOINT", &ep)
                .current_dir(&dh)
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).to_string(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        })
    };

    let (code, out, err) = run(vec!["model", "pull", "hf:acme/tiny-GGUF"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let dest = data_home
        .path()
        .join("infernet/models/acme/tiny-GGUF/tiny-Q4_K_M.gguf");
    assert!(
        out.contains(&format!("downloaded {}", dest.display())),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        content(),
        "resumed file must equal the original"
    );
    let ranges = hub.ranges.lock().unwrap().clone();
    assert_eq!(ranges, vec![String::new(), format!("bytes={}-", SIZE / 2)]);

    // Listed as a local GGUF (any backend; the stub needs no server).
    let (code, out, _) = run(vec!["model", "--backend", "stub", "list"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("acme/tiny-GGUF/tiny-Q4_K_M.gguf"), "{out}");

    let (code, _, err) = run(vec!["model", "pull", "hf:acme/tiny-GGUF/missing.gguf"])
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("not found (HTTP 404)"), "{err}");
    server.abort();
}
