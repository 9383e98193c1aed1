//! The chain head as the node sees it (block number, block time, base fee).
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Head {
    pub number: u64,
    pub timestamp: u64,
    /// None on chains without EIP-1559.
    pub base_fee: Option<u64>,
}

impl Head {
    pub fn of(block: &alloy::rpc::types::Block) -> Self {
        Head {
            number: block.header.number,
            timestamp: block.header.timestamp,
            base_fee: block.header.base_fee_per_gas,
        }
    }
}
