//! A real anvil with our contracts deployed by our deploy code, for the chain tests. anvil comes
//! from the npm package `@foundry-rs/anvil` (installed by the test command); without it the tests
//! skip locally and fail under CI=true.
#![allow(dead_code, clippy::too_many_arguments)]

use super::in_ci;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use infernet::chain::Addresses;
use infernet::chain::anvil::{self, Anvil, DEV_KEYS};
use infernet::chain::deploy::{deploy_stack, parse_key, signing_provider};
use infernet::config::{Config, ContainerConfig};
use std::path::Path;
use std::time::Duration;

/// Bindings of the test contracts, one module each (their ABIs share struct names).
pub mod callback {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        TestCallbackConsumer,
        "contracts/artifacts/TestCallbackConsumer.json"
    );
}
pub mod recurring {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        TestSubscriptionConsumer,
        "contracts/artifacts/TestSubscriptionConsumer.json"
    );
}
pub mod bulk {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        BulkSubscriber,
        "contracts/artifacts/BulkSubscriber.json"
    );
}
pub mod token {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        TestToken,
        "contracts/artifacts/TestToken.json"
    );
}
#[allow(unused_imports)]
pub use bulk::BulkSubscriber;
#[allow(unused_imports)]
pub use callback::TestCallbackConsumer;
#[allow(unused_imports)]
pub use recurring::TestSubscriptionConsumer;
pub mod verifier {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        TestVerifier,
        "contracts/artifacts/TestVerifier.json"
    );
}
#[allow(unused_imports)]
pub use token::TestToken;
#[allow(unused_imports)]
pub use verifier::TestVerifier;

/// Receives the protocol fee in the payment tests (an address nobody else uses).
pub const FEE_RECIPIENT: Address = Address::new([0xfe; 20]);

pub const DEPLOYER: usize = 2;
pub const NODE: usize = 1;
pub const NODE2: usize = 3;
pub const USER: usize = 0;
/// The node's key, hex, for config files the CLI reads.
pub const DEV_KEYS_NODE: &str = DEV_KEYS[NODE];

pub fn key(i: usize) -> PrivateKeySigner {
    parse_key(DEV_KEYS[i]).expect("dev key")
}

pub fn addr(i: usize) -> Address {
    key(i).address()
}

pub struct TestChain {
    pub anvil: Anvil,
    pub addrs: Addresses,
    pub url: String,
    pub user: DynProvider,
}

impl TestChain {
    /// anvil on a free loopback port (`block_time` 0 = a block per transaction), stack deployed
    /// by anvil account #2 (Ritual's addresses). None when anvil is missing outside CI.
    pub async fn start(block_time: u64, extra: &[&str]) -> Option<Self> {
        Self::start_with_fee(block_time, extra, FEE_RECIPIENT, 0).await
    }

    /// The same with a protocol fee of `fee_bp` basis points paid to `fee_recipient`.
    pub async fn start_with_fee(
        block_time: u64,
        extra: &[&str],
        fee_recipient: Address,
        fee_bp: u16,
    ) -> Option<Self> {
        let Some(bin) = anvil::find() else {
            assert!(
                !in_ci(),
                "anvil is required under CI=true (npm package @foundry-rs/anvil)"
            );
            eprintln!("skipping: anvil not found (run ./scripts/test.sh, which installs it)");
            return None;
        };
        let anvil = Anvil::start(&bin, 0, block_time, extra).expect("anvil starts");
        let url = anvil.url();
        let deployer = signing_provider(&url, &key(DEPLOYER))
            .await
            .expect("provider");
        let addrs = deploy_stack(&deployer, addr(DEPLOYER), fee_recipient, fee_bp)
            .await
            .expect("deploy");
        let user = signing_provider(&url, &key(USER)).await.expect("provider");
        Some(Self {
            anvil,
            addrs,
            url,
            user,
        })
    }

    /// A Wallet from the WalletFactory owned by `owner` (created by the test user).
    pub async fn create_wallet(&self, owner: Address) -> Address {
        let f =
            infernet::chain::abi::WalletFactory::new(self.addrs.wallet_factory, self.user.clone());
        let w = f
            .createWallet(owner)
            .call()
            .await
            .expect("createWallet (call)");
        let r = f
            .createWallet(owner)
            .send()
            .await
            .expect("createWallet")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(r.status());
        w
    }

    /// Sends ETH from the test user.
    pub async fn send_eth(&self, to: Address, amount: U256) {
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(to)
            .value(amount);
        let r = self
            .user
            .send_transaction(tx)
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(r.status());
    }

    /// `approve(spender, token, amount)` on a wallet the test user owns.
    pub async fn approve(&self, wallet: Address, spender: Address, token: Address, amount: U256) {
        let w = infernet::chain::abi::Wallet::new(wallet, self.user.clone());
        let r = w
            .approve(spender, token, amount)
            .send()
            .await
            .expect("approve")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(r.status());
    }

    /// The on-chain id a delegated (owner, nonce) was created as, once it is.
    pub async fn delegated_id(&self, owner: Address, nonce: u32) -> u32 {
        let coord =
            infernet::chain::abi::EIP712Coordinator::new(self.addrs.coordinator, self.user.clone());
        eventually(
            "the delegated subscription on chain",
            Duration::from_secs(60),
            || async {
                let id = coord
                    .delegateCreatedIds(infernet::chain::subscription::delegate_key(owner, nonce))
                    .call()
                    .await
                    .ok()?;
                (id != 0).then_some(id)
            },
        )
        .await
    }

    pub async fn signer(&self, i: usize) -> DynProvider {
        signing_provider(&self.url, &key(i))
            .await
            .expect("provider")
    }

    pub async fn rpc(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.user
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    pub async fn mine(&self) {
        self.rpc("evm_mine", serde_json::json!([])).await;
    }

    /// Moves block time forward and mines a block at it.
    pub async fn warp(&self, secs: u64) {
        self.rpc("evm_increaseTime", serde_json::json!([secs]))
            .await;
        self.mine().await;
    }

    pub async fn now(&self) -> u64 {
        let b = self
            .user
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("block")
            .expect("latest");
        b.header.timestamp
    }

    pub async fn balance(&self, a: Address) -> U256 {
        self.user.get_balance(a).await.expect("balance")
    }

    pub async fn callback_consumer(
        &self,
    ) -> TestCallbackConsumer::TestCallbackConsumerInstance<DynProvider> {
        TestCallbackConsumer::deploy(self.user.clone(), self.addrs.registry)
            .await
            .expect("deploy consumer")
    }

    pub async fn subscription_consumer(
        &self,
    ) -> TestSubscriptionConsumer::TestSubscriptionConsumerInstance<DynProvider> {
        TestSubscriptionConsumer::deploy(self.user.clone(), self.addrs.registry, addr(USER))
            .await
            .expect("deploy consumer")
    }
}

/// A node config for `chain`: key `node_key`, fast sync settings, the given containers.
pub fn node_config(
    dir: &Path,
    chain: &TestChain,
    rpc_url: &str,
    node_key: usize,
    containers: Vec<ContainerConfig>,
) -> Config {
    let mut c = super::test_config(dir, containers, false);
    c.chain.enabled = true;
    c.chain.rpc_url = Some(rpc_url.to_string());
    c.chain.registry_address = Some(chain.addrs.registry.to_string());
    c.chain.trail_head_blocks = 0;
    c.chain.wallet.private_key = Some(infernet::config::Secret::new(format!(
        "0x{}",
        DEV_KEYS[node_key]
    )));
    c.chain.snapshot_sync.sleep = 0.2;
    c.chain.snapshot_sync.sync_period = 0.2;
    c
}

pub use super::eventually;

/// `GET /info` of a node (None while it does not answer).
pub async fn info(base: &str) -> Option<serde_json::Value> {
    super::http()
        .get(format!("{base}/info"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// The chain head the node at `base` has seen, as `/info` shows it: (block number, block time).
pub async fn node_head(base: &str) -> Option<(u64, u64)> {
    let i = info(base).await?;
    let s = &i["chain"]["status"];
    Some((s["head_block"].as_u64()?, s["head_time"].as_u64()?))
}

/// Waits (bounded) until the node at `base` has seen block `number` or a later one: proof that
/// the chain, and the node with it, moved on (e.g. before asserting that nothing happened).
pub async fn wait_node_block(base: &str, number: u64) {
    eventually(
        &format!("the node to see block {number}"),
        Duration::from_secs(60),
        || async { (node_head(base).await?.0 >= number).then_some(()) },
    )
    .await
}

/// Waits (bounded) until the node at `base` has seen a block whose time is `time` or later.
pub async fn wait_node_time(base: &str, time: u64) {
    eventually(
        &format!("the node to see a block at time {time}"),
        Duration::from_secs(60),
        || async { (node_head(base).await?.1 >= time).then_some(()) },
    )
    .await
}

/// One subscription's entry in `/info`'s chain status.
pub fn sub_view(info: &serde_json::Value, id: u32) -> Option<serde_json::Value> {
    info["chain"]["status"]["subscriptions"]
        .as_array()?
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
}

/// A node on `rpc_url` with key `key` and one remote echo container called "echo".
pub struct EchoNode {
    pub handle: infernet::engine::EngineHandle,
    pub base: String,
    _echo: super::NativeEcho,
    _dir: tempfile::TempDir,
}

impl EchoNode {
    /// The node's SQLite store, for checks on what it recorded.
    pub fn store(&self) -> std::path::PathBuf {
        self._dir.path().join("infernet.db")
    }
}

pub async fn echo_node(
    chain: &TestChain,
    rpc_url: &str,
    key: usize,
    tweak: impl FnOnce(&mut Config),
) -> EchoNode {
    let echo = super::NativeEcho::start("echo");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = node_config(
        dir.path(),
        chain,
        rpc_url,
        key,
        vec![super::remote("echo", &echo.url())],
    );
    tweak(&mut cfg);
    let (handle, base) = super::start(cfg).await;
    EchoNode {
        handle,
        base,
        _echo: echo,
        _dir: dir,
    }
}
