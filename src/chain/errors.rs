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
            Revert::Message(m) => format!("reverted: {m}"),
            Revert::Panic(code) => format!("panic 0x{code:02x} ({})", panic_meaning(*code)),
            Revert::Empty => "reverted without a reason (out of gas, a plain revert, or a call to an account without code)".into(),
            Revert::Unknown(data) => format!("reverted with unknown error data {data}"),
        }
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
