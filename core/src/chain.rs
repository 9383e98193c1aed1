//! Chain-side domain types: the head as the node sees it, a subscription's schedule (the
//! contract's interval rules, on block time because that is what `deliverCompute` checks), and
//! the status enums stored and shown for subscriptions and deliveries.
use serde::{Deserialize, Serialize};

/// The chain head as the node sees it (block number, block time, base fee).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Head {
    pub number: u64,
    pub timestamp: u64,
    /// None on chains without EIP-1559.
    pub base_fee: Option<u64>,
}

/// `activeAt` of a cancelled subscription.
pub const CANCELLED: u32 = u32::MAX;

/// The part of a subscription that decides when its intervals open (reference ritual-sdk §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub active_at: u32,
    pub period: u32,
    pub frequency: u32,
}

impl Schedule {
    pub fn cancelled(&self) -> bool {
        self.active_at == CANCELLED
    }

    /// The interval the contract would accept at block time `ts`; None before `activeAt`.
    pub fn interval_at(&self, ts: u64) -> Option<u32> {
        if self.cancelled() || ts < u64::from(self.active_at) {
            return None;
        }
        if self.period == 0 {
            return Some(1);
        }
        let n = (ts - u64::from(self.active_at)) / u64::from(self.period) + 1;
        Some(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Block time at which interval `n` (1-based) opens.
    pub fn interval_start(&self, n: u32) -> u64 {
        u64::from(self.active_at) + u64::from(n.saturating_sub(1)) * u64::from(self.period)
    }

    /// The last interval that can ever be delivered (period 0 allows only interval 1).
    pub fn last_interval(&self) -> u32 {
        if self.period == 0 {
            self.frequency.min(1)
        } else {
            self.frequency
        }
    }
}

/// Where a subscription stands for this node. Stored and shown as its lowercase name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SubStatus {
    /// Served: its intervals are scheduled.
    Tracked,
    /// Not for this node (containers, payment, proof rules): the reason says why.
    Ignored,
    Cancelled,
    Completed,
    Expired,
}

impl SubStatus {
    /// The stored word back ([`SubStatus::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tracked" => SubStatus::Tracked,
            "ignored" => SubStatus::Ignored,
            "cancelled" => SubStatus::Cancelled,
            "completed" => SubStatus::Completed,
            "expired" => SubStatus::Expired,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SubStatus::Tracked => "tracked",
            SubStatus::Ignored => "ignored",
            SubStatus::Cancelled => "cancelled",
            SubStatus::Completed => "completed",
            SubStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for SubStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one (subscription, interval) delivery stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Running,
    Retrying,
    Sent,
    Confirmed,
    Skipped,
    GivenUp,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Running => "running",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Sent => "sent",
            DeliveryState::Confirmed => "confirmed",
            DeliveryState::Skipped => "skipped",
            DeliveryState::GivenUp => "given_up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "retrying" => Self::Retrying,
            "sent" => Self::Sent,
            "confirmed" => Self::Confirmed,
            "skipped" => Self::Skipped,
            "given_up" => Self::GivenUp,
            _ => return None,
        })
    }

    /// Nothing more will happen for this interval.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Skipped | Self::GivenUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_contract() {
        let s = Schedule {
            active_at: 100,
            period: 10,
            frequency: 3,
        };
        assert_eq!(s.interval_at(99), None);
        assert_eq!(s.interval_at(100), Some(1));
        assert_eq!(s.interval_at(109), Some(1));
        assert_eq!(s.interval_at(110), Some(2));
        assert_eq!(s.interval_start(3), 120);
        assert_eq!(s.last_interval(), 3);
        let once = Schedule {
            active_at: 100,
            period: 0,
            frequency: 5,
        };
        assert_eq!(once.interval_at(10_000), Some(1));
        assert_eq!(once.last_interval(), 1);
        let gone = Schedule {
            active_at: CANCELLED,
            period: 10,
            frequency: 3,
        };
        assert_eq!(gone.interval_at(u64::MAX), None);
    }

    #[test]
    fn states_round_trip_their_stored_names() {
        for s in [
            DeliveryState::Running,
            DeliveryState::Retrying,
            DeliveryState::Sent,
            DeliveryState::Confirmed,
            DeliveryState::Skipped,
            DeliveryState::GivenUp,
        ] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(DeliveryState::parse("bogus"), None);
        assert_eq!(
            serde_json::to_string(&SubStatus::Tracked).unwrap(),
            "\"tracked\""
        );
    }
}
