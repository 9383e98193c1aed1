//! On-chain node performance against a real anvil (interval mining, 1 s blocks):
//!
//! 1. Sync: time to discover N subscriptions (default 100 000, created in bulk by a helper
//!    contract), node vs the direct path (the same Reader batch reads with nothing else done).
//! 2. RPC calls per idle minute with every one of them tracked (idle: due in a day), counted at
//!    a TCP proxy of ours in front of anvil.
//! 3. Blocks from a subscription becoming active to its delivery being mined.
//!
//! `eval "$(./scripts/provision-chain.sh)" && cargo bench --bench chain`
//! (env: BENCH_SUBS=100000, BENCH_IDLE_SECS=60, BENCH_LATENCY_ROUNDS=5)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#[path = "../tests/common/mod.rs"]
mod common;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use common::chain::{BulkSubscriber, NODE, TestChain, eventually, node_config};
use common::proxy::Proxy;
use common::{NativeEcho, remote};
use futures::StreamExt;
use infernet::chain::abi::{EIP712Coordinator, Reader};
use std::time::{Duration, Instant};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let n = env_u64("BENCH_SUBS", 100_000) as u32;
    let idle_secs = env_u64("BENCH_IDLE_SECS", 60);
    let rounds = env_u64("BENCH_LATENCY_ROUNDS", 5);
    let chain = TestChain::start(1, &["--gas-limit", "3000000000"])
        .await
        .expect("anvil (run scripts/provision-chain.sh)");

    // Bulk creation: 10 000 per transaction, all due in a day (idle).
    let bulk = BulkSubscriber::deploy(chain.user.clone(), chain.addrs.registry)
        .await
        .unwrap();
    let t = Instant::now();
    let per_tx = 10_000u32;
    let mut made = 0u32;
    while made < n {
        let k = per_tx.min(n - made);
        bulk.createMany(k, "echo".into(), 1, 86_400)
            .gas(2_500_000_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        made += k;
    }
    println!(
        "created {n} subscriptions in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    // Direct path: the Reader batches alone (batch 500, 4 in flight, like the node).
    let reader = Reader::new(chain.addrs.reader, chain.user.clone());
    let head = chain.user.get_block_number().await.unwrap();
    let t = Instant::now();
    let ranges: Vec<(u32, u32)> = (1..=n)
        .step_by(500)
        .map(|a| (a, (a + 500).min(n + 1)))
        .collect();
    let total: usize = futures::stream::iter(ranges.into_iter().map(|(a, b)| {
        let reader = reader.clone();
        async move {
            reader
                .readSubscriptionBatch(a, b)
                .block(BlockId::number(head))
                .call()
                .await
                .unwrap()
                .len()
        }
    }))
    .buffered(4)
    .fold(0, |acc, k| async move { acc + k })
    .await;
    let direct = t.elapsed();
    assert_eq!(total, n as usize);

    // The node, behind the counting proxy.
    let echo = NativeEcho::start("echo");
    let proxy = Proxy::start(([127, 0, 0, 1], chain.anvil.port).into()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &proxy.url(),
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let t = Instant::now();
    let h = infernet::engine::Engine::start(cfg).await.unwrap();
    let snap = h.snapshot();
    eventually("sync", Duration::from_secs(600), || {
        let s = snap.borrow().clone();
        async move {
            let c = s.chain.as_ref()?;
            (c.synced_sub_id >= n && c.tracked >= n as usize).then_some(())
        }
    })
    .await;
    let node = t.elapsed();
    println!(
        "sync of {n} subscriptions: node {:.2}s (target <= 10 s), direct Reader reads {:.2}s, node/direct {:.2}x",
        node.as_secs_f64(),
        direct.as_secs_f64(),
        node.as_secs_f64() / direct.as_secs_f64()
    );

    // Idle RPC calls with everything tracked.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = proxy.requests();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let calls = proxy.requests() - before;
    let per_min = calls as f64 * 60.0 / idle_secs as f64;
    println!(
        "idle: {calls} RPC requests in {idle_secs}s with {n} tracked subscriptions = {per_min:.0}/min (target <= 120)"
    );

    h.shutdown().await;
    drop(chain);

    // Activation to delivery, in blocks, on a fresh chain: with 100 000 subscriptions stored,
    // anvil answered eth_call/eth_estimateGas about a second late and left a delivery out of the
    // next block (most likely recomputing the coordinator's large storage trie per block), which
    // measures anvil, not the node.
    let chain = TestChain::start(1, &[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let h = infernet::engine::Engine::start(cfg).await.unwrap();
    let consumer = chain.subscription_consumer().await;
    let coordinator = EIP712Coordinator::new(chain.addrs.coordinator, chain.user.clone());
    let mut lags = Vec::new();
    for _ in 0..rounds {
        let r = consumer
            .create("echo".into(), 1, 3, 1, false)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let created = r
            .inner
            .logs()
            .iter()
            .find_map(|l| {
                l.log_decode::<EIP712Coordinator::SubscriptionCreated>()
                    .ok()
            })
            .unwrap()
            .inner
            .data
            .id;
        let s = coordinator.getSubscription(created).call().await.unwrap();
        let filter = Filter::new()
            .address(chain.addrs.coordinator)
            .event_signature(EIP712Coordinator::SubscriptionFulfilled::SIGNATURE_HASH)
            .topic1(U256::from(created))
            .from_block(r.block_number.unwrap());
        let log = eventually("delivery", Duration::from_secs(60), || {
            let f = filter.clone();
            let p = chain.user.clone();
            async move { p.get_logs(&f).await.ok()?.into_iter().next() }
        })
        .await;
        let delivered = log.block_number.unwrap();
        let mut first_active = r.block_number.unwrap();
        loop {
            let b = chain
                .user
                .get_block_by_number(BlockNumberOrTag::Number(first_active))
                .await
                .unwrap()
                .unwrap();
            if b.header.timestamp >= u64::from(s.activeAt) {
                break;
            }
            first_active += 1;
        }
        lags.push(delivered - first_active);
    }
    lags.sort();
    println!(
        "activation -> delivery mined, in blocks over {rounds} rounds: min {} median {} max {} (target: 1, the next block)",
        lags[0],
        lags[lags.len() / 2],
        lags[lags.len() - 1]
    );
    h.shutdown().await;
}
