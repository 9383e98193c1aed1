//! `wallet create`: a new Wallet through the WalletFactory, optionally made this node's
//! payment address in the config.
use super::{Ctx, fail, sent};
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use infernet::chain::abi::WalletFactory;
use infernet::config;
use serde_json::json;
use std::process::ExitCode;

pub(super) async fn create(
    cx: &Ctx,
    signer: DynProvider,
    me: Address,
    owner: Address,
    set_payment_address: bool,
    json_out: bool,
) -> Result<ExitCode, ExitCode> {
    let f = WalletFactory::new(cx.client.addresses.wallet_factory, signer);
    let receipt = f
        .createWallet(owner)
        .send()
        .await
        .map_err(sent("WalletFactory.createWallet"))?
        .get_receipt()
        .await
        .map_err(|e| fail(1, e))?;
    let wallet = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<WalletFactory::WalletCreated>()
                .ok()
                .map(|e| e.inner.data.wallet)
        })
        .ok_or_else(|| fail(1, "the factory emitted no WalletCreated event"))?;
    if set_payment_address {
        write_payment_address(cx, wallet)?;
    }
    if json_out {
        outln!(
            "{}",
            json!({"wallet": wallet.to_string(), "owner": owner.to_string(), "tx": receipt.transaction_hash.to_string()})
        );
    } else {
        outln!("created wallet {wallet} (owner {owner})");
        if set_payment_address {
            outln!("chain.wallet.payment_address set; restart the node to use it");
        } else if owner == me {
            outln!(
                "make it this node's payment address: infernet wallet create --set-payment-address (or set chain.wallet.payment_address)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_payment_address(cx: &Ctx, wallet: Address) -> Result<(), ExitCode> {
    let Some(p) = &cx.config_path else {
        return Err(fail(2, "no config file to write (use --config)"));
    };
    config::edit::set_keys(
        p,
        &[("chain.wallet.payment_address", json!(wallet.to_string()))],
    )
    .map_err(|e| fail(1, e))
}
