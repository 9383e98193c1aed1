//! The node tier's signed-request envelope, `X-Infernet-Auth` v1 (reference infernet-protocol
//! §5.1), so this node can join a compatible control plane and theirs can join ours:
//! base64url (no padding) of `{"v":1,"pubkey","created_at","nonce","sig"}`, where `sig` is a
//! BIP-340 Schnorr signature over SHA-256 of
//! `METHOD \n path?query \n created_at \n nonce \n sha256hex(body)`.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k256::schnorr::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "x-infernet-auth";
/// Allowed clock difference between signer and verifier, seconds.
pub const WINDOW_S: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Envelope {
    v: u8,
    pubkey: String,
    created_at: i64,
    nonce: String,
    sig: String,
}

/// Why a request's signature was refused (the text goes into the 401 body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing x-infernet-auth header")]
    Missing,
    #[error("malformed x-infernet-auth: {0}")]
    Malformed(String),
    #[error("unsupported x-infernet-auth version {0}")]
    Version(u8),
    #[error("stale request: created_at is {0} s away from the server's clock (window 60 s)")]
    Stale(i64),
    #[error("bad signature")]
    BadSignature,
    #[error("replayed nonce")]
    Replayed,
}

/// A verified request's signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// x-only public key, 64 lowercase hex.
    pub pubkey: String,
    pub nonce: String,
    pub created_at: i64,
}

/// The string that is hashed and signed.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    created_at: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        created_at,
        nonce,
        hex(&Sha256::digest(body))
    )
}

fn hex(b: &[u8]) -> String {
    alloy::hex::encode(b)
}

/// Hex to bytes (`0x` allowed); `None` when it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    alloy::hex::decode(s.trim()).ok()
}

fn random32() -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out
}

/// The x-only public key of a 32-byte secret key.
pub fn public_key(secret: &[u8]) -> Result<String, String> {
    let k = SigningKey::from_bytes(secret)
        .map_err(|_| "not a valid secp256k1 secret key".to_string())?;
    Ok(hex(&k.verifying_key().to_bytes()))
}

/// Signs with explicit nonce and auxiliary randomness (tests); `sign` draws both.
pub fn sign_with(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    body: &[u8],
    created_at: i64,
    nonce: &str,
    aux: &[u8; 32],
) -> Result<String, String> {
    let k = SigningKey::from_bytes(secret)
        .map_err(|_| "not a valid secp256k1 secret key".to_string())?;
    let digest: [u8; 32] =
        Sha256::digest(canonical(method, path_and_query, created_at, nonce, body)).into();
    let sig = k
        .sign_prehash_with_aux_rand(&digest, aux)
        .map_err(|e| format!("signing failed: {e}"))?;
    let env = Envelope {
        v: 1,
        pubkey: hex(&k.verifying_key().to_bytes()),
        created_at,
        nonce: nonce.to_string(),
        sig: hex(&sig.to_bytes()),
    };
    let json = serde_json::to_vec(&env).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The header value for a request, signed now with a fresh nonce.
pub fn sign(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_s: i64,
) -> Result<String, String> {
    let nonce = hex(&random32()[..16]);
    sign_with(
        secret,
        method,
        path_and_query,
        body,
        now_s,
        &nonce,
        &random32(),
    )
}

/// Checks a header value in the server's order: structure, version, clock window, signature.
/// Nonce replay is the caller's (it owns the cache).
pub fn verify(
    header: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now_s: i64,
) -> Result<Verified, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let raw = URL_SAFE_NO_PAD
        .decode(header.trim().trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("not base64url".into()))?;
    let env: Envelope =
        serde_json::from_slice(&raw).map_err(|e| AuthError::Malformed(e.to_string()))?;
    if env.v != 1 {
        return Err(AuthError::Version(env.v));
    }
    let skew = now_s - env.created_at;
    if skew.abs() > WINDOW_S {
        return Err(AuthError::Stale(skew));
    }
    let pk = unhex(&env.pubkey)
        .filter(|b| b.len() == 32)
        .ok_or_else(|| AuthError::Malformed("pubkey is not 64 hex characters".into()))?;
    let key = VerifyingKey::from_bytes(&pk)
        .map_err(|_| AuthError::Malformed("pubkey is not a curve point".into()))?;
    let sig = unhex(&env.sig)
        .and_then(|b| Signature::try_from(b.as_slice()).ok())
        .ok_or_else(|| AuthError::Malformed("sig is not 128 hex characters".into()))?;
    if env.nonce.len() != 32 || unhex(&env.nonce).is_none() {
        return Err(AuthError::Malformed(
            "nonce is not 32 hex characters".into(),
        ));
    }
    let digest: [u8; 32] = Sha256::digest(canonical(
        method,
        path_and_query,
        env.created_at,
        &env.nonce,
        body,
    ))
    .into();
    use k256::schnorr::signature::hazmat::PrehashVerifier;
    key.verify_prehash(&digest, &sig)
        .map_err(|_| AuthError::BadSignature)?;
    Ok(Verified {
        pubkey: env.pubkey.to_ascii_lowercase(),
        nonce: env.nonce,
        created_at: env.created_at,
    })
}

/// What a dashboard login link's signature covers: a fixed domain (so no request signature
/// can be replayed as a login), the key, the expiry and a one-time nonce.
fn login_message(pubkey: &str, exp_s: i64, nonce: &str) -> [u8; 32] {
    Sha256::digest(format!(
        "infernet-dashboard-login-v1\n{pubkey}\n{exp_s}\n{nonce}"
    ))
    .into()
}

/// A one-time dashboard login, signed by a node key (`infernet dashboard login`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLink {
    pub pubkey: String,
    pub exp_s: i64,
    pub nonce: String,
    pub sig: String,
}

impl LoginLink {
    pub fn sign(secret: &[u8], exp_s: i64) -> Result<LoginLink, String> {
        let k = SigningKey::from_bytes(secret)
            .map_err(|_| "not a valid secp256k1 secret key".to_string())?;
        let pubkey = hex(&k.verifying_key().to_bytes());
        let nonce = hex(&random32()[..16]);
        let sig = k
            .sign_prehash_with_aux_rand(&login_message(&pubkey, exp_s, &nonce), &random32())
            .map_err(|e| format!("signing failed: {e}"))?;
        Ok(LoginLink {
            pubkey,
            exp_s,
            nonce,
            sig: hex(&sig.to_bytes()),
        })
    }

    /// The link's query string.
    pub fn query(&self) -> String {
        format!(
            "key={}&exp={}&nonce={}&sig={}",
            self.pubkey, self.exp_s, self.nonce, self.sig
        )
    }

    /// Checks the signature and that `now_s` is before the expiry, which is at most
    /// `max_ttl_s` away (a link cannot be made to last). The nonce's single use is the
    /// caller's.
    pub fn verify(&self, now_s: i64, max_ttl_s: i64) -> Result<(), AuthError> {
        if now_s >= self.exp_s {
            return Err(AuthError::Stale(now_s - self.exp_s));
        }
        if self.exp_s - now_s > max_ttl_s {
            return Err(AuthError::Malformed(format!(
                "the link lasts longer than {max_ttl_s} s"
            )));
        }
        let pk = unhex(&self.pubkey)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| AuthError::Malformed("key is not 64 hex characters".into()))?;
        let key = VerifyingKey::from_bytes(&pk)
            .map_err(|_| AuthError::Malformed("key is not a curve point".into()))?;
        if self.nonce.len() != 32 || unhex(&self.nonce).is_none() {
            return Err(AuthError::Malformed(
                "nonce is not 32 hex characters".into(),
            ));
        }
        let sig = unhex(&self.sig)
            .and_then(|b| Signature::try_from(b.as_slice()).ok())
            .ok_or_else(|| AuthError::Malformed("sig is not 128 hex characters".into()))?;
        use k256::schnorr::signature::hazmat::PrehashVerifier;
        key.verify_prehash(
            &login_message(&self.pubkey.to_ascii_lowercase(), self.exp_s, &self.nonce),
            &sig,
        )
        .map_err(|_| AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: [u8; 32] = {
        let mut k = [0u8; 32];
        k[31] = 3;
        k
    };

    #[test]
    fn bip340_vector_zero_signs_as_the_spec_says() {
        // BIP-340 test vector 0: secret key 3, zero aux randomness, zero message.
        let k = SigningKey::from_bytes(&SK).unwrap();
        assert_eq!(
            hex(&k.verifying_key().to_bytes()),
            "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
        );
        let sig = k
            .sign_prehash_with_aux_rand(&[0u8; 32], &[0u8; 32])
            .unwrap();
        assert_eq!(
            hex(&sig.to_bytes()),
            "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0"
        );
    }

    #[test]
    fn envelope_round_trips_and_each_tampering_is_refused() {
        let body = br#"{"status":"available"}"#;
        let now = 1_800_000_000;
        let h = sign(&SK, "post", "/api/v1/node/heartbeat?x=1", body, now).unwrap();
        let v = verify(
            Some(&h),
            "POST",
            "/api/v1/node/heartbeat?x=1",
            body,
            now + 5,
        )
        .unwrap();
        assert_eq!(v.pubkey, public_key(&SK).unwrap());
        assert_eq!(v.nonce.len(), 32);
        // The wire shape: base64url without padding of the JSON envelope.
        let raw: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&h).unwrap()).unwrap();
        assert_eq!(raw["v"], 1);
        assert_eq!(raw["sig"].as_str().unwrap().len(), 128);
        assert!(!h.contains('=') && !h.contains('+') && !h.contains('/'));
        let p = "/api/v1/node/heartbeat?x=1";
        assert_eq!(
            verify(Some(&h), "POST", p, b"{}", now),
            Err(AuthError::BadSignature),
            "body"
        );
        assert_eq!(
            verify(Some(&h), "POST", "/api/v1/node/heartbeat?x=2", body, now),
            Err(AuthError::BadSignature),
            "query"
        );
        assert_eq!(
            verify(Some(&h), "PUT", p, body, now),
            Err(AuthError::BadSignature),
            "method"
        );
        assert_eq!(
            verify(Some(&h), "POST", p, body, now + 61),
            Err(AuthError::Stale(61))
        );
        assert_eq!(
            verify(Some(&h), "POST", p, body, now - 61),
            Err(AuthError::Stale(-61))
        );
        assert_eq!(verify(None, "POST", p, body, now), Err(AuthError::Missing));
        assert!(matches!(
            verify(Some("%%%"), "POST", p, body, now),
            Err(AuthError::Malformed(_))
        ));
        // Another key's signature under this pubkey.
        let mut other = SK;
        other[31] = 5;
        let forged = sign_with(&other, "POST", p, body, now, &"ab".repeat(16), &[0; 32]).unwrap();
        let mut env: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&forged).unwrap()).unwrap();
        env["pubkey"] = serde_json::json!(public_key(&SK).unwrap());
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&env).unwrap());
        assert_eq!(
            verify(Some(&forged), "POST", p, body, now),
            Err(AuthError::BadSignature)
        );
        env["v"] = serde_json::json!(2);
        let v2 = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&env).unwrap());
        assert_eq!(
            verify(Some(&v2), "POST", p, body, now),
            Err(AuthError::Version(2))
        );
    }

    #[test]
    fn the_node_identity_signs_under_the_public_key_init_prints() {
        // Anvil key #0 (also used in identity::node_key's test): the same x-only key both ways.
        let sk = unhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80").unwrap();
        assert_eq!(
            public_key(&sk).unwrap(),
            "8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75"
        );
    }

    #[test]
    fn canonical_string_is_the_documented_one() {
        assert_eq!(
            canonical("post", "/a?b=c", 7, "00", b""),
            "POST\n/a?b=c\n7\n00\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_login_link_verifies_once_signed_and_not_after_a_change() {
        let l = LoginLink::sign(&SK, 1_000).unwrap();
        assert_eq!(l.pubkey, public_key(&SK).unwrap());
        assert_eq!(l.verify(900, 600), Ok(()));
        // Expired, or made to last too long.
        assert!(matches!(l.verify(1_000, 600), Err(AuthError::Stale(0))));
        assert!(matches!(l.verify(100, 600), Err(AuthError::Malformed(_))));
        // Any field changed breaks the signature.
        let longer = LoginLink {
            exp_s: 1_001,
            ..l.clone()
        };
        assert_eq!(longer.verify(900, 600), Err(AuthError::BadSignature));
        let other = LoginLink::sign(&[7u8; 32], 1_000).unwrap();
        let swapped = LoginLink {
            pubkey: other.pubkey,
            ..l.clone()
        };
        assert_eq!(swapped.verify(900, 600), Err(AuthError::BadSignature));
        assert!(
            l.query()
                .starts_with(&format!("key={}&exp=1000&nonce=", l.pubkey))
        );
    }
}
