//! REST API against the real engine on an OS-chosen port, with the echo workflow container
//! running as a real HTTP server (native process, unmanaged containers).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use infernet::config::ContainerConfig;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

fn echo_pair() -> (NativeEcho, NativeEcho) {
    (NativeEcho::start("first"), NativeEcho::start("second"))
}

#[tokio::test]
async fn node_routes_health_info_resources_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut ct = remote("echo", &a.url());
    ct.description = "echoes".into();
    let cfg = test_config(
        dir.path(),
        vec![ct, remote("down", "http://127.0.0.1:1")],
        false,
    );
    let (_h, base) = start(cfg).await;
    let c = http();

    let r = c.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("ratelimit-limit"));
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "healthy"})
    );

    let info: Value = get_json(&format!("{base}/info")).await;
    assert_eq!(
        info["containers"][0],
        json!({"id": "echo", "description": "echoes", "external": true, "image": ""})
    );
    assert_eq!(info["pending"], json!({"offchain": 0, "onchain": 0}));
    assert_eq!(info["chain"], json!({"enabled": false, "address": ""}));
    assert_eq!(info["container_status"].as_array().unwrap().len(), 2);

    // Remote containers are asked at their `url`; a failing one is left out.
    let res: Value = get_json(&format!("{base}/resources")).await;
    assert_eq!(res["echo"]["service_id"], "first");
    assert!(res.get("down").is_none());
    let res: Value = get_json(&format!("{base}/resources?model_id=echo-model")).await;
    assert_eq!(res, json!({"echo": {"supported": true}}));

    let spec: Value = get_json(&format!("{base}/openapi.json")).await;
    for p in [
        "/health",
        "/info",
        "/resources",
        "/api/jobs",
        "/api/jobs/batch",
        "/api/jobs/stream",
        "/api/status",
        "/api/p2p/peers",
        "/openapi.json",
    ] {
        assert!(spec["paths"].get(p).is_some(), "openapi lacks {p}");
    }

    let r = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "Not found");
}

/// `/openapi.json` lists exactly the operations the node serves: every documented one answers
/// (whatever the status, never 404/405), every other method on a documented path is 405, and
/// paths it does not list are 404. HEAD is left out: axum answers it wherever GET is served.
#[tokio::test]
async fn the_document_lists_exactly_the_routes_served() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(dir.path(), vec![], false);
    let (_h, base) = start(cfg).await;
    let c = http();
    let spec: Value = get_json(&format!("{base}/openapi.json")).await;
    let methods = ["get", "post", "put", "delete", "patch", "options", "trace"];
    let mut documented = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for m in methods {
            let method = reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            let s = c
                .request(method, format!("{base}{path}"))
                .header("content-type", "application/json")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if item.get(m).is_some() {
                documented += 1;
                assert!(
                    s != 404 && s != 405,
                    "{m} {path} is documented but answers {s}"
                );
            } else {
                assert_eq!(s, 405, "{m} {path} is not documented but answers {s}");
            }
        }
    }
    assert_eq!(documented, 12);
    for path in [
        "/api",
        "/api/jobs/",
        "/api/job",
        "/healthz",
        "/openapi.yaml",
        "/api/status/x",
    ] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "Not found");
    }
}

#[tokio::test]
async fn job_runs_and_result_keeps_every_digit_and_ignores_body_id_and_ip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    let (_h, base) = start(cfg).await;
    let c = http();
    let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    let body = format!(
        r#"{{"id": "my-own-id", "ip": "10.9.9.9", "containers": ["echo"], "data": {{"n": {big}}}}}"#
    );
    let r = c
        .post(format!("{base}/api/jobs"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, "my-own-id");
    assert!(uuid_like(&id));

    let job = wait_job(&base, &id, T).await;
    assert_eq!(job["status"], "success");
    assert_eq!(job["result"]["container"], "echo");
    let out = &job["result"]["output"];
    assert_eq!(out["source"], 1);
    assert_eq!(out["destination"], 1);
    assert_eq!(out["requires_proof"], false);
    // The uint256 travels to the container and back without losing a digit.
    assert_eq!(serde_json::to_string(&out["echo"]["n"]).unwrap(), big);
    assert_eq!(job["intermediate_results"], json!([]));

    // The job belongs to the TCP peer (127.0.0.1), not to the body's "ip".
    let ids: Value = get_json(&format!("{base}/api/jobs")).await;
    assert_eq!(ids, json!([id]));
    let done: Value = get_json(&format!("{base}/api/jobs?pending=false")).await;
    assert_eq!(done, json!([id]));
    let pending: Value = get_json(&format!("{base}/api/jobs?pending=true")).await;
    assert_eq!(pending, json!([]));
    // Without intermediate=true the key is absent, as in Ritual's node; unknown ids are skipped.
    let got: Value = get_json(&format!("{base}/api/jobs?id={id}&id=unknown")).await;
    assert_eq!(got.as_array().unwrap().len(), 1);
    assert!(got[0].get("intermediate_results").is_none());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn chained_containers_pass_output_as_next_data() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = echo_pair();
    let cfg = test_config(
        dir.path(),
        vec![remote("a", &a.url()), remote("b", &b.url())],
        false,
    );
    let (_h, base) = start(cfg).await;
    let c = http();
    let r: Value = c
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": ["a", "b"], "data": {"hello": "world"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = wait_job(&base, r["id"].as_str().unwrap(), T).await;
    assert_eq!(job["status"], "success");
    let inter = job["intermediate_results"].as_array().unwrap();
    assert_eq!(inter.len(), 1);
    assert_eq!(inter[0]["container"], "a");
    assert_eq!(inter[0]["output"]["name"], "first");
    let out = &job["result"]["output"];
    assert_eq!(out["name"], "second");
    assert_eq!(out["hops"], 2);
    // b's data is a's whole output.
    assert_eq!(out["echo"]["name"], "first");
    assert_eq!(out["echo"]["echo"], json!({"hello": "world"}));
}

#[tokio::test]
async fn failures_are_readable_failed_results() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let refused = free_port();
    let mut slow = remote("slow", &a.url());
    slow.timeout = Some(0.3);
    let cfg = test_config(
        dir.path(),
        vec![
            remote("echo", &a.url()),
            remote("gone", &format!("http://127.0.0.1:{refused}")),
            slow,
        ],
        false,
    );
    let (_h, base) = start(cfg).await;
    let c = http();
    let submit = |containers: Value, data: Value| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let r: Value = c
                .post(format!("{base}/api/jobs"))
                .json(&json!({"containers": containers, "data": data}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            wait_job(&base, r["id"].as_str().unwrap(), T).await
        }
    };

    let job = submit(json!(["echo"]), json!({"action": "nonjson"})).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["result"]["container"], "echo");
    let err = job["result"]["error"].as_str().unwrap();
    assert!(
        err.starts_with("container 'echo' replied with non-JSON"),
        "{err}"
    );
    assert!(err.ends_with("this is not json"), "{err}");

    let job = submit(json!(["gone"]), json!({})).await;
    assert_eq!(job["status"], "failed");
    let err = job["result"]["error"].as_str().unwrap();
    assert!(
        err.contains(&format!(
            "container 'gone' is unreachable at http://127.0.0.1:{refused}"
        )),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");

    let job = submit(json!(["echo"]), json!({"action": "status", "code": 500})).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["result"]["error"]
            .as_str()
            .unwrap()
            .starts_with("container 'echo' answered HTTP 500")
    );

    let job = submit(json!(["slow"]), json!({"action": "sleep", "ms": 2000})).await;
    assert_eq!(
        job["result"]["error"],
        "container 'slow' did not answer within 0.3 s"
    );

    // A failure mid-chain keeps the earlier result as intermediate and names the failing hop.
    let job = submit(json!(["echo", "gone"]), json!({})).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["intermediate_results"][0]["container"], "echo");
    assert_eq!(job["result"]["container"], "gone");
}

#[tokio::test]
async fn bad_requests_get_4xx_with_error_and_params() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let internal = ContainerConfig {
        external: false,
        ..remote("internal", &a.url())
    };
    let prover = ContainerConfig {
        generates_proofs: true,
        ..remote("prover", &a.url())
    };
    let mut cfg = test_config(
        dir.path(),
        vec![remote("echo", &a.url()), internal, prover],
        false,
    );
    cfg.server.max_body_bytes = 4096;
    let (_h, base) = start(cfg).await;
    let c = http();
    let post = |body: String| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let r = c
                .post(format!("{base}/api/jobs"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let cases: Vec<(String, u16, &str, Value)> = vec![
        ("{not json".into(), 400, "", json!({})),
        (
            "[1]".into(),
            400,
            "Invalid job request: expected a JSON object",
            json!({}),
        ),
        (
            r#"{"data": {}}"#.into(),
            400,
            "Invalid job request: missing 'containers'",
            json!({}),
        ),
        (
            r#"{"containers": ["echo"], "data": "text"}"#.into(),
            400,
            "Invalid job request: 'data' must be a JSON object",
            json!({}),
        ),
        (
            r#"{"containers": [], "data": {}}"#.into(),
            400,
            "No containers specified",
            json!({}),
        ),
        (
            r#"{"containers": ["nope"], "data": {}}"#.into(),
            400,
            "Container not supported",
            json!({"container": "nope"}),
        ),
        (
            r#"{"containers": ["internal"], "data": {}}"#.into(),
            403,
            "First container must be external",
            json!({"first_container": "internal"}),
        ),
        (
            r#"{"containers": ["echo"], "data": {}, "requires_proof": true}"#.into(),
            403,
            "Container does not generate proof",
            json!({"container": "echo"}),
        ),
        (
            r#"{"subscription": {}, "signature": {}, "data": {}}"#.into(),
            400,
            "Chain not enabled",
            Value::Null,
        ),
    ];
    for (body, status, error, params) in cases {
        let (s, v) = post(body.clone()).await;
        assert_eq!(s, status, "{body} -> {v}");
        if error.is_empty() {
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("Request body is not valid JSON"),
                "{v}"
            );
        } else {
            assert_eq!(v["error"], error, "{body}");
        }
        if !params.is_null() {
            assert_eq!(v["params"], params, "{body}");
        }
    }
    // A proof-generating last container is accepted.
    let (s, _) =
        post(r#"{"containers": ["echo", "prover"], "data": {}, "requires_proof": true}"#.into())
            .await;
    assert_eq!(s, 200);

    // Oversized bodies: 413 with the limit, whether declared or streamed.
    let big = format!(
        r#"{{"containers": ["echo"], "data": {{"x": "{}"}}}}"#,
        "a".repeat(10_000)
    );
    let (s, v) = post(big.clone()).await;
    assert_eq!(s, 413);
    assert_eq!(
        v,
        json!({"error": "Request body too large", "params": {"max_bytes": 4096}})
    );
    let chunks = futures::stream::iter(
        big.into_bytes()
            .chunks(1000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = c
        .post(format!("{base}/api/jobs"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn batch_judges_each_element_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    let (_h, base) = start(cfg).await;
    let c = http();
    let r = c
        .post(format!("{base}/api/jobs/batch"))
        .json(&json!({"containers": ["echo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "Expected a list");

    let r: Value = c
        .post(format!("{base}/api/jobs/batch"))
        .json(&json!([
            {"containers": ["echo"], "data": {"i": 1}},
            {"containers": ["nope"], "data": {}},
            {"containers": ["echo"]},
            {"containers": ["echo"], "data": {"i": 2}}
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = r.as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[1],
        json!({"error": "Container not supported", "params": {"container": "nope"}})
    );
    assert_eq!(items[2]["error"], "Invalid job request: missing 'data'");
    for (k, i) in [(0, 1), (3, 2)] {
        let job = wait_job(&base, items[k]["id"].as_str().unwrap(), T).await;
        assert_eq!(job["result"]["output"]["echo"]["i"], i);
    }
}

#[tokio::test]
async fn stream_arrives_incrementally_and_is_stored() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = echo_pair();
    let cfg = test_config(
        dir.path(),
        vec![remote("a", &a.url()), remote("b", &b.url())],
        false,
    );
    let (_h, base) = start(cfg).await;
    let c = http();
    let r = c
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"containers": ["a"], "data": {"action": "stream", "count": 6, "delay_ms": 150}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let mut first_chunk_at: Option<u128> = None;
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if first_chunk_at.is_none() && text.contains("chunk 0") {
            first_chunk_at = Some(now_ms());
        }
    }
    let (id, rest) = text.split_once('\n').unwrap();
    assert!(uuid_like(id), "first line is the job id: {text}");
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 6, "{rest}");
    // The first chunk reached us before the container produced the last one.
    let last_emitted: u128 = lines[5].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        first_chunk_at.unwrap() < last_emitted,
        "stream was buffered"
    );

    let job = wait_job(&base, id, T).await;
    assert_eq!(job["status"], "success");
    assert_eq!(
        job["result"],
        json!({"container": "a", "output": {"output": rest}})
    );

    // Chained: a runs normally, b streams.
    let r = c
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"containers": ["a", "b"], "data": {"then": {"action": "stream", "count": 3, "delay_ms": 10}}}))
        .send().await.unwrap();
    let text = r.text().await.unwrap();
    let (id, rest) = text.split_once('\n').unwrap();
    assert_eq!(rest.lines().count(), 3, "{text}");
    let job = wait_job(&base, id, T).await;
    assert_eq!(job["status"], "success");
    assert_eq!(job["intermediate_results"][0]["container"], "a");

    let r = c
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"subscription": {}, "signature": {}, "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "Streaming only supported for OffchainJob requests."
    );
}

#[tokio::test]
async fn stream_idle_timeout_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut cfg = test_config(dir.path(), vec![remote("a", &a.url())], false);
    cfg.jobs.stream_idle_timeout = 0.3;
    let (_h, base) = start(cfg).await;
    let r = http()
        .post(format!("{base}/api/jobs/stream"))
        .json(&json!({"containers": ["a"], "data": {"action": "stream", "count": 3, "delay_ms": 1000}}))
        .send().await.unwrap();
    // The body breaks off after the first chunk; the stored job says why.
    let text = r.text().await.unwrap_or_default();
    let id = {
        let ids: Value = get_json(&format!("{base}/api/jobs")).await;
        ids[0].as_str().unwrap().to_string()
    };
    assert!(text.is_empty() || text.starts_with(&id));
    let job = wait_job(&base, &id, T).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(
        job["result"]["error"],
        "container 'a' stream was idle for 0.3 s"
    );
    assert!(job["result"].get("output").is_none());
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_from_configured_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let fenced = ContainerConfig {
        allowed_ips: vec!["198.51.100.0/24".into()],
        ..remote("fenced", &a.url())
    };
    let cfg = test_config(dir.path(), vec![fenced.clone()], false);
    let (h, base) = start(cfg).await;
    let c = http();
    // No trusted proxies: a spoofed header does not get past allowed_ips.
    let r = c
        .post(format!("{base}/api/jobs"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({"containers": ["fenced"], "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "Container not allowed for address", "params": {"container": "fenced", "address": "127.0.0.1"}})
    );
    drop(h);

    // 127.0.0.1 as a trusted proxy: the forwarded client is used, and results are scoped to it.
    let dir2 = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir2.path(), vec![fenced], false);
    cfg.server.trusted_proxies = vec!["127.0.0.1".into()];
    let (_h, base) = start(cfg).await;
    let r: Value = c
        .post(format!("{base}/api/jobs"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({"containers": ["fenced"], "data": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap();
    // Two header lines: the first is the client's own, the proxy appended the second.
    let r = c
        .post(format!("{base}/api/jobs"))
        .header("x-forwarded-for", "198.51.100.7")
        .header("x-forwarded-for", "203.0.113.5")
        .json(&json!({"containers": ["fenced"], "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the client-written line must not count");
    assert_eq!(
        r.json::<Value>().await.unwrap()["params"]["address"],
        "203.0.113.5"
    );
    let job = wait_job_with(&c, &base, id, T, &[("x-forwarded-for", "198.51.100.7")]).await;
    assert_eq!(job["status"], "success");
    let other: Value = get_json(&format!("{base}/api/jobs?id={id}")).await;
    assert_eq!(other, json!([]), "another client must not see the result");
    let other: Value = c
        .get(format!("{base}/api/jobs"))
        .header("x-forwarded-for", "198.51.100.8")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!([]));
}

#[tokio::test]
async fn rate_limit_keys_on_the_peer_with_headers_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), vec![], false);
    cfg.server.rate_limit.num_requests = 3;
    cfg.server.rate_limit.period = 60.0;
    let (_h, base) = start(cfg).await;
    let c = http();
    for i in 0..3 {
        // Rotating spoofed addresses buys nothing: the bucket is the TCP peer's.
        let r = c
            .get(format!("{base}/health"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-limit"], "3");
        assert_eq!(
            r.headers()["ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let r = c
        .get(format!("{base}/health"))
        .header("x-forwarded-for", "203.0.113.99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "20");
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "Too many requests", "params": {"retry_after": 20}})
    );
    // Each route has its own bucket, as in Ritual's node.
    assert_eq!(
        c.get(format!("{base}/info")).send().await.unwrap().status(),
        200
    );
    // PUT /api/status is not limited.
    for i in 0..5 {
        let r = c
            .put(format!("{base}/api/status"))
            .json(&json!({"id": format!("s{i}"), "status": "running", "containers": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn status_reports_from_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    cfg.server.trusted_proxies = vec!["127.0.0.1".into()];
    let (_h, base) = start(cfg).await;
    let c = http();
    let report = json!({"id": "ext-1", "status": "running", "containers": ["echo"], "data": {"ignored": true}});

    // A non-loopback client (forwarded by the trusted local proxy) is refused.
    let r = c
        .put(format!("{base}/api/status"))
        .header("x-forwarded-for", "192.168.1.20")
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "Unauthorized");

    let r = c
        .put(format!("{base}/api/status"))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    let got: Value = get_json(&format!("{base}/api/jobs?id=ext-1")).await;
    assert_eq!(
        got,
        json!([{"id": "ext-1", "status": "running", "result": null}])
    );
    let r = c
        .put(format!("{base}/api/status"))
        .json(&json!({"id": "ext-1", "status": "success", "containers": ["echo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = get_json(&format!("{base}/api/jobs?id=ext-1&intermediate=true")).await;
    assert_eq!(
        got,
        json!([{"id": "ext-1", "status": "success", "result": null, "intermediate_results": []}])
    );

    let r = c
        .put(format!("{base}/api/status"))
        .json(&json!({"id": "x", "status": "done", "containers": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "Status is invalid"
    );
}

#[tokio::test]
async fn concurrent_jobs_all_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    let (_h, base) = start(cfg).await;
    let c = http();
    let started = Instant::now();
    let posts = (0..64).map(|i| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let r: Value = c
                .post(format!("{base}/api/jobs"))
                .json(&json!({"containers": ["echo"], "data": {"i": i}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (i, r["id"].as_str().unwrap().to_string())
        }
    });
    let ids = futures::future::join_all(posts).await;
    for (i, id) in ids {
        let job = wait_job(&base, &id, T).await;
        assert_eq!(job["result"]["output"]["echo"]["i"], i);
    }
    assert!(started.elapsed() < T);
}

#[tokio::test]
async fn only_json_bodies_create_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    let (_h, base) = start(cfg).await;
    let c = http();
    let body = json!({"containers": ["echo"], "data": {}}).to_string();
    // What a web page can send without a preflight is refused, on every job route.
    for route in ["/api/jobs", "/api/jobs/batch", "/api/jobs/stream"] {
        for ct in [
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let r = c
                .post(format!("{base}{route}"))
                .header("content-type", ct)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 415, "{route} {ct}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"], "Request body must be JSON", "{v}");
        }
    }
    // A browser's typeless body (it carries Origin) is refused as well.
    let r = c
        .post(format!("{base}/api/jobs"))
        .header("origin", "https://page.example")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let jobs: Value = get_json(&format!("{base}/api/jobs")).await;
    assert_eq!(jobs, json!([]), "nothing was created");
    // JSON, with or without a charset, still works; so does a script's typeless body.
    let r = c
        .post(format!("{base}/api/jobs"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{base}/api/jobs"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn one_get_is_capped_in_ids_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    cfg.server.max_get_ids = 5;
    cfg.server.max_get_bytes = 1024 * 1024;
    let (_h, base) = start(cfg).await;
    let c = http();
    // Three jobs whose echoed results are ~400 KB each: two fit in 1 MiB, three do not.
    let blob = "z".repeat(400 * 1024);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r: Value = c
            .post(format!("{base}/api/jobs"))
            .json(&json!({"containers": ["echo"], "data": {"blob": blob}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["id"].as_str().unwrap().to_string();
        assert_eq!(wait_job(&base, &id, T).await["status"], "success");
        ids.push(id);
    }
    let get = |ids: &[String]| {
        let q: Vec<String> = ids.iter().map(|i| format!("id={i}")).collect();
        c.get(format!("{base}/api/jobs?{}", q.join("&"))).send()
    };
    let r = get(&ids).await.unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["params"]["max_bytes"], 1024 * 1024, "{v}");
    assert_eq!(v["params"]["fit"], 2, "{v}");
    let r = get(&ids[..2]).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap().as_array().unwrap().len(),
        2
    );
    // Six ids (unknown ones count too) are refused before the store is read.
    let mut six = ids.clone();
    six.extend((0..3).map(|i| format!("unknown-{i}")));
    let r = get(&six).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["params"], json!({"max_ids": 5, "found": 6}));
}

/// Reads what the server sends until it closes the connection (bounded).
async fn read_until_closed(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(T, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for {T:?}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn silent_and_slow_clients_are_cut_off_and_connections_are_capped() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    cfg.server.max_connections = 3;
    cfg.server.header_timeout_secs = 1.0;
    cfg.server.body_timeout_secs = 1.0;
    let (_h, base) = start(cfg).await;
    let addr = base.trim_start_matches("http://").to_string();
    // Three connections that never send a byte fill every slot.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    // One more is answered at once, and closed.
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    extra
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut extra).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("Too many connections"), "{reply}");
    // The silent ones are closed after the header timeout, which frees their slots.
    for s in &mut silent {
        assert_eq!(read_until_closed(s).await, "");
    }
    let r = http().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A chunked body that never ends gets 408 after the body timeout, and nothing is created.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        b"POST /api/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"con\r\n",
    )
    .await
    .unwrap();
    let reply = read_until_closed(&mut slow).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive in time"), "{reply}");
    let jobs: Value = get_json(&format!("{base}/api/jobs")).await;
    assert_eq!(jobs, json!([]));
}

/// The sample lines of a Prometheus text, by series (name with labels as written).
fn series(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_jobs_containers_and_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _b) = echo_pair();
    let mut cfg = test_config(dir.path(), vec![remote("echo", &a.url())], false);
    let dead = free_port();
    cfg.backends = vec![
        infernet::config::BackendConfig {
            id: "stub".into(),
            kind: "stub".into(),
            ..Default::default()
        },
        infernet::config::BackendConfig {
            id: "dead".into(),
            kind: "llamacpp".into(),
            url: format!("http://127.0.0.1:{dead}"),
            ..Default::default()
        },
    ];
    let (_h, base) = start(cfg).await;
    let c = http();
    for data in [
        json!({"n": 1}),
        json!({"n": 2}),
        json!({"action": "nonjson"}),
    ] {
        let r: Value = c
            .post(format!("{base}/api/jobs"))
            .json(&json!({"containers": ["echo"], "data": data}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        wait_job(&base, r["id"].as_str().unwrap(), T).await;
    }
    let scrape = || {
        let c = c.clone();
        let base = base.clone();
        async move {
            let r = c.get(format!("{base}/metrics")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(
                r.headers()["content-type"],
                "text/plain; version=0.0.4; charset=utf-8"
            );
            r.text().await.unwrap()
        }
    };
    // The backends' first probe answers within a moment of the start.
    let m = eventually("both backends probed", T, || async {
        let m = series(&scrape().await);
        let probed = m.contains_key(r#"infernet_backend_up{backend="dead",kind="llamacpp"}"#)
            && m.get(r#"infernet_backend_up{backend="stub",kind="stub"}"#) == Some(&1.0);
        probed.then_some(m)
    })
    .await;
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no series {k}"));
    assert_eq!(get("infernet_up"), 1.0);
    assert_eq!(
        get(r#"infernet_jobs_total{status="success",container="echo"}"#),
        2.0
    );
    assert_eq!(
        get(r#"infernet_jobs_total{status="failed",container="echo"}"#),
        1.0
    );
    assert_eq!(
        get(r#"infernet_job_duration_seconds_count{container="echo"}"#),
        3.0
    );
    assert_eq!(
        get(r#"infernet_job_duration_seconds_bucket{container="echo",le="+Inf"}"#),
        3.0
    );
    assert_eq!(get("infernet_jobs_running"), 0.0);
    assert_eq!(get(r#"infernet_container_up{container="echo"}"#), 1.0);
    assert_eq!(
        get(r#"infernet_backend_up{backend="dead",kind="llamacpp"}"#),
        0.0
    );
    assert!(get("infernet_store_bytes") > 0.0);
    // No chain, no control plane: none of their series.
    assert!(!m.keys().any(|k| k.starts_with("infernet_chain_")));
    assert!(!m.keys().any(|k| k.starts_with("infernet_control_plane_")));
}

/// `telemetry.push_url`: the same text is POSTed to a real HTTP server (a Pushgateway's path),
/// and a push target that is down does not disturb the node.
#[tokio::test]
async fn metrics_are_pushed_when_a_push_url_is_set() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(8);
    let app = axum::Router::new().route(
        "/metrics/job/infernet/instance/box1",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let _ = tx.send((ct, body)).await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), vec![], false);
    cfg.telemetry.push_url = format!("http://127.0.0.1:{port}/metrics/job/infernet/instance/box1");
    cfg.telemetry.push_interval = 0.2;
    let (_h, base) = start(cfg).await;
    let (ct, body) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("\ninfernet_up 1\n"), "{body}");
    assert!(
        body.contains("# TYPE infernet_jobs_total counter"),
        "{body}"
    );
    // A second push follows by itself.
    tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();

    // Nothing listens: the node keeps serving.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), vec![], false);
    cfg.telemetry.push_url = format!("http://127.0.0.1:{}/metrics", free_port());
    cfg.telemetry.push_interval = 0.1;
    let (_h2, base2) = start(cfg).await;
    for b in [&base, &base2] {
        let r = http().get(format!("{b}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}
