//! The one retry policy: a wait that doubles with each failure in a row, from `base` up to
//! `max`, optionally jittered so a fleet restarted together does not retry in step. Every
//! retry loop (supervisor restarts, the control-plane agent, chain sync and delivery, Docker
//! bring-up, the store pruner, downloads) asks it for its next wait.
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    /// The wait times a random factor in [1 − f, 1): never past the cap.
    Below(f64),
    /// The wait times a random factor in [1 − f, 1 + f).
    Around(f64),
}

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
        let shift = failures.saturating_sub(1).min(30);
        let d = self.base.saturating_mul(1u32 << shift).min(self.max);
        let r = rand::random::<f64>();
        match self.jitter {
            Jitter::None => d,
            Jitter::Below(f) => d.mul_f64(1.0 - f.clamp(0.0, 1.0) * r),
            Jitter::Around(f) => d.mul_f64(1.0 + f.clamp(0.0, 1.0) * (2.0 * r - 1.0)),
        }
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
