//! The chain client: one alloy provider (HTTP or WebSocket), the contract addresses resolved from
//! the Registry, the chain id and EIP-712 domain checked at start, and RPC health bookkeeping
//! (every call counted, timed out and classified) for the snapshot.
use super::abi::{EIP712Coordinator, Registry};
use super::errors::Revert;
use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::transports::{RpcError, TransportErrorKind};
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bound on one RPC call, so a hung endpoint cannot stall a loop.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// The endpoint could not be reached or answered with a non-revert error.
    #[error("RPC {what} failed: {message}")]
    Rpc { what: &'static str, message: String },
    /// The endpoint answered with a JSON-RPC error (it is up; the request was refused).
    #[error("RPC {what} refused: {message}")]
    Refused { what: &'static str, message: String },
    #[error("RPC {what} timed out after {}s", CALL_TIMEOUT.as_secs())]
    Timeout { what: &'static str },
    #[error("{0}")]
    Revert(Revert),
    /// The call succeeded but its answer does not decode: `0x` from an address without code,
    /// or a contract that is not what the ABI says. The endpoint is fine; the target is not.
    #[error("{what} answered {answer}, which does not decode: {message}")]
    BadAnswer {
        what: &'static str,
        answer: &'static str,
        message: String,
    },
    /// The chain does not hold what the config says (wrong registry, wrong domain, …).
    #[error("{0}")]
    Setup(String),
}

impl ChainError {
    pub fn revert(&self) -> Option<&Revert> {
        match self {
            ChainError::Revert(r) => Some(r),
            _ => None,
        }
    }

    /// Transient: worth retrying the same call later (rate limits count as transient).
    pub fn is_transient(&self) -> bool {
        match self {
            ChainError::Rpc { .. } | ChainError::Timeout { .. } => true,
            ChainError::Refused { message, .. } => {
                let m = message.to_ascii_lowercase();
                [
                    "rate limit",
                    "too many requests",
                    "limit exceeded",
                    "try again",
                    "timeout",
                ]
                .iter()
                .any(|k| m.contains(k))
            }
            _ => false,
        }
    }

    pub fn from_rpc(what: &'static str, e: RpcError<TransportErrorKind>) -> Self {
        if let Some(payload) = e.as_error_resp() {
            if let Some(data) = payload.as_revert_data() {
                return ChainError::Revert(Revert::decode(&data));
            }
            if payload.message.to_ascii_lowercase().contains("revert") {
                return ChainError::Revert(Revert::Empty);
            }
            return ChainError::Refused {
                what,
                message: format!("error code {}: {}", payload.code, payload.message),
            };
        }
        ChainError::Rpc {
            what,
            message: e.to_string(),
        }
    }

    pub fn from_contract(what: &'static str, e: alloy::contract::Error) -> Self {
        if let Some(data) = e.as_revert_data() {
            return ChainError::Revert(Revert::decode(&data));
        }
        match e {
            alloy::contract::Error::TransportError(t) => Self::from_rpc(what, t),
            alloy::contract::Error::ZeroData(_, err) => ChainError::BadAnswer {
                what,
                answer: "no data (0x)",
                message: err.to_string(),
            },
            alloy::contract::Error::AbiError(err) => ChainError::BadAnswer {
                what,
                answer: "data",
                message: err.to_string(),
            },
            other => ChainError::Rpc {
                what,
                message: other.to_string(),
            },
        }
    }
}

/// What the snapshot shows about the RPC endpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct RpcHealthView {
    pub ok: bool,
    pub calls: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Unix seconds since the current state (ok / failing) began.
    pub since: u64,
}

#[derive(Debug, Default)]
pub struct RpcHealth {
    calls: AtomicU64,
    errors: AtomicU64,
    state: Mutex<(bool, Option<String>, u64)>,
}

fn now_unix() -> u64 {
    crate::clock::now_s().max(0) as u64
}

impl RpcHealth {
    fn record(&self, outcome: Result<(), &ChainError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        match outcome {
            // A revert is the chain answering: the endpoint is healthy.
            Ok(())
            | Err(ChainError::Revert(_))
            | Err(ChainError::Setup(_))
            | Err(ChainError::BadAnswer { .. })
            | Err(ChainError::Refused { .. }) => {
                if !st.0 {
                    // Silent on the very first answer; "again" only after a failure.
                    if st.2 != 0 {
                        tracing::info!("RPC endpoint answers again");
                    }
                    *st = (true, st.1.clone(), now_unix());
                }
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if st.0 || st.2 == 0 {
                    tracing::warn!(error = %e, "RPC endpoint failing; retrying with backoff");
                    st.2 = now_unix();
                }
                st.0 = false;
                // Errors quote the RPC URL, credentials and all.
                st.1 = Some(crate::config::scrub::scrub(&e.to_string()).into_owned());
            }
        }
    }

    pub fn view(&self) -> RpcHealthView {
        let (ok, last_error, since) = self
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or((false, None, 0));
        RpcHealthView {
            ok,
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_error,
            since,
        }
    }
}

/// Contract addresses of one deployment (shown EIP-55 checksummed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Addresses {
    #[serde(serialize_with = "checksummed")]
    pub registry: Address,
    #[serde(serialize_with = "checksummed")]
    pub coordinator: Address,
    #[serde(serialize_with = "checksummed")]
    pub inbox: Address,
    #[serde(serialize_with = "checksummed")]
    pub reader: Address,
    #[serde(serialize_with = "checksummed")]
    pub fee: Address,
    #[serde(serialize_with = "checksummed")]
    pub wallet_factory: Address,
}

fn checksummed<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

#[derive(Clone)]
pub struct ChainClient {
    provider: DynProvider,
    pub chain_id: u64,
    pub addresses: Addresses,
    health: Arc<RpcHealth>,
    /// SDK v0.1.0 contracts (`chain.sdk: "0.x"`): no Registry, Reader, payments or proofs.
    pub sdk0: bool,
}

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("chain_id", &self.chain_id)
            .field("addresses", &self.addresses)
            .finish()
    }
}

/// Connects a provider without fillers: the node signs and sends raw transactions itself.
pub async fn provider(url: &str) -> Result<DynProvider, ChainError> {
    let p = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect(url)
        .await
        .map_err(|e| ChainError::Rpc {
            what: "connect",
            message: format!("cannot connect to '{url}': {e}"),
        })?;
    Ok(p.erased())
}

impl ChainClient {
    /// Resolves the deployment from `registry` and checks the coordinator's EIP-712 domain.
    pub async fn connect(url: &str, registry: Address) -> Result<Self, ChainError> {
        let provider = provider(url).await?;
        let health = Arc::new(RpcHealth::default());
        let mut this = Self {
            provider,
            chain_id: 0,
            addresses: Addresses {
                registry,
                coordinator: Address::ZERO,
                inbox: Address::ZERO,
                reader: Address::ZERO,
                fee: Address::ZERO,
                wallet_factory: Address::ZERO,
            },
            health,
            sdk0: false,
        };
        this.chain_id = this
            .rpc("eth_chainId", this.provider.get_chain_id())
            .await?;
        let code = this
            .rpc("eth_getCode", this.provider.get_code_at(registry))
            .await?;
        if code.is_empty() {
            return Err(ChainError::Setup(format!(
                "no contract at 'chain.registry_address' {registry} on chain {}: check the address and the RPC URL",
                this.chain_id
            )));
        }
        let reg = Registry::new(registry, this.provider.clone());
        let a = &mut this.addresses;
        a.coordinator = call(&this.health, "Registry.COORDINATOR", reg.COORDINATOR()).await?;
        a.inbox = call(&this.health, "Registry.INBOX", reg.INBOX()).await?;
        a.reader = call(&this.health, "Registry.READER", reg.READER()).await?;
        a.fee = call(&this.health, "Registry.FEE", reg.FEE()).await?;
        a.wallet_factory = call(
            &this.health,
            "Registry.WALLET_FACTORY",
            reg.WALLET_FACTORY(),
        )
        .await?;
        this.check_domain().await?;
        Ok(this)
    }

    /// An SDK v0.1.0 deployment: its coordinator, named directly (there is no Registry). It
    /// must answer `cooldown()`, which only a v0.1.0 coordinator has.
    pub async fn connect_v0(url: &str, coordinator: Address) -> Result<Self, ChainError> {
        let provider = provider(url).await?;
        let mut this = Self {
            provider,
            chain_id: 0,
            addresses: Addresses {
                registry: Address::ZERO,
                coordinator,
                inbox: Address::ZERO,
                reader: Address::ZERO,
                fee: Address::ZERO,
                wallet_factory: Address::ZERO,
            },
            health: Arc::new(RpcHealth::default()),
            sdk0: true,
        };
        this.chain_id = this
            .rpc("eth_chainId", this.provider.get_chain_id())
            .await?;
        let code = this
            .rpc("eth_getCode", this.provider.get_code_at(coordinator))
            .await?;
        if code.is_empty() {
            return Err(ChainError::Setup(format!(
                "no contract at 'chain.coordinator_address' {coordinator} on chain {}: check the address and the RPC URL",
                this.chain_id
            )));
        }
        let v0 = this.coordinator_v0();
        if let Err(e) = call(&this.health, "Coordinator.cooldown", v0.cooldown()).await {
            return Err(ChainError::Setup(format!(
                "'chain.coordinator_address' {coordinator} is not an SDK 0.x coordinator (it has no cooldown(): {e}); for SDK 1.x contracts set chain.registry_address and chain.sdk \"1.x\""
            )));
        }
        Ok(this)
    }

    /// The coordinator with SDK v0.1.0's ABI.
    pub fn coordinator_v0(&self) -> super::abi::V0Coordinator::V0CoordinatorInstance<DynProvider> {
        super::abi::V0Coordinator::new(self.addresses.coordinator, self.provider.clone())
    }

    async fn check_domain(&self) -> Result<(), ChainError> {
        let c = self.coordinator();
        let d = call(&self.health, "Coordinator.eip712Domain", c.eip712Domain()).await?;
        let want = (
            "InfernetCoordinator",
            "1",
            self.chain_id,
            self.addresses.coordinator,
        );
        let got_chain: u64 = d.chainId.try_into().unwrap_or(u64::MAX);
        if (
            d.name.as_str(),
            d.version.as_str(),
            got_chain,
            d.verifyingContract,
        ) != want
        {
            return Err(ChainError::Setup(format!(
                "the coordinator's EIP-712 domain is ({}, {}, chain {}, {}), expected {want:?}: \
                 the registry does not point at an Infernet coordinator for this chain",
                d.name, d.version, d.chainId, d.verifyingContract
            )));
        }
        Ok(())
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    pub fn health(&self) -> &Arc<RpcHealth> {
        &self.health
    }

    pub fn coordinator(&self) -> EIP712Coordinator::EIP712CoordinatorInstance<DynProvider> {
        EIP712Coordinator::new(self.addresses.coordinator, self.provider.clone())
    }

    pub fn reader(&self) -> super::abi::Reader::ReaderInstance<DynProvider> {
        super::abi::Reader::new(self.addresses.reader, self.provider.clone())
    }

    /// Runs one raw RPC future with the timeout and health bookkeeping.
    pub async fn rpc<T, F>(&self, what: &'static str, fut: F) -> Result<T, ChainError>
    where
        F: std::future::IntoFuture<Output = Result<T, RpcError<TransportErrorKind>>>,
    {
        let r = match tokio::time::timeout(CALL_TIMEOUT, fut.into_future()).await {
            Ok(r) => r.map_err(|e| ChainError::from_rpc(what, e)),
            Err(_) => Err(ChainError::Timeout { what }),
        };
        self.health.record(r.as_ref().map(|_| ()));
        r
    }

    /// Runs one contract call builder (`.call()`), decoding reverts.
    pub async fn view<C>(&self, what: &'static str, builder: C) -> Result<C::Output, ChainError>
    where
        C: ContractCall,
    {
        call(&self.health, what, builder).await
    }

    /// Raw `eth_call` returning the output bytes (for calls built by hand).
    pub async fn eth_call(
        &self,
        what: &'static str,
        tx: alloy::rpc::types::TransactionRequest,
    ) -> Result<Bytes, ChainError> {
        self.rpc(what, async { self.provider.call(tx).await }).await
    }
}

/// A contract call builder that can be awaited for its decoded output.
pub trait ContractCall {
    type Output;
    fn run(self) -> impl Future<Output = Result<Self::Output, alloy::contract::Error>> + Send;
}

impl<P, C> ContractCall for alloy::contract::CallBuilder<P, C, alloy::network::Ethereum>
where
    P: Provider + Clone + Send + Sync,
    C: alloy::contract::CallDecoder + Send + Sync,
    C::CallOutput: Send,
{
    type Output = C::CallOutput;
    async fn run(self) -> Result<Self::Output, alloy::contract::Error> {
        self.call().await
    }
}

async fn call<C: ContractCall>(
    health: &RpcHealth,
    what: &'static str,
    builder: C,
) -> Result<C::Output, ChainError> {
    let r = match tokio::time::timeout(CALL_TIMEOUT, builder.run()).await {
        Ok(r) => r.map_err(|e| ChainError::from_contract(what, e)),
        Err(_) => Err(ChainError::Timeout { what }),
    };
    health.record(r.as_ref().map(|_| ()));
    r
}
