//! The c0mpute substrate with real processes: five `infernet start --foreground` nodes on
//! loopback (their own keys, ports and config dirs; the stub backend on three, a real
//! llama-server behind two) join from one bootstrap address and hear each other's
//! capability ads; `infernet peers` shows the table; `infernet chat --p2p` buys answers: the
//! cheapest eligible bid wins, tokens stream from the worker, the receipt verifies, and a
//! worker killed mid-job is replaced by the next offer without a gap or a repeat.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;
#[path = "support/rogue.rs"]
mod rogue;

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
                    "bootstrap": bootstrap, "price_usd": price, "bid_window": 1.5,
                    "stream_wait": 3},
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

/// The answer in `events` came from `worker` (the meta names it) and its tokens are `text`.
fn assert_answer(events: &[Value], worker: &str, text: &str) {
    assert!(
        events[0]["backend"].as_str().unwrap().ends_with(worker),
        "{:?}",
        events[0]
    );
    let tokens: String = events
        .iter()
        .filter(|e| e["type"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, text);
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
    assert_answer(&events, &ids[1], &canned_reply("hello swarm"));
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

/// A rogue peer on the swarm (a real libp2p peer the test scripts, `support/rogue.rs`): what
/// it forges or floods is refused, counted and logged, and what it wins but never delivers
/// is offered again. Ads and beats in another's name, ads 10 min old or over 64 KiB are not
/// taken; an offer in the buyer's name gets no bid; a flood of offers is cut at 30 a minute; and during a real
/// chat: a bid in the worker's name is refused, the rogue's own cheapest bid wins and it
/// never streams, so the buyer offers again without it; a forged accept does not cancel the
/// real winner's job, and a forged receipt does not spoil the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_peer_is_refused_and_a_winner_that_never_streams_is_replaced() {
    use infernet::backend::{STUB_MODEL, stub_reply};
    use infernet_core::c0mpute::{
        CapabilityAd, JobAccept, JobBid, JobMessage, JobOffer, JobReceipt, ROLE_TAG, ReceiptStatus,
        TOPIC_CAP, TOPIC_HEARTBEAT, WORKLOAD_INFERENCE, jobs_topic, model_tag,
    };
    use rogue::{Rogue, Seen};
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let buyer = P2pNode::priced("b", stub(), &[], true, 0.5);
    let boot = buyer.address().await;
    let worker = P2pNode::priced("w", stub(), std::slice::from_ref(&boot), true, 0.02);
    let w_addr = worker.address().await;
    let id = |v: Value| v["peer_id"].as_str().unwrap().to_string();
    let (b_id, w_id) = (id(buyer.peers().await.1), id(worker.peers().await.1));
    for (n, other) in [(&buyer, &w_id), (&worker, &b_id)] {
        eventually(
            "the two nodes hear each other",
            Duration::from_secs(60),
            || async {
                let (_, v) = n.peers().await;
                v["peers"]
                    .as_array()?
                    .iter()
                    .any(|p| p["peer_id"] == json!(other))
                    .then_some(())
            },
        )
        .await;
    }
    let mut rogue = Rogue::start(&[boot.parse().unwrap(), w_addr.parse().unwrap()]);
    rogue
        .joined(&[b_id.parse().unwrap(), w_id.parse().unwrap()])
        .await;
    let jobs = jobs_topic(WORKLOAD_INFERENCE);
    let r_id = rogue.id.to_string();
    let ad = |peer: &str, model: &str, at: i64| {
        serde_json::to_vec(&CapabilityAd {
            peer_id: peer.to_string(),
            tags: vec![ROLE_TAG.into(), "c0mpute:gpu:none".into(), model_tag(model)],
            hardware: json!({"price_usd": 0.001}),
            published_at_ms: at,
        })
        .unwrap()
    };

    // 1. Ads: one in the worker's name (it would make it serve "evil:1"), one 10 min old;
    // heartbeats: one in the worker's name, one in a shape we do not read; an ad over 64 KiB;
    // then its own ad: the forged, stale and oversized messages are refused by both nodes,
    // the other beat passed over, the last ad taken.
    rogue.publish(TOPIC_CAP, ad(&w_id, "evil:1", now())).await;
    rogue
        .publish(TOPIC_CAP, ad(&r_id, "stale:1", now() - 600_000))
        .await;
    let beat = |peer: &str| json!({"peer_id": peer, "published_at_ms": now()}).to_string();
    rogue
        .publish(TOPIC_HEARTBEAT, beat(&w_id).into_bytes())
        .await;
    rogue
        .publish(TOPIC_HEARTBEAT, br#"{"seq": 1}"#.to_vec())
        .await;
    // Over the 64 KiB a message may take (a 100 KB ad in its own name).
    let mut big: Value = serde_json::from_slice(&ad(&r_id, "big:1", now())).unwrap();
    big["hardware"]["padding"] = json!("x".repeat(100_000));
    rogue.publish(TOPIC_CAP, big.to_string().into_bytes()).await;
    rogue.publish(TOPIC_CAP, ad(&r_id, STUB_MODEL, now())).await;
    for n in [&buyer, &worker] {
        let v = eventually(
            "the rogue's own ad is taken",
            Duration::from_secs(30),
            || async {
                let (_, v) = n.peers().await;
                v["peers"]
                    .as_array()?
                    .iter()
                    .any(|p| p["peer_id"] == json!(r_id) && p["models"] == json!([STUB_MODEL]))
                    .then_some(v)
            },
        )
        .await;
        assert_eq!(
            v["refused"], 4,
            "the forged, stale and oversized ads, the forged beat: {v}"
        );
        let models: Vec<&Value> = v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["models"].as_array().unwrap())
            .collect();
        assert!(!models.contains(&&json!("evil:1")), "{v}");
        assert!(!models.contains(&&json!("stale:1")), "{v}");
        assert!(!models.contains(&&json!("big:1")), "{v}");
    }
    let log = buyer.log();
    assert!(
        log.contains(&format!(
            "p2p capability ad refused: sent by {r_id} but names {w_id}"
        )),
        "the forged ad is logged"
    );
    assert!(
        log.contains("ago (older than 5 min)"),
        "the stale ad is logged"
    );
    assert!(
        log.contains(&format!(
            "p2p heartbeat refused: sent by {r_id} but names {w_id}"
        )),
        "the forged beat is logged"
    );
    assert!(
        log.contains("bytes is over the 65536-byte limit"),
        "the oversized ad is logged"
    );

    // 2. An offer in the buyer's name gets no bid; the rogue's own offer does (heard after,
    // from the same worker, so the forged one was decided first).
    let offer = |job: &str, buyer: &str| JobOffer {
        job_id: job.to_string(),
        workload_type: WORKLOAD_INFERENCE.into(),
        buyer_peer_id: buyer.to_string(),
        buyer_did: None,
        spec_hash: "00".into(),
        spec_inline: Some(
            json!({"model": STUB_MODEL, "messages": [{"role": "user", "content": "x"}]}),
        ),
        required_capabilities: vec![ROLE_TAG.into()],
        max_price_usd: 1.0,
        deadline_unix_ms: now() + 60_000,
        published_at_ms: now(),
    };
    let before = worker.peers().await.1;
    let w_refused = before["refused"].as_u64().unwrap();
    let w_bids = before["bids_sent"].as_u64().unwrap();
    let send_offer = |o: JobOffer| JobMessage::Offer(o).to_bytes();
    rogue
        .publish(&jobs, send_offer(offer("forged-offer", &b_id)))
        .await;
    rogue
        .publish(&jobs, send_offer(offer("probe", &r_id)))
        .await;
    let w_peer: libp2p::PeerId = w_id.parse().unwrap();
    let mut forged_bid_seen = false;
    rogue
        .next(
            "the worker's bid on the probe",
            Duration::from_secs(30),
            |s| {
                let Seen::Message { source, data, .. } = s else {
                    return None;
                };
                let Some(JobMessage::Bid(b)) = JobMessage::parse(data) else {
                    return None;
                };
                if *source != Some(w_peer) {
                    return None;
                }
                forged_bid_seen |= b.job_id == "forged-offer";
                (b.job_id == "probe").then_some(())
            },
        )
        .await;
    assert!(!forged_bid_seen, "no bid on the offer in the buyer's name");
    let v = worker.peers().await.1;
    assert_eq!(v["refused"].as_u64(), Some(w_refused + 1), "{v}");
    assert_eq!(v["bids_sent"].as_u64(), Some(w_bids + 1), "{v}");
    assert!(worker.log().contains(&format!(
        "p2p offer refused: sent by {r_id} but names {b_id}"
    )));

    // 3. A flood: 40 offers at once. The worker bids while the burst lasts (30 a minute,
    // one used by the probe) and refuses the rest, each counted.
    for i in 0..40 {
        rogue
            .publish(&jobs, send_offer(offer(&format!("flood-{i}"), &r_id)))
            .await;
    }
    let v = eventually(
        "the worker decides every offer of the flood",
        Duration::from_secs(30),
        || async {
            let (_, v) = worker.peers().await;
            let bids = v["bids_sent"].as_u64()? - w_bids - 1;
            let refused = v["refused"].as_u64()? - w_refused - 1;
            (bids + refused == 40).then_some((bids, refused))
        },
    )
    .await;
    assert!(
        v.0 <= 30 && v.1 >= 10,
        "at most a burst of 30 offers a minute bid on (bids, refused): {v:?}"
    );
    assert!(worker.log().contains("too many offers from this peer"));

    // 4. A real chat from the buyer, the rogue interfering (scripted below).
    let home = buyer.home.path().to_path_buf();
    let prompt = "hello swarm, despite the rogue";
    let mut chat = tokio::task::spawn_blocking(move || {
        let out = infernet_cmd(&home)
            .args(["chat", "--p2p", "--json", "--model", STUB_MODEL, prompt])
            .output()
            .unwrap();
        let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (events, out.status.success())
    });
    let b_peer: libp2p::PeerId = b_id.parse().unwrap();
    let (mut offers, mut won, mut forged_accepts, mut forged_receipts) = (0, 0, 0, 0);
    let mut offered = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let (events, ok) = loop {
        let s = tokio::select! {
            done = &mut chat => break done.unwrap(),
            s = rogue.seen.recv() => s.unwrap(),
            _ = tokio::time::sleep_until(deadline) => panic!("the chat did not end within 90 s"),
        };
        let Seen::Message { source, data, .. } = s else {
            continue;
        };
        let bid = |job: &str, bidder: &str, price: f64| {
            JobMessage::Bid(JobBid {
                job_id: job.to_string(),
                bidder_peer_id: bidder.to_string(),
                bidder_did: None,
                price_usd: price,
                eta_seconds: 1,
                published_at_ms: now(),
            })
            .to_bytes()
        };
        match JobMessage::parse(&data) {
            Some(JobMessage::Offer(o)) if source == Some(b_peer) => {
                offers += 1;
                offered = o.job_id.clone();
                if offers == 1 {
                    // A bid in the worker's name, cheaper than anyone: refused.
                    rogue.publish(&jobs, bid(&o.job_id, &w_id, 0.0)).await;
                }
                // Its own, the cheapest: it wins the first offer and never streams; on the
                // next it is left out.
                rogue.publish(&jobs, bid(&o.job_id, &r_id, 0.001)).await;
            }
            Some(JobMessage::Bid(b))
                if source == Some(w_peer) && offers >= 2 && b.job_id == offered =>
            {
                // The worker bid on the offer made again: an accept in the buyer's name,
                // naming another winner, tries to cancel its job.
                forged_accepts += 1;
                let accept = JobAccept {
                    job_id: b.job_id.clone(),
                    buyer_peer_id: b_id.clone(),
                    winning_bidder_peer_id: r_id.clone(),
                    agreed_price_usd: 0.001,
                    workload_type: WORKLOAD_INFERENCE.into(),
                    spec_inline: None,
                    published_at_ms: now(),
                };
                rogue
                    .publish(&jobs, JobMessage::Accept(accept).to_bytes())
                    .await;
            }
            Some(JobMessage::Accept(a)) if source == Some(b_peer) => {
                if a.winning_bidder_peer_id == r_id {
                    won += 1;
                } else {
                    // A receipt in the winner's name, before the winner's own.
                    forged_receipts += 1;
                    let receipt = JobReceipt {
                        job_id: a.job_id.clone(),
                        worker_peer_id: a.winning_bidder_peer_id.clone(),
                        worker_did: None,
                        buyer_peer_id: b_id.clone(),
                        output_hash: Some("00".repeat(32)),
                        status: ReceiptStatus::Completed,
                        completed_at_ms: now(),
                        signature: Some("00".repeat(64)),
                    };
                    rogue
                        .publish(&jobs, JobMessage::Receipt(receipt).to_bytes())
                        .await;
                }
            }
            _ => {}
        }
    };
    assert!(ok, "{events:?}");
    assert_answer(&events, &w_id, &stub_reply(prompt));
    assert_eq!(
        (won, offers, forged_accepts, forged_receipts),
        (1, 2, 1, 1),
        "the rogue won the first offer; the second went to the worker (won, offers, forged accepts, forged receipts)"
    );
    let v = eventually(
        "the worker's receipt verified",
        Duration::from_secs(20),
        || async {
            let (_, v) = buyer.peers().await;
            (v["receipts_verified"] == 1).then_some(v)
        },
    )
    .await;
    assert_eq!(
        v["receipts_failed"], 0,
        "the forged receipt spoiled nothing: {v}"
    );
    let rogue_row = v["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer_id"] == json!(r_id))
        .unwrap()
        .clone();
    assert_eq!(rogue_row["bids_won"], 1, "{rogue_row}");
    assert_eq!(worker.peers().await.1["jobs_won"], 1);
    let log = buyer.log();
    assert!(log.contains("the winner never streamed; offering again"));
    assert!(
        log.contains(&format!("p2p bid refused: sent by {r_id} but names {w_id}")),
        "the bid in the worker's name is logged"
    );
    assert!(
        log.contains("sent in the place of the winner"),
        "the forged receipt is logged"
    );
    assert!(
        worker.log().contains(&format!(
            "p2p accept refused: sent by {r_id} but names {b_id}"
        )),
        "the forged accept is logged"
    );
}
