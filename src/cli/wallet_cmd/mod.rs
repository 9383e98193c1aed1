//! `infernet wallet`: the payment Wallets of the Infernet contracts without another client —
//! create one (through the WalletFactory, for this node or a consumer), see balances and
//! allowances, fund, approve, withdraw. Transactions are signed with the node's key
//! (`chain.wallet.private_key`, from the keyring when not in the file).
mod balance;
mod create;
mod transfer;

use alloy::primitives::{Address, B256, U256, utils::parse_units};
use clap::{Args, Subcommand};
use infernet::chain::abi::Wallet;
use infernet::chain::deploy::signing_provider;
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

pub(super) fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// The RPC URL and the node's key from the chain config: what every command that sends
/// transactions needs (exit 2 naming the missing key).
pub(super) fn rpc_and_key(
    c: &config::ChainConfig,
) -> Result<(String, alloy::signers::local::PrivateKeySigner), ExitCode> {
    let url = c
        .rpc_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| fail(2, "chain.rpc_url is not set in the config"))?;
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
    Ok((url, key))
}

async fn ctx(flag: Option<&Path>) -> Result<Ctx, ExitCode> {
    let loaded = config::load(flag, &Overrides::default()).map_err(|e| fail(2, e))?;
    let c = &loaded.config.chain;
    let (url, key) = rpc_and_key(c)?;
    let registry: Address = c
        .registry_address
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| fail(2, "chain.registry_address is missing or not an address"))?;
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

/// What fund, approve and withdraw move: which wallet, how much, of which token.
struct Target {
    wallet: Address,
    amount: U256,
    /// `Address::ZERO` is ETH.
    token: Address,
}

/// The wallet (named or the payment address), the amount and the token (ETH by default).
fn target(
    wallet: Option<Address>,
    amount: &str,
    token: Option<Address>,
    cx: &Ctx,
) -> Result<Target, ExitCode> {
    let w = pick(wallet, cx)?;
    let amount = parse_amount(amount).map_err(|e| fail(2, e))?;
    Ok(Target {
        wallet: w,
        amount,
        token: token.unwrap_or(Address::ZERO),
    })
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
    // Connected before any subcommand (balance included), so a bad RPC fails alike for all.
    let signer = signing_provider(&cx.url, &cx.key)
        .await
        .map_err(|e| fail(1, e))?;
    match cmd {
        WalletCommand::Create {
            owner,
            set_payment_address,
        } => {
            let owner = owner.unwrap_or(me);
            create::create(cx, signer, me, owner, set_payment_address, json_out).await
        }
        WalletCommand::Balance {
            wallet,
            token,
            spender,
        } => balance::balance(cx, wallet, token, spender, json_out).await,
        WalletCommand::Fund {
            wallet,
            amount,
            token,
        } => transfer::fund(signer, target(wallet, &amount, token, cx)?, json_out).await,
        WalletCommand::Approve {
            wallet,
            spender,
            amount,
            token,
        } => {
            let t = target(wallet, &amount, token, cx)?;
            transfer::approve(cx, signer, me, t, spender, json_out).await
        }
        WalletCommand::Withdraw {
            wallet,
            amount,
            token,
        } => {
            let t = target(wallet, &amount, token, cx)?;
            transfer::withdraw(cx, signer, me, t, json_out).await
        }
    }
}

/// A failed contract transaction, named by the call (`Wallet.approve`), with its revert reason.
fn sent(what: &'static str) -> impl Fn(alloy::contract::Error) -> ExitCode {
    move |e| fail(1, infernet::chain::ChainError::from_contract(what, e))
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

fn done(json_out: bool, what: &str, tx: B256) -> Result<ExitCode, ExitCode> {
    if json_out {
        outln!("{}", json!({"ok": true, "tx": tx.to_string()}));
    } else {
        outln!("{what} (tx {tx})");
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
