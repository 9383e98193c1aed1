//! Deploys the whole contract stack in Ritual's order (Registry, EIP712Coordinator, Inbox, Reader,
//! Fee, WalletFactory), the Registry first with the others' CREATE addresses computed in advance.
//! From anvil's account #2 at nonce 0 this reproduces the addresses Ritual's local tooling uses.
use super::abi::{EIP712Coordinator, Fee, Inbox, Reader, Registry, WalletFactory};
use super::client::{Addresses, ChainError};
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

/// A provider that signs with `key` and fills nonce, gas and fees itself (tools and tests; the
/// node's delivery path manages its own nonces).
pub async fn signing_provider(
    url: &str,
    key: &PrivateKeySigner,
) -> Result<DynProvider, ChainError> {
    let p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(key.clone()))
        .connect(url)
        .await
        .map_err(|e| ChainError::Rpc {
            what: "connect",
            message: format!("cannot connect to '{url}': {e}"),
        })?;
    Ok(p.erased())
}

/// Parses a hex private key (with or without `0x`). The error never echoes the key.
pub use crate::identity::node_key::parse_key;

fn setup(step: &'static str) -> impl Fn(alloy::contract::Error) -> ChainError {
    move |e| ChainError::from_contract(step, e)
}

/// Deploys the stack; `fee_bp` is the protocol fee (basis points) paid to `fee_recipient`.
pub async fn deploy_stack(
    provider: &DynProvider,
    deployer: Address,
    fee_recipient: Address,
    fee_bp: u16,
) -> Result<Addresses, ChainError> {
    let nonce = provider
        .get_transaction_count(deployer)
        .pending()
        .await
        .map_err(|e| ChainError::from_rpc("eth_getTransactionCount", e))?;
    let at = |k: u64| deployer.create(nonce + k);
    let want = Addresses {
        registry: at(0),
        coordinator: at(1),
        inbox: at(2),
        reader: at(3),
        fee: at(4),
        wallet_factory: at(5),
    };
    let p = provider.clone();
    let registry = Registry::deploy(
        p.clone(),
        want.coordinator,
        want.inbox,
        want.reader,
        want.fee,
        want.wallet_factory,
    )
    .await
    .map_err(setup("deploy Registry"))?;
    let coordinator = EIP712Coordinator::deploy(p.clone(), want.registry)
        .await
        .map_err(setup("deploy EIP712Coordinator"))?;
    let inbox = Inbox::deploy(p.clone(), want.registry)
        .await
        .map_err(setup("deploy Inbox"))?;
    let reader = Reader::deploy(p.clone(), want.registry)
        .await
        .map_err(setup("deploy Reader"))?;
    let fee = Fee::deploy(p.clone(), fee_recipient, fee_bp)
        .await
        .map_err(setup("deploy Fee"))?;
    let factory = WalletFactory::deploy(p.clone(), want.registry)
        .await
        .map_err(setup("deploy WalletFactory"))?;
    let got = Addresses {
        registry: *registry.address(),
        coordinator: *coordinator.address(),
        inbox: *inbox.address(),
        reader: *reader.address(),
        fee: *fee.address(),
        wallet_factory: *factory.address(),
    };
    if got != want {
        return Err(ChainError::Setup(format!(
            "contracts landed at unexpected addresses (another transaction from {deployer} interleaved?): {got:?}"
        )));
    }
    Ok(got)
}

/// Sends `amount` wei from the provider's signer to `to` and waits for the receipt.
pub async fn fund(provider: &DynProvider, to: Address, amount: U256) -> Result<(), ChainError> {
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(to)
        .value(amount);
    let pending = provider
        .send_transaction(tx)
        .await
        .map_err(|e| ChainError::from_rpc("eth_sendTransaction", e))?;
    pending.get_receipt().await.map_err(|e| ChainError::Rpc {
        what: "funding receipt",
        message: e.to_string(),
    })?;
    Ok(())
}
