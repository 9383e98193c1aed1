//! Paid subscriptions on a real anvil with our contracts (protocol fee on): ETH and ERC-20
//! payments with exact balance changes (consumer wallet, node wallet, protocol fee), and every
//! reason a paid subscription is not served.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use common::chain::{
    FEE_RECIPIENT, NODE, TestChain, TestToken, USER, addr, echo_node, eventually, info, sub_view,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
const FEE_BP: u16 = 500;
const ETH: Address = Address::ZERO;

async fn token_balance(chain: &TestChain, token: Address, who: Address) -> U256 {
    if token == ETH {
        return chain.balance(who).await;
    }
    TestToken::new(token, chain.user.clone())
        .balanceOf(who)
        .call()
        .await
        .unwrap()
}

fn wei(eth_milli: u64) -> U256 {
    U256::from(eth_milli) * U256::from(10u64.pow(15))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eth_and_erc20_payments_move_the_exact_amounts() {
    let Some(chain) = TestChain::start_with_fee(1, &[], FEE_RECIPIENT, FEE_BP).await else {
        return;
    };
    let token = TestToken::deploy(chain.user.clone()).await.unwrap();
    let node_wallet = chain.create_wallet(addr(NODE)).await;
    let consumer_wallet = chain.create_wallet(addr(USER)).await;
    let consumer = chain.callback_consumer().await;
    chain.send_eth(consumer_wallet, wei(1000)).await;
    assert!(
        token
            .mint(consumer_wallet, wei(1000))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    chain
        .approve(consumer_wallet, *consumer.address(), ETH, wei(1000))
        .await;
    chain
        .approve(
            consumer_wallet,
            *consumer.address(),
            *token.address(),
            wei(1000),
        )
        .await;
    let tok = token.address().to_string();
    let node = echo_node(&chain, &chain.url, NODE, |c| {
        c.chain.wallet.payment_address = Some(node_wallet.to_string());
        c.containers[0].accepted_payments = [
            (ETH.to_string(), "1000".to_string()),
            (tok.clone(), "1000".to_string()),
        ]
        .into_iter()
        .collect();
    })
    .await;

    for (id, pay_token) in [(1u32, ETH), (2u32, *token.address())] {
        let amount = wei(100);
        let before = (
            token_balance(&chain, pay_token, consumer_wallet).await,
            token_balance(&chain, pay_token, node_wallet).await,
            token_balance(&chain, pay_token, FEE_RECIPIENT).await,
        );
        let r = consumer
            .requestPaid(
                "echo".into(),
                Bytes::from_static(b"paid"),
                1,
                pay_token,
                amount,
                consumer_wallet,
                Address::ZERO,
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status());
        eventually("the paid delivery", T, || async {
            let n = consumer.deliveryCount(id, 1).call().await.ok()?;
            (n == U256::from(1)).then_some(())
        })
        .await;
        // Protocol fee: 2 × 5 % of the amount; the node wallet gets the rest.
        let fee = amount * U256::from(2 * FEE_BP) / U256::from(10_000);
        assert_eq!(
            token_balance(&chain, pay_token, consumer_wallet).await,
            before.0 - amount,
            "consumer wallet ({pay_token})"
        );
        assert_eq!(
            token_balance(&chain, pay_token, node_wallet).await,
            before.1 + amount - fee,
            "node wallet ({pay_token})"
        );
        assert_eq!(
            token_balance(&chain, pay_token, FEE_RECIPIENT).await,
            before.2 + fee,
            "protocol fee ({pay_token})"
        );
    }
    let _ = node;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paid_subscriptions_that_cannot_pay_are_skipped_with_the_reason() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let token = TestToken::deploy(chain.user.clone()).await.unwrap();
    let node_wallet = chain.create_wallet(addr(NODE)).await;
    let consumer = chain.callback_consumer().await;
    let c = *consumer.address();
    // Funded but not approved; approved but not funded; a wallet the factory did not make.
    let unapproved = chain.create_wallet(addr(USER)).await;
    chain.send_eth(unapproved, wei(10)).await;
    let unfunded = chain.create_wallet(addr(USER)).await;
    chain.approve(unfunded, c, ETH, wei(10)).await;
    let funded = chain.create_wallet(addr(USER)).await;
    chain.send_eth(funded, wei(10)).await;
    chain.approve(funded, c, ETH, wei(10)).await;
    let node = echo_node(&chain, &chain.url, NODE, |cfg| {
        cfg.chain.wallet.payment_address = Some(node_wallet.to_string());
        cfg.containers[0].accepted_payments =
            [(ETH.to_string(), "100".to_string())].into_iter().collect();
    })
    .await;
    let cases: [(Address, U256, Address, &str); 5] = [
        (ETH, wei(1), unapproved, "insufficient allowance"),
        (ETH, wei(1), unfunded, "insufficient balance"),
        (
            *token.address(),
            wei(1),
            funded,
            "not accepted for container echo",
        ),
        (
            ETH,
            U256::from(50),
            funded,
            "below minimum payment requirements",
        ),
        (ETH, wei(1), addr(USER), "invalid wallet"),
    ];
    for (i, (pay_token, amount, wallet, _)) in cases.iter().enumerate() {
        let r = consumer
            .requestPaid(
                "echo".into(),
                Bytes::from_static(b"x"),
                1,
                *pay_token,
                *amount,
                *wallet,
                Address::ZERO,
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status(), "request {i}");
    }
    for (i, (_, _, _, want)) in cases.iter().enumerate() {
        let id = i as u32 + 1;
        let v = eventually(want, T, || async {
            let s = sub_view(&info(&node.base).await?, id)?;
            let text = format!("{} {}", s["reason"], s["last_delivery"]);
            text.contains(want).then_some(s)
        })
        .await;
        assert_eq!(
            consumer.deliveryCount(id, 1).call().await.unwrap(),
            U256::ZERO,
            "{v}"
        );
    }
    // Nothing was paid.
    assert_eq!(chain.balance(node_wallet).await, U256::ZERO);
    let _ = chain.user.get_block_number().await;
}
