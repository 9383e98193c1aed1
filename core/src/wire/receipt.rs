//! A signed job receipt: the reference's CPR fields (§8.2), signed by the control plane's own
//! key (the reference never signs its receipts). `GET /api/v1/receipts/:id`; the key is in
//! `GET /.well-known/did.json`.
use serde::{Deserialize, Serialize};

/// The proof's `type`: BIP-340 Schnorr over SHA-256 of the receipt without `proof`, as JSON
/// with sorted keys and no spaces.
pub const PROOF_TYPE: &str = "BIP340-secp256k1-sha256-sorted-json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub receipt_id: String,
    pub task_id: String,
    /// `did:nostr:<node pubkey>`.
    pub agent_did: String,
    /// `did:web:<host>:anon:<job id>` (no client keys yet).
    pub buyer_did: String,
    /// `did:web:<host>`.
    pub platform_did: String,
    /// `inference:chat`.
    pub category: String,
    /// USD, as a decimal string; `0` when the node set no price.
    pub amount: String,
    pub currency: String,
    pub escrow_tx: Option<String>,
    pub sla: Option<String>,
    /// `accepted` (completed) or `rejected` (failed).
    pub outcome: String,
    pub dispute: bool,
    /// `sha256:` + hex of the delivered text.
    pub artifact_hash: String,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    #[serde(rename = "type")]
    pub kind: String,
    /// `did:web:<host>#receipts`.
    pub verification_method: String,
    /// Hex of the 64-byte signature.
    pub signature: String,
}
