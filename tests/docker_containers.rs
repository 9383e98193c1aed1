//! Managed containers with the real Docker engine and the `FROM scratch` echo image:
//! start, env/command/volumes, chain across two containers, restart after `docker kill`,
//! an image that cannot be pulled leaving the node up, reuse on the next start, stop on shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use infernet::config::ContainerConfig;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

/// Removes the test's containers however the test ends.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", n]).output();
        }
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn managed(id: &str, image: &str) -> ContainerConfig {
    ContainerConfig {
        id: id.into(),
        image: image.into(),
        port: free_port(),
        ..Default::default()
    }
}

async fn info(base: &str) -> Value {
    get_json(&format!("{base}/info")).await
}

async fn run_job(base: &str, containers: Value, data: Value) -> Value {
    let r = http()
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": containers, "data": data}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    wait_job(base, v["id"].as_str().unwrap(), T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_lifecycle_with_the_real_engine() {
    if !docker_available() {
        return;
    }
    let image = echo_image();
    let tag = format!("itest{}", std::process::id());
    let (a_id, b_id, bad_id) = (
        format!("{tag}-a"),
        format!("{tag}-b"),
        format!("{tag}-missing"),
    );
    let _cleanup = Cleanup(vec![a_id.clone(), b_id.clone(), bad_id.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("note.txt"), "from the host").unwrap();

    let mut a = managed(&a_id, image);
    a.env.insert("GREETING".into(), "hello from env".into());
    a.env.insert("ECHO_NAME".into(), "alpha".into());
    a.command = "--tag 'from command'".into();
    a.volumes = vec![format!("{}:/data:ro", shared.display())];
    let mut b = managed(&b_id, image);
    b.env.insert("ECHO_NAME".into(), "beta".into());
    let bad = managed(&bad_id, "infernet-test/does-not-exist:never");
    let cfg = test_config(dir.path(), vec![a.clone(), b.clone(), bad], true);
    let (h, base) = start(cfg.clone()).await;

    // The REST API is up at once; the good containers become ready, the bad one unavailable.
    assert_eq!(
        http()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    wait_container_state(&base, &a_id, "ready", T).await;
    wait_container_state(&base, &b_id, "ready", T).await;
    let st = wait_container_state(&base, &bad_id, "unavailable", T).await;
    assert!(
        st["reason"].as_str().unwrap().contains(
            "'infernet-test/does-not-exist:never' is not present locally and cannot be pulled"
        ),
        "{st}"
    );
    let ids: Vec<Value> = info(&base).await["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(a_id), json!(b_id)]);

    // Published on loopback only, named by id, restart policy on-failure.
    let ports = docker(&["port", &a_id, "3000/tcp"]);
    assert_eq!(
        ports.lines().next().unwrap(),
        format!("127.0.0.1:{}", a.port)
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", &a_id]),
        "on-failure"
    );

    // env, command and volumes reach the container.
    let job = run_job(&base, json!([a_id]), json!({"x": 1})).await;
    assert_eq!(job["status"], "success", "{job}");
    let out = &job["result"]["output"];
    assert_eq!(out["greeting"], "hello from env");
    assert_eq!(out["tag"], "from command");
    assert_eq!(out["name"], "alpha");
    let job = run_job(
        &base,
        json!([a_id]),
        json!({"action": "read_file", "path": "/data/note.txt"}),
    )
    .await;
    assert_eq!(job["result"]["output"]["contents"], "from the host");

    // A chain across two real containers.
    let job = run_job(&base, json!([a_id, b_id]), json!({"k": "v"})).await;
    assert_eq!(job["status"], "success");
    assert_eq!(job["intermediate_results"][0]["output"]["name"], "alpha");
    assert_eq!(job["result"]["output"]["name"], "beta");
    assert_eq!(job["result"]["output"]["echo"]["echo"], json!({"k": "v"}));

    // A job naming the unavailable container is refused with the reason; others still serve.
    let r = http()
        .post(format!("{base}/api/jobs"))
        .json(&json!({"containers": [bad_id], "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "Container unavailable");
    assert_eq!(v["params"]["state"], "unavailable");

    // docker kill: the node notices and brings the container back.
    let first_id = docker(&["inspect", "-f", "{{.Id}}", &a_id]);
    docker(&["kill", &a_id]);
    let t0 = Instant::now();
    loop {
        let st = wait_container_state(&base, &a_id, "ready", T).await;
        if st["restarts"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(t0.elapsed() < T, "no restart recorded: {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let job = run_job(&base, json!([a_id]), json!({})).await;
    assert_eq!(job["status"], "success");

    // A container that crashes on its own is back too (Docker's policy or our watcher).
    let _ = http()
        .post(format!("http://127.0.0.1:{}/service_output", a.port))
        .json(&json!({"data": {"action": "crash"}}))
        .send()
        .await;
    let t0 = Instant::now();
    loop {
        let st = wait_container_state(&base, &a_id, "ready", T).await;
        if st["restarts"].as_u64().unwrap() >= 2 {
            break;
        }
        assert!(t0.elapsed() < T, "the crash was not noticed: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = run_job(&base, json!([a_id]), json!({})).await;
    assert_eq!(job["status"], "success", "{job}");

    // Graceful shutdown stops what the node started (not removed).
    h.shutdown().await;
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &a_id]),
        "false"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &b_id]),
        "false"
    );

    // Next start reuses the same containers instead of creating new ones.
    let (h2, base2) = start(cfg).await;
    wait_container_state(&base2, &a_id, "ready", T).await;
    wait_container_state(&base2, &b_id, "ready", T).await;
    assert_eq!(docker(&["inspect", "-f", "{{.Id}}", &a_id]), first_id);
    let job = run_job(&base2, json!([a_id, b_id]), json!({})).await;
    assert_eq!(job["status"], "success");
    h2.shutdown().await;
}
