//! Request limits as a GCRA (generic cell rate algorithm): one number per subject, the
//! "theoretical arrival time" (TAT), stored wherever the caller keeps it (our control plane:
//! a database row, so limits survive restarts and are shared by replicas). `N` per hour
//! allows a burst of `N` and then one every `3600/N` s: the reference's "20/hour" without a
//! window that resets all at once.

/// `per_hour` requests per hour; 0 allows none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_hour: u32,
}

const HOUR_MS: i64 = 3_600_000;

/// What a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; store `tat` (guarded on the value read).
    Allow { tat: i64 },
    /// Refused; the next request is allowed in `retry_after_ms`.
    Deny { retry_after_ms: i64 },
}

impl Decision {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_s(&self) -> Option<i64> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny { retry_after_ms } => Some(((retry_after_ms + 999) / 1000).max(1)),
        }
    }
}

/// A limit's step and burst in ms: each request moves the TAT on by `interval`; a request is
/// allowed while the TAT is at most `tolerance` ahead of now. None for a limit of 0.
pub fn cell(limit: Limit) -> Option<(i64, i64)> {
    if limit.per_hour == 0 {
        return None;
    }
    let interval = (HOUR_MS / i64::from(limit.per_hour)).max(1);
    // The burst: `per_hour` requests fit between now and TAT.
    Some((interval, interval * (i64::from(limit.per_hour) - 1)))
}

/// One request at `now` (ms) for a subject whose stored TAT is `tat` (none: never seen).
pub fn decide(limit: Limit, tat: Option<i64>, now: i64) -> Decision {
    let Some((interval, tolerance)) = cell(limit) else {
        return Decision::Deny {
            retry_after_ms: HOUR_MS,
        };
    };
    decide_cell(interval, tolerance, tat, now)
}

/// The GCRA step itself, for a cell given directly (a burst other than the hourly count:
/// `n` a `window` is `decide_cell(window / n, window - window / n, …)`).
pub fn decide_cell(interval: i64, tolerance: i64, tat: Option<i64>, now: i64) -> Decision {
    let tat = tat.unwrap_or(now).max(now);
    let allowed_at = tat - tolerance;
    if now < allowed_at {
        Decision::Deny {
            retry_after_ms: allowed_at - now,
        }
    } else {
        Decision::Allow {
            tat: tat + interval,
        }
    }
}

/// A stored TAT at or before `now` means the same as no row: the subject has its full burst.
pub fn expired(tat: i64, now: i64) -> bool {
    tat <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limit: Limit, times: &[i64]) -> Vec<Decision> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let d = decide(limit, tat, now);
                if let Decision::Allow { tat: t } = d {
                    tat = Some(t);
                }
                d
            })
            .collect()
    }

    #[test]
    fn twenty_an_hour_allows_a_burst_of_twenty_then_one_every_three_minutes() {
        let l = Limit { per_hour: 20 };
        let d = run(l, &[0; 21]);
        assert!(d[..20].iter().all(|d| matches!(d, Decision::Allow { .. })));
        // The 21st waits for one interval (180 s).
        assert_eq!(
            d[20],
            Decision::Deny {
                retry_after_ms: 180_000
            }
        );
        assert_eq!(d[20].retry_after_s(), Some(180));
    }

    #[test]
    fn a_refused_request_does_not_use_up_the_limit() {
        let l = Limit { per_hour: 2 };
        let mut tat = None;
        for now in [0, 0] {
            let Decision::Allow { tat: t } = decide(l, tat, now) else {
                panic!("allowed")
            };
            tat = Some(t);
        }
        // Refusals keep the stored TAT (the caller stores nothing), so retrying does not
        // push the next allowed time further.
        for _ in 0..5 {
            assert_eq!(
                decide(l, tat, 1000),
                Decision::Deny {
                    retry_after_ms: 1_799_000
                }
            );
        }
        assert!(matches!(decide(l, tat, 1_800_000), Decision::Allow { .. }));
    }

    #[test]
    fn after_a_quiet_hour_the_whole_burst_is_back() {
        let l = Limit { per_hour: 3 };
        let d = run(l, &[0, 0, 0, 3_600_000, 3_600_000, 3_600_000, 3_600_001]);
        let allowed = d
            .iter()
            .filter(|d| matches!(d, Decision::Allow { .. }))
            .count();
        assert_eq!(allowed, 6, "{d:?}");
        assert!(expired(3_600_000, 3_600_000));
        assert!(!expired(3_600_001, 3_600_000));
    }

    #[test]
    fn zero_allows_nothing_and_a_huge_limit_allows_everything() {
        assert_eq!(
            decide(Limit { per_hour: 0 }, None, 5).retry_after_s(),
            Some(3600)
        );
        let d = run(Limit { per_hour: u32::MAX }, &[7; 1000]);
        assert!(d.iter().all(|d| matches!(d, Decision::Allow { .. })));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(
            Decision::Deny { retry_after_ms: 1 }.retry_after_s(),
            Some(1)
        );
        assert_eq!(
            Decision::Deny {
                retry_after_ms: 1001
            }
            .retry_after_s(),
            Some(2)
        );
        assert_eq!(Decision::Allow { tat: 1 }.retry_after_s(), None);
    }
}
