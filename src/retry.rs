//! The one retry policy: a wait that doubles with each failure in a row, from `base` up to
//! `max`, optionally jittered so a fleet restarted together does not retry in step. Every
//! retry loop (supervisor restarts, the control-plane agent, chain sync and delivery, Docker
//! bring-up, the store pruner, downloads) asks it for its next wait.
use std::time::Duration;

/// The formula lives in infernet-core (its state machines compute waits from a caller's draw).
pub use infernet_core::retry::Jitter;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            jitter: Jitter::None,
        }
    }

    pub const fn with_jitter(self, jitter: Jitter) -> Self {
        Self { jitter, ..self }
    }

    /// The wait after `failures` failures in a row (the first waits `base`): base, 2·base,
    /// 4·base … max, then jittered.
    pub fn delay(&self, failures: u32) -> Duration {
        infernet_core::retry::delay(self.base, self.max, self.jitter, failures, rand::random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_base_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let w: Vec<u128> = (0..=7).map(|f| b.delay(f).as_millis()).collect();
        assert_eq!(w, [500, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(5), "no overflow");
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let below = Backoff::new(Duration::from_secs(4), Duration::from_secs(4))
            .with_jitter(Jitter::Below(0.5));
        let around = Backoff::new(Duration::from_secs(10), Duration::from_secs(60))
            .with_jitter(Jitter::Around(0.1));
        for _ in 0..500 {
            let d = below.delay(3).as_secs_f64();
            assert!((2.0..=4.0).contains(&d), "{d}");
            let d = around.delay(1).as_secs_f64();
            assert!((9.0..=11.0).contains(&d), "{d}");
        }
    }
}
