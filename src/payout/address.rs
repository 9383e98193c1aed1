//! One address, checked for its network: format, length, version bytes and checksum.
use super::{COINS, base58, bech32, cashaddr, networks};

/// Why a coin, network or address is refused; the text is what the CLI prints and the
/// control plane answers (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("unknown coin '{0}' (expected one of {list})", list = coin_list())]
    UnknownCoin(String),
    #[error("{coin} is not on network '{network}' (expected {expected})")]
    WrongNetwork {
        coin: String,
        network: String,
        expected: String,
    },
    #[error("'{address}' is not a valid {network} address: {why}")]
    Invalid {
        address: String,
        network: String,
        why: String,
    },
}

fn coin_list() -> String {
    COINS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
}

/// "a, b or c".
fn either(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A checked payout target: coin upper case, network lower case, the address trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub coin: String,
    pub network: String,
    pub address: String,
}

/// Checks `coin` is known, is paid on `network`, and `address` is a valid address there.
pub fn check(coin: &str, network: &str, address: &str) -> Result<Payout, AddressError> {
    let coin = coin.trim().to_ascii_uppercase();
    let network = network.trim().to_ascii_lowercase();
    let address = address.trim().to_string();
    let nets = networks(&coin).ok_or_else(|| AddressError::UnknownCoin(coin.clone()))?;
    if !nets.contains(&network.as_str()) {
        return Err(AddressError::WrongNetwork {
            coin,
            network,
            expected: either(nets),
        });
    }
    if let Err(why) = check_address(&network, &address) {
        return Err(AddressError::Invalid {
            address: shown(&address),
            network,
            why,
        });
    }
    Ok(Payout {
        coin,
        network,
        address,
    })
}

/// The address as an error shows it: bounded, so a pasted blob does not flood the message.
fn shown(address: &str) -> String {
    const MAX: usize = 120;
    if address.chars().count() <= MAX {
        address.to_string()
    } else {
        format!("{}…", address.chars().take(MAX).collect::<String>())
    }
}

fn check_address(network: &str, a: &str) -> Result<(), String> {
    if a.is_empty() {
        return Err("empty".into());
    }
    match network {
        "ethereum" | "polygon" | "bsc" | "base" => evm(a),
        "bitcoin" => bitcoin(a),
        "bitcoin-cash" => bitcoin_cash(a),
        "solana" => solana(a),
        "ripple" => versioned(a, base58::RIPPLE, &[0x00], "ripple"),
        "cardano" => cardano(a),
        "dogecoin" => versioned(a, base58::BITCOIN, &[0x1e, 0x16], "dogecoin"),
        other => Err(format!("no address format known for network '{other}'")),
    }
}

/// `0x` + 40 hex digits; mixed case must be the EIP-55 checksum.
fn evm(a: &str) -> Result<(), String> {
    let hex = a
        .strip_prefix("0x")
        .ok_or_else(|| "must start with 0x".to_string())?;
    if hex.len() != 40 {
        return Err(format!("{} hex digits after 0x, not 40", hex.len()));
    }
    if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("'{c}' is not a hex digit"));
    }
    let lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    if !(lower && upper) {
        return Ok(());
    }
    let hash = alloy::primitives::keccak256(hex.to_ascii_lowercase().as_bytes());
    for (i, c) in hex.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        let want_upper = nibble >= 8;
        if c.is_ascii_alphabetic() && c.is_ascii_uppercase() != want_upper {
            return Err("EIP-55 checksum mismatch".into());
        }
    }
    Ok(())
}

/// Base58Check with one of `versions`.
fn versioned(a: &str, alphabet: &[u8; 58], versions: &[u8], name: &str) -> Result<(), String> {
    let v = base58::check25(a, alphabet).map_err(|e| e.to_string())?;
    if versions.contains(&v) {
        Ok(())
    } else {
        Err(format!("version byte 0x{v:02x} is not a {name} one"))
    }
}

/// Legacy P2PKH/P2SH (Base58Check 0x00/0x05) or segwit `bc1…` (BIP-173/350).
fn bitcoin(a: &str) -> Result<(), String> {
    let lower = a.to_ascii_lowercase();
    if ["bc1", "tb1", "bcrt1"].iter().any(|p| lower.starts_with(p)) {
        return segwit(a);
    }
    versioned(a, base58::BITCOIN, &[0x00, 0x05], "bitcoin mainnet")
}

fn segwit(a: &str) -> Result<(), String> {
    let d = bech32::decode(a, Some(90)).map_err(|e| e.to_string())?;
    if d.hrp != "bc" {
        return Err(format!("human-readable part '{}' is not 'bc'", d.hrp));
    }
    let (&version, program) = d
        .data
        .split_first()
        .ok_or_else(|| "empty data part".to_string())?;
    if version > 16 {
        return Err(format!("witness version {version} is above 16"));
    }
    let program = bech32::to_bytes(program)
        .ok_or_else(|| "bad padding in the witness program".to_string())?;
    if !(2..=40).contains(&program.len()) {
        return Err(format!(
            "witness program of {} bytes (2 to 40)",
            program.len()
        ));
    }
    if version == 0 && program.len() != 20 && program.len() != 32 {
        return Err(format!(
            "witness v0 program of {} bytes (20 or 32)",
            program.len()
        ));
    }
    let want = if version == 0 {
        bech32::Variant::Bech32
    } else {
        bech32::Variant::Bech32m
    };
    if d.variant != want {
        return Err(format!(
            "witness v{version} needs the {} checksum (BIP-350)",
            if version == 0 { "bech32" } else { "bech32m" }
        ));
    }
    Ok(())
}

/// CashAddr, or a legacy Base58Check address.
fn bitcoin_cash(a: &str) -> Result<(), String> {
    let lower = a.to_ascii_lowercase();
    if lower.starts_with(cashaddr::PREFIX) || lower.starts_with('q') || lower.starts_with('p') {
        return cashaddr::check(a).map(|_| ());
    }
    versioned(a, base58::BITCOIN, &[0x00, 0x05], "bitcoin-cash legacy")
}

/// Base58 of a 32-byte public key.
fn solana(a: &str) -> Result<(), String> {
    let bytes = base58::decode(a, base58::BITCOIN)
        .ok_or_else(|| "not base58 (a character outside its alphabet)".to_string())?;
    if bytes.len() != 32 {
        return Err(format!("decodes to {} bytes, not 32", bytes.len()));
    }
    Ok(())
}

/// A Shelley mainnet address: bech32 `addr1…` (no length limit), header type 0–7 on
/// network 1, and the length that type has.
fn cardano(a: &str) -> Result<(), String> {
    let d = bech32::decode(a, None).map_err(|e| e.to_string())?;
    if d.hrp != "addr" {
        return Err(format!(
            "human-readable part '{}' is not 'addr' (mainnet)",
            d.hrp
        ));
    }
    if d.variant != bech32::Variant::Bech32 {
        return Err("bech32m checksum where cardano uses bech32".into());
    }
    let bytes =
        bech32::to_bytes(&d.data).ok_or_else(|| "bad padding in the payload".to_string())?;
    let header = *bytes.first().ok_or_else(|| "empty payload".to_string())?;
    let (kind, net) = (header >> 4, header & 0x0f);
    if net != 1 {
        return Err(format!("network id {net} is not mainnet (1)"));
    }
    let ok = match kind {
        0..=3 => bytes.len() == 57,
        4 | 5 => bytes.len() > 29,
        6 | 7 => bytes.len() == 29,
        _ => return Err(format!("header type {kind} is not a payment address")),
    };
    if !ok {
        return Err(format!(
            "{} bytes is the wrong length for address type {kind}",
            bytes.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
