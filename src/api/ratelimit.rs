//! Per-client, per-route rate limiting with GCRA (the algorithm Ritual's limiter uses):
//! `num_requests` per `period`, bursts up to the limit, in memory.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    period: Duration,
    emission: Duration,
    buckets: Mutex<HashMap<(IpAddr, &'static str), Instant>>,
    last_sweep: Mutex<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset: u64,
    /// Seconds to wait before retrying (when refused).
    pub retry_after: u64,
}

impl RateLimiter {
    pub fn new(limit: u32, period: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            period,
            emission: period / limit,
            buckets: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    pub fn check(&self, client: IpAddr, route: &'static str) -> Decision {
        self.check_at(client, route, Instant::now())
    }

    pub fn check_at(&self, client: IpAddr, route: &'static str, now: Instant) -> Decision {
        let client = bucket_of(client);
        self.sweep(now);
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        let tat = buckets
            .get(&(client, route))
            .copied()
            .unwrap_or(now)
            .max(now);
        let tolerance = self.period.saturating_sub(self.emission);
        let ahead = tat - now;
        let secs = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
        if ahead > tolerance {
            let wait = ahead - tolerance;
            return Decision {
                allowed: false,
                limit: self.limit,
                remaining: 0,
                reset: secs(ahead),
                retry_after: secs(wait).max(1),
            };
        }
        let new_tat = tat + self.emission;
        buckets.insert((client, route), new_tat);
        let used = new_tat - now;
        let remaining =
            (self.period.saturating_sub(used).as_nanos() / self.emission.as_nanos().max(1)) as u32;
        Decision {
            allowed: true,
            limit: self.limit,
            remaining,
            reset: secs(used),
            retry_after: 0,
        }
    }

    /// Drops idle buckets now and then so memory stays bounded by active clients.
    fn sweep(&self, now: Instant) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        if now.duration_since(*last) < self.period.max(Duration::from_secs(10)) {
            return;
        }
        *last = now;
        if let Ok(mut b) = self.buckets.lock() {
            b.retain(|_, tat| *tat > now);
        }
    }
}

/// The bucket a client shares: its IPv4 address, or its IPv6 /64 (one host usually holds a
/// whole /64, so single IPv6 addresses would hand it 2^64 buckets).
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_to_the_limit_then_refuses_with_retry_after() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let d: Vec<Decision> = (0..4).map(|_| rl.check_at(ip, "GET /health", t0)).collect();
        assert!(d[0].allowed && d[1].allowed && d[2].allowed);
        assert_eq!([d[0].remaining, d[1].remaining, d[2].remaining], [2, 1, 0]);
        assert!(!d[3].allowed);
        assert_eq!(d[3].retry_after, 20);
        // Another route and another client have their own buckets.
        assert!(rl.check_at(ip, "GET /info", t0).allowed);
        assert!(
            rl.check_at("::1".parse().unwrap(), "GET /health", t0)
                .allowed
        );
        // Addresses of one IPv6 /64 share a bucket; another /64 has its own.
        let rl6 = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(rl6.check_at(a, "GET /health", t0).allowed);
        assert!(rl6.check_at(b, "GET /health", t0).allowed);
        assert!(!rl6.check_at(a, "GET /health", t0).allowed);
        assert!(rl6.check_at(other, "GET /health", t0).allowed);
        // One emission interval later, one more request fits.
        assert!(
            rl.check_at(ip, "GET /health", t0 + Duration::from_secs(20))
                .allowed
        );
    }
}
