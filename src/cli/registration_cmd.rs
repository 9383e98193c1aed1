//! `infernet node register|activate|deactivate|status`: node registration on an SDK 0.x
//! coordinator (`chain.sdk: "0.x"`). Anyone may register a node; the node activates itself
//! once the coordinator's cooldown has passed; only an active node may deliver. Transactions
//! are signed with the node's key (`chain.wallet.private_key`, from the keyring when not in
//! the file). Times are the chain's (the latest block), so they hold on a test chain too.
use alloy::primitives::Address;
use alloy::providers::Provider;
use clap::{Args, Subcommand};
use infernet::chain::abi::V0Coordinator;
use infernet::chain::deploy::signing_provider;
use infernet::chain::registration::{self, Registration};
use infernet::chain::{ChainClient, ChainError};
use infernet::config::{self, Overrides};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub command: NodeCommand,
    /// JSON output
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Register a node (default: this node's address); its cooldown starts now
    Register {
        #[arg(long)]
        node: Option<Address>,
    },
    /// Activate this node once the cooldown since registration has passed
    Activate,
    /// Deactivate this node (it stops being allowed to deliver)
    Deactivate,
    /// A node's registration (default: this node): inactive, registered with the time left
    /// of its cooldown, or active
    Status {
        #[arg(long)]
        node: Option<Address>,
    },
}

use super::wallet_cmd::fail;

struct Ctx {
    client: ChainClient,
    key: alloy::signers::local::PrivateKeySigner,
    url: String,
}

async fn ctx(flag: Option<&Path>) -> Result<Ctx, ExitCode> {
    let loaded = config::load(flag, &Overrides::default()).map_err(|e| fail(2, e))?;
    let c = &loaded.config.chain;
    if !c.sdk0() {
        return Err(fail(
            2,
            "chain.sdk is 1.x: SDK 1.x coordinators have no node registration (any node may deliver; a consumer restricts nodes with an Allowlist). Set chain.sdk to \"0.x\" and chain.coordinator_address for an SDK 0.x deployment",
        ));
    }
    let (url, key) = super::wallet_cmd::rpc_and_key(c)?;
    let coordinator: Address = c
        .coordinator_address
        .as_deref()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| fail(2, "chain.coordinator_address is missing or not an address"))?;
    let client = ChainClient::connect_v0(&url, coordinator)
        .await
        .map_err(|e| fail(1, e))?;
    Ok(Ctx { client, key, url })
}

pub fn run(flag: Option<&Path>, args: NodeArgs) -> ExitCode {
    let rt = match super::runtime(Some(2)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async move {
        let cx = match ctx(flag).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        match command(&cx, args.command, args.json).await {
            Ok(code) | Err(code) => code,
        }
    })
}

/// The latest block's time: what the coordinator compares the cooldown with.
async fn chain_now(cx: &Ctx) -> Result<u64, ExitCode> {
    let block = cx
        .client
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(|e| fail(1, format!("cannot read the latest block: {e}")))?
        .ok_or_else(|| fail(1, "the RPC returned no latest block"))?;
    Ok(block.header.timestamp)
}

async fn status_of(cx: &Ctx, node: Address) -> Result<Registration, ExitCode> {
    registration::read(&cx.client, node)
        .await
        .map_err(|e| fail(1, e))
}

async fn command(cx: &Ctx, cmd: NodeCommand, json_out: bool) -> Result<ExitCode, ExitCode> {
    let me = cx.key.address();
    let coordinator = cx.client.addresses.coordinator;
    match cmd {
        NodeCommand::Status { node } => {
            let node = node.unwrap_or(me);
            let r = status_of(cx, node).await?;
            let now = chain_now(cx).await?;
            if json_out {
                outln!(
                    "{}",
                    json!({
                        "node": node.to_string(),
                        "coordinator": coordinator.to_string(),
                        "status": r.status,
                        "cooldown_start": r.cooldown_start,
                        "cooldown_secs": r.cooldown_secs,
                        "activatable_at": r.activatable_at(),
                        "cooldown_left_s": r.cooldown_left(now),
                    })
                );
            } else {
                outln!(
                    "node {node} on coordinator {coordinator}: {}",
                    r.describe(now)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Register { node } => {
            let node = node.unwrap_or(me);
            let signer = signer(cx).await?;
            let c = V0Coordinator::new(coordinator, signer);
            let tx = send("registerNode", c.registerNode(node).send().await).await?;
            let r = status_of(cx, node).await?;
            done(
                json_out,
                &format!(
                    "registered {node}; activate with `infernet node activate` after the {} cooldown",
                    registration::countdown(u64::from(r.cooldown_secs))
                ),
                tx,
                &r,
            )
        }
        NodeCommand::Activate => {
            let r = status_of(cx, me).await?;
            let now = chain_now(cx).await?;
            // Say when, rather than spend gas on a transaction that reverts.
            if let Some(left) = r.cooldown_left(now).filter(|l| *l > 0) {
                return Err(fail(
                    1,
                    format!(
                        "node {me} is still in its cooldown: activate in {} (at unix time {})",
                        registration::countdown(left),
                        r.activatable_at().unwrap_or_default()
                    ),
                ));
            }
            let signer = signer(cx).await?;
            let c = V0Coordinator::new(coordinator, signer);
            let tx = send("activateNode", c.activateNode().send().await).await?;
            let r = status_of(cx, me).await?;
            done(json_out, &format!("node {me} is active"), tx, &r)
        }
        NodeCommand::Deactivate => {
            let signer = signer(cx).await?;
            let c = V0Coordinator::new(coordinator, signer);
            let tx = send("deactivateNode", c.deactivateNode().send().await).await?;
            let r = status_of(cx, me).await?;
            done(json_out, &format!("node {me} is deactivated"), tx, &r)
        }
    }
}

async fn signer(cx: &Ctx) -> Result<alloy::providers::DynProvider, ExitCode> {
    signing_provider(&cx.url, &cx.key)
        .await
        .map_err(|e| fail(1, e))
}

/// Sends and waits for the receipt; a revert is named (NodeNotRegisterable, CooldownActive …).
async fn send(
    what: &'static str,
    sent: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) -> Result<alloy::primitives::B256, ExitCode> {
    let pending = sent.map_err(|e| fail(1, ChainError::from_contract(what, e)))?;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| fail(1, format!("{what}: {e}")))?;
    if !receipt.status() {
        return Err(fail(
            1,
            format!("{what}: transaction {} reverted", receipt.transaction_hash),
        ));
    }
    Ok(receipt.transaction_hash)
}

fn done(
    json_out: bool,
    what: &str,
    tx: alloy::primitives::B256,
    r: &Registration,
) -> Result<ExitCode, ExitCode> {
    if json_out {
        outln!(
            "{}",
            json!({"ok": true, "tx": tx.to_string(), "status": r.status, "cooldown_start": r.cooldown_start})
        );
    } else {
        outln!("{what} (tx {tx})");
    }
    Ok(ExitCode::SUCCESS)
}
