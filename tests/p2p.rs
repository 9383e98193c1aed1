//! The c0mpute substrate with real processes: five `infernet start --foreground` nodes on
//! loopback (their own keys, ports and config dirs; the stub backend on three, a real
//! llama-server behind two) join from one bootstrap address and hear each other's
//! capability ads; `infernet peers` shows the table. A rogue libp2p peer (the test's own,
//! speaking c0mpute's protocols) publishing forged and stale ads is refused and logged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use common::llm::LlamaServer;
use common::{eventually, free_port, http, infernet_cmd};
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::Duration;

struct P2pNode {
    child: Child,
    home: tempfile::TempDir,
    rest: String,
    p2p_port: u16,
}

impl P2pNode {
    fn start(name: &str, backends: Value, bootstrap: &[String], enabled: bool) -> Self {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("infernet");
        std::fs::create_dir_all(&dir).unwrap();
        let (rest, p2p_port) = (free_port(), free_port());
        let cfg = json!({
            "server": {"port": rest, "bind": "127.0.0.1"},
            "manage_containers": false,
            "store": {"path": home.path().join("node.db").to_string_lossy()},
            "log": {"path": home.path().join("node.log").to_string_lossy()},
            "ui": {"node_name": name},
            "backends": backends,
            "p2p": {"enabled": enabled, "listen": [format!("/ip4/127.0.0.1/tcp/{p2p_port}")],
                    "bootstrap": bootstrap, "price_usd": 0.01},
        });
        std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
        let out = infernet_cmd(home.path()).arg("init").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::File::create(home.path().join("stderr.log")).unwrap();
        let child = infernet_cmd(home.path())
            .args(["start", "--foreground"])
            .env_remove("INFERNET_DAEMON_FOREGROUND")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        common::wait_port(rest, Duration::from_secs(30));
        Self {
            child,
            home,
            rest: format!("http://127.0.0.1:{rest}"),
            p2p_port,
        }
    }

    async fn peers(&self) -> (u16, Value) {
        let r = http()
            .get(format!("{}/api/p2p/peers", self.rest))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    /// The address others dial: `/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`.
    async fn address(&self) -> String {
        let v = eventually("the node listens", Duration::from_secs(20), || async {
            let (st, v) = self.peers().await;
            (st == 200 && !v["listen"].as_array()?.is_empty()).then_some(v)
        })
        .await;
        format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            self.p2p_port,
            v["peer_id"].as_str().unwrap()
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("stderr.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.home.path().join("node.log")).unwrap_or_default()
    }
}

impl Drop for P2pNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stub() -> Value {
    json!([{"id": "stub", "kind": "stub"}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_find_each_other_from_one_bootstrap_address() {
    let Some(llama) = LlamaServer::start() else {
        return;
    };
    let llm = json!([{"id": "llm", "kind": "llamacpp", "url": llama.url}]);
    let first = P2pNode::start("p0", stub(), &[], true);
    let boot = first.address().await;
    let mut nodes = vec![first];
    for (i, b) in [stub(), stub(), llm.clone(), llm].into_iter().enumerate() {
        nodes.push(P2pNode::start(
            &format!("p{}", i + 1),
            b,
            std::slice::from_ref(&boot),
            true,
        ));
    }
    let mut ids = Vec::new();
    for n in &nodes {
        let (_, v) = n.peers().await;
        ids.push(v["peer_id"].as_str().unwrap().to_string());
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "one identity per node: {ids:?}");
    assert!(
        ids.iter().all(|i| i.starts_with("16Uiu2")),
        "secp256k1 peer ids (the node key): {ids:?}"
    );

    // Every node hears the four others' ads, with what they serve.
    for (k, n) in nodes.iter().enumerate() {
        let v = eventually(
            &format!("node p{k} lists the four others"),
            Duration::from_secs(60),
            || async {
                let (_, v) = n.peers().await;
                let listed: Vec<String> = v["peers"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| p["peer_id"].as_str().map(str::to_string))
                    .collect();
                let want: Vec<&String> = ids.iter().filter(|i| **i != ids[k]).collect();
                want.iter().all(|w| listed.contains(w)).then_some(v)
            },
        )
        .await;
        let peers = v["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 4, "only the others, not itself: {v}");
        for p in peers {
            let j = ids
                .iter()
                .position(|i| i == p["peer_id"].as_str().unwrap())
                .unwrap();
            let models: Vec<&str> = p["models"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if j >= 3 {
                assert!(
                    !models.is_empty() && !models.contains(&infernet::backend::STUB_MODEL),
                    "p{j} serves the real model: {p}"
                );
            } else {
                assert_eq!(models, [infernet::backend::STUB_MODEL], "p{j}: {p}");
            }
            assert!(
                p["tags"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("c0mpute:role:infernet")),
                "{p}"
            );
            assert!(p["gpu"].is_string(), "{p}");
            assert_eq!(p["hardware"]["price_usd"], 0.01, "{p}");
        }
        assert_eq!(v["refused"], 0, "{v}");
    }

    // The operator's view: `infernet peers` of the last node.
    let last = nodes.last().unwrap();
    let out = infernet_cmd(last.home.path())
        .args(["peers", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["peer_id"], json!(ids[4]));
    assert_eq!(v["peers"].as_array().unwrap().len(), 4);
    let out = infernet_cmd(last.home.path())
        .arg("peers")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&ids[4]), "{text}");
    assert!(text.contains(infernet::backend::STUB_MODEL), "{text}");
    assert!(!last.log().contains("capability ad refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_p2p_says_so() {
    let n = P2pNode::start("off", stub(), &[], false);
    let (st, v) = n.peers().await;
    assert_eq!((st, &v["enabled"]), (200, &json!(false)), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("p2p.enabled"), "{v}");
    let out = infernet_cmd(n.home.path()).arg("peers").output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("p2p is off on this node"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
