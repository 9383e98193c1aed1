//! The peer table: who is out there, from their capability ads, with c0mpute's trust rules
//! (the gossip source must be the peer the ad names; ads older than 5 min, from the future,
//! or oversized are refused). Pure: the driver passes the source, the bytes and `now`.
use super::wire::{CapabilityAd, Heartbeat, MAX_AGE_MS, MAX_MESSAGE_BYTES, MAX_SKEW_MS};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    Oversized(usize),
    #[error("not a valid message: {0}")]
    Malformed(String),
    #[error("sent by {from} but names {claimed}")]
    SourceMismatch { from: String, claimed: String },
    #[error("published {age_s} s ago (older than 5 min)")]
    Expired { age_s: i64 },
    #[error("published {ahead_s} s in the future")]
    FromTheFuture { ahead_s: i64 },
}

impl Refused {
    /// A forged, stale or oversized message: what a misbehaving peer sends, counted and
    /// logged as a refusal (other refusals, such as a model not served, are routine).
    pub fn is_abuse(&self) -> bool {
        matches!(
            self,
            Refused::Oversized(_)
                | Refused::SourceMismatch { .. }
                | Refused::Expired { .. }
                | Refused::FromTheFuture { .. }
        )
    }
}

/// One peer as the table knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerEntry {
    pub peer_id: String,
    pub tags: Vec<String>,
    pub models: Vec<String>,
    pub gpu: Option<String>,
    pub hardware: serde_json::Value,
    /// When its latest ad was published (its clock) and received (ours).
    pub ad_published_ms: i64,
    pub ad_received_ms: i64,
    /// When we last heard from it: its latest ad or heartbeat (our clock).
    pub last_seen_ms: i64,
    pub bids_won: u64,
    pub bids_lost: u64,
}

/// Checks a message's size, its claimed sender against the gossip source, and its age.
pub fn admit(
    size: usize,
    source: Option<&str>,
    claimed: &str,
    published_ms: i64,
    now_ms: i64,
) -> Result<(), Refused> {
    if size > MAX_MESSAGE_BYTES {
        return Err(Refused::Oversized(size));
    }
    match source {
        Some(s) if s == claimed => {}
        other => {
            return Err(Refused::SourceMismatch {
                from: other.unwrap_or("an unsigned message").to_string(),
                claimed: claimed.to_string(),
            });
        }
    }
    if now_ms - published_ms > MAX_AGE_MS {
        return Err(Refused::Expired {
            age_s: (now_ms - published_ms) / 1000,
        });
    }
    if published_ms - now_ms > MAX_SKEW_MS {
        return Err(Refused::FromTheFuture {
            ahead_s: (published_ms - now_ms) / 1000,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct PeerTable {
    peers: BTreeMap<String, PeerEntry>,
}

impl PeerTable {
    /// An ad's bytes as received from `source` (the gossip author, `None` when unsigned).
    /// Returns the ad taken; a newer ad of the same peer replaces the older one, an older
    /// one (reordered gossip) is ignored.
    pub fn ad(
        &mut self,
        source: Option<&str>,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<CapabilityAd, Refused> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(Refused::Oversized(bytes.len()));
        }
        let ad: CapabilityAd =
            serde_json::from_slice(bytes).map_err(|e| Refused::Malformed(e.to_string()))?;
        admit(bytes.len(), source, &ad.peer_id, ad.published_at_ms, now_ms)?;
        let e = self
            .peers
            .entry(ad.peer_id.clone())
            .or_insert_with(|| PeerEntry {
                peer_id: ad.peer_id.clone(),
                tags: Vec::new(),
                models: Vec::new(),
                gpu: None,
                hardware: serde_json::Value::Null,
                ad_published_ms: i64::MIN,
                ad_received_ms: now_ms,
                last_seen_ms: now_ms,
                bids_won: 0,
                bids_lost: 0,
            });
        if ad.published_at_ms >= e.ad_published_ms {
            e.tags = ad.tags.clone();
            e.models = ad.models();
            e.gpu = ad.gpu();
            e.hardware = ad.hardware.clone();
            e.ad_published_ms = ad.published_at_ms;
            e.ad_received_ms = now_ms;
        }
        e.last_seen_ms = now_ms;
        Ok(ad)
    }

    /// A `c0mpute/heartbeat/v1` beat as received from `source`: the peer it names is seen now.
    /// True when that peer is in the table (a beat alone says nothing of what a peer serves,
    /// so an unknown one is not added). The same trust rules as ads; a beat that does not
    /// read as `{peer_id, published_at_ms}` is `Malformed` (c0mpute does not fix the shape,
    /// so callers take that as routine, not abuse).
    pub fn beat(
        &mut self,
        source: Option<&str>,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<bool, Refused> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(Refused::Oversized(bytes.len()));
        }
        let b: Heartbeat =
            serde_json::from_slice(bytes).map_err(|e| Refused::Malformed(e.to_string()))?;
        admit(bytes.len(), source, &b.peer_id, b.published_at_ms, now_ms)?;
        Ok(match self.peers.get_mut(&b.peer_id) {
            Some(e) => {
                e.last_seen_ms = now_ms;
                true
            }
            None => false,
        })
    }

    /// A bid of `peer` won or lost (the buyer's view).
    pub fn bid_outcome(&mut self, peer: &str, won: bool) {
        if let Some(e) = self.peers.get_mut(peer) {
            if won {
                e.bids_won += 1;
            } else {
                e.bids_lost += 1;
            }
        }
    }

    /// Peers whose latest ad is at most 5 min old, by id; older ones are forgotten.
    pub fn live(&mut self, now_ms: i64) -> Vec<PeerEntry> {
        self.peers
            .retain(|_, e| now_ms - e.ad_received_ms <= MAX_AGE_MS);
        self.peers.values().cloned().collect()
    }

    /// Live peers that serve `model` (any model when `None`).
    pub fn serving(&mut self, model: Option<&str>, now_ms: i64) -> Vec<PeerEntry> {
        self.live(now_ms)
            .into_iter()
            .filter(|e| model.is_none_or(|m| e.models.iter().any(|x| x == m)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ad(peer: &str, at: i64, models: &[&str]) -> Vec<u8> {
        let mut tags = vec![
            "c0mpute:role:infernet".to_string(),
            "c0mpute:gpu:none".into(),
        ];
        tags.extend(models.iter().map(|m| format!("infernet:model:{m}")));
        serde_json::to_vec(&json!({"peer_id": peer, "tags": tags, "hardware": {},
                                   "published_at_ms": at}))
        .unwrap()
    }

    #[test]
    fn an_ad_from_its_own_peer_is_taken_and_a_newer_one_replaces_it() {
        let mut t = PeerTable::default();
        t.ad(Some("A"), &ad("A", 1_000, &["m1"]), 1_000).unwrap();
        assert_eq!(t.live(1_000)[0].models, ["m1"]);
        t.ad(Some("A"), &ad("A", 2_000, &["m2"]), 2_000).unwrap();
        // Reordered gossip: the older ad arrives last and changes nothing.
        t.ad(Some("A"), &ad("A", 1_500, &["old"]), 2_100).unwrap();
        let live = t.live(2_100);
        assert_eq!(
            (live.len(), live[0].models.clone()),
            (1, vec!["m2".to_string()])
        );
        assert_eq!(live[0].gpu.as_deref(), Some("none"));
        assert_eq!(t.serving(Some("m2"), 2_100).len(), 1);
        assert!(t.serving(Some("m1"), 2_100).is_empty());
    }

    #[test]
    fn forged_stale_future_oversized_and_malformed_ads_are_refused() {
        let mut t = PeerTable::default();
        let now = 10 * 60 * 1000;
        assert_eq!(
            t.ad(Some("B"), &ad("A", now, &[]), now),
            Err(Refused::SourceMismatch {
                from: "B".into(),
                claimed: "A".into()
            })
        );
        assert!(matches!(
            t.ad(None, &ad("A", now, &[]), now),
            Err(Refused::SourceMismatch { .. })
        ));
        assert_eq!(
            t.ad(Some("A"), &ad("A", now - MAX_AGE_MS - 1_000, &[]), now),
            Err(Refused::Expired { age_s: 301 })
        );
        assert_eq!(
            t.ad(Some("A"), &ad("A", now + 120_000, &[]), now),
            Err(Refused::FromTheFuture { ahead_s: 120 })
        );
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            t.ad(Some("A"), &big, now),
            Err(Refused::Oversized(MAX_MESSAGE_BYTES + 1))
        );
        assert!(matches!(
            t.ad(Some("A"), b"{", now),
            Err(Refused::Malformed(_))
        ));
        assert!(t.live(now).is_empty(), "nothing refused was taken");
        // Forged, stale and oversized messages are abuse (counted and logged as refused);
        // one that does not read may be a peer's newer version: not.
        for r in [
            Refused::Oversized(1),
            Refused::SourceMismatch {
                from: "B".into(),
                claimed: "A".into(),
            },
            Refused::Expired { age_s: 301 },
            Refused::FromTheFuture { ahead_s: 120 },
        ] {
            assert!(r.is_abuse(), "{r}");
        }
        assert!(!Refused::Malformed("x".into()).is_abuse());
    }

    #[test]
    fn a_beat_from_a_known_peer_marks_it_seen_and_forged_ones_are_refused() {
        let beat = |peer: &str, at: i64| {
            serde_json::to_vec(&json!({"peer_id": peer, "published_at_ms": at})).unwrap()
        };
        let mut t = PeerTable::default();
        t.ad(Some("A"), &ad("A", 1_000, &["m"]), 1_000).unwrap();
        assert_eq!(t.beat(Some("A"), &beat("A", 5_000), 5_000), Ok(true));
        let e = &t.live(5_000)[0];
        assert_eq!((e.ad_received_ms, e.last_seen_ms), (1_000, 5_000));
        // A peer without an ad is not added by its beats.
        assert_eq!(t.beat(Some("B"), &beat("B", 5_000), 5_000), Ok(false));
        assert_eq!(t.live(5_000).len(), 1);
        // In another's name, or stale: refused, and nothing changes.
        assert!(matches!(
            t.beat(Some("B"), &beat("A", 6_000), 6_000),
            Err(Refused::SourceMismatch { .. })
        ));
        assert!(matches!(
            t.beat(Some("A"), &beat("A", 0), MAX_AGE_MS + 1_000),
            Err(Refused::Expired { .. })
        ));
        assert_eq!(t.live(6_000)[0].last_seen_ms, 5_000);
        // Another shape: not read, and not abuse.
        let other = t.beat(Some("A"), br#"{"seq": 1}"#, 6_000).unwrap_err();
        assert!(!other.is_abuse(), "{other}");
    }

    #[test]
    fn a_peer_silent_for_five_minutes_is_forgotten_and_bids_are_counted() {
        let mut t = PeerTable::default();
        t.ad(Some("A"), &ad("A", 0, &["m"]), 0).unwrap();
        t.bid_outcome("A", true);
        t.bid_outcome("A", false);
        t.bid_outcome("nobody", true);
        let e = &t.live(MAX_AGE_MS)[0];
        assert_eq!((e.bids_won, e.bids_lost), (1, 1));
        assert!(t.live(MAX_AGE_MS + 1).is_empty());
    }
}
