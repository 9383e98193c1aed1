//! Payout addresses and job pricing, shared by the CLI (`infernet payout`) and the control
//! plane: the coins and networks of the reference (infernet-protocol §8.1), each address
//! checked against its network's format and checksum, and the USD a job earns.
mod base58;
mod bech32;
mod cashaddr;
pub mod price;

mod address;
pub use address::{AddressError, Payout, check};

/// Each coin and the networks it is paid on, in the reference's order (the first is the
/// coin's home network).
pub const COINS: &[(&str, &[&str])] = &[
    ("BTC", &["bitcoin"]),
    ("BCH", &["bitcoin-cash"]),
    ("ETH", &["ethereum"]),
    ("SOL", &["solana"]),
    ("POL", &["polygon"]),
    ("BNB", &["bsc"]),
    ("XRP", &["ripple"]),
    ("ADA", &["cardano"]),
    ("DOGE", &["dogecoin"]),
    ("USDT", &["ethereum", "polygon", "solana"]),
    ("USDC", &["ethereum", "polygon", "solana", "base"]),
];

/// The networks `coin` (upper case) is paid on.
pub fn networks(coin: &str) -> Option<&'static [&'static str]> {
    COINS.iter().find(|(c, _)| *c == coin).map(|(_, n)| *n)
}
