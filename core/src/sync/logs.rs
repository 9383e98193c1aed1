//! The coordinator's logs as sync reads them, decoded by the driver into plain ids and kinds.

/// One log of a mined block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub block: u64,
    pub kind: LogKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    /// `SubscriptionCreated`: new ids exist (they are read by `id()`, not one by one).
    Created,
    /// `SubscriptionCancelled(id)`.
    Cancelled(u32),
    /// `ProofVerified` for this node.
    Proof(ProofVerdict),
}

/// The settlement of one of this node's proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofVerdict {
    pub id: u32,
    pub interval: u32,
    /// Settled within the proof window (false: the window expired and anyone settled it).
    pub active: bool,
    pub valid: bool,
    pub verifier: String,
}

impl ProofVerdict {
    /// The node's stake went to the consumer.
    pub fn slashed(&self) -> bool {
        self.active && !self.valid
    }

    /// What it meant for the node, for the subscription's view.
    pub fn text(&self) -> String {
        let (n, v) = (self.interval, &self.verifier);
        match (self.active, self.valid) {
            (true, true) => format!(
                "interval {n}: proof valid (verifier {v}); escrow paid to the node wallet, stake released"
            ),
            (true, false) => format!(
                "interval {n}: proof INVALID (verifier {v}); the node's stake was slashed to the consumer"
            ),
            (false, _) => format!(
                "interval {n}: proof window expired; settled by {v} and paid to the node wallet"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_says_what_happened_to_the_stake() {
        let v = |active, valid| ProofVerdict {
            id: 1,
            interval: 2,
            active,
            valid,
            verifier: "0xV".into(),
        };
        assert!(v(true, true).text().contains("proof valid (verifier 0xV)"));
        assert!(!v(true, true).slashed());
        assert!(v(true, false).text().contains("slashed"));
        assert!(v(true, false).slashed());
        assert!(
            v(false, false)
                .text()
                .starts_with("interval 2: proof window expired; settled by 0xV")
        );
        assert!(!v(false, false).slashed());
    }
}
