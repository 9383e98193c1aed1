//! Faults the on-chain node must survive: `kill -9` between sending a delivery and its receipt,
//! and the RPC endpoint gone for 30 s.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::{Bytes, U256};
use alloy::providers::Provider;
use common::chain::{
    NODE, TestChain, addr, echo_node, eventually, info, node_config, sub_view, wait_node_block,
};
use common::proxy::Proxy;
use common::{NativeEcho, free_port, infernet_cmd, remote, start, wait_port};
use serde_json::json;
use std::process::{Child, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn spawn_node(home: &std::path::Path, config: &std::path::Path) -> Child {
    infernet_cmd(home)
        .args(["start", "--foreground", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_between_send_and_receipt_neither_loses_nor_doubles() {
    let Some(chain) = TestChain::start(0, &[]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let consumer = chain.callback_consumer().await;
    // From here on blocks are mined only when the test says so.
    chain.rpc("evm_setAutomine", json!([false])).await;
    let pending = consumer
        .request("echo".into(), Bytes::from_static(b"once"), 1)
        .send()
        .await
        .unwrap();
    chain.mine().await;
    pending.get_receipt().await.unwrap();

    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = node_config(
        home.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    cfg.server.port = port;
    let file = home.path().join("config.json");
    std::fs::write(&file, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let base = format!("http://127.0.0.1:{port}");

    let mut node = spawn_node(home.path(), &file);
    wait_port(port, Duration::from_secs(30));
    // The node signs and broadcasts; nothing mines it.
    eventually("the delivery to be sent", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"].as_str()?.contains("sent").then_some(())
    })
    .await;
    node.kill().unwrap(); // SIGKILL
    node.wait().unwrap();

    let mut node = spawn_node(home.path(), &file);
    wait_port(port, Duration::from_secs(30));
    let s = eventually("confirmed after the restart", T, || async {
        chain.mine().await;
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"]
            .as_str()?
            .contains("confirmed")
            .then_some(s)
    })
    .await;
    // A few more blocks, each seen by the node (it checks its transactions on every block):
    // nothing else gets sent.
    for _ in 0..5 {
        chain.mine().await;
        let block = chain.user.get_block_number().await.unwrap();
        wait_node_block(&base, block).await;
    }
    assert_eq!(
        consumer.deliveryCount(1, 1).call().await.unwrap(),
        U256::from(1),
        "{s}"
    );
    let sent = chain.user.get_transaction_count(addr(NODE)).await.unwrap();
    assert_eq!(
        sent, 1,
        "the node sent {sent} transactions for one delivery"
    );
    node.kill().unwrap();
    let _ = node.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rpc_cut_for_30_seconds_is_survived_and_due_work_delivered() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let echo = NativeEcho::start("echo");
    let mut proxy = Proxy::start(([127, 0, 0, 1], chain.anvil.port).into()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &proxy.url(),
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let (h, base) = start(cfg).await;
    let consumer = chain.subscription_consumer().await;
    consumer
        .create("echo".into(), 1, 0, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    eventually("a first delivery through the proxy", T, || async {
        (consumer.deliveryCount(1, 1).call().await.unwrap() == U256::from(1)).then_some(())
    })
    .await;

    proxy.cut().await;
    // Due during the outage: interval 1 opens 25 s after creation and lasts 25 s.
    consumer
        .create("echo".into(), 2, 25, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let created = chain.now().await;
    // The node notices the endpoint is gone; its REST stays up meanwhile.
    let i = eventually("the node to report the RPC failing", T, || async {
        let i = info(&base)
            .await
            .expect("REST stays up while the RPC is gone");
        (i["chain"]["status"]["rpc"]["ok"] == false).then_some(i)
    })
    .await;
    assert!(
        i["chain"]["status"]["rpc"]["last_error"].is_string(),
        "{}",
        i["chain"]["status"]["rpc"]
    );
    // The outage lasts 30 s of block time (read from anvil itself, not through the proxy), so
    // interval 1 falls due while it lasts.
    eventually(
        "30 s of block time without the RPC",
        Duration::from_secs(120),
        || async { (chain.now().await >= created + 30).then_some(()) },
    )
    .await;
    proxy.restore().await;

    eventually(
        "interval 1 of the subscription created during the outage",
        T,
        || async {
            (consumer.deliveryCount(2, 1).call().await.unwrap() == U256::from(1)).then_some(())
        },
    )
    .await;
    let i = info(&base).await.unwrap();
    assert_eq!(i["chain"]["status"]["rpc"]["ok"], true);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_delivery_is_replaced_with_higher_fees() {
    let Some(chain) = TestChain::start(0, &[]).await else {
        return;
    };
    let consumer = chain.callback_consumer().await;
    chain.rpc("evm_setAutomine", json!([false])).await;
    let node = echo_node(&chain, &chain.url, NODE, |c| {
        c.chain.wallet.replace_after_blocks = 2;
    })
    .await;
    let (h, base) = (node.handle, node.base);
    let pending = consumer
        .request("echo".into(), Bytes::from_static(b"stuck"), 1)
        .send()
        .await
        .unwrap();
    chain.mine().await;
    pending.get_receipt().await.unwrap();
    let first = eventually("the first send", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_tx"].as_str().map(str::to_string)
    })
    .await;
    // The base fee jumps far above what the transaction offers: it cannot be mined.
    chain
        .rpc("anvil_setNextBlockBaseFeePerGas", json!(["0x174876e8000"]))
        .await; // 1600 gwei
    let s = eventually("confirmed through a replacement", T, || async {
        chain.mine().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"]
            .as_str()?
            .contains("confirmed")
            .then_some(s)
    })
    .await;
    let confirmed = s["last_tx"].as_str().unwrap();
    assert_ne!(
        confirmed, first,
        "the mined transaction is a replacement: {s}"
    );
    assert_eq!(
        consumer.deliveryCount(1, 1).call().await.unwrap(),
        U256::from(1)
    );
    let sent = chain.user.get_transaction_count(addr(NODE)).await.unwrap();
    assert_eq!(sent, 1, "one nonce used");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_reorged_out_is_delivered_again() {
    let Some(chain) = TestChain::start(0, &[]).await else {
        return;
    };
    let consumer = chain.callback_consumer().await;
    chain.rpc("evm_setAutomine", json!([false])).await;
    // Through a proxy that counts its RPC calls: the test sees when it looks a receipt up.
    let proxy = Proxy::start(([127, 0, 0, 1], chain.anvil.port).into()).await;
    let node = echo_node(&chain, &proxy.url(), NODE, |c| {
        c.chain.trail_head_blocks = 2;
        c.chain.wallet.replace_after_blocks = 2;
    })
    .await;
    let (h, base) = (node.handle, node.base);
    let pending = consumer
        .request("echo".into(), Bytes::from_static(b"reorg"), 1)
        .send()
        .await
        .unwrap();
    chain.mine().await;
    pending.get_receipt().await.unwrap();
    // Two more blocks: the request is now `trail_head_blocks` deep, so the node sees it.
    chain.mine().await;
    chain.mine().await;
    eventually("the delivery to be sent", T, || async {
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"].as_str()?.contains("sent").then_some(())
    })
    .await;
    // The node looks receipts up once per new block, and no block came since it sent.
    let lookups = proxy.calls("eth_getTransactionReceipt");
    chain.mine().await; // the delivery is mined here...
    assert_eq!(
        consumer.deliveryCount(1, 1).call().await.unwrap(),
        U256::from(1)
    );
    let mined = chain.user.get_block_number().await.unwrap();
    wait_node_block(&base, mined).await;
    // ...the node reads its receipt (found; final only `trail_head_blocks` deep)...
    eventually("the node to look the delivery's receipt up", T, || async {
        (proxy.calls("eth_getTransactionReceipt") > lookups).then_some(())
    })
    .await;
    // ...then that block is rolled back and the transaction is gone.
    chain.rpc("anvil_rollback", json!([1])).await;
    let pool = chain.rpc("txpool_content", json!([])).await;
    assert_eq!(
        consumer.deliveryCount(1, 1).call().await.unwrap(),
        U256::ZERO,
        "rolled back; pool {pool}"
    );
    let s = eventually("confirmed after the reorg", T, || async {
        chain.mine().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = sub_view(&info(&base).await?, 1)?;
        s["last_delivery"]
            .as_str()?
            .contains("confirmed")
            .then_some(s)
    })
    .await;
    assert_eq!(
        consumer.deliveryCount(1, 1).call().await.unwrap(),
        U256::from(1),
        "delivered exactly once in the surviving chain: {s}"
    );
    h.shutdown().await;
}
