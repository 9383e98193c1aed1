//! Fees for a delivery and its replacements: EIP-1559 where the chain has a base fee, a legacy
//! gas price otherwise. A replacement is bumped once per version already sent.

/// Fee bump for a replacement, in percent (nodes require at least 10).
pub const BUMP_PCT: u128 = 25;
/// Priority fee when the RPC does not answer `eth_maxPriorityFeePerGas` (1 gwei).
pub const DEFAULT_TIP: u128 = 1_000_000_000;

/// `v` bumped `bumps` times by [`BUMP_PCT`], compounding; +1 per step so that even a tiny fee
/// strictly grows, which nodes require of a replacement.
pub fn bumped(v: u128, bumps: u32) -> u128 {
    (0..bumps).fold(v, |v, _| {
        v.saturating_add(v.saturating_mul(BUMP_PCT) / 100)
            .saturating_add(1)
    })
}

/// EIP-1559 fees, in wei per gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    pub max_fee: u128,
    pub tip: u128,
}

/// Room for the base fee to double, plus the tip; `tip` None: the RPC has no suggestion.
pub fn dynamic(base_fee: u64, tip: Option<u128>, bumps: u32) -> Fees {
    let tip = bumped(tip.unwrap_or(DEFAULT_TIP).max(1), bumps);
    let max_fee = bumped(u128::from(base_fee).saturating_mul(2), bumps).saturating_add(tip);
    Fees { max_fee, tip }
}

/// The legacy gas price: the RPC's quote, bumped.
pub fn legacy(price: u128, bumps: u32) -> u128 {
    bumped(price, bumps)
}
