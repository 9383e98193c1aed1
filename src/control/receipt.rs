//! Signing and checking job receipts (`infernet_core::wire::receipt`): the control plane signs
//! each finished job's receipt with its own key; `infernet receipt verify` checks one against
//! the key the control plane publishes in its DID document.
use infernet_core::wire::receipt::{PROOF_TYPE, Proof, Receipt};
use k256::schnorr::signature::hazmat::PrehashVerifier;
use k256::schnorr::{Signature, SigningKey, VerifyingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt has no proof")]
    Unsigned,
    #[error("unknown proof type '{0}' (expected {PROOF_TYPE})")]
    ProofType(String),
    #[error(
        "the signature does not match the receipt: it was changed after signing, or signed by another key"
    )]
    BadSignature,
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the DID document has no key for '{0}'")]
    NoKey(String),
}

/// JSON with every object's keys sorted and no whitespace (what is signed).
pub fn sorted_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(v).to_string()
}

/// `sha256:<hex>` of the delivered text.
pub fn artifact_hash(text: &str) -> String {
    format!("sha256:{}", hex(&Sha256::digest(text.as_bytes())))
}

fn digest(r: &Receipt) -> Result<[u8; 32], ReceiptError> {
    let mut unsigned = r.clone();
    unsigned.proof = None;
    let v = serde_json::to_value(&unsigned).map_err(|_| ReceiptError::Malformed("receipt"))?;
    Ok(Sha256::digest(sorted_json(&v).as_bytes()).into())
}

fn hex(b: &[u8]) -> String {
    alloy::hex::encode(b)
}

/// Hex to bytes (`0x` allowed); `None` when it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    alloy::hex::decode(s.trim()).ok()
}

/// The control plane's receipt key.
#[derive(Clone)]
pub struct ReceiptKey(SigningKey);

impl std::fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptKey({})", self.public_hex())
    }
}

impl ReceiptKey {
    /// From the stored secret (hex, with or without `0x`).
    pub fn from_secret(hex_key: &str) -> Result<Self, ReceiptError> {
        let bytes = unhex(hex_key).ok_or(ReceiptError::Malformed("receipt key"))?;
        SigningKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| ReceiptError::Malformed("receipt key"))
    }

    /// A new random key, as the hex to store.
    pub fn generate() -> (Self, String) {
        let mut seed = [0u8; 32];
        loop {
            seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            if let Ok(k) = SigningKey::from_bytes(&seed) {
                return (Self(k), hex(&seed));
            }
        }
    }

    /// The x-only public key, hex.
    pub fn public_hex(&self) -> String {
        hex(&self.0.verifying_key().to_bytes())
    }

    /// Signs `r` in place, naming `method` (`did:web:<host>#receipts`).
    pub fn sign(&self, r: &mut Receipt, method: &str) -> Result<(), ReceiptError> {
        r.proof = None;
        let d = digest(r)?;
        let sig = self
            .0
            .sign_prehash_with_aux_rand(&d, &[0u8; 32])
            .map_err(|_| ReceiptError::Malformed("receipt key"))?;
        r.proof = Some(Proof {
            kind: PROOF_TYPE.into(),
            verification_method: method.into(),
            signature: hex(&sig.to_bytes()),
        });
        Ok(())
    }
}

/// Checks `r`'s signature against `public_hex` (x-only, 32 bytes).
pub fn verify(r: &Receipt, public_hex: &str) -> Result<(), ReceiptError> {
    let proof = r.proof.as_ref().ok_or(ReceiptError::Unsigned)?;
    if proof.kind != PROOF_TYPE {
        return Err(ReceiptError::ProofType(proof.kind.clone()));
    }
    let key = unhex(public_hex)
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or(ReceiptError::Malformed("public key"))?;
    let sig = unhex(&proof.signature)
        .and_then(|b| Signature::try_from(b.as_slice()).ok())
        .ok_or(ReceiptError::Malformed("signature"))?;
    key.verify_prehash(&digest(r)?, &sig)
        .map_err(|_| ReceiptError::BadSignature)
}

/// `did:web` of a control plane reachable at `public_url` (`:` of a port as `%3A`).
pub fn did_web(public_url: &str) -> String {
    let host = public_url
        .split("://")
        .nth(1)
        .unwrap_or(public_url)
        .trim_end_matches('/')
        .replace(':', "%3A")
        .replace('/', ":");
    format!("did:web:{host}")
}

/// The DID document published at `/.well-known/did.json`.
pub fn did_document(did: &str, public_hex: &str) -> Value {
    let method = format!("{did}#receipts");
    json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [{
            "id": method,
            "type": "SchnorrSecp256k1VerificationKey2019",
            "controller": did,
            "publicKeyHex": public_hex,
        }],
        "assertionMethod": [method],
    })
}

/// The key a DID document gives for `method`.
pub fn key_in(did_doc: &Value, method: &str) -> Result<String, ReceiptError> {
    did_doc["verificationMethod"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == method)
        .and_then(|m| m["publicKeyHex"].as_str())
        .map(String::from)
        .ok_or_else(|| ReceiptError::NoKey(method.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            receipt_id: "r1".into(),
            task_id: "job-1".into(),
            agent_did: "did:nostr:ab".into(),
            buyer_did: "did:web:cp:anon:job-1".into(),
            platform_did: "did:web:cp".into(),
            category: "inference:chat".into(),
            amount: "0".into(),
            currency: "USD".into(),
            escrow_tx: None,
            sla: None,
            outcome: "accepted".into(),
            dispute: false,
            artifact_hash: artifact_hash("Paris"),
            created_at: "2026-12-04T00:00:00Z".into(),
            proof: None,
        }
    }

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}});
        assert_eq!(
            sorted_json(&v),
            r#"{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn a_signed_receipt_verifies_and_any_change_breaks_it() {
        let (k, secret) = ReceiptKey::generate();
        let k = ReceiptKey::from_secret(&secret).map(|_| k).unwrap();
        let mut r = receipt();
        k.sign(&mut r, "did:web:cp#receipts").unwrap();
        assert_eq!(verify(&r, &k.public_hex()), Ok(()));
        // Through JSON and back (field order as another implementation might write it).
        let back: Receipt = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(verify(&back, &k.public_hex()), Ok(()));
        let mut forged = r.clone();
        forged.artifact_hash = artifact_hash("Lyon");
        assert_eq!(
            verify(&forged, &k.public_hex()),
            Err(ReceiptError::BadSignature)
        );
        let (other, _) = ReceiptKey::generate();
        assert_eq!(
            verify(&r, &other.public_hex()),
            Err(ReceiptError::BadSignature)
        );
        assert_eq!(
            verify(&receipt(), &k.public_hex()),
            Err(ReceiptError::Unsigned)
        );
    }

    #[test]
    fn the_did_document_names_the_key_a_receipt_points_at() {
        let did = did_web("http://127.0.0.1:8080/");
        assert_eq!(did, "did:web:127.0.0.1%3A8080");
        let doc = did_document(&did, "ab12");
        assert_eq!(key_in(&doc, &format!("{did}#receipts")).unwrap(), "ab12");
        assert!(key_in(&doc, "did:web:x#receipts").is_err());
        assert_eq!(
            artifact_hash(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
