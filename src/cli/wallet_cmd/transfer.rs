//! `wallet fund`, `approve` and `withdraw`: the transactions that move or unlock funds.
use super::{Ctx, Target, done, fail, owner_check, sent};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use infernet::chain::abi::Wallet;
use infernet::chain::payments::token_name;
use std::process::ExitCode;

pub(super) async fn fund(
    signer: DynProvider,
    t: Target,
    json_out: bool,
) -> Result<ExitCode, ExitCode> {
    let hash = if t.token == Address::ZERO {
        send_eth(&signer, t.wallet, t.amount).await?
    } else {
        send_token(signer, t.token, t.wallet, t.amount).await?
    };
    done(
        json_out,
        &format!(
            "sent {} ({}) to {}",
            t.amount,
            token_name(t.token),
            t.wallet
        ),
        hash,
    )
}

async fn send_eth(signer: &DynProvider, to: Address, amount: U256) -> Result<B256, ExitCode> {
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .value(amount);
    let r = signer
        .send_transaction(tx)
        .await
        .map_err(|e| fail(1, e))?
        .get_receipt()
        .await
        .map_err(|e| fail(1, e))?;
    Ok(r.transaction_hash)
}

async fn send_token(
    signer: DynProvider,
    token: Address,
    to: Address,
    amount: U256,
) -> Result<B256, ExitCode> {
    alloy::sol! {
        #[sol(rpc)]
        interface IERC20Transfer {
            function transfer(address to, uint256 amount) external returns (bool);
        }
    }
    let t = IERC20Transfer::new(token, signer);
    Ok(t.transfer(to, amount)
        .send()
        .await
        .map_err(sent("ERC20.transfer"))?
        .get_receipt()
        .await
        .map_err(|e| fail(1, e))?
        .transaction_hash)
}

pub(super) async fn approve(
    cx: &Ctx,
    signer: DynProvider,
    me: Address,
    t: Target,
    spender: Address,
    json_out: bool,
) -> Result<ExitCode, ExitCode> {
    owner_check(cx, t.wallet, me).await?;
    let r = Wallet::new(t.wallet, signer)
        .approve(spender, t.token, t.amount)
        .send()
        .await
        .map_err(sent("Wallet.approve"))?
        .get_receipt()
        .await
        .map_err(|e| fail(1, e))?;
    done(
        json_out,
        &format!(
            "{spender} may now spend {} ({}) from {}",
            t.amount,
            token_name(t.token),
            t.wallet
        ),
        r.transaction_hash,
    )
}

pub(super) async fn withdraw(
    cx: &Ctx,
    signer: DynProvider,
    me: Address,
    t: Target,
    json_out: bool,
) -> Result<ExitCode, ExitCode> {
    owner_check(cx, t.wallet, me).await?;
    let call = Wallet::new(t.wallet, signer);
    let builder = call.withdraw(t.token, t.amount);
    // Simulated first: a revert here is usually funds locked in escrow, which the send's
    // error would not say.
    if let Err(e) = builder.call().await {
        let reason = infernet::chain::ChainError::from_contract("Wallet.withdraw", e);
        return Err(fail(
            1,
            format!("{reason} (locked funds back proofs in escrow and cannot be withdrawn)"),
        ));
    }
    let r = builder
        .send()
        .await
        .map_err(sent("Wallet.withdraw"))?
        .get_receipt()
        .await
        .map_err(|e| fail(1, e))?;
    done(
        json_out,
        &format!(
            "withdrew {} ({}) from {} to {me}",
            t.amount,
            token_name(t.token),
            t.wallet
        ),
        r.transaction_hash,
    )
}
