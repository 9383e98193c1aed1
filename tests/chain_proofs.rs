//! Proof-gated, paid subscriptions on a real anvil with our contracts and a proof-generating
//! container: the node stakes from its own wallet (approving it first), atomic and optimistic
//! verifiers settle valid and invalid proofs with the exact money flow, the verdicts show in the
//! subscription view, and a verifier without a proof-generating container is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use common::chain::{
    FEE_RECIPIENT, NODE, TestChain, TestVerifier, USER, addr, eventually, info, node_config,
    sub_view,
};
use common::{NativeEcho, remote, start};
use infernet::chain::abi::Wallet;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
const FEE_BP: u16 = 500;

fn milli(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64.pow(15))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn atomic_and_optimistic_verifiers_settle_valid_and_invalid_proofs() {
    let Some(chain) = TestChain::start_with_fee(1, &[], FEE_RECIPIENT, FEE_BP).await else {
        return;
    };
    let node_wallet = chain.create_wallet(addr(NODE)).await;
    let consumer_wallet = chain.create_wallet(addr(USER)).await;
    chain.send_eth(node_wallet, milli(1000)).await;
    chain.send_eth(consumer_wallet, milli(1000)).await;
    let consumer = chain.callback_consumer().await;
    let w = Wallet::new(consumer_wallet, chain.user.clone());
    assert!(
        w.approve(*consumer.address(), Address::ZERO, milli(1000))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    let vf = milli(10);
    let deploy = |atomic: bool, valid: &'static [u8]| {
        let user = chain.user.clone();
        let coord = chain.addrs.coordinator;
        async move {
            TestVerifier::deploy(user, coord, atomic, vf, Bytes::from_static(valid))
                .await
                .unwrap()
        }
    };
    // The echo container (Ritual mode) proves with 0xbeef.
    let atomic_ok = deploy(true, &[0xbe, 0xef]).await;
    let atomic_bad = deploy(true, &[0xde, 0xad]).await;
    let optimistic = deploy(false, &[]).await;
    let echo = NativeEcho::start_with("prover", &[("ECHO_MODE", "ritual")]);
    let plain = NativeEcho::start_with("plain", &[("ECHO_MODE", "ritual")]);
    let dir = tempfile::tempdir().unwrap();
    let mut prover = remote("prover", &echo.url());
    prover.generates_proofs = true;
    let mut cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![prover, remote("plain", &plain.url())],
    );
    cfg.chain.wallet.payment_address = Some(node_wallet.to_string());
    let (_handle, base) = start(cfg).await;

    let a = milli(100);
    let p = a * U256::from(2 * FEE_BP) / U256::from(10_000);
    let pv = vf * U256::from(FEE_BP) / U256::from(10_000);
    let e = a - p - vf;
    let bal = |x: Address| {
        let c = &chain;
        async move { c.balance(x).await }
    };
    let request = |container: &'static str, verifier: Address| {
        let c = consumer.clone();
        async move {
            let r = c
                .requestPaid(
                    container.into(),
                    Bytes::from_static(&[0xca, 0xfe]),
                    1,
                    Address::ZERO,
                    a,
                    consumer_wallet,
                    verifier,
                )
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
            eventually("the proof delivery", T, || async {
                let n = c.deliveryCount(id, 1).call().await.ok()?;
                (n == U256::from(1)).then_some(())
            })
            .await;
        }
    };
    let proof_view = |id: u32, want: &'static str| {
        let base = base.clone();
        async move {
            eventually(want, T, || async {
                let s = sub_view(&info(&base).await?, id)?;
                s["proof"]
                    .as_str()
                    .is_some_and(|p| p.contains(want))
                    .then_some(s)
            })
            .await
        }
    };

    // 1. Atomic verifier, valid proof: the node earns the escrow.
    let before = (
        bal(consumer_wallet).await,
        bal(node_wallet).await,
        bal(*atomic_ok.address()).await,
        bal(FEE_RECIPIENT).await,
    );
    request("prover", *atomic_ok.address()).await;
    delivered(1).await;
    let d = consumer.delivery(1, 1, U256::ZERO).call().await.unwrap();
    assert_eq!(
        d.proof,
        Bytes::from_static(&[0xbe, 0xef]),
        "the container's proof is delivered"
    );
    assert_eq!(bal(consumer_wallet).await, before.0 - a);
    assert_eq!(bal(node_wallet).await, before.1 + e);
    assert_eq!(bal(*atomic_ok.address()).await, before.2 + vf - pv);
    assert_eq!(bal(FEE_RECIPIENT).await, before.3 + p + pv);
    let node_allowance = Wallet::new(node_wallet, chain.user.clone())
        .allowance(addr(NODE), Address::ZERO)
        .call()
        .await
        .unwrap();
    assert!(
        node_allowance >= a,
        "the node approved its own wallet for the stake ({node_allowance})"
    );
    proof_view(1, "proof valid").await;

    // 2. Atomic verifier, invalid proof: the node's stake goes to the consumer.
    let before = (bal(consumer_wallet).await, bal(node_wallet).await);
    request("prover", *atomic_bad.address()).await;
    delivered(2).await;
    assert_eq!(
        bal(consumer_wallet).await,
        before.0 - p - vf + a,
        "consumer refunded with the stake"
    );
    assert_eq!(bal(node_wallet).await, before.1 - a, "node slashed");
    proof_view(2, "INVALID").await;

    // 3. Optimistic verifier: escrow locked until the verdict, then paid (valid).
    let before = (bal(consumer_wallet).await, bal(node_wallet).await);
    request("prover", *optimistic.address()).await;
    delivered(3).await;
    assert_eq!(optimistic.requests().call().await.unwrap(), U256::from(1));
    assert_eq!(
        bal(consumer_wallet).await,
        before.0 - p - vf,
        "escrow is locked, not paid, before the verdict"
    );
    assert_eq!(
        bal(node_wallet).await,
        before.1,
        "the stake is locked, not taken"
    );
    proof_view(3, "proof submitted").await;
    assert!(
        optimistic
            .settle(3, 1, addr(NODE), true)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    assert_eq!(bal(node_wallet).await, before.1 + e);
    proof_view(3, "proof valid").await;

    // 4. Optimistic, invalid.
    let before = (bal(consumer_wallet).await, bal(node_wallet).await);
    request("prover", *optimistic.address()).await;
    delivered(4).await;
    assert!(
        optimistic
            .settle(4, 1, addr(NODE), false)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    assert_eq!(bal(node_wallet).await, before.1 - a);
    assert_eq!(bal(consumer_wallet).await, before.0 - p - vf + a);
    proof_view(4, "INVALID").await;

    // 5. A verifier on a pipeline whose last container does not generate proofs: refused.
    request("plain", *atomic_ok.address()).await;
    let v = eventually("the refusal", T, || async {
        let s = sub_view(&info(&base).await?, 5)?;
        (s["status"] == "ignored").then_some(s)
    })
    .await;
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("Container does not generate proof"),
        "{v}"
    );
    assert_eq!(
        v["proof"].as_str().unwrap(),
        format!("verifier {}", atomic_ok.address())
    );

    // 6. A verifier that does not take the payment token: skipped with the reason, nothing paid.
    assert!(
        atomic_ok
            .setSupported(Address::ZERO, false)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    let before = bal(consumer_wallet).await;
    request("prover", *atomic_ok.address()).await;
    eventually("the unsupported-token skip", T, || async {
        let s = sub_view(&info(&base).await?, 6)?;
        s["last_delivery"]
            .as_str()
            .is_some_and(|l| l.contains("Unsupported verifier token"))
            .then_some(())
    })
    .await;
    assert_eq!(
        consumer.deliveryCount(6, 1).call().await.unwrap(),
        U256::ZERO
    );
    assert_eq!(bal(consumer_wallet).await, before);
    let _ = chain.user.get_block_number().await;
}
