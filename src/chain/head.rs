//! The chain head as the node sees it (block number, block time, base fee).
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Head {
    pub number: u64,
    pub timestamp: u64,
    /// None on chains without EIP-1559.
    pub base_fee: Option<u64>,
}
