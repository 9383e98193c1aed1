//! The payment checks that need the chain (reference ritual-node §6, §5.8): the consumer's
//! wallet comes from the WalletFactory, lets the subscription owner spend the amount, and holds
//! it. Checked before the containers run, so a subscription that cannot pay is skipped with the
//! exact reason instead of failing in the transaction.
use super::abi::{Wallet, WalletFactory};
use super::client::{ChainClient, ChainError};
use super::subscription::Subscription;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

alloy::sol! {
    #[sol(rpc)]
    interface IERC20Balance {
        function balanceOf(address who) external view returns (uint256);
    }
    #[sol(rpc)]
    interface IVerifierTokens {
        function isSupportedToken(address token) external view returns (bool);
    }
}

/// Why a paid subscription cannot pay (the first words are what Ritual's logs say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentProblem {
    pub kind: &'static str,
    pub detail: String,
}

impl std::fmt::Display for PaymentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

pub fn token_name(token: Address) -> String {
    if token == Address::ZERO {
        "ETH".into()
    } else {
        format!("token {token}")
    }
}

/// A wallet's balance of `token` (the zero address: ETH).
pub async fn balance_of(
    client: &ChainClient,
    token: Address,
    who: Address,
) -> Result<U256, ChainError> {
    if token == Address::ZERO {
        return client
            .rpc("eth_getBalance", client.provider().get_balance(who))
            .await;
    }
    let t = IERC20Balance::new(token, client.provider().clone());
    client.view("ERC20.balanceOf", t.balanceOf(who)).await
}

pub async fn is_wallet(client: &ChainClient, who: Address) -> Result<bool, ChainError> {
    let f = WalletFactory::new(client.addresses.wallet_factory, client.provider().clone());
    client
        .view("WalletFactory.isValidWallet", f.isValidWallet(who))
        .await
}

/// Ok(None) when the subscription pays nothing or can pay; Ok(Some(problem)) when it cannot.
pub async fn check(
    client: &ChainClient,
    sub: &Subscription,
) -> Result<Option<PaymentProblem>, ChainError> {
    if !sub.provides_payment() {
        return Ok(None);
    }
    let (w, token, amount) = (sub.wallet, sub.payment_token, sub.payment_amount);
    if sub.requires_proof() {
        let v = IVerifierTokens::new(sub.verifier, client.provider().clone());
        let supported = match client
            .view("Verifier.isSupportedToken", v.isSupportedToken(token))
            .await
        {
            Ok(b) => b,
            Err(ChainError::Revert(_) | ChainError::BadAnswer { .. }) => false,
            Err(e) => return Err(e),
        };
        if !supported {
            return Ok(Some(PaymentProblem {
                kind: "Unsupported verifier token",
                detail: format!(
                    "verifier {} does not take {} (isSupportedToken is false)",
                    sub.verifier,
                    token_name(token)
                ),
            }));
        }
    }
    if !is_wallet(client, w).await? {
        return Ok(Some(PaymentProblem {
            kind: "invalid wallet",
            detail: format!("the subscription's wallet {w} was not created by the WalletFactory"),
        }));
    }
    let wallet = Wallet::new(w, client.provider().clone());
    let allowance = client
        .view("Wallet.allowance", wallet.allowance(sub.owner, token))
        .await?;
    if allowance < amount {
        return Ok(Some(PaymentProblem {
            kind: "insufficient allowance",
            detail: format!(
                "wallet {w} lets the subscription owner {} spend {allowance} of {}, the subscription pays {amount} (the wallet's owner calls approve)",
                sub.owner,
                token_name(token)
            ),
        }));
    }
    let balance = balance_of(client, token, w).await?;
    if balance < amount {
        return Ok(Some(PaymentProblem {
            kind: "insufficient balance",
            detail: format!(
                "subscription wallet {w} holds {balance} of {}, the subscription pays {amount}",
                token_name(token)
            ),
        }));
    }
    Ok(None)
}

/// Before a proof-gated delivery the coordinator locks the payment amount in the node's own
/// wallet as a stake (`cLock(node, token, amount)`): the wallet must be owned by the node's key,
/// hold the amount, and allow the node's address to lock it. A short allowance is raised by the
/// amount (so concurrent proof deliveries each have theirs), through the signer.
pub async fn ensure_stake(
    client: &ChainClient,
    calls: &tokio::sync::mpsc::Sender<super::msg::CallReq>,
    node: Address,
    node_wallet: Address,
    token: Address,
    amount: U256,
) -> Result<Option<PaymentProblem>, String> {
    let wallet = Wallet::new(node_wallet, client.provider().clone());
    let owner = client
        .view("Wallet.owner", wallet.owner())
        .await
        .map_err(|e| e.to_string())?;
    if owner != node {
        return Ok(Some(PaymentProblem {
            kind: "cannot stake for the proof",
            detail: format!(
                "the node wallet {node_wallet} is owned by {owner}, not by this node's key {node}"
            ),
        }));
    }
    let balance = balance_of(client, token, node_wallet)
        .await
        .map_err(|e| e.to_string())?;
    if balance < amount {
        return Ok(Some(PaymentProblem {
            kind: "insufficient balance",
            detail: format!(
                "the node wallet {node_wallet} holds {balance} of {}, and a proof-gated delivery stakes {amount} (fund it: infernet wallet fund)",
                token_name(token)
            ),
        }));
    }
    let allowance = client
        .view("Wallet.allowance", wallet.allowance(node, token))
        .await
        .map_err(|e| e.to_string())?;
    if allowance >= amount {
        return Ok(None);
    }
    let data = Wallet::approveCall {
        spender: node,
        token,
        amount: allowance.saturating_add(amount),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    calls
        .send(super::msg::CallReq {
            to: node_wallet,
            data: alloy::sol_types::SolCall::abi_encode(&data).into(),
            what: "Wallet.approve (proof stake)",
            reply: tx,
        })
        .await
        .map_err(|_| "the node is stopping".to_string())?;
    let hash = rx.await.map_err(|_| "the node is stopping".to_string())??;
    tracing::info!(wallet = %node_wallet, tx = %hash, amount = %amount, "node wallet approved for the proof stake");
    Ok(None)
}
