//! c0mpute's auction rules, both sides, as pure code. The buyer collects bids for a window
//! (8 s by default), each from the peer it names; the lowest price wins, the earliest bid
//! breaks a tie. A worker bids on an offer it can serve: fresh (at most 5 min old, deadline
//! not past), sent by the buyer it names, every required capability among its tags, a model
//! it serves, a price at or under the buyer's maximum; a peer offering too often is refused.
use super::peers::{Refused, admit};
use super::wire::{JobBid, JobOffer, WORKLOAD_INFERENCE};
use crate::ratelimit::{self, Decision};
use std::collections::BTreeMap;

/// The default bid window.
pub const BID_WINDOW_MS: i64 = 8_000;

/// The buyer's side of one offer.
#[derive(Debug, Clone)]
pub struct Auction {
    pub offer: JobOffer,
    opened_ms: i64,
    window_ms: i64,
    /// Bids in arrival order; one per bidder (a second bid replaces nothing).
    bids: Vec<JobBid>,
    /// Bidders not to choose (they were given the job before and did not deliver).
    excluded: Vec<String>,
}

impl Auction {
    pub fn open(offer: JobOffer, now_ms: i64, window_ms: i64, excluded: Vec<String>) -> Self {
        Self {
            offer,
            opened_ms: now_ms,
            window_ms,
            bids: Vec::new(),
            excluded,
        }
    }

    /// When the window closes.
    pub fn closes_at(&self) -> i64 {
        self.opened_ms + self.window_ms
    }

    /// A bid heard from `source` (the gossip author). Refused: another job's bid, a forged
    /// bidder, a stale or oversized message, a bid over the offer's maximum, a late one.
    pub fn bid(
        &mut self,
        size: usize,
        source: Option<&str>,
        bid: JobBid,
        now_ms: i64,
    ) -> Result<(), Refused> {
        if bid.job_id != self.offer.job_id {
            return Err(Refused::Malformed("a bid for another job".into()));
        }
        admit(
            size,
            source,
            &bid.bidder_peer_id,
            bid.published_at_ms,
            now_ms,
        )?;
        if !(bid.price_usd.is_finite() && bid.price_usd >= 0.0)
            || bid.price_usd > self.offer.max_price_usd
        {
            return Err(Refused::Malformed(format!(
                "price {} is over the offer's {}",
                bid.price_usd, self.offer.max_price_usd
            )));
        }
        if now_ms > self.closes_at() {
            return Err(Refused::Malformed("the bid window has closed".into()));
        }
        if self
            .bids
            .iter()
            .any(|b| b.bidder_peer_id == bid.bidder_peer_id)
        {
            return Err(Refused::Malformed("a second bid from the same peer".into()));
        }
        self.bids.push(bid);
        Ok(())
    }

    /// The winner once the window has closed: the lowest price, then the earliest
    /// published, then the first heard; excluded bidders are passed over. `None` before the
    /// window closes or without an eligible bid.
    pub fn winner(&self, now_ms: i64) -> Option<&JobBid> {
        if now_ms < self.closes_at() {
            return None;
        }
        self.bids
            .iter()
            .enumerate()
            .filter(|(_, b)| !self.excluded.contains(&b.bidder_peer_id))
            .min_by(|(i, a), (j, b)| {
                a.price_usd
                    .total_cmp(&b.price_usd)
                    .then(a.published_at_ms.cmp(&b.published_at_ms))
                    .then(i.cmp(j))
            })
            .map(|(_, b)| b)
    }

    /// Every bidder but the winner (to count its loss).
    pub fn losers(&self, winner: &str) -> Vec<String> {
        self.bids
            .iter()
            .map(|b| b.bidder_peer_id.clone())
            .filter(|b| b != winner)
            .collect()
    }
}

/// What a worker offers.
#[derive(Debug, Clone)]
pub struct Terms {
    pub me: String,
    pub tags: Vec<String>,
    pub models: Vec<String>,
    pub price_usd: f64,
    /// Seconds it expects to need (from its load).
    pub eta_seconds: u64,
}

/// Offers a peer may make a minute before the worker stops answering it.
pub const OFFERS_PER_MINUTE: u32 = 30;

/// The worker's side: which offers it bids on, and how often each buyer may ask.
#[derive(Debug, Clone, Default)]
pub struct Worker {
    /// Per buyer: its GCRA arrival time.
    rates: BTreeMap<String, i64>,
}

impl Worker {
    /// The bid for `offer` heard from `source`, or why there is none. The model asked for
    /// is `model` (from the offer's spec).
    pub fn consider(
        &mut self,
        size: usize,
        source: Option<&str>,
        offer: &JobOffer,
        model: Option<&str>,
        terms: &Terms,
        now_ms: i64,
    ) -> Result<JobBid, Refused> {
        admit(
            size,
            source,
            &offer.buyer_peer_id,
            offer.published_at_ms,
            now_ms,
        )?;
        // Per buyer: OFFERS_PER_MINUTE, a burst of as many included.
        let interval = 60_000 / i64::from(OFFERS_PER_MINUTE);
        let key = offer.buyer_peer_id.clone();
        let tat = self.rates.get(&key).copied();
        match ratelimit::decide_cell(interval, 60_000 - interval, tat, now_ms) {
            Decision::Allow { tat } => {
                self.rates.insert(key, tat);
            }
            Decision::Deny { retry_after_ms } => {
                return Err(Refused::Malformed(format!(
                    "too many offers from this peer (retry in {} s)",
                    (retry_after_ms + 999) / 1000
                )));
            }
        }
        // Forget buyers whose burst is whole again, so the map stays small.
        self.rates.retain(|_, tat| *tat > now_ms);
        if offer.buyer_peer_id == terms.me {
            return Err(Refused::Malformed("our own offer".into()));
        }
        if offer.workload_type != WORKLOAD_INFERENCE {
            return Err(Refused::Malformed(format!(
                "workload '{}' is not served here",
                offer.workload_type
            )));
        }
        if offer.deadline_unix_ms <= now_ms {
            return Err(Refused::Expired {
                age_s: (now_ms - offer.deadline_unix_ms) / 1000,
            });
        }
        if let Some(missing) = offer
            .required_capabilities
            .iter()
            .find(|c| !terms.tags.contains(c))
        {
            return Err(Refused::Malformed(format!(
                "lacks the capability '{missing}'"
            )));
        }
        let serves = match model {
            Some(m) => terms.models.iter().any(|x| x == m),
            None => !terms.models.is_empty(),
        };
        if !serves {
            return Err(Refused::Malformed(format!(
                "does not serve the model {}",
                model.unwrap_or("(any)")
            )));
        }
        if terms.price_usd > offer.max_price_usd {
            return Err(Refused::Malformed(format!(
                "asks {} USD, over the offer's {}",
                terms.price_usd, offer.max_price_usd
            )));
        }
        Ok(JobBid {
            job_id: offer.job_id.clone(),
            bidder_peer_id: terms.me.clone(),
            bidder_did: None,
            price_usd: terms.price_usd,
            eta_seconds: terms.eta_seconds,
            published_at_ms: now_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(now: i64) -> JobOffer {
        JobOffer {
            job_id: "j1".into(),
            workload_type: WORKLOAD_INFERENCE.into(),
            buyer_peer_id: "B".into(),
            buyer_did: None,
            spec_hash: "h".into(),
            spec_inline: None,
            required_capabilities: vec!["c0mpute:role:infernet".into()],
            max_price_usd: 1.0,
            deadline_unix_ms: now + 60_000,
            published_at_ms: now,
        }
    }

    fn bid(who: &str, price: f64, at: i64) -> JobBid {
        JobBid {
            job_id: "j1".into(),
            bidder_peer_id: who.into(),
            bidder_did: None,
            price_usd: price,
            eta_seconds: 5,
            published_at_ms: at,
        }
    }

    #[test]
    fn the_lowest_price_wins_and_the_earliest_bid_breaks_a_tie() {
        let mut a = Auction::open(offer(0), 0, BID_WINDOW_MS, vec![]);
        a.bid(10, Some("W1"), bid("W1", 0.5, 100), 100).unwrap();
        a.bid(10, Some("W2"), bid("W2", 0.2, 300), 300).unwrap();
        a.bid(10, Some("W3"), bid("W3", 0.2, 200), 400).unwrap();
        assert_eq!(
            a.winner(BID_WINDOW_MS - 1),
            None,
            "not before the window closes"
        );
        let w = a.winner(BID_WINDOW_MS).unwrap();
        assert_eq!(w.bidder_peer_id, "W3");
        assert_eq!(a.losers("W3"), ["W1", "W2"]);
        // Re-offered without W3 (it did not deliver): W2.
        let mut again = Auction::open(offer(0), 0, 0, vec!["W3".into()]);
        again.bid(10, Some("W3"), bid("W3", 0.2, 0), 0).unwrap();
        again.bid(10, Some("W2"), bid("W2", 0.2, 1), 0).unwrap();
        assert_eq!(again.winner(0).unwrap().bidder_peer_id, "W2");
    }

    #[test]
    fn forged_late_doubled_and_overpriced_bids_are_refused() {
        let mut a = Auction::open(offer(0), 0, BID_WINDOW_MS, vec![]);
        assert!(matches!(
            a.bid(10, Some("X"), bid("W1", 0.1, 0), 0),
            Err(Refused::SourceMismatch { .. })
        ));
        assert!(
            a.bid(10, Some("W1"), bid("W1", 2.0, 0), 0).is_err(),
            "over the maximum"
        );
        a.bid(10, Some("W1"), bid("W1", 0.1, 0), 0).unwrap();
        assert!(
            a.bid(10, Some("W1"), bid("W1", 0.05, 1), 1).is_err(),
            "second bid"
        );
        assert!(
            a.bid(10, Some("W2"), bid("W2", 0.05, 9_000), 9_000)
                .is_err(),
            "after the window"
        );
        let mut other = bid("W4", 0.1, 0);
        other.job_id = "j2".into();
        assert!(a.bid(10, Some("W4"), other, 0).is_err());
        assert_eq!(a.winner(BID_WINDOW_MS).unwrap().bidder_peer_id, "W1");
    }

    fn terms() -> Terms {
        Terms {
            me: "W".into(),
            tags: vec!["c0mpute:role:infernet".into()],
            models: vec!["m".into()],
            price_usd: 0.1,
            eta_seconds: 3,
        }
    }

    #[test]
    fn a_worker_bids_only_on_offers_it_can_serve() {
        let mut w = Worker::default();
        let t = terms();
        let b = w
            .consider(10, Some("B"), &offer(0), Some("m"), &t, 0)
            .unwrap();
        assert_eq!((b.price_usd, b.bidder_peer_id.as_str()), (0.1, "W"));
        let no = |w: &mut Worker, o: &JobOffer, src: &str, model: Option<&str>, now: i64| {
            w.consider(10, Some(src), o, model, &t, now)
                .unwrap_err()
                .to_string()
        };
        assert!(no(&mut w, &offer(0), "X", Some("m"), 0).contains("sent by X"));
        assert!(no(&mut w, &offer(0), "B", Some("other"), 0).contains("does not serve"));
        let mut cheap = offer(0);
        cheap.max_price_usd = 0.01;
        assert!(no(&mut w, &cheap, "B", Some("m"), 0).contains("over the offer"));
        let mut gpu = offer(0);
        gpu.required_capabilities.push("c0mpute:gpu:nvidia".into());
        assert!(no(&mut w, &gpu, "B", Some("m"), 0).contains("lacks the capability"));
        let late = offer(0);
        assert!(no(&mut w, &late, "B", Some("m"), 6 * 60_000).contains("older than 5 min"));
        let mut past = offer(0);
        past.deadline_unix_ms = 0;
        assert!(no(&mut w, &past, "B", Some("m"), 1_000).contains("s ago"));
        let mut own = offer(0);
        own.buyer_peer_id = "W".into();
        assert!(no(&mut w, &own, "W", Some("m"), 0).contains("our own"));
    }

    #[test]
    fn a_flood_of_offers_from_one_peer_is_cut_off_and_others_still_served() {
        let mut w = Worker::default();
        let t = terms();
        let answered = (0..100)
            .filter(|_| {
                w.consider(10, Some("B"), &offer(0), Some("m"), &t, 0)
                    .is_ok()
            })
            .count();
        assert_eq!(answered, OFFERS_PER_MINUTE as usize);
        let err = w
            .consider(10, Some("B"), &offer(0), Some("m"), &t, 0)
            .unwrap_err();
        assert!(err.to_string().contains("too many offers"), "{err}");
        let mut other = offer(0);
        other.buyer_peer_id = "C".into();
        assert!(w.consider(10, Some("C"), &other, Some("m"), &t, 0).is_ok());
        // A minute on, B's burst is back.
        assert!(
            w.consider(10, Some("B"), &offer(60_000), Some("m"), &t, 60_000)
                .is_ok()
        );
    }
}
