//! c0mpute's wire: libp2p protocol ids, gossipsub topics and the JSON messages on them, with
//! c0mpute's field names, so a c0mpute peer and ours read each other.
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kademlia's protocol id.
pub const KAD_PROTOCOL: &str = "/c0mpute/kad/1.0.0";
/// Identify's protocol version string.
pub const ID_PROTOCOL: &str = "/c0mpute/id/1.0.0";
/// Capability ads.
pub const TOPIC_CAP: &str = "c0mpute/cap/v1";
/// Liveness beats.
pub const TOPIC_HEARTBEAT: &str = "c0mpute/heartbeat/v1";
/// The workload this node serves.
pub const WORKLOAD_INFERENCE: &str = "infernet.inference";
/// The tag every infernet node puts in its ads.
pub const ROLE_TAG: &str = "c0mpute:role:infernet";
/// Ads older than this are ignored; offers older than this are refused.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// A message claiming a time further ahead than this is refused (clock skew allowed).
pub const MAX_SKEW_MS: i64 = 60 * 1000;
/// The largest gossip message read.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The job topic of a workload: `c0mpute/jobs/<workload_type>`.
pub fn jobs_topic(workload: &str) -> String {
    format!("c0mpute/jobs/{workload}")
}

/// `c0mpute:gpu:<class>` (`nvidia`, `amd`, `apple`, `none`).
pub fn gpu_tag(class: &str) -> String {
    format!("c0mpute:gpu:{class}")
}

/// `infernet:model:<name>`: one per model the node serves.
pub fn model_tag(model: &str) -> String {
    format!("infernet:model:{model}")
}

/// `c0mpute/cap/v1`: what a peer offers. `hardware` is free-form JSON (ours: models, GPU,
/// price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityAd {
    pub peer_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub hardware: Value,
    pub published_at_ms: i64,
}

impl CapabilityAd {
    /// The models the ad names (`infernet:model:` tags).
    pub fn models(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("infernet:model:"))
            .map(str::to_string)
            .collect()
    }

    /// The GPU class the ad names (`c0mpute:gpu:` tag).
    pub fn gpu(&self) -> Option<String> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix("c0mpute:gpu:"))
            .map(str::to_string)
    }
}

/// `c0mpute/heartbeat/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub peer_id: String,
    pub published_at_ms: i64,
}

/// A buyer's offer on `c0mpute/jobs/<workload_type>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOffer {
    pub job_id: String,
    pub workload_type: String,
    pub buyer_peer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_did: Option<String>,
    /// blake3 of the spec, hex.
    pub spec_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_inline: Option<Value>,
    #[serde(default)]
    pub required_capabilities: Vec<String>,
    pub max_price_usd: f64,
    pub deadline_unix_ms: i64,
    pub published_at_ms: i64,
}

/// A worker's bid for an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobBid {
    pub job_id: String,
    pub bidder_peer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bidder_did: Option<String>,
    pub price_usd: f64,
    pub eta_seconds: u64,
    pub published_at_ms: i64,
}

/// The buyer's choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobAccept {
    pub job_id: String,
    pub buyer_peer_id: String,
    pub winning_bidder_peer_id: String,
    pub agreed_price_usd: f64,
    pub workload_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_inline: Option<Value>,
    pub published_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    Completed,
    Failed,
    Timeout,
}

/// The worker's signed account of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReceipt {
    pub job_id: String,
    pub worker_peer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_did: Option<String>,
    pub buyer_peer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hash: Option<String>,
    pub status: ReceiptStatus,
    pub completed_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// A message on a job topic: c0mpute tells them apart by their fields, so do we (the first
/// field set that reads wins; an offer has `spec_hash`, a bid `bidder_peer_id`, an accept
/// `winning_bidder_peer_id`, a receipt `worker_peer_id`).
#[derive(Debug, Clone, PartialEq)]
pub enum JobMessage {
    Offer(JobOffer),
    Bid(JobBid),
    Accept(JobAccept),
    Receipt(JobReceipt),
}

impl JobMessage {
    pub fn parse(bytes: &[u8]) -> Option<JobMessage> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let has = |k: &str| v.get(k).is_some();
        if has("winning_bidder_peer_id") {
            serde_json::from_value(v).ok().map(JobMessage::Accept)
        } else if has("bidder_peer_id") {
            serde_json::from_value(v).ok().map(JobMessage::Bid)
        } else if has("worker_peer_id") {
            serde_json::from_value(v).ok().map(JobMessage::Receipt)
        } else if has("spec_hash") {
            serde_json::from_value(v).ok().map(JobMessage::Offer)
        } else {
            None
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let v = match self {
            JobMessage::Offer(m) => serde_json::to_vec(m),
            JobMessage::Bid(m) => serde_json::to_vec(m),
            JobMessage::Accept(m) => serde_json::to_vec(m),
            JobMessage::Receipt(m) => serde_json::to_vec(m),
        };
        v.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_ad_reads_as_c0mpute_writes_it_and_names_models_and_gpu() {
        let wire = json!({"peer_id": "16Uiu2abc", "tags": ["c0mpute:role:infernet", "c0mpute:gpu:nvidia",
                          "infernet:model:qwen2.5:0.5b"], "hardware": {"gpu": "RTX 4090"},
                          "published_at_ms": 1_700_000_000_000i64});
        let ad: CapabilityAd = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(ad.models(), ["qwen2.5:0.5b"]);
        assert_eq!(ad.gpu().as_deref(), Some("nvidia"));
        assert_eq!(serde_json::to_value(&ad).unwrap(), wire);
        // A c0mpute ad with only the required fields reads too.
        let bare: CapabilityAd =
            serde_json::from_value(json!({"peer_id": "p", "published_at_ms": 1})).unwrap();
        assert!(bare.models().is_empty() && bare.gpu().is_none());
    }

    #[test]
    fn job_messages_are_told_apart_by_their_fields() {
        let offer = JobOffer {
            job_id: "j".into(),
            workload_type: WORKLOAD_INFERENCE.into(),
            buyer_peer_id: "b".into(),
            buyer_did: None,
            spec_hash: "00".into(),
            spec_inline: Some(json!({"model": "m"})),
            required_capabilities: vec![ROLE_TAG.into()],
            max_price_usd: 0.5,
            deadline_unix_ms: 10,
            published_at_ms: 1,
        };
        let bid = JobBid {
            job_id: "j".into(),
            bidder_peer_id: "w".into(),
            bidder_did: None,
            price_usd: 0.1,
            eta_seconds: 3,
            published_at_ms: 2,
        };
        let accept = JobAccept {
            job_id: "j".into(),
            buyer_peer_id: "b".into(),
            winning_bidder_peer_id: "w".into(),
            agreed_price_usd: 0.1,
            workload_type: WORKLOAD_INFERENCE.into(),
            spec_inline: None,
            published_at_ms: 3,
        };
        let receipt = JobReceipt {
            job_id: "j".into(),
            worker_peer_id: "w".into(),
            worker_did: None,
            buyer_peer_id: "b".into(),
            output_hash: Some("ab".into()),
            status: ReceiptStatus::Completed,
            completed_at_ms: 4,
            signature: None,
        };
        for m in [
            JobMessage::Offer(offer),
            JobMessage::Bid(bid),
            JobMessage::Accept(accept),
            JobMessage::Receipt(receipt),
        ] {
            assert_eq!(JobMessage::parse(&m.to_bytes()), Some(m));
        }
        assert_eq!(JobMessage::parse(b"{\"x\":1}"), None);
        assert_eq!(JobMessage::parse(b"not json"), None);
        let r = serde_json::to_value(ReceiptStatus::Timeout).unwrap();
        assert_eq!(r, json!("timeout"));
        assert_eq!(
            jobs_topic(WORKLOAD_INFERENCE),
            "c0mpute/jobs/infernet.inference"
        );
    }
}
