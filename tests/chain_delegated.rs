//! Delegated (signed) subscriptions over REST against a real anvil with our contracts and the
//! echo container: checked before answering (4xx with the reason), the first interval's result
//! readable by job id, delivered with `deliverComputeDelegatee`, later intervals under the
//! on-chain id.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolValue;
use common::chain::{
    NODE, TestChain, USER, addr, echo_node, eventually, key, wait_node_block, wait_node_time,
};
use common::{http, wait_job};
use infernet::chain::eip712;
use infernet::chain::subscription::{Subscription, container_set_hash};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn echoed(output: &Bytes) -> Value {
    let (s,) = <(String,)>::abi_decode_params(output).expect("output is abi.encode(string)");
    serde_json::from_str(&s).expect("json")
}

struct Signed {
    body: Value,
}

/// A signed request body as Ritual's Python client builds it: r and s as JSON integers.
fn signed(
    chain: &TestChain,
    sub: &Subscription,
    nonce: u32,
    expiry: u32,
    signer: usize,
    data: Value,
) -> Signed {
    let chain_id = 31337;
    let domain = eip712::domain(chain_id, chain.addrs.coordinator);
    let (v, r, s) =
        eip712::sign(&key(signer), &eip712::digest(&domain, nonce, expiry, sub)).unwrap();
    let big = |b: B256| -> Value {
        serde_json::from_str(&U256::from_be_bytes(b.0).to_string())
            .expect("arbitrary-precision integer")
    };
    Signed {
        body: json!({
            "subscription": {
                "owner": sub.owner.to_string(),
                "active_at": sub.active_at,
                "period": sub.period,
                "frequency": sub.frequency,
                "redundancy": sub.redundancy,
                "containers": alloy::hex::encode(sub.container_id),
                "lazy": sub.lazy,
                "verifier": sub.verifier.to_string(),
                "payment_amount": serde_json::from_str::<Value>(&sub.payment_amount.to_string()).unwrap(),
                "payment_token": sub.payment_token.to_string(),
                "wallet": sub.wallet.to_string(),
            },
            "signature": {"nonce": nonce, "expiry": expiry, "v": v, "r": big(r), "s": big(s)},
            "data": data,
        }),
    }
}

fn sub_for(
    owner: Address,
    active_at: u32,
    period: u32,
    frequency: u32,
    redundancy: u16,
) -> Subscription {
    Subscription {
        id: 0,
        owner,
        active_at,
        period,
        frequency,
        redundancy,
        container_id: container_set_hash(&["echo".to_string()]),
        lazy: false,
        verifier: Address::ZERO,
        payment_amount: U256::ZERO,
        payment_token: Address::ZERO,
        wallet: Address::ZERO,
        v0: None,
    }
}

async fn post(base: &str, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{base}/api/jobs"))
        .json(body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn wait_ready(base: &str) {
    eventually("the chain side to connect", T, || async {
        let i = common::chain::info(base).await?;
        (i["chain"]["status"]["phase"] != "connecting"
            && !i["chain"]["status"]["chain_id"].is_null())
        .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delegated_subscription_is_checked_then_run_and_delivered_under_its_on_chain_id() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let base = node.base.clone();
    let consumer = chain.subscription_consumer().await;
    let owner = *consumer.address();
    // Consumer inputs for intervals after the first (read with getContainerInputs).
    consumer
        .setInputs(Bytes::from_static(b"later"))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let now = chain.now().await as u32;
    // Recurring: 2 intervals of 5 s, signed by the consumer's signer (USER).
    let sub = sub_for(owner, now, 5, 2, 1);
    let good = signed(
        &chain,
        &sub,
        7,
        now + 600,
        USER,
        json!({"greeting": "signed hello"}),
    );

    // Each bad variant is refused before anything runs, with the reason.
    let wrong_signer = signed(&chain, &sub, 7, now + 600, NODE, json!({}));
    let expired = signed(&chain, &sub, 7, now.saturating_sub(10), USER, json!({}));
    let mut unknown = sub.clone();
    unknown.container_id = container_set_hash(&["nope".to_string()]);
    let unknown = signed(&chain, &unknown, 7, now + 600, USER, json!({}));
    let mut tampered = good.body.clone();
    tampered["subscription"]["frequency"] = json!(3);
    let mut bad_field = good.body.clone();
    bad_field["subscription"]["owner"] = json!("not-an-address");
    wait_ready(&base).await;
    let (code, v) = post(&base, &wrong_signer.body).await;
    assert_eq!(
        (code, v["error"].as_str()),
        (403, Some("Signer mismatch")),
        "{v}"
    );
    assert_eq!(v["params"]["expected"], addr(USER).to_string());
    assert_eq!(v["params"]["recovered"], addr(NODE).to_string());
    let (code, v) = post(&base, &tampered).await;
    assert_eq!(
        (code, v["error"].as_str()),
        (403, Some("Signer mismatch")),
        "a changed field no longer matches the signature: {v}"
    );
    let (code, v) = post(&base, &expired.body).await;
    assert_eq!(
        (code, v["error"].as_str()),
        (400, Some("Signature expired")),
        "{v}"
    );
    let (code, v) = post(&base, &unknown.body).await;
    assert_eq!(
        (code, v["error"].as_str()),
        (400, Some("Container-set not supported")),
        "{v}"
    );
    let (code, v) = post(&base, &bad_field).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["params"]["field"], "subscription.owner", "{v}");
    let r = http()
        .post(format!("{base}/api/jobs/stream"))
        .json(&good.body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The good one: a job id at once; its result by id; the delivery on chain.
    let (code, v) = post(&base, &good.body).await;
    assert_eq!(code, 200, "{v}");
    let job = v["id"].as_str().expect("job id").to_string();
    let done = wait_job(&base, &job, T).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(
        done["result"]["output"]["echo"]["greeting"], "signed hello",
        "{done}"
    );
    assert_eq!(
        done["result"]["output"]["source"], 1,
        "delegated input comes off-chain: {done}"
    );
    assert_eq!(done["result"]["output"]["destination"], 0, "{done}");
    let id = chain.delegated_id(owner, 7).await;
    eventually("interval 1 delivered", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
    let d = consumer.delivery(id, 1, U256::ZERO).call().await.unwrap();
    assert_eq!(d.node, addr(NODE));
    assert_eq!(echoed(&d.output)["echo"]["greeting"], "signed hello");
    // The same request again answers with the same job (no second run), and once it is on
    // chain a request for it names the on-chain id.
    let (code, v) = post(&base, &good.body).await;
    assert_eq!(code, 200);
    assert!(v["id"] == job.as_str() || v["subscription_id"] == id, "{v}");
    // Recurring: interval 2 is delivered under the on-chain id with the consumer's inputs.
    chain.warp(5).await;
    eventually("interval 2 delivered", T, || async {
        let n = consumer.deliveryCount(id, 2).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
    let d2 = consumer.delivery(id, 2, U256::ZERO).call().await.unwrap();
    assert_eq!(echoed(&d2.output)["echo"], alloy::hex::encode(b"later"));
    let _ = chain.user.get_block_number().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_future_active_at_waits_and_redundancy_two_is_served_once_by_this_node() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node = echo_node(&chain, &chain.url, NODE, |_| {}).await;
    let base = node.base.clone();
    let consumer = chain.subscription_consumer().await;
    let owner = *consumer.address();
    let now = chain.now().await as u32;
    let sub = sub_for(owner, now + 8, 0, 1, 2);
    let req = signed(&chain, &sub, 1, now + 600, USER, json!({"n": 1}));
    wait_ready(&base).await;
    let (code, v) = post(&base, &req.body).await;
    assert_eq!(code, 200, "{v}");
    let job = v["id"].as_str().unwrap().to_string();
    // Not active yet: nothing runs while the node sees blocks before `active_at`.
    wait_node_time(&base, u64::from(now) + 3).await;
    let r: Value = http()
        .get(format!("{base}/api/jobs?id={job}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r,
        json!([]),
        "the job starts when the subscription becomes active"
    );
    chain.warp(10).await;
    let done = wait_job(&base, &job, T).await;
    assert_eq!(done["status"], "success", "{done}");
    let id = chain.delegated_id(owner, 1).await;
    eventually("delivered once", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
    // Redundancy 2: this node's one response counts; it does not try again.
    let coord =
        infernet::chain::abi::EIP712Coordinator::new(chain.addrs.coordinator, chain.user.clone());
    let count = coord
        .redundancyCount(infernet::chain::subscription::interval_key(id, 1))
        .call()
        .await
        .unwrap();
    assert_eq!(count, 1);
    let block = chain.user.get_block_number().await.unwrap();
    wait_node_block(&base, block + 3).await;
    assert_eq!(
        consumer.deliveryCount(id, 1).call().await.unwrap(),
        U256::from(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_answers_jobs_paid_delegated_subscriptions_and_bad_entries_in_order() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let node_wallet = chain.create_wallet(addr(NODE)).await;
    let paying = chain.create_wallet(addr(USER)).await;
    let unapproved = chain.create_wallet(addr(USER)).await;
    let consumer = chain.subscription_consumer().await;
    let owner = *consumer.address();
    let amount = U256::from(10u64.pow(17));
    for w in [paying, unapproved] {
        chain.send_eth(w, amount * U256::from(2)).await;
    }
    chain.approve(paying, owner, Address::ZERO, amount).await;
    let node = echo_node(&chain, &chain.url, NODE, |c| {
        c.chain.wallet.payment_address = Some(node_wallet.to_string());
    })
    .await;
    let base = node.base.clone();
    wait_ready(&base).await;
    let now = chain.now().await as u32;
    // The node's head must have reached `now`: a subscription not active at its head has its
    // payment checked later, not at the request.
    let block = chain.user.get_block_number().await.unwrap();
    wait_node_block(&base, block).await;
    let mut paid = sub_for(owner, now, 0, 1, 1);
    paid.payment_amount = amount;
    paid.wallet = paying;
    let mut not_approved = paid.clone();
    not_approved.wallet = unapproved;
    let good = signed(&chain, &paid, 1, now + 600, USER, json!({"paid": true}));
    let refused = signed(&chain, &not_approved, 2, now + 600, USER, json!({}));
    let mut garbage = signed(&chain, &paid, 3, now + 600, USER, json!({})).body;
    garbage["signature"]["r"] = json!(1);
    garbage["signature"]["s"] = json!(1);
    let batch = json!([
        {"containers": ["echo"], "data": {"plain": "job"}},
        good.body,
        {"containers": "echo", "data": {}},
        refused.body,
        garbage,
    ]);
    let r = http()
        .post(format!("{base}/api/jobs/batch"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 5, "{v}");
    let job = a[0]["id"].as_str().expect("the plain job's id").to_string();
    let delegated_job = a[1]["id"]
        .as_str()
        .expect("the paid delegated subscription's job id")
        .to_string();
    assert!(
        a[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("Invalid job request"),
        "{v}"
    );
    assert_eq!(a[3]["error"], "insufficient allowance", "{v}");
    assert!(
        a[4]["error"] == "Invalid signature" || a[4]["error"] == "Signer mismatch",
        "{v}"
    );
    assert_eq!(wait_job(&base, &job, T).await["status"], "success");
    assert_eq!(
        wait_job(&base, &delegated_job, T).await["status"],
        "success"
    );
    // The paid delegated subscription is created, delivered and paid to the node's wallet.
    let id = chain.delegated_id(owner, 1).await;
    eventually("delivered", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
    assert_eq!(
        chain.balance(node_wallet).await,
        amount,
        "the node wallet was paid (no protocol fee here)"
    );
    assert_eq!(
        chain.balance(paying).await,
        amount,
        "the consumer wallet paid once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accepted_delegated_subscription_survives_a_restart() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let echo = common::NativeEcho::start("echo");
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::chain::node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![common::remote("echo", &echo.url())],
    );
    let (h, base) = common::start(cfg.clone()).await;
    let consumer = chain.subscription_consumer().await;
    let owner = *consumer.address();
    let now = chain.now().await as u32;
    // Active in 30 s of block time: accepted now, run after the restart.
    let sub = sub_for(owner, now + 30, 0, 1, 1);
    let req = signed(
        &chain,
        &sub,
        9,
        now + 600,
        USER,
        json!({"after": "restart"}),
    );
    wait_ready(&base).await;
    let (code, v) = post(&base, &req.body).await;
    assert_eq!(code, 200, "{v}");
    let job = v["id"].as_str().unwrap().to_string();
    h.shutdown().await;
    drop(h);
    chain.warp(40).await;
    let (_h2, base2) = common::start(cfg).await;
    let done = wait_job(&base2, &job, T).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["result"]["output"]["echo"]["after"], "restart");
    let id = chain.delegated_id(owner, 9).await;
    eventually("delivered after the restart", T, || async {
        let n = consumer.deliveryCount(id, 1).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
}
