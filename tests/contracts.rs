//! Our Solidity contracts against a real anvil: ABI identical to Ritual's SDK v1.1, artifacts in
//! step with the sources, and the semantics of reference ritual-sdk §8 (subscriptions, intervals,
//! redundancy, cancellation, Reader, Inbox, EIP-712 delegation).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::json_abi::JsonAbi;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use common::chain::{NODE, NODE2, TestChain, USER, addr, key};
use infernet::chain::ChainError;
use infernet::chain::abi::{EIP712Coordinator, Inbox, Reader};
use infernet::chain::eip712;
use infernet::chain::errors::Revert;
use infernet::chain::subscription::{Subscription, container_set_hash, delegate_key};
use serde_json::json;
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn artifact_abi(name: &str) -> JsonAbi {
    let text =
        std::fs::read_to_string(repo().join(format!("contracts/artifacts/{name}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["abi"].clone()).unwrap()
}

#[test]
fn abi_is_identical_to_ritual_sdk_v1_1() {
    let listing =
        std::fs::read_to_string(repo().join("contracts/ritual-sdk-v1.1-interface.txt")).unwrap();
    let mut contract = String::new();
    let mut checked = 0;
    for line in listing.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("== ") {
            contract = rest.rsplit(':').next().unwrap().to_string();
            continue;
        }
        let abi = artifact_abi(&contract);
        let mut parts = line.split_whitespace();
        let (kind, hash) = match parts.next() {
            Some("err") => ("err", parts.next().unwrap()),
            Some("topic0") => ("topic0", parts.next().unwrap()),
            Some("constructor") => {
                let want = line.trim_start_matches("constructor ").trim();
                let got: Vec<String> = abi
                    .constructor
                    .as_ref()
                    .map(|c| {
                        c.inputs
                            .iter()
                            .map(|p| p.selector_type().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let inner = want.split('(').nth(1).unwrap().trim_end_matches(')');
                let want: Vec<String> = inner
                    .split(", ")
                    .map(|p| p.split(' ').next().unwrap().to_string())
                    .collect();
                assert_eq!(got, want, "{contract} constructor");
                checked += 1;
                continue;
            }
            Some(sel) if sel.starts_with("0x") => ("fn", sel),
            _ => continue,
        };
        let found = match kind {
            "err" => abi
                .errors()
                .any(|e| format!("0x{}", alloy::hex::encode(e.selector())) == hash),
            "topic0" => abi.events().any(|e| e.selector().to_string() == hash),
            _ => abi
                .functions()
                .any(|f| format!("0x{}", alloy::hex::encode(f.selector())) == hash),
        };
        assert!(found, "{contract}: missing {kind} {hash} ({line})");
        if kind == "fn" && line.contains("returns ((") {
            // Struct field order: the returned tuple type must match exactly.
            let name = line
                .split("function ")
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap();
            let f = abi.functions().find(|f| f.name == name).unwrap();
            let rest = line.split("returns (").nth(1).unwrap();
            let want = &rest[..rest.len() - 1];
            let got: Vec<String> = f
                .outputs
                .iter()
                .map(|o| o.selector_type().into_owned())
                .collect();
            assert_eq!(got.join(","), want, "{contract}.{name}");
        }
        checked += 1;
    }
    let facts = listing
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with("=="))
        .count();
    assert_eq!(
        checked, facts,
        "every line of the interface listing is checked"
    );
}

#[test]
fn artifacts_are_built_from_the_current_sources() {
    let build: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("contracts/artifacts/BUILD.json")).unwrap(),
    )
    .unwrap();
    let recorded: BTreeMap<String, String> =
        serde_json::from_value(build["sources"].clone()).unwrap();
    let mut current = BTreeMap::new();
    for dir in ["src", "test", "v0"] {
        let mut stack = vec![repo().join("contracts").join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "sol") {
                    let rel = p
                        .strip_prefix(repo().join("contracts"))
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    let hash = sha2::Sha256::digest(std::fs::read(&p).unwrap());
                    current.insert(rel, alloy::hex::encode(hash));
                }
            }
        }
    }
    assert_eq!(
        current, recorded,
        "contracts changed without rebuilding the artifacts: run `node contracts/build.mjs`"
    );
}

/// `deliverCompute(id, interval, "", "", "", 0x0)` from the given coordinator instance.
macro_rules! empty_delivery {
    ($c:expr, $id:expr, $n:expr) => {
        $c.deliverCompute(
            $id,
            $n,
            Bytes::new(),
            Bytes::new(),
            Bytes::new(),
            Address::ZERO,
        )
    };
}

/// A parameterless custom error the node does not name (the ownership errors), by selector.
fn custom(selector: &str) -> Revert {
    Revert::Unknown(Bytes::from(alloy::hex::decode(selector).unwrap()))
}

fn revert_of<T: std::fmt::Debug>(r: Result<T, alloy::contract::Error>) -> Revert {
    match r {
        Ok(v) => panic!("expected a revert, got {v:?}"),
        Err(e) => match ChainError::from_contract("test", e) {
            ChainError::Revert(r) => r,
            other => panic!("expected a revert, got {other}"),
        },
    }
}

struct Env {
    chain: TestChain,
    node1: EIP712Coordinator::EIP712CoordinatorInstance<DynProvider>,
    node2: EIP712Coordinator::EIP712CoordinatorInstance<DynProvider>,
    user: EIP712Coordinator::EIP712CoordinatorInstance<DynProvider>,
}

async fn env() -> Option<Env> {
    let chain = TestChain::start(0, &[]).await?;
    let c = chain.addrs.coordinator;
    Some(Env {
        node1: EIP712Coordinator::new(c, chain.signer(NODE).await),
        node2: EIP712Coordinator::new(c, chain.signer(NODE2).await),
        user: EIP712Coordinator::new(c, chain.user.clone()),
        chain,
    })
}

async fn set_time(chain: &TestChain, ts: u64) {
    chain.rpc("evm_setNextBlockTimestamp", json!([ts])).await;
    chain.mine().await;
}

async fn sub_of(e: &Env, id: u32) -> Subscription {
    Subscription::from((id, e.user.getSubscription(id).call().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_subscriptions_and_delivery_checks() {
    let Some(e) = env().await else { return };
    let consumer = e.chain.callback_consumer().await;
    assert_eq!(e.user.id().call().await.unwrap(), 1, "ids start at 1");
    let r = consumer
        .request("container".into(), Bytes::from_static(b"inputs"), 1)
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
        .unwrap();
    assert_eq!(created.inner.data.id, 1);
    let s = sub_of(&e, 1).await;
    let block = e
        .chain
        .user
        .get_block_by_number(r.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u64::from(s.active_at), block.header.timestamp);
    assert_eq!(
        (s.period, s.frequency, s.redundancy, s.lazy),
        (0, 1, 1, false)
    );
    assert_eq!(s.container_id, container_set_hash(&["container".into()]));
    assert_eq!(s.owner, *consumer.address());
    let inputs = consumer
        .getContainerInputs(1, 1, 0, Address::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(inputs, Bytes::from_static(b"inputs"));

    assert_eq!(
        revert_of(empty_delivery!(e.node1, 1, 2).call().await),
        Revert::IntervalMismatch
    );
    assert_eq!(
        revert_of(empty_delivery!(e.node1, 9, 1).call().await),
        Revert::SubscriptionNotFound
    );
    let r = e
        .node1
        .deliverCompute(
            1,
            1,
            Bytes::from_static(b"in"),
            Bytes::from_static(b"out"),
            Bytes::from_static(b"pf"),
            Address::ZERO,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status());
    let f = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<EIP712Coordinator::SubscriptionFulfilled>()
                .ok()
        })
        .unwrap();
    assert_eq!((f.inner.data.id, f.inner.data.node), (1, addr(NODE)));
    let d = consumer.delivery(1, 1, U256::ZERO).call().await.unwrap();
    assert_eq!(
        (
            d.redundancy,
            d.node,
            d.input.to_vec(),
            d.output.to_vec(),
            d.proof.to_vec()
        ),
        (
            1,
            addr(NODE),
            b"in".to_vec(),
            b"out".to_vec(),
            b"pf".to_vec()
        )
    );
    assert_eq!((d.containerId, d.index), (B256::ZERO, U256::ZERO));
    // Redundancy is checked before the per-node flag.
    assert_eq!(
        revert_of(empty_delivery!(e.node1, 1, 1).call().await),
        Revert::IntervalCompleted
    );
    assert_eq!(
        revert_of(empty_delivery!(e.node2, 1, 1).call().await),
        Revert::IntervalCompleted
    );
    // Only the coordinator may call the consumer.
    assert_eq!(
        revert_of(
            consumer
                .rawReceiveCompute(
                    1,
                    1,
                    1,
                    addr(NODE),
                    Bytes::new(),
                    Bytes::new(),
                    Bytes::new(),
                    B256::ZERO,
                    U256::ZERO
                )
                .call()
                .await
        ),
        Revert::NotCoordinator
    );
    // Eager deliveries leave the Inbox empty.
    let inbox = Inbox::new(e.chain.addrs.inbox, e.chain.user.clone());
    assert_eq!(
        revert_of(
            inbox
                .read(s.container_id, addr(NODE), U256::ZERO)
                .call()
                .await
        ),
        Revert::Panic(0x32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_intervals_redundancy_and_cancellation() {
    let Some(e) = env().await else { return };
    let consumer = e.chain.subscription_consumer().await;
    let r = consumer
        .create("container".into(), 2, 10, 2, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let created_at = e
        .chain
        .user
        .get_block_by_number(r.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let s = sub_of(&e, 1).await;
    assert_eq!(
        u64::from(s.active_at),
        created_at + 10,
        "activeAt = creation + period"
    );
    macro_rules! deliver {
        ($c:expr, $n:expr) => {
            $c.deliverCompute(
                1,
                $n,
                Bytes::new(),
                Bytes::from_static(b"o"),
                Bytes::new(),
                Address::ZERO,
            )
        };
    }
    assert_eq!(
        revert_of(deliver!(e.node1, 1).call().await),
        Revert::SubscriptionNotActive
    );

    let start = u64::from(s.active_at);
    // Mid-interval: every block mined below (each a second or more apart on a loaded
    // machine) stays in interval 1.
    set_time(&e.chain, start + 5).await;
    assert_eq!(
        e.user
            .getSubscriptionInterval(s.active_at, s.period)
            .call()
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.interval_at(start + 9), Some(1));
    deliver!(e.node1, 1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(
        revert_of(deliver!(e.node1, 1).call().await),
        Revert::NodeRespondedAlready
    );
    deliver!(e.node2, 1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(
        revert_of(deliver!(e.user, 1).call().await),
        Revert::IntervalCompleted,
        "third node on redundancy 2"
    );

    set_time(&e.chain, start + 10).await;
    assert_eq!(
        e.user
            .getSubscriptionInterval(s.active_at, s.period)
            .call()
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.interval_at(start + 10), Some(2));
    assert_eq!(
        revert_of(deliver!(e.node1, 1).call().await),
        Revert::IntervalMismatch,
        "a stale interval"
    );
    deliver!(e.node1, 2)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    set_time(&e.chain, start + 20).await;
    assert_eq!(
        revert_of(deliver!(e.node2, 3).call().await),
        Revert::SubscriptionCompleted
    );

    // Reader sees the counts; unknown pairs are 0; survives cancellation.
    let reader = Reader::new(e.chain.addrs.reader, e.chain.user.clone());
    let counts = reader
        .readRedundancyCountBatch(vec![1, 1, 1, 7], vec![1, 2, 3, 1])
        .call()
        .await
        .unwrap();
    assert_eq!(counts, vec![2, 1, 0, 0]);

    // Cancellation: owner only, idempotent, keeps the other fields, ids are not reused.
    let other = EIP712Coordinator::new(e.chain.addrs.coordinator, e.chain.signer(NODE).await);
    assert_eq!(
        revert_of(other.cancelSubscription(1).call().await),
        Revert::NotSubscriptionOwner
    );
    assert_eq!(
        revert_of(other.cancelSubscription(99).call().await),
        Revert::NotSubscriptionOwner
    );
    let r = consumer
        .cancel(1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.inner.logs().iter().any(|l| {
        l.log_decode::<EIP712Coordinator::SubscriptionCancelled>()
            .is_ok()
    }));
    consumer
        .cancel(1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let c = sub_of(&e, 1).await;
    assert!(c.cancelled());
    assert_eq!((c.period, c.frequency, c.redundancy), (10, 2, 2));
    assert_eq!(
        revert_of(deliver!(e.node1, 3).call().await),
        Revert::SubscriptionNotActive
    );
    assert_eq!(
        reader
            .readRedundancyCountBatch(vec![1], vec![1])
            .call()
            .await
            .unwrap(),
        vec![2]
    );
    consumer
        .create("container".into(), 1, 0, 1, false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(
        e.user.id().call().await.unwrap(),
        3,
        "next id after 1 (cancelled) and 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_deliveries_go_through_the_inbox() {
    let Some(e) = env().await else { return };
    let consumer = e.chain.subscription_consumer().await;
    let inbox_user = Inbox::new(e.chain.addrs.inbox, e.chain.signer(NODE).await);
    let cid = container_set_hash(&["container".into()]);
    // A direct (unauthenticated) write first: indices are shared per (containerId, node).
    inbox_user
        .write(
            cid,
            Bytes::from_static(b"i0"),
            Bytes::from_static(b"o0"),
            Bytes::new(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(
        revert_of(
            inbox_user
                .writeViaCoordinator(
                    cid,
                    addr(NODE),
                    1,
                    1,
                    Bytes::new(),
                    Bytes::new(),
                    Bytes::new()
                )
                .call()
                .await
        ),
        Revert::NotCoordinator
    );

    consumer
        .create("container".into(), 2, 5, 1, true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let s = sub_of(&e, 1).await;
    set_time(&e.chain, u64::from(s.active_at)).await;
    e.node1
        .deliverCompute(
            1,
            1,
            Bytes::from_static(b"in"),
            Bytes::from_static(b"out"),
            Bytes::from_static(b"pf"),
            Address::ZERO,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let d = consumer.delivery(1, 1, U256::ZERO).call().await.unwrap();
    assert!(
        d.input.is_empty() && d.output.is_empty() && d.proof.is_empty(),
        "lazy payloads are empty"
    );
    assert_eq!((d.containerId, d.index), (cid, U256::from(1)));
    let item = inbox_user
        .read(cid, addr(NODE), U256::from(1))
        .call()
        .await
        .unwrap();
    assert_eq!((item.subscriptionId, item.interval), (1, 1));
    assert_eq!(
        (
            item.input.to_vec(),
            item.output.to_vec(),
            item.proof.to_vec()
        ),
        (b"in".to_vec(), b"out".to_vec(), b"pf".to_vec())
    );
    let first = inbox_user
        .read(cid, addr(NODE), U256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(
        (first.subscriptionId, first.interval, first.output.to_vec()),
        (0, 0, b"o0".to_vec())
    );
    set_time(&e.chain, u64::from(s.active_at) + 5).await;
    e.node1
        .deliverCompute(
            1,
            2,
            Bytes::new(),
            Bytes::from_static(b"out2"),
            Bytes::new(),
            Address::ZERO,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(
        consumer
            .delivery(1, 2, U256::ZERO)
            .call()
            .await
            .unwrap()
            .index,
        U256::from(2)
    );
    // A failed lazy delivery leaves no item.
    assert_eq!(
        revert_of(empty_delivery!(e.node1, 1, 2).call().await),
        Revert::IntervalCompleted
    );
    assert_eq!(
        revert_of(inbox_user.read(cid, addr(NODE), U256::from(3)).call().await),
        Revert::Panic(0x32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_batches() {
    let Some(e) = env().await else { return };
    let consumer = e.chain.subscription_consumer().await;
    for _ in 0..3 {
        consumer
            .create("container".into(), 1, 0, 1, false)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    consumer
        .cancel(2)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let reader = Reader::new(e.chain.addrs.reader, e.chain.user.clone());
    let subs = reader.readSubscriptionBatch(1, 6).call().await.unwrap();
    assert_eq!(subs.len(), 5);
    let subs: Vec<Subscription> = subs
        .into_iter()
        .zip(1..)
        .map(|(s, id)| Subscription::from((id, s)))
        .collect();
    assert!(subs[0].exists() && !subs[0].cancelled());
    assert!(subs[1].cancelled());
    assert!(
        !subs[3].exists() && !subs[4].exists(),
        "unknown ids read back zeroed"
    );
    assert!(
        reader
            .readSubscriptionBatch(3, 3)
            .call()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        revert_of(reader.readSubscriptionBatch(5, 0).call().await),
        Revert::Panic(0x11)
    );
    assert_eq!(
        revert_of(
            reader
                .readRedundancyCountBatch(vec![1, 2], vec![1])
                .call()
                .await
        ),
        Revert::Panic(0x32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eip712_delegated_subscriptions() {
    let Some(e) = env().await else { return };
    let consumer = e.chain.subscription_consumer().await; // signer = USER
    let chain_id = e.chain.user.get_chain_id().await.unwrap();
    let d = e.user.eip712Domain().call().await.unwrap();
    assert_eq!(
        (
            d.name.as_str(),
            d.version.as_str(),
            d.chainId,
            d.verifyingContract
        ),
        (
            "InfernetCoordinator",
            "1",
            U256::from(chain_id),
            e.chain.addrs.coordinator
        )
    );
    let domain = eip712::domain(chain_id, e.chain.addrs.coordinator);
    let now = e.chain.now().await;
    let sub = Subscription {
        id: 0,
        owner: *consumer.address(),
        active_at: now as u32,
        period: 0,
        frequency: 1,
        redundancy: 1,
        container_id: container_set_hash(&["container".into()]),
        lazy: false,
        verifier: Address::ZERO,
        payment_amount: U256::ZERO,
        payment_token: Address::ZERO,
        wallet: Address::ZERO,
        v0: None,
    };
    let expiry = (now + 3600) as u32;
    let sign = |k: usize, nonce: u32, exp: u32, s: &Subscription| {
        eip712::sign(&key(k), &eip712::digest(&domain, nonce, exp, s)).unwrap()
    };

    let (v, r, s) = sign(NODE, 10, expiry, &sub);
    assert_eq!(
        revert_of(
            e.node1
                .createSubscriptionDelegatee(10, expiry, sub.to_abi(), v, r, s)
                .call()
                .await
        ),
        Revert::SignerMismatch
    );
    let (v, r, s) = sign(USER, 10, now as u32, &sub);
    assert_eq!(
        revert_of(
            e.node1
                .createSubscriptionDelegatee(10, now as u32, sub.to_abi(), v, r, s)
                .call()
                .await
        ),
        Revert::SignatureExpired
    );
    let (_, r0, s0) = sign(USER, 10, expiry, &sub);
    assert_eq!(
        revert_of(
            e.node1
                .createSubscriptionDelegatee(10, expiry, sub.to_abi(), 0, r0, s0)
                .call()
                .await
        ),
        Revert::InvalidSignature
    );

    let (v, r, s) = sign(USER, 10, expiry, &sub);
    e.node1
        .createSubscriptionDelegatee(10, expiry, sub.to_abi(), v, r, s)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let stored = sub_of(&e, 1).await;
    assert_eq!(
        Subscription {
            id: 1,
            ..sub.clone()
        },
        stored,
        "stored as signed (no +period)"
    );
    assert_eq!(
        e.user
            .delegateCreatedIds(delegate_key(sub.owner, 10))
            .call()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        e.user.maxSubscriberNonce(sub.owner).call().await.unwrap(),
        10
    );
    // Unordered nonces; an existing (owner, nonce) returns its id without looking at the rest.
    let (v, r, s) = sign(USER, 1, expiry, &sub);
    e.node1
        .createSubscriptionDelegatee(1, expiry, sub.to_abi(), v, r, s)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let changed = Subscription {
        frequency: 9,
        ..sub.clone()
    };
    let again = e
        .node2
        .createSubscriptionDelegatee(10, 0, changed.to_abi(), 0, B256::ZERO, B256::ZERO)
        .call()
        .await
        .unwrap();
    assert_eq!(again, 1);
    assert_eq!(sub_of(&e, 1).await.frequency, 1, "not modified");
    assert_eq!(
        e.user.maxSubscriberNonce(sub.owner).call().await.unwrap(),
        10
    );

    // Atomic create + deliver; a second node on redundancy 1 then sees IntervalCompleted.
    let (v, r, s) = sign(USER, 20, expiry, &sub);
    e.node1
        .deliverComputeDelegatee(
            20,
            expiry,
            sub.to_abi(),
            v,
            r,
            s,
            1,
            Bytes::new(),
            Bytes::from_static(b"out"),
            Bytes::new(),
            Address::ZERO,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let id = e
        .user
        .delegateCreatedIds(delegate_key(sub.owner, 20))
        .call()
        .await
        .unwrap();
    assert_eq!(id, 3);
    assert_eq!(
        consumer
            .delivery(id, 1, U256::ZERO)
            .call()
            .await
            .unwrap()
            .output
            .to_vec(),
        b"out".to_vec()
    );
    assert_eq!(
        revert_of(
            e.node2
                .deliverComputeDelegatee(
                    20,
                    expiry,
                    sub.to_abi(),
                    v,
                    r,
                    s,
                    1,
                    Bytes::new(),
                    Bytes::new(),
                    Bytes::new(),
                    Address::ZERO
                )
                .call()
                .await
        ),
        Revert::IntervalCompleted
    );

    // Rotating the signer invalidates unused signatures of the old one.
    consumer
        .setSigner(addr(NODE2))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let (v, r, s) = sign(USER, 30, expiry, &sub);
    assert_eq!(
        revert_of(
            e.node1
                .createSubscriptionDelegatee(30, expiry, sub.to_abi(), v, r, s)
                .call()
                .await
        ),
        Revert::SignerMismatch
    );
    assert_eq!(
        e.node1
            .createSubscriptionDelegatee(10, 0, sub.to_abi(), 0, B256::ZERO, B256::ZERO)
            .call()
            .await
            .unwrap(),
        1
    );
}

/// Consumers written the way Ritual's SDK documentation shows (contracts/test/Doc*.sol).
#[allow(clippy::too_many_arguments)] // the generated bindings mirror 9-argument callbacks
mod doc {
    pub mod callback {
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            DocCallbackConsumer,
            "contracts/artifacts/DocCallbackConsumer.json"
        );
    }
    pub mod subscription {
        alloy::sol!(
            #[sol(rpc)]
            #[derive(Debug)]
            DocSubscriptionConsumer,
            "contracts/artifacts/DocSubscriptionConsumer.json"
        );
    }
}
#[allow(clippy::too_many_arguments)]
mod reentrant {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ReentrantConsumer,
        "contracts/artifacts/ReentrantConsumer.json"
    );
}

/// Sends a transaction and asserts it was mined successfully.
macro_rules! mined {
    ($call:expr) => {{
        let r = $call.send().await.unwrap().get_receipt().await.unwrap();
        assert!(r.status(), "transaction reverted");
        r
    }};
}

/// Ritual's SDK v1 declares the payloads of `_receiveCompute`/`rawReceiveCompute` as
/// `bytes calldata`; a consumer overriding them must use the same data locations, or solc refuses
/// it (error 7723). The Doc* consumers are written as Ritual's docs show, importing our bases by the
/// SDK's paths (`infernet-sdk/...`): that they are in the artifacts at all means they compiled
/// against our bases unchanged (build.mjs stops on any compile error). Here they receive deliveries:
/// eager, lazy through the Inbox, delegated, and refused by the Allowlist pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_written_for_ritual_sdk_compile_unchanged_and_receive_deliveries() {
    for (file, base) in [
        (
            "DocCallbackConsumer.sol",
            "infernet-sdk/consumer/Callback.sol",
        ),
        (
            "DocSubscriptionConsumer.sol",
            "infernet-sdk/consumer/Subscription.sol",
        ),
    ] {
        let src = std::fs::read_to_string(repo().join("contracts/test").join(file)).unwrap();
        assert!(src.contains(&format!("from \"{base}\"")), "{file}");
        let signature = "internal override";
        let receive = &src[src.find("function _receiveCompute(").unwrap()..];
        let receive = &receive[..receive.find(signature).unwrap()];
        for p in [
            "uint32 subscriptionId,",
            "uint32 interval,",
            "uint16 redundancy,",
            "address node,",
            "bytes calldata input,",
            "bytes calldata output,",
            "bytes calldata proof,",
            "bytes32 containerId,",
            "uint256 index",
        ] {
            assert!(receive.contains(p), "{file}: `{p}` in the override");
        }
    }

    let Some(e) = env().await else { return };
    let registry = e.chain.addrs.registry;
    let cid = container_set_hash(&["container".into()]);

    // Eager, one-shot.
    let cb = doc::callback::DocCallbackConsumer::deploy(e.chain.user.clone(), registry)
        .await
        .unwrap();
    mined!(cb.requestCompute("container".into(), Bytes::from_static(b"inputs")));
    assert_eq!(
        cb.getContainerInputs(1, 1, 0, Address::ZERO)
            .call()
            .await
            .unwrap(),
        Bytes::from_static(b"inputs")
    );
    mined!(e.node1.deliverCompute(
        1,
        1,
        Bytes::from_static(b"in"),
        Bytes::from_static(b"out"),
        Bytes::from_static(b"pf"),
        Address::ZERO,
    ));
    let r = cb.responses(1, 1, 1).call().await.unwrap();
    assert_eq!(
        (
            r.node,
            r.input.to_vec(),
            r.output.to_vec(),
            r.proof.to_vec(),
            r.containerId,
            r.index
        ),
        (
            addr(NODE),
            b"in".to_vec(),
            b"out".to_vec(),
            b"pf".to_vec(),
            B256::ZERO,
            U256::ZERO
        )
    );

    // Recurring, lazy, allowlisted (NODE only), with Delegator.
    let sc = doc::subscription::DocSubscriptionConsumer::deploy(
        e.chain.user.clone(),
        registry,
        addr(USER),
        vec![addr(NODE)],
    )
    .await
    .unwrap();
    mined!(sc.setContainerInputs(Bytes::from_static(b"x")));
    mined!(sc.subscribe("container".into(), 1, 0, 2, true));
    assert_eq!(
        sc.getContainerInputs(2, 1, 0, Address::ZERO)
            .call()
            .await
            .unwrap(),
        Bytes::from_static(b"x")
    );
    macro_rules! lazy {
        ($c:expr) => {
            $c.deliverCompute(
                2,
                1,
                Bytes::from_static(b"lin"),
                Bytes::from_static(b"lout"),
                Bytes::from_static(b"lpf"),
                Address::ZERO,
            )
        };
    }
    assert_eq!(
        revert_of(lazy!(e.node2).call().await),
        Revert::NodeNotAllowed
    );
    mined!(lazy!(e.node1));
    let r = sc.responses(2, 1, 1).call().await.unwrap();
    assert_eq!(
        (
            r.node,
            r.input.to_vec(),
            r.output.to_vec(),
            r.proof.to_vec(),
            r.containerId,
            r.index
        ),
        (
            addr(NODE),
            b"lin".to_vec(),
            b"lout".to_vec(),
            b"lpf".to_vec(),
            cid,
            U256::ZERO
        ),
        "the lazy payloads, read back from the Inbox"
    );
    mined!(sc.updateAllowlist(vec![addr(NODE2)], vec![true]));
    mined!(lazy!(e.node2));
    assert_eq!(
        sc.responses(2, 1, 2).call().await.unwrap().node,
        addr(NODE2)
    );

    // Delegated: created and delivered in one transaction.
    let chain_id = e.chain.user.get_chain_id().await.unwrap();
    let domain = eip712::domain(chain_id, e.chain.addrs.coordinator);
    let now = e.chain.now().await;
    let sub = Subscription::from((
        0,
        EIP712Coordinator::Subscription {
            owner: *sc.address(),
            activeAt: now as u32,
            period: 0,
            frequency: 1,
            redundancy: 1,
            containerId: cid,
            lazy: false,
            verifier: Address::ZERO,
            paymentAmount: U256::ZERO,
            paymentToken: Address::ZERO,
            wallet: Address::ZERO,
        },
    ));
    let expiry = (now + 3600) as u32;
    let (v, r, s) = eip712::sign(&key(USER), &eip712::digest(&domain, 7, expiry, &sub)).unwrap();
    mined!(e.node1.deliverComputeDelegatee(
        7,
        expiry,
        sub.to_abi(),
        v,
        r,
        s,
        1,
        Bytes::new(),
        Bytes::from_static(b"signed"),
        Bytes::new(),
        Address::ZERO,
    ));
    assert_eq!(
        e.user
            .delegateCreatedIds(delegate_key(sub.owner, 7))
            .call()
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        sc.responses(3, 1, 1).call().await.unwrap().output.to_vec(),
        b"signed".to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrant_delivery_is_refused() {
    let Some(e) = env().await else { return };
    let bad = reentrant::ReentrantConsumer::deploy(e.chain.user.clone(), e.chain.addrs.registry)
        .await
        .unwrap();
    mined!(bad.request("container".into()));
    mined!(bad.request("container".into()));
    // The callback of subscription 1 tries to deliver subscription 2 from inside the delivery.
    assert_eq!(
        revert_of(empty_delivery!(e.node1, 1, 1).call().await),
        Revert::Reentrancy
    );
    // Mined (no gas estimate to stop it): reverted on chain too, and the lock is left unlocked.
    let r = empty_delivery!(e.node1, 1, 1)
        .gas(2_000_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!r.status(), "the reentrant delivery reverts");
    let consumer = e.chain.callback_consumer().await;
    mined!(consumer.request("container".into(), Bytes::new(), 1));
    mined!(empty_delivery!(e.node1, 3, 1));
    assert_eq!(
        consumer.deliveryCount(3, 1).call().await.unwrap(),
        U256::from(1)
    );
    mined!(consumer.request("container".into(), Bytes::new(), 1));
    mined!(empty_delivery!(e.node2, 4, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_and_fee_ownership_withdrawals_and_coordinator_only_moves() {
    use common::chain::TestToken;
    use infernet::chain::abi::{Fee, Wallet, WalletFactory};
    let Some(e) = env().await else { return };
    let user = e.chain.user.clone();
    let node = e.chain.signer(NODE).await;
    let factory = WalletFactory::new(e.chain.addrs.wallet_factory, user.clone());
    let w = e.chain.create_wallet(addr(USER)).await;
    assert!(factory.isValidWallet(w).call().await.unwrap());
    let wallet = Wallet::new(w, user.clone());
    let as_node = Wallet::new(w, node.clone());
    assert_eq!(wallet.owner().call().await.unwrap(), addr(USER));

    // Only the owner approves and withdraws; only the coordinator moves funds.
    assert_eq!(
        revert_of(
            as_node
                .approve(addr(NODE), Address::ZERO, U256::from(1))
                .call()
                .await
        ),
        custom("82b42900") // Unauthorized()
    );
    assert_eq!(
        revert_of(as_node.withdraw(Address::ZERO, U256::ZERO).call().await),
        custom("82b42900")
    );
    let zero = (addr(NODE), Address::ZERO);
    assert_eq!(
        revert_of(
            as_node
                .cTransfer(zero.0, zero.1, zero.0, U256::ZERO)
                .call()
                .await
        ),
        Revert::NotCoordinator
    );
    assert_eq!(
        revert_of(as_node.cLock(zero.0, zero.1, U256::ZERO).call().await),
        Revert::NotCoordinator
    );
    assert_eq!(
        revert_of(as_node.cUnlock(zero.0, zero.1, U256::ZERO).call().await),
        Revert::NotCoordinator
    );
    mined!(wallet.approve(addr(NODE), Address::ZERO, U256::from(5)));
    assert_eq!(
        wallet
            .allowance(addr(NODE), Address::ZERO)
            .call()
            .await
            .unwrap(),
        U256::from(5)
    );

    // ETH: deposit, withdraw to the owner, not more than the balance.
    e.chain.send_eth(w, U256::from(1000)).await;
    assert_eq!(
        revert_of(
            wallet
                .withdraw(Address::ZERO, U256::from(1001))
                .call()
                .await
        ),
        Revert::InsufficientFunds
    );
    mined!(wallet.withdraw(Address::ZERO, U256::from(400)));
    assert_eq!(e.chain.balance(w).await, U256::from(600));

    // ERC-20, including tokens whose transfer returns nothing, and one that returns false.
    let token = TestToken::deploy(user.clone()).await.unwrap();
    let t = *token.address();
    mined!(token.mint(w, U256::from(100)));
    mined!(wallet.withdraw(t, U256::from(10)));
    mined!(token.setTransferMode(1));
    mined!(wallet.withdraw(t, U256::from(20)));
    assert_eq!(
        token.balanceOf(addr(USER)).call().await.unwrap(),
        U256::from(30)
    );
    mined!(token.setTransferMode(2));
    assert_eq!(
        revert_of(wallet.withdraw(t, U256::from(1)).call().await),
        Revert::TransferFailed
    );
    assert_eq!(
        revert_of(wallet.withdraw(t, U256::from(71)).call().await),
        Revert::InsufficientFunds
    );
    // A "token" without code cannot be withdrawn (its balance reads 0, and sending to it fails).
    assert_eq!(
        revert_of(wallet.withdraw(addr(NODE2), U256::ZERO).call().await),
        Revert::TransferFailed
    );

    // Ownership: zero address refused, two-step handover, renounce.
    assert_eq!(
        revert_of(wallet.transferOwnership(Address::ZERO).call().await),
        custom("7448fbae") // NewOwnerIsZeroAddress()
    );
    assert_eq!(
        revert_of(wallet.completeOwnershipHandover(addr(NODE)).call().await),
        custom("6f5e8818") // NoHandoverRequest()
    );
    let r = mined!(as_node.requestOwnershipHandover());
    let at = e
        .chain
        .user
        .get_block_by_number(r.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert_eq!(
        wallet
            .ownershipHandoverExpiresAt(addr(NODE))
            .call()
            .await
            .unwrap(),
        U256::from(at + 48 * 3600)
    );
    mined!(wallet.completeOwnershipHandover(addr(NODE)));
    assert_eq!(wallet.owner().call().await.unwrap(), addr(NODE));
    assert_eq!(
        wallet
            .ownershipHandoverExpiresAt(addr(NODE))
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );
    mined!(as_node.requestOwnershipHandover());
    mined!(as_node.cancelOwnershipHandover());
    assert_eq!(
        wallet
            .ownershipHandoverExpiresAt(addr(NODE))
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );
    mined!(as_node.transferOwnership(addr(USER)));
    mined!(wallet.renounceOwnership());
    assert_eq!(wallet.owner().call().await.unwrap(), Address::ZERO);

    // Fee: the fee shares a storage slot with its owner; neither write disturbs the other.
    let fee = Fee::deploy(user.clone(), addr(USER), 500).await.unwrap();
    assert_eq!(
        (
            fee.FEE().call().await.unwrap(),
            fee.FEE_RECIPIENT().call().await.unwrap()
        ),
        (500, addr(USER))
    );
    mined!(fee.updateFee(77));
    assert_eq!(fee.owner().call().await.unwrap(), addr(USER));
    mined!(fee.transferOwnership(addr(NODE)));
    assert_eq!(
        (
            fee.FEE().call().await.unwrap(),
            fee.FEE_RECIPIENT().call().await.unwrap()
        ),
        (77, addr(NODE))
    );
    assert_eq!(
        revert_of(fee.updateFee(9).call().await),
        custom("82b42900") // Unauthorized()
    );
    mined!(Fee::new(*fee.address(), node).updateFee(9));
    assert_eq!(fee.FEE().call().await.unwrap(), 9);
}
