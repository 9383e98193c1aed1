//! The on-chain node against a real anvil with our contracts: subscriptions discovered, run
//! through real workflow containers (our echo binary as a remote container) and delivered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::Bytes;
use alloy::sol_types::SolValue;
use common::chain::{
    NODE, NODE2, TestChain, addr, echo_node, eventually, info, node_config, sub_view,
    wait_node_time,
};
use common::{NativeEcho, remote, start};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// The echo container's JSON answer, from a delivered `output` = abi.encode(string json).
fn echoed(output: &Bytes) -> Value {
    let (s,) = <(String,)>::abi_decode_params(output).expect("output is abi.encode(string)");
    serde_json::from_str(&s).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_subscription_delivers_the_exact_output() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let (h, base) = (node.handle, node.base);
    let consumer = chain.callback_consumer().await;
    let inputs = Bytes::from_static(b"hello chain");
    let receipt = consumer
        .request("echo".into(), inputs.clone(), 1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let id = 1u32;
    eventually("the delivery", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.unwrap();
        (n == alloy::primitives::U256::from(1)).then_some(())
    })
    .await;
    let d = consumer
        .delivery(id, 1, alloy::primitives::U256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(d.node, addr(NODE));
    assert_eq!(d.redundancy, 1);
    assert!(d.input.is_empty() && d.proof.is_empty());
    assert_eq!(d.containerId, alloy::primitives::B256::ZERO);
    let out = echoed(&d.output);
    assert_eq!(out["echo"], alloy::hex::encode(&inputs), "{out}");
    assert_eq!(out["source"], 0);
    assert_eq!(out["destination"], 0);
    let v = eventually("confirmed in /info", T, || async {
        let i = info(&base).await.unwrap();
        let s = sub_view(&i, id)?;
        s["last_delivery"]
            .as_str()?
            .contains("confirmed")
            .then_some(i)
    })
    .await;
    assert_eq!(v["chain"]["enabled"], true);
    assert_eq!(v["chain"]["address"], addr(NODE).to_string());
    assert_eq!(v["chain"]["status"]["delivered"], 1);
    // The same on /metrics, with the gas it cost and the head it follows.
    let text = common::http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |k: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(r#"infernet_chain_deliveries_total{outcome="delivered"}"#),
        1.0
    );
    assert!(value("infernet_chain_gas_used_total") > 21_000.0, "{text}");
    assert!(value("infernet_chain_head_block") >= 1.0, "{text}");
    assert_eq!(value("infernet_chain_rpc_up"), 1.0);
    assert_eq!(value("infernet_chain_rpc_errors_total"), 0.0);
    h.shutdown().await;
}

async fn deliveries(
    consumer: &common::chain::TestSubscriptionConsumer::TestSubscriptionConsumerInstance<
        alloy::providers::DynProvider,
    >,
    id: u32,
    interval: u32,
) -> u64 {
    consumer
        .deliveryCount(id, interval)
        .call()
        .await
        .unwrap()
        .to::<u64>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recurring_subscription_delivers_every_interval_with_its_inputs() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let (h, base) = (node.handle, node.base);
    let consumer = chain.subscription_consumer().await;
    for (n, text) in [(1u32, "first"), (2, "second"), (3, "third")] {
        consumer
            .setIntervalInputs(n, Bytes::from(text.as_bytes().to_vec()))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    // 3 intervals of 4 s, starting one period after creation.
    consumer
        .create("echo".into(), 3, 4, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let id = 1u32;
    for (n, text) in [(1u32, "first"), (2, "second"), (3, "third")] {
        eventually(&format!("interval {n}"), T, || async {
            (deliveries(&consumer, id, n).await == 1).then_some(())
        })
        .await;
        let d = consumer
            .delivery(id, n, alloy::primitives::U256::ZERO)
            .call()
            .await
            .unwrap();
        assert_eq!(
            echoed(&d.output)["echo"],
            alloy::hex::encode(text),
            "interval {n}"
        );
    }
    let v = eventually("completed", T, || async {
        let s = sub_view(&info(&base).await?, id)?;
        (s["status"] == "completed").then_some(s)
    })
    .await;
    assert!(
        v["reason"].as_str().unwrap().contains("all 3 interval"),
        "{v}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redundancy_two_is_served_by_two_nodes() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c1 = node_config(
        d1.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let c2 = node_config(
        d2.path(),
        &chain,
        &chain.url,
        NODE2,
        vec![remote("echo", &echo.url())],
    );
    let (h1, _) = start(c1).await;
    let (h2, _) = start(c2).await;
    let consumer = chain.callback_consumer().await;
    consumer
        .request("echo".into(), Bytes::from_static(b"x"), 2)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    eventually("two deliveries", T, || async {
        let n = consumer
            .deliveryCount(1, 1)
            .call()
            .await
            .unwrap()
            .to::<u64>();
        (n == 2).then_some(())
    })
    .await;
    let a = consumer
        .delivery(1, 1, alloy::primitives::U256::ZERO)
        .call()
        .await
        .unwrap();
    let b = consumer
        .delivery(1, 1, alloy::primitives::U256::from(1))
        .call()
        .await
        .unwrap();
    let mut nodes = [a.node, b.node];
    nodes.sort();
    let mut want = [addr(NODE), addr(NODE2)];
    want.sort();
    assert_eq!(nodes, want);
    assert_eq!((a.redundancy, b.redundancy), (1, 2));
    h1.shutdown().await;
    h2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancellation_stops_deliveries() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let (h, base) = (node.handle, node.base);
    let consumer = chain.subscription_consumer().await;
    consumer
        .create("echo".into(), 10, 3, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    eventually("interval 1", T, || async {
        (deliveries(&consumer, 1, 1).await == 1).then_some(())
    })
    .await;
    consumer
        .cancel(1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let v = eventually("cancelled in /info", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        (s["status"] == "cancelled").then_some(s)
    })
    .await;
    assert_eq!(v["reason"], "Subscription cancelled");
    // Two more periods pass (the node sees their blocks): nothing is delivered after the
    // cancellation.
    let cancelled = chain.now().await;
    wait_node_time(&base, cancelled + 7).await;
    let total = consumer.totalDeliveries().call().await.unwrap().to::<u64>();
    assert!(total <= 2, "deliveries after cancelling: {total}");
    let after = deliveries(&consumer, 1, 3).await + deliveries(&consumer, 1, 4).await;
    assert_eq!(after, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_and_unsupported_subscriptions_are_skipped_with_a_reason() {
    let Some(chain) = TestChain::start(0, &[]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let consumer = chain.subscription_consumer().await;
    // 1: one interval of 2 s, long gone by the time the node starts.
    consumer
        .create("echo".into(), 1, 2, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    chain.warp(100).await;
    // 2: a pipeline this node does not run.
    consumer
        .create("other".into(), 1, 0, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let (h, base) = start(cfg).await;
    let i = eventually("both judged", T, || async {
        let i = info(&base).await.unwrap();
        (sub_view(&i, 1).is_some() && sub_view(&i, 2).is_some()).then_some(i)
    })
    .await;
    let (s1, s2) = (sub_view(&i, 1).unwrap(), sub_view(&i, 2).unwrap());
    assert_eq!(s1["status"], "expired", "{s1}");
    assert!(
        s1["reason"].as_str().unwrap().contains("last interval"),
        "{s1}"
    );
    assert_eq!(s2["status"], "ignored", "{s2}");
    assert!(
        s2["reason"]
            .as_str()
            .unwrap()
            .starts_with("Container-set not supported"),
        "{s2}"
    );
    assert_eq!(
        consumer.totalDeliveries().call().await.unwrap().to::<u64>(),
        0
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reverting_consumer_costs_one_interval_not_the_subscription() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let (h, base) = (node.handle, node.base);
    let consumer = chain.subscription_consumer().await;
    consumer
        .setRevertAtInterval(1, true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    consumer
        .create("echo".into(), 2, 8, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let s = eventually("interval 1 given up", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"]
            .as_str()?
            .contains("given_up")
            .then_some(s)
    })
    .await;
    let text = s["last_delivery"].as_str().unwrap();
    assert!(text.starts_with("interval 1: given_up"), "{text}");
    assert!(text.contains("gave up after 3 failed attempts"), "{text}");
    assert!(
        text.contains("TestConsumer: reverting on purpose"),
        "{text}"
    );
    eventually("interval 2 delivered", T, || async {
        (deliveries(&consumer, 1, 2).await == 1).then_some(())
    })
    .await;
    assert_eq!(deliveries(&consumer, 1, 1).await, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_key_outputs_are_delivered_as_abi_pairs() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let echo = NativeEcho::start_with("ritual", &[("ECHO_MODE", "ritual")]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("ritual", &echo.url())],
    );
    let (h, _) = start(cfg).await;
    let consumer = chain.callback_consumer().await;
    consumer
        .request("ritual".into(), Bytes::from_static(&[0xca, 0xfe]), 1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    eventually("the delivery", T, || async {
        (consumer
            .deliveryCount(1, 1)
            .call()
            .await
            .unwrap()
            .to::<u64>()
            == 1)
            .then_some(())
    })
    .await;
    let d = consumer
        .delivery(1, 1, alloy::primitives::U256::ZERO)
        .call()
        .await
        .unwrap();
    let (raw_in, processed_in) = <(Bytes, Bytes)>::abi_decode_params(&d.input).unwrap();
    let (raw_out, processed_out) = <(Bytes, Bytes)>::abi_decode_params(&d.output).unwrap();
    assert_eq!(raw_in.to_vec(), vec![0xca, 0xfe]);
    assert!(processed_in.is_empty() && processed_out.is_empty());
    assert_eq!(raw_out.to_vec(), vec![0xca, 0xfe, 0xca, 0xfe]);
    assert!(d.proof.is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_resumes_from_the_stored_cursor() {
    let Some(chain) = TestChain::start(1, &["--gas-limit", "500000000"]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let bulk = common::chain::BulkSubscriber::deploy(chain.user.clone(), chain.addrs.registry)
        .await
        .unwrap();
    // 3 000 idle subscriptions (due in a day): 30 batches of 100 on a fresh sync.
    bulk.createMany(3_000, "echo".into(), 1, 86_400)
        .gas(400_000_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let proxy = common::proxy::Proxy::start(([127, 0, 0, 1], chain.anvil.port).into()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config(
        dir.path(),
        &chain,
        &proxy.url(),
        NODE,
        vec![remote("echo", &echo.url())],
    );
    cfg.chain.snapshot_sync.batch_size = 100;
    let synced = |base: String| async move {
        eventually("synced", T, || {
            let base = base.clone();
            async move {
                let i = info(&base).await.unwrap();
                let s = &i["chain"]["status"];
                (s["synced_sub_id"] == 3000 && s["tracked"] == 3000).then_some(())
            }
        })
        .await
    };
    let before = proxy.requests();
    let (h, base) = start(cfg.clone()).await;
    synced(base).await;
    let fresh = proxy.requests() - before;
    h.shutdown().await;

    let before = proxy.requests();
    let (h, base) = start(cfg).await;
    synced(base.clone()).await;
    let resumed = proxy.requests() - before;
    assert!(
        fresh >= 30,
        "a fresh sync reads every batch: {fresh} requests"
    );
    assert!(
        resumed < 15,
        "a restart must not re-read the subscriptions: {resumed} requests"
    );
    let i = info(&base).await.unwrap();
    assert_eq!(i["chain"]["status"]["head_sub_id"], 3000);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lazy_subscription_is_delivered_through_the_inbox() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let consumer = chain.subscription_consumer().await;
    consumer
        .setInputs(Bytes::from_static(b"lazy input"))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(
        consumer
            .create("echo".into(), 1, 0, 1, true)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    let id = 1u32;
    eventually("the lazy delivery", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.ok()?;
        (n == alloy::primitives::U256::from(1)).then_some(())
    })
    .await;
    // The consumer got a pointer into the Inbox, not the payload.
    let d = consumer
        .delivery(id, 1, alloy::primitives::U256::ZERO)
        .call()
        .await
        .unwrap();
    assert!(
        d.output.is_empty() && d.input.is_empty(),
        "lazy payloads are empty"
    );
    let cid = infernet::chain::subscription::container_set_hash(&["echo".to_string()]);
    assert_eq!(d.containerId, cid);
    let inbox = infernet::chain::abi::Inbox::new(chain.addrs.inbox, chain.user.clone());
    let item = inbox.read(cid, addr(NODE), d.index).call().await.unwrap();
    assert_eq!((item.subscriptionId, item.interval), (id, 1));
    let out = echoed(&item.output);
    assert_eq!(out["echo"], alloy::hex::encode(b"lazy input"), "{out}");
    let _ = node;
}

/// The ledger's (state, attempts) of one interval, read from the node's store.
fn ledger_row(store: &std::path::Path, sub: u32, interval: u32) -> Option<(String, u32)> {
    let c = rusqlite::Connection::open(store).unwrap();
    c.query_row(
        "SELECT state, attempts FROM deliveries WHERE sub_id = ?1 AND interval = ?2",
        rusqlite::params![sub, interval],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_whose_owner_has_no_code_is_given_up_at_once() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let (h, base) = start(cfg.clone()).await;
    // An account without code owns it: getContainerInputs answers `0x`.
    let eoa = infernet::chain::abi::EIP712Coordinator::new(
        chain.addrs.coordinator,
        chain.signer(0).await,
    );
    let zero = alloy::primitives::Address::ZERO;
    eoa.createSubscription(
        "echo".into(),
        1,
        0,
        1,
        false,
        zero,
        alloy::primitives::U256::ZERO,
        zero,
        zero,
    )
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    let s = eventually("subscription 1 finished", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        (s["status"] == "completed").then_some(s)
    })
    .await;
    let reason = s["reason"].as_str().unwrap().to_string();
    assert!(
        reason.starts_with("its interval was given up: the owner")
            && reason.contains("no consumer contract"),
        "{s}"
    );
    let store = dir.path().join("infernet.db");
    assert_eq!(
        ledger_row(&store, 1, 1),
        Some(("given_up".to_string(), 0)),
        "given up without retries"
    );
    let i = info(&base).await.unwrap();
    let rpc = &i["chain"]["status"]["rpc"];
    assert_eq!(rpc["ok"], true, "the RPC is not blamed: {rpc}");
    assert_eq!(rpc["errors"], 0, "{rpc}");
    h.shutdown().await;

    // After a restart /info still lists it, from the store, with its reason and last delivery.
    let (h, base) = start(cfg).await;
    let s = eventually("subscription 1 listed again", T, || async {
        sub_view(&info(&base).await?, 1)
    })
    .await;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["reason"], reason.as_str(), "{s}");
    let last = s["last_delivery"].as_str().unwrap();
    assert!(last.starts_with("interval 1: given_up (the owner"), "{s}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nonce_taken_by_the_operator_costs_no_delivery_attempt() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let consumer = chain.callback_consumer().await;
    let request = |n: u8| {
        let c = consumer.clone();
        async move {
            let r = c
                .request("echo".into(), Bytes::from(vec![n]), 1)
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            assert!(r.status());
        }
    };
    let delivered = |id: u32| {
        let c = consumer.clone();
        async move {
            eventually("the delivery", T, || async {
                let n = c.deliveryCount(id, 1).call().await.unwrap();
                (n == alloy::primitives::U256::from(1)).then_some(())
            })
            .await
        }
    };
    request(1).await;
    delivered(1).await;
    // The operator sends from the node's key (as `infernet wallet fund` does): the node's
    // next nonce is taken.
    let own = chain.signer(NODE).await;
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(addr(0))
        .value(alloy::primitives::U256::from(1));
    use alloy::providers::Provider;
    assert!(
        own.send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    request(2).await;
    delivered(2).await;
    eventually("interval recorded confirmed", T, || async {
        let (state, attempts) = ledger_row(&node.store(), 2, 1)?;
        (state == "confirmed").then_some(attempts)
    })
    .await;
    assert_eq!(
        ledger_row(&node.store(), 2, 1),
        Some(("confirmed".to_string(), 0)),
        "no attempt lost to the nonce"
    );
    node.handle.shutdown().await;
}
