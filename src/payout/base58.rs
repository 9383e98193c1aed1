//! Base58 (the Bitcoin alphabet, and Ripple's) and Base58Check: decoding only, for checking
//! payout addresses.
use sha2::{Digest, Sha256};

pub const BITCOIN: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
pub const RIPPLE: &[u8; 58] = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

/// The bytes `s` encodes; `None` when a character is not in `alphabet`.
pub fn decode(s: &str, alphabet: &[u8; 58]) -> Option<Vec<u8>> {
    let mut index = [255u8; 128];
    for (i, &c) in alphabet.iter().enumerate() {
        index[c as usize] = i as u8;
    }
    // Little-endian base-256 digits of the number so far.
    let mut bytes: Vec<u8> = Vec::new();
    for c in s.bytes() {
        let digit = *index.get(c as usize).filter(|&&d| d != 255)?;
        let mut carry = u32::from(digit);
        for b in bytes.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry as u8);
            carry >>= 8;
        }
    }
    // Each leading zero digit is a leading zero byte.
    let zeros = s.bytes().take_while(|&c| c == alphabet[0]).count();
    bytes.extend(std::iter::repeat_n(0, zeros));
    bytes.reverse();
    Some(bytes)
}

/// Why a Base58Check string is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckError {
    Alphabet,
    Length(usize),
    Checksum,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Alphabet => f.write_str("not base58 (a character outside its alphabet)"),
            CheckError::Length(n) => write!(f, "decodes to {n} bytes, not 25"),
            CheckError::Checksum => f.write_str("base58check checksum mismatch"),
        }
    }
}

/// A 25-byte Base58Check payload (version byte + 20-byte hash + 4-byte double-SHA-256
/// checksum): the version byte.
pub fn check25(s: &str, alphabet: &[u8; 58]) -> Result<u8, CheckError> {
    let bytes = decode(s, alphabet).ok_or(CheckError::Alphabet)?;
    if bytes.len() != 25 {
        return Err(CheckError::Length(bytes.len()));
    }
    let (payload, sum) = bytes.split_at(21);
    let digest = Sha256::digest(Sha256::digest(payload));
    if &digest[..4] != sum {
        return Err(CheckError::Checksum);
    }
    Ok(payload[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_leading_zeros_and_rejects_foreign_characters() {
        assert_eq!(decode("1", BITCOIN), Some(vec![0]));
        assert_eq!(decode("11", BITCOIN), Some(vec![0, 0]));
        assert_eq!(decode("2g", BITCOIN), Some(vec![0x61]));
        assert_eq!(decode("a3gV", BITCOIN), Some(vec![0x62, 0x62, 0x62]));
        assert_eq!(
            decode("StV1DL6CwTryKyV", BITCOIN),
            Some(b"hello world".to_vec())
        );
        assert_eq!(decode("0OIl", BITCOIN), None);
        assert_eq!(decode("é", BITCOIN), None);
        assert_eq!(decode("", BITCOIN), Some(vec![]));
    }

    #[test]
    fn base58check_versions_and_checksums() {
        assert_eq!(
            check25("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", BITCOIN),
            Ok(0)
        );
        assert_eq!(
            check25("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", BITCOIN),
            Ok(5)
        );
        assert_eq!(
            check25("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", BITCOIN),
            Err(CheckError::Checksum)
        );
        assert_eq!(
            check25("1A1zP1eP5QGefi2D", BITCOIN),
            Err(CheckError::Length(12))
        );
        assert_eq!(check25("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", RIPPLE), Ok(0));
    }
}
