//! `chain.sdk: "0.x"`: the node against our reproduction of SDK v0.1.0's coordinator (its ABI:
//! node registration with a cooldown, `string containerId` + `bytes inputs` subscriptions,
//! gas-metered deliveries open to active nodes only) on a real anvil, with the real echo
//! container, and `infernet node register|activate|status` as an operator runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![allow(clippy::too_many_arguments)] // generated bindings
mod common;

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolValue;
use common::chain::{
    DEV_KEYS_NODE, NODE, TestChain, addr, eventually, info, node_config, sub_view,
};
use common::{NativeEcho, infernet_cmd, remote, start};
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(90);

mod v0 {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        V0Coordinator,
        "contracts/artifacts/V0Coordinator.json"
    );
}
mod v0_callback {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        V0TestCallbackConsumer,
        "contracts/artifacts/V0TestCallbackConsumer.json"
    );
}
mod v0_recurring {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        V0TestSubscriptionConsumer,
        "contracts/artifacts/V0TestSubscriptionConsumer.json"
    );
}
use v0::V0Coordinator;
use v0_callback::V0TestCallbackConsumer;
use v0_recurring::V0TestSubscriptionConsumer;

/// Generous limits: 1000 gwei, 1M gas.
const PRICE: u64 = 1_000_000_000_000;

fn price(wei: u64) -> alloy::primitives::Uint<48, 1> {
    alloy::primitives::Uint::<48, 1>::from(wei)
}

/// Sends a call and waits until it is mined successfully.
async fn send<C: alloy::contract::CallDecoder>(
    b: alloy::contract::CallBuilder<&alloy::providers::DynProvider, C>,
) {
    let r = b.send().await.unwrap().get_receipt().await.unwrap();
    assert!(r.status());
}
const LIMIT: u32 = 1_000_000;

fn node_cli(home: &std::path::Path, cfg: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let o = infernet_cmd(home)
        .arg("--config")
        .arg(cfg)
        .arg("node")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

async fn sub_reason(base: &str, id: u32) -> Value {
    eventually(&format!("subscription {id} finished"), T, || async {
        let s = sub_view(&info(base).await?, id)?;
        (s["status"] == "completed").then_some(s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sdk_0x_node_registers_activates_and_delivers() {
    let Some(chain) = TestChain::start(1, &[]).await else {
        return;
    };
    let coord = V0Coordinator::deploy(chain.user.clone()).await.unwrap();
    let callback = V0TestCallbackConsumer::deploy(chain.user.clone(), *coord.address())
        .await
        .unwrap();
    let recurring = V0TestSubscriptionConsumer::deploy(chain.user.clone(), *coord.address())
        .await
        .unwrap();
    // The v0.1.0 ABI, by selector (reference ritual-sdk.md §1.1).
    use alloy::sol_types::SolCall;
    assert_eq!(
        V0TestCallbackConsumer::rawReceiveComputeCall::SELECTOR,
        [0xf8, 0xeb, 0x7f, 0xbd]
    );
    assert_eq!(
        V0TestSubscriptionConsumer::getContainerInputsCall::SELECTOR,
        [0x96, 0x2f, 0xad, 0x75]
    );

    let echo = NativeEcho::start("echo");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config(
        dir.path(),
        &chain,
        &chain.url,
        NODE,
        vec![remote("echo", &echo.url())],
    );
    cfg.chain.sdk = "0.x".into();
    cfg.chain.registry_address = None;
    cfg.chain.coordinator_address = Some(coord.address().to_string());
    let (h, base) = start(cfg).await;
    // The operator's config for the CLI: the same chain, coordinator and key.
    let cli_cfg = dir.path().join("cli.json");
    std::fs::write(
        &cli_cfg,
        json!({"chain": {"enabled": true, "sdk": "0.x", "rpc_url": chain.url,
               "coordinator_address": coord.address().to_string(),
               "wallet": {"private_key": format!("0x{}", DEV_KEYS_NODE)}}})
        .to_string(),
    )
    .unwrap();
    let home = dir.path();

    // Not registered: nothing is delivered, and the reason says what to run.
    let reg = eventually("registration read", T, || async {
        let i = info(&base).await?;
        let r = i["chain"]["status"]["registration"].clone();
        (!r.is_null()).then_some(r)
    })
    .await;
    assert_eq!(reg["status"], "inactive", "{reg}");
    send(callback.request(
        "echo".into(),
        Bytes::from_static(b"early"),
        price(PRICE),
        LIMIT,
        1,
    ))
    .await;
    let s = sub_reason(&base, 1).await;
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("its interval was skipped: NodeNotActive")
            && reason.contains("infernet node register"),
        "{s}"
    );

    // Register; activation waits for the cooldown.
    let (code, out, err) = node_cli(home, &cli_cfg, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "inactive"
    );
    let (code, out, err) = node_cli(home, &cli_cfg, &["register"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("after the 1h00m00s cooldown"), "{out}");
    let (code, _, err) = node_cli(home, &cli_cfg, &["activate"]);
    assert_eq!(code, 1);
    assert!(err.contains("still in its cooldown: activate in"), "{err}");
    let (_, out, _) = node_cli(home, &cli_cfg, &["status", "--json"]);
    let st: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["status"], "registered");
    assert_eq!(st["cooldown_secs"], 3600);
    assert!(st["cooldown_left_s"].as_u64().unwrap() > 3500, "{st}");
    // Registering twice is refused by the coordinator, by name.
    let (code, _, err) = node_cli(home, &cli_cfg, &["register"]);
    assert_eq!(code, 1);
    assert!(err.contains("NodeNotRegisterable"), "{err}");
    eventually("registered in /info", T, || async {
        let i = info(&base).await?;
        (i["chain"]["status"]["registration"]["status"] == "registered").then_some(())
    })
    .await;

    chain.warp(3600).await;
    let (code, out, err) = node_cli(home, &cli_cfg, &["activate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is active"), "{out}");
    eventually("active in /info", T, || async {
        let i = info(&base).await?;
        (i["chain"]["status"]["registration"]["status"] == "active").then_some(())
    })
    .await;

    // A callback: its inputs travel in the subscription.
    send(callback.request(
        "echo".into(),
        Bytes::from_static(b"hello v0"),
        price(PRICE),
        LIMIT,
        1,
    ))
    .await;
    eventually("callback delivered", T, || async {
        let n = callback.deliveryCount(2, 1).call().await.ok()?;
        (n == U256::from(1)).then_some(())
    })
    .await;
    let d = callback.delivery(2, 1, U256::ZERO).call().await.unwrap();
    assert_eq!(d.node, addr(NODE));
    let (out,) = <(String,)>::abi_decode_params(&d.output).unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["echo"], alloy::hex::encode(b"hello v0"), "{out}");

    // Recurring: each interval's inputs come from getContainerInputs.
    send(recurring.create("echo".into(), price(PRICE), LIMIT, 2, 4, 1)).await;
    for interval in [1u32, 2] {
        eventually(&format!("interval {interval} delivered"), T, || async {
            let n = recurring.deliveryCount(3, interval).call().await.ok()?;
            (n == U256::from(1)).then_some(())
        })
        .await;
        let d = recurring
            .delivery(3, interval, U256::ZERO)
            .call()
            .await
            .unwrap();
        let (out,) = <(String,)>::abi_decode_params(&d.output).unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        let want = alloy::hex::encode(format!("interval {interval}"));
        assert_eq!(out["echo"], want, "{out}");
    }

    // A maxGasPrice under the base fee: skipped, not sent.
    send(callback.request(
        "echo".into(),
        Bytes::from_static(b"cheap"),
        price(1),
        LIMIT,
        1,
    ))
    .await;
    let s = sub_reason(&base, 4).await;
    assert!(
        s["reason"].as_str().unwrap().contains("GasPriceExceeded"),
        "{s}"
    );
    // A maxGasLimit under the coordinator's overhead: the simulation names the error.
    send(callback.request(
        "echo".into(),
        Bytes::from_static(b"tight"),
        price(PRICE),
        60_000,
        1,
    ))
    .await;
    let s = sub_reason(&base, 5).await;
    let reason = s["reason"].as_str().unwrap();
    assert!(reason.contains("GasLimitExceeded"), "{s}");
    assert_eq!(
        callback.deliveryCount(5, 1).call().await.unwrap(),
        U256::ZERO
    );

    // Delegated subscriptions are an SDK 1.x feature: a clear refusal.
    let r = common::http()
        .post(format!("{base}/api/jobs"))
        .json(
            &json!({"signature": {"nonce": 1, "expiry": 1, "v": 27, "r": "0x00", "s": "0x00"},
                      "subscription": {"owner": Address::ZERO.to_string()}, "data": {}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"], "Delegated subscriptions need SDK 1.x contracts",
        "{body}"
    );
    h.shutdown().await;
}

/// A config naming SDK 0.x without a coordinator says which key is missing; an SDK 1.x
/// config refuses the registration commands with the reason.
#[test]
fn sdk_0x_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    let key = format!("0x{DEV_KEYS_NODE}");
    // (config, command, exit code, what stderr names)
    let cases = [
        (
            json!({"chain": {"enabled": true, "sdk": "0.x", "rpc_url": "http://127.0.0.1:1",
                   "wallet": {"private_key": key}}}),
            ["config", "check"],
            2,
            vec!["chain.coordinator_address", "is required"],
        ),
        (
            json!({"chain": {"enabled": true, "sdk": "2.x"}}),
            ["config", "check"],
            2,
            vec!["chain.sdk", "not one of 1.x, 0.x"],
        ),
        (
            json!({"chain": {"enabled": false, "rpc_url": "http://127.0.0.1:1",
                   "wallet": {"private_key": key}}}),
            ["node", "status"],
            2,
            vec!["chain.sdk is 1.x"],
        ),
    ];
    for (config, args, code, names) in cases {
        std::fs::write(&cfg, config.to_string()).unwrap();
        let o = infernet_cmd(dir.path())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{config}: {err}");
        for n in names {
            assert!(err.contains(n), "{config}: {err}");
        }
    }
}
