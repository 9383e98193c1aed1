//! A subscription as the node reasons about it, and the contract's interval rules (reference
//! ritual-sdk §2.3), evaluated on block time because that is what `deliverCompute` checks.
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::SolValue;
use serde::{Deserialize, Serialize};

pub use infernet_core::chain::{CANCELLED, Schedule};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: u32,
    pub owner: Address,
    pub active_at: u32,
    pub period: u32,
    pub frequency: u32,
    pub redundancy: u16,
    pub container_id: B256,
    pub lazy: bool,
    pub verifier: Address,
    pub payment_amount: U256,
    pub payment_token: Address,
    pub wallet: Address,
    /// SDK 0.x only: what v0.1.0 subscriptions carry that 1.x ones do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v0: Option<Box<V0Terms>>,
}

/// The parts of an SDK v0.1.0 subscription without a 1.x counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V0Terms {
    /// The container ids as the consumer wrote them ("a,b,c"); `container_id` is their hash.
    pub containers: String,
    /// Callback inputs stored with the subscription; empty: ask `getContainerInputs`.
    pub inputs: Bytes,
    /// Highest gas price (wei) a delivery may pay (`GasPriceExceeded` above it).
    pub max_gas_price: u64,
    /// Gas the callback plus the coordinator's overhead may use (`GasLimitExceeded` above it).
    pub max_gas_limit: u32,
}

impl Subscription {
    /// Unknown ids read back as a zeroed struct.
    pub fn exists(&self) -> bool {
        self.owner != Address::ZERO
    }

    pub fn cancelled(&self) -> bool {
        self.active_at == CANCELLED
    }

    pub fn requires_proof(&self) -> bool {
        self.verifier != Address::ZERO
    }

    pub fn provides_payment(&self) -> bool {
        !self.payment_amount.is_zero()
    }

    /// "100 wei of ETH from wallet 0x…" for views, when it pays.
    pub fn payment_text(&self) -> Option<String> {
        self.provides_payment().then(|| {
            format!(
                "{} of {} from wallet {}",
                self.payment_amount,
                super::payments::token_name(self.payment_token),
                self.wallet
            )
        })
    }

    /// "verifier 0x…" for views, when it needs a proof.
    pub fn proof_text(&self) -> Option<String> {
        self.requires_proof()
            .then(|| format!("verifier {}", self.verifier))
    }

    /// What it pays, for the guardian's payment rules.
    pub fn payment(&self) -> Option<crate::guardian::Payment> {
        self.provides_payment().then(|| crate::guardian::Payment {
            token: self.payment_token.to_string(),
            amount: self.payment_amount,
        })
    }

    /// When its intervals open (the rules live in infernet-core).
    pub fn schedule(&self) -> Schedule {
        Schedule {
            active_at: self.active_at,
            period: self.period,
            frequency: self.frequency,
        }
    }

    /// The interval the contract would accept at block time `ts`; None before `activeAt`.
    pub fn interval_at(&self, ts: u64) -> Option<u32> {
        self.schedule().interval_at(ts)
    }

    /// Block time at which interval `n` (1-based) opens.
    pub fn interval_start(&self, n: u32) -> u64 {
        self.schedule().interval_start(n)
    }

    /// The last interval that can ever be delivered (period 0 allows only interval 1).
    pub fn last_interval(&self) -> u32 {
        self.schedule().last_interval()
    }
}

/// `keccak256(abi.encode(string "a,b,c"))`: how the contract names a container pipeline.
pub fn container_set_hash(ids: &[String]) -> B256 {
    keccak256((ids.join(","),).abi_encode_params())
}

/// Key of `redundancyCount`: `keccak256(abi.encode(uint32 id, uint32 interval))`.
pub fn interval_key(id: u32, interval: u32) -> B256 {
    keccak256((id, interval).abi_encode_params())
}

/// Key of `nodeResponded`: `keccak256(abi.encode(uint32 id, uint32 interval, address node))`.
pub fn node_key(id: u32, interval: u32, node: Address) -> B256 {
    keccak256((id, interval, node).abi_encode_params())
}

/// Key of `delegateCreatedIds`: `keccak256(abi.encode(address owner, uint32 nonce))`.
pub fn delegate_key(owner: Address, nonce: u32) -> B256 {
    keccak256((owner, nonce).abi_encode_params())
}

macro_rules! from_abi {
    ($t:ty) => {
        impl From<(u32, $t)> for Subscription {
            fn from((id, s): (u32, $t)) -> Self {
                Subscription {
                    id,
                    owner: s.owner,
                    active_at: s.activeAt,
                    period: s.period,
                    frequency: s.frequency,
                    redundancy: s.redundancy,
                    container_id: s.containerId,
                    lazy: s.lazy,
                    verifier: s.verifier,
                    payment_amount: s.paymentAmount,
                    payment_token: s.paymentToken,
                    wallet: s.wallet,
                    v0: None,
                }
            }
        }
    };
}
from_abi!(super::abi::Reader::Subscription);
from_abi!(super::abi::EIP712Coordinator::Subscription);

impl From<(u32, super::abi::V0Coordinator::subscriptionsReturn)> for Subscription {
    fn from((id, s): (u32, super::abi::V0Coordinator::subscriptionsReturn)) -> Self {
        Subscription {
            id,
            owner: s.owner,
            active_at: s.activeAt,
            period: s.period,
            frequency: s.frequency,
            redundancy: s.redundancy,
            container_id: keccak256((s.containerId.as_str(),).abi_encode_params()),
            lazy: false,
            verifier: Address::ZERO,
            payment_amount: U256::ZERO,
            payment_token: Address::ZERO,
            wallet: Address::ZERO,
            v0: Some(Box::new(V0Terms {
                containers: s.containerId,
                inputs: s.inputs,
                max_gas_price: s.maxGasPrice.to::<u64>(),
                max_gas_limit: s.maxGasLimit,
            })),
        }
    }
}

impl Subscription {
    /// The struct as the coordinator's functions take it.
    pub fn to_abi(&self) -> super::abi::EIP712Coordinator::Subscription {
        super::abi::EIP712Coordinator::Subscription {
            owner: self.owner,
            activeAt: self.active_at,
            period: self.period,
            frequency: self.frequency,
            redundancy: self.redundancy,
            containerId: self.container_id,
            lazy: self.lazy,
            verifier: self.verifier,
            paymentAmount: self.payment_amount,
            paymentToken: self.payment_token,
            wallet: self.wallet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(active_at: u32, period: u32, frequency: u32) -> Subscription {
        Subscription {
            id: 1,
            owner: Address::repeat_byte(1),
            active_at,
            period,
            frequency,
            redundancy: 1,
            container_id: B256::ZERO,
            lazy: false,
            verifier: Address::ZERO,
            payment_amount: U256::ZERO,
            payment_token: Address::ZERO,
            wallet: Address::ZERO,
            v0: None,
        }
    }

    #[test]
    fn intervals_follow_the_contract() {
        let s = sub(100, 10, 3);
        assert_eq!(s.interval_at(99), None);
        assert_eq!(s.interval_at(100), Some(1));
        assert_eq!(s.interval_at(109), Some(1));
        assert_eq!(s.interval_at(110), Some(2));
        assert_eq!(s.interval_start(3), 120);
        let once = sub(100, 0, 5);
        assert_eq!(once.interval_at(10_000), Some(1));
        assert_eq!(once.last_interval(), 1);
        assert_eq!(sub(CANCELLED, 10, 3).interval_at(u64::MAX), None);
    }

    #[test]
    fn container_hash_is_abi_encoded_string() {
        // abi.encode("container"): offset 0x20, length 9, padded bytes.
        let mut enc = vec![0u8; 96];
        enc[31] = 0x20;
        enc[63] = 9;
        enc[64..73].copy_from_slice(b"container");
        assert_eq!(container_set_hash(&["container".into()]), keccak256(&enc));
    }
}
