//! Gas of the four paths issue 19 compares with Ritual's SDK, on a real anvil: an eager
//! `deliverCompute`, `deliverComputeDelegatee` (create + deliver), a proof-gated delivery settled
//! by an atomic verifier, and `WalletFactory.createWallet`.
//!
//! The contracts are deployed from artifact JSON read at run time: the working tree's
//! `contracts/artifacts` ("ours now") and the same files at a git revision from before the gas
//! work ("ours before", `INFERNET_GAS_BASELINE_REV`, default a784a53), run through the same
//! scenario. Ritual's figures come from the issue, measured by its filer in a rig whose consumer
//! and payloads we do not have, next to the filer's figures for our old build in that rig. So the
//! comparison is anchored there: estimated ours in that rig = the filer's old figure minus the
//! reduction measured here between before and now (the consumers and payloads are the same on
//! both sides of that subtraction). The direct figures of this scenario are printed too.
//!
//! Scenario: fresh anvil (a block per transaction), protocol fee 500 bp, the test consumers of
//! contracts/test (they keep every delivery: TestCallbackConsumer, TestSubscriptionConsumer as the
//! Delegator), payloads "in"/"out"/"pf"; the eager delivery measured is the coordinator's second
//! (steady state), the proof-gated one pays 0.1 ETH with a 0.01 ETH verifier fee, proof 0xbeef.
//!
//! `eval "$(./scripts/provision-chain.sh)" && cargo bench --bench gas`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails loudly by design

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use infernet::chain::abi::{EIP712Coordinator, Wallet, WalletFactory};
use infernet::chain::anvil::{self, Anvil, DEV_KEYS};
use infernet::chain::deploy::{parse_key, signing_provider};
use infernet::chain::eip712;
use infernet::chain::subscription::{Subscription, container_set_hash};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The ABI only (the same in both builds); the code comes from the artifacts at run time.
#[allow(clippy::too_many_arguments)] // the generated bindings mirror 9-argument callbacks
mod callback {
    alloy::sol!(
        #[sol(rpc)]
        TestCallbackConsumer,
        "contracts/artifacts/TestCallbackConsumer.json"
    );
}
use callback::TestCallbackConsumer;

/// The last revision whose contracts predate the gas work (same artifacts up to it).
const BASELINE_REV: &str = "a784a5344e4f00a13909718c304741b9175f44f6";
const FEE_BP: u16 = 500;
const USER: usize = 0;
const NODE: usize = 1;
const DEPLOYER: usize = 2;

/// (path, Ritual's figure, the filer's figure for our old build), both from issue 19.
const REFERENCE: [(&str, u64, u64); 4] = [
    ("eager deliverCompute", 208_444, 209_626),
    ("deliverComputeDelegatee", 295_606, 299_810),
    ("proof delivery, atomic verifier", 280_282, 284_716),
    ("createWallet", 752_538, 832_414),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn key(i: usize) -> PrivateKeySigner {
    parse_key(DEV_KEYS[i]).unwrap()
}

/// Creation code of the contracts, from a directory or a git revision.
enum Artifacts {
    Dir(PathBuf),
    Rev(String),
}

impl Artifacts {
    fn bytecode(&self, name: &str) -> Option<Vec<u8>> {
        let text = match self {
            Artifacts::Dir(d) => std::fs::read_to_string(d.join(format!("{name}.json"))).ok()?,
            Artifacts::Rev(rev) => {
                let out = Command::new("git")
                    .arg("-C")
                    .arg(repo())
                    .args(["show", &format!("{rev}:contracts/artifacts/{name}.json")])
                    .output()
                    .ok()?;
                if !out.status.success() {
                    return None;
                }
                String::from_utf8(out.stdout).ok()?
            }
        };
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        alloy::hex::decode(v["bytecode"].as_str()?).ok()
    }
}

fn mined(r: TransactionReceipt) -> TransactionReceipt {
    assert!(r.status(), "transaction reverted: {r:?}");
    r
}

async fn deploy(p: &DynProvider, code: &[u8], args: Vec<u8>) -> Address {
    let mut data = code.to_vec();
    data.extend(args);
    let tx = TransactionRequest::default().with_deploy_code(data);
    let r = mined(
        p.send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
    );
    r.contract_address.unwrap()
}

struct Figures([u64; 4]);

/// Runs the scenario on a fresh anvil with the given build; None if an artifact is missing.
async fn measure(bin: &Path, art: &Artifacts) -> Option<Figures> {
    let code = |n: &str| art.bytecode(n);
    let codes = [
        "Registry",
        "EIP712Coordinator",
        "Inbox",
        "Reader",
        "Fee",
        "WalletFactory",
        "TestCallbackConsumer",
        "TestSubscriptionConsumer",
        "TestVerifier",
    ]
    .map(code);
    if codes.iter().any(Option::is_none) {
        return None;
    }
    let [reg, coord, inbox, reader, fee, factory, cb, sc, verifier] = codes.map(Option::unwrap);

    let anvil = Anvil::start(bin, 0, 0, &[]).expect("anvil starts");
    let url = anvil.url();
    let deployer = signing_provider(&url, &key(DEPLOYER)).await.unwrap();
    let user = signing_provider(&url, &key(USER)).await.unwrap();
    let node = signing_provider(&url, &key(NODE)).await.unwrap();
    let (user_addr, node_addr) = (key(USER).address(), key(NODE).address());

    // The stack, Registry first with the others' CREATE addresses computed in advance.
    let from = key(DEPLOYER).address();
    let n = deployer.get_transaction_count(from).await.unwrap();
    let at = |k: u64| from.create(n + k);
    let registry = deploy(
        &deployer,
        &reg,
        (at(1), at(2), at(3), at(4), at(5)).abi_encode_params(),
    )
    .await;
    for c in [&coord, &inbox, &reader] {
        deploy(&deployer, c, (registry,).abi_encode_params()).await;
    }
    deploy(
        &deployer,
        &fee,
        (Address::repeat_byte(0xfe), FEE_BP).abi_encode_params(),
    )
    .await;
    let wallet_factory = deploy(&deployer, &factory, (registry,).abi_encode_params()).await;
    assert_eq!((registry, wallet_factory), (at(0), at(5)));
    let coordinator = at(1);
    let as_node = EIP712Coordinator::new(coordinator, node.clone());

    // 1. Eager delivery, steady state (the coordinator's second).
    let cb = deploy(&user, &cb, (registry,).abi_encode_params()).await;
    let cb = TestCallbackConsumer::new(cb, user.clone());
    let mut eager = 0;
    for id in 1..=2u32 {
        let r = cb.request("container".into(), Bytes::from_static(b"inputs"), 1);
        mined(r.send().await.unwrap().get_receipt().await.unwrap());
        let d = as_node.deliverCompute(
            id,
            1,
            Bytes::from_static(b"in"),
            Bytes::from_static(b"out"),
            Bytes::from_static(b"pf"),
            Address::ZERO,
        );
        eager = mined(d.send().await.unwrap().get_receipt().await.unwrap()).gas_used;
    }

    // 2. Create + deliver a signed subscription in one transaction.
    let sc = deploy(&user, &sc, (registry, user_addr).abi_encode_params()).await;
    let chain_id = user.get_chain_id().await.unwrap();
    let now = user
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp as u32;
    let sub = Subscription::from((
        0,
        EIP712Coordinator::Subscription {
            owner: sc,
            activeAt: now,
            period: 0,
            frequency: 1,
            redundancy: 1,
            containerId: container_set_hash(&["container".into()]),
            lazy: false,
            verifier: Address::ZERO,
            paymentAmount: U256::ZERO,
            paymentToken: Address::ZERO,
            wallet: Address::ZERO,
        },
    ));
    let expiry = now + 3600;
    let domain = eip712::domain(chain_id, coordinator);
    let (v, r, s) = eip712::sign(&key(USER), &eip712::digest(&domain, 1, expiry, &sub)).unwrap();
    let d = as_node.deliverComputeDelegatee(
        1,
        expiry,
        sub.to_abi(),
        v,
        r,
        s,
        1,
        Bytes::from_static(b"in"),
        Bytes::from_static(b"out"),
        Bytes::from_static(b"pf"),
        Address::ZERO,
    );
    let delegatee = mined(d.send().await.unwrap().get_receipt().await.unwrap()).gas_used;

    // 3. Wallet creation (the node's), then the consumer's; both funded and approved.
    let factory = WalletFactory::new(wallet_factory, user.clone());
    let mut wallets = [Address::ZERO; 2];
    let mut create_wallet = 0;
    for (i, owner) in [node_addr, user_addr].into_iter().enumerate() {
        wallets[i] = factory.createWallet(owner).call().await.unwrap();
        let r = factory.createWallet(owner).send().await.unwrap();
        let r = mined(r.get_receipt().await.unwrap());
        if i == 0 {
            create_wallet = r.gas_used;
        }
        let fund = TransactionRequest::default()
            .to(wallets[i])
            .value(U256::from(10u64.pow(18)));
        mined(
            user.send_transaction(fund)
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap(),
        );
    }
    let [node_wallet, consumer_wallet] = wallets;
    for (wallet, owner, spender) in [
        (node_wallet, &node, node_addr),
        (consumer_wallet, &user, *cb.address()),
    ] {
        let wallet = Wallet::new(wallet, owner.clone());
        let approve = wallet.approve(spender, Address::ZERO, U256::MAX);
        mined(approve.send().await.unwrap().get_receipt().await.unwrap());
    }

    // 4. Paid, proof-gated delivery settled by an atomic verifier within the transaction.
    let milli = |n: u64| U256::from(n) * U256::from(10u64.pow(15));
    let verifier = deploy(
        &user,
        &verifier,
        (
            coordinator,
            true,
            milli(10),
            Bytes::from_static(&[0xbe, 0xef]),
        )
            .abi_encode_params(),
    )
    .await;
    let r = cb.requestPaid(
        "container".into(),
        Bytes::from_static(b"inputs"),
        1,
        Address::ZERO,
        milli(100),
        consumer_wallet,
        verifier,
    );
    mined(r.send().await.unwrap().get_receipt().await.unwrap());
    let d = as_node.deliverCompute(
        4,
        1,
        Bytes::from_static(b"in"),
        Bytes::from_static(b"out"),
        Bytes::from_static(&[0xbe, 0xef]),
        node_wallet,
    );
    let atomic = mined(d.send().await.unwrap().get_receipt().await.unwrap()).gas_used;
    assert_eq!(
        cb.deliveryCount(4, 1).call().await.unwrap(),
        U256::from(1),
        "the proof-gated delivery reached the consumer"
    );
    Some(Figures([eager, delegatee, atomic, create_wallet]))
}

fn pct(ours: u64, theirs: u64) -> String {
    format!(
        "{:+.1} %",
        (ours as f64 - theirs as f64) * 100.0 / theirs as f64
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = anvil::find().expect("anvil (run scripts/provision-chain.sh)");
    let now = measure(&bin, &Artifacts::Dir(repo().join("contracts/artifacts")))
        .await
        .expect("the working tree's artifacts");
    let rev = std::env::var("INFERNET_GAS_BASELINE_REV").unwrap_or_else(|_| BASELINE_REV.into());
    let before = measure(&bin, &Artifacts::Rev(rev.clone())).await;
    if before.is_none() {
        println!("(no artifacts at {rev}: the baseline columns are left out)");
    }

    println!(
        "gas per path; this scenario: ours now / ours at {} | issue 19's rig: Ritual, ours estimated",
        &rev[..rev.len().min(7)]
    );
    println!(
        "{:<33} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "path", "now", "before", "change", "Ritual", "ours est.", "delta"
    );
    for (i, (path, ritual, filer_before)) in REFERENCE.into_iter().enumerate() {
        let ours = now.0[i];
        match &before {
            Some(b) => {
                let reduction = b.0[i] as i64 - ours as i64;
                let estimate = (filer_before as i64 - reduction) as u64;
                println!(
                    "{path:<33} {ours:>9} {:>9} {:>9} | {ritual:>9} {estimate:>9} {:>9}",
                    b.0[i],
                    pct(ours, b.0[i]),
                    pct(estimate, ritual)
                );
            }
            None => println!(
                "{path:<33} {ours:>9} {:>9} {:>9} | {ritual:>9} {:>9} {:>9}",
                "-",
                "-",
                "-",
                pct(ours, ritual)
            ),
        }
    }
    println!(
        "delta = estimated ours against Ritual's figure in the issue's rig (without a baseline: this \
         scenario's figure against Ritual's, not like for like)"
    );
}
