//! A Docker engine that does not answer: managed containers are unavailable with the reason,
//! and the node keeps serving. Its own test binary, because it changes DOCKER_HOST.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use infernet::config::ContainerConfig;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_docker_engine_is_reported_and_the_node_serves() {
    // Point at a socket nobody serves: every managed container is unavailable with the reason.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("no-docker.sock");
    // The only test in this binary, so no other thread reads the variable meanwhile.
    let _guard = EnvGuard::set("DOCKER_HOST", &format!("unix://{}", sock.display()));
    let spec = ContainerConfig {
        id: "needs-docker".into(),
        image: "whatever:1".into(),
        port: free_port(),
        ..Default::default()
    };
    let cfg = test_config(dir.path(), vec![spec], true);
    let (_h, base) = start(cfg).await;
    let st = wait_container_state(&base, "needs-docker", "unavailable", T).await;
    assert!(
        st["reason"]
            .as_str()
            .unwrap()
            .contains("Docker engine unreachable"),
        "{st}"
    );
    assert_eq!(
        http()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http()
        .post(format!("{base}/api/jobs"))
        .json(&serde_json::json!({"containers": ["needs-docker"], "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

struct EnvGuard(&'static str, Option<String>);

impl EnvGuard {
    fn set(k: &'static str, v: &str) -> Self {
        let old = std::env::var(k).ok();
        unsafe { std::env::set_var(k, v) };
        Self(k, old)
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        match &self.1 {
            Some(v) => unsafe { std::env::set_var(self.0, v) },
            None => unsafe { std::env::remove_var(self.0) },
        }
    }
}
