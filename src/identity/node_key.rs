//! The node identity: a secp256k1 key whose BIP-340 x-only public key (64 hex) names this
//! node to a control plane. The private half lives in the keyring (or the 0600 fallback file)
//! and is never printed.
use super::{Location, Secrets};
use crate::identity::Secret;
use alloy::signers::local::PrivateKeySigner;

/// Secret names shared with `infernet secret`, the wizard and the node.
pub const NODE_IDENTITY: &str = "node.identity";
pub const CHAIN_KEY: &str = "chain.wallet.private_key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// BIP-340 x-only public key, 64 lowercase hex characters.
    pub public_key: String,
    pub location: Location,
    /// Whether this call created it.
    pub created: bool,
}

/// A secp256k1 private key as hex (with or without `0x`): the node identity and the wallet key.
pub fn parse_key(text: &str) -> Result<PrivateKeySigner, String> {
    let t = text.trim();
    t.strip_prefix("0x")
        .unwrap_or(t)
        .parse::<PrivateKeySigner>()
        .map_err(|_| "not a valid secp256k1 private key (expected 64 hex digits)".to_string())
}

/// x-only public key of a signer (the x coordinate of its point).
pub fn x_only(signer: &PrivateKeySigner) -> String {
    let point = signer.credential().verifying_key().to_encoded_point(true);
    alloy::hex::encode(&point.as_bytes()[1..])
}

/// The stored identity, if any.
pub fn load(secrets: &Secrets) -> Result<Option<Identity>, String> {
    match secrets
        .get(NODE_IDENTITY)
        .map_err(|e| format!("cannot read the node identity: {e}"))?
    {
        None => Ok(None),
        Some((s, location)) => {
            let signer = parse_key(s.expose())
                .map_err(|e| format!("the stored node identity is unusable: {e}"))?;
            Ok(Some(Identity {
                public_key: x_only(&signer),
                location,
                created: false,
            }))
        }
    }
}

/// Keeps the stored identity, or creates one (`force` replaces it).
pub fn ensure(secrets: &Secrets, force: bool) -> Result<Identity, String> {
    if !force && let Some(id) = load(secrets)? {
        return Ok(id);
    }
    let signer = PrivateKeySigner::random();
    let hex = format!("0x{}", alloy::hex::encode(signer.to_bytes()));
    let location = secrets
        .set(NODE_IDENTITY, &Secret::new(hex))
        .map_err(|e| format!("cannot store the node identity: {e}"))?;
    Ok(Identity {
        public_key: x_only(&signer),
        location,
        created: true,
    })
}

/// The chain wallet: its address and where the key is, if one is stored.
pub fn wallet(secrets: &Secrets) -> Result<Option<(String, Location)>, String> {
    match secrets
        .get(CHAIN_KEY)
        .map_err(|e| format!("cannot read the wallet key: {e}"))?
    {
        None => Ok(None),
        Some((s, loc)) => {
            let signer = parse_key(s.expose())
                .map_err(|e| format!("the stored wallet key is unusable: {e}"))?;
            Ok(Some((signer.address().to_string(), loc)))
        }
    }
}

/// Stores a wallet key (validated first); returns its address.
pub fn store_wallet(secrets: &Secrets, key: &Secret) -> Result<(String, Location), String> {
    let signer = parse_key(key.expose())?;
    let normalized = format!("0x{}", alloy::hex::encode(signer.to_bytes()));
    let loc = secrets
        .set(CHAIN_KEY, &Secret::new(normalized))
        .map_err(|e| format!("cannot store the wallet key: {e}"))?;
    Ok((signer.address().to_string(), loc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_kept_then_forced_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let s = Secrets::new(dir.path());
        assert_eq!(load(&s).unwrap(), None);
        let a = ensure(&s, false).unwrap();
        assert!(a.created);
        assert_eq!(a.public_key.len(), 64);
        assert!(
            a.public_key
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let b = ensure(&s, false).unwrap();
        assert!(!b.created);
        assert_eq!(a.public_key, b.public_key);
        let c = ensure(&s, true).unwrap();
        assert!(c.created);
        assert_ne!(a.public_key, c.public_key);
        let dbg = format!("{c:?}");
        let (secret, _) = s.get(NODE_IDENTITY).unwrap().unwrap();
        assert!(
            !dbg.contains(&secret.expose()[2..]),
            "the private key must not be in Debug"
        );
        let _ = s.remove(NODE_IDENTITY);
    }

    #[test]
    fn a_known_key_has_the_known_x_only_key_and_address() {
        // Anvil's first account: the BIP-340 x-only key is its public point's x coordinate.
        let k = Secret::new(String::from(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        ));
        let signer = parse_key(k.expose()).unwrap();
        assert_eq!(
            x_only(&signer),
            "8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75"
        );
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert!(parse_key("nope").is_err());
    }
}
