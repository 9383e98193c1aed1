//! The node's libp2p identity is its node key (secp256k1): the same key signs control-plane
//! calls and names the node as a peer, so an operator has one identity everywhere.
use crate::control::client::NodeKey;
use libp2p::identity::{Keypair, secp256k1};

pub fn keypair(key: &NodeKey) -> Result<Keypair, String> {
    // `try_from_bytes` zeroes what it is given: hand it a copy.
    let mut bytes = key.secret_bytes();
    let secret = secp256k1::SecretKey::try_from_bytes(&mut bytes)
        .map_err(|_| "the node key is not a valid secp256k1 secret".to_string())?;
    Ok(Keypair::from(secp256k1::Keypair::from(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn one_key_gives_one_peer_id_and_its_signatures_verify() {
        let k = NodeKey::from_secret(&Secret::new(
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        ))
        .unwrap();
        let a = keypair(&k).unwrap();
        let b = keypair(&k).unwrap();
        assert_eq!(a.public().to_peer_id(), b.public().to_peer_id());
        // secp256k1 peer ids carry the key itself.
        assert!(a.public().to_peer_id().to_string().starts_with("16Uiu2"));
        let sig = a.sign(b"receipt").unwrap();
        assert!(b.public().verify(b"receipt", &sig));
        assert!(!b.public().verify(b"other", &sig));
    }
}
