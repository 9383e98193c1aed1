//! Bitcoin Cash's CashAddr (`bitcoincash:q…` / `p…`): the Bech32 character set with a
//! 40-bit BCH checksum over the prefix.
use super::bech32;

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
pub const PREFIX: &str = "bitcoincash";

fn polymod(values: impl Iterator<Item = u8>) -> u64 {
    const GEN: [u64; 5] = [
        0x98_f2bc_8e61,
        0x79_b76d_99e2,
        0xf3_3e5f_b3c4,
        0xae_2eab_e2a8,
        0x1e_4f43_e470,
    ];
    let mut c: u64 = 1;
    for d in values {
        let c0 = c >> 35;
        c = ((c & 0x07_ffff_ffff) << 5) ^ u64::from(d);
        for (i, g) in GEN.iter().enumerate() {
            if (c0 >> i) & 1 == 1 {
                c ^= g;
            }
        }
    }
    c ^ 1
}

/// A valid mainnet CashAddr (the prefix may be left out): its type, `p2pkh` or `p2sh`.
pub fn check(addr: &str) -> Result<&'static str, String> {
    let lower = addr.bytes().any(|b| b.is_ascii_lowercase());
    let upper = addr.bytes().any(|b| b.is_ascii_uppercase());
    if lower && upper {
        return Err("mixes upper and lower case".into());
    }
    let addr = addr.to_ascii_lowercase();
    let payload = match addr.split_once(':') {
        Some((PREFIX, p)) => p,
        Some((other, _)) => return Err(format!("prefix '{other}' is not '{PREFIX}'")),
        None => addr.as_str(),
    };
    let data = payload
        .chars()
        .map(|c| {
            CHARSET
                .iter()
                .position(|&x| char::from(x) == c)
                .map(|p| p as u8)
                .ok_or_else(|| format!("'{c}' is not a cashaddr character"))
        })
        .collect::<Result<Vec<u8>, String>>()?;
    if data.len() < 8 {
        return Err("too short for a cashaddr checksum".into());
    }
    let checked = PREFIX
        .bytes()
        .map(|b| b & 31)
        .chain(std::iter::once(0))
        .chain(data.iter().copied());
    if polymod(checked) != 0 {
        return Err("cashaddr checksum mismatch".into());
    }
    let bytes = bech32::to_bytes(&data[..data.len() - 8])
        .ok_or_else(|| "cashaddr payload has bad padding".to_string())?;
    let (&version, hash) = bytes
        .split_first()
        .ok_or_else(|| "empty cashaddr payload".to_string())?;
    // Version byte: reserved bit 0, 4 type bits, 3 size bits (hash length).
    let size = [20, 24, 28, 32, 40, 48, 56, 64][usize::from(version & 7)];
    if hash.len() != size {
        return Err(format!(
            "cashaddr hash is {} bytes, its version says {size}",
            hash.len()
        ));
    }
    match version >> 3 {
        0 => Ok("p2pkh"),
        1 => Ok("p2sh"),
        t => Err(format!("cashaddr type {t} is neither p2pkh nor p2sh")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        for a in [
            "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
            "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
            "bitcoincash:qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r",
            "qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
            "BITCOINCASH:QPM2QSZNHKS23Z7629MMS6S4CWEF74VCWVY22GDX6A",
        ] {
            assert_eq!(check(a), Ok("p2pkh"), "{a}");
        }
        assert_eq!(
            check("bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq"),
            Ok("p2sh")
        );
    }

    #[test]
    fn refusals() {
        // One character changed.
        assert_eq!(
            check("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6c"),
            Err("cashaddr checksum mismatch".into())
        );
        assert!(check("bchtest:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a").is_err());
        assert!(check("bitcoincash:Qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a").is_err());
        assert!(check("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdxba").is_err());
        assert!(check("bitcoincash:").is_err());
    }
}
