//! Revert reasons decoded by selector into typed variants with readable messages (the Infernet
//! errors of reference ritual-sdk §3.3 plus Wallet, Allowlist, ERC-20, Error(string) and panics).
use alloy::primitives::Bytes;
use alloy::sol_types::SolError;
use alloy::sol_types::{Panic, Revert as RevertString};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revert {
    InvalidWallet,
    IntervalMismatch,
    IntervalCompleted,
    UnauthorizedVerifier,
    NodeRespondedAlready,
    SubscriptionNotFound,
    ProofRequestNotFound,
    NotSubscriptionOwner,
    SubscriptionCompleted,
    SubscriptionNotActive,
    UnsupportedVerifierToken,
    SignerMismatch,
    SignatureExpired,
    InvalidSignature,
    Reentrancy,
    TransferFailed,
    EthTransferFailed,
    InsufficientFunds,
    InsufficientAllowance,
    InsufficientBalance,
    NodeNotAllowed,
    NotCoordinator,
    // SDK v0.1.0 (`chain.sdk: "0.x"`): node registration and gas metering.
    NodeNotActive,
    GasPriceExceeded,
    GasLimitExceeded,
    NodeNotRegisterable {
        status: u8,
    },
    /// Activation before the cooldown since `cooldown_start` (unix seconds) has passed.
    CooldownActive {
        cooldown_start: u32,
    },
    NodeNotActivateable {
        status: u8,
    },
    /// `Error(string)` from `require`/`revert("...")`.
    Message(String),
    /// `Panic(uint256)`.
    Panic(u64),
    /// A revert without data (out of gas, `revert()`, a call to an account without code).
    Empty,
    Unknown(Bytes),
}

const TABLE: &[([u8; 4], Revert)] = &[
    ([0x23, 0x45, 0x5b, 0xa1], Revert::InvalidWallet),
    ([0x4d, 0xb3, 0x10, 0xc3], Revert::IntervalMismatch),
    ([0x2f, 0x4c, 0xa8, 0x5b], Revert::IntervalCompleted),
    ([0xb9, 0x85, 0x7a, 0xa1], Revert::UnauthorizedVerifier),
    ([0x88, 0xa2, 0x1e, 0x4f], Revert::NodeRespondedAlready),
    ([0x1a, 0x00, 0x35, 0x4f], Revert::SubscriptionNotFound),
    ([0x1d, 0x68, 0xb3, 0x7c], Revert::ProofRequestNotFound),
    ([0xa7, 0xfb, 0xa7, 0x11], Revert::NotSubscriptionOwner),
    ([0xae, 0x67, 0x04, 0xa7], Revert::SubscriptionCompleted),
    ([0xef, 0xb7, 0x4e, 0xfe], Revert::SubscriptionNotActive),
    ([0xe2, 0x37, 0x27, 0x99], Revert::UnsupportedVerifierToken),
    ([0x10, 0xc7, 0x4b, 0x03], Revert::SignerMismatch),
    ([0x08, 0x19, 0xbd, 0xcd], Revert::SignatureExpired),
    ([0x8b, 0xaa, 0x57, 0x9f], Revert::InvalidSignature),
    ([0xab, 0x14, 0x3c, 0x06], Revert::Reentrancy),
    ([0x90, 0xb8, 0xec, 0x18], Revert::TransferFailed),
    ([0xb1, 0x2d, 0x13, 0xeb], Revert::EthTransferFailed),
    ([0x35, 0x66, 0x80, 0xb7], Revert::InsufficientFunds),
    ([0x13, 0xbe, 0x25, 0x2b], Revert::InsufficientAllowance),
    ([0xf4, 0xd6, 0x78, 0xb8], Revert::InsufficientBalance),
    ([0x42, 0x76, 0x49, 0x46], Revert::NodeNotAllowed),
    ([0x9e, 0xc8, 0x53, 0xe6], Revert::NotCoordinator),
    ([0x87, 0x41, 0xcb, 0xb8], Revert::NodeNotActive),
    ([0x68, 0x2b, 0xad, 0x5a], Revert::GasPriceExceeded),
    ([0xbe, 0x91, 0x79, 0xa6], Revert::GasLimitExceeded),
];

impl Revert {
    pub fn decode(data: &[u8]) -> Revert {
        if data.len() < 4 {
            return Revert::Empty;
        }
        let sel: [u8; 4] = [data[0], data[1], data[2], data[3]];
        if let Some((_, r)) = TABLE.iter().find(|(s, _)| *s == sel) {
            return r.clone();
        }
        if let Some(r) = decode_v0(sel, data) {
            return r;
        }
        if sel == RevertString::SELECTOR
            && let Ok(r) = RevertString::abi_decode(data)
        {
            return Revert::Message(r.reason);
        }
        if sel == Panic::SELECTOR
            && let Ok(p) = Panic::abi_decode(data)
        {
            return Revert::Panic(p.code.try_into().unwrap_or(u64::MAX));
        }
        Revert::Unknown(Bytes::copy_from_slice(data))
    }

    /// Another node filled the interval or the interval moved on: not a fault of ours, no retry.
    pub fn is_race_lost(&self) -> bool {
        matches!(
            self,
            Revert::IntervalCompleted
                | Revert::NodeRespondedAlready
                | Revert::SubscriptionCompleted
                | Revert::IntervalMismatch
        )
    }

    pub fn message(&self) -> String {
        match self {
            Revert::InvalidWallet => "Invalid wallet, please make sure you're using a wallet created from infernet's `WalletFactory`.".into(),
            Revert::IntervalMismatch => "Interval mismatch. The interval is not the current one.".into(),
            Revert::IntervalCompleted => "Interval already completed: every redundant response for it has been delivered.".into(),
            Revert::UnauthorizedVerifier => "Verifier is not authorized to finalize this proof request.".into(),
            Revert::NodeRespondedAlready => "Node already responded for this interval.".into(),
            Revert::SubscriptionNotFound => "Subscription not found.".into(),
            Revert::ProofRequestNotFound => "Proof request not found.".into(),
            Revert::NotSubscriptionOwner => "Caller is not the owner of the subscription.".into(),
            Revert::SubscriptionCompleted => "Subscription is already completed: its last interval has passed.".into(),
            Revert::SubscriptionNotActive => "Subscription is not active yet (or was cancelled).".into(),
            Revert::UnsupportedVerifierToken => "Unsupported verifier token. Attempting to pay a verifier in a token it does not support.".into(),
            Revert::SignerMismatch => "Signer does not match the owner's delegated signer.".into(),
            Revert::SignatureExpired => "EIP-712 signature has expired.".into(),
            Revert::InvalidSignature => "Invalid signature (v must be 27 or 28).".into(),
            Revert::Reentrancy => "Reentrant delivery refused.".into(),
            Revert::TransferFailed => "Token transfer failed.".into(),
            Revert::EthTransferFailed => "ETH transfer failed.".into(),
            Revert::InsufficientFunds => "Insufficient funds. The wallet's unlocked balance is too low.".into(),
            Revert::InsufficientAllowance => "Insufficient allowance. The wallet owner has not approved enough for this spender.".into(),
            Revert::InsufficientBalance => "Insufficient token balance.".into(),
            Revert::NodeNotAllowed => "Node is not allowed to deliver to this consumer (Allowlist).".into(),
            Revert::NotCoordinator => "Caller is not the coordinator.".into(),
            Revert::NodeNotActive => "NodeNotActive: this node is not active on the coordinator (`infernet node register`, then `infernet node activate` after the cooldown).".into(),
            Revert::GasPriceExceeded => "GasPriceExceeded: the transaction's gas price is above the subscription's maxGasPrice.".into(),
            Revert::GasLimitExceeded => "GasLimitExceeded: the callback plus the coordinator's overhead needs more gas than the subscription's maxGasLimit.".into(),
            Revert::NodeNotRegisterable { status } => format!("NodeNotRegisterable: the node is already {}.", node_status_name(*status)),
            Revert::CooldownActive { cooldown_start } => format!("CooldownActive: the cooldown that began at unix time {cooldown_start} has not passed yet."),
            Revert::NodeNotActivateable { status } => format!("NodeNotActivateable: the node is {} (only a registered node activates).", node_status_name(*status)),
            Revert::Message(m) => format!("reverted: {m}"),
            Revert::Panic(code) => format!("panic 0x{code:02x} ({})", panic_meaning(*code)),
            Revert::Empty => "reverted without a reason (out of gas, a plain revert, or a call to an account without code)".into(),
            Revert::Unknown(data) => format!("reverted with unknown error data {data}"),
        }
    }
}

/// SDK v0.1.0's registration errors, which carry values.
fn decode_v0(sel: [u8; 4], data: &[u8]) -> Option<Revert> {
    use crate::chain::abi::V0Coordinator as V0;
    if sel == V0::NodeNotRegisterable::SELECTOR {
        let e = V0::NodeNotRegisterable::abi_decode(data).ok()?;
        return Some(Revert::NodeNotRegisterable { status: e.status });
    }
    if sel == V0::CooldownActive::SELECTOR {
        let e = V0::CooldownActive::abi_decode(data).ok()?;
        return Some(Revert::CooldownActive {
            cooldown_start: e.cooldownStart,
        });
    }
    if sel == V0::NodeNotActivateable::SELECTOR {
        let e = V0::NodeNotActivateable::abi_decode(data).ok()?;
        return Some(Revert::NodeNotActivateable { status: e.status });
    }
    None
}

/// SDK v0.1.0's node status (`nodeInfo(node).status`).
pub fn node_status_name(status: u8) -> &'static str {
    match status {
        0 => "inactive",
        1 => "registered",
        2 => "active",
        _ => "unknown",
    }
}

fn panic_meaning(code: u64) -> &'static str {
    match code {
        0x01 => "assertion failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division by zero",
        0x21 => "invalid enum value",
        0x31 => "pop on empty array",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        0x51 => "call to an uninitialised function",
        _ => "unknown panic code",
    }
}

impl std::fmt::Display for Revert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::abi::EIP712Coordinator::EIP712CoordinatorErrors;
    use alloy::sol_types::SolInterface;

    #[test]
    fn every_coordinator_error_decodes_to_a_named_variant() {
        // Selectors come from our compiled ABI; none may fall through to Unknown.
        for sel in EIP712CoordinatorErrors::selectors() {
            let r = Revert::decode(&sel);
            assert!(!matches!(r, Revert::Unknown(_)), "{sel:02x?} undecoded");
        }
    }

    #[test]
    fn every_v0_coordinator_error_decodes_with_the_reference_selectors() {
        use crate::chain::abi::V0Coordinator::{self as V0, V0CoordinatorErrors};
        for sel in V0CoordinatorErrors::selectors() {
            let r = Revert::decode(&sel);
            // Errors with values need their values to decode; the rest decode from 4 bytes.
            let with_values = [
                V0::NodeNotRegisterable::SELECTOR,
                V0::CooldownActive::SELECTOR,
                V0::NodeNotActivateable::SELECTOR,
            ];
            if !with_values.contains(&sel) {
                assert!(!matches!(r, Revert::Unknown(_)), "{sel:02x?} undecoded");
            }
        }
        // Reference ritual-sdk.md §1.1: v0.1.0's selectors.
        assert_eq!(V0::NodeNotActive::SELECTOR, [0x87, 0x41, 0xcb, 0xb8]);
        assert_eq!(V0::NodeNotRegisterable::SELECTOR, [0x5a, 0xcf, 0xd5, 0x18]);
        assert_eq!(V0::CooldownActive::SELECTOR, [0xc8, 0x4b, 0x5b, 0xdd]);
        assert_eq!(V0::NodeNotActivateable::SELECTOR, [0x33, 0xda, 0xa7, 0xf9]);
        assert_eq!(V0::GasPriceExceeded::SELECTOR, [0x68, 0x2b, 0xad, 0x5a]);
        assert_eq!(V0::GasLimitExceeded::SELECTOR, [0xbe, 0x91, 0x79, 0xa6]);
        let data = V0::CooldownActive { cooldownStart: 77 }.abi_encode();
        assert_eq!(
            Revert::decode(&data),
            Revert::CooldownActive { cooldown_start: 77 }
        );
        let data = V0::NodeNotRegisterable {
            node: alloy::primitives::Address::ZERO,
            status: 2,
        }
        .abi_encode();
        assert_eq!(
            Revert::decode(&data).message(),
            "NodeNotRegisterable: the node is already active."
        );
    }

    #[test]
    fn v0_function_and_event_selectors_match_the_reference() {
        use crate::chain::abi::V0Coordinator as V0;
        use alloy::sol_types::{SolCall, SolEvent};
        assert_eq!(
            V0::createSubscriptionCall::SELECTOR,
            [0x4d, 0x9b, 0xf2, 0x2f]
        );
        assert_eq!(V0::deliverComputeCall::SELECTOR, [0x6e, 0x02, 0x13, 0x32]);
        assert_eq!(V0::subscriptionsCall::SELECTOR, [0x73, 0xfb, 0x5c, 0x3a]);
        assert_eq!(
            V0::SubscriptionCreated::SIGNATURE_HASH,
            crate::chain::abi::EIP712Coordinator::SubscriptionCreated::SIGNATURE_HASH
        );
        assert_eq!(
            V0::SubscriptionCancelled::SIGNATURE_HASH,
            crate::chain::abi::EIP712Coordinator::SubscriptionCancelled::SIGNATURE_HASH
        );
    }

    #[test]
    fn strings_and_panics() {
        let data = RevertString::from("boom").abi_encode();
        assert_eq!(Revert::decode(&data), Revert::Message("boom".into()));
        let p = Panic {
            code: alloy::primitives::U256::from(0x11),
        }
        .abi_encode();
        assert_eq!(
            Revert::decode(&p).message(),
            "panic 0x11 (arithmetic overflow or underflow)"
        );
        assert_eq!(Revert::decode(&[]), Revert::Empty);
    }
}
