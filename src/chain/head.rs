//! The chain head as the node sees it; the type lives in infernet-core, read from a block here.
pub use infernet_core::chain::Head;

/// The head a block stands for.
pub fn head_of(block: &alloy::rpc::types::Block) -> Head {
    Head {
        number: block.header.number,
        timestamp: block.header.timestamp,
        base_fee: block.header.base_fee_per_gas,
    }
}
