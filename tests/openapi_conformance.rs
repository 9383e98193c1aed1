//! Schemathesis (PyPI) against a running node's `/openapi.json`: every operation is called
//! with generated valid and invalid data (examples, coverage, fuzzing and stateful phases);
//! no answer may be a server error or disagree with the document (status, content type,
//! body schema), and invalid data must be refused. The two contract exceptions are in
//! tests/fixtures/schemathesis.toml. Bounded: a fixed number of examples per operation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn the_node_answers_as_its_openapi_document_says() {
    let st = match std::env::var("INFERNET_TEST_SCHEMATHESIS") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            assert!(
                !in_ci(),
                "CI=true but INFERNET_TEST_SCHEMATHESIS is not set"
            );
            eprintln!("SKIPPED: no schemathesis (run ./scripts/test.sh)");
            return;
        }
    };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    // A limit schemathesis cannot reach: rate limiting is tested elsewhere, here it would
    // only turn generated calls into 429s.
    write_config(
        h,
        &json!({
            "server": {"port": port, "bind": "127.0.0.1", "rate_limit": {"num_requests": 1_000_000, "period": 1}},
            "log": {"path": h.join("node.log")},
            "store": {"path": h.join("node.db")},
        }),
    );
    let mut node = spawn_node(h);
    wait_port(port, Duration::from_secs(60));
    let seed = std::env::var("INFERNET_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261203".into());
    let out = std::process::Command::new(&st)
        .args([
            "--no-color",
            "--config-file",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/schemathesis.toml"
            ),
        ])
        .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
        // Every check runs (schemathesis' default); `--checks` would override the exceptions.
        .args([
            "--max-examples",
            "40",
            "--workers",
            "1",
            "--request-timeout",
            "20",
        ])
        .args(["--seed", &seed, "--max-failures", "20"])
        .current_dir(h)
        .output()
        .expect("run schemathesis");
    let alive = node.try_wait().unwrap().is_none();
    let _ = node.kill();
    let _ = node.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alive, "the node died under schemathesis:\n{text}");
    assert!(
        out.status.success(),
        "schemathesis found failures (seed {seed}):\n{text}"
    );
    // It really ran: every operation of the document was tested.
    assert!(
        text.contains("Tested: 11"),
        "not every operation ran:\n{text}"
    );
}
