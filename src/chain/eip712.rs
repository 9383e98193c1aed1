//! EIP-712 for delegated subscriptions (reference ritual-sdk §4): the coordinator's domain, the
//! `DelegateSubscription` digest, signing (v as 27/28, as the contract's `ecrecover` needs) and
//! recovery.
use super::subscription::Subscription;
use alloy::primitives::{Address, B256, Signature};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

mod types {
    alloy::sol! {
        struct Subscription {
            address owner;
            uint32 activeAt;
            uint32 period;
            uint32 frequency;
            uint16 redundancy;
            bytes32 containerId;
            bool lazy;
            address verifier;
            uint256 paymentAmount;
            address paymentToken;
            address wallet;
        }
        struct DelegateSubscription {
            uint32 nonce;
            uint32 expiry;
            Subscription sub;
        }
    }
}

pub fn domain(chain_id: u64, coordinator: Address) -> Eip712Domain {
    eip712_domain! {
        name: "InfernetCoordinator",
        version: "1",
        chain_id: chain_id,
        verifying_contract: coordinator,
    }
}

/// The digest the coordinator recovers the signer from.
pub fn digest(domain: &Eip712Domain, nonce: u32, expiry: u32, sub: &Subscription) -> B256 {
    let s = types::Subscription {
        owner: sub.owner,
        activeAt: sub.active_at,
        period: sub.period,
        frequency: sub.frequency,
        redundancy: sub.redundancy,
        containerId: sub.container_id,
        lazy: sub.lazy,
        verifier: sub.verifier,
        paymentAmount: sub.payment_amount,
        paymentToken: sub.payment_token,
        wallet: sub.wallet,
    };
    types::DelegateSubscription {
        nonce,
        expiry,
        sub: s,
    }
    .eip712_signing_hash(domain)
}

/// (v, r, s) with v = 27 or 28.
pub fn sign(key: &PrivateKeySigner, digest: &B256) -> Result<(u8, B256, B256), String> {
    let sig = key.sign_hash_sync(digest).map_err(|e| e.to_string())?;
    Ok((
        27 + u8::from(sig.v()),
        B256::from(sig.r()),
        B256::from(sig.s()),
    ))
}

/// The address that signed `digest`, or None for an unusable signature.
pub fn recover(digest: &B256, v: u8, r: B256, s: B256) -> Option<Address> {
    let parity = match v {
        27 | 0 => false,
        28 | 1 => true,
        _ => return None,
    };
    let sig = Signature::from_scalars_and_parity(r, s, parity);
    sig.recover_address_from_prehash(digest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{U256, keccak256};

    #[test]
    fn typehashes_match_the_reference() {
        let sub = keccak256(types::Subscription::eip712_encode_type().as_bytes());
        assert_eq!(
            sub.to_string(),
            "0x3da81ed66ee47395e568c52867826ec137777eef9c1bdfb6bf972dd4385bc5a9"
        );
        let ds = keccak256(types::DelegateSubscription::eip712_encode_type().as_bytes());
        assert_eq!(
            ds.to_string(),
            "0xba9ff1aef2b048b42767aade2b901745a3acf14f698a9ec13952098cfd03d0b6"
        );
    }

    #[test]
    fn sign_then_recover() {
        let key = PrivateKeySigner::random();
        let sub = Subscription {
            id: 0,
            owner: Address::repeat_byte(7),
            active_at: 1,
            period: 2,
            frequency: 3,
            redundancy: 1,
            container_id: B256::ZERO,
            lazy: false,
            verifier: Address::ZERO,
            payment_amount: U256::ZERO,
            payment_token: Address::ZERO,
            wallet: Address::ZERO,
            v0: None,
        };
        let d = digest(&domain(1, Address::repeat_byte(9)), 5, 100, &sub);
        let (v, r, s) = sign(&key, &d).unwrap();
        assert!(v == 27 || v == 28);
        assert_eq!(recover(&d, v, r, s), Some(key.address()));
    }
}
