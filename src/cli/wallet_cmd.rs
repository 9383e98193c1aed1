//! `infernet wallet`: the payment Wallets of the Infernet contracts without another client —
//! create one (through the WalletFactory, for this node or a consumer), see balances and
//! allowances, fund, approve, withdraw. Transactions are signed with the node's key
//! (`chain.wallet.private_key`, from the keyring when not in the file).
use alloy::primitives::{Address, U256, utils::parse_units};
use alloy::providers::Provider;
use clap::{Args, Subcommand};
use infernet::chain::abi::{Wallet, WalletFactory};
use infernet::chain::deploy::signing_provider;
use infernet::chain::payments::{balance_of, is_wallet, token_name};
use infernet::chain::{ChainClient, deploy::parse_key};
use infernet::config::{self, Overrides, Source};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct WalletArgs {
    #[command(subcommand)]
    pub command: WalletCommand,
    /// JSON output
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a Wallet through the WalletFactory (owner: this node's key unless --owner)
    Create {
        /// Who owns the new wallet (a consumer's EOA, for example)
        #[arg(long)]
        owner: Option<Address>,
        /// Write it into the config as chain.wallet.payment_address (other keys kept)
        #[arg(long)]
        set_payment_address: bool,
    },
    /// Balance of a wallet (default: chain.wallet.payment_address), and an allowance with --spender
    Balance {
        wallet: Option<Address>,
        /// ERC-20 token (default: ETH)
        #[arg(long)]
        token: Option<Address>,
        #[arg(long)]
        spender: Option<Address>,
    },
    /// Send ETH (or --token) from this node's key to a wallet
    Fund {
        wallet: Option<Address>,
        /// Amount: base units (wei), or with a unit: 0.5eth, 20gwei
        #[arg(long)]
        amount: String,
        #[arg(long)]
        token: Option<Address>,
    },
    /// Let `spender` (a consumer contract, or this node for proof escrow) spend from a wallet you own
    Approve {
        wallet: Option<Address>,
        #[arg(long)]
        spender: Address,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        token: Option<Address>,
    },
    /// Move unlocked funds from a wallet you own to its owner
    Withdraw {
        wallet: Option<Address>,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        token: Option<Address>,
    },
}

/// "1000", "0.5eth", "20gwei" → base units.
pub fn parse_amount(s: &str) -> Result<U256, String> {
    let t = s.trim().to_ascii_lowercase();
    for (suffix, unit) in [
        ("ether", "ether"),
        ("eth", "ether"),
        ("gwei", "gwei"),
        ("wei", "wei"),
    ] {
        if let Some(n) = t.strip_suffix(suffix) {
            return parse_units(n.trim(), unit)
                .map(Into::into)
                .map_err(|e| format!("amount '{s}': {e}"));
        }
    }
    U256::from_str_radix(&t, 10).map_err(|_| {
        format!("amount '{s}' is not a number (base units, or with a unit: 0.5eth, 20gwei)")
    })
}

struct Ctx {
    client: ChainClient,
    key: alloy::signers::local::PrivateKeySigner,
    url: String,
    payment_address: Option<Address>,
    config_path: Option<std::path::PathBuf>,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

async fn ctx(flag: Option<&Path>) -> Result<Ctx, ExitCode> {
    let loaded = config::load(flag, &Overrides::default()).map_err(|e| fail(2, e))?;
    let c = &loaded.config.chain;
    let url = c
        .rpc_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| fail(2, "chain.rpc_url is not set in the config"))?;
    let registry: Address = c
        .registry_address
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| fail(2, "chain.registry_address is missing or not an address"))?;
    let key = c
        .wallet
        .private_key
        .as_ref()
        .ok_or_else(|| {
            fail(
                2,
                "no wallet key: `infernet init --wallet-key-stdin` (or chain.wallet.private_key)",
            )
        })
        .and_then(|k| parse_key(k.expose()).map_err(|e| fail(2, format!("wallet key: {e}"))))?;
    let client = ChainClient::connect(&url, registry)
        .await
        .map_err(|e| fail(1, e))?;
    let payment_address = c
        .wallet
        .payment_address
        .as_deref()
        .and_then(|a| a.parse().ok());
    let config_path = match &loaded.source {
        Source::File(p) => Some(p.clone()),
        Source::Defaults { .. } => None,
    };
    Ok(Ctx {
        client,
        key,
        url,
        payment_address,
        config_path,
    })
}

/// The wallet (named or the payment address), the amount and the token (ETH by default).
fn target(
    wallet: Option<Address>,
    amount: &str,
    token: Option<Address>,
    cx: &Ctx,
) -> Result<(Address, U256, Address), ExitCode> {
    let w = pick(wallet, cx)?;
    let amount = parse_amount(amount).map_err(|e| fail(2, e))?;
    Ok((w, amount, token.unwrap_or(Address::ZERO)))
}

fn pick(wallet: Option<Address>, cx: &Ctx) -> Result<Address, ExitCode> {
    wallet.or(cx.payment_address).ok_or_else(|| {
        fail(
            2,
            "name the wallet, or set chain.wallet.payment_address (`infernet wallet create --set-payment-address`)",
        )
    })
}

pub fn run(flag: Option<&Path>, args: WalletArgs) -> ExitCode {
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
            Ok(code) => code,
            Err(code) => code,
        }
    })
}

async fn command(cx: &Ctx, cmd: WalletCommand, json_out: bool) -> Result<ExitCode, ExitCode> {
    let me = cx.key.address();
    let signer = signing_provider(&cx.url, &cx.key)
        .await
        .map_err(|e| fail(1, e))?;
    let send = |what: &'static str| {
        move |e: alloy::contract::Error| {
            fail(1, infernet::chain::ChainError::from_contract(what, e))
        }
    };
    match cmd {
        WalletCommand::Create {
            owner,
            set_payment_address,
        } => {
            let owner = owner.unwrap_or(me);
            let f = WalletFactory::new(cx.client.addresses.wallet_factory, signer);
            let receipt = f
                .createWallet(owner)
                .send()
                .await
                .map_err(send("WalletFactory.createWallet"))?
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
                let Some(p) = &cx.config_path else {
                    return Err(fail(2, "no config file to write (use --config)"));
                };
                config::edit::set_keys(
                    p,
                    &[("chain.wallet.payment_address", json!(wallet.to_string()))],
                )
                .map_err(|e| fail(1, e))?;
            }
            if json_out {
                println!(
                    "{}",
                    json!({"wallet": wallet.to_string(), "owner": owner.to_string(), "tx": receipt.transaction_hash.to_string()})
                );
            } else {
                println!("created wallet {wallet} (owner {owner})");
                if set_payment_address {
                    println!("chain.wallet.payment_address set; restart the node to use it");
                } else if owner == me {
                    println!(
                        "make it this node's payment address: infernet wallet create --set-payment-address (or set chain.wallet.payment_address)"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Balance {
            wallet,
            token,
            spender,
        } => {
            let w = pick(wallet, cx)?;
            let token = token.unwrap_or(Address::ZERO);
            let valid = is_wallet(&cx.client, w).await.map_err(|e| fail(1, e))?;
            let balance = balance_of(&cx.client, token, w)
                .await
                .map_err(|e| fail(1, e))?;
            let owner = if valid {
                Wallet::new(w, cx.client.provider().clone())
                    .owner()
                    .call()
                    .await
                    .ok()
            } else {
                None
            };
            let allowance = match (spender, valid) {
                (Some(s), true) => Some(
                    Wallet::new(w, cx.client.provider().clone())
                        .allowance(s, token)
                        .call()
                        .await
                        .map_err(|e| fail(1, e))?,
                ),
                _ => None,
            };
            if json_out {
                println!(
                    "{}",
                    json!({"wallet": w.to_string(), "factory_wallet": valid,
                           "owner": owner.map(|o| o.to_string()),
                           "token": token.to_string(), "balance": balance.to_string(),
                           "spender": spender.map(|s| s.to_string()),
                           "allowance": allowance.map(|a| a.to_string())})
                );
            } else {
                println!(
                    "wallet     {w}{}",
                    if valid {
                        ""
                    } else {
                        "  (not a WalletFactory wallet)"
                    }
                );
                if let Some(o) = owner {
                    println!("owner      {o}");
                }
                println!("balance    {balance} ({})", token_name(token));
                if let (Some(s), Some(a)) = (spender, allowance) {
                    println!("allowance  {a} for {s}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Fund {
            wallet,
            amount,
            token,
        } => {
            let (w, amount, token) = target(wallet, &amount, token, cx)?;
            let hash = if token == Address::ZERO {
                let tx = alloy::rpc::types::TransactionRequest::default()
                    .to(w)
                    .value(amount);
                let r = signer
                    .send_transaction(tx)
                    .await
                    .map_err(|e| fail(1, e))?
                    .get_receipt()
                    .await
                    .map_err(|e| fail(1, e))?;
                r.transaction_hash
            } else {
                alloy::sol! {
                    #[sol(rpc)]
                    interface IERC20Transfer {
                        function transfer(address to, uint256 amount) external returns (bool);
                    }
                }
                let t = IERC20Transfer::new(token, signer);
                t.transfer(w, amount)
                    .send()
                    .await
                    .map_err(send("ERC20.transfer"))?
                    .get_receipt()
                    .await
                    .map_err(|e| fail(1, e))?
                    .transaction_hash
            };
            done(
                json_out,
                &format!("sent {amount} ({}) to {w}", token_name(token)),
                hash,
            )
        }
        WalletCommand::Approve {
            wallet,
            spender,
            amount,
            token,
        } => {
            let (w, amount, token) = target(wallet, &amount, token, cx)?;
            owner_check(cx, w, me).await?;
            let r = Wallet::new(w, signer)
                .approve(spender, token, amount)
                .send()
                .await
                .map_err(send("Wallet.approve"))?
                .get_receipt()
                .await
                .map_err(|e| fail(1, e))?;
            done(
                json_out,
                &format!(
                    "{spender} may now spend {amount} ({}) from {w}",
                    token_name(token)
                ),
                r.transaction_hash,
            )
        }
        WalletCommand::Withdraw {
            wallet,
            amount,
            token,
        } => {
            let (w, amount, token) = target(wallet, &amount, token, cx)?;
            owner_check(cx, w, me).await?;
            let call = Wallet::new(w, signer);
            let builder = call.withdraw(token, amount);
            if let Err(e) = builder.call().await {
                let reason = infernet::chain::ChainError::from_contract("Wallet.withdraw", e);
                return Err(fail(
                    1,
                    format!(
                        "{reason} (locked funds back proofs in escrow and cannot be withdrawn)"
                    ),
                ));
            }
            let r = builder
                .send()
                .await
                .map_err(send("Wallet.withdraw"))?
                .get_receipt()
                .await
                .map_err(|e| fail(1, e))?;
            done(
                json_out,
                &format!("withdrew {amount} ({}) from {w} to {me}", token_name(token)),
                r.transaction_hash,
            )
        }
    }
}

async fn owner_check(cx: &Ctx, w: Address, me: Address) -> Result<(), ExitCode> {
    let owner = Wallet::new(w, cx.client.provider().clone())
        .owner()
        .call()
        .await
        .map_err(|e| fail(1, format!("{w} is not a Wallet: {e}")))?;
    if owner != me {
        return Err(fail(
            1,
            format!("wallet {w} is owned by {owner}, not by this node's key {me}"),
        ));
    }
    Ok(())
}

fn done(json_out: bool, what: &str, tx: alloy::primitives::B256) -> Result<ExitCode, ExitCode> {
    if json_out {
        println!("{}", json!({"ok": true, "tx": tx.to_string()}));
    } else {
        println!("{what} (tx {tx})");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_base_units_or_with_a_unit() {
        assert_eq!(parse_amount("1000").unwrap(), U256::from(1000));
        assert_eq!(
            parse_amount("0.5eth").unwrap(),
            U256::from(500_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount("20 gwei").unwrap(),
            U256::from(20_000_000_000u64)
        );
        assert!(parse_amount("lots").unwrap_err().contains("not a number"));
        assert!(parse_amount("-1").is_err());
    }
}
