//! The one backoff formula: a wait that doubles with each failure in a row, from `base` up to
//! `max`, optionally jittered so a fleet restarted together does not retry in step. The random
//! draw is the caller's (core has no randomness): `infernet::retry` and the chain drivers pass
//! theirs, tests pass fixed ones.
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    /// The wait times a factor in [1 − f, 1): never past the cap.
    Below(f64),
    /// The wait times a factor in [1 − f, 1 + f).
    Around(f64),
}

/// The wait after `failures` failures in a row (the first waits `base`): base, 2·base,
/// 4·base … max, then jittered by `draw`, a random number in [0, 1).
pub fn delay(base: Duration, max: Duration, jitter: Jitter, failures: u32, draw: f64) -> Duration {
    let shift = failures.saturating_sub(1).min(30);
    let d = base.saturating_mul(1u32 << shift).min(max);
    let r = draw.clamp(0.0, 1.0);
    match jitter {
        Jitter::None => d,
        Jitter::Below(f) => d.mul_f64(1.0 - f.clamp(0.0, 1.0) * r),
        Jitter::Around(f) => d.mul_f64(1.0 + f.clamp(0.0, 1.0) * (2.0 * r - 1.0)),
    }
}

/// The chain side's retry wait (connecting, syncing, a failed delivery attempt): from
/// 2·`base` doubling up to 5 s, jittered below so it never passes the cap.
pub fn chain_delay(base: Duration, failures: u32, draw: f64) -> Duration {
    delay(
        base.saturating_mul(2),
        Duration::from_secs(5),
        Jitter::Below(0.5),
        failures,
        draw,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_base_to_the_cap() {
        let (base, max) = (Duration::from_millis(500), Duration::from_secs(5));
        let w: Vec<u128> = (0..=7)
            .map(|f| delay(base, max, Jitter::None, f, 0.5).as_millis())
            .collect();
        assert_eq!(w, [500, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(
            delay(base, max, Jitter::None, u32::MAX, 0.0),
            max,
            "no overflow"
        );
    }

    #[test]
    fn jitter_spans_its_band_with_the_draw() {
        let s = Duration::from_secs(4);
        assert_eq!(delay(s, s, Jitter::Below(0.5), 3, 0.0), s);
        assert_eq!(delay(s, s, Jitter::Below(0.5), 3, 1.0), s / 2);
        let t = Duration::from_secs(10);
        let around = |draw| delay(t, t * 6, Jitter::Around(0.1), 1, draw).as_secs_f64();
        assert!((around(0.0) - 9.0).abs() < 1e-9);
        assert!((around(0.5) - 10.0).abs() < 1e-9);
        assert!((around(1.0) - 11.0).abs() < 1e-9);
        assert_eq!(
            delay(s, s, Jitter::Below(0.5), 1, 7.0),
            s / 2,
            "draw clamped"
        );
    }

    #[test]
    fn chain_waits_start_at_twice_the_base_and_stop_at_five_seconds() {
        let b = Duration::from_millis(200);
        let w: Vec<u128> = (1..=6)
            .map(|f| chain_delay(b, f, 0.0).as_millis())
            .collect();
        assert_eq!(w, [400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(chain_delay(b, 1, 1.0), Duration::from_millis(200));
    }
}
