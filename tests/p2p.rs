//! The c0mpute substrate with real processes: five `infernet start --foreground` nodes on
//! loopback (their own keys, ports and config dirs; the stub backend on three, a real
//! llama-server behind two) join from one bootstrap address and hear each other's
//! capability ads; `infernet peers` shows the table; `infernet chat --p2p` buys answers: the
//! cheapest eligible bid wins, tokens stream from the worker, the receipt verifies, and a
//! worker killed mid-job is replaced by the next offer without a gap or a repeat.
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
        Self::priced(name, backends, bootstrap, enabled, 0.01)
    }

    fn priced(
        name: &str,
        backends: Value,
        bootstrap: &[String],
        enabled: bool,
        price: f64,
    ) -> Self {
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
                    "bootstrap": bootstrap, "price_usd": price, "bid_window": 1.5},
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

impl P2pNode {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for P2pNode {
    fn drop(&mut self) {
        self.kill();
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

    // A chat for the real model reaches a node serving it (p3 or p4), through p0.
    let llm_model = nodes[0].peers().await.1["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer_id"] == json!(ids[3]))
        .map(|p| p["models"][0].as_str().unwrap().to_string())
        .unwrap();
    let (events, ok) = chat_p2p(&nodes[0], &llm_model, "Name a colour.");
    assert!(ok, "{events:?}");
    let meta = &events[0];
    assert!(
        [&ids[3], &ids[4]]
            .iter()
            .any(|i| meta["backend"].as_str().unwrap().ends_with(i.as_str())),
        "a node serving {llm_model} ran it: {meta}"
    );
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done", "{events:?}");
    assert!(!done["text"].as_str().unwrap().is_empty());
    let v = eventually("the receipt verified", Duration::from_secs(20), || async {
        let (_, v) = nodes[0].peers().await;
        (v["receipts_verified"] == 1).then_some(v)
    })
    .await;
    assert_eq!(v["receipts_failed"], 0, "{v}");
}

/// `infernet chat --p2p --json --model M PROMPT` on `n`: its events, and whether it exited 0.
fn chat_p2p(n: &P2pNode, model: &str, prompt: &str) -> (Vec<Value>, bool) {
    let out = infernet_cmd(n.home.path())
        .args([
            "chat",
            "--p2p",
            "--json",
            "--max-tokens",
            "24",
            "--temperature",
            "0",
            "--model",
            model,
            prompt,
        ])
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (events, out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cheapest_bid_wins_and_a_worker_killed_mid_job_is_replaced() {
    use infernet::backend::{STUB_MODEL, stub_reply as canned_reply};
    use std::io::BufRead;
    let buyer = P2pNode::priced("b", stub(), &[], true, 0.5);
    let boot = buyer.address().await;
    let b = std::slice::from_ref(&boot);
    let mut workers = vec![
        P2pNode::priced("w-dear", stub(), b, true, 0.05),
        P2pNode::priced("w-cheap", stub(), b, true, 0.02),
        P2pNode::priced("w-mid", stub(), b, true, 0.03),
    ];
    let mut ids = Vec::new();
    for w in &workers {
        ids.push(w.peers().await.1["peer_id"].as_str().unwrap().to_string());
    }
    eventually(
        "the buyer hears the three workers",
        Duration::from_secs(60),
        || async {
            let (_, v) = buyer.peers().await;
            (v["peers"].as_array()?.len() == 3).then_some(())
        },
    )
    .await;
    for w in &workers {
        eventually(
            "each worker hears the buyer",
            Duration::from_secs(60),
            || async {
                let (_, v) = w.peers().await;
                (!v["peers"].as_array()?.is_empty()).then_some(())
            },
        )
        .await;
    }

    // The cheapest of three bids wins; the answer is the worker's, streamed; it verifies.
    let (events, ok) = chat_p2p(&buyer, STUB_MODEL, "hello swarm");
    assert!(ok, "{events:?}");
    assert!(
        events[0]["backend"].as_str().unwrap().ends_with(&ids[1]),
        "{:?}",
        events[0]
    );
    let tokens: String = events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, canned_reply("hello swarm"));
    assert_eq!(
        events.last().unwrap()["text"],
        json!(canned_reply("hello swarm"))
    );
    let v = eventually("the receipt verified", Duration::from_secs(20), || async {
        let (_, v) = buyer.peers().await;
        (v["receipts_verified"] == 1).then_some(v)
    })
    .await;
    let won = |id: &str| {
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["peer_id"] == json!(id))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            won(&ids[1])["bids_won"].clone(),
            won(&ids[0])["bids_lost"].clone()
        ),
        (json!(1), json!(1)),
        "{v}"
    );
    assert_eq!(workers[1].peers().await.1["jobs_won"], 1);

    // A long answer; its worker is killed after a few tokens: the buyer offers again, the
    // next cheapest runs it, and the reader gets one text, no gap, no repeat.
    let prompt: String = (0..150)
        .map(|i| format!("w{i} "))
        .collect::<String>()
        .trim_end()
        .to_string();
    let mut child = infernet_cmd(buyer.home.path())
        .args(["chat", "--p2p", "--json", "--model", STUB_MODEL, &prompt])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut events: Vec<Value> = Vec::new();
    for l in lines.lines() {
        let ev: Value = serde_json::from_str(&l.unwrap()).unwrap();
        events.push(ev);
        if events.iter().filter(|e| e["type"] == "token").count() == 5 {
            assert!(
                events[0]["backend"].as_str().unwrap().ends_with(&ids[1]),
                "{:?}",
                events[0]
            );
            workers[1].kill();
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{events:?}");
    let tokens: String = events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        tokens,
        canned_reply(&prompt),
        "one text across the two workers"
    );
    assert_eq!(events.last().unwrap()["type"], "done");
    assert_eq!(
        workers[2].peers().await.1["jobs_won"],
        1,
        "the next cheapest ran it"
    );
    eventually(
        "the second receipt verified",
        Duration::from_secs(20),
        || async {
            let (_, v) = buyer.peers().await;
            (v["receipts_verified"] == 2).then_some(())
        },
    )
    .await;
    assert!(
        buyer.log().contains("offering again"),
        "the buyer says why it offered again"
    );
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

/// `infernet run`, as c0mpute's infernet plugin calls it: a spec on stdin (or a file), the
/// result as JSON with blake3 of the output; a spec that does not read exits 2, a model no
/// backend serves exits 1, each with the reason.
#[test]
fn infernet_run_executes_one_workload_from_a_spec() {
    use infernet::backend::{STUB_MODEL, stub_reply};
    use std::io::Write;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("infernet");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        json!({"backends": [{"id": "stub", "kind": "stub"}]}).to_string(),
    )
    .unwrap();
    let run = |input: &str, args: &[&str]| {
        let mut c = infernet_cmd(home.path())
            .arg("run")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), v)
    };
    let spec = json!({"model": STUB_MODEL, "messages": [{"role": "user", "content": "hi there"}]});
    let (code, v) = run(&spec.to_string(), &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"], json!(stub_reply("hi there")));
    assert_eq!(
        v["output_hash"],
        json!(
            blake3::hash(stub_reply("hi there").as_bytes())
                .to_hex()
                .to_string()
        )
    );
    let file = home.path().join("spec.json");
    std::fs::write(&file, spec.to_string()).unwrap();
    let (code, v) = run("", &[file.to_str().unwrap()]);
    assert_eq!((code, &v["status"]), (Some(0), &json!("completed")), "{v}");
    let (code, v) = run("{\"messages\": []}", &[]);
    assert_eq!(code, Some(2), "{v}");
    assert_eq!(v["error"], "the spec has no messages");
    let (code, v) = run("not json", &[]);
    assert_eq!(code, Some(2));
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("the spec is not JSON"),
        "{v}"
    );
    let other = json!({"model": "absent:1b", "messages": [{"role": "user", "content": "x"}]});
    let (code, v) = run(&other.to_string(), &[]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["error"], "no configured backend serves absent:1b");
}
