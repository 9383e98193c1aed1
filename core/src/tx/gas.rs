//! The gas limit of a delivery: the estimate plus a margin, within `chain.wallet.max_gas_limit`;
//! a simulation revert the operator allowed (`allowed_sim_errors`) sends with the cap instead.

/// Gas margin over the estimate, in percent.
pub const GAS_MARGIN_PCT: u64 = 25;

/// The estimate alone is over the cap: the delivery cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverCap {
    pub needed: u64,
    pub cap: u64,
}

impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delivery needs {} gas, more than chain.wallet.max_gas_limit {}",
            self.needed, self.cap
        )
    }
}

impl std::error::Error for OverCap {}

/// The estimate plus [`GAS_MARGIN_PCT`], cut at `cap` (the margin may be cut, the estimate not).
pub fn limit(estimate: u64, cap: u64) -> Result<u64, OverCap> {
    if estimate > cap {
        return Err(OverCap {
            needed: estimate,
            cap,
        });
    }
    let margin = estimate.saturating_mul(GAS_MARGIN_PCT) / 100;
    Ok(estimate.saturating_add(margin).min(cap))
}

/// The simulation's revert message contains one of the allowed entries (case-insensitive;
/// an empty entry allows nothing).
pub fn sim_error_allowed(allowed: &[String], message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    allowed
        .iter()
        .any(|a| !a.is_empty() && lower.contains(&a.to_ascii_lowercase()))
}
