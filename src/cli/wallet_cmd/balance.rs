//! `wallet balance`: a wallet's balance, its owner, and an allowance for one spender.
use super::{Ctx, fail, pick};
use alloy::primitives::{Address, U256};
use infernet::chain::abi::Wallet;
use infernet::chain::payments::{balance_of, is_wallet, token_name};
use serde_json::json;
use std::process::ExitCode;

/// What `wallet balance` reports.
struct Balance {
    wallet: Address,
    /// Created by the WalletFactory (owner and allowance are only read from those).
    valid: bool,
    owner: Option<Address>,
    token: Address,
    balance: U256,
    spender: Option<Address>,
    allowance: Option<U256>,
}

pub(super) async fn balance(
    cx: &Ctx,
    wallet: Option<Address>,
    token: Option<Address>,
    spender: Option<Address>,
    json_out: bool,
) -> Result<ExitCode, ExitCode> {
    let b = read_balance(
        cx,
        pick(wallet, cx)?,
        token.unwrap_or(Address::ZERO),
        spender,
    )
    .await?;
    if json_out {
        outln!(
            "{}",
            json!({"wallet": b.wallet.to_string(), "factory_wallet": b.valid,
                   "owner": b.owner.map(|o| o.to_string()),
                   "token": b.token.to_string(), "balance": b.balance.to_string(),
                   "spender": b.spender.map(|s| s.to_string()),
                   "allowance": b.allowance.map(|a| a.to_string())})
        );
    } else {
        print_balance(&b);
    }
    Ok(ExitCode::SUCCESS)
}

async fn read_balance(
    cx: &Ctx,
    w: Address,
    token: Address,
    spender: Option<Address>,
) -> Result<Balance, ExitCode> {
    let valid = is_wallet(&cx.client, w).await.map_err(|e| fail(1, e))?;
    let balance = balance_of(&cx.client, token, w)
        .await
        .map_err(|e| fail(1, e))?;
    let contract = Wallet::new(w, cx.client.provider().clone());
    let owner = if valid {
        contract.owner().call().await.ok()
    } else {
        None
    };
    let allowance = match (spender, valid) {
        (Some(s), true) => Some(
            contract
                .allowance(s, token)
                .call()
                .await
                .map_err(|e| fail(1, e))?,
        ),
        _ => None,
    };
    Ok(Balance {
        wallet: w,
        valid,
        owner,
        token,
        balance,
        spender,
        allowance,
    })
}

fn print_balance(b: &Balance) {
    outln!(
        "wallet     {}{}",
        b.wallet,
        if b.valid {
            ""
        } else {
            "  (not a WalletFactory wallet)"
        }
    );
    if let Some(o) = b.owner {
        outln!("owner      {o}");
    }
    outln!("balance    {} ({})", b.balance, token_name(b.token));
    if let (Some(s), Some(a)) = (b.spender, b.allowance) {
        outln!("allowance  {a} for {s}");
    }
}
