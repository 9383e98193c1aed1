//! `infernet contracts deploy` and `infernet dev chain` as an operator runs them (the real
//! binary, real anvil), and the node over a WebSocket RPC URL and on a pre-EIP-1559 chain.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
mod common;

use alloy::primitives::{Address, Bytes, U256};
use common::chain::{NODE, TestChain, addr, eventually, node_config};
use common::{NativeEcho, free_port, infernet_cmd, remote, start};
use infernet::chain::ChainClient;
use infernet::chain::anvil::{self, Anvil, DEV_KEYS};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_deploy_prints_addresses_and_writes_the_config() {
    let Some(bin) = anvil::find() else {
        assert!(!common::in_ci(), "anvil is required under CI=true");
        return;
    };
    let chain = Anvil::start(&bin, 0, 0, &[]).unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config.json");
    std::fs::write(&cfg, r#"{"server": {"port": 4123}}"#).unwrap();
    let out = infernet_cmd(home.path())
        .args([
            "contracts",
            "deploy",
            "--rpc-url",
            &chain.url(),
            "--json",
            "--write-config",
        ])
        .arg(&cfg)
        .env("INFERNET_DEPLOYER_KEY", DEV_KEYS[2])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Account #2 at nonce 0: Ritual's well-known local addresses.
    assert_eq!(v["registry"], "0x663F3ad617193148711d28f5334eE4Ed07016602");
    assert_eq!(
        v["coordinator"],
        "0x2E983A1Ba5e8b38AAAeC4B440B9dDcFBf72E15d1"
    );
    assert_eq!(v["chain_id"], 31337);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(written["server"]["port"], 4123, "other keys are kept");
    assert_eq!(written["chain"]["registry_address"], v["registry"]);
    assert_eq!(written["chain"]["rpc_url"], chain.url());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(DEV_KEYS[2]),
        "the key is never printed"
    );

    // A bad key is a usage error that does not echo it.
    let out = infernet_cmd(home.path())
        .args([
            "contracts",
            "deploy",
            "--rpc-url",
            &chain.url(),
            "--key",
            "0xnotakey",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a valid secp256k1 private key") && !err.contains("notakey"),
        "{err}"
    );

    // An unreachable RPC is a clear runtime error.
    let out = infernet_cmd(home.path())
        .args([
            "contracts",
            "deploy",
            "--rpc-url",
            &format!("http://127.0.0.1:{}", free_port()),
        ])
        .env("INFERNET_DEPLOYER_KEY", DEV_KEYS[2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_chain_gives_a_ready_config() {
    if anvil::find().is_none() {
        assert!(!common::in_ci(), "anvil is required under CI=true");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("dev.json");
    let port = free_port();
    let mut child = infernet_cmd(home.path())
        .args([
            "dev",
            "chain",
            "--port",
            &port.to_string(),
            "--block-time",
            "1",
            "--write-config",
        ])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let written: Value = eventually("the config", T, || async {
        let text = std::fs::read_to_string(&cfg).ok()?;
        serde_json::from_str(&text).ok()
    })
    .await;
    assert_eq!(written["chain"]["enabled"], true);
    assert_eq!(written["chain"]["trail_head_blocks"], 0);
    let registry: Address = written["chain"]["registry_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let url = written["chain"]["rpc_url"].as_str().unwrap().to_string();
    let c = ChainClient::connect(&url, registry)
        .await
        .expect("a working deployment");
    assert_eq!(c.chain_id, 31337);
    let node: Address = addr(NODE);
    let bal = alloy::providers::Provider::get_balance(c.provider(), node)
        .await
        .unwrap();
    assert!(
        bal >= U256::from(10u64).pow(U256::from(19u64)),
        "node key funded: {bal}"
    );
    // The written config passes `config check`.
    let out = infernet_cmd(home.path())
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SIGTERM (what scripts and service managers send) stops the command and its anvil.
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "dev chain exits cleanly on SIGTERM: {status}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "anvil still answers on {port} after dev chain stopped"
    );
}

async fn callback_delivered(chain: &TestChain, rpc_url: &str) {
    let echo = NativeEcho::start("echo");
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(
        dir.path(),
        chain,
        rpc_url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    let (h, _) = start(cfg).await;
    let consumer = chain.callback_consumer().await;
    consumer
        .request("echo".into(), Bytes::from_static(b"ws"), 1)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    eventually("the delivery", T, || async {
        (consumer.deliveryCount(1, 1).call().await.unwrap() == U256::from(1)).then_some(())
    })
    .await;
    assert_eq!(
        consumer
            .delivery(1, 1, U256::ZERO)
            .call()
            .await
            .unwrap()
            .node,
        addr(NODE)
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_works_over_a_websocket_rpc_url() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let ws = chain.anvil.ws_url();
    callback_delivered(&chain, &ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_sends_legacy_transactions_on_a_chain_without_base_fee() {
    let Some(chain) = TestChain::start(1, &["--hardfork", "berlin"]).await else {
        return;
    };
    let url = chain.url.clone();
    callback_delivered(&chain, &url).await;
    let tx_count = alloy::providers::Provider::get_transaction_count(&chain.user, addr(NODE))
        .await
        .unwrap();
    assert_eq!(tx_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_create_fund_approve_withdraw_as_an_operator() {
    let Some(chain) = TestChain::start(0, &[]).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({
            "server": {"port": 4123},
            "chain": {"enabled": true, "rpc_url": chain.url, "registry_address": chain.addrs.registry.to_string(),
                      "wallet": {"private_key": format!("0x{}", DEV_KEYS[NODE])}}
        })
        .to_string(),
    )
    .unwrap();
    let wallet = |args: &[&str]| {
        let out = infernet_cmd(home.path())
            .arg("--config")
            .arg(&cfg)
            .arg("wallet")
            .args(args)
            .output()
            .unwrap();
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !so.contains(DEV_KEYS[NODE]) && !se.contains(DEV_KEYS[NODE]),
            "the key is never printed"
        );
        (out.status.code(), so, se)
    };
    let json =
        |s: &str| -> Value { serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")) };
    let (code, out, err) = wallet(&["create", "--set-payment-address", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let w = json(&out)["wallet"].as_str().unwrap().to_string();
    assert_eq!(json(&out)["owner"], addr(NODE).to_string());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(written["chain"]["wallet"]["payment_address"], w.as_str());
    assert_eq!(written["server"]["port"], 4123, "other keys kept");
    // Without naming it, commands use chain.wallet.payment_address.
    let (_, out, _) = wallet(&["balance", "--json"]);
    let b = json(&out);
    assert_eq!(
        (
            b["wallet"].as_str(),
            b["factory_wallet"].as_bool(),
            b["balance"].as_str()
        ),
        (Some(w.as_str()), Some(true), Some("0"))
    );
    assert_eq!(b["owner"], addr(NODE).to_string());
    let (code, _, err) = wallet(&["fund", "--amount", "1eth"]);
    assert_eq!(code, Some(0), "{err}");
    let spender = addr(0).to_string();
    let (code, _, err) = wallet(&["approve", "--spender", &spender, "--amount", "0.3eth"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = wallet(&["balance", "--spender", &spender, "--json"]);
    let b = json(&out);
    assert_eq!(b["balance"], "1000000000000000000");
    assert_eq!(b["allowance"], "300000000000000000");
    let (code, _, err) = wallet(&["withdraw", "--amount", "0.4eth"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = wallet(&["balance", "--json"]);
    assert_eq!(json(&out)["balance"], "600000000000000000");
    // Failure paths name the problem.
    let (code, _, err) = wallet(&["withdraw", "--amount", "5eth"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Insufficient funds"), "{err}");
    let (code, out, _) = wallet(&["create", "--owner", &addr(0).to_string(), "--json"]);
    assert_eq!(code, Some(0));
    let theirs = json(&out)["wallet"].as_str().unwrap().to_string();
    let (code, _, err) = wallet(&["approve", &theirs, "--spender", &spender, "--amount", "1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is owned by"), "{err}");
    let (_, out, _) = wallet(&["balance", &Address::repeat_byte(0x42).to_string(), "--json"]);
    assert_eq!(json(&out)["factory_wallet"], false);
    let (code, _, err) = wallet(&["fund", "--amount", "lots"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a number"), "{err}");
}
